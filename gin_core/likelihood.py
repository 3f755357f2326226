r"""Held-out negative log-likelihood of a trained flow, in nats per dimension and bits per dimension.

One function, :func:`heldout_nll`, scores the artificial data's validation set and the digits'
test set. For images the convention is (stated once, used everywhere in the book):

* **Data.** Pixels are divided by 255, so ``x`` lies in :math:`[0, 1]^{784}`. Training adds
  Gaussian noise of standard deviation :math:`\sigma = 0.01` to every batch (§4.4.1), so the
  flow is a density model of the *noisy* images :math:`\tilde x = x + \epsilon`,
  :math:`\epsilon \sim \mathcal N(0, \sigma^2 I)`. We therefore evaluate it on noisy test
  images, with the noise drawn from a fixed seed (``noise=0`` evaluates the clean images).
* **Model.** The density of :math:`\tilde x` given its class :math:`u` is the flow's
  change of variables with a diagonal Gaussian per class in latent space,
  :math:`-\log p(\tilde x \mid u) = -\sum_i \log \mathcal N(w_i; \mu_i(u), \sigma_i^2(u))
  - \log|\det J_{g^{-1}}(\tilde x)|`, where :math:`w = g^{-1}(\tilde x)` and the last term is
  zero for GIN. The class means and variances are those of the **training set's** noisy codes
  (the test set never informs its own model). It is a *class-conditional* likelihood: the
  label is given, as during training.
* **Units.** *nats/dim* is :math:`-\log p(\tilde x \mid u) / 784` for ``x`` in :math:`[0, 1]`;
  it is negative because the noisy images are concentrated in a tiny volume of
  :math:`[0, 1]^{784}`. *bits/dim* rescales to pixel units :math:`255\,\tilde x` (the usual
  scale of flow papers): :math:`(\text{nats/dim} + \log 255) / \log 2`.
* **Floor.** Because the noise is independent of the image,
  :math:`h(\tilde x) \ge h(\epsilon)`, and a cross-entropy is never below the entropy: no model
  can score below :math:`\tfrac12 \log(2\pi e\sigma^2)` nats/dim, i.e.
  :math:`\log_2(255\sigma\sqrt{2\pi e}) \approx 3.40` bits/dim for :math:`\sigma = 0.01`
  (:func:`noise_floor`). This is why GIN's bits/dim look large next to the ~1 bit/dim of
  flows trained with uniform dequantisation of width 1/256: those numbers bound a discrete
  code length, ours is the density of data blurred by noise 2.55 grey levels wide, and the
  two are not comparable.

References:
    Sorrenson et al. (2020), eq. (7), §4.4.1 and Appendix D.1; Theis et al. (2016), "A note on
    the evaluation of generative models" (dequantisation and bits/dim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .distributions import ClassConditionalGaussian
from .model import GIN

__all__ = ["LEVELS", "bits_per_dim", "noise_floor", "NLLResult", "heldout_nll"]

LEVELS = 255  # x = pixel / 255


def bits_per_dim(nats_per_dim: float, levels: int = LEVELS) -> float:
    """Convert nats/dim for data in ``[0, 1]`` to bits/dim in pixel units ``levels * x``."""
    return (float(nats_per_dim) + math.log(levels)) / math.log(2)


def noise_floor(noise: float = 0.01, levels: int = LEVELS) -> tuple[float, float]:
    r"""The lowest NLL any model can reach on data with Gaussian noise ``noise`` added.

    The differential entropy of the noise, :math:`\tfrac12\log(2\pi e\sigma^2)` per dimension,
    bounds :math:`h(x + \epsilon)` from below, and a model's NLL (a cross-entropy) from below.

    Returns:
        ``(nats_per_dim, bits_per_dim)`` in the units of :func:`heldout_nll`.
    """
    if noise <= 0:
        raise ValueError(f"the floor needs noise > 0, got {noise}")
    nats = 0.5 * math.log(2 * math.pi * math.e * noise**2)
    return nats, bits_per_dim(nats, levels)


@dataclass
class NLLResult:
    """Held-out NLL and how it was computed.

    Attributes:
        nats_per_dim: mean NLL of the scored set, nats per dimension.
        bits_per_dim: the same in bits per dimension of pixel values 0-255 (meaningful for images).
        per_class: mean nats/dim of each class, ``(C,)`` (``nan`` for a class absent from the scored set).
        per_sample: nats/dim of every scored sample, ``(N,)`` float64.
        floor_bits_per_dim: the noise-entropy floor (:func:`noise_floor`); ``nan`` if ``noise=0``.
        n_fit, n_eval: samples that fitted the latent distribution, and samples scored.
        noise, seed: the evaluation noise and its seed.
        prior: the fitted :class:`~gin_core.distributions.ClassConditionalGaussian` (float64).
    """

    nats_per_dim: float
    bits_per_dim: float
    per_class: np.ndarray
    per_sample: torch.Tensor
    floor_bits_per_dim: float
    n_fit: int
    n_eval: int
    noise: float
    seed: int
    prior: ClassConditionalGaussian

    def __str__(self) -> str:
        return (
            f"held-out NLL {self.nats_per_dim:.4f} nats/dim = {self.bits_per_dim:.4f} bits/dim "
            f"({self.n_eval} samples scored, class statistics from {self.n_fit} samples, "
            f"noise sigma={self.noise}, seed={self.seed}; noise floor {self.floor_bits_per_dim:.4f} bits/dim)"
        )


def heldout_nll(
    net: nn.Module,
    x_fit: torch.Tensor,
    u_fit: torch.Tensor,
    x_eval: torch.Tensor,
    u_eval: torch.Tensor,
    n_classes: int,
    noise: float = 0.0,
    seed: int = 0,
    batch_size: int = 500,
) -> NLLResult:
    r"""NLL of held-out data under a trained flow, with the latent distribution fitted on training data.

    A :class:`~gin_core.model.GIN` of the flow has its base fitted on the codes of ``x_fit``
    (:meth:`~gin_core.model.GIN.fit_base`, float64) and scores ``x_eval``
    (:meth:`~gin_core.model.GIN.log_prob`, with the log-determinant when the flow is not volume
    preserving). Both sets get noise ``noise`` (draws from ``seed`` and
    ``seed + 1``): use the training noise for images (the test NLL of §4.4), 0 for the
    artificial data.

    Arguments:
        net: a trained flow, ``w, log_det = net(x)``, or a :class:`~gin_core.model.GIN` (its flow is used).
        x_fit, u_fit: data and labels that define the class means and variances (training set).
        x_eval, u_eval: data and labels scored (validation or test set).
        n_classes: number of classes.
        noise: standard deviation of the evaluation noise.
        seed: seed of the noise.
        batch_size: samples per forward pass.

    Returns:
        An :class:`NLLResult`.

    References:
        Sorrenson et al. (2020), eq. (7), §4.4.1.
    """
    flow = net.flow if isinstance(net, GIN) else net
    model = GIN(flow, n_classes).fit_base(x_fit, u_fit, batch_size, noise, seed)
    u_eval = u_eval.cpu()
    nll = -model.log_prob(x_eval, u_eval, batch_size, noise, seed + 1) / model.n_dims
    per_class = np.array([nll[u_eval == c].mean().item() if (u_eval == c).any() else np.nan for c in range(n_classes)])
    nats = nll.mean().item()
    floor = noise_floor(noise)[1] if noise > 0 else float("nan")
    return NLLResult(nats, bits_per_dim(nats), per_class, nll, floor, len(x_fit), len(x_eval), noise, seed, model.base)
