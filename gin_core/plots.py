"""Plots of the artificial-data chapters, in the layout of Figs. 2 and 6-8 of the paper.

Every function draws on a Matplotlib ``Axes`` (created if not given) and returns it, so
chapters compose figures and add their own captions. Scatter plots draw a random subsample
(``max_points``) so that figures stay light.

References:
    Sorrenson et al. (2020), Fig. 2 and Appendix E (Figs. 6-8).
"""

from __future__ import annotations

import numpy as np

from .metrics import Spectrum, _abs_correlation, _array, align_to, latent_spectrum

__all__ = [
    "plot_latent",
    "plot_projection",
    "plot_recovered",
    "plot_spectrum",
    "plot_experiment",
    "plot_trajectory",
    "plot_correlations",
    "plot_marginal",
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


def plot_recovered(z, w, u, columns=None, ax=None, title: str = "recovered latent space", max_points: int | None = 5000):
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
        ax.plot([p["epoch"] for p in trajectory], [p[key] for p in trajectory], "-", label=None if labels is None else labels[i])
    ax.set(xlabel="epoch", ylabel=key, title=title or f"{key} during training")
    if labels is not None:
        ax.legend(frameon=False, fontsize="small")
    return ax


def plot_correlations(z, w, order=None, ax=None, n_show: int | None = None, title: str = "|correlation| of true and estimated variables"):
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
    density = (weights[:, None] * np.exp(-0.5 * ((grid - means[:, None]) / stds[:, None]) ** 2) / (stds[:, None] * np.sqrt(2 * np.pi))).sum(0)
    ax.plot(grid, density, color="black", lw=1.5)
    ax.set(title=title or f"marginal of $z_{{{i + 1}}}$", xlabel=f"$z_{{{i + 1}}}$", ylabel="density")
    return ax
