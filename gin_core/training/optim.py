"""The optimiser, the noise and the device: what every training step shares.

References:
    Sorrenson et al. (2020), §4.3.1 and §4.4.1 (Adam, noise of standard deviation 0.01).
"""

from __future__ import annotations

import torch

__all__ = ["default_device", "make_optimizer", "add_noise", "lr_at"]


def default_device() -> torch.device:
    """CUDA if available, else CPU (the one place the device is chosen by default)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(params, lr: float) -> torch.optim.Adam:
    """Adam as every training step uses it.

    PyTorch's fused implementation where it has one for the parameters (floating point, on
    CPU or CUDA): one kernel per step instead of a Python loop over parameter tensors, which
    on small networks costs more than the network itself. Otherwise the default Adam.

    Arguments:
        params: the tensors to optimise.
        lr: the learning rate.

    Returns:
        A :class:`torch.optim.Adam`.
    """
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=lr, fused=True if fused else None)


def add_noise(x: torch.Tensor, noise: float, generator: torch.Generator | None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``noise`` drawn from ``generator`` (none if 0).

    The augmentation of every training batch (§4.4.1); drawn on ``x``'s device, in its dtype.
    """
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x


def lr_at(epoch: int, lr: float, milestones: tuple[int, ...]) -> float:
    """The learning rate of ``epoch``: ``lr`` divided by 10 at each milestone reached."""
    return lr * 0.1 ** sum(epoch >= m for m in milestones)
