"""Every figure of the book: the artificial experiments (Figs. 2, 6-8), the theory chapter, the
digits' loss curves, spectra, atlas sweeps, effect sizes and samples (Figs. 3-5, 9-15).

Most functions draw on a Matplotlib ``Axes`` (created if not given) and return it, so chapters
compose figures and add their own captions. Scatter plots draw a random subsample
(``max_points``) so that figures stay light. Matplotlib is imported only when a plot is drawn.

References:
    Sorrenson et al. (2020), Figs. 2-15.
"""

from __future__ import annotations

import textwrap

import numpy as np
import torch

from .._checks import as_float64
from ..metrics import Spectrum, _abs_correlation, _array, align_to, latent_spectrum
from .atlas import Atlas, variable_sweep

__all__ = [
    "plot_latent",
    "plot_projection",
    "plot_recovered",
    "plot_spectrum",
    "plot_experiment",
    "plot_trajectory",
    "plot_correlations",
    "plot_marginal",
    "plot_loss_curve",
    "mosaic",
    "plot_spectrum_comparison",
    "plot_sweeps",
    "plot_effects",
    "plot_samples",
    "plot_generative_model",
    "plot_rotation_invariance",
    "plot_rank_of_L",
    "plot_unmixing",
    "plot_theory_spectra",
    "plot_sublabel_examples",
    "plot_pair_spectra",
    "plot_crossbar_examples",
    "plot_sampled_sevens",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def _labels(u, n: int) -> np.ndarray:
    u = _array(u, "u", ndim=1).astype(int)
    if len(u) != n:
        raise ValueError(f"u has {len(u)} labels but there are {n} points")
    return u


def _subsample(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def _scatter(ax, points: np.ndarray, u: np.ndarray, max_points: int | None, size: float = 2.0):
    import matplotlib.pyplot as plt

    keep = _subsample(len(points), max_points)
    cmap = plt.get_cmap("tab10")
    ax.scatter(points[keep, 0], points[keep, 1], c=cmap(u[keep] % 10), s=size, linewidths=0, rasterized=True)
    return ax


def plot_latent(z, u, ax=None, title: str = "true latent space", max_points: int | None = 5000):
    """The two informative true variables ``z[:, :2]``, coloured by cluster label."""
    z = _array(z, "z")
    if z.shape[1] < 2:
        raise ValueError(f"need at least two latent variables to plot, got {z.shape[1]}")
    ax = _axes(ax)
    _scatter(ax, z[:, :2], _labels(u, len(z)), max_points)
    ax.set(title=title, xlabel="$z_1$", ylabel="$z_2$")
    return ax


def plot_projection(x, u, ax=None, title: str = "observed data (2-d projection)", max_points: int | None = 5000):
    """The observed data projected onto its first two principal components, coloured by label."""
    x = _array(x, "x")
    if x.shape[1] < 2:
        raise ValueError(f"need at least two data dimensions, got {x.shape[1]}")
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred[_subsample(len(x), 20000)], full_matrices=False)
    ax = _axes(ax)
    _scatter(ax, centred @ vt[:2].T, _labels(u, len(x)), max_points)
    ax.set(title=title, xlabel="principal component 1 of $x$", ylabel="principal component 2 of $x$")
    return ax


def plot_recovered(
    z, w, u, columns=None, ax=None, title: str = "recovered latent space", max_points: int | None = 5000
):
    """The w matched to the two true variables, flipped and rescaled to match them (:func:`~gin_core.metrics.align_to`).

    Arguments:
        z: true latent, ``(N, >= 2)``; only its first two variables are used.
        w: estimated latent, ``(N, d)``.
        u: labels, ``(N,)``.
        columns: the two w columns to show (default: the MCC matching).
    """
    z = _array(z, "z")[:, :2]
    w = _array(w, "w")
    if columns is not None and len(columns) != 2:
        raise ValueError(f"columns must name two w variables, got {list(columns)}")
    aligned = align_to(z, w, columns)
    ax = _axes(ax)
    _scatter(ax, aligned, _labels(u, len(z)), max_points)
    ax.set(title=title, xlabel="matched $w$, rescaled to $z_1$", ylabel="matched $w$, rescaled to $z_2$")
    return ax


def plot_spectrum(spectrum, truth=None, ax=None, title: str = "spectrum", label: str = "GIN"):
    """Standard deviation of each latent variable, sorted, on a log scale.

    Black: the model's spectrum; gray: the ground truth's (the true latent's own spectrum).

    Arguments:
        spectrum: a :class:`~gin_core.metrics.Spectrum` or sorted standard deviations.
        truth: the same for the true latent, or ``None``.
        label: legend label of ``spectrum``.
    """
    std = spectrum.std if isinstance(spectrum, Spectrum) else _array(spectrum, "spectrum", ndim=1)
    if np.any(std <= 0):
        raise ValueError("standard deviations must be positive to be drawn on a log scale")
    ax = _axes(ax)
    index = np.arange(1, len(std) + 1)
    if truth is not None:
        t = truth.std if isinstance(truth, Spectrum) else _array(truth, "truth", ndim=1)
        ax.plot(np.arange(1, len(t) + 1), t, "o-", color="0.6", label="ground truth", zorder=1)
    ax.plot(index, std, "o-", color="black", label=label, zorder=2)
    ax.set_yscale("log")
    ax.set(title=title, xlabel="latent variable (sorted)", ylabel="standard deviation", xticks=index)
    ax.legend(frameon=False)
    return ax


def plot_experiment(data, evaluation, axes=None, max_points: int | None = 5000):
    """The four panels of Fig. 2/6: true latent, observed projection, recovered latent, spectrum.

    Arguments:
        data: an :class:`~gin_core.artificial.ArtificialData` (the training data).
        evaluation: a :class:`~gin_core.experiments.Evaluation` of a model trained on it.
        axes: four axes, or ``None`` to make a 1x4 figure.

    Returns:
        The four axes.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 4, figsize=(16, 4), constrained_layout=True)
    if len(axes) != 4:
        raise ValueError(f"plot_experiment needs four axes, got {len(axes)}")
    plot_latent(data.z, data.u, ax=axes[0], max_points=max_points)
    plot_projection(data.x, data.u, ax=axes[1], max_points=max_points)
    plot_recovered(data.z, evaluation.w, data.u, columns=evaluation.columns, ax=axes[2], max_points=max_points)
    plot_spectrum(evaluation.spectrum, latent_spectrum(data.z, data.u), ax=axes[3])
    return axes


def plot_trajectory(trajectories, key: str = "mcc", ax=None, labels=None, title: str | None = None):
    """A metric against the training epoch, one line per run.

    Arguments:
        trajectories: a list of trajectories, each a list of dicts with ``epoch`` and ``key``
            (``ArtificialRun.trajectory`` or the ``trajectory`` field of a sweep record).
        key: the metric to draw (``mcc``, ``val_nll``, ``gap``, ...).
        labels: one legend label per trajectory, or ``None``.
    """
    ax = _axes(ax)
    if labels is not None and len(labels) != len(trajectories):
        raise ValueError(f"{len(labels)} labels for {len(trajectories)} trajectories")
    for i, trajectory in enumerate(trajectories):
        if not trajectory:
            raise ValueError(f"trajectory {i} is empty")
        missing = [p for p in trajectory if key not in p or "epoch" not in p]
        if missing:
            raise KeyError(f"trajectory {i} lacks 'epoch' or {key!r}")
        ax.plot(
            [p["epoch"] for p in trajectory],
            [p[key] for p in trajectory],
            "-",
            label=None if labels is None else labels[i],
        )
    ax.set(xlabel="epoch", ylabel=key, title=title or f"{key} during training")
    if labels is not None:
        ax.legend(frameon=False, fontsize="small")
    return ax


def plot_correlations(
    z, w, order=None, ax=None, n_show: int | None = None, title: str = "|correlation| of true and estimated variables"
):
    """Heatmap of the absolute correlation between each true variable and each estimated one.

    A clean recovery has one dark cell per row, in distinct columns; a true variable that is
    split across several estimated ones shows up as a row with several grey cells.

    Arguments:
        z: true variables, ``(N, n)``.
        w: estimated variables, ``(N, d)``.
        order: column order of ``w`` (e.g. ``spectrum.order``, most important first).
        n_show: show only the first ``n_show`` columns (after ordering).

    Returns:
        The axes; the matrix shown is in ``ax.images[0].get_array()``.
    """
    import matplotlib.pyplot as plt

    z, w = _array(z, "z"), _array(w, "w")
    if len(z) != len(w):
        raise ValueError(f"z has {len(z)} samples but w has {len(w)}")
    order = np.arange(w.shape[1]) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(w.shape[1])):
        raise ValueError(f"order must be a permutation of the {w.shape[1]} columns of w")
    order = order[:n_show]
    corr = _abs_correlation(z, w[:, order])
    ax = _axes(ax)
    image = ax.imshow(corr, cmap="Greys", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(corr):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(order)), [f"$w_{{{k + 1}}}$" for k in range(len(order))])
    ax.set_yticks(range(z.shape[1]), [f"$z_{{{i + 1}}}$" for i in range(z.shape[1])])
    ax.set(title=title, xlabel="estimated variables, most important first")
    plt.colorbar(image, ax=ax, fraction=0.03)
    return ax


def plot_marginal(data, i: int = 0, ax=None, bins: int = 80, title: str | None = None):
    """Histogram of one true informative variable, stacked by cluster, with the mixture density.

    Shows where the clusters leave a gap (a deep valley in the marginal density): the
    regions where GIN has few points to tie the clusters' variables together.

    Arguments:
        data: an :class:`~gin_core.artificial.ArtificialData`.
        i: which informative variable (0-based).
    """
    import matplotlib.pyplot as plt

    n_inf = data.means.shape[1]
    if not 0 <= i < n_inf:
        raise ValueError(f"i must index one of the {n_inf} informative variables, got {i}")
    z = _array(data.z, "z")[:, i]
    u = _labels(data.u, len(z))
    ax = _axes(ax)
    cmap = plt.get_cmap("tab10")
    edges = np.linspace(z.min(), z.max(), bins + 1)
    groups = [z[u == c] for c in range(data.n_clusters)]
    ax.hist(groups, bins=edges, stacked=True, density=True, color=[cmap(c % 10) for c in range(data.n_clusters)])
    grid = np.linspace(z.min(), z.max(), 400)
    weights = np.array([len(g) for g in groups], dtype=float) / len(z)
    means, stds = _array(data.means, "means")[:, i], _array(data.stds, "stds")[:, i]
    density = (
        weights[:, None]
        * np.exp(-0.5 * ((grid - means[:, None]) / stds[:, None]) ** 2)
        / (stds[:, None] * np.sqrt(2 * np.pi))
    ).sum(0)
    ax.plot(grid, density, color="black", lw=1.5)
    ax.set(title=title or f"marginal of $z_{{{i + 1}}}$", xlabel=f"$z_{{{i + 1}}}$", ylabel="density")
    return ax


def mosaic(images: np.ndarray, pad: int = 1, value: float = 1.0) -> np.ndarray:
    """Tile ``(rows, cols, H, W)`` images into one array with ``pad`` pixels of ``value`` between and around them.

    torchvision's ``make_grid`` does the tiling.
    """
    from torchvision.utils import make_grid

    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"mosaic expects (rows, cols, H, W), got shape {images.shape}")
    rows, cols, h, w = images.shape
    flat = torch.from_numpy(images.reshape(rows * cols, 1, h, w))
    return make_grid(flat, nrow=cols, padding=pad, pad_value=value)[0].numpy()


def plot_spectrum_comparison(
    gin_std, pca_std=None, cuts: dict[str, int] | None = None, zoom: int = 60, title: str = "", axes=None
):
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
        steps, span: as in :func:`~gin_core.book.atlas.variable_sweep`.
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
        images, heat, offsets = variable_sweep(atlas, variable, steps, span)
        inner = outer[divmod(i, ncols)].subgridspec(1, 2, width_ratios=[steps, 1], wspace=0.03)
        ax_img, ax_heat = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
        ax_img.imshow(mosaic(np.clip(images, 0, 1)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax_heat.imshow(mosaic(heat[:, None], value=0.0), cmap="inferno", vmin=0, vmax=heat_max, interpolation="nearest")
        tile = images.shape[-1] + 1
        ax_img.set_xticks(
            np.arange(steps) * tile + tile / 2 - 1, [f"{o:+.1f}" if o else "0" for o in offsets], fontsize=6
        )
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
    ax1.set(
        xlabel="variable (sorted by standard deviation)",
        ylabel="mean |x(+1 sd) - x(-1 sd)|",
        title="effect on the image",
    )
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


def _figure(**kwargs):
    """A new pyplot figure with constrained layout (close it after displaying or gluing it)."""
    import matplotlib.pyplot as plt

    return plt.figure(layout="constrained", **kwargs)


def _class_colors(u):
    import matplotlib

    u = np.asarray(u).astype(int)
    return matplotlib.colormaps["tab10"](u % 10)


def plot_generative_model(z, x, u, n_informative: int = 2):
    """Two panels: the informative true latent variables, and two coordinates of the observed data.

    Arguments:
        z: ``(N, n)`` true latent samples.
        x: ``(N, d)`` observed data.
        u: ``(N,)`` condition labels.
        n_informative: number of informative variables (the first ones; only two are drawn).

    Returns:
        A matplotlib figure.
    """
    z, x = as_float64(z, "z", ndim=2), as_float64(x, "x", ndim=2)
    fig = _figure(figsize=(8, 3.6))
    axes = fig.subplots(1, 2)
    colors = _class_colors(u)
    axes[0].scatter(z[:, 0], z[:, 1], c=colors, s=3, alpha=0.6, linewidths=0)
    axes[0].set(xlabel="$z_1$", ylabel="$z_2$", title=f"true latent $z$ ({n_informative} of {z.shape[1]} informative)")
    axes[1].scatter(x[:, 0], x[:, 1], c=colors, s=3, alpha=0.6, linewidths=0)
    axes[1].set(xlabel="$x_1$", ylabel="$x_2$", title=f"observed $x = f(z)$ (2 of {x.shape[1]} coordinates)")
    return fig


def plot_rotation_invariance(w, w_rotated, z, z_rotated, u):
    """Four panels: an unconditional standard-normal latent and its rotation; a conditional one and its rotation.

    Arguments:
        w, w_rotated: ``(N, >=2)`` latent codes of two unconditional models (the first two variables are drawn).
        z, z_rotated: ``(N, >=2)`` a class-conditional latent and its rotation.
        u: ``(N,)`` the classes of ``z``.

    Returns:
        A matplotlib figure.
    """
    fig = _figure(figsize=(7.5, 6.6))
    axes = fig.subplots(2, 2).ravel()
    colors = _class_colors(u)
    panels = [
        (w, "unconditional: $w$", "gray"),
        (w_rotated, "unconditional: $R\\,w$", "gray"),
        (z, "conditional: $z$", colors),
        (z_rotated, "conditional: $R\\,z$", colors),
    ]
    for ax, (a, title, c) in zip(axes, panels):
        a = as_float64(a, "latent", ndim=2)
        ax.scatter(a[:, 0], a[:, 1], c=c, s=2, alpha=0.5, linewidths=0)
        ax.set(title=title, xlabel="variable 1", ylabel="variable 2", aspect="equal")
    return fig


def plot_rank_of_L(ranks: dict, n_conditions):
    """The rank of L against the number of conditions, one line per latent dimension n.

    Arguments:
        ranks: ``{(n, k): [rank for each entry of n_conditions]}``.
        n_conditions: the numbers of conditions on the x axis.

    Returns:
        A matplotlib figure.
    """
    fig = _figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for (n, k), values in ranks.items():
        (line,) = ax.plot(n_conditions, values, "o-", label=f"n = {n}, k = {k}")
        ax.axhline(n * k, color=line.get_color(), ls=":", lw=1)
        ax.axvline(n * k + 1, color=line.get_color(), ls="--", lw=1)
    ax.set(
        xlabel="number of distinct conditions",
        ylabel="rank of $L$",
        title="dotted: nk (full rank); dashed: nk + 1 conditions",
    )
    ax.legend()
    return fig


def plot_unmixing(panels: dict):
    """Heat maps of ``|A1|`` (true variables x estimated variables), one per case.

    Arguments:
        panels: ``{title: A1}`` with ``A1`` of shape ``(n, d)``.

    Returns:
        A matplotlib figure.
    """
    fig = _figure(figsize=(4.2 * len(panels), 2.6))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, A1) in zip(axes[0], panels.items()):
        A1 = np.abs(as_float64(A1, "A1", ndim=2))
        image = ax.imshow(A1, cmap="Greys", vmin=0, vmax=max(A1.max(), 1e-12), aspect="auto")
        ax.set(
            title=title,
            xlabel="estimated variable $w_j$",
            ylabel="true variable $z_i$",
            xticks=range(A1.shape[1]),
            yticks=range(A1.shape[0]),
        )
        ax.set_xticklabels([str(j + 1) for j in range(A1.shape[1])])
        ax.set_yticklabels([str(i + 1) for i in range(A1.shape[0])])
        fig.colorbar(image, ax=ax, label="$|A^{(1)}_{ij}|$")
    return fig


def plot_theory_spectra(spectra: dict):
    """Sorted standard deviations (log scale), one line per model.

    Arguments:
        spectra: ``{label: sorted stds}``.

    Returns:
        A matplotlib figure.
    """
    fig = _figure(figsize=(6, 3.6))
    ax = fig.subplots()
    styles = iter(
        [dict(marker="o", ms=10, mfc="none", lw=2.5, alpha=0.5), dict(marker="s", ms=5), dict(marker="^", ms=5)]
    )
    for label, std in spectra.items():
        std = as_float64(std, "std", ndim=1)
        ax.semilogy(np.arange(1, len(std) + 1), std, label=label, **next(styles, dict(marker="o")))
    ax.set(xlabel="latent variable (sorted)", ylabel="standard deviation")
    ax.legend()
    return fig


def plot_loss_curve(history: dict, ax=None, title: str = "", label: str = "training loss"):
    """Per-epoch training loss (nats/dim) with the learning rate on a second axis.

    Arguments:
        history: ``{"loss": [...], "lr": [...]}`` (a :class:`~gin_core.training.History` as dict, a
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


# ---------------------------------------------------------------------------------------------
# Figures of the chapter on the theory's predictions (theory_predictions)


def plot_knee_origin(spectra: dict, trajectories: dict, n_latent: int = 2):
    """Spectra before and after training, and the gap, top-spectrum MCC and detected dimension during training, per initialisation.

    Arguments:
        spectra: ``{init: (initial, final)}``, each a list of sorted standard deviations (one per run);
            ``final`` may be empty for a start that was not trained (only epoch 0 is drawn).
        trajectories: ``{init: [trajectory, ...]}``, each a list of dicts with ``epoch``, ``gap``,
            ``top_mcc`` and ``n_informative`` (epoch 0 included where measured); a trajectory of only two
            points (start and end) is drawn dotted.
        n_latent: true number of informative variables (a gray line in the dimension panel).

    Returns:
        A matplotlib figure: one spectrum panel per initialisation on top, three trajectory panels below.
    """
    import matplotlib.pyplot as plt

    if set(spectra) != set(trajectories) or not spectra:
        raise ValueError("spectra and trajectories need the same, non-empty set of initialisations")
    fig = _figure(figsize=(4 * max(len(spectra), 3), 7))
    top, bottom = fig.subfigures(2, 1)
    spectrum_axes = np.atleast_1d(top.subplots(1, len(spectra), sharey=True))
    colors = {init: f"C{i}" for i, init in enumerate(spectra)}
    for ax, (init, (initial, final)) in zip(spectrum_axes, spectra.items()):
        if final and len(initial) != len(final):
            raise ValueError(f"{init}: {len(initial)} initial but {len(final)} final spectra")
        shades = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(len(initial), 1)))  # one shade per run
        for i, s0 in enumerate(initial):
            s0 = as_float64(s0, "spectrum", ndim=1)
            index = np.arange(1, len(s0) + 1)
            ax.semilogy(index, s0, ":", color=shades[i], lw=1, label="epoch 0" if i == 0 else None)
            if final:
                s1 = as_float64(final[i], "spectrum", ndim=1)
                ax.semilogy(index, s1, "o-", color=shades[i], ms=3, lw=1.2, label="end" if i == 0 else None)
        ax.axvline(n_latent + 0.5, color="0.7", lw=0.8)
        title = f"init = {init}" if final else f"init = {init} (not trained)"
        ax.set(title=title, xlabel="latent variable (sorted)", xticks=index)
        ax.legend(frameon=False, fontsize=8)
    spectrum_axes[0].set_ylabel("standard deviation")
    axes = bottom.subplots(1, 3)
    for init, runs in trajectories.items():
        for j, trajectory in enumerate(runs):
            epochs = [p["epoch"] for p in trajectory]
            for ax, key in zip(axes, ("gap", "top_mcc", "n_informative")):
                values = [p[key] for p in trajectory]
                jitter = 0.06 * (list(spectra).index(init) - 1) if key == "n_informative" else 0
                ax.plot(
                    epochs,
                    np.asarray(values) + jitter,
                    "-" if len(trajectory) > 2 else ":",  # only start and end: no path in between
                    marker=".",
                    color=colors[init],
                    alpha=0.7,
                    label=init if j == 0 else None,
                )
    axes[0].set_yscale("log")
    axes[0].set(title=f"gap: std {n_latent} / std {n_latent + 1}", xlabel="epoch")
    axes[1].set(title="top-spectrum MCC", xlabel="epoch")
    axes[2].axhline(n_latent, color="0.7", lw=0.8)
    axes[2].set(title="detected dimension (book's knee rule)", xlabel="epoch")
    axes[0].legend(frameon=False, fontsize=8)
    return fig


