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


def check_labels(u: torch.Tensor, n: int, n_classes: int, values: bool = True) -> None:
    """Raise a clear error unless ``u`` is a 1-d integer tensor of ``n`` labels in ``[0, n_classes)``.

    With ``values=False`` only the type, dtype and shape are checked (no pass over the labels).
    """
    if not isinstance(u, torch.Tensor):
        raise TypeError(f"labels u must be a torch.Tensor, got {type(u).__name__}")
    if u.is_floating_point() or u.is_complex() or u.dtype == torch.bool:
        raise TypeError(f"labels u must be integers (torch.long), got dtype {u.dtype}")
    if u.dim() != 1 or u.shape[0] != n:
        raise ValueError(f"labels u must have shape ({n},) to match the batch, got {tuple(u.shape)}")
    if values and n and (u.min() < 0 or u.max() >= n_classes):
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
        n = counts.clamp(min=1).unsqueeze(1)
        means = w.new_zeros(self.n_classes, w.shape[1]).index_add_(0, u, w) / n
        centred = w - means.index_select(0, u)
        variances = w.new_zeros(self.n_classes, w.shape[1]).index_add_(0, u, centred * centred) / n
        return means, variances, counts

    def forward(
        self, w: torch.Tensor, u: torch.Tensor, log_det: torch.Tensor | None = None, check_values: bool = True
    ) -> torch.Tensor:
        """Mean NLL per dimension over the batch.

        Arguments:
            w: latent codes, shape ``(B, d)``.
            u: integer class labels, shape ``(B,)``.
            log_det: per-sample :math:`\\log|\\det J|` of the flow, shape ``(B,)``; ``None``
                for a volume-preserving flow.
            check_values: check that ``w`` is finite and the labels lie in ``[0, n_classes)``
                (passes over the data; shapes and dtypes are always checked).
                :func:`gin_core.train.train` checks its data once and skips these per step.

        Returns:
            A scalar tensor.
        """
        if w.dim() != 2 or w.shape[1] != self.n_dims:
            raise ValueError(f"latent w must have shape (batch, {self.n_dims}), got {tuple(w.shape)}")
        if w.shape[0] == 0:
            raise ValueError(f"latent w is an empty batch (shape {tuple(w.shape)}); expected at least one sample")
        if check_values:
            check_finite(w, "latent w")
        check_labels(u, w.shape[0], self.n_classes, values=check_values)
        if log_det is not None and tuple(log_det.shape) != (w.shape[0],):
            raise ValueError(f"log_det must have shape ({w.shape[0]},), got {tuple(log_det.shape)}")

        if self.learned:
            mu, log_sigma = self.means.index_select(0, u), self.log_stds.index_select(0, u)
            nll = 0.5 * (w - mu) ** 2 * torch.exp(-2 * log_sigma) + log_sigma
            loss = nll.mean() + HALF_LOG_2PI
            return loss if log_det is None else loss - log_det.mean() / self.n_dims

        _, variances, counts = self.class_statistics(w, u)
        kept = counts >= 2
        n_kept = int(counts[kept].sum())
        if n_kept == 0:
            raise ValueError(
                "no class has two or more samples in this batch, so no class variance can be estimated; "
                "use a larger batch or learned=True"
            )
        n_lone = w.shape[0] - n_kept  # classes with one sample: no variance, left out
        # With the batch's own (biased) variances, the squared terms of a class's n_c samples add
        # up to n_c / 2 per dimension for any w, so they contribute a constant and no gradient:
        # the mean NLL is the sample-weighted mean of 0.5 log var + 0.5 + 0.5 log 2 pi (eq. 7),
        # with the same value and gradient as the per-sample sum, in fewer operations.
        # Lone classes get variance 1 (log 0) and weight 0 before the log enters the graph.
        log_var = torch.where(kept.unsqueeze(1), variances, torch.ones_like(variances)).log()
        weights = torch.where(kept, counts, torch.zeros_like(counts))
        loss = (weights @ log_var.sum(dim=1)) * (0.5 / (self.n_dims * n_kept)) + (0.5 + HALF_LOG_2PI)
        if n_lone:
            self.n_excluded += n_lone
            if log_det is not None:
                log_det = log_det[kept.index_select(0, u)]
        return loss if log_det is None else loss - log_det.mean() / self.n_dims
