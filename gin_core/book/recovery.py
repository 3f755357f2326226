"""What a run on artificial data recovered, computed and drawn (Figs. 2 and 6-8).

Two kinds of functions, kept apart:

* **compute**: :func:`pca_projection` (the observed data on its first two principal components),
  :func:`experiment_panels` (everything the four panels of Fig. 2/6 show, for one run),
  :func:`correlation_matrix` (true against estimated variables), :func:`marginal_density` (one
  true variable's marginal, per cluster and as the mixture) and :func:`marginal_valley` (how empty
  the space between clusters is). They return NumPy arrays and draw nothing.
* **draw**: every ``plot_*`` function receives what was computed and only draws. Each returns the
  Matplotlib **Figure** it drew on; given an ``ax`` (or ``axes``), it draws there, so chapters compose
  figures, and the figure returned is that axes' figure. Scatter plots draw a random subsample
  (``max_points``) so that figures stay light. Matplotlib is imported only when something is drawn.

References:
    Sorrenson et al. (2020), §4.3, Figs. 2 and 6-8.
"""

from __future__ import annotations

import numpy as np

from ..artificial import ArtificialData
from ..metrics import Spectrum, _abs_correlation, _array, align_to, latent_spectrum

__all__ = [
    "pca_projection",
    "experiment_panels",
    "correlation_matrix",
    "marginal_density",
    "marginal_valley",
    "plot_latent",
    "plot_projection",
    "plot_recovered",
    "plot_spectrum",
    "plot_experiment",
    "plot_trajectory",
    "plot_correlations",
    "plot_marginal",
]


# ---------------------------------------------------------------------------------------------
# Computations


def _labels(u, n: int) -> np.ndarray:
    u = _array(u, "u", ndim=1).astype(int)
    if len(u) != n:
        raise ValueError(f"u has {len(u)} labels but there are {n} points")
    return u


def _subsample(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def pca_projection(x) -> np.ndarray:
    """The centred data on its first two principal components (fitted on at most 20,000 points).

    Arguments:
        x: observed data, ``(N, d)`` with ``d >= 2``.

    Returns:
        ``(N, 2)`` coordinates.
    """
    x = _array(x, "x")
    if x.shape[1] < 2:
        raise ValueError(f"need at least two data dimensions, got {x.shape[1]}")
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred[_subsample(len(x), 20000)], full_matrices=False)
    return centred @ vt[:2].T


def experiment_panels(data: ArtificialData, evaluation) -> dict:
    """What the four panels of Fig. 2/6 show for one run, computed.

    Arguments:
        data: an :class:`~gin_core.artificial.ArtificialData` (the training data).
        evaluation: an :class:`~gin_core.book.runs.Evaluation` of a model trained on it.

    Returns:
        ``{"z", "projection", "recovered", "u", "spectrum", "truth"}``: the two informative true
        variables, the data's :func:`pca_projection`, the matched w rescaled to the true variables
        (:func:`~gin_core.metrics.align_to`), the labels, the model's spectrum and the true latent's.
    """
    z = _array(data.z, "z")
    return {
        "z": z[:, :2],
        "projection": pca_projection(data.x),
        "recovered": align_to(z[:, :2], _array(evaluation.w, "w"), evaluation.columns),
        "u": _labels(data.u, len(z)),
        "spectrum": evaluation.spectrum,
        "truth": latent_spectrum(data.z, data.u),
    }


def correlation_matrix(z, w, order=None, n_show: int | None = None) -> np.ndarray:
    """The absolute correlation of each true variable with each estimated one.

    Arguments:
        z: true variables, ``(N, n)``.
        w: estimated variables, ``(N, d)``.
        order: column order of ``w`` (e.g. ``spectrum.order``, most important first).
        n_show: keep only the first ``n_show`` columns (after ordering).

    Returns:
        ``(n, min(d, n_show))`` matrix of |correlation|.
    """
    z, w = _array(z, "z"), _array(w, "w")
    if len(z) != len(w):
        raise ValueError(f"z has {len(z)} samples but w has {len(w)}")
    order = np.arange(w.shape[1]) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(w.shape[1])):
        raise ValueError(f"order must be a permutation of the {w.shape[1]} columns of w")
    return _abs_correlation(z, w[:, order[:n_show]])


