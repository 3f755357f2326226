"""Figures of the chapter "GIN from scratch", and the small grid computations behind them.

Two kinds of functions, kept apart:

* **compute** (:func:`square_grid`, :func:`grid_lines`, :func:`cell_outlines`, :func:`polygon_areas`):
  points of a square grid, the lines and the cell outlines to push through a map, and the areas of
  polygons (shoelace formula). They take and return NumPy arrays and draw nothing.
* **draw** (:func:`draw_coupling_diagram`, :func:`plot_coupling`, :func:`plot_recovery`,
  :func:`plot_samples`): they receive everything already computed (by the chapter, with the
  reader's own network) and only draw. Each ``plot_*`` returns a new Matplotlib figure.

Matplotlib is imported only when something is drawn.

References:
    Sorrenson et al. (2020), §4.1 (the coupling block), §4.3 (the artificial data), Fig. 2.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "square_grid",
    "grid_lines",
    "cell_outlines",
    "polygon_areas",
    "draw_coupling_diagram",
    "plot_coupling",
    "plot_recovery",
    "plot_samples",
]


# ---------------------------------------------------------------------------------------------
# compute


def square_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """The ``n x n`` nodes of a square grid on ``[lo, hi]^2``, shape ``(n * n, 2)``, row by row."""
    if n < 2 or not hi > lo:
        raise ValueError(f"need n >= 2 and hi > lo, got n={n}, lo={lo}, hi={hi}")
    a, b = np.meshgrid(np.linspace(lo, hi, n), np.linspace(lo, hi, n))
    return np.stack([a.ravel(), b.ravel()], axis=1)


def grid_lines(lo: float, hi: float, n_lines: int, n_points: int = 100) -> np.ndarray:
    """The lines of a square grid on ``[lo, hi]^2``, each finely sampled so that a map can bend it.

    Returns:
        ``(2 * n_lines, n_points, 2)``: ``n_lines`` vertical lines, then ``n_lines`` horizontal ones.
    """
    if n_lines < 2 or n_points < 2 or not hi > lo:
        raise ValueError(f"need n_lines >= 2, n_points >= 2 and hi > lo, got {n_lines}, {n_points}, {lo}, {hi}")
    at, along = np.linspace(lo, hi, n_lines), np.linspace(lo, hi, n_points)
    vertical = np.stack(
        [np.broadcast_to(at[:, None], (n_lines, n_points)), np.broadcast_to(along, (n_lines, n_points))], -1
    )
    return np.concatenate([vertical, vertical[..., ::-1]], axis=0)


def cell_outlines(lo: float, hi: float, n_cells: int, per_edge: int = 8) -> np.ndarray:
    """The outlines of the ``n_cells x n_cells`` cells of a square grid, each edge sampled at ``per_edge`` points.

    Pushed through a smooth map, the outline of a cell stays a good polygon of its image, so that
    :func:`polygon_areas` measures the image's area up to an error that shrinks as ``per_edge`` grows.

    Returns:
        ``(n_cells * n_cells, 4 * per_edge, 2)``, counter-clockwise.
    """
    if n_cells < 1 or per_edge < 1 or not hi > lo:
        raise ValueError(f"need n_cells >= 1, per_edge >= 1 and hi > lo, got {n_cells}, {per_edge}, {lo}, {hi}")
    h = (hi - lo) / n_cells
    f = np.arange(per_edge) / per_edge  # fractions along an edge, its end left to the next edge
    unit = np.concatenate(
        [
            np.stack([f, 0 * f], 1),
            np.stack([1 + 0 * f, f], 1),
            np.stack([1 - f, 1 + 0 * f], 1),
            np.stack([0 * f, 1 - f], 1),
        ]
    )
    corners = lo + h * np.stack(np.meshgrid(np.arange(n_cells), np.arange(n_cells)), -1).reshape(-1, 1, 2)
    return corners + h * unit[None]


def polygon_areas(polygons: np.ndarray) -> np.ndarray:
    """The areas of closed polygons by the shoelace formula; ``(..., k, 2)`` -> ``(...)``, positive if counter-clockwise."""
    polygons = np.asarray(polygons, dtype=np.float64)
    if polygons.ndim < 2 or polygons.shape[-1] != 2 or polygons.shape[-2] < 3:
        raise ValueError(f"polygons need the shape (..., k >= 3, 2), got {polygons.shape}")
    a, b = polygons, np.roll(polygons, -1, axis=-2)
    return 0.5 * (a[..., 0] * b[..., 1] - b[..., 0] * a[..., 1]).sum(-1)


# ---------------------------------------------------------------------------------------------
# draw


def _box(ax, xy, text, color, width=0.2, height=0.13, fontsize=9):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.01", fc=color, ec="black", lw=0.8
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="black", lw=1))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.03, text, ha="center", fontsize=8)


def draw_coupling_diagram(ax) -> None:
    """Draw one affine coupling of GIN on ``ax``: the split, the subnetwork, the zero-sum scales, the output."""
    ax.set(xlim=(-0.03, 1.03), ylim=(0, 1))
    ax.axis("off")
    _box(ax, (0.1, 0.78), "$x_1$\n$m$ entries", "#dbe9f6", width=0.19)
    _box(ax, (0.1, 0.22), "$x_2$\n$d-m$ entries", "#fde2c8", width=0.19)
    _box(ax, (0.1, 0.5), "$x$", "white", width=0.08, height=0.09)
    _arrow(ax, (0.1, 0.555), (0.1, 0.71))
    _arrow(ax, (0.1, 0.445), (0.1, 0.29))
    _box(ax, (0.42, 0.62), "subnetwork\n$x_1 \\mapsto (\\tilde s,\\ t)$", "#e8e8e8", width=0.24)
    _box(ax, (0.42, 0.38), "$s = 2\\tanh\\tilde s$\n$-\\ \\mathrm{mean}$", "#d9f0d3", width=0.24)
    _arrow(ax, (0.2, 0.74), (0.3, 0.64))
    _arrow(ax, (0.42, 0.555), (0.42, 0.445), None)
    _box(ax, (0.86, 0.78), "$y_1 = x_1$", "#dbe9f6", width=0.2)
    _box(ax, (0.86, 0.22), "$y_2 = x_2 \\odot e^{s} + t$", "#fde2c8", width=0.24)
    _arrow(ax, (0.2, 0.78), (0.76, 0.78), "copied")
    _arrow(ax, (0.2, 0.22), (0.74, 0.22))
    _arrow(ax, (0.54, 0.38), (0.8, 0.28), "$s$")
    _arrow(ax, (0.54, 0.62), (0.86, 0.29), "$t$")
    ax.text(
        0.42,
        0.05,
        "$\\sum_j s_j = 0\\ \\Rightarrow\\ \\log|\\det J| = \\sum_j s_j = 0$ (volume kept)",
        ha="center",
        fontsize=9,
    )


def plot_coupling(scales, slices, cells_before, cells_after, area_ratio, lines_after, title: str = ""):
    """The coupling block figure: diagram, zero-sum log-scales, one coupling on a plane, a 2-d block's grid.

    Arguments:
        scales: ``(n_samples, d - m)`` log-scales ``s`` of a coupling for a few samples (each row sums to 0).
        slices: a list of dicts, one per fixed ``x1``: ``"x1"`` (its value), ``"before"`` and ``"after"``
            (cell outlines ``(C, K, 2)`` in the ``x2`` plane before and after the coupling) and ``"area"``
            (their total area after over before).
        cells_before, cells_after: cell outlines ``(C, K, 2)`` of a square grid before and after a 2-d block.
        area_ratio: ``(C,)`` area after / area before of each cell.
        lines_after: grid lines ``(L, P, 2)`` after the 2-d block.
        title: the figure's title.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    scales = np.asarray(scales)
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.6), constrained_layout=True)
    (ax_diagram, ax_scales), (ax_slices, ax_grid) = axes
    draw_coupling_diagram(ax_diagram)
    ax_diagram.set_title("(a) one affine coupling of GIN")

    n, k = scales.shape
    width = 0.8 / n
    for i, row in enumerate(scales):
        ax_scales.bar(
            np.arange(k) + (i - (n - 1) / 2) * width, row, width, label=f"sample {i + 1}: sum {row.sum():+.0e}"
        )
    ax_scales.axhline(0, color="black", lw=0.8)
    ax_scales.set(xlabel="entry $j$ of $x_2$", ylabel="log-scale $s_j$", xticks=range(k), xticklabels=range(1, k + 1))
    ax_scales.set_title("(b) zero-sum log-scales of a 10-d block")
    ax_scales.legend(fontsize=7)

    colors = plt.get_cmap("tab10")
    for i, piece in enumerate(slices):
        for cell in np.asarray(piece["before"]):
            ax_slices.fill(cell[:, 0], cell[:, 1], fc="none", ec="0.75", lw=0.8)
        for j, cell in enumerate(np.asarray(piece["after"])):
            label = f"$x_1 = {piece['x1']:g}$: area x {piece['area']:.6f}" if j == 0 else None
            ax_slices.fill(cell[:, 0], cell[:, 1], fc="none", ec=colors(i), lw=1.0, label=label)
    ax_slices.set(xlabel="first entry of $x_2$ / $y_2$", ylabel="second entry of $x_2$ / $y_2$", aspect="equal")
    ax_slices.set_title("(c) one coupling, $d = 3$: the $x_2$ plane\nfor three values of $x_1$ (gray: before)")
    ax_slices.legend(fontsize=7, loc="upper left")

    ratio = np.asarray(area_ratio)
    for cell in np.asarray(cells_before):
        ax_grid.fill(cell[:, 0], cell[:, 1], fc="none", ec="0.85", lw=0.5)
    polys = PolyCollection(np.asarray(cells_after), array=ratio, cmap="coolwarm", edgecolors="0.3", linewidths=0.3)
    polys.set_clim(0.5, 1.5)
    ax_grid.add_collection(polys)
    for line in np.asarray(lines_after):
        ax_grid.plot(line[:, 0], line[:, 1], color="black", lw=0.4)
    ax_grid.autoscale_view()
    ax_grid.set(xlabel="$y_1$", ylabel="$y_2$", aspect="equal")
    ax_grid.set_title(f"(d) a 2-d GIN block bends the grid;\ncell areas x {ratio.min():.3f} to {ratio.max():.3f}")
    fig.colorbar(polys, ax=ax_grid, shrink=0.8, label="cell area after / before")
    if title:
        fig.suptitle(title)
    return fig


