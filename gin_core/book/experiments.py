"""Experiments 1 and 2 on artificial data (§4.3): one run, its evaluation, seed sweeps, restarts and baselines.

A run trains the GIN of Table 2 on :func:`~gin_core.artificial.make_artificial_data` and
measures what the paper's Figs. 2 and 6-8 show: the spectrum of the estimated latent, the
number of informative variables read off it, and how well the two most important variables
recover the true ones (MCC after matching, and the affine fit of eq. 4).

A held-out part of the data gives an *observable* score of a run, its held-out negative
log-likelihood; :func:`select_restart` uses it to pick one of several restarts without
looking at the ground truth.

References:
    Sorrenson et al. (2020), §4.3, Appendix E.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..artificial import GENERATOR_VERSION, REFERENCE_POINTS, ArtificialData, make_artificial_data
from ..checkpoints import save_json
from ..flows import DiagonalScaling, InvertibleSequential, encode
from ..likelihood import heldout_nll
from ..metrics import AffineFit, Spectrum, affine_fit, count_informative, latent_spectrum, mcc
from ..networks import artificial_gin
from ..training import History, hold_lock, train
from .atlas import DEFAULT_KNEE
from .benchmark import purity
from .settings import results_dir
from .sweeps import Task, run_sweep

__all__ = [
    "split_data",
    "validation_nll",
    "Evaluation",
    "evaluate_run",
    "ArtificialRun",
    "run_artificial",
    "run_record",
    "make_learner",
    "scrambling_scales",
    "seed_sweep",
    "sweep_executor",
    "select_restart",
    "success",
    "marginal_valley",
    "LinearBaseline",
    "linear_baseline",
    "load_records",
    "filter_records",
    "by_data_seed",
    "apply_restart_rule",
    "markdown_table",
    "results_path",
    "Protocol",
    "run_protocol",
    "protocol_score",
    "knee_ratio",
    "sweep_summary",
    "splits_variable",
]

INITS = ("identity", "random", "scrambled")


def results_path(name: str) -> Path:
    """The logged records ``<book root>/bench/results/<name>`` that ``bench/artificial_sweep.py`` writes."""
    return results_dir() / name


def _subset(data: ArtificialData, index: slice) -> ArtificialData:
    return ArtificialData(
        x=data.x[index],
        u=data.u[index],
        z=data.z[index],
        means=data.means,
        stds=data.stds,
        seed=data.seed,
        variances=data.variances,
        mixing_points=data.mixing_points,
        mixing=data.mixing,
    )


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
    train_part = _subset(data, slice(0, n_points))
    return train_part, (_subset(data, slice(n_points, None)) if n_val else None)


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
        settings: the arguments of :func:`run_artificial` that define the run.
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
    n_clusters: int = 5,
    n_points: int = 100_000,
    data_seed: int = 0,
    net_seed: int = 0,
    n_epochs: int = 80,
    lr: float = 1e-2,
    milestones: tuple[int, ...] = (50,),
    batch_size: int = 1000,
    noise: float = 0.01,
    volume_preserving: bool = True,
    n_val: int = 10_000,
    n_latent: int = 2,
    variances: str = "random",
    init: str = "identity",
    mixing_points: int = REFERENCE_POINTS,
    mixing: str = "paper",
    permute_labels: bool = False,
    eval_epochs: tuple[int, ...] = (),
    checkpoint: str | Path | None = None,
    device=None,
    progress: bool = False,
    fast: bool | str = "auto",
) -> ArtificialRun:
    """Train the GIN of Table 2 on the artificial data and evaluate it.

    The defaults are the paper's settings for experiment 1 (§4.3.1): 5 clusters, 100,000
    points, Adam with lr 1e-2, batch 1000, noise 0.01, and the learning rate divided by 10
    once the loss has converged (epoch 50 of 80).

    Arguments:
        n_clusters: 5 (experiment 1) or 3 (experiment 2).
        n_points: training points (100,000; 10,000 for Fig. 7).
        data_seed: seed of the data and of the mixing network.
        net_seed: seed of the network's initialisation, the shuffling and the noise.
        n_epochs, lr, milestones, batch_size, noise: as in :func:`~gin_core.training.train`.
        volume_preserving: GIN (true) or the GLOW-style ablation (false).
        n_val: held-out points used to score the run (not trained on).
        n_latent: informative latent variables of the data (2 in the paper).
        variances: ``"random"`` (the paper's data) or ``"shared"`` (negative control).
        init: ``"identity"`` (the paper: every block starts as the identity), ``"random"`` (the
            last layer of each subnetwork randomly initialised too, so the flow starts as a random
            volume-preserving map) or ``"scrambled"`` (identity blocks followed by a fixed
            diagonal rescaling with product 1, log-scales drawn from N(0, 1) with ``net_seed``
            and centred; the knee-origin experiment).
        mixing_points: which mixing network (:func:`~gin_core.artificial.mixing_seed`; the default is the
            same for every data size).
        mixing: the mixing family (:data:`~gin_core.artificial.MIXINGS`; ``"paper"`` reproduces §4.3).
        permute_labels: train on randomly permuted labels (a control that must fail).
        eval_epochs: epochs (``< n_epochs``) after which to evaluate as well, for a
            trajectory; training continues exactly (resume from a checkpoint).
        checkpoint: checkpoint file (default: a temporary one when ``eval_epochs`` is set).
            An existing file is resumed.
        device: training device (default CUDA if available).
        progress: show a progress bar.
        fast: the compiled training step (:func:`~gin_core.training.train`'s ``fast``); a sweep in
            one process compiles once, so ``True`` pays there even for short runs.

    Returns:
        An :class:`ArtificialRun`.

    References:
        Sorrenson et al. (2020), §4.3.1-4.3.2.
    """
    eval_epochs = tuple(sorted(set(int(e) for e in eval_epochs)))
    if any(e <= 0 or e >= n_epochs for e in eval_epochs):
        raise ValueError(f"eval_epochs must lie strictly between 0 and n_epochs={n_epochs}, got {eval_epochs}")
    settings = dict(
        n_clusters=n_clusters,
        n_points=n_points,
        data_seed=data_seed,
        net_seed=net_seed,
        n_epochs=n_epochs,
        lr=lr,
        milestones=list(milestones),
        batch_size=batch_size,
        noise=noise,
        volume_preserving=volume_preserving,
        n_val=n_val,
        n_latent=n_latent,
        variances=variances,
        init=init,
        mixing_points=mixing_points,
        mixing=mixing,
        permute_labels=permute_labels,
        generator=GENERATOR_VERSION,
    )
    train_data, val_data = split_data(
        n_clusters, n_points, data_seed, n_val, n_latent, variances, mixing_points, mixing, permute_labels
    )
    net = make_learner(init, volume_preserving, net_seed)
    trajectory = []
    with tempfile.TemporaryDirectory() as tmp:
        if checkpoint is None and eval_epochs:
            checkpoint = Path(tmp) / "checkpoint.pt"
        seconds = 0.0
        for stop in (*eval_epochs, n_epochs):
            t0 = time.perf_counter()
            history = train(
                net,
                train_data.x,
                train_data.u,
                n_clusters,
                n_epochs=stop,
                lr=lr,
                batch_size=batch_size,
                milestones=tuple(milestones),
                noise=noise,
                seed=net_seed,
                checkpoint=checkpoint,
                checkpoint_every=max(n_epochs, 1),
                device=device,
                progress=progress,
                dataset=train_data.description,
                fast=fast,
            )
            seconds += time.perf_counter() - t0
            if stop < n_epochs:
                ev = evaluate_run(net, train_data, val_data, with_affine=False)
                trajectory.append({"epoch": stop, "loss": history.loss[-1], **_short(ev)})
    evaluation = evaluate_run(net, train_data, val_data)
    if eval_epochs:
        trajectory.append({"epoch": n_epochs, "loss": history.loss[-1], **_short(evaluation)})
    return ArtificialRun(settings, net, train_data, val_data, history, evaluation, trajectory, seconds)


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


# added later; records without them used the defaults
_KEY_DEFAULTS = {"mixing_points": REFERENCE_POINTS, "mixing": "paper", "permute_labels": False}


def _key(record: dict, keys: tuple[str, ...]) -> str:
    # records of older code lack the newer settings: they never match a new request
    return json.dumps([record.get(k, _KEY_DEFAULTS.get(k)) for k in keys])


_SETTING_KEYS = (
    "n_clusters",
    "n_points",
    "data_seed",
    "net_seed",
    "n_epochs",
    "lr",
    "milestones",
    "batch_size",
    "noise",
    "volume_preserving",
    "n_val",
    "n_latent",
    "variances",
    "init",
    "mixing_points",
    "mixing",
    "permute_labels",
    "generator",
)


_EXECUTOR: contextvars.ContextVar[tuple] = contextvars.ContextVar("seed_sweep_executor", default=("serial", None))


@contextlib.contextmanager
def sweep_executor(executor="processes", workers: int | None = None) -> Iterator[None]:
    """Run the missing runs of every :func:`seed_sweep` in the ``with`` block through ``executor``.

    :func:`seed_sweep` runs them one after another in the calling process by default (the
    ``"serial"`` executor of :func:`gin_core.book.sweeps.run_sweep`, at the caller's thread
    count). Inside this block they go to local processes (one thread each, one process per core)
    or a Dask cluster; :func:`run_protocol` and the chapters' sweeps follow, their arguments
    unchanged. Each run is still one lone run (no ensembles), so the records are those of the
    serial sweep (bit for bit on CPU at one thread).

    Arguments:
        executor: ``"processes"``, ``"serial"`` or a ``distributed.Client``.
        workers: local processes (default: one per core).

    Example:
        >>> with sweep_executor("processes", workers=2):  # doctest: +SKIP
        ...     seed_sweep(range(10), cache="bench/results/artificial_exp1_paper.json")
    """
    if not (executor in ("processes", "serial") or hasattr(executor, "scheduler_info")):
        raise ValueError(f"executor must be 'processes', 'serial' or a distributed.Client, got {executor!r}")
    token = _EXECUTOR.set((executor, workers))
    try:
        yield
    finally:
        _EXECUTOR.reset(token)


def seed_sweep(
    data_seeds, net_seeds=(0,), cache: str | Path | None = None, log=print, fast: bool | str = "auto", **settings
) -> list[dict]:
    """Run :func:`run_artificial` over data seeds and network seeds, caching every record.

    Records already in ``cache`` (a JSON list written by this function) for the same
    settings are reused, not recomputed. The missing runs go through the sweep runner
    (:func:`gin_core.book.sweeps.run_sweep`): one after another in this process, or as
    :func:`sweep_executor` says. Each new record is added to the file as soon as its run
    finishes, so an interrupted sweep resumes where it stopped; the file is re-read and rewritten
    atomically under a lock for each record, so two sweeps into one file lose and double no record.

    Arguments:
        data_seeds: seeds of the data sets.
        net_seeds: seeds of the network initialisation (restarts).
        cache: JSON file of records, or ``None``.
        log: called with a one-line summary per run (``None`` for silence).
        fast: the training step of every run (:func:`run_artificial`; ``True``: compiled once for the
            whole sweep). Not part of a record's key: compiled and eager runs agree to rounding.
        **settings: further arguments of :func:`run_artificial` (``eval_epochs``, ``device`` and
            ``progress`` are not part of a record's key).

    Returns:
        One record (see :func:`run_record`) per (data seed, net seed), in sweep order.

    Raises:
        ValueError: a setting that :func:`run_artificial` does not take (or ``checkpoint``: a sweep's
            runs cannot share one).
    """
    unknown = sorted(set(settings) - set(_RUN_ARGS))
    if unknown:
        raise ValueError(f"seed_sweep got settings that run_artificial does not take per sweep: {unknown}")
    cache = Path(cache) if cache is not None else None
    known = {
        _key(r, _SETTING_KEYS): r
        for r in (json.loads(cache.read_text()) if cache is not None and cache.is_file() else [])
    }
    defaults = {k: v.default for k, v in _signature_defaults().items()}
    options = {"fast": fast, **{k: settings.pop(k) for k in _UNKEYED if k in settings}}
    wanted = []
    for data_seed in data_seeds:
        for net_seed in net_seeds:
            run = {**defaults, **settings, "data_seed": int(data_seed), "net_seed": int(net_seed)}
            run["milestones"] = list(run["milestones"])
            wanted.append({**run, "generator": GENERATOR_VERSION})
    keys = [_key(w, _SETTING_KEYS) for w in wanted]
    missing = list({key: w for key, w in zip(keys, wanted) if key not in known}.values())  # each run once

    def finished(entry: dict) -> None:
        record = entry["result"]  # run_record's record, as the run wrote it (JSON)
        known[_key(entry["settings"], _SETTING_KEYS)] = _add_record(cache, record) if cache is not None else record
        if log is not None:
            log(
                f"data_seed={record['data_seed']} net_seed={record['net_seed']}: mcc={record['mcc']:.3f} "
                f"top_mcc={record['top_mcc']:.3f} dim={record['n_informative']} "
                f"(largest gap {record['n_informative_gap']}) val_nll={record['val_nll']:.4f} "
                f"{record['seconds']:.0f}s"
            )

    if missing:
        executor, workers = _EXECUTOR.get()
        task = Task(run=functools.partial(_seed_run, options=options))
        with tempfile.TemporaryDirectory(prefix="seed_sweep_") as store:  # the cache file is the lasting store
            run_sweep(
                missing, task, store, executor=executor, workers=workers, pack=1, progress=False,
                threads=None if executor == "serial" else 1, on_record=finished,
            )  # fmt: skip
    return [known[key] for key in keys]


_UNKEYED = ("eval_epochs", "device", "progress")  # arguments of a run that its record is not keyed by
_RUN_ARGS = (*(k for k in _SETTING_KEYS if k not in ("generator", "data_seed", "net_seed")), *_UNKEYED)


def _seed_run(settings: dict, options: dict) -> dict:
    """One run of :func:`seed_sweep` (a sweep task's ``run``): :func:`run_artificial` on its settings, its record."""
    arguments = {k: v for k, v in settings.items() if k != "generator"}
    return run_record(run_artificial(**arguments, **options))


def _add_record(cache: Path, record: dict) -> dict:
    """Add ``record`` to the JSON list ``cache`` unless a record of its key is there; returns the one kept.

    The file is re-read and rewritten atomically (:func:`gin_core.checkpoints.save_json`) while a
    lock beside it is held, so concurrent sweeps into one file neither lose nor double a record.
    """
    key = _key(record, _SETTING_KEYS)
    with hold_lock(cache.with_name(f".{cache.name}.lock"), wait=None):
        records = json.loads(cache.read_text()) if cache.is_file() else []
        kept = next((r for r in records if _key(r, _SETTING_KEYS) == key), None)
        if kept is None:
            save_json(cache, [*records, record])
        return record if kept is None else kept


def _signature_defaults():
    return {k: v for k, v in inspect.signature(run_artificial).parameters.items() if k in _SETTING_KEYS}


def select_restart(records: list[dict], score: str = "val_nll") -> dict:
    """The restart with the lowest observable ``score`` (default: held-out NLL).

    Arguments:
        records: records of runs on the *same* data set with different network seeds.
        score: the record field to minimise; must not use the ground truth.

    Returns:
        The chosen record.
    """
    if not records:
        raise ValueError("no records to select from")
    if len({r["data_seed"] for r in records}) != 1:
        raise ValueError("select_restart compares restarts on one data set; got several data seeds")
    if score in ("mcc", "top_mcc", "correlations", "affine_sparse", "affine_row_share"):
        raise ValueError(f"{score!r} uses the ground truth; a selection rule must use an observable quantity")
    values = [r[score] for r in records]
    if any(v is None or not math.isfinite(v) for v in values):
        raise ValueError(f"every record needs a finite {score!r}; got {values}")
    return records[int(np.argmin(values))]


def success(record: dict, threshold: float = 0.95, knee: str = "book") -> bool:
    """A clean recovery: the right dimension read off the spectrum, and the variables it marks informative
    are the true ones (top-spectrum MCC at least ``threshold``).

    Arguments:
        record: a run record (:func:`run_record`).
        threshold: the least top-spectrum MCC.
        knee: ``"book"`` (the book's rule, ``n_informative``) or ``"max_gap"`` (``n_informative_gap``).
    """
    if knee not in ("book", "max_gap"):
        raise ValueError(f"knee must be 'book' or 'max_gap', got {knee!r}")
    detected = record["n_informative"] if knee == "book" else record["n_informative_gap"]
    return bool(record["top_mcc"] >= threshold and detected == record.get("n_latent", 2))


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


@dataclass
class LinearBaseline:
    """A linear method's estimate of the latent and how it scores.

    Attributes:
        name: ``"PCA"`` or ``"FastICA"``.
        w: its components of the data, ``(N, 10)``.
        spectrum: class-conditional spectrum of ``w`` (as for GIN).
        n_informative: dimension read off the spectrum.
        mcc: MCC of the two true informative variables against ``w``.
        seconds: fit time.
    """

    name: str
    w: np.ndarray
    spectrum: Spectrum
    n_informative: int
    mcc: float
    seconds: float


def linear_baseline(name: str, data: ArtificialData, seed: int = 0) -> LinearBaseline:
    """Fit PCA or FastICA (scikit-learn) to the observed data and score it like GIN.

    Arguments:
        name: ``"PCA"`` or ``"FastICA"``.
        data: the artificial data.
        seed: random state of FastICA.

    Returns:
        A :class:`LinearBaseline`.
    """
    from sklearn.decomposition import PCA, FastICA

    if name == "PCA":
        model = PCA(n_components=data.x.shape[1])
    elif name == "FastICA":
        model = FastICA(n_components=data.x.shape[1], random_state=seed, max_iter=1000, whiten="unit-variance")
    else:
        raise ValueError(f"unknown baseline {name!r}; expected 'PCA' or 'FastICA'")
    t0 = time.perf_counter()
    w = model.fit_transform(data.x.double().numpy())
    seconds = time.perf_counter() - t0
    spectrum = latent_spectrum(w, data.u)
    k = count_informative(spectrum, DEFAULT_KNEE[0], **DEFAULT_KNEE[1])
    return LinearBaseline(name, w, spectrum, k, mcc(data.z[:, : data.n_informative].numpy(), w), seconds)


def load_records(path: str | Path) -> list[dict]:
    """Read records written by :func:`seed_sweep`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path}; run the bench script that writes it")
    return json.loads(path.read_text())


def filter_records(records: list[dict], **settings) -> list[dict]:
    """The records whose settings match all of ``settings`` (e.g. ``n_points=10_000, net_seed=0``).

    Raises a ``ValueError`` when nothing matches, so that a typo cannot silently give an empty table.
    """
    for key in settings:
        if records and key not in records[0]:
            raise KeyError(f"records have no field {key!r}; fields are {sorted(records[0])}")
    norm = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    out = [r for r in records if all(r[k] == v for k, v in norm.items())]
    if not out:
        raise ValueError(f"no record matches {settings}")
    return out


def by_data_seed(records: list[dict]) -> dict[int, list[dict]]:
    """Group records by data seed (sorted), keeping their order within a group."""
    groups: dict[int, list[dict]] = {}
    for r in records:
        groups.setdefault(int(r["data_seed"]), []).append(r)
    return dict(sorted(groups.items()))


def apply_restart_rule(records: list[dict], net_seeds, score: str = "val_nll") -> dict[int, dict]:
    """For every data seed, the restart among ``net_seeds`` that :func:`select_restart` picks.

    Arguments:
        records: sweep records (several data seeds and network seeds, same settings).
        net_seeds: the restarts the rule may choose from; each must be present for every data seed.
        score: observable score to minimise.

    Returns:
        ``{data_seed: chosen record}``.
    """
    net_seeds = [int(s) for s in net_seeds]
    chosen = {}
    for data_seed, group in by_data_seed(records).items():
        pool = [r for r in group if int(r["net_seed"]) in net_seeds]
        missing = set(net_seeds) - {int(r["net_seed"]) for r in pool}
        if missing:
            raise ValueError(f"data seed {data_seed} lacks runs for network seeds {sorted(missing)}")
        chosen[data_seed] = select_restart(pool, score)
    return chosen


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """A Markdown table of ``rows`` with ``columns = {field: format spec}`` (header: the field name).

    ``bool`` values print as yes/no; a format spec of ``""`` prints ``str(value)``.
    """
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    lines = []
    for row in rows:
        cells = []
        for key, spec in columns.items():
            value = row[key]
            if isinstance(value, bool):
                cells.append("yes" if value else "no")
            else:
                cells.append(format(value, spec) if spec else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines)


@dataclass(frozen=True)
class Protocol:
    """How the book runs GIN on a new artificial data set, using observable quantities only.

    Attributes:
        n_epochs, milestones: the schedule (epochs; epochs at which the learning rate is divided by 10).
        knee: the dimension is read with ``"book"`` (:data:`~gin_core.book.atlas.DEFAULT_KNEE`) or ``"max_gap"``.
        net_seeds: the network seeds a data set may use, in order (the first is always run).
        restart_when: ``"never"`` (one run), ``"always"`` (every seed in ``net_seeds``), ``"disagree"``
            (the next seed only while the two knee rules disagree on the last run) or ``"weak_knee"`` (the
            next seed only while the last run's :func:`knee_ratio` is below ``min_knee_ratio``).
        select_by: the observable score that picks among a data set's runs: ``"val_nll"`` (lowest
            held-out NLL) or ``"knee"`` (largest :func:`knee_ratio`).
        min_knee_ratio: the knee ratio below which ``"weak_knee"`` restarts.
    """

    n_epochs: int = 30
    milestones: tuple[int, ...] = (10,)
    knee: str = "book"
    net_seeds: tuple[int, ...] = (0,)
    restart_when: str = "never"
    select_by: str = "val_nll"
    min_knee_ratio: float = 5.0

    def __post_init__(self):
        if self.knee not in ("book", "max_gap"):
            raise ValueError(f"knee must be 'book' or 'max_gap', got {self.knee!r}")
        if self.restart_when not in ("never", "always", "disagree", "weak_knee"):
            raise ValueError(
                f"restart_when must be 'never', 'always', 'disagree' or 'weak_knee', got {self.restart_when!r}"
            )
        if self.select_by not in ("val_nll", "knee"):
            raise ValueError(f"select_by must be 'val_nll' or 'knee', got {self.select_by!r}")
        if not self.net_seeds:
            raise ValueError("a protocol needs at least one network seed")

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["milestones"], out["net_seeds"] = list(self.milestones), list(self.net_seeds)
        return out


def _disagree(record: dict) -> bool:
    return record["n_informative"] != record["n_informative_gap"]


def knee_ratio(record: dict, knee: str = "book") -> float:
    """How clearly a run's spectrum shows its knee: sigma_k / sigma_(k+1) at the detected dimension k.

    Observable (no ground truth). 1 when the knee rule finds no variable or every variable.
    """
    k = record["n_informative"] if knee == "book" else record["n_informative_gap"]
    std = record["spectrum"]
    return float(std[k - 1] / std[k]) if 0 < k < len(std) else 1.0


def _restart(protocol: Protocol, last: dict) -> bool:
    if protocol.restart_when == "always":
        return True
    if protocol.restart_when == "disagree":
        return _disagree(last)
    if protocol.restart_when == "weak_knee":
        return knee_ratio(last, protocol.knee) < protocol.min_knee_ratio
    return False


def run_protocol(protocol: Protocol, data_seeds, cache=None, log=print, **settings) -> dict[int, dict]:
    """Apply a :class:`Protocol` to each data seed: train, restart when it says so, keep the best run.

    Arguments:
        protocol: the frozen protocol.
        data_seeds: data sets to run it on.
        cache: JSON file of records (see :func:`seed_sweep`), so that runs are made once.
        log: per-run log line (``None`` for silence).
        **settings: further arguments of :func:`run_artificial` (clusters, points, ...).

    Returns:
        ``{data_seed: record}``: the chosen run, with ``"runs"`` (how many were trained) added.
    """
    schedule = dict(n_epochs=protocol.n_epochs, milestones=tuple(protocol.milestones))
    chosen = {}
    for data_seed in data_seeds:
        runs = []
        for i, net_seed in enumerate(protocol.net_seeds):
            if i > 0 and not _restart(protocol, runs[-1]):
                break
            runs += seed_sweep([data_seed], [net_seed], cache=cache, log=log, **schedule, **settings)
        if protocol.select_by == "knee":
            scored = [{**r, "minus_knee_ratio": -knee_ratio(r, protocol.knee)} for r in runs]
            best = select_restart(scored, "minus_knee_ratio")
        else:
            best = select_restart(runs, protocol.select_by)
        chosen[int(data_seed)] = {**best, "runs": len(runs)}
    return chosen


def protocol_score(protocol: Protocol, chosen: dict[int, dict], threshold: float = 0.95) -> dict:
    """Successes of a protocol's chosen runs (top-spectrum MCC and dimension by the protocol's knee rule)."""
    ok = {seed: success(r, threshold, knee=protocol.knee) for seed, r in chosen.items()}
    return {
        "successes": sum(ok.values()),
        "data_sets": len(ok),
        "runs": sum(r["runs"] for r in chosen.values()),
        "per_seed": {
            str(s): {
                "success": ok[s],
                "net_seed": r["net_seed"],
                "top_mcc": r["top_mcc"],
                "n_informative": r["n_informative"],
                "n_informative_gap": r["n_informative_gap"],
                "val_nll": r["val_nll"],
                "knee_ratio": knee_ratio(r, protocol.knee),
            }
            for s, r in chosen.items()
        },
    }


def sweep_summary(records: list[dict], threshold: float = 0.95) -> dict:
    """Counts over a sweep's records: successes by either knee rule, and why the failures failed.

    Returns:
        ``{"runs", "ok", "ok_gap", "misread", "low_top_mcc", "min_top_mcc", "median_top_mcc"}``: successes by the
        book's rule and by the largest drop; failures (book's rule) with the wrong dimension, and with the right
        dimension but a top-spectrum MCC below ``threshold``; the least and median top-spectrum MCC.
    """
    if not records:
        raise ValueError("no records to summarise")
    failed = [r for r in records if not success(r, threshold)]
    top = [r["top_mcc"] for r in records]
    return {
        "runs": len(records),
        "ok": len(records) - len(failed),
        "ok_gap": sum(success(r, threshold, knee="max_gap") for r in records),
        "misread": sum(r["n_informative"] != r.get("n_latent", 2) for r in failed),
        "low_top_mcc": sum(r["n_informative"] == r.get("n_latent", 2) for r in failed),
        "min_top_mcc": float(min(top)),
        "median_top_mcc": float(np.median(top)),
    }


def splits_variable(record: dict, threshold: float = 0.95) -> bool:
    """Whether a run split a true variable across several estimated ones (the failure of the paper's Fig. 7).

    A low MCC (below ``threshold``) together with a fit of eq. (4) that is not sparse. Records of
    generator 1 kept only the older sparsity check (block A1 of eq. 4, ``affine_sparse_A1_only``); a
    fit that is not sparse by it is not sparse by the full check either.

    References:
        Sorrenson et al. (2020), §4.3.1 and Fig. 7.
    """
    sparse = record["affine_sparse"] if "affine_sparse" in record else record["affine_sparse_A1_only"]
    return bool(record["mcc"] < threshold and not sparse)
