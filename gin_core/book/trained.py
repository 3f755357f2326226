"""The digits network the analysis chapters use: the reader's own checkpoint, or the book's shipped weights.

Shipped weights live in the book's ``data/weights/`` as ``<name>.pt`` + ``<name>.json``
(:mod:`gin_core.weights`). :func:`export_weights` makes such a pair from a training checkpoint,
measuring on the exported weights (exactly what readers load) the test NLL and the inversion
error; :func:`load_trained` is what the chapters call.

The figures of the training and spectra chapters draw what was computed elsewhere (the training
history, the spectra of :mod:`gin_core.book.atlas`, :func:`~gin_core.book.atlas.effect_sizes`):
:func:`plot_loss_curve`, :func:`plot_spectrum_comparison`, :func:`plot_effects`. Each returns the
Matplotlib **Figure** it drew on (given an ``ax``, that axes' figure). Matplotlib is imported only
when something is drawn.
"""

from __future__ import annotations

import os
import platform
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import load_checkpoint, load_state
from ..flows import inversion_error
from ..likelihood import heldout_nll
from ..networks import build_network
from ..training.cli import build_parser
from ..weights import load_weights, save_weights
from . import settings

__all__ = [
    "TRAIN_COMMAND",
    "PAPER_OPTIMISER",
    "parse_train_command",
    "export_weights",
    "TrainedModel",
    "load_trained",
    "training_checkpoint",
    "plot_loss_curve",
    "plot_spectrum_comparison",
    "plot_effects",
]

#: the paper's optimisation of the digits network (§4.4.1), as keyword arguments of :func:`gin_core.train`:
#: Adam at 3e-4, batches of 240, Gaussian noise of standard deviation 0.01 on every batch; seed 0
PAPER_OPTIMISER = {"lr": 3e-4, "batch_size": 240, "noise": 0.01, "seed": 0}

TRAIN_COMMAND = (
    "python -m gin_core.training digits --dataset {dataset} --data-root data --epochs 95 --lr 3e-4 --drop 45 --seed 0 "
    "--out runs/gin_{dataset}"
)