def plot_mcc_strip(groups: dict, ax=None, threshold: float | None = 0.95, ylabel: str = "MCC", seed: int = 0):
    """A box plot with the individual runs drawn on top (jittered), one column per group.

    Arguments:
        groups: ``{label: values}``.
        ax: axes (created if ``None``).
        threshold: a gray horizontal line (``None``: none).
        ylabel: the y-axis label.
        seed: seed of the horizontal jitter.

    Returns:
        The axes.
    """
    if not groups:
        raise ValueError("no groups to draw")
    ax = _axes(ax)
    values = [as_float64(v, "values", ndim=1) for v in groups.values()]
    ax.boxplot(values, widths=0.5, showfliers=False)
    rng = np.random.default_rng(seed)
    for i, v in enumerate(values, start=1):
        ax.plot(i + rng.uniform(-0.12, 0.12, len(v)), v, "o", color=f"C{i - 1}", ms=5, alpha=0.8)
    if threshold is not None:
        ax.axhline(threshold, color="0.7", lw=0.8, ls="--")
    ax.set_xticks(np.arange(1, len(values) + 1), list(groups), fontsize=8)
    ax.set_ylabel(ylabel)
    return ax


def plot_symmetry_scan(scans: dict):
    """Loss change and MCC against the rotation angle of ``M = D R D^-1``, one line style per data set.

    Arguments:
        scans: ``{label: scan}`` with ``scan`` from :func:`gin_core.book.predictions.symmetry_scan`.

    Returns:
        A matplotlib figure with two panels.
    """
    fig = _figure(figsize=(10, 3.6))
    ax_loss, ax_mcc = fig.subplots(1, 2)
    for i, (label, scan) in enumerate(scans.items()):
        angle = np.asarray(scan["angle"])
        ax_loss.plot(angle, scan["model_change"], "o-", color=f"C{i}", ms=4, label=f"{label}: model loss")
        ax_loss.plot(angle, scan["batch_change"], "x--", color=f"C{i}", ms=5, label=f"{label}: batch-statistics loss")
        ax_mcc.plot(angle, scan["mcc"], "o-", color=f"C{i}", ms=4, label=label)
    ax_loss.axhline(0, color="0.7", lw=0.8)
    ax_loss.set(xlabel="rotation angle of R (degrees)", ylabel="loss change (nats per variable)")
    ax_loss.legend(frameon=False, fontsize=7)
    ax_mcc.set(xlabel="rotation angle of R (degrees)", ylabel="MCC of w = Mz with z")
    ax_mcc.legend(frameon=False, fontsize=8)
    for ax in (ax_loss, ax_mcc):
        ax.set_xticks(np.arange(0, angle.max() + 1, 45))
    return fig


