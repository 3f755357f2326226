"""The book's settings: the one place where ``GIN_*`` environment variables are read.

=====================  ==========================================================  ===============================
variable               meaning                                                     default
=====================  ==========================================================  ===============================
``GIN_SCALE``          ``paper`` (the authors' settings), ``cpu`` (minutes on a    ``paper`` with a GPU, else ``cpu``
                       2-core CPU) or ``smoke`` (just the wiring, for CI)
``GIN_DATASET``        ``emnist``, ``mnist`` or ``auto`` (EMNIST where its files   ``auto``
                       are present, else MNIST)
``GIN_BOOK_ROOT``      the book's folder (holding ``_toc.yml`` and ``data/``)      the current folder or its parent,
                                                                                   whichever holds ``_toc.yml``
``GIN_DATA_ROOT``      the folder holding the data sets                            ``<book root>/data``
``GIN_CHECKPOINT``     your own digits checkpoint for the analysis chapters        ``runs/gin_<dataset>/checkpoint.pt``
                                                                                   if it exists
``GIN_CELL_TIMEOUT``   per-cell execution timeout of the book build (seconds)      600 smoke, 3600 cpu, 6 h paper
``GIN_CHROMIUM``       the browser the page check drives                           ``/usr/bin/chromium``
``GIN_NO_COMPILE``     ``1`` keeps every training step eager (sets                 unset: the fast path may compile
                       ``gin_core.training.auto.ALLOW_COMPILE``; read by :func:`run_config`)
=====================  ==========================================================  ===============================

The core package reads none of these: its functions take explicit arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..digits import DATASETS, available_datasets, find_files
from ..training import auto, default_device

__all__ = [
    "SCALES",
    "DATASET_CHOICES",
    "TIMEOUTS",
    "RunConfig",
    "run_config",
    "book_root",
    "data_root",
    "weights_dir",
    "runs_dir",
    "results_dir",
    "resolve_dataset",
    "checkpoint_override",
    "cell_timeout",
    "chromium",
]

SCALES = ("paper", "cpu", "smoke")
DATASET_CHOICES = ("auto", *DATASETS)
# Per-cell execution timeout (seconds) for each scale: generous bounds that still catch a hang.
TIMEOUTS = {"smoke": 600, "cpu": 3600, "paper": 6 * 3600}


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class RunConfig:
    """Resolved run settings of a chapter.

    Attributes:
        scale: ``"paper"``, ``"cpu"`` or ``"smoke"``.
        device: where tensors and networks go.
        dataset: ``"auto"``, ``"emnist"`` or ``"mnist"`` as requested (see :func:`resolve_dataset`).
    """

    scale: str
    device: torch.device
    dataset: str

    def pick(self, paper, cpu, smoke):
        """Return the value for the current scale."""
        return {"paper": paper, "cpu": cpu, "smoke": smoke}[self.scale]

    def __str__(self) -> str:
        return f"scale={self.scale} device={self.device} dataset={self.dataset}"


def run_config(scale: str | None = None, dataset: str | None = None) -> RunConfig:
    """Read ``GIN_SCALE`` and ``GIN_DATASET`` (or take the arguments), pick the device, apply ``GIN_NO_COMPILE``.

    Arguments:
        scale: overrides ``GIN_SCALE``.
        dataset: overrides ``GIN_DATASET``.

    Returns:
        A :class:`RunConfig`.
    """
    device = default_device()
    scale = (scale or _env("GIN_SCALE") or ("paper" if device.type == "cuda" else "cpu")).lower()
    if scale not in SCALES:
        raise ValueError(f"GIN_SCALE must be one of {SCALES}, got {scale!r}")
    dataset = (dataset or _env("GIN_DATASET") or "auto").lower()
    if dataset not in DATASET_CHOICES:
        raise ValueError(f"GIN_DATASET must be one of {DATASET_CHOICES}, got {dataset!r}")
    no_compile = _env("GIN_NO_COMPILE")
    if no_compile not in (None, "0", "1"):
        raise ValueError(f"GIN_NO_COMPILE must be 0 or 1 (or unset), got {no_compile!r}")
    auto.ALLOW_COMPILE = no_compile != "1"
    return RunConfig(scale=scale, device=device, dataset=dataset)


def book_root() -> Path:
    """The book's folder: ``GIN_BOOK_ROOT``, else the current folder or its parent, whichever holds ``_toc.yml``.

    Chapters run in ``book/`` (its parent is the root); scripts and tests run from the root.
    """
    env = _env("GIN_BOOK_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / "_toc.yml").is_file():
            raise FileNotFoundError(f"GIN_BOOK_ROOT={env} holds no _toc.yml; it must name the book's folder")
        return root
    here = Path.cwd().resolve()
    for candidate in (here, here.parent):
        if (candidate / "_toc.yml").is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find the book's folder (with _toc.yml) at {here} or {here.parent}: run from the book's root or its "
        "book/ folder, or set GIN_BOOK_ROOT"
    )


def data_root() -> Path:
    """The folder holding the data sets: ``GIN_DATA_ROOT``, else ``<book root>/data``."""
    env = _env("GIN_DATA_ROOT")
    return Path(env).expanduser().resolve() if env else book_root() / "data"


def weights_dir() -> Path:
    """The book's shipped weights: ``<book root>/data/weights``."""
    return book_root() / "data" / "weights"