def parse_train_command(command: str):
    """Parse a ``python -m gin_core.training digits ...`` command line with the training CLI's own parser.

    Returns:
        The ``argparse.Namespace`` (epochs, lr, drop, seed, dataset, batch_size, noise, ...).

    Raises:
        ValueError: the command is not a ``gin_core.training`` digits command.
    """
    words = [w for w in shlex.split(command) if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
    # gin_core < 0.2 named the module gin_core.train (the shipped weights' provenance records that name)
    modules = [i for i, w in enumerate(words) if w in ("gin_core.training", "gin_core.train")]
    if not modules:
        raise ValueError(f"not a `python -m gin_core.training` command: {command!r}")
    start = modules[0] + 1
    args = build_parser().parse_args(words[start:])
    if args.experiment != "digits":
        raise ValueError(f"the command trains {args.experiment!r}, not the digits model: {command!r}")
    return args


def export_weights(
    checkpoint: str | os.PathLike,
    path: str | os.PathLike,
    command: str,
    x_train: torch.Tensor,
    u_train: torch.Tensor,
    x_test: torch.Tensor,
    u_test: torch.Tensor,
    notes: str = "",
    noise: float = 0.01,
) -> dict:
    """Turn a digits training checkpoint into shipped weights ``<name>.pt`` + provenance ``<name>.json``.

    Arguments:
        checkpoint: a checkpoint written by :func:`gin_core.training.train`.
        path: ``<folder>/<name>.pt``.
        command: the training command line (recorded, and parsed for the schedule).
        x_train, u_train: training images and labels (class statistics of the test NLL).
        x_test, u_test: test images and labels.
        notes: free text stored in the provenance (e.g. how the run was interrupted and resumed).
        noise: evaluation noise (the training noise, 0.01).

    Returns:
        The provenance dictionary (also written as JSON).
    """
    args = parse_train_command(command)
    state = load_checkpoint(checkpoint)
    history, training = state["history"], state["training"]
    if int(state["epoch"]) != len(history["loss"]):
        raise ValueError(f"inconsistent checkpoint: epoch {state['epoch']} but {len(history['loss'])} history entries")
    if training["n_classes"] != 10 * (args.sub_labels or 1):
        raise ValueError(
            f"the checkpoint has {training['n_classes']} conditions but the command implies "
            f"{10 * (args.sub_labels or 1)}: {command!r}"
        )
    net = load_state(build_network(state["network"]), state["net"], checkpoint)
    save_weights(net, path)  # first the weights alone, so that what is measured is what readers load
    net, _ = load_weights(path)
    result = heldout_nll(net, x_train, u_train, x_test, u_test, n_classes=10, noise=noise, seed=0)
    extra = {}
    if str(training["dataset"]).split(";")[0] != args.dataset:
        raise ValueError(
            f"the checkpoint was trained on {training['dataset']!r}, but the command says {args.dataset!r}"
        )
    if args.sub_labels is not None:  # a sub-label model: its own NLL is under its sub-label statistics
        from ..sublabels import fit_sub_labels
        from .conditions import sublabel_nll

        rule = fit_sub_labels(x_train, u_train, per_class=args.sub_labels)
        if rule.conditioning() not in training["dataset"].split("; "):
            raise ValueError(f"the checkpoint was trained on {training['dataset']!r}, not on {rule.describe()!r}")
        extra = {
            "conditions": rule.describe(),
            "test_nll_sub_labels": sublabel_nll(net, rule, x_train, u_train, x_test, u_test, noise=noise, seed=0),
            "test_nll_note": "test_nll scores the sub-label model with 10 class Gaussians fitted on its codes; "
            "test_nll_sub_labels gives its own NLL given the sub-label, and given only the class "
            "(the mixture over the class's sub-labels)",
        }
    wall = float(sum(history["seconds"]))
    provenance = {
        "dataset": args.dataset,
        "training_data": training["dataset"],
        **extra,
        "command": command,
        "seed": training["seed"],
        "batch_size": training["batch_size"],
        "noise": training["noise"],
        "lr": training["lr"],
        "lr_drops": training["milestones"],
        "lr_schedule": f"Adam lr {training['lr']:g}, divided by 10 at epoch(s) {training['milestones']}",
        "epochs_planned": args.epochs,
        "epochs_done": int(state["epoch"]),
        "complete": int(state["epoch"]) >= args.epochs,
        "steps_into_next_epoch": int(state["position"]),
        "wall_time_s": wall,
        "wall_time_h": wall / 3600,
        "final_train_loss_nats_per_dim": history["loss"][-1] if history["loss"] else None,
        "samples_excluded": int(history.get("excluded", 0)),  # of classes with < 2 samples in their batch
        "test_nll": {
            "nats_per_dim": result.nats_per_dim,
            "bits_per_dim": result.bits_per_dim,
            "noise_floor_bits_per_dim": result.floor_bits_per_dim,
            "noise": noise,
            "seed": result.seed,
            "n_test": result.n_eval,
            "n_train_for_class_statistics": result.n_fit,
            "weights": "the exported float16 weights cast to float32",
            "convention": "x = pixel/255 plus N(0, noise^2); class-conditional; see gin_core.likelihood",
        },
        "max_inversion_error_float32": inversion_error(net, x_test),
        "code_commits": state["commits"],
        "torch_version": torch.__version__,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exported_on": platform.platform(),
        "notes": notes,
        "history": {"loss": history["loss"], "lr": history["lr"], "seconds": history["seconds"]},
    }
    return save_weights(net, path, provenance)


@dataclass
class TrainedModel:
    """A trained digits network and where it came from.

    Attributes:
        net: the network (evaluation mode).
        dataset: the data set it was trained on.
        source: ``"checkpoint"`` (the reader's own) or ``"shipped"``.
        path: the file loaded.
        epochs: epochs trained.
        history: per-epoch ``loss``, ``lr``, ``seconds``.
        provenance: the shipped provenance (``None`` for a checkpoint).
    """

    net: torch.nn.Module
    dataset: str
    source: str
    path: Path
    epochs: int
    history: dict = field(default_factory=dict)
    provenance: dict | None = None

    def __str__(self) -> str:
        if self.source == "checkpoint":
            return f"your checkpoint {self.path} ({self.dataset}, {self.epochs} epochs)"
        p = self.provenance
        commits = p.get("code_commits") or [p.get("code_commit")]
        return (
            f"shipped weights {self.path.name} ({self.dataset}, {self.epochs} of {p['epochs_planned']} epochs, "
            f"sha256 {p['sha256'][:12]}..., code {str(commits[-1])[:8]})"
        )


def load_trained(dataset: str, device: str | torch.device = "cpu") -> TrainedModel:
    """The reader's own checkpoint for ``dataset`` if there is one, else the book's shipped weights.

    The reader's checkpoint is ``GIN_CHECKPOINT`` or ``<book root>/runs/gin_<dataset>/checkpoint.pt``
    (as written by :data:`TRAIN_COMMAND`); the shipped weights are ``<book root>/data/weights/gin_<dataset>.pt``.

    Arguments:
        dataset: ``"mnist"`` or ``"emnist"`` (resolved, see :func:`~gin_core.book.settings.resolve_dataset`).
        device: where the network goes.

    Returns:
        A :class:`TrainedModel`.

    Raises:
        FileNotFoundError: neither exists; the message gives the training command.
    """
    own = settings.checkpoint_override() or settings.runs_dir() / f"gin_{dataset}" / "checkpoint.pt"
    if own.is_file():
        state = load_checkpoint(own)
        if state["training"].get("dataset") not in (dataset, None):
            raise ValueError(f"{own} was trained on {state['training']['dataset']}, not {dataset}")
        net = load_state(build_network(state["network"]), state["net"], own).to(device).eval()
        history = {k: list(state["history"][k]) for k in ("loss", "lr", "seconds")}
        return TrainedModel(net, dataset, "checkpoint", own, int(state["epoch"]), history)
    shipped = settings.weights_dir() / f"gin_{dataset}.pt"
    if not shipped.is_file():
        raise FileNotFoundError(
            f"no weights trained on {dataset}: no checkpoint at {own} and no shipped {shipped}. Train one with "
            f"`{TRAIN_COMMAND.format(dataset=dataset)}` (a GPU is advised for EMNIST), or use the shipped MNIST "
            "weights with GIN_DATASET=mnist"
        )
    net, provenance = load_weights(shipped, device=device)
    if provenance["dataset"] != dataset:
        raise ValueError(f"{shipped} was trained on {provenance['dataset']}, not {dataset}")
    return TrainedModel(
        net, dataset, "shipped", shipped, provenance["epochs_done"], provenance.get("history", {}), provenance
    )


def training_checkpoint(scale: str, dataset: str):
    """Where the training chapter's run writes its checkpoint.

    At ``paper`` scale the run is the reader's own network, so it goes to ``<book root>/runs/gin_<dataset>/``
    where :func:`load_trained` finds it (and the run resumes from it); at the other scales it is a
    demonstration and goes to a temporary folder, so that it never replaces the analysed network.

    Arguments:
        scale: ``"paper"``, ``"cpu"`` or ``"smoke"``.
        dataset: the data set trained on.

    Returns:
        ``(path, folder)``: the checkpoint's path, and the :class:`tempfile.TemporaryDirectory` that holds it
        (``None`` at ``paper`` scale); keep ``folder`` alive as long as the checkpoint is needed.
    """
    import tempfile

    if scale == "paper":
        return settings.runs_dir() / f"gin_{dataset}" / "checkpoint.pt", None
    folder = tempfile.TemporaryDirectory()
    return Path(folder.name) / "checkpoint.pt", folder


# ---------------------------------------------------------------------------------------------
# Figures of the training and spectra chapters


def plot_loss_curve(history: dict, ax=None, title: str = "", label: str = "training loss"):
    """Per-epoch training loss (nats/dim) with the learning rate on a second axis.

    Arguments:
        history: ``{"loss": [...], "lr": [...]}`` (a :class:`~gin_core.training.History` as dict, a
            checkpoint's or a provenance file's history).
        ax: Matplotlib axes (created if ``None``).
        title: axes title.
        label: legend label of the loss.

    Returns:
        The figure.
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
    return ax.figure


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


def plot_effects(effects: np.ndarray, k: int, classes: tuple[str, ...] | None = None, title: str = ""):
    """How much each variable changes the digits: mean effect per variable, and per class.

    Arguments:
        effects: :func:`~gin_core.book.atlas.effect_sizes` with ``per_class=True``, ``(V, C)`` for variables 1..V.
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
