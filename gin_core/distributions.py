r"""The latent distribution of GIN: a class-conditional diagonal Gaussian (eq. 7).

.. math:: p(w \mid u) = \prod_{i=1}^{d} \mathcal N\big(w_i;\ \mu_i(u),\ \sigma_i^2(u)\big)

GIN pairs a volume-preserving flow :math:`w = g^{-1}(x)` with this base distribution, the way
zuko and normflows pair a flow with a base distribution object. The means and standard
deviations come from one of two places (Appendix D.1):

* **batch statistics** (``learned=False``, the paper's default): :math:`\mu(u)` and
  :math:`\sigma^2(u)` are the mean and biased variance of the codes of class :math:`u`. During
  training they are recomputed on every batch (:func:`gin_core.loss.nll_terms`); to
  score or sample after training they are fitted once on the training codes
  (:meth:`ClassConditionalGaussian.fit`);
* **learned** (``learned=True``): :math:`\mu` and :math:`\log\sigma` are parameters trained with
  the flow.

References:
    Sorrenson et al. (2020), §4.2 eq. (7) and Appendix D.1 eqs. (36)-(37).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_finite, check_labels

__all__ = ["HALF_LOG_2PI", "ClassConditionalGaussian", "class_statistics", "gaussian_log_prob"]

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def class_statistics(
    w: torch.Tensor, u: torch.Tensor, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class means, biased variances and counts of ``w`` (eqs. 36-37).

    Differentiable, and in ``w``'s dtype and device: the training loss uses it on every batch.

    Arguments:
        w: codes ``(N, d)``.
        u: labels ``(N,)`` in ``[0, n_classes)`` (not checked here).
        n_classes: number of classes C.

    Returns:
        ``(means, variances, counts)`` of shapes ``(C, d)``, ``(C, d)``, ``(C,)``; the rows of a
        class without samples are zero.
    """
    zeros = torch.zeros(n_classes, w.shape[1], dtype=w.dtype, device=w.device)
    counts = torch.zeros(n_classes, dtype=w.dtype, device=w.device).index_add(0, u, torch.ones_like(w[:, 0]))
    n = counts.clamp(min=1).unsqueeze(1)
    means = zeros.index_add(0, u, w) / n
    centred = w - means.index_select(0, u)
    variances = zeros.index_add(0, u, centred * centred) / n
    return means, variances, counts


def gaussian_log_prob(w: torch.Tensor, u: torch.Tensor, means: torch.Tensor, log_stds: torch.Tensor) -> torch.Tensor:
    r"""Per-sample :math:`\log \mathcal N(w; \mu(u), \mathrm{diag}\,\sigma^2(u))`, summed over the d variables (eq. 7).

    The one place the Gaussian log-density is written: :meth:`ClassConditionalGaussian.log_prob`
    and the learned-statistics loss (:func:`gin_core.loss.nll_terms`) both call it. Traceable and
    unchecked.

    Arguments:
        w: codes ``(N, d)``.
        u: labels ``(N,)`` indexing the rows of ``means`` and ``log_stds``.
        means, log_stds: ``(C, d)``.

    Returns:
        ``(N,)`` in the dtype of ``means`` (``w`` is cast to it).
    """
    mu, log_sigma = means.index_select(0, u), log_stds.index_select(0, u)
    w = w.to(mu.dtype)
    return -(0.5 * ((w - mu) * torch.exp(-log_sigma)) ** 2 + log_sigma + HALF_LOG_2PI).sum(1)


