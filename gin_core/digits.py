"""EMNIST digits and MNIST: IDX files, loading and the offline MNIST stand-in.

References:
    Sorrenson et al. (2020), §4.4.1; Cohen et al. (2017) for EMNIST.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

__all__ = ["read_idx", "load_digits"]

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


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a uint8 array."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        raise ValueError(f"{path} is truncated or corrupt: {len(raw)} bytes, expected {expected} for shape {tuple(dims)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_digits(dataset: str = "mnist", split: str = "train", root: str | Path = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """Load digits as ``x`` (N, 1, 28, 28) float32 in [0, 1] and labels ``u`` (N,) long."""
    folder = Path(root) / dataset
    images, labels = (folder / name for name in FILES[dataset][split])
    x = read_idx(images)
    u = read_idx(labels)
    if dataset == "emnist":
        x = x.transpose(0, 2, 1)
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(u.astype(np.int64))
