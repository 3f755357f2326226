"""The logged records of the artificial experiments: the settings that key them, where they live, what they say.

A run on artificial data (:func:`gin_core.book.runs.run_artificial`) is defined by its settings, one
:class:`RunSettings`. That dataclass is the **one** definition of those settings, their defaults and
their help texts; everything else is derived from it:

* the keyword arguments :func:`~gin_core.book.runs.run_artificial` takes (``RunSettings(**settings)``);
* the fields a record is found by, :data:`RECORD_KEYS` (every setting and the data generator's
  version), and the defaults of settings that older records lack (:data:`ADDED_LATER`);
* the command line of ``bench/artificial_sweep.py`` (:func:`add_setting_arguments`,
  :func:`settings_from_arguments`).

A sweep's records are a JSON list in ``bench/results`` (:func:`results_path`), one dict per run
(:func:`gin_core.book.runs.run_record`), added one at a time by :func:`add_record` as runs finish.
Chapters read them (:func:`load_records`, :func:`filter_records`, :func:`by_data_seed`) and judge
them (:func:`success`, :func:`splits_variable`, :func:`sweep_summary`); :func:`markdown_table`
prints rows.

This module draws no figures and trains nothing.

References:
    Sorrenson et al. (2020), §4.3.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..artificial import GENERATOR_VERSION, MIXINGS, REFERENCE_POINTS
from ..checkpoints import save_json
from ..training import hold_lock
from .settings import results_dir

__all__ = [
    "INITS",
    "RunSettings",
    "DEFAULTS",
    "RECORD_KEYS",
    "ADDED_LATER",
    "SWEEP_AXES",
    "add_setting_arguments",
    "settings_from_arguments",
    "record_key",
    "add_record",
    "read_cache",
    "results_path",
    "load_records",
    "filter_records",
    "by_data_seed",
    "success",
    "splits_variable",
    "sweep_summary",
    "markdown_table",
]


INITS = ("identity", "random", "scrambled")
"""The initialisations of a run's network (:class:`RunSettings`'s ``init``)."""


def _setting(default, text: str, flag: str | None = None, added_later: bool = False, **argument):
    """A field of :class:`RunSettings`: its default, its help text, and how the sweep's command line spells it.

    ``flag`` is the option's name when it is not ``--<name with dashes>``; ``argument`` holds further
    ``argparse`` options (``choices``, ``nargs``, ``action``). ``added_later``: older records lack the
    setting, and they were made with the default.
    """
    meta = {"help": text, "flag": flag, "added_later": added_later, "argument": argument}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunSettings:
    """The settings that define one run of the artificial experiments (§4.3); the defaults are experiment 1's.

    The paper's settings for experiment 1 (§4.3.1): 5 clusters, 100,000 points, Adam with lr 1e-2,
    batch 1000, noise 0.01, and the learning rate divided by 10 once the loss has converged (epoch
    50 of 80).

    Attributes:
        n_clusters: mixture components, 5 (experiment 1) or 3 (experiment 2).
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
    """

    n_clusters: int = _setting(5, "mixture components: 5 (experiment 1) or 3 (experiment 2)", flag="--clusters")
    n_points: int = _setting(100_000, "training points")
    data_seed: int = _setting(0, "seed of the data and the mixing network")
    net_seed: int = _setting(0, "seed of the network, the shuffling and the noise")
    n_epochs: int = _setting(80, "training epochs", flag="--epochs")
    lr: float = _setting(1e-2, "learning rate")
    milestones: tuple[int, ...] = _setting((50,), "epochs at which lr is divided by 10", flag="--drop", nargs="*")
    batch_size: int = _setting(1000, "batch size")
    noise: float = _setting(0.01, "standard deviation of the training noise")
    volume_preserving: bool = _setting(
        True, "GLOW-style (non-volume-preserving) ablation", flag="--glow", action="store_false"
    )
    n_val: int = _setting(10_000, "held-out points that score a run")
    n_latent: int = _setting(2, "informative latent variables of the data (2 in the paper)")
    variances: str = _setting("random", "shared: the negative control", choices=("random", "shared"))
    init: str = _setting("identity", "initialisation", choices=INITS)
    mixing_points: int = _setting(
        REFERENCE_POINTS, "which mixing network (gin_core.artificial.mixing_seed)", added_later=True
    )
    mixing: str = _setting("paper", "the mixing family", added_later=True, choices=MIXINGS)
    permute_labels: bool = _setting(
        False, "train on randomly permuted labels (a control)", added_later=True, action="store_true"
    )

    def record(self) -> dict:
        """The settings as a record holds them: ``milestones`` as a list, and the data generator's version."""
        out = asdict(self)
        out["milestones"] = list(self.milestones)
        return {**out, "generator": GENERATOR_VERSION}


DEFAULTS: dict = {f.name: f.default for f in fields(RunSettings)}
"""Every setting's default, as :class:`RunSettings` defines it."""

RECORD_KEYS: tuple[str, ...] = (*DEFAULTS, "generator")
"""The fields a record is found by: every setting, and the data generator's version."""

ADDED_LATER: dict = {f.name: f.default for f in fields(RunSettings) if f.metadata["added_later"]}
"""Settings that older records lack; those runs used the default."""

SWEEP_AXES = ("data_seed", "net_seed")
"""Settings a seed sweep varies (the command line takes lists of them: ``--data-seeds``, ``--net-seeds``)."""


