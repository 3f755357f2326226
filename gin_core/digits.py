"""EMNIST digits and MNIST: IDX files, finding and loading them, and the offline MNIST stand-in.

The paper trains on EMNIST Digits (240,000 training and 40,000 test images, Cohen et al.
2017). Where EMNIST cannot be downloaded, MNIST (60,000 / 10,000) stands in. Every function
takes the data root (the folder that holds the data sets) explicitly.

Where the files are looked for below the data root:

* ``mnist``: ``mnist/`` (written by ``bash scripts/fetch_mnist.sh``) or ``MNIST/raw/``
  (torchvision's layout);
* ``emnist``: ``emnist/`` or ``EMNIST/raw/`` (torchvision's layout, written by
  ``python -m gin_core.digits fetch emnist``);

each file either plain or gzipped (``.gz``). Nothing is ever downloaded implicitly: a missing
data set raises a :class:`FileNotFoundError` naming the command that fetches it.

EMNIST's IDX files store every image transposed (column-major) relative to MNIST; the
loader transposes them back so that digits stand upright in both data sets.

Command line::

    python -m gin_core.digits fetch emnist --root data   # torchvision download (needs the internet)
    python -m gin_core.digits info --root data           # which data sets are present, and where

References:
    Sorrenson et al. (2020), §4.4.1; Cohen et al. (2017), EMNIST; LeCun et al. (1998), MNIST.
"""

from __future__ import annotations

import argparse
import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "FILES",
    "SIZES",
    "FETCH_COMMANDS",
    "read_idx",
    "find_files",
    "dataset_available",
    "available_datasets",
    "load_digits",
    "fetch_emnist",
    "describe",
    "examples_by_class",
]

DATASETS = ("emnist", "mnist")

