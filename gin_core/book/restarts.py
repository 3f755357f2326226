"""Seed sweeps and restarts: many runs on artificial data, cached, and the observable rule that picks among restarts.

* :func:`seed_sweep` runs :func:`~gin_core.book.runs.run_artificial` over data seeds and network
  seeds, reusing the records a JSON file already holds (:mod:`gin_core.book.records`) and sending the
  missing runs through the sweep runner (:func:`gin_core.book.sweeps.run_sweep`; where, as
  :func:`sweep_executor` says);
* :func:`select_restart` and :func:`apply_restart_rule` pick, per data set, the restart with the
  lowest held-out negative log-likelihood, a score that needs no ground truth;
* a :class:`Protocol` states how the book runs GIN on a new data set (schedule, knee rule, when to
  restart, how to choose); :func:`run_protocol` applies it and :func:`protocol_score` counts its
  successes; :func:`knee_ratio` is how clearly a run's spectrum shows its knee.

References:
    Sorrenson et al. (2020), §4.3.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artificial import GENERATOR_VERSION
from .records import DEFAULTS, SWEEP_AXES, add_record, by_data_seed, read_cache, record_key, success
from .runs import run_artificial, run_record
from .sweeps import Task, run_sweep

__all__ = [
    "seed_sweep",
    "sweep_executor",
    "select_restart",
    "apply_restart_rule",
    "Protocol",
    "run_protocol",
    "protocol_score",
    "knee_ratio",
]


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
    """Run :func:`~gin_core.book.runs.run_artificial` over data seeds and network seeds, caching every record.

    Records already in ``cache`` (a JSON list written by this function) for the same
    settings (:func:`~gin_core.book.records.record_key`) are reused, not recomputed. The missing
    runs go through the sweep runner (:func:`gin_core.book.sweeps.run_sweep`): one after another in
    this process, or as :func:`sweep_executor` says. Each new record is added to the file as soon as
    its run finishes (:func:`~gin_core.book.records.add_record`), so an interrupted sweep resumes
    where it stopped, and two sweeps into one file lose and double no record.

    Arguments:
        data_seeds: seeds of the data sets.
        net_seeds: seeds of the network initialisation (restarts).
        cache: JSON file of records, or ``None``.
        log: called with a one-line summary per run (``None`` for silence).
        fast: the training step of every run (:func:`~gin_core.book.runs.run_artificial`; ``True``:
            compiled once for the whole sweep). Not part of a record's key: compiled and eager runs
            agree to rounding.
        **settings: further settings (:class:`~gin_core.book.records.RunSettings`, the seeds
            excepted) and ``eval_epochs``, ``device`` and ``progress``, which are not part of a
            record's key.

    Returns:
        One record (see :func:`~gin_core.book.runs.run_record`) per (data seed, net seed), in sweep order.

    Raises:
        ValueError: a setting that :func:`~gin_core.book.runs.run_artificial` does not take per sweep
            (``checkpoint``: a sweep's runs cannot share one).
    """
    unknown = sorted(set(settings) - set(_RUN_ARGS))
    if unknown:
        raise ValueError(f"seed_sweep got settings that run_artificial does not take per sweep: {unknown}")
    cache = Path(cache) if cache is not None else None
    known = {record_key(r): r for r in read_cache(cache)}
    options = {"fast": fast, **{k: settings.pop(k) for k in _UNKEYED if k in settings}}
    wanted = []
    for data_seed in data_seeds:
        for net_seed in net_seeds:
            run = {**DEFAULTS, **settings, "data_seed": int(data_seed), "net_seed": int(net_seed)}
            run["milestones"] = list(run["milestones"])
            wanted.append({**run, "generator": GENERATOR_VERSION})
    keys = [record_key(w) for w in wanted]
    missing = list({key: w for key, w in zip(keys, wanted) if key not in known}.values())  # each run once

    def finished(entry: dict) -> None:
        record = entry["result"]  # run_record's record, as the run wrote it (JSON)
        known[record_key(entry["settings"])] = add_record(cache, record) if cache is not None else record
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
_RUN_ARGS = (*(k for k in DEFAULTS if k not in SWEEP_AXES), *_UNKEYED)


def _seed_run(settings: dict, options: dict) -> dict:
    """One run of :func:`seed_sweep` (a sweep task's ``run``): :func:`run_artificial` on its settings, its record."""
    arguments = {k: v for k, v in settings.items() if k != "generator"}
    return run_record(run_artificial(**arguments, **options))


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
