r"""The GIN loss: negative log-likelihood of the data under the flow and its class-conditional base.

.. math::
    \mathcal{L} = -\frac{1}{d}\,\mathbb{E}_{(x,u)}\big[\log p(w \mid u) + \log|\det J_{g^{-1}}(x)|\big],
    \qquad w = g^{-1}(x),

in nats per dimension, with :math:`p(w \mid u)` the class-conditional Gaussian of
:mod:`gin_core.distributions` (eq. 7 plus its constant, so that it is a true NLL of ``x``).

This module is the one place where that math is written. :func:`nll_terms` is a pure function
of tensors (no Python branch on a tensor's value, no error raised inside), so the eager step,
the compiled step (:mod:`gin_core.steps`) and ``torch.func.vmap`` over an ensemble all call the
same code; :func:`class_conditional_nll` is the checked version for users.

References:
    Sorrenson et al. (2020), §4.2 eq. (7) and Appendix D.1 eqs. (36)-(37).
"""

from __future__ import annotations

import torch

from ._checks import check_finite, check_labels
from .distributions import HALF_LOG_2PI, class_statistics, gaussian_log_prob

__all__ = ["nll_terms", "class_conditional_nll", "NO_PAIR_MESSAGE"]

NO_PAIR_MESSAGE = (
    "no class has two or more samples in this batch, so no class variance can be estimated; "
    "use a larger batch or learned statistics"
)


def nll_terms(
    w: torch.Tensor,
    u: torch.Tensor,
    n_conditions: int,
    log_det: torch.Tensor | None = None,
    means: torch.Tensor | None = None,
    log_stds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean NLL per dimension of a batch, and how many samples entered it (traceable; unchecked).

    **Batch statistics** (``means is None``, the paper's default): each class's mean and biased
    variance are those of its own samples in the batch. The quadratic terms of a class's
    :math:`n_c` samples then add up to :math:`n_c/2` per variable for any ``w`` (a constant
    without gradient), and what is left is, in closed form,

    .. math:: \frac{1}{N d} \sum_c n_c \sum_i \tfrac12 \log\sigma_i^2(c) + \tfrac12 + \tfrac12\log 2\pi,

    where a class with fewer than two samples has no variance estimate: its samples get weight 0
    (before the log enters the graph, so never a NaN) and N counts the others.

    **Learned statistics** (``means`` and ``log_stds`` given): the Gaussian log-density of every
    sample under its class's parameters, averaged.

    Arguments:
        w: codes ``(B, d)``.
        u: integer labels ``(B,)`` in ``[0, n_conditions)`` (not checked here).
        n_conditions: number of conditions C.
        log_det: per-sample :math:`\log|\det J_{g^{-1}}(x)|` ``(B,)``, or ``None`` for a
            volume-preserving flow (GIN), whose log-determinant is exactly zero.
        means, log_stds: ``(C, d)`` learned parameters, or ``None`` for batch statistics.

    Returns:
        ``(loss, n_used)``: the scalar loss in nats per dimension, and the number of samples it
        used as a 0-d long tensor (0 means that no class had two samples: the loss is then
        meaningless and :func:`class_conditional_nll` raises).

    References:
        Sorrenson et al. (2020), eq. (7) and Appendix D.1.
    """
    d = w.shape[1]
    if means is not None:
        loss = -gaussian_log_prob(w, u, means, log_stds).mean() / d
        if log_det is not None:
            loss = loss - log_det.mean() / d
        return loss, torch.full((), w.shape[0], dtype=torch.long, device=w.device)
    _, variances, counts = class_statistics(w, u, n_conditions)
    kept = counts >= 2
    weights = torch.where(kept, counts, torch.zeros_like(counts))
    n_used = weights.sum()
    log_var = torch.where(kept.unsqueeze(1), variances, torch.ones_like(variances)).log()
    denominator = n_used.clamp(min=1)
    # one factor 0.5 / (d N), as the eager loss always computed it (tests/data/bitwise_reference.json)
    loss = (weights @ log_var.sum(dim=1)) * (0.5 / (d * denominator)) + (0.5 + HALF_LOG_2PI)
    if log_det is not None:
        loss = loss - (log_det * kept.index_select(0, u)).sum() / denominator / d
    return loss, n_used.long()


def class_conditional_nll(
    w: torch.Tensor,
    u: torch.Tensor,
    n_conditions: int,
    log_det: torch.Tensor | None = None,
    means: torch.Tensor | None = None,
    log_stds: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`nll_terms` with its inputs checked: the training objective of GIN on one batch of codes.

    Arguments:
        w: codes ``(B, d)``, finite.
        u: integer labels ``(B,)`` in ``[0, n_conditions)``.
        n_conditions: number of conditions.
        log_det: ``(B,)`` or ``None`` (volume preserving).
        means, log_stds: learned ``(n_conditions, d)`` statistics, or ``None`` for batch statistics.

    Returns:
        The scalar loss, nats per dimension.

    Raises:
        ValueError: a wrong shape, a non-finite code, a label out of range, or a batch in which
            no class has two samples (batch statistics).
    """
    if not isinstance(w, torch.Tensor) or w.dim() != 2 or w.shape[0] == 0:
        raise ValueError(f"codes w must be a non-empty (batch, d) tensor, got {getattr(w, 'shape', type(w).__name__)}")
    check_finite(w, "latent w")
    check_labels(u, w.shape[0], n_conditions)
    if log_det is not None and tuple(log_det.shape) != (w.shape[0],):
        raise ValueError(f"log_det must have shape ({w.shape[0]},), got {tuple(log_det.shape)}")
    if (means is None) != (log_stds is None):
        raise ValueError("give both means and log_stds (learned statistics) or neither (batch statistics)")
    for name, value in (("means", means), ("log_stds", log_stds)):
        if value is not None and tuple(value.shape) != (n_conditions, w.shape[1]):
            raise ValueError(
                f"means and log_stds must have shape ({n_conditions}, {w.shape[1]}), {name} has {tuple(value.shape)}"
            )
    loss, n_used = nll_terms(w, u, n_conditions, log_det, means, log_stds)
    if int(n_used) == 0:
        raise ValueError(NO_PAIR_MESSAGE)
    return loss
