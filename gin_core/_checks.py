"""Input validation shared by every module: one clear error per kind of bad input.

Each check raises a ``TypeError`` or ``ValueError`` that says what was wrong and what was
expected, so that bad input never turns into a NaN or a traceback from deep inside PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_finite", "check_labels", "as_float64"]


def check_finite(x: torch.Tensor, name: str = "input") -> None:
    """Raise a ``ValueError`` if ``x`` is an empty batch or holds NaN or infinite values.

    Arguments:
        x: a batch, samples along dimension 0.
        name: how the error message calls it.
    """
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); expected at least one sample")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name} contains {bad} NaN or infinite values; expected finite numbers")


def check_labels(u: torch.Tensor, n: int, n_classes: int, values: bool = True) -> None:
    """Raise unless ``u`` is a 1-d integer tensor of ``n`` labels in ``[0, n_classes)``.

    Arguments:
        u: the labels (conditions).
        n: the batch size they must match.
        n_classes: number of classes.
        values: also check the range of the values (a pass over the labels); with ``False``
            only the type, dtype and shape are checked.
    """
    if not isinstance(u, torch.Tensor):
        raise TypeError(f"labels u must be a torch.Tensor, got {type(u).__name__}")
    if u.is_floating_point() or u.is_complex() or u.dtype == torch.bool:
        raise TypeError(f"labels u must be integers (torch.long), got dtype {u.dtype}")
    if u.dim() != 1 or u.shape[0] != n:
        raise ValueError(f"labels u must have shape ({n},) to match the batch, got {tuple(u.shape)}")
    if values and n and (u.min() < 0 or u.max() >= n_classes):
        raise ValueError(f"labels u must lie in [0, {n_classes}), got values from {u.min().item()} to {u.max().item()}")


def as_float64(a, name: str, ndim: int | None = None) -> np.ndarray:
    """A NumPy array or torch tensor as a finite, non-empty float64 array.

    Arguments:
        a: array-like (NumPy array, torch tensor, list).
        name: how the error message calls it.
        ndim: required number of dimensions (``None``: any).

    Returns:
        A float64 NumPy array (a copy when a conversion was needed).
    """
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {a.shape}")
    if a.size == 0 or (a.ndim and a.shape[0] == 0):
        raise ValueError(f"{name} is empty; expected at least one sample")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a.astype(np.float64)
