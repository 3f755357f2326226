r"""Test-set negative log-likelihood of a trained GIN, in nats per dimension and bits per dimension.

The convention (stated once, used everywhere in the book):

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

from .flows import check_finite
from .loss import check_labels

__all__ = [
    "LEVELS",
    "ClassStatistics",
    "class_statistics",
    "encode_noisy",
    "gaussian_nll",
    "bits_per_dim",
    "noise_floor",
    "NLLResult",
    "evaluate_nll",
    "plot_loss_curve",
]

LEVELS = 255  # x = pixel / 255
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class ClassStatistics:
    """Per-class means and (biased) variances of latent codes.

    Attributes:
        means: ``(C, d)`` float64.
        variances: ``(C, d)`` float64.
        counts: ``(C,)`` samples per class.
    """

    means: torch.Tensor
    variances: torch.Tensor
    counts: torch.Tensor

    @property
    def stds(self) -> torch.Tensor:
        return self.variances.sqrt()

    @property
    def n_classes(self) -> int:
        return self.means.shape[0]


def class_statistics(w: torch.Tensor, u: torch.Tensor, n_classes: int) -> ClassStatistics:
    """Mean and biased variance of every latent variable within each class (eqs. 36-37, whole set).

    Arguments:
        w: latent codes ``(N, d)``.
        u: labels ``(N,)`` in ``[0, n_classes)``.
        n_classes: number of classes.

    Returns:
        :class:`ClassStatistics` in float64.

    Raises:
        ValueError: a class has fewer than two samples, or a variance is zero (the Gaussian
            would be degenerate).
    """
    if w.dim() != 2:
        raise ValueError(f"w must have shape (N, d), got {tuple(w.shape)}")
    check_finite(w, "w")
    check_labels(u, w.shape[0], n_classes)
    w = w.detach().to(torch.float64).cpu()
    u = u.cpu()
    counts = torch.bincount(u, minlength=n_classes)
    if (counts < 2).any():
        few = [c for c in range(n_classes) if counts[c] < 2]
        raise ValueError(f"classes {few} have fewer than two samples; cannot estimate their variances")
    means = torch.zeros(n_classes, w.shape[1], dtype=torch.float64).index_add(0, u, w) / counts[:, None]
    centred = w - means[u]
    variances = torch.zeros_like(means).index_add(0, u, centred**2) / counts[:, None]
    if (variances <= 0).any():
        raise ValueError("a latent variable is constant within a class (zero variance); the Gaussian is degenerate")
    return ClassStatistics(means, variances, counts)


@torch.no_grad()
def encode_noisy(
    net: nn.Module, x: torch.Tensor, noise: float = 0.01, seed: int = 0, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode ``x + noise * N(0, 1)`` (noise from a private generator) in evaluation mode.

    Returns:
        ``(w, log_det)`` on the CPU: flat codes ``(N, d)`` and ``log|det J|`` ``(N,)``.
    """
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(int(seed))
    net.eval()
    ws, lds = [], []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        if noise > 0:
            xb = xb + noise * torch.randn(xb.shape, generator=generator, dtype=xb.dtype)
        w, log_det = net(xb.to(device))
        ws.append(w.flatten(1).cpu())
        lds.append(log_det.cpu())
    return torch.cat(ws), torch.cat(lds)