def plot_conditions(records: list[dict], conditions: dict, initial: list[dict] | None = None):
    """Top-spectrum MCC and detected dimension against the number of conditions K, one colour per n.

    Each run is a dot; the line joins the medians. The dashed vertical line of each colour marks
    K = 2n + 1, the number of conditions Theorem 1 asks for.

    Arguments:
        records: runs of the conditions sweep (fields ``n_latent``, ``n_clusters``, ``top_mcc``,
            ``n_informative``).
        conditions: ``{n: (K, ...)}``, the settings to draw.
        initial: the same fields for the untrained networks (epoch 0), drawn as dotted median lines
            with open markers; ``None`` for none.

    Returns:
        A matplotlib figure with two panels.
    """
    from matplotlib.ticker import MaxNLocator

    fig = _figure(figsize=(10, 3.8))
    ax_mcc, ax_dim = fig.subplots(1, 2)
    rng = np.random.default_rng(0)
    for i, (n, ks) in enumerate(conditions.items()):
        color = f"C{i}"
        for ax, key in ((ax_mcc, "top_mcc"), (ax_dim, "n_informative")):
            medians = []
            for k in ks:
                values = np.array([r[key] for r in records if r["n_latent"] == n and r["n_clusters"] == k], float)
                if len(values) == 0:
                    raise ValueError(f"no records for n={n}, K={k}")
                ax.plot(k + rng.uniform(-0.15, 0.15, len(values)), values, "o", color=color, ms=4, alpha=0.6)
                medians.append(np.median(values))
            ax.plot(ks, medians, "-", color=color, lw=1.5, label=f"n = {n}, trained (median)")
            if initial is not None:
                start = [
                    np.median([r[key] for r in initial if r["n_latent"] == n and r["n_clusters"] == k]) for k in ks
                ]
                ax.plot(ks, start, ":", marker="o", mfc="none", color=color, lw=1.2, label=f"n = {n}, epoch 0 (median)")
            ax.axvline(2 * n + 1, color=color, ls="--", lw=1)
        ax_dim.axhline(n, color=color, lw=0.8, alpha=0.5)
    ax_mcc.axhline(0.95, color="0.7", lw=0.8)
    ax_mcc.set(xlabel="number of conditions K", ylabel="top-spectrum MCC")
    ax_dim.set(xlabel="number of conditions K", ylabel="detected dimension (book's knee rule)")
    ax_dim.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_mcc.legend(frameon=False, fontsize=8)
    return fig


