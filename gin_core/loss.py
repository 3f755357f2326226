r"""The GIN loss: negative log-likelihood of a class-conditional diagonal Gaussian mixture in latent space.

References:
    Sorrenson et al. (2020), §4.2 eq. (7) and Appendix D.1 eqs. (36)-(37).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .flows import check_finite

__all__ = ["GaussianMixtureNLL", "check_labels"]

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def check_labels(u: torch.Tensor, n: int, n_classes: int) -> None:
    """Raise a clear error unless ``u`` is a 1-d integer tensor of ``n`` labels in ``[0, n_classes)``."""
    if not isinstance(u, torch.Tensor):
        raise TypeError(f"labels u must be a torch.Tensor, got {type(u).__name__}")
    if u.is_floating_point() or u.is_complex() or u.dtype == torch.bool:
        raise TypeError(f"labels u must be integers (torch.long), got dtype {u.dtype}")
    if u.dim() != 1 or u.shape[0] != n:
        raise ValueError(f"labels u must have shape ({n},) to match the batch, got {tuple(u.shape)}")
    if n and (u.min() < 0 or u.max() >= n_classes):
        raise ValueError(
            f"labels u must lie in [0, {n_classes}), got values from {u.min().item()} to {u.max().item()}"
        )


class GaussianMixtureNLL(nn.Module):
    r"""Per-dimension negative log-likelihood of :math:`w` under a class-conditional Gaussian mixture.

    .. math::
        \mathcal{L} = \mathbb{E}_{(x,u)}\Big[\frac{1}{d}\sum_{i=1}^{d}
            \frac{(w_i - \mu_i(u))^2}{2\sigma_i^2(u)} + \log\sigma_i(u)
            + \tfrac12\log 2\pi\Big] - \frac{1}{d}\,\mathbb{E}\big[\log|\det J_{g^{-1}}(x)|\big]

    in nats per dimension (eq. 7 plus the constant, so that it is a true NLL of ``x``).

    Two modes:

    * ``learned=False`` (the paper's default, Appendix D.1): :math:`\mu(u)` and
      :math:`\sigma^2(u)` are the mean and (biased) variance of the batch's samples of class
      ``u``, recomputed for every batch and differentiated through. A class with fewer than
      two samples in the batch has no variance estimate: its samples are left out of that
      batch's loss and counted in :attr:`n_excluded` (never a NaN). A batch in which no
      class has two samples raises a ``ValueError``.
    * ``learned=True``: :math:`\mu` and :math:`\log\sigma` are parameters of shape
      ``(n_classes, n_dims)``, trained with the network (initialised at 0, i.e. N(0, 1)).

    Arguments:
        n_classes: number of mixture components (conditions u).
        n_dims: latent dimension d (needed for ``learned=True``; checked in both modes).
        learned: learned parameters instead of batch statistics.

    References:
        Sorrenson et al. (2020), eq. (7) and Appendix D.1.
    """

    def __init__(self, n_classes: int, n_dims: int, learned: bool = False):
        super().__init__()
        if n_classes < 1 or n_dims < 1:
            raise ValueError(f"n_classes and n_dims must be positive, got {n_classes} and {n_dims}")
        self.n_classes = int(n_classes)
        self.n_dims = int(n_dims)
        self.learned = learned
        self.n_excluded = 0  # samples left out so far (empirical mode, classes with < 2 samples)
        if learned:
            self.means = nn.Parameter(torch.zeros(n_classes, n_dims))
            self.log_stds = nn.Parameter(torch.zeros(n_classes, n_dims))

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, n_dims={self.n_dims}, learned={self.learned}"

    def class_statistics(self, w: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-class means, biased variances and counts of ``w`` (eqs. 36-37).

        Returns:
            ``(means, variances, counts)`` of shapes ``(C, d)``, ``(C, d)``, ``(C,)``; rows of
            classes with no sample are zero.
        """
        counts = torch.bincount(u, minlength=self.n_classes).to(w.dtype)
        sums = w.new_zeros(self.n_classes, w.shape[1]).index_add(0, u, w)
        means = sums / counts.clamp(min=1)[:, None]
        centred = w - means[u]
        variances = w.new_zeros(self.n_classes, w.shape[1]).index_add(0, u, centred**2) / counts.clamp(min=1)[:, None]
        return means, variances, counts

    def forward(self, w: torch.Tensor, u: torch.Tensor, log_det: torch.Tensor | None = None) -> torch.Tensor:
        """Mean NLL per dimension over the batch.

        Arguments:
            w: latent codes, shape ``(B, d)``.
            u: integer class labels, shape ``(B,)``.
            log_det: per-sample :math:`\\log|\\det J|` of the flow, shape ``(B,)``; ``None``
                for a volume-preserving flow.

        Returns:
            A scalar tensor.
        """
        if w.dim() != 2 or w.shape[1] != self.n_dims:
            raise ValueError(f"latent w must have shape (batch, {self.n_dims}), got {tuple(w.shape)}")
        check_finite(w, "latent w")
        check_labels(u, w.shape[0], self.n_classes)
        if log_det is not None and tuple(log_det.shape) != (w.shape[0],):
            raise ValueError(f"log_det must have shape ({w.shape[0]},), got {tuple(log_det.shape)}")

        if self.learned:
            mu, log_sigma = self.means[u], self.log_stds[u]
        else:
            means, variances, counts = self.class_statistics(w, u)
            keep = counts[u] >= 2
            if not keep.any():
                raise ValueError(
                    "no class has two or more samples in this batch, so no class variance can be estimated; "
                    "use a larger batch or learned=True"
                )
            if not keep.all():  # drop lone samples before any log(0) enters the graph
                self.n_excluded += int((~keep).sum())
                w, u = w[keep], u[keep]
                log_det = log_det[keep] if log_det is not None else None
            mu, log_sigma = means[u], 0.5 * torch.log(variances[u])
        nll = 0.5 * (w - mu) ** 2 * torch.exp(-2 * log_sigma) + log_sigma + HALF_LOG_2PI
        per_sample = nll.mean(dim=1)
        if log_det is not None:
            per_sample = per_sample - log_det / self.n_dims
        return per_sample.mean()