def runs_dir() -> Path:
    """Where the reader's own training runs go: ``<book root>/runs``."""
    return book_root() / "runs"


def results_dir() -> Path:
    """The logged sweep records: ``<book root>/bench/results``."""
    return book_root() / "bench" / "results"


def resolve_dataset(dataset: str | None = None, root: str | Path | None = None) -> str:
    """Turn the requested data set into ``"emnist"`` or ``"mnist"``.

    Arguments:
        dataset: ``"auto"``, ``"emnist"`` or ``"mnist"``; ``None`` reads ``GIN_DATASET`` (default
            ``"auto"``: EMNIST if its files are present, else MNIST).
        root: data root (default :func:`data_root`).

    Returns:
        ``"emnist"`` or ``"mnist"``.

    Raises:
        FileNotFoundError: the resolved data set is not present; the message names the command
            that fetches it.
    """
    requested = (dataset or _env("GIN_DATASET") or "auto").lower()
    if requested not in DATASET_CHOICES:
        raise ValueError(f"dataset must be one of {DATASET_CHOICES}, got {requested!r}")
    root = data_root() if root is None else Path(root)
    resolved = requested
    if requested == "auto":
        resolved = "emnist" if "emnist" in available_datasets(root) else "mnist"
    for split in ("train", "test"):
        find_files(resolved, split, root)  # raises with the fetch command if missing
    return resolved


def checkpoint_override() -> Path | None:
    """``GIN_CHECKPOINT``, the reader's own digits checkpoint, if set (an error if it does not exist)."""
    env = _env("GIN_CHECKPOINT")
    if env is None:
        return None
    path = Path(env).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"GIN_CHECKPOINT={env} does not exist")
    return path


def cell_timeout(scale: str) -> int:
    """The per-cell timeout of the book build for ``scale``, or ``GIN_CELL_TIMEOUT`` (seconds)."""
    if scale not in TIMEOUTS:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    env = _env("GIN_CELL_TIMEOUT")
    if env is None:
        return TIMEOUTS[scale]
    try:
        timeout = int(env)
    except ValueError:
        raise ValueError(f"GIN_CELL_TIMEOUT must be an integer number of seconds, got {env!r}") from None
    if timeout <= 0:
        raise ValueError(f"GIN_CELL_TIMEOUT must be positive, got {timeout}")
    return timeout


def chromium() -> str:
    """The browser executable for the page check: ``GIN_CHROMIUM`` or Debian's ``/usr/bin/chromium``."""
    return _env("GIN_CHROMIUM") or "/usr/bin/chromium"