def _class_scatter(ax, points, u, size=2.0):
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10")(np.asarray(u) % 10)
    ax.scatter(points[:, 0], points[:, 1], c=colors, s=size, linewidths=0, rasterized=True)


def plot_recovery(x2, x_names, u, pairs, spectra, title: str = ""):
    """What a trained GIN found: the data, each true variable against its matched estimate, the spectra.

    Arguments:
        x2: ``(N, 2)`` two coordinates of the observed data.
        x_names: the names of those two coordinates (axis labels).
        u: ``(N,)`` labels (colours).
        pairs: a list of ``(z_i, w_j, label)``: a true variable, its matched estimated variable
            (``(N,)`` each) and a label such as ``"z_1 vs w_7, |r| = 0.998"``.
        spectra: ``{name: sorted standard deviations}``; the first is drawn black, the others gray.
        title: the figure's title.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    x2, u = np.asarray(x2), np.asarray(u)
    fig, axes = plt.subplots(1, 2 + len(pairs), figsize=(3.4 * (2 + len(pairs)), 3.5), constrained_layout=True)
    _class_scatter(axes[0], x2, u)
    axes[0].set(xlabel=x_names[0], ylabel=x_names[1], title="(a) observed data $x$")
    for ax, (z_i, w_j, label), letter in zip(axes[1:], pairs, "bcdefgh"):
        _class_scatter(ax, np.stack([np.asarray(z_i), np.asarray(w_j)], 1), u)
        ax.set(xlabel="true $z_i$", ylabel="matched $w_j$", title=f"({letter}) {label}")
    ax_spec = axes[-1]
    for i, (name, std) in enumerate(spectra.items()):
        style = dict(color="black", marker="o") if i == 0 else dict(color=f"{0.35 + 0.25 * i:.2f}", marker="s", ls="--")
        ax_spec.semilogy(np.arange(1, len(std) + 1), std, label=name, ms=4, **style)
    ax_spec.set(xlabel="variable (sorted)", ylabel="standard deviation", title=f"({'bcdefgh'[len(pairs)]}) spectrum")
    ax_spec.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_samples(x_real, u_real, x_new, u_new, x_names, title: str = ""):
    """Observed data next to new samples decoded through a trained network's inverse, on the same axes.

    Arguments:
        x_real, u_real: ``(N, 2)`` two coordinates of the observed data and their labels.
        x_new, u_new: ``(M, 2)`` the same coordinates of the new samples and the labels they were drawn for.
        x_names: the names of the two coordinates.
        title: the figure's title.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    x_real, x_new = np.asarray(x_real), np.asarray(x_new)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), sharex=True, sharey=True, constrained_layout=True)
    _class_scatter(axes[0], x_real, u_real)
    _class_scatter(axes[1], x_new, u_new)
    axes[0].set(xlabel=x_names[0], ylabel=x_names[1], title=f"(a) observed $x$ ({len(x_real):,} points)")
    axes[1].set(xlabel=x_names[0], title=f"(b) new $x = g(w)$, $w \\sim p(w \\mid u)$ ({len(x_new):,})")
    if title:
        fig.suptitle(title)
    return fig
