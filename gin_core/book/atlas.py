r"""The atlas of discovered variables (Figs. 3-5 and 9-15): spectra, knees, sweeps and samples.

A trained GIN maps each image to a code :math:`w` whose variables are, per class :math:`u`,
independent Gaussians with means :math:`\mu(u)` and standard deviations :math:`\sigma(u)`
(the :class:`~gin_core.distributions.ClassConditionalGaussian` fitted on the training codes). This module

* computes the **PCA spectrum** of the images beside GIN's spectrum (:func:`pca_spectrum`) and
  tabulates the number of informative variables that several stated knee rules of
  :func:`gin_core.metrics.count_informative` read off a spectrum (:func:`knee_table`);
* **sweeps** one variable from -2 to +2 class standard deviations with all others at the class
  mean and decodes the codes (:func:`variable_sweep`), with the heatmap :math:`|x(+1\sigma) - x(-1\sigma)|`;
* draws **temperature samples** where only the informative variables are sampled
  (:func:`temperature_samples`, through the distribution's ``sample``).

The figures draw what these functions computed, and nothing else: :func:`plot_sweeps` draws
:func:`sweep_panels`, :func:`plot_samples` draws temperature samples (both tile images with
:func:`mosaic`). Each returns the Matplotlib **Figure** it drew on (given an ``ax``, that axes'
figure). Matplotlib is imported only when something is drawn.

Variables are numbered as in the paper: variable 1 has the largest standard deviation.

References:
    Sorrenson et al. (2020), §4.4.2, Figs. 3-5 and Appendix F (Figs. 9-15).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._checks import as_float64
from ..distributions import ClassConditionalGaussian
from ..flows import encode
from ..metrics import Spectrum, count_informative, latent_spectrum
from ..model import GIN

__all__ = [
    "DEFAULT_KNEE",
    "TABLE_WRITTEN_FOR",
    "prepare_atlas",
    "pca_spectrum",
    "knee_table",
    "Atlas",
    "make_atlas",
    "variable_sweep",
    "temperature_samples",
    "effect_sizes",
    "decode_moved",
    "slider_strip",
    "mosaic",
    "sweep_panels",
    "plot_sweeps",
    "plot_samples",
]

# The criterion the chapters state and use: the variables whose standard deviation exceeds
# twice the median of the spectrum (the median lies in the floor of squeezed noise variables).
DEFAULT_KNEE = ("plateau", {"factor": 2.0})  # as count_informative(spectrum, method, **kwargs)

#: the build the atlas chapter's table of observations was written for, by eye: the shipped MNIST weights
#: (the first 16 hex digits of their SHA-256), class statistics from every training image, and the cut-off
TABLE_WRITTEN_FOR = {"sha256_prefix": "55cd75b2f9947bea", "training_images": 60000, "k": 17}


def pca_spectrum(x, u=None) -> np.ndarray:
    """Standard deviations of the principal components of the (flattened) images, sorted.

    Arguments:
        x: images ``(N, ...)`` (flattened to ``(N, D)``).
        u: labels; if given, the principal axes of the pooled *within-class* covariance and the
            RMS over classes of the standard deviation along them (the same convention as GIN's
            spectrum); if ``None``, plain PCA of all images.

    Returns:
        ``(D,)`` float64, decreasing.

    References:
        Pearson (1901); Sorrenson et al. (2020), Fig. 3 (right).
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    x = as_float64(x.reshape(len(x), -1), "x", ndim=2)
    if u is None:
        cov = np.cov(x, rowvar=False)
    else:
        u = as_float64(u, "u", ndim=1).astype(int)
        if len(u) != len(x):
            raise ValueError(f"u has {len(u)} labels but x has {len(x)} samples")
        classes = [c for c in np.unique(u) if (u == c).sum() >= 2]
        cov = np.mean([np.cov(x[u == c], rowvar=False, bias=True) for c in classes], axis=0)
    eigenvalues = np.linalg.eigvalsh(np.atleast_2d(cov))[::-1]
    return np.sqrt(np.clip(eigenvalues, 0, None))


