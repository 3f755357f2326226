"""One run on artificial data (§4.3): the data split, the training run, and what it recovered.

A run trains the GIN of Table 2 on :func:`~gin_core.artificial.make_artificial_data` and
measures what the paper's Figs. 2 and 6-8 show: the spectrum of the estimated latent, the
number of informative variables read off it, and how well the two most important variables
recover the true ones (MCC after matching, and the affine fit of eq. 4).

* :func:`split_data`: the training data and a held-out part drawn from the same distribution;
* :func:`make_learner`: the network a run trains, with its initialisation;
* :func:`run_artificial`: train and evaluate, its settings one
  :class:`~gin_core.book.records.RunSettings`; :func:`run_record` turns the run into a JSON record;
* :func:`evaluate_run` (an :class:`Evaluation`) and :func:`validation_nll`: the held-out negative
  log-likelihood is an *observable* score of a run, which
  :func:`~gin_core.book.restarts.select_restart` uses to pick a restart without the ground truth.

Seed sweeps and restarts are in :mod:`gin_core.book.restarts`, the records in
:mod:`gin_core.book.records`, the figures in :mod:`gin_core.book.recovery`.

References:
    Sorrenson et al. (2020), §4.3, Appendix E.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..artificial import REFERENCE_POINTS, ArtificialData, make_artificial_data
from ..flows import DiagonalScaling, InvertibleSequential, encode
from ..likelihood import heldout_nll
from ..metrics import AffineFit, Spectrum, affine_fit, count_informative, latent_spectrum, mcc
from ..networks import artificial_gin
from ..training import History, train
from .atlas import DEFAULT_KNEE
from .benchmark import purity
from .records import INITS, RunSettings

__all__ = [
    "INITS",
    "split_data",
    "validation_nll",
    "Evaluation",
    "evaluate_run",
    "ArtificialRun",
    "run_artificial",
    "run_record",
    "make_learner",
    "scrambling_scales",
]


def split_data(
    n_clusters: int = 5,
    n_points: int = 100_000,
    data_seed: int = 0,
    n_val: int = 10_000,
    n_latent: int = 2,
    variances: str = "random",
    mixing_points: int = REFERENCE_POINTS,
    mixing: str = "paper",
    permute_labels: bool = False,
):
    """Sample ``n_points + n_val`` points of the artificial data and split them.

    The training part has exactly ``n_points`` points (the paper's data size); the
    held-out part, drawn from the same distribution and mixing, scores runs.

    Arguments:
        n_clusters: mixture components (5 in experiment 1, 3 in experiment 2).
        n_points: training points.
        data_seed: seed of :func:`~gin_core.artificial.make_artificial_data`.
        n_val: held-out points (0 for none).
        n_latent: informative latent variables (2 in the paper).
        variances: ``"random"`` (the paper) or ``"shared"`` (the negative control).
        mixing_points: which mixing network (:func:`~gin_core.artificial.mixing_seed`).
        mixing: the mixing family (:data:`~gin_core.artificial.MIXINGS`).
        permute_labels: replace the labels by a random permutation of them (seeded by the data
            seed): a control whose labels carry no information about z, so it must fail.

    Returns:
        ``(train, val)``, two :class:`~gin_core.artificial.ArtificialData`; ``val`` is
        ``None`` when ``n_val == 0``.
    """
    if n_val < 0:
        raise ValueError(f"n_val must be >= 0, got {n_val}")
    data = make_artificial_data(
        n_clusters,
        n_points + n_val,
        seed=data_seed,
        n_informative=n_latent,
        variances=variances,
        mixing_points=mixing_points,
        mixing=mixing,
    )
    if permute_labels:
        order = torch.randperm(len(data.u), generator=torch.Generator().manual_seed(10_000 + int(data_seed)))
        data.u = data.u[order]
    train_part = data.subset(slice(0, n_points))
    return train_part, (data.subset(slice(n_points, None)) if n_val else None)


def validation_nll(net, train: ArtificialData, val: ArtificialData) -> float:
    """Held-out NLL in nats per dimension: the latent distribution fitted on ``train``, ``val`` scored under it.

    An observable score of a run (no ground truth): :func:`gin_core.likelihood.heldout_nll` without noise.
    """
    return heldout_nll(net, train.x, train.u, val.x, val.u, n_classes=train.n_clusters, batch_size=1000).nats_per_dim


@dataclass
class Evaluation:
    """What a trained model recovered, measured against the ground truth.

    Attributes:
        w: estimated latent of the training data, ``(N, 10)``.
        spectrum: per-variable standard deviations (RMS over classes), sorted.
        n_informative: number of informative variables read off the spectrum by the book's
            rule (:data:`~gin_core.book.atlas.DEFAULT_KNEE`: above twice the median).
        n_informative_gap: the same by the largest drop (``max_gap``), reported beside it.
        mcc: mean |correlation| between the n true informative variables and their
            matched w (Hungarian matching over all 10 w).
        columns: the matched w column for each true informative variable.
        correlations: per-variable |correlation| of the matching.
        top_mcc: the same, but matching only among the n most important w of the spectrum
            (the variables the spectrum marks informative when the dimension is right).
        gap: ratio of the n-th to the (n+1)-th standard deviation of the spectrum.
        affine: the eq. (4) fit of ``(z, z^2)`` on ``(w, w^2)`` (``None`` if not computed).
        val_nll: held-out NLL (nats/dim), or ``None`` without held-out data.
        purity: per true variable, the share of its matched w's variance explained by it alone
            (:func:`gin_core.book.benchmark.purity`, on the first 20,000 points).
    """

    w: np.ndarray
    spectrum: Spectrum
    n_informative: int
    n_informative_gap: int
    mcc: float
    columns: np.ndarray
    correlations: np.ndarray
    top_mcc: float
    gap: float
    affine: AffineFit | None
    val_nll: float | None
    purity: np.ndarray | None = None

    def summary(self) -> dict:
        """The scalar results as a JSON-ready dict."""
        out = {
            "mcc": self.mcc,
            "top_mcc": self.top_mcc,
            "n_informative": self.n_informative,
            "n_informative_gap": self.n_informative_gap,
            "gap": self.gap,
            "spectrum": [float(s) for s in self.spectrum.std],
            "correlations": [float(c) for c in self.correlations],
            "val_nll": self.val_nll,
        }
        if self.purity is not None:
            out["purity"] = [float(p) for p in self.purity]
        if self.affine is not None:
            out["affine_sparse"] = self.affine.is_sparse
            out["affine_row_share"] = [float(s) for s in self.affine.row_share]
        return out


def evaluate_run(net, train: ArtificialData, val: ArtificialData | None = None, with_affine: bool = True) -> Evaluation:
    """Encode the training data and measure spectrum, dimension, MCC, gap and affine fit.

    Arguments:
        net: a trained flow.
        train: the training data (its ``z`` is the ground truth).
        val: held-out data for :func:`validation_nll`, or ``None``.
        with_affine: also fit eq. (4).

    Returns:
        An :class:`Evaluation`.
    """
    w = encode(net, train.x)[0].numpy()
    spectrum = latent_spectrum(w, train.u)
    n = train.n_informative
    z = train.z[:, :n].numpy()
    score, columns, correlations = mcc(z, w, return_matching=True)
    top = spectrum.order[:n]
    return Evaluation(
        w=w,
        spectrum=spectrum,
        n_informative=count_informative(spectrum, DEFAULT_KNEE[0], **DEFAULT_KNEE[1]),
        n_informative_gap=count_informative(spectrum, "max_gap"),
        mcc=score,
        columns=columns,
        correlations=correlations,
        top_mcc=mcc(z, w[:, top]),
        gap=float(spectrum.std[n - 1] / spectrum.std[n]),
        affine=affine_fit(z, w) if with_affine else None,
        val_nll=validation_nll(net, train, val) if val is not None else None,
        purity=purity(z[:20_000], w[:20_000], columns),
    )


@dataclass
class ArtificialRun:
    """One training run on artificial data and what it recovered.

    Attributes:
        settings: the run's settings as its record holds them (:meth:`~gin_core.book.records.RunSettings.record`).
        net: the trained network.
        train, val: the data (``val`` may be ``None``).
        history: the training :class:`~gin_core.training.History`.
        evaluation: the final :class:`Evaluation`.
        trajectory: one dict per evaluation epoch (``epoch``, ``loss``, ``mcc``,
            ``n_informative``, ``gap``, ``val_nll``).
        seconds: wall time of the training (evaluations excluded).
    """

    settings: dict
    net: torch.nn.Module
    train: ArtificialData
    val: ArtificialData | None
    history: History
    evaluation: Evaluation
    trajectory: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def run_artificial(
    *,
    eval_epochs: tuple[int, ...] = (),
    checkpoint: str | Path | None = None,
    device=None,
    progress: bool = False,
    fast: bool | str = "auto",
    **settings,
) -> ArtificialRun:
    """Train the GIN of Table 2 on the artificial data and evaluate it.

    The settings of the run are the fields of :class:`~gin_core.book.records.RunSettings`, with
    their defaults (the paper's experiment 1, §4.3.1); the other arguments do not change what is
    trained.

    Arguments:
        eval_epochs: epochs (``< n_epochs``) after which to evaluate as well, for a
            trajectory; training continues exactly (resume from a checkpoint).
        checkpoint: checkpoint file (default: a temporary one when ``eval_epochs`` is set).
            An existing file is resumed.
        device: training device (default CUDA if available).
        progress: show a progress bar.
        fast: the compiled training step (:func:`~gin_core.training.train`'s ``fast``); a sweep in
            one process compiles once, so ``True`` pays there even for short runs.
        **settings: fields of :class:`~gin_core.book.records.RunSettings` (``n_clusters``,
            ``n_points``, ``data_seed``, ``net_seed``, ``n_epochs``, ``lr``, ...); a name that is not
            one raises a ``TypeError``.

    Returns:
        An :class:`ArtificialRun`.

    References:
        Sorrenson et al. (2020), §4.3.1-4.3.2.
    """
    s = RunSettings(**settings)
    eval_epochs = tuple(sorted(set(int(e) for e in eval_epochs)))
    if any(e <= 0 or e >= s.n_epochs for e in eval_epochs):
        raise ValueError(f"eval_epochs must lie strictly between 0 and n_epochs={s.n_epochs}, got {eval_epochs}")
    train_data, val_data = split_data(
        s.n_clusters, s.n_points, s.data_seed, s.n_val, s.n_latent, s.variances, s.mixing_points, s.mixing,
        s.permute_labels,
    )  # fmt: skip
    net = make_learner(s.init, s.volume_preserving, s.net_seed)
    trajectory = []
    with tempfile.TemporaryDirectory() as tmp:
        if checkpoint is None and eval_epochs:
            checkpoint = Path(tmp) / "checkpoint.pt"
        seconds = 0.0
        for stop in (*eval_epochs, s.n_epochs):
            t0 = time.perf_counter()
            history = train(
                net,
                train_data.x,
                train_data.u,
                s.n_clusters,
                n_epochs=stop,
                lr=s.lr,
                batch_size=s.batch_size,
                milestones=tuple(s.milestones),
                noise=s.noise,
                seed=s.net_seed,
                checkpoint=checkpoint,
                checkpoint_every=max(s.n_epochs, 1),
                device=device,
                progress=progress,
                dataset=train_data.description,
                fast=fast,
            )
            seconds += time.perf_counter() - t0
            if stop < s.n_epochs:
                ev = evaluate_run(net, train_data, val_data, with_affine=False)
                trajectory.append({"epoch": stop, "loss": history.loss[-1], **_short(ev)})
    evaluation = evaluate_run(net, train_data, val_data)
    if eval_epochs:
        trajectory.append({"epoch": s.n_epochs, "loss": history.loss[-1], **_short(evaluation)})
    return ArtificialRun(s.record(), net, train_data, val_data, history, evaluation, trajectory, seconds)


def scrambling_scales(seed: int, spread: float = 1.0) -> torch.Tensor:
    """Random positive scales with product exactly 1: ``exp(e - mean(e))``, ``e ~ N(0, spread^2)`` (10 values)."""
    g = torch.Generator().manual_seed(int(seed) + 2_000_003)
    e = torch.randn(10, generator=g, dtype=torch.float64) * spread
    return torch.exp(e - e.mean())


def make_learner(init: str = "identity", volume_preserving: bool = True, seed: int = 0) -> InvertibleSequential:
    """The network a run trains: the GIN of Table 2, with the initialisation of :func:`run_artificial`'s ``init``."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    net = artificial_gin(volume_preserving=volume_preserving, seed=seed, zero_init_last=init != "random")
    if init == "scrambled":
        scaling = DiagonalScaling(scrambling_scales(seed).log().float())
        net = InvertibleSequential([*net.layers, scaling], net.input_shape)
    return net


def _short(ev: Evaluation) -> dict:
    return {
        "mcc": ev.mcc,
        "top_mcc": ev.top_mcc,
        "n_informative": ev.n_informative,
        "n_informative_gap": ev.n_informative_gap,
        "gap": ev.gap,
        "val_nll": ev.val_nll,
    }


def run_record(run: ArtificialRun) -> dict:
    """A JSON-ready record of a run: settings, results, final loss, wall time and trajectory."""
    return {
        **run.settings,
        **run.evaluation.summary(),
        "loss": run.history.loss[-1] if run.history.loss else None,
        "step": run.history.fast,
        "seconds": run.seconds,
        "trajectory": run.trajectory,
    }