def gaussian_nll(
    w: torch.Tensor, u: torch.Tensor, stats: ClassStatistics, log_det: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Per-sample NLL in nats per dimension under the class-conditional diagonal Gaussians.

    .. math:: \frac1d\Big[\sum_i \frac{(w_i-\mu_i(u))^2}{2\sigma_i^2(u)} + \log\sigma_i(u)
              + \tfrac12\log 2\pi\Big] - \frac1d \log|\det J|

    Arguments:
        w: codes ``(N, d)``.
        u: labels ``(N,)``.
        stats: the class statistics (from the training set).
        log_det: ``(N,)`` or ``None`` (volume preserving).

    Returns:
        ``(N,)`` float64.
    """
    if w.dim() != 2 or w.shape[1] != stats.means.shape[1]:
        raise ValueError(f"w must have shape (N, {stats.means.shape[1]}), got {tuple(w.shape)}")
    check_finite(w, "w")
    check_labels(u, w.shape[0], stats.n_classes)
    w = w.detach().to(torch.float64).cpu()
    u = u.cpu()
    mu, var = stats.means[u], stats.variances[u]
    nll = (0.5 * (w - mu) ** 2 / var + 0.5 * torch.log(var) + HALF_LOG_2PI).mean(1)
    if log_det is not None:
        if tuple(log_det.shape) != (w.shape[0],):
            raise ValueError(f"log_det must have shape ({w.shape[0]},), got {tuple(log_det.shape)}")
        nll = nll - log_det.detach().to(torch.float64).cpu() / w.shape[1]
    return nll


def bits_per_dim(nats_per_dim: float, levels: int = LEVELS) -> float:
    """Convert nats/dim for data in ``[0, 1]`` to bits/dim in pixel units ``levels * x``."""
    return (float(nats_per_dim) + math.log(levels)) / math.log(2)


def noise_floor(noise: float = 0.01, levels: int = LEVELS) -> tuple[float, float]:
    r"""The lowest NLL any model can reach on data with Gaussian noise ``noise`` added.

    The differential entropy of the noise, :math:`\tfrac12\log(2\pi e\sigma^2)` per dimension,
    bounds :math:`h(x + \epsilon)` from below, and a model's NLL (a cross-entropy) from below.

    Returns:
        ``(nats_per_dim, bits_per_dim)`` in the units of :func:`evaluate_nll`.
    """
    if noise <= 0:
        raise ValueError(f"the floor needs noise > 0, got {noise}")
    nats = 0.5 * math.log(2 * math.pi * math.e * noise**2)
    return nats, bits_per_dim(nats, levels)


@dataclass
class NLLResult:
    """Test-set NLL and how it was computed.

    Attributes:
        nats_per_dim: mean test NLL, nats per dimension, ``x`` in ``[0, 1]``.
        bits_per_dim: the same in bits per dimension of pixel values 0-255.
        per_class: mean nats/dim of each class, ``(C,)``.
        floor_bits_per_dim: the noise-entropy floor (:func:`noise_floor`); ``nan`` if ``noise=0``.
        n_train, n_test: samples used for the class statistics and for the NLL.
        noise, seed: the evaluation noise and its seed.
        stats: the training-set :class:`ClassStatistics`.
    """

    nats_per_dim: float
    bits_per_dim: float
    per_class: np.ndarray
    floor_bits_per_dim: float
    n_train: int
    n_test: int
    noise: float
    seed: int
    stats: ClassStatistics

    def __str__(self) -> str:
        return (
            f"test NLL {self.nats_per_dim:.4f} nats/dim = {self.bits_per_dim:.4f} bits/dim "
            f"({self.n_test} test images, class statistics from {self.n_train} training images, "
            f"noise sigma={self.noise}, seed={self.seed}; noise floor {self.floor_bits_per_dim:.4f} bits/dim)"
        )


def evaluate_nll(
    net: nn.Module,
    x_train: torch.Tensor,
    u_train: torch.Tensor,
    x_test: torch.Tensor,
    u_test: torch.Tensor,
    n_classes: int = 10,
    noise: float = 0.01,
    seed: int = 0,
    batch_size: int = 500,
) -> NLLResult:
    """Test-set NLL of a trained flow, with class statistics from the training set.

    Both sets are encoded with noise ``noise`` added (the training augmentation; different
    draws for the two sets, from ``seed`` and ``seed + 1``); see the module docstring for the
    convention.

    Arguments:
        net: trained flow, ``w, log_det = net(x)``.
        x_train, u_train: images and labels that define the class means and variances.
        x_test, u_test: images and labels scored.
        n_classes: number of classes.
        noise: standard deviation of the evaluation noise (0.01 as in training; 0 for clean images).
        seed: seed of the noise.
        batch_size: images per forward pass.

    Returns:
        An :class:`NLLResult`.

    References:
        Sorrenson et al. (2020), eq. (7), §4.4.1.
    """
    w_train, _ = encode_noisy(net, x_train, noise, seed, batch_size)
    stats = class_statistics(w_train, u_train, n_classes)
    w_test, log_det = encode_noisy(net, x_test, noise, seed + 1, batch_size)
    vp = getattr(net, "volume_preserving", False)
    nll = gaussian_nll(w_test, u_test, stats, None if vp else log_det)
    per_class = np.array([nll[u_test.cpu() == c].mean().item() if (u_test == c).any() else np.nan for c in range(n_classes)])
    nats = nll.mean().item()
    floor = noise_floor(noise)[1] if noise > 0 else float("nan")
    return NLLResult(nats, bits_per_dim(nats), per_class, floor, len(x_train), len(x_test), noise, seed, stats)


def plot_loss_curve(history: dict, ax=None, title: str = "", label: str = "training loss"):
    """Per-epoch training loss (nats/dim) with the learning rate on a second axis.

    Arguments:
        history: ``{"loss": [...], "lr": [...]}`` (a :class:`~gin_core.train.History` as dict, a
            checkpoint's or a provenance file's history).
        ax: Matplotlib axes (created if ``None``).
        title: axes title.
        label: legend label of the loss.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    loss = np.asarray(history["loss"], dtype=float)
    if loss.size == 0:
        raise ValueError("the history has no epochs")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, "o-", ms=3, lw=1, label=label)
    ax.set(xlabel="epoch", ylabel="loss (nats/dim)")
    ax.set_title(title, fontsize=9)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    lr = np.asarray(history.get("lr", []), dtype=float)
    if lr.size == loss.size:
        twin = ax.twinx()
        twin.semilogy(epochs, lr, color="C1", lw=1, ls="--", label="learning rate")
        twin.set_ylabel("learning rate", color="C1")
        twin.tick_params(axis="y", colors="C1")
    ax.legend(fontsize=7, loc="upper right")
    return ax
