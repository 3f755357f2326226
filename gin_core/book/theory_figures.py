"""Figures of the theory chapters (``theory_identifiability``, ``theory_dimension``, ``theory_predictions``).

The computations are in :mod:`gin_core.book.theory` and :mod:`gin_core.book.predictions` (both long
already); the figures here only draw what they and the chapters computed:

* the identifiability and dimension chapters: the generative model, rotation invariance, the rank
  of L, the unmixing matrices, spectra (:func:`plot_generative_model`, :func:`plot_rotation_invariance`,
  :func:`plot_rank_of_L`, :func:`plot_unmixing`, :func:`plot_theory_spectra`);
* the predictions chapter: the knee's origin, MCC strips, the symmetry scan and the number of
  conditions (:func:`plot_knee_origin`, :func:`plot_mcc_strip`, :func:`plot_symmetry_scan`,
  :func:`plot_conditions`).

Each returns the Matplotlib **Figure** it drew on (given an ``ax``, that axes' figure). Matplotlib
is imported only when something is drawn.

References:
    Sorrenson et al. (2020), §3, §4.3 and Appendices A-C.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float64

__all__ = [
    "plot_generative_model",
    "plot_rotation_invariance",
    "plot_rank_of_L",
    "plot_unmixing",
    "plot_theory_spectra",
    "plot_knee_origin",
    "plot_mcc_strip",
    "plot_symmetry_scan",
    "plot_conditions",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4, 4))
    return ax


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
        The figure.
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
    return ax.figure


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
