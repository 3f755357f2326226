r"""The atlas of discovered variables (Figs. 3-5 and 9-15): spectra, knees, sweeps and samples.

A trained GIN maps each image to a code :math:`w` whose variables are, per class :math:`u`,
independent Gaussians with means :math:`\mu(u)` and standard deviations :math:`\sigma(u)`
(estimated on the training set, :func:`gin_core.evaluate.class_statistics`). This module

* computes the **spectrum** (sorted per-variable standard deviations, RMS over classes, as
  :func:`gin_core.metrics.latent_spectrum`) and the **PCA spectrum** of the same images
  (:func:`pca_spectrum`), and reads the number of informative variables off the spectrum's
  **knee** with several stated criteria (:func:`knee`, :func:`knee_table`);
* **sweeps** one variable from -2 to +2 class standard deviations with all others at the class
  mean and decodes the codes (:func:`sweep`), with the heatmap :math:`|x(+1\sigma) - x(-1\sigma)|`;
* draws **temperature samples** where only the informative variables are sampled
  (:func:`temperature_samples`);
* and plots all of these (:func:`plot_spectra`, :func:`plot_sweeps`, :func:`plot_samples`).

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

from .evaluate import ClassStatistics
from .metrics import Spectrum, _array, count_informative, latent_spectrum

__all__ = [
    "KNEE_METHODS",
    "DEFAULT_KNEE",
    "prepare_atlas",
    "pca_spectrum",
    "knee",
    "knee_table",
    "knee_prominence",
    "Atlas",
    "make_atlas",
    "sweep",
    "temperature_samples",
    "plot_spectra",
    "plot_sweeps",
    "effect_sizes",
    "plot_effects",
    "plot_samples",
    "mosaic",
]

KNEE_METHODS = ("two_lines", "max_gap", "plateau")
# The criterion the chapters state and use: the variables whose standard deviation exceeds
# twice the median of the spectrum (the median lies in the floor of squeezed noise variables).
DEFAULT_KNEE = ("plateau", {"factor": 2.0})


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
    x = _array(x.reshape(len(x), -1), "x")
    if u is None:
        cov = np.cov(x, rowvar=False)
    else:
        u = _array(u, "u", ndim=1).astype(int)
        if len(u) != len(x):
            raise ValueError(f"u has {len(u)} labels but x has {len(x)} samples")
        classes = [c for c in np.unique(u) if (u == c).sum() >= 2]
        cov = np.mean([np.cov(x[u == c], rowvar=False, bias=True) for c in classes], axis=0)
    eigenvalues = np.linalg.eigvalsh(np.atleast_2d(cov))[::-1]
    return np.sqrt(np.clip(eigenvalues, 0, None))


def _std(spectrum) -> np.ndarray:
    std = spectrum.std if isinstance(spectrum, Spectrum) else _array(spectrum, "spectrum", ndim=1)
    if len(std) < 4:
        raise ValueError(f"a spectrum needs at least four variables to have a knee, got {len(std)}")
    if np.any(std <= 0):
        raise ValueError("standard deviations must be positive (add the training noise before PCA of images with constant pixels)")
    if np.any(np.diff(std) > 0):
        raise ValueError("the spectrum must be sorted in decreasing order")
    return std


def _two_lines(log_std: np.ndarray) -> int:
    """Best split of a two-segment least-squares line fit of log std against the index (L-method)."""
    n = len(log_std)
    k_index = np.arange(1, n + 1, dtype=np.float64)
    best, best_k = np.inf, 2
    for k in range(2, n - 1):  # each segment has at least two points
        error = 0.0
        for idx, y in ((k_index[:k], log_std[:k]), (k_index[k:], log_std[k:])):
            coef = np.polyfit(idx, y, 1)
            error += float(((np.polyval(coef, idx) - y) ** 2).sum())
        if error < best:
            best, best_k = error, k
    return best_k


def knee(spectrum, method: str = "plateau", max_k: int = 200, min_k: int = 5, factor: float = 2.0) -> int:
    r"""Number of informative variables read off a spectrum's knee, by a stated rule.

    The defaults are the criterion the book states (:data:`DEFAULT_KNEE`): the variables with a
    standard deviation above twice the spectrum's median. Methods (all on :math:`\log\sigma_k`, the
    spectrum sorted in decreasing order):

    * ``"two_lines"`` (the L-method of Salvador & Chan, 2004): fit one straight line to
      :math:`\log\sigma_1..\log\sigma_k` and another to :math:`\log\sigma_{k+1}..\log\sigma_K`
      (:math:`K` = ``max_k``) by least squares; the knee is the :math:`k` with the smallest
      total squared error. It looks for the change of slope between a steep head and a flat
      tail, so one large gap at the very top does not fool it.
    * ``"max_gap"``: the largest drop between neighbours,
      :math:`\arg\max_{\mathrm{min\_k} \le k \le K} \log(\sigma_k / \sigma_{k+1})`
      (:func:`gin_core.metrics.count_informative`).
    * ``"plateau"``: the number of variables whose standard deviation exceeds ``factor`` times
      the median of the whole spectrum (the median lies in the noise plateau when most
      variables are noise).

    Arguments:
        spectrum: a :class:`~gin_core.metrics.Spectrum` or sorted standard deviations.
        method: one of :data:`KNEE_METHODS`.
        max_k: only the first ``max_k`` variables are considered (``two_lines``, ``max_gap``).
        min_k: smallest cut considered by ``max_gap`` (1 considers every cut).
        factor: threshold factor of ``plateau``.

    Returns:
        The number k of informative variables.
    """
    std = _std(spectrum)
    max_k = min(int(max_k), len(std))
    if max_k < 4:
        raise ValueError(f"max_k must be at least 4, got {max_k}")
    if method == "two_lines":
        return _two_lines(np.log(std[:max_k]))
    if method == "max_gap":
        if not 1 <= min_k < max_k:
            raise ValueError(f"need 1 <= min_k < max_k, got min_k={min_k}, max_k={max_k}")
        gaps = np.log(std[: max_k - 1]) - np.log(std[1:max_k])
        return int(np.argmax(gaps[min_k - 1 :])) + min_k
    if method == "plateau":
        if factor <= 1:
            raise ValueError(f"factor must exceed 1, got {factor}")
        return count_informative(std, method="threshold", threshold=factor * float(np.median(std)))
    raise ValueError(f"unknown knee method {method!r}; expected one of {KNEE_METHODS}")


def knee_table(spectrum, settings: list[tuple[str, dict]] | None = None) -> list[dict]:
    """The knee found by several criteria and settings (how the count depends on the criterion).

    Arguments:
        spectrum: as in :func:`knee`.
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
            ("max_gap", {"max_k": 200, "min_k": 1}),
            ("max_gap", {"max_k": 200, "min_k": 5}),
            ("plateau", {"factor": 1.5}),
            ("plateau", {"factor": 2.0}),
            ("plateau", {"factor": 3.0}),
        ]
    rows = []
    for method, kwargs in settings:
        setting = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        rows.append({"method": method, "setting": setting, "k": knee(spectrum, method, **kwargs)})
    return rows