def knee_table(spectrum, settings: list[tuple[str, dict]] | None = None) -> list[dict]:
    """The knee found by several criteria and settings (how the count depends on the criterion).

    Arguments:
        spectrum: as in :func:`~gin_core.metrics.count_informative`.
        settings: ``(method, keyword arguments)`` pairs; default: ``two_lines`` over the first
            100, 200 and 400 variables, ``max_gap`` from variable 1 and from variable 5 (first 200),
            ``plateau`` with factors 1.5, 2 and 3.

    Returns:
        One dictionary per setting: ``{"method", "setting", "k"}``.
    """
    if settings is None:
        settings = [
            ("two_lines", {"max_k": 100}),
            ("two_lines", {"max_k": 200}),
            ("two_lines", {"max_k": 400}),
            ("max_gap", {"min_k": 1, "max_k": 200}),
            ("max_gap", {"min_k": 5, "max_k": 200}),
            ("plateau", {"factor": 1.5}),
            ("plateau", {"factor": 2.0}),
            ("plateau", {"factor": 3.0}),
        ]
    rows = []
    for method, kwargs in settings:
        setting = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        rows.append({"method": method, "setting": setting, "k": count_informative(spectrum, method, **kwargs)})
    return rows


@dataclass
class Atlas:
    """What the atlas needs about a trained network and its training codes.

    Attributes:
        model: the trained :class:`~gin_core.model.GIN`, its base fitted on the training codes (float64).
        spectrum: the spectrum of the training codes (``order[j]`` = latent index of variable j+1).
        k: number of informative variables (the knee).
        classes: names of the classes (row labels).
    """

    model: GIN
    spectrum: Spectrum
    k: int
    classes: tuple[str, ...] = tuple(str(c) for c in range(10))

    @property
    def net(self) -> nn.Module:
        """The trained flow (evaluation mode)."""
        return self.model.flow

    @property
    def prior(self) -> ClassConditionalGaussian:
        """The base distribution fitted on the training codes (float64)."""
        return self.model.base

    def latent_index(self, variable: int) -> int:
        """Latent coordinate of the 1-based variable number (spectrum rank)."""
        if not 1 <= variable <= len(self.spectrum.order):
            raise ValueError(f"variable numbers run from 1 to {len(self.spectrum.order)}, got {variable}")
        return int(self.spectrum.order[variable - 1])

    def decode(self, w: torch.Tensor) -> torch.Tensor:
        """Images of codes ``w`` (:meth:`GIN.decode`), float64 on the CPU."""
        return self.model.decode(w).double()


def make_atlas(
    net: nn.Module, w: torch.Tensor, u: torch.Tensor, k: int | None = None, method: str = DEFAULT_KNEE[0], **kwargs
) -> Atlas:
    """Build an :class:`Atlas` from training codes ``w`` (e.g. :meth:`GIN.encode` with the training noise).

    Arguments:
        net: the trained flow.
        w: training codes ``(N, d)``; u: their labels.
        k: the number of informative variables; default: :func:`~gin_core.metrics.count_informative`
            with ``method`` and ``kwargs``.
    """
    n_classes = int(u.max()) + 1
    model = GIN(net.eval(), n_classes)
    model.base.fit(w.double(), u)
    spectrum = latent_spectrum(w, u)
    k = count_informative(spectrum, method, **kwargs) if k is None else int(k)
    return Atlas(model, spectrum, k, tuple(str(c) for c in range(n_classes)))