def _flag(f) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_setting_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one command-line option per setting of :class:`RunSettings` (the seeds excepted: :data:`SWEEP_AXES`).

    Arguments:
        parser: the parser to extend.

    Returns:
        The same parser; :func:`settings_from_arguments` reads the settings back from its result.
    """
    for f in fields(RunSettings):
        if f.name in SWEEP_AXES:
            continue
        argument = dict(f.metadata["argument"])
        if "action" not in argument:
            kind = type(f.default[0]) if isinstance(f.default, tuple) else type(f.default)
            argument["type"] = kind
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        parser.add_argument(_flag(f), dest=f.name, default=default, help=f.metadata["help"], **argument)
    return parser


def settings_from_arguments(args: argparse.Namespace) -> dict:
    """The settings (all but the seeds) that :func:`add_setting_arguments`'s options parsed, ``milestones`` as a tuple.

    Arguments:
        args: the parsed namespace.

    Returns:
        Keyword arguments of :func:`~gin_core.book.runs.run_artificial`.
    """
    out = {f.name: getattr(args, f.name) for f in fields(RunSettings) if f.name not in SWEEP_AXES}
    out["milestones"] = tuple(out["milestones"])
    return out


def record_key(record: dict) -> str:
    """What identifies a record's run: its :data:`RECORD_KEYS`, older records' missing ones at their defaults.

    A record of an older data generator never matches a request of this code (``generator`` differs).
    """
    return json.dumps([record.get(k, ADDED_LATER.get(k)) for k in RECORD_KEYS])


def read_cache(cache: Path | None) -> list[dict]:
    """The records of a seed sweep's JSON file (none when ``cache`` is ``None`` or missing)."""
    return json.loads(cache.read_text()) if cache is not None and cache.is_file() else []


def add_record(cache: Path, record: dict) -> dict:
    """Add ``record`` to the JSON list ``cache`` unless a record of its key is there; returns the one kept.

    The file is re-read and rewritten atomically (:func:`gin_core.checkpoints.save_json`) while a
    lock beside it is held, so concurrent sweeps into one file neither lose nor double a record.

    Arguments:
        cache: the JSON file.
        record: a run's record (:func:`~gin_core.book.runs.run_record`).

    Returns:
        The record the file holds for that run.
    """
    key = record_key(record)
    with hold_lock(cache.with_name(f".{cache.name}.lock"), wait=None):
        records = read_cache(cache)
        kept = next((r for r in records if record_key(r) == key), None)
        if kept is None:
            save_json(cache, [*records, record])
        return record if kept is None else kept


def results_path(name: str) -> Path:
    """The logged records ``<book root>/bench/results/<name>`` that ``bench/artificial_sweep.py`` writes."""
    return results_dir() / name


def load_records(path: str | Path) -> list[dict]:
    """Read records written by :func:`~gin_core.book.restarts.seed_sweep`.

    Arguments:
        path: the JSON file.

    Returns:
        The records, in the file's order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path}; run the bench script that writes it")
    return json.loads(path.read_text())


def filter_records(records: list[dict], **settings) -> list[dict]:
    """The records whose settings match all of ``settings`` (e.g. ``n_points=10_000, net_seed=0``).

    Raises a ``ValueError`` when nothing matches, so that a typo cannot silently give an empty table.

    Arguments:
        records: sweep records.
        **settings: fields and the values they must have (tuples compare as lists).

    Returns:
        The matching records, in order.
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


def success(record: dict, threshold: float = 0.95, knee: str = "book") -> bool:
    """A clean recovery: the right dimension read off the spectrum, and the variables it marks informative
    are the true ones (top-spectrum MCC at least ``threshold``).

    Arguments:
        record: a run record (:func:`~gin_core.book.runs.run_record`).
        threshold: the least top-spectrum MCC.
        knee: ``"book"`` (the book's rule, ``n_informative``) or ``"max_gap"`` (``n_informative_gap``).

    Returns:
        Whether the run succeeded.
    """
    if knee not in ("book", "max_gap"):
        raise ValueError(f"knee must be 'book' or 'max_gap', got {knee!r}")
    detected = record["n_informative"] if knee == "book" else record["n_informative_gap"]
    return bool(record["top_mcc"] >= threshold and detected == record.get("n_latent", 2))


def sweep_summary(records: list[dict], threshold: float = 0.95) -> dict:
    """Counts over a sweep's records: successes by either knee rule, and why the failures failed.

    Arguments:
        records: a sweep's records.
        threshold: the least top-spectrum MCC of a success.

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

    Arguments:
        record: a run record.
        threshold: the MCC below which a run is low.

    Returns:
        Whether the run split a variable.

    References:
        Sorrenson et al. (2020), §4.3.1 and Fig. 7.
    """
    sparse = record["affine_sparse"] if "affine_sparse" in record else record["affine_sparse_A1_only"]
    return bool(record["mcc"] < threshold and not sparse)


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """A Markdown table of ``rows`` with ``columns = {field: format spec}`` (header: the field name).

    ``bool`` values print as yes/no; a format spec of ``""`` prints ``str(value)``.

    Arguments:
        rows: one dict per row.
        columns: the fields shown, in order, with their format specs.

    Returns:
        The table's Markdown text.
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