def _mixture(grid: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The density of a one-dimensional Gaussian mixture on ``grid``."""
    normal = np.exp(-0.5 * ((grid[None] - means[:, None]) / stds[:, None]) ** 2) / (stds[:, None] * np.sqrt(2 * np.pi))
    return (weights[:, None] * normal).sum(0)


def marginal_density(data: ArtificialData, i: int = 0, points: int = 400) -> dict:
    """One true informative variable: its samples by cluster and its mixture density (ground truth).

    The clusters are weighted by their share of the sample.

    Arguments:
        data: an :class:`~gin_core.artificial.ArtificialData`.
        i: which informative variable (0-based).
        points: grid points of the density.

    Returns:
        ``{"i", "values", "u", "n_clusters", "grid", "density"}``: the index, the variable's samples
        and their labels, the number of clusters, and the mixture density on a grid over the samples' range.
    """
    n_inf = data.means.shape[1]
    if not 0 <= i < n_inf:
        raise ValueError(f"i must index one of the {n_inf} informative variables, got {i}")
    z = _array(data.z, "z")[:, i]
    u = _labels(data.u, len(z))
    weights = np.array([(u == c).sum() for c in range(data.n_clusters)], dtype=float) / len(z)
    grid = np.linspace(z.min(), z.max(), points)
    means, stds = _array(data.means, "means")[:, i], _array(data.stds, "stds")[:, i]
    return {
        "i": i,
        "values": z,
        "u": u,
        "n_clusters": data.n_clusters,
        "grid": grid,
        "density": _mixture(grid, means, stds, weights),
    }


def marginal_valley(data: ArtificialData, bins: int = 400) -> np.ndarray:
    """How empty the space between clusters is, per true informative variable (ground truth, for diagnosis).

    The marginal density of each true variable is the equal-weight mixture of its clusters'
    Gaussians (labels are drawn uniformly). On a grid covering every cluster to three standard
    deviations, the lowest density relative to the smaller of the two highest densities on
    either side of it measures the valley: 1 means no dip, values near 0 mean a gap that
    splits the data into groups with little overlap (the failure case of §4.3.1). It depends
    only on the cluster means and standard deviations, not on the sample.

    Arguments:
        data: an artificial data set (only its ``means`` and ``stds`` are used).
        bins: grid size.

    Returns:
        ``(n_informative,)`` array of valley ratios in (0, 1].
    """
    means, stds = data.means.double().numpy(), data.stds.double().numpy()
    out = []
    for i in range(means.shape[1]):
        m, s = means[:, i], stds[:, i]
        grid = np.linspace((m - 3 * s).min(), (m + 3 * s).max(), bins)
        dens = (np.exp(-0.5 * ((grid[None] - m[:, None]) / s[:, None]) ** 2) / s[:, None]).mean(0)
        left, right = np.maximum.accumulate(dens), np.maximum.accumulate(dens[::-1])[::-1]
        out.append(float(np.min(dens / np.minimum(left, right))))
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Figures (they draw what the functions above computed)


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def _scatter(ax, points: np.ndarray, u: np.ndarray, max_points: int | None, size: float = 2.0):
    import matplotlib.pyplot as plt

    keep = _subsample(len(points), max_points)
    cmap = plt.get_cmap("tab10")
    ax.scatter(points[keep, 0], points[keep, 1], c=cmap(u[keep] % 10), s=size, linewidths=0, rasterized=True)


def plot_latent(z, u, ax=None, title: str = "true latent space", max_points: int | None = 5000):
    """The two informative true variables ``z[:, :2]``, coloured by cluster label.

    Arguments:
        z: true latent, ``(N, >= 2)``.
        u: labels, ``(N,)``.
        ax: axes to draw on (default: a new figure).
        title: the axes' title.
        max_points: points drawn (a random subsample; ``None``: all).

    Returns:
        The figure.
    """
    z = _array(z, "z")
    if z.shape[1] < 2:
        raise ValueError(f"need at least two latent variables to plot, got {z.shape[1]}")
    ax = _axes(ax)
    _scatter(ax, z[:, :2], _labels(u, len(z)), max_points)
    ax.set(title=title, xlabel="$z_1$", ylabel="$z_2$")
    return ax.figure


def plot_projection(
    projection, u, ax=None, title: str = "observed data (2-d projection)", max_points: int | None = 5000
):
    """The observed data on its first two principal components (:func:`pca_projection`), coloured by label.

    Arguments:
        projection: ``(N, 2)`` from :func:`pca_projection`.
        u: labels, ``(N,)``.
        ax, title, max_points: as in :func:`plot_latent`.

    Returns:
        The figure.
    """
    projection = _array(projection, "projection")
    ax = _axes(ax)
    _scatter(ax, projection, _labels(u, len(projection)), max_points)
    ax.set(title=title, xlabel="principal component 1 of $x$", ylabel="principal component 2 of $x$")
    return ax.figure


def plot_recovered(aligned, u, ax=None, title: str = "recovered latent space", max_points: int | None = 5000):
    """The w matched to the two true variables, flipped and rescaled to match them.

    Arguments:
        aligned: ``(N, 2)``, :func:`~gin_core.metrics.align_to` of the true variables and w.
        u: labels, ``(N,)``.
        ax, title, max_points: as in :func:`plot_latent`.

    Returns:
        The figure.
    """
    aligned = _array(aligned, "aligned")
    if aligned.shape[1] != 2:
        raise ValueError(f"aligned must hold two matched w variables, got {aligned.shape[1]}")
    ax = _axes(ax)
    _scatter(ax, aligned, _labels(u, len(aligned)), max_points)
    ax.set(title=title, xlabel="matched $w$, rescaled to $z_1$", ylabel="matched $w$, rescaled to $z_2$")
    return ax.figure


def plot_spectrum(spectrum, truth=None, ax=None, title: str = "spectrum", label: str = "GIN"):
    """Standard deviation of each latent variable, sorted, on a log scale.

    Black: the model's spectrum; gray: the ground truth's (the true latent's own spectrum).

    Arguments:
        spectrum: a :class:`~gin_core.metrics.Spectrum` or sorted standard deviations.
        truth: the same for the true latent, or ``None``.
        ax: axes to draw on (default: a new figure).
        title: the axes' title.
        label: legend label of ``spectrum``.

    Returns:
        The figure.
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
    return ax.figure


def plot_experiment(panels: dict, axes=None, max_points: int | None = 5000):
    """The four panels of Fig. 2/6: true latent, observed projection, recovered latent, spectrum.

    Arguments:
        panels: :func:`experiment_panels` of a run.
        axes: four axes, or ``None`` to make a 1x4 figure.
        max_points: points drawn per scatter panel.

    Returns:
        The figure.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 4, figsize=(16, 4), constrained_layout=True)
    if len(axes) != 4:
        raise ValueError(f"plot_experiment needs four axes, got {len(axes)}")
    u = panels["u"]
    plot_latent(panels["z"], u, ax=axes[0], max_points=max_points)
    plot_projection(panels["projection"], u, ax=axes[1], max_points=max_points)
    plot_recovered(panels["recovered"], u, ax=axes[2], max_points=max_points)
    plot_spectrum(panels["spectrum"], panels["truth"], ax=axes[3])
    return axes[0].figure


def plot_trajectory(trajectories, key: str = "mcc", ax=None, labels=None, title: str | None = None):
    """A metric against the training epoch, one line per run.

    Arguments:
        trajectories: a list of trajectories, each a list of dicts with ``epoch`` and ``key``
            (``ArtificialRun.trajectory`` or the ``trajectory`` field of a sweep record).
        key: the metric to draw (``mcc``, ``val_nll``, ``gap``, ...).
        ax: axes to draw on (default: a new figure).
        labels: one legend label per trajectory, or ``None``.
        title: the axes' title (default: the metric's name).

    Returns:
        The figure.
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
    return ax.figure


def plot_correlations(corr, ax=None, title: str = "|correlation| of true and estimated variables"):
    """Heatmap of the absolute correlation between each true variable and each estimated one.

    A clean recovery has one dark cell per row, in distinct columns; a true variable that is
    split across several estimated ones shows up as a row with several grey cells.

    Arguments:
        corr: :func:`correlation_matrix`, ``(n, m)`` (columns most important first).
        ax: axes to draw on (default: a new figure).
        title: the axes' title.

    Returns:
        The figure; the matrix shown is in ``fig.axes[0].images[0].get_array()``.
    """
    import matplotlib.pyplot as plt

    corr = _array(corr, "corr")
    ax = _axes(ax)
    image = ax.imshow(corr, cmap="Greys", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(corr):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(corr.shape[1]), [f"$w_{{{k + 1}}}$" for k in range(corr.shape[1])])
    ax.set_yticks(range(corr.shape[0]), [f"$z_{{{i + 1}}}$" for i in range(corr.shape[0])])
    ax.set(title=title, xlabel="estimated variables, most important first")
    plt.colorbar(image, ax=ax, fraction=0.03)
    return ax.figure


def plot_marginal(marginal: dict, ax=None, bins: int = 80, title: str | None = None):
    """Histogram of one true informative variable, stacked by cluster, with the mixture density.

    Shows where the clusters leave a gap (a deep valley in the marginal density): the
    regions where GIN has few points to tie the clusters' variables together.

    Arguments:
        marginal: :func:`marginal_density` of the variable.
        ax: axes to draw on (default: a new figure).
        bins: histogram bins.
        title: the axes' title (default: the variable's name).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    z, u, i, n_clusters = marginal["values"], marginal["u"], marginal["i"], marginal["n_clusters"]
    ax = _axes(ax)
    cmap = plt.get_cmap("tab10")
    edges = np.linspace(z.min(), z.max(), bins + 1)
    groups = [z[u == c] for c in range(n_clusters)]
    ax.hist(groups, bins=edges, stacked=True, density=True, color=[cmap(c % 10) for c in range(n_clusters)])
    ax.plot(marginal["grid"], marginal["density"], color="black", lw=1.5)
    ax.set(title=title or f"marginal of $z_{{{i + 1}}}$", xlabel=f"$z_{{{i + 1}}}$", ylabel="density")
    return ax.figure