def variable_sweep(
    atlas: Atlas, variable: int, steps: int = 9, span: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one variable swept over ``[-span, span]`` class standard deviations, all others at the class mean.

    Arguments:
        atlas: the :class:`Atlas`.
        variable: 1-based variable number (rank in the spectrum).
        steps: number of columns (odd, so that 0 is one of them).
        span: the sweep runs from ``-span`` to ``+span`` standard deviations.

    Returns:
        ``(images, heat, offsets)``: images ``(C, steps, H, W)``, the heatmaps
        ``|x(+1 sd) - x(-1 sd)|`` ``(C, H, W)``, and the offsets in standard deviations ``(steps,)``.
    """
    if steps < 3 or steps % 2 == 0:
        raise ValueError(f"steps must be odd and at least 3, got {steps}")
    j = atlas.latent_index(variable)
    means, stds = atlas.prior.means, atlas.prior.stds
    n_classes = means.shape[0]
    offsets = np.linspace(-span, span, steps)
    all_offsets = np.concatenate([offsets, [-1.0, 1.0]])
    w = means.repeat_interleave(len(all_offsets), 0).clone()
    w[:, j] += torch.as_tensor(np.tile(all_offsets, n_classes)) * stds[:, j].repeat_interleave(len(all_offsets))
    x = atlas.decode(w).numpy()
    x = x.reshape(n_classes, len(all_offsets), *x.shape[-2:])
    heat = np.abs(x[:, -1] - x[:, -2])
    return x[:, :steps], heat, offsets


def temperature_samples(
    atlas: Atlas, n_rows: int = 10, temperature: float = 1.0, seed: int = 0, n_sampled: int | None = None
) -> np.ndarray:
    """Samples with only the first ``n_sampled`` (default: the informative) variables drawn.

    Row ``r`` uses one whitened code :math:`\\xi_r \\sim N(0, I)`; the image in column ``c`` is
    the decoding of :math:`w = \\mu(c)` with the sampled variables set to
    :math:`\\mu_j(c) + T \\sigma_j(c) \\xi_{r,j}`: the same "style" written as every digit.

    Returns:
        ``(n_rows, C, H, W)``.

    References:
        Sorrenson et al. (2020), Fig. 9.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    n_sampled = atlas.k if n_sampled is None else int(n_sampled)
    idx = torch.as_tensor(atlas.spectrum.order[:n_sampled].copy())
    n_classes = atlas.prior.n_classes
    z = torch.randn(n_rows, n_sampled, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    eps = torch.zeros(n_rows, atlas.prior.n_dims, dtype=torch.float64)
    eps[:, idx] = z  # one style per row, shared by every class
    u = torch.arange(n_classes).repeat(n_rows)  # row-major: (row, class)
    w = atlas.prior.sample(u, temperature, noise=eps.repeat_interleave(n_classes, 0))
    x = atlas.decode(w).numpy()
    return x.reshape(n_rows, n_classes, *x.shape[-2:])


@torch.no_grad()
def effect_sizes(atlas: Atlas, variables: list[int] | None = None, per_class: bool = False) -> np.ndarray:
    """Mean absolute pixel change ``|x(+1 sd) - x(-1 sd)|`` per variable, averaged over pixels (and classes).

    A direct measure of "does this variable change the digit": the paper places its cut-off
    where this change ends abruptly (§4.4.2). Per class, it tells global variables (every
    digit changes) from local ones (only digits with a certain feature change).

    Arguments:
        atlas: the :class:`Atlas`.
        variables: 1-based variable numbers (default: all).
        per_class: return one value per class instead of the mean over classes.

    Returns:
        ``(V,)`` or ``(V, C)`` float64, in pixel intensity units (images in [0, 1]).
    """
    variables = list(range(1, len(atlas.spectrum.order) + 1)) if variables is None else list(variables)
    means, stds = atlas.prior.means, atlas.prior.stds
    n_classes = means.shape[0]
    out = np.empty((len(variables), n_classes))
    for i, variable in enumerate(variables):
        j = atlas.latent_index(variable)
        w = torch.cat([means, means]).clone()
        w[:n_classes, j] -= stds[:, j]
        w[n_classes:, j] += stds[:, j]
        x = atlas.decode(w)
        out[i] = (x[n_classes:] - x[:n_classes]).abs().flatten(1).mean(1).numpy()
    return out if per_class else out.mean(1)


def prepare_atlas(
    net: nn.Module,
    x: torch.Tensor,
    u: torch.Tensor,
    noise: float = 0.01,
    seed: int = 0,
    k: int | None = None,
    method: str = DEFAULT_KNEE[0],
    **kwargs,
) -> Atlas:
    """Encode training images (with the training noise) and build the :class:`Atlas`.

    Both the spectra and the atlas chapters call this with the same arguments, so they agree
    on the variable numbers and the cut-off.

    Arguments:
        net: the trained flow.
        x, u: training images and labels.
        noise, seed: the encoding noise (the training noise, 0.01) and its seed.
        k: fix the number of informative variables; default: the knee rule ``method``
            (default :data:`DEFAULT_KNEE`) with ``kwargs``.
    """
    w, _ = encode(net, x, batch_size=500, noise=noise, seed=seed)
    return make_atlas(net, w, u, k=k, method=method, **kwargs)


@torch.no_grad()
def decode_moved(atlas: Atlas, variable: int, digit: int, t: float) -> np.ndarray:
    """One image: the class mean of ``digit`` with one variable moved by ``t`` class standard deviations, decoded.

    This is what the atlas chapter's slider shows: :math:`g(\\mu(u) + t\\,\\sigma_i(u)\\,e_i)` for one class
    :math:`u` and one variable :math:`i`.

    Arguments:
        atlas: the :class:`Atlas`.
        variable: 1-based variable number (rank in the spectrum).
        digit: the class :math:`u`.
        t: the offset in class standard deviations.

    Returns:
        ``(H, W)`` float64 image.
    """
    if not 0 <= digit < atlas.prior.n_classes:
        raise ValueError(f"digit must lie in 0..{atlas.prior.n_classes - 1}, got {digit}")
    j = atlas.latent_index(variable)
    w = atlas.prior.means[digit : digit + 1].clone()
    w[0, j] += float(t) * atlas.prior.stds[digit, j]
    x = atlas.decode(w).numpy()
    return x.reshape(x.shape[-2:])


def slider_strip(atlas: Atlas, variable: int, digit: int, offsets) -> np.ndarray:
    """The slider's range as one row of images: :func:`decode_moved` at every offset, decoded in one batch.

    Arguments:
        atlas: the :class:`Atlas`.
        variable: 1-based variable number; digit: the class.
        offsets: the slider's positions, in class standard deviations.

    Returns:
        ``(len(offsets), H, W)`` float64 images, one per offset.
    """
    if not 0 <= digit < atlas.prior.n_classes:
        raise ValueError(f"digit must lie in 0..{atlas.prior.n_classes - 1}, got {digit}")
    offsets = torch.as_tensor(np.asarray(offsets, dtype=float), dtype=torch.float64)
    j = atlas.latent_index(variable)
    w = atlas.prior.means[digit].repeat(len(offsets), 1).clone()
    w[:, j] += offsets * atlas.prior.stds[digit, j]
    x = atlas.decode(w).numpy()
    return x.reshape(len(offsets), *x.shape[-2:])


# ---------------------------------------------------------------------------------------------
# Figures (they draw what the functions above computed)


def mosaic(images: np.ndarray, pad: int = 1, value: float = 1.0) -> np.ndarray:
    """Tile ``(rows, cols, H, W)`` images into one array with ``pad`` pixels of ``value`` between and around them.

    torchvision's ``make_grid`` does the tiling.

    Arguments:
        images: ``(rows, cols, H, W)``.
        pad: pixels between and around the tiles.
        value: the padding's value.

    Returns:
        ``(rows * (H + pad) + pad, cols * (W + pad) + pad)`` array.
    """
    from torchvision.utils import make_grid

    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"mosaic expects (rows, cols, H, W), got shape {images.shape}")
    rows, cols, h, w = images.shape
    flat = torch.from_numpy(images.reshape(rows * cols, 1, h, w))
    return make_grid(flat, nrow=cols, padding=pad, pad_value=value)[0].numpy()


def sweep_panels(atlas: Atlas, variables: list[int], steps: int = 9, span: float = 2.0) -> dict:
    """The decoded sweeps of several variables (:func:`variable_sweep`), what :func:`plot_sweeps` draws.

    Arguments:
        atlas: the :class:`Atlas`.
        variables: 1-based variable numbers.
        steps, span: as in :func:`variable_sweep`.

    Returns:
        ``{"variables", "sweeps", "classes", "k"}``: the variables, one ``(images, heat, offsets)``
        per variable, the class names and the atlas's cut-off.
    """
    if not variables:
        raise ValueError("no variables to plot")
    sweeps = [variable_sweep(atlas, v, steps, span) for v in variables]
    return {"variables": list(variables), "sweeps": sweeps, "classes": atlas.classes, "k": atlas.k}


def plot_sweeps(
    panels: dict, ncols: int = 2, title: str = "", labels: dict[int, str] | None = None, heat_max: float = 0.5
):
    """Figs. 4-5 / 10-15: one panel per variable, rows = classes, columns = -span..+span sd, plus the heatmap column.

    The heatmaps share one absolute colour scale, ``|x(+1 sd) - x(-1 sd)|`` from 0 to
    ``heat_max`` (pixel intensities in [0, 1]), so a variable that changes nothing stays black.

    Arguments:
        panels: :func:`sweep_panels` of the variables.
        ncols: panels per figure row.
        title: figure title (e.g. the data set and weights).
        labels: optional ``{variable: text}`` appended to the panel titles.
        heat_max: top of the heatmap colour scale.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    variables, sweeps = panels["variables"], panels["sweeps"]
    if not variables:
        raise ValueError("no variables to plot")
    steps = len(sweeps[0][2])
    labels = labels or {}
    nrows = -(-len(variables) // ncols)
    fig = plt.figure(figsize=(4.6 * ncols * (steps + 1.2) / 10, 4.6 * nrows + (0.4 if title else 0)))
    outer = fig.add_gridspec(nrows, ncols, wspace=0.12, hspace=0.28)
    for i, (variable, (images, heat, offsets)) in enumerate(zip(variables, sweeps)):
        inner = outer[divmod(i, ncols)].subgridspec(1, 2, width_ratios=[steps, 1], wspace=0.03)
        ax_img, ax_heat = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        ax_img.imshow(mosaic(np.clip(images, 0, 1)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax_heat.imshow(mosaic(heat[:, None], value=0.0), cmap="inferno", vmin=0, vmax=heat_max, interpolation="nearest")
        tile = images.shape[-1] + 1
        ax_img.set_xticks(
            np.arange(steps) * tile + tile / 2 - 1, [f"{o:+.1f}" if o else "0" for o in offsets], fontsize=6
        )
        ax_img.set_yticks(np.arange(images.shape[0]) * tile + tile / 2 - 1, panels["classes"], fontsize=6)
        ax_img.tick_params(length=0)
        ax_heat.set_xticks([tile / 2 - 1], ["|Δ|"], fontsize=6)
        ax_heat.set_yticks([])
        ax_heat.tick_params(length=0)
        extra = f": {labels[variable]}" if variable in labels else ""
        marker = "" if variable <= panels["k"] else " (after cut-off)"
        ax_img.set_title(f"variable {variable}{marker}{extra}", fontsize=8, loc="left")
    if title:
        fig.suptitle(textwrap.fill(title, 110), fontsize=9)
    return fig


def plot_samples(samples: np.ndarray, classes: tuple[str, ...] | None = None, title: str = "", ax=None):
    """Fig. 9: temperature samples, one latent code per row and one class per column.

    Arguments:
        samples: ``(rows, classes, H, W)`` images (:func:`temperature_samples`).
        classes: the class names (default: their numbers).
        title: the axes' title.
        ax: axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    samples = np.asarray(samples)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * samples.shape[1] + 0.4, 0.42 * samples.shape[0] + 0.6))
    ax.imshow(mosaic(np.clip(samples, 0, 1)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    tile = samples.shape[-1] + 1
    classes = classes or tuple(str(c) for c in range(samples.shape[1]))
    ax.set_xticks(np.arange(samples.shape[1]) * tile + tile / 2 - 1, classes, fontsize=7)
    ax.set_yticks([])
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=8)
    return ax.figure