def knee_prominence(spectrum, k: int, min_k: int = 5, max_k: int = 200) -> float:
    r"""How much the drop after variable ``k`` stands out: :math:`\log(\sigma_k/\sigma_{k+1})` divided
    by the median drop :math:`\log(\sigma_j/\sigma_{j+1})` over ``min_k <= j < max_k``.

    Exactly 1 on a geometric (straight on a log scale) spectrum; a spectrum with a real knee has
    one drop many times larger than the typical one.
    """
    std = _std(spectrum)
    max_k = min(int(max_k), len(std))
    if not 1 <= min_k <= k < max_k:
        raise ValueError(f"need 1 <= min_k <= k < max_k, got min_k={min_k}, k={k}, max_k={max_k}")
    gaps = np.log(std[:-1]) - np.log(std[1:])
    typical = float(np.median(gaps[min_k - 1 : max_k - 1]))
    return float(gaps[k - 1] / max(typical, 1e-300))


@dataclass
class Atlas:
    """What the atlas needs about a trained network and its training codes.

    Attributes:
        net: the trained flow (evaluation mode).
        stats: per-class means and variances of the training codes.
        spectrum: the spectrum of the training codes (``order[j]`` = latent index of variable j+1).
        k: number of informative variables (the knee).
        classes: names of the classes (row labels).
    """

    net: nn.Module
    stats: ClassStatistics
    spectrum: Spectrum
    k: int
    classes: tuple[str, ...] = tuple(str(c) for c in range(10))

    def latent_index(self, variable: int) -> int:
        """Latent coordinate of the 1-based variable number (spectrum rank)."""
        if not 1 <= variable <= len(self.spectrum.order):
            raise ValueError(f"variable numbers run from 1 to {len(self.spectrum.order)}, got {variable}")
        return int(self.spectrum.order[variable - 1])


