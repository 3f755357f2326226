r"""The GIN loss: negative log-likelihood of the data under the flow and its latent distribution.

.. math::
    \mathcal{L} = -\frac{1}{d}\,\mathbb{E}_{(x,u)}\big[\log p(w \mid u) + \log|\det J_{g^{-1}}(x)|\big],
    \qquad w = g^{-1}(x),

in nats per dimension, with :math:`p(w \mid u)` the class-conditional Gaussian of
:mod:`gin_core.distributions` (eq. 7 plus its constant, so that it is a true NLL of ``x``).

References:
    Sorrenson et al. (2020), §4.2 eq. (7) and Appendix D.1.
"""

from __future__ import annotations

import torch
from torch import nn

from .distributions import ClassConditionalGaussian

__all__ = ["GaussianMixtureNLL"]


class GaussianMixtureNLL(nn.Module):
    r"""Per-dimension NLL of a batch: the training objective of GIN.

    With batch statistics (``learned=False``, the paper's default) the latent distribution's
    means and variances are those of the batch itself (:meth:`ClassConditionalGaussian.batch_nll`);
    the samples of a class with fewer than two members in the batch are left out of that
    batch's loss and counted in :attr:`n_excluded`. With ``learned=True`` they are parameters
    of :attr:`prior`, trained with the flow.

    Arguments:
        n_classes: number of conditions u.
        n_dims: latent dimension d.
        learned: learned means and log-stds instead of batch statistics.

    Attributes:
        prior: the :class:`~gin_core.distributions.ClassConditionalGaussian`.
        n_excluded: samples left out so far (batch statistics, classes with < 2 samples).

    References:
        Sorrenson et al. (2020), eq. (7) and Appendix D.1.
    """

    def __init__(self, n_classes: int, n_dims: int, learned: bool = False):
        super().__init__()
        self.prior = ClassConditionalGaussian(n_classes, n_dims, learned=learned)
        self.n_excluded = 0

    @property
    def n_classes(self) -> int:
        return self.prior.n_classes

    @property
    def n_dims(self) -> int:
        return self.prior.n_dims

    @property
    def learned(self) -> bool:
        return self.prior.learned

    def forward(
        self, w: torch.Tensor, u: torch.Tensor, log_det: torch.Tensor | None = None, check_values: bool = True
    ) -> torch.Tensor:
        """Mean NLL per dimension over the batch.

        Arguments:
            w: latent codes ``(B, d)``.
            u: integer labels ``(B,)``.
            log_det: per-sample ``log|det J|`` of the flow ``(B,)``; ``None`` for a
                volume-preserving flow (GIN), whose log-det is exactly zero.
            check_values: check that ``w`` is finite and the labels in range (passes over the
                data; shapes and dtypes are always checked). :func:`gin_core.training.train`
                checks its data once and skips these per step.

        Returns:
            A scalar tensor.
        """
        if log_det is not None and tuple(log_det.shape) != (w.shape[0],):
            raise ValueError(f"log_det must have shape ({w.shape[0]},), got {tuple(log_det.shape)}")
        if self.learned:
            self.prior._check(w, u, values=check_values)
            loss = -self.prior._log_prob(w, u).mean() / self.n_dims
            return loss if log_det is None else loss - log_det.mean() / self.n_dims
        loss, n_used, kept = self.prior.batch_nll(w, u, check_values=check_values)
        if n_used < w.shape[0]:  # samples of classes with one member in this batch were left out
            self.n_excluded += w.shape[0] - n_used
            if log_det is not None:
                log_det = log_det[kept.index_select(0, u)]
        return loss if log_det is None else loss - log_det.mean() / self.n_dims
