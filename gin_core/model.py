r"""The GIN model: a flow paired with its class-conditional base distribution.

.. math::
    w = g^{-1}(x), \qquad p(x \mid u) = p(w \mid u)\,\big|\det J_{g^{-1}}(x)\big|,
    \qquad p(w \mid u) = \prod_i \mathcal N\big(w_i; \mu_i(u), \sigma_i^2(u)\big),

as zuko's ``Flow(transform, base)``, nflows' ``Flow(transform, distribution)`` and normflows'
``ClassCondFlow`` pair theirs. For GIN the flow is volume preserving, so the determinant is 1.

* :meth:`GIN.loss` is the training objective of a batch (:func:`gin_core.loss.nll_terms`);
* :meth:`GIN.encode` and :meth:`GIN.decode` map data to latent codes and back;
* :meth:`GIN.fit_base` sets the base's means and variances to the training codes' statistics
  (batch-statistics models, after training); then :meth:`GIN.log_prob` scores data and
  :meth:`GIN.sample` draws new data through the inverse flow.

References:
    Sorrenson et al. (2020), §3.2, §4.2 eq. (7) and Appendix D.1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_labels
from .distributions import ClassConditionalGaussian
from .flows import declares_volume, encode
from .loss import NO_PAIR_MESSAGE, nll_terms

__all__ = ["GIN"]


class GIN(nn.Module):
    r"""A flow and its class-conditional Gaussian base: ``log_prob(x, u)``, ``sample(u)``, ``encode``, ``decode``.

    Arguments:
        flow: an invertible network, ``w, log_det = flow(x)`` and ``x = flow.inverse(w)``, that
            declares ``volume_preserving`` and its per-sample ``latent_shape`` (the networks of
            :mod:`gin_core.networks` do).
        n_conditions: number of conditions u (classes, clusters or sub-labels).
        learned: learn the base's means and log-stds with the flow (Appendix D.1) instead of
            using each batch's own statistics (the paper's default).

    Attributes:
        flow: the network.
        base: the :class:`~gin_core.distributions.ClassConditionalGaussian`. With batch
            statistics it is kept in float64 and set by :meth:`fit_base`; learned, its
            parameters train with the flow in the flow's dtype.

    References:
        Sorrenson et al. (2020), eq. (7) and Appendix D.1.
    """

    def __init__(self, flow: nn.Module, n_conditions: int, learned: bool = False):
        super().__init__()
        if not declares_volume(flow):
            raise TypeError(
                f"the flow ({type(flow).__name__}) must declare volume_preserving (True or False), e.g. an "
                "InvertibleSequential of declared transforms"
            )
        if not hasattr(flow, "latent_shape"):
            raise TypeError(f"the flow ({type(flow).__name__}) must record its per-sample latent_shape")
        self.flow = flow
        self.n_conditions = int(n_conditions)
        self.base = ClassConditionalGaussian(self.n_conditions, math.prod(flow.latent_shape), learned=learned)
        if not learned:
            self.base.double()

    def extra_repr(self) -> str:
        return f"n_conditions={self.n_conditions}, learned={self.learned}"

    @property
    def n_dims(self) -> int:
        """The latent dimension d (the flow's latent shape, flattened)."""
        return self.base.n_dims

    @property
    def learned(self) -> bool:
        return self.base.learned

    @property
    def volume_preserving(self) -> bool:
        return bool(self.flow.volume_preserving)

    # ------------------------------------------------------------------------------------------
    # Training

    def loss_terms(
        self, x: torch.Tensor, u: torch.Tensor, check_values: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss of a batch and the samples it used (:func:`gin_core.loss.nll_terms`).

        Arguments:
            x: a batch ``(B, *input_shape)``.
            u: its labels ``(B,)``.
            check_values: check that ``x`` is finite and the labels in range (passes over the data;
                the training loop checks its whole data set once and steps without them).

        Returns:
            ``(loss, n_used)`` as :func:`~gin_core.loss.nll_terms` returns them.
        """
        if check_values:
            check_labels(u, x.shape[0], self.n_conditions)
        w, log_det = self.flow(x, check_finite=check_values)
        learned = (self.base.means, self.base.log_stds) if self.learned else (None, None)
        return nll_terms(w.flatten(1), u, self.n_conditions, None if self.volume_preserving else log_det, *learned)

    def loss(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The mean NLL per dimension of a batch (the objective GIN trains on), with its inputs checked.

        Raises:
            ValueError: no class has two samples in the batch (batch statistics), or bad input.
        """
        loss, n_used = self.loss_terms(x, u, check_values=True)
        if int(n_used) == 0:
            raise ValueError(NO_PAIR_MESSAGE)
        return loss

    # ------------------------------------------------------------------------------------------
    # Codes

    def encode(self, x: torch.Tensor, batch_size: int = 1000, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
        """Latent codes ``w = g^{-1}(x)`` of ``x``, flattened, on the CPU (evaluation mode, batch by batch).

        Arguments:
            x: data ``(N, *input_shape)``.
            batch_size: samples per forward pass.
            noise: standard deviation of Gaussian noise added first (the training noise; 0 for none),
                drawn from a private generator seeded by ``seed`` (:func:`gin_core.flows.encode`).
            seed: seed of that noise.

        Returns:
            ``(N, d)``.
        """
        return encode(self.flow, x, batch_size, noise, seed)[0]

    @torch.no_grad()
    def decode(self, w: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Data ``x = g(w)`` of latent codes, on the CPU, in the flow's dtype (evaluation mode).

        Arguments:
            w: codes ``(N, d)`` (flat) or ``(N, *latent_shape)``, any device or dtype.
            batch_size: samples per inverse pass.

        Returns:
            ``(N, *input_shape)``.
        """
        if not isinstance(w, torch.Tensor) or w.dim() < 2 or math.prod(w.shape[1:]) != self.n_dims:
            raise ValueError(f"codes must have shape (N, {self.n_dims}), got {getattr(w, 'shape', type(w).__name__)}")
        self.flow.eval()
        param = next(self.flow.parameters())
        w = w.reshape(w.shape[0], *self.flow.latent_shape)
        chunks = [self.flow.inverse(c.to(param.device, param.dtype)).cpu() for c in w.split(batch_size)]
        return torch.cat(chunks)

    # ------------------------------------------------------------------------------------------
    # The density and samples

    def fit_base(
        self, x: torch.Tensor, u: torch.Tensor, batch_size: int = 1000, noise: float = 0.0, seed: int = 0
    ) -> GIN:
        """Set the base's means and variances to those of the codes of ``x`` (float64), and return ``self``.

        Used after training with batch statistics: the training data's codes define the model that
        scores held-out data and that is sampled from (:meth:`ClassConditionalGaussian.fit`).

        Arguments:
            x, u: training data and labels.
            batch_size, noise, seed: as :meth:`encode` (images: the training noise).

        Returns:
            ``self``.
        """
        check_labels(u, x.shape[0], self.n_conditions)
        self.base.fit(self.encode(x, batch_size, noise, seed).to(self.base.means.dtype), u.cpu())
        return self

    def log_prob(
        self, x: torch.Tensor, u: torch.Tensor, batch_size: int = 1000, noise: float = 0.0, seed: int = 0
    ) -> torch.Tensor:
        r"""Per-sample :math:`\log p(x \mid u)` in nats, summed over the dimensions (float64 with a fitted base).

        Arguments:
            x, u: data and labels.
            batch_size, noise, seed: as :meth:`encode`.

        Returns:
            ``(N,)`` on the CPU.
        """
        check_labels(u, x.shape[0], self.n_conditions)
        w, log_det = encode(self.flow, x, batch_size, noise, seed)
        base = self.base.cpu() if self.base.means.device.type != "cpu" else self.base
        log_p = base.log_prob(w.to(base.means.dtype), u.cpu())
        return log_p if self.volume_preserving else log_p + log_det.to(log_p.dtype)

    @torch.no_grad()
    def sample(
        self,
        u: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        dims: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """New data of conditions ``u``: codes from the base (:meth:`ClassConditionalGaussian.sample`), decoded.

        Arguments:
            u: conditions ``(N,)``.
            temperature: scales the base's standard deviations (0: the class means).
            generator: random generator on the base's device.
            dims: sample only these variables; the others stay at their class means.
            noise: the standard normal draws to use ``(N, d)``.

        Returns:
            ``(N, *input_shape)`` on the CPU.
        """
        return self.decode(self.base.sample(u, temperature, generator, dims, noise))