def make_atlas(net: nn.Module, w: torch.Tensor, u: torch.Tensor, k: int | None = None, method: str = DEFAULT_KNEE[0], **kwargs) -> Atlas:
    """Build an :class:`Atlas` from training codes ``w`` (e.g. :func:`gin_core.evaluate.encode_noisy`).

    Arguments:
        net: the trained flow.
        w: training codes ``(N, d)``; u: their labels.
        k: the number of informative variables; default: :func:`knee` with ``method`` and ``kwargs``.
    """
    from .evaluate import class_statistics

    n_classes = int(u.max()) + 1
    stats = class_statistics(w, u, n_classes)
    spectrum = latent_spectrum(w, u)
    k = knee(spectrum, method, **kwargs) if k is None else int(k)
    return Atlas(net.eval(), stats, spectrum, k, tuple(str(c) for c in range(n_classes)))


@torch.no_grad()
def _decode(net: nn.Module, w: torch.Tensor) -> torch.Tensor:
    param = next(net.parameters())
    return net.inverse(w.to(param.device, param.dtype)).detach().cpu().double()


def sweep(atlas: Atlas, variable: int, steps: int = 9, span: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    means, stds = atlas.stats.means, atlas.stats.stds
    n_classes = means.shape[0]
    offsets = np.linspace(-span, span, steps)
    all_offsets = np.concatenate([offsets, [-1.0, 1.0]])
    w = means.repeat_interleave(len(all_offsets), 0).clone()
    w[:, j] += torch.as_tensor(np.tile(all_offsets, n_classes)) * stds[:, j].repeat_interleave(len(all_offsets))
    x = _decode(atlas.net, w).numpy()
    x = x.reshape(n_classes, len(all_offsets), *x.shape[-2:])
    heat = np.abs(x[:, -1] - x[:, -2])
    return x[:, :steps], heat, offsets


def temperature_samples(
    atlas: Atlas, n_rows: int = 10, temperature: float = 1.0, seed: int = 0, n_sampled: int | None = None
) -> np.ndarray:
    """Samples with only the first ``n_sampled`` (default: the informative) variables drawn.

    Row ``r`` uses one whitened code :math:`z_r \\sim N(0, I)`; the image in column ``c`` is
    the decoding of :math:`w = \\mu(c)` with the sampled variables set to
    :math:`\\mu_j(c) + T \\sigma_j(c) z_{r,j}`: the same "style" written as every digit.

    Returns:
        ``(n_rows, C, H, W)``.

    References:
        Sorrenson et al. (2020), Fig. 9.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    n_sampled = atlas.k if n_sampled is None else int(n_sampled)
    idx = torch.as_tensor(atlas.spectrum.order[:n_sampled].copy())
    means, stds = atlas.stats.means, atlas.stats.stds
    n_classes = means.shape[0]
    z = torch.randn(n_rows, n_sampled, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    w = means.repeat(n_rows, 1).clone()  # row-major: (row, class)
    w[:, idx] += temperature * z.repeat_interleave(n_classes, 0) * stds[:, idx].repeat(n_rows, 1)
    x = _decode(atlas.net, w).numpy()
    return x.reshape(n_rows, n_classes, *x.shape[-2:])


def mosaic(images: np.ndarray, pad: int = 1, value: float = 1.0) -> np.ndarray:
    """Tile ``(rows, cols, H, W)`` images into one array with ``pad`` pixels of ``value`` between them."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"mosaic expects (rows, cols, H, W), got shape {images.shape}")
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), value, dtype=np.float64)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[r, c]
    return out