def plot_sublabel_examples(x, sub, per_class: int, classes=(7, 4), n: int = 10, title: str = ""):
    """A few training images of each sub-label of the given classes: one row per sub-label.

    Arguments:
        x: images ``(N, 1, H, W)`` or ``(N, H, W)``.
        sub: their sub-labels ``(N,)`` (``class * per_class + rank``).
        per_class: sub-labels per class.
        classes: the classes shown, one panel each.
        n: images per sub-label (the first ``n`` in data order).
        title: figure title (the data set).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    x = x.reshape(len(x), *x.shape[-2:])
    sub = np.asarray(sub.cpu() if hasattr(sub, "cpu") else sub)
    fig, axes = plt.subplots(1, len(classes), figsize=(4.6 * len(classes), 2.2))
    for ax, c in zip(np.atleast_1d(axes), classes):
        rows = []
        for r in range(per_class):
            members = x[sub == c * per_class + r][:n]
            if len(members) < n:
                members = np.concatenate([members, np.zeros((n - len(members), *x.shape[1:]))])
            rows.append(members)
        ax.imshow(mosaic(np.stack(rows)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_yticks([(r + 0.5) * (x.shape[1] + 1) for r in range(per_class)])
        ax.set_yticklabels([f"{c}.{r}" for r in range(per_class)], fontsize=8)
        ax.set_xticks([])
        ax.set_title(f"class {c}: its {per_class} sub-labels", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_pair_spectra(result: dict, zoom: int = 60, title: str = ""):
    """The spectra of the 10-label and the sub-label model on one figure, with their counts.

    Arguments:
        result: :func:`gin_core.book.conditions.measure_pair`'s dictionary.
        zoom: variables in the right panel.
        title: figure title (the data set).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    lines = [
        ("10-label model", result["labels"]["std"], result["labels"]["k"], "C0", "-"),
        ("sub-label model (its 40 conditions)", result["sublabels"]["std"], result["sublabels"]["k"], "C3", "-"),
        (
            "sub-label model, measured by class",
            result["sublabels"]["std_by_class"],
            result["sublabels"]["k_by_class"],
            "C3",
            ":",
        ),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, std, k, color, style in lines:
        std = np.asarray(std)
        index = np.arange(1, len(std) + 1)
        axes[0].semilogy(index, std, style, color=color, lw=1.2, label=f"{label}: k = {k}")
        z = min(zoom, len(std))
        axes[1].semilogy(index[:z], std[:z], style, marker="o", ms=2.5, color=color, lw=0.8)
        axes[1].axvline(k + 0.5, color=color, ls=style, lw=0.8)
    axes[0].set(xlabel="variable (sorted)", ylabel="standard deviation", title="whole spectrum")
    axes[1].set(xlabel="variable (sorted)", title=f"first {zoom} variables; lines after the counts")
    axes[0].legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_crossbar_examples(images, hits, n: int = 40, title: str = ""):
    """Sevens the crossbar detector calls crossed (left) and not crossed (right), ``n`` of each.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float64)
    images = images.reshape(len(images), *images.shape[-2:])
    hits = np.asarray(hits, dtype=bool)
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.9))
    for ax, chosen, name in ((axes[0], hits, "crossed"), (axes[1], ~hits, "not crossed")):
        group = images[chosen][:n]
        cols = 10
        rows = max(1, int(np.ceil(len(group) / cols)))
        padded = np.zeros((rows * cols, *images.shape[1:]))
        padded[: len(group)] = group
        ax.imshow(mosaic(padded.reshape(rows, cols, *images.shape[1:])), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"detector: {name} (first {len(group)})", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_sampled_sevens(samples: dict, n: int = 60, title: str = ""):
    """Sampled sevens of each model, those the crossbar detector calls crossed framed in red.

    Arguments:
        samples: ``{panel title: images (N, 1, H, W)}``.
        n: images shown per model (the first ``n``).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from .conditions import crossbar

    fig, axes = plt.subplots(1, len(samples), figsize=(5.2 * len(samples), 3.4))
    for ax, (name, images) in zip(np.atleast_1d(axes), samples.items()):
        images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float64)
        images = np.clip(images.reshape(len(images), *images.shape[-2:])[:n], 0, 1)
        hits = crossbar(images)
        cols = 10
        rows = int(np.ceil(len(images) / cols))
        padded = np.zeros((rows * cols, *images.shape[1:]))
        padded[: len(images)] = images
        h, w = images.shape[1:]
        ax.imshow(mosaic(padded.reshape(rows, cols, h, w)), cmap="gray_r", vmin=0, vmax=1)
        for i in np.flatnonzero(hits):
            r, c = divmod(i, cols)
            ax.add_patch(Rectangle((c * (w + 1) - 0.5, r * (h + 1) - 0.5), w, h, fill=False, ec="red", lw=1.2))
        ax.set_title(f"{name}: {int(hits.sum())} of {len(images)} shown called crossed", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
