"""Figures of the chapter on more conditions than classes (``conditions_sublabels``).

The measurements are in :mod:`gin_core.book.conditions` (which is long already); the figures here
draw what it and the chapter computed:

* :func:`plot_sublabel_examples`: training images of each sub-label of a few classes;
* :func:`plot_pair_spectra`: the spectra of the 10-label and the sub-label model
  (:func:`~gin_core.book.conditions.measure_pair`);
* :func:`plot_crossbar_examples` and :func:`plot_sampled_sevens`: sevens and the crossbar
  detector's verdicts, computed beforehand (:func:`~gin_core.book.conditions.crossbar`,
  :func:`detect_crossed`).

Each ``plot_*`` returns the Matplotlib **Figure** it drew. Matplotlib is imported only when
something is drawn.

References:
    Sorrenson et al. (2020), §4.4.4.
"""

from __future__ import annotations

import numpy as np

from .atlas import mosaic
from .conditions import crossbar

__all__ = [
    "detect_crossed",
    "plot_sublabel_examples",
    "plot_pair_spectra",
    "plot_crossbar_examples",
    "plot_sampled_sevens",
]


def _images(images) -> np.ndarray:
    """``(N, H, W)`` float64 images from a tensor or an array ``(N, 1, H, W)`` or ``(N, H, W)``."""
    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float64)
    return images.reshape(len(images), *images.shape[-2:])


def detect_crossed(samples: dict, n: int = 60) -> dict:
    """The first ``n`` images of each model, clipped to [0, 1], and the crossbar detector's verdict on each.

    Arguments:
        samples: ``{panel title: images (N, 1, H, W)}``.
        n: images per model.

    Returns:
        ``{panel title: (images (n, H, W), hits (n,) bool)}``, what :func:`plot_sampled_sevens` draws.
    """
    out = {}
    for name, images in samples.items():
        images = np.clip(_images(images)[:n], 0, 1)
        out[name] = (images, crossbar(images))
    return out


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

    Arguments:
        images: sevens ``(N, 1, H, W)`` or ``(N, H, W)``.
        hits: the detector's verdicts ``(N,)`` (:func:`~gin_core.book.conditions.crossbar`).
        n: images shown per side.
        title: figure title (the data set).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images = _images(images)
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


def plot_sampled_sevens(detected: dict, title: str = ""):
    """Sampled sevens of each model, those the crossbar detector calls crossed framed in red.

    Arguments:
        detected: :func:`detect_crossed` of the models' samples.
        title: figure title.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, len(detected), figsize=(5.2 * len(detected), 3.4))
    for ax, (name, (images, hits)) in zip(np.atleast_1d(axes), detected.items()):
        hits = np.asarray(hits, dtype=bool)
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