def plot_spectra(gin_std, pca_std=None, cuts: dict[str, int] | None = None, zoom: int = 60, title: str = "", axes=None):
    """GIN's spectrum (log scale) with cut-offs, its zoom on the first ``zoom`` variables, and PCA's.

    Arguments:
        gin_std: GIN's sorted standard deviations.
        pca_std: PCA's (optional third panel).
        cuts: ``{label: k}`` cut-offs drawn as vertical lines after variable k.
        zoom: number of variables in the zoom panel.
        title: figure title (e.g. the data set).
        axes: optional sequence of Matplotlib axes.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    gin_std = np.asarray(gin_std)
    n_panels = 3 if pca_std is not None else 2
    if axes is None:
        fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 3.4))
    fig = axes[0].figure
    cuts = cuts or {}
    styles = ["--", ":", "-.", (0, (1, 3)), (0, (5, 2, 1, 2))]
    index = np.arange(1, len(gin_std) + 1)
    axes[0].semilogy(index, gin_std, ".", ms=2.5, color="C0")
    axes[0].set(title="GIN spectrum", xlabel="variable (sorted)", ylabel="standard deviation")
    z = min(zoom, len(gin_std))
    axes[1].semilogy(index[:z], gin_std[:z], "o-", ms=3, lw=0.8, color="C0")
    axes[1].set(title=f"GIN: first {z} variables", xlabel="variable (sorted)")
    for i, (label, k) in enumerate(cuts.items()):
        for ax in axes[:2]:
            ax.axvline(k + 0.5, color=f"C{i + 1}", ls=styles[i % len(styles)], lw=1.2, label=f"{label}: {k}")
    if cuts:
        axes[1].legend(fontsize=7, loc="upper right")
    if pca_std is not None:
        pca_std = np.asarray(pca_std)
        axes[2].semilogy(np.arange(1, len(pca_std) + 1), pca_std, ".", ms=2.5, color="C3")
        axes[2].set(title="PCA spectrum of the same images", xlabel="principal component (sorted)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_sweeps(
    atlas: Atlas,
    variables: list[int],
    steps: int = 9,
    span: float = 2.0,
    ncols: int = 2,
    title: str = "",
    labels: dict[int, str] | None = None,
    heat_max: float = 0.5,
):
    """Figs. 4-5 / 10-15: one panel per variable, rows = classes, columns = -span..+span sd, plus the heatmap column.

    The heatmaps share one absolute colour scale, ``|x(+1 sd) - x(-1 sd)|`` from 0 to
    ``heat_max`` (pixel intensities in [0, 1]), so a variable that changes nothing stays black.

    Arguments:
        atlas: the :class:`Atlas`.
        variables: 1-based variable numbers.
        steps, span: as in :func:`sweep`.
        ncols: panels per figure row.
        title: figure title (e.g. the data set and weights).
        labels: optional ``{variable: text}`` appended to the panel titles.
        heat_max: top of the heatmap colour scale.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if not variables:
        raise ValueError("no variables to plot")
    labels = labels or {}
    nrows = -(-len(variables) // ncols)
    fig = plt.figure(figsize=(4.6 * ncols * (steps + 1.2) / 10, 4.6 * nrows + (0.4 if title else 0)))
    outer = fig.add_gridspec(nrows, ncols, wspace=0.12, hspace=0.28)
    for i, variable in enumerate(variables):
        images, heat, offsets = sweep(atlas, variable, steps, span)
        inner = outer[divmod(i, ncols)].subgridspec(1, 2, width_ratios=[steps, 1], wspace=0.03)
        ax_img, ax_heat = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        ax_img.imshow(mosaic(np.clip(images, 0, 1)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax_heat.imshow(mosaic(heat[:, None], value=0.0), cmap="inferno", vmin=0, vmax=heat_max, interpolation="nearest")
        tile = images.shape[-1] + 1
        ax_img.set_xticks(np.arange(steps) * tile + tile / 2 - 1, [f"{o:+.1f}" if o else "0" for o in offsets], fontsize=6)
        ax_img.set_yticks(np.arange(images.shape[0]) * tile + tile / 2 - 1, atlas.classes, fontsize=6)
        ax_img.tick_params(length=0)
        ax_heat.set_xticks([tile / 2 - 1], ["|Δ|"], fontsize=6)
        ax_heat.set_yticks([])
        ax_heat.tick_params(length=0)
        extra = f": {labels[variable]}" if variable in labels else ""
        marker = "" if variable <= atlas.k else " (after cut-off)"
        ax_img.set_title(f"variable {variable}{marker}{extra}", fontsize=8, loc="left")
    if title:
        fig.suptitle(textwrap.fill(title, 110), fontsize=9)
    return fig


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
    means, stds = atlas.stats.means, atlas.stats.stds
    n_classes = means.shape[0]
    out = np.empty((len(variables), n_classes))
    for i, variable in enumerate(variables):
        j = atlas.latent_index(variable)
        w = torch.cat([means, means]).clone()
        w[:n_classes, j] -= stds[:, j]
        w[n_classes:, j] += stds[:, j]
        x = _decode(atlas.net, w)
        out[i] = (x[n_classes:] - x[:n_classes]).abs().flatten(1).mean(1).numpy()
    return out if per_class else out.mean(1)


def prepare_atlas(
    net: nn.Module, x: torch.Tensor, u: torch.Tensor, noise: float = 0.01, seed: int = 0, k: int | None = None,
    method: str = DEFAULT_KNEE[0], **kwargs,
) -> Atlas:
    """Encode training images (with the training noise) and build the :class:`Atlas`.

    Both the spectra and the atlas chapters call this with the same arguments, so they agree
    on the variable numbers and the cut-off.

    Arguments:
        net: the trained flow.
        x, u: training images and labels.
        noise, seed: the encoding noise (the training noise, 0.01) and its seed.
        k: fix the number of informative variables; default: :func:`knee` with ``method``
            (default :data:`DEFAULT_KNEE`) and ``kwargs``.
    """
    from .evaluate import encode_noisy

    w, _ = encode_noisy(net, x, noise=noise, seed=seed)
    return make_atlas(net, w, u, k=k, method=method, **kwargs)


def plot_effects(effects: np.ndarray, k: int, classes: tuple[str, ...] | None = None, title: str = ""):
    """How much each variable changes the digits: mean effect per variable, and per class.

    Arguments:
        effects: :func:`effect_sizes` with ``per_class=True``, ``(V, C)`` for variables 1..V.
        k: the cut-off (drawn after variable k).
        classes: class names.
        title: figure title.

    Returns:
        The Matplotlib figure: left, the mean effect against the variable number (log scale);
        right, the per-class effects as a heatmap (variables down, classes across).
    """
    import matplotlib.pyplot as plt

    effects = np.asarray(effects)
    if effects.ndim != 2:
        raise ValueError(f"effects must be (variables, classes), got shape {effects.shape}")
    n_vars, n_classes = effects.shape
    classes = classes or tuple(str(c) for c in range(n_classes))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.2 + 0.05 * n_vars), gridspec_kw={"width_ratios": [1.6, 1]})
    index = np.arange(1, n_vars + 1)
    ax1.semilogy(index, effects.mean(1), "o-", ms=3, lw=0.8)
    ax1.axvline(k + 0.5, color="C1", ls="--", label=f"cut-off: {k}")
    ax1.set(xlabel="variable (sorted by standard deviation)", ylabel="mean |x(+1 sd) - x(-1 sd)|", title="effect on the image")
    ax1.legend(fontsize=7)
    image = ax2.imshow(effects, aspect="auto", cmap="viridis", extent=(-0.5, n_classes - 0.5, n_vars + 0.5, 0.5))
    ax2.axhline(k + 0.5, color="w", ls="--", lw=1)
    ax2.set_xticks(range(n_classes), classes)
    ax2.set(xlabel="class", ylabel="variable", title="effect per class")
    fig.colorbar(image, ax=ax2, fraction=0.05)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_samples(samples: np.ndarray, classes: tuple[str, ...] | None = None, title: str = "", ax=None):
    """Fig. 9: temperature samples, one latent code per row and one class per column."""
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