FILES = {
    "mnist": {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    "emnist": {
        "train": ("emnist-digits-train-images-idx3-ubyte", "emnist-digits-train-labels-idx1-ubyte"),
        "test": ("emnist-digits-test-images-idx3-ubyte", "emnist-digits-test-labels-idx1-ubyte"),
    },
}

# Number of images of the full data sets (for the descriptions; the loader accepts any size).
SIZES = {"mnist": {"train": 60_000, "test": 10_000}, "emnist": {"train": 240_000, "test": 40_000}}

# Sub-folders of the data root searched for each data set, in order.
FOLDERS = {"mnist": ("mnist", "MNIST/raw"), "emnist": ("emnist", "EMNIST/raw")}

FETCH_COMMANDS = {
    "mnist": "bash scripts/fetch_mnist.sh",
    "emnist": "python -m gin_core.digits fetch emnist --root data",
}

N_CLASSES = 10
IMAGE_SHAPE = (28, 28)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally gzipped) into a uint8 array.

    The IDX format: two zero bytes, a type byte (``0x08`` = unsigned byte), the number of
    dimensions, then each dimension as a big-endian 32-bit integer, then the data.

    Arguments:
        path: the file; a name ending in ``.gz`` is decompressed first.

    Returns:
        A read-only ``uint8`` array of the stored shape.

    Raises:
        FileNotFoundError: no such file.
        ValueError: bad gzip stream, bad magic number, unsupported type, or a size that does not
            match the header (truncated or corrupt file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no IDX file at {path}")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path} is not a valid gzip file (truncated or corrupt): {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number {raw[:4].hex() or '(empty file)'}")
    if raw[2] != 0x08:
        raise ValueError(f"{path} holds IDX type 0x{raw[2]:02x}; only unsigned bytes (0x08) are supported")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(
            f"{path} is truncated or corrupt: its header is incomplete ({len(raw)} bytes, {ndim} dimensions)"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = 4 + 4 * ndim + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise ValueError(f"{path} is truncated or corrupt: {len(raw)} bytes, expected {expected} for shape {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _check_dataset(dataset: str) -> str:
    dataset = str(dataset).lower()
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return dataset


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def _find(folder_names: tuple[str, ...], name: str, root: Path) -> Path | None:
    for folder in folder_names:
        for candidate in (root / folder / name, root / folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def find_files(dataset: str, split: str, root: str | Path) -> tuple[Path, Path]:
    """Locate the image and label IDX files of one split.

    Arguments:
        dataset: ``"emnist"`` or ``"mnist"``.
        split: ``"train"`` or ``"test"``.
        root: the data root.

    Returns:
        ``(images_path, labels_path)``.

    Raises:
        FileNotFoundError: naming the folders searched and the command that fetches the data.
    """
    dataset, split, root = _check_dataset(dataset), _check_split(split), Path(root)
    found = [_find(FOLDERS[dataset], name, root) for name in FILES[dataset][split]]
    missing = [name for name, path in zip(FILES[dataset][split], found) if path is None]
    if missing:
        where = ", ".join(str(root / folder) for folder in FOLDERS[dataset])
        raise FileNotFoundError(
            f"{dataset.upper()} {split} data not found: missing {', '.join(missing)} (plain or .gz) in {where}. "
            f"Fetch it with `{FETCH_COMMANDS[dataset]}` (run from the book's repository root), "
            "or pass the folder that holds it as the data root."
        )
    return found[0], found[1]


def dataset_available(dataset: str, root: str | Path) -> bool:
    """Whether all four IDX files of ``dataset`` are present below ``root`` (their contents are not checked)."""
    dataset, root = _check_dataset(dataset), Path(root)
    return all(
        _find(FOLDERS[dataset], name, root) is not None for split in ("train", "test") for name in FILES[dataset][split]
    )


def available_datasets(root: str | Path) -> list[str]:
    """The data sets of :data:`DATASETS` whose files are all present below ``root``."""
    return [d for d in DATASETS if dataset_available(d, root)]


def load_digits(
    dataset: str, split: str, root: str | Path, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load digit images and labels.

    Arguments:
        dataset: ``"emnist"`` (EMNIST Digits) or ``"mnist"``.
        split: ``"train"`` or ``"test"``.
        root: the data root, the folder holding ``mnist/``, ``emnist/`` or torchvision's layout.
        limit: keep only the first ``limit`` images (for quick runs); ``None`` keeps all.

    Returns:
        ``x`` of shape ``(N, 1, 28, 28)``, float32 in ``[0, 1]`` (pixel / 255), upright for both
        data sets (EMNIST's transposition is undone), and labels ``u`` of shape ``(N,)``, int64
        in ``[0, 9]``.

    Raises:
        FileNotFoundError: the data set is missing (the message names the fetch command).
        ValueError: a corrupt or truncated file, wrong image shape, mismatched counts, or labels
            outside 0-9.
    """
    images_path, labels_path = find_files(dataset, split, root)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{images_path} holds images of shape {images.shape[1:]}; expected (N, 28, 28)")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path} holds an array of shape {labels.shape}; expected labels of shape (N,)")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    if len(labels) and labels.max() >= N_CLASSES:
        raise ValueError(f"{labels_path} holds labels up to {labels.max()}; expected digit classes 0-9")
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of images, got {limit}")
        images, labels = images[:limit], labels[:limit]
    if _check_dataset(dataset) == "emnist":
        images = images.transpose(0, 2, 1)  # EMNIST stores images column-major
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / 255.0).unsqueeze(1)
    u = torch.from_numpy(labels.astype(np.int64))
    return x, u


def describe(dataset: str) -> str:
    """A short name for captions, e.g. ``"MNIST (stand-in for EMNIST)"``."""
    dataset = _check_dataset(dataset)
    return "EMNIST Digits" if dataset == "emnist" else "MNIST (stand-in for EMNIST)"


def examples_by_class(x: torch.Tensor, u: torch.Tensor, n_per_class: int = 8, n_classes: int = N_CLASSES) -> np.ndarray:
    """The first ``n_per_class`` images of every class, as ``(n_per_class, n_classes, 28, 28)`` (one class per column)."""
    columns = []
    for c in range(n_classes):
        index = torch.nonzero(u == c).flatten()[:n_per_class]
        if len(index) < n_per_class:
            raise ValueError(f"class {c} has only {len(index)} images, {n_per_class} requested")
        columns.append(x[index, 0].numpy())
    return np.stack(columns, axis=1)


def fetch_emnist(root: str | Path) -> Path:
    """Download EMNIST with torchvision (needs the internet) into ``root/EMNIST/raw``.

    The download is the whole EMNIST archive (about 560 MB); the digits split is kept by
    torchvision next to the other splits. Returns the folder holding the files.
    """
    from torchvision.datasets import EMNIST

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for train in (True, False):
        EMNIST(str(root), split="digits", train=train, download=True)
    return root / "EMNIST" / "raw"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gin_core.digits", description="EMNIST/MNIST data for the GIN book")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download a data set")
    fetch.add_argument(
        "dataset", choices=["emnist"], help="EMNIST via torchvision (MNIST: bash scripts/fetch_mnist.sh)"
    )
    info = sub.add_parser("info", help="show which data sets are present")
    for command in (fetch, info):
        command.add_argument("--root", default="data", help="data root (default: ./data)")
    return parser


def _main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "fetch":
        print(f"EMNIST written to {fetch_emnist(args.root)}")
    else:
        print(f"data root: {Path(args.root).resolve()}")
        for dataset in DATASETS:
            state = (
                "present" if dataset_available(dataset, args.root) else f"missing (fetch: {FETCH_COMMANDS[dataset]})"
            )
            print(f"{dataset}: {state}")


if __name__ == "__main__":
    _main()