class ClassConditionalGaussian(nn.Module):
    r"""A diagonal Gaussian per condition :math:`u`: ``log_prob(w, u)`` and ``sample(u, temperature)``.

    Arguments:
        n_classes: number of conditions (mixture components).
        n_dims: latent dimension d.
        learned: learned means and log-stds (initialised at N(0, 1)) instead of batch statistics.

    Attributes:
        means: ``(n_classes, n_dims)``, parameters if ``learned`` else a buffer set by :meth:`fit`.
        log_stds: likewise.

    References:
        Sorrenson et al. (2020), eq. (7) and Appendix D.1.
    """

    def __init__(self, n_classes: int, n_dims: int, learned: bool = False):
        super().__init__()
        if n_classes < 1 or n_dims < 1:
            raise ValueError(f"n_classes and n_dims must be positive, got {n_classes} and {n_dims}")
        self.n_classes, self.n_dims, self.learned = int(n_classes), int(n_dims), bool(learned)
        zeros = torch.zeros(n_classes, n_dims)
        if learned:
            self.means, self.log_stds = nn.Parameter(zeros.clone()), nn.Parameter(zeros.clone())
        else:
            self.register_buffer("means", zeros.clone())
            self.register_buffer("log_stds", zeros.clone())
            self.register_buffer("fitted", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, n_dims={self.n_dims}, learned={self.learned}"

    @property
    def stds(self) -> torch.Tensor:
        return self.log_stds.exp()

    def _check(self, w: torch.Tensor, u: torch.Tensor, values: bool = True) -> None:
        if w.dim() != 2 or w.shape[1] != self.n_dims:
            raise ValueError(f"latent w must have shape (batch, {self.n_dims}), got {tuple(w.shape)}")
        if values:
            check_finite(w, "latent w")
        elif w.shape[0] == 0:
            raise ValueError(f"latent w is an empty batch (shape {tuple(w.shape)}); expected at least one sample")
        check_labels(u, w.shape[0], self.n_classes, values=values)

    @torch.no_grad()
    def fit(self, w: torch.Tensor, u: torch.Tensor) -> ClassConditionalGaussian:
        """Set the means and standard deviations to the statistics of ``w`` (batch-statistics mode).

        Used after training: the statistics of the *training* codes define the model that scores
        held-out data and that is sampled from. Computed in float64.

        Arguments:
            w: codes ``(N, d)``.
            u: labels ``(N,)``.

        Returns:
            ``self``.

        Raises:
            ValueError: in learned mode, or if a class has fewer than two samples or a variable
                is constant within a class (the Gaussian would be degenerate).
        """
        if self.learned:
            raise ValueError("fit() sets batch statistics; a learned distribution is trained with the flow instead")
        self._check(w, u)
        means, variances, counts = class_statistics(w.detach().double(), u, self.n_classes)
        few = [c for c in range(self.n_classes) if counts[c] < 2]
        if few:
            raise ValueError(f"classes {few} have fewer than two samples; cannot estimate their variances")
        if (variances <= 0).any():
            raise ValueError("a latent variable is constant within a class (zero variance); the Gaussian is degenerate")
        self.means = means.to(self.means)
        self.log_stds = (0.5 * variances.log()).to(self.log_stds)
        self.fitted.fill_(True)
        return self

    def _require_parameters(self) -> None:
        if not self.learned and not bool(self.fitted):
            raise ValueError(
                "this distribution uses batch statistics and has not been fitted: call fit(w_train, u_train) first "
                "(a training batch is scored under its own statistics by gin_core.loss.nll_terms)"
            )

    def log_prob(self, w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        r"""Per-sample :math:`\log p(w \mid u)`, summed over the d variables.

        Arguments:
            w: codes ``(N, d)``.
            u: labels ``(N,)``.

        Returns:
            ``(N,)`` in the dtype of the distribution (call ``.double()`` on it to score in float64).
        """
        self._require_parameters()
        self._check(w, u)
        return gaussian_log_prob(w, u, self.means, self.log_stds)

    def mixture_log_prob(self, w: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        r"""Per-sample log-density under a mixture of the conditions: :math:`\log \sum_k \pi_{nk}\, p(w_n \mid k)`.

        Two uses of more conditions than classes (§4.4.4): the class-conditional density of a
        model trained on sub-labels (:math:`\pi_{nk}` = the training share of sub-label k in
        sample n's class, zero outside it), and soft labels (:math:`\pi_{nk}` = a classifier's
        posterior). With one-hot weights it equals :meth:`log_prob`.

        Arguments:
            w: codes ``(N, d)``.
            weights: mixture weights ``(N, n_classes)``, non-negative, each row summing to 1.

        Returns:
            ``(N,)`` in the dtype of the distribution; differentiable in ``w``, the weights and
            (if learned) the parameters.
        """
        self._require_parameters()
        self._check(w, torch.zeros(w.shape[0], dtype=torch.long, device=w.device))
        if weights.dim() != 2 or tuple(weights.shape) != (w.shape[0], self.n_classes):
            raise ValueError(
                f"weights must have shape ({w.shape[0]}, {self.n_classes}) (one row per sample), "
                f"got {tuple(weights.shape)}"
            )
        check_finite(weights, "mixture weights")
        if (weights < 0).any() or not torch.allclose(weights.sum(1), torch.ones_like(weights[:, 0]), atol=1e-5):
            raise ValueError("mixture weights must be non-negative and each row must sum to 1")
        mu, log_sigma = self.means, self.log_stds
        w = w.to(mu.dtype)
        z = (w.unsqueeze(1) - mu) * torch.exp(-log_sigma)  # (N, K, d)
        log_components = -(0.5 * z * z + log_sigma + HALF_LOG_2PI).sum(2)
        return torch.logsumexp(log_components + weights.to(mu.dtype).log(), dim=1)

    @torch.no_grad()
    def sample(
        self,
        u: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        dims: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        r"""Draw :math:`w = \mu(u) + T\,\sigma(u)\,\epsilon`, :math:`\epsilon \sim \mathcal N(0, I)`.

        Arguments:
            u: labels ``(N,)`` of the samples.
            temperature: T; 0 gives the class means.
            generator: random generator (on the distribution's device).
            dims: indices of the variables to sample; the others stay at the class mean
                (``None``: all). The atlas samples only the informative variables this way.
            noise: the standard normal draws :math:`\epsilon` to use, ``(N, d)``, instead of drawing
                them (e.g. one draw shared by several classes, to show one style as every digit).

        Returns:
            ``(N, d)`` codes.
        """
        self._require_parameters()
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if not isinstance(u, torch.Tensor) or u.dim() != 1:
            raise ValueError(
                f"labels u must be a 1-d tensor of conditions, got {getattr(u, 'shape', type(u).__name__)}"
            )
        check_labels(u, u.shape[0], self.n_classes)
        mu, sigma = self.means.index_select(0, u), self.stds.index_select(0, u)
        if noise is None:
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        elif tuple(noise.shape) != tuple(mu.shape):
            raise ValueError(f"noise must have shape {tuple(mu.shape)} (one row per label), got {tuple(noise.shape)}")
        else:
            eps = noise.to(mu)
        if dims is not None:
            mask = torch.zeros(self.n_dims, dtype=torch.bool, device=mu.device)
            mask[torch.as_tensor(dims, device=mu.device)] = True
            eps = eps * mask
        return mu + temperature * sigma * eps
