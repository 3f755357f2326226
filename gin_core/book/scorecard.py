r"""The scorecard chapter's rules and evidence: verdicts fixed before the numbers, and the numbers.

The chapter ``scorecard`` gives every claim of the paper a verdict (*reproduced*, *partly*, *not
reproduced*, *untested*) by a rule written down before any record is read. This module holds

* the **rules**: the thresholds (:data:`MCC_MIN`, :data:`ENOUGH`, ...) and one ``verdict_*``
  function per row of the table;
* the **logged evidence**: the seed sweeps of ``bench/results`` (:func:`load_sweeps`, with the
  commands that wrote them in :data:`SWEEP_ARGS`), and what the rows read off them
  (:func:`little_data_summary`, :func:`schedule_drift`);
* the **evidence computed when the page is built**: the learning-rate and GLOW-style runs of rows
  4a and 5 (:func:`ablation_runs`, :func:`glow_rescaling_change`) and the digits numbers of rows 6-8
  (:func:`digits_evidence`);
* the small figure the introduction opens with (:func:`plot_sweep_spectra`, which returns the
  Matplotlib Figure, as every figure function of the book does).

References:
    Sorrenson et al. (2020), §4.3 and §4.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..loss import class_conditional_nll
from ..metrics import count_informative, knee_prominence
from .atlas import effect_sizes, knee_table, pca_spectrum, prepare_atlas
from .records import filter_records, load_records, splits_variable, success
from .restarts import apply_restart_rule
from .runs import run_artificial

__all__ = [
    "MCC_MIN",
    "ENOUGH",
    "HALF",
    "SHARP",
    "PCA_FACTOR",
    "PAPER_K",
    "VERDICTS",
    "READINGS",
    "SWEEP_ARGS",
    "is_split",
    "verdict_sweep",
    "verdict_little",
    "verdict_low_lr",
    "verdict_schedule",
    "verdict_glow",
    "verdict_knee",
    "verdict_count",
    "verdict_crossed",
    "verdict_atlas",
    "Sweeps",
    "load_sweeps",
    "failures",
    "mcc_at",
    "little_data_summary",
    "schedule_drift",
    "ablation_runs",
    "glow_rescaling_change",
    "digits_evidence",
    "plot_sweep_spectra",
]

MCC_MIN = 0.95  # a run succeeds: top-spectrum MCC >= 0.95 and 2 variables above twice the median
ENOUGH, HALF = 0.9, 0.5  # shares of a reading's data sets: "reproduced" needs 90% (9 of 10), "partly" 50%
SHARP, PCA_FACTOR = 10.0, 3.0  # a sharp knee: P >= 10; and at least 3 times as prominent as PCA's
PAPER_K = 22  # the paper's count on EMNIST (§4.4.2)
VERDICTS = ("reproduced", "partly", "not reproduced", "untested")

#: the two logged readings of the paper's schedule: 80 epochs with lr / 10 at 50, and 30 with lr / 10 at 10
READINGS = {"80/50": dict(n_epochs=80, milestones=(50,)), "30/10": dict(n_epochs=30, milestones=(10,))}

#: the arguments of ``OMP_NUM_THREADS=1 python bench/artificial_sweep.py`` that wrote each record
#: ``bench/results/artificial_<name>.json``
SWEEP_ARGS = {
    "exp1_paper": "--name exp1_paper --data-seeds 0-9 --net-seeds 0 --eval-every 5",
    "exp1_drop10": "--name exp1_drop10 --data-seeds 0-9 --net-seeds 0 --epochs 30 --drop 10 --eval-every 5",
    "exp2_paper": "--name exp2_paper --clusters 3 --data-seeds 0-9 --net-seeds 0 --eval-every 10",
    "exp2_drop10": "--name exp2_drop10 --clusters 3 --data-seeds 0-9 --net-seeds 0 --epochs 30 --drop 10 --eval-every 5",
    "little_data": "--name little_data --n-points 10000 --n-val 1000 --data-seeds 0-9 --net-seeds 0-2 --eval-every 0",
    "exp1_paper_dev": "--eval-every 0 --name exp1_paper_dev --data-seeds 10-19",
    "exp1_drop10_dev": "--eval-every 0 --name exp1_drop10_dev --data-seeds 10-19 --epochs 30 --drop 10",
    "exp2_paper_dev": "--eval-every 0 --name exp2_paper_dev --clusters 3 --data-seeds 10-19",
    "exp2_drop10_dev": "--eval-every 0 --name exp2_drop10_dev --clusters 3 --data-seeds 10-19 --epochs 30 --drop 10",
}


# ---------------------------------------------------------------------------------------------
# The rules


def is_split(record: dict) -> bool:
    """Whether a run split a true variable: MCC below :data:`MCC_MIN` and a fit of eq. (4) that is not sparse.

    Arguments:
        record: a run record of a sweep.

    Returns:
        ``True`` for a split (the failure of the paper's Fig. 7).
    """
    return splits_variable(record, MCC_MIN)


def verdict_sweep(successes: dict) -> str:
    """Rows 1 and 3: every reading of the schedule succeeds on 90% of its data sets, or at least one on half.

    Arguments:
        successes: ``{reading: (successes, data sets)}``, every reading and seed group counted.

    Returns:
        ``"reproduced"``, ``"partly"`` or ``"not reproduced"``.
    """
    if all(ok >= ENOUGH * n for ok, n in successes.values()):
        return "reproduced"
    return "partly" if any(ok >= HALF * n for ok, n in successes.values()) else "not reproduced"


def verdict_little(small: list[dict], large: list[dict]) -> str:
    """Row 2: runs at 10,000 points split a variable, and runs at 100,000 points of the same data sets do not.

    Arguments:
        small: records at 10,000 points; large: records at 100,000 points (same data sets, same schedule).

    Returns:
        ``"reproduced"``, ``"partly"`` (splits at both sizes) or ``"not reproduced"`` (no split at 10,000).
    """
    if not any(map(is_split, small)):
        return "not reproduced"
    return "partly" if any(map(is_split, large)) else "reproduced"


def verdict_low_lr(paper_lr: dict, low_lr: dict) -> str:
    """Row 4a: a run at lr 1e-4 splits a variable where the run at the paper's 1e-2 succeeds.

    Arguments:
        paper_lr, low_lr: the records of the two runs (same data set and schedule).

    Returns:
        ``"untested"`` if the run at 1e-2 fails; else ``"reproduced"`` or ``"not reproduced"``.
    """
    if not success(paper_lr):
        return "untested"
    return "reproduced" if is_split(low_lr) else "not reproduced"


def verdict_schedule(successes: dict) -> str:
    """Row 4b: every reading of the schedule succeeds on 90% of its data sets in both experiments.

    Arguments:
        successes: ``{reading: {experiment: (successes, data sets)}}``.

    Returns:
        ``"reproduced"`` (every reading), ``"partly"`` (at least one) or ``"not reproduced"``.
    """
    good = [all(ok >= ENOUGH * n for ok, n in per_experiment.values()) for per_experiment in successes.values()]
    return "reproduced" if all(good) else "partly" if any(good) else "not reproduced"


def verdict_glow(gin: dict, glow: dict, loss_change: float, tol: float = 1e-9) -> str:
    """Row 5: the GLOW-style loss ignores a volume-changing rescaling, and the GLOW-style run fails where GIN succeeds.

    Arguments:
        gin, glow: records of the two runs on the same data set.
        loss_change: how much the GLOW-style loss moves when ``w`` is rescaled by factors whose product
            is not 1 and the log-determinant pays for it (:func:`glow_rescaling_change`).
        tol: the largest change counted as none.

    Returns:
        ``"untested"`` if GIN fails; ``"not reproduced"`` if the loss moves; else ``"reproduced"`` if the
        GLOW-style run fails and ``"partly"`` if it succeeds.
    """
    if not success(gin):
        return "untested"
    if loss_change > tol:
        return "not reproduced"
    return "reproduced" if not success(glow) else "partly"


def verdict_knee(p_gin: float, p_pca: float) -> str:
    """Row 6: GIN's knee prominence is at least :data:`SHARP`, and :data:`PCA_FACTOR` times PCA's.

    Arguments:
        p_gin, p_pca: knee prominences (:func:`gin_core.metrics.knee_prominence`) of the two spectra.

    Returns:
        ``"reproduced"``, ``"partly"`` (sharp but not far above PCA's) or ``"not reproduced"``.
    """
    if p_gin < SHARP:
        return "not reproduced"
    return "reproduced" if p_gin >= PCA_FACTOR * p_pca else "partly"


def verdict_count(dataset: str, k: int, k_range: tuple[int, int]) -> str:
    """Row 7: the stated rule counts the paper's 22 variables on EMNIST.

    Arguments:
        dataset: the digits data set of the build; k: the count by the stated rule;
        k_range: the least and largest count over the other knee criteria.

    Returns:
        ``"untested"`` on any data set but EMNIST; else ``"reproduced"``, ``"partly"`` (22 within the
        range) or ``"not reproduced"``.
    """
    if dataset != "emnist":
        return "untested"
    if k == PAPER_K:
        return "reproduced"
    return "partly" if k_range[0] <= PAPER_K <= k_range[1] else "not reproduced"


def verdict_crossed(dataset: str, real: dict, sampled: dict) -> str:
    """Row 9: sampled sevens are called crossed clearly less often than real ones.

    Arguments:
        dataset: the data set the pair was trained on.
        real, sampled: crossed fractions ``{"fraction", "low", "high"}`` (95% interval) of the training
            sevens and of the 10-label model's sampled sevens.

    Returns:
        ``"untested"`` on any data set but EMNIST; ``"not reproduced"`` if the intervals overlap;
        ``"reproduced"`` if the sampled fraction is also under half the real one, else ``"partly"``.
    """
    if dataset != "emnist":
        return "untested"
    if sampled["high"] >= real["low"]:
        return "not reproduced"
    return "reproduced" if sampled["fraction"] < real["fraction"] / 2 else "partly"


def verdict_atlas(sha256: str | None, observed: str) -> str:
    """Row 8: judged by eye only, and only for the network whose sweep figures were looked at.

    Arguments:
        sha256: the SHA-256 of the shown network's weights (``None`` for the reader's checkpoint).
        observed: the prefix of the SHA-256 of the weights the atlas chapter's table was written for.

    Returns:
        ``"partly"`` for that network, ``"untested"`` for any other.
    """
    return "partly" if sha256 and observed and sha256.startswith(observed) else "untested"


# ---------------------------------------------------------------------------------------------
# The logged evidence


@dataclass
class Sweeps:
    """The logged seed sweeps of the artificial experiments, as the scorecard counts them.

    Attributes:
        sweeps: ``{(experiment, reading): records}`` on data seeds 0-9, 100,000 points.
        fresh: the same on the fresh data seeds (10-19 for 30/10, 10-14 for 80/50).
        little: experiment 1 at 10,000 points, 80/50, three networks per data set.
        ok, ok_fresh: successes per ``(experiment, reading)``; n_fresh: fresh data sets per key.
    """

    sweeps: dict
    fresh: dict
    little: list
    ok: dict
    ok_fresh: dict
    n_fresh: dict

    def counts(self, exp: int) -> dict:
        """``{"<reading>, <seed group>": (successes, data sets)}`` of one experiment, for :func:`verdict_sweep`."""
        out = {
            f"{reading}, seeds 0-9": (self.ok[(exp, reading)], len(self.sweeps[(exp, reading)])) for reading in READINGS
        }
        out.update({f"{r}, fresh seeds": (self.ok_fresh[(exp, r)], self.n_fresh[(exp, r)]) for r in READINGS})
        return out


def load_sweeps(results: str | Path) -> Sweeps:
    """Read and check the logged sweeps of experiments 1 and 2 (:data:`SWEEP_ARGS`).

    Every group must hold exactly the data seeds the chapter says it does, or a ``ValueError`` stops
    the page (a record file that changed under the text).

    Arguments:
        results: the folder of the records (``bench/results``).

    Returns:
        A :class:`Sweeps`.
    """
    results = Path(results)
    records = {name: load_records(results / f"artificial_{name}.json") for name in SWEEP_ARGS}
    common = dict(n_points=100_000, net_seed=0, lr=0.01, volume_preserving=True)
    clusters = {1: 5, 2: 3}
    names = {"80/50": "paper", "30/10": "drop10"}
    sweeps, fresh = {}, {}
    for exp in (1, 2):
        for reading, short in names.items():
            settings = dict(n_clusters=clusters[exp], **common, **READINGS[reading])
            sweeps[(exp, reading)] = filter_records(records[f"exp{exp}_{short}"], **settings)
            fresh[(exp, reading)] = filter_records(records[f"exp{exp}_{short}_dev"], **settings)
    for key, rs in sweeps.items():
        if sorted(r["data_seed"] for r in rs) != list(range(10)):
            raise ValueError(f"{key}: expected data seeds 0-9")
    for (exp, reading), rs in fresh.items():  # 80/50 ran on seeds 10-14 only (CPU time)
        expected = list(range(10, 20)) if reading == "30/10" else list(range(10, 15))
        if sorted(r["data_seed"] for r in rs) != expected:
            raise ValueError(f"{(exp, reading)}: expected data seeds {expected}")
    little = filter_records(records["little_data"], n_clusters=5, n_points=10_000, **READINGS["80/50"])
    if sorted((r["data_seed"], r["net_seed"]) for r in little) != [(d, s) for d in range(10) for s in range(3)]:
        raise ValueError("little_data: expected data seeds 0-9 with network seeds 0-2")
    ok = {key: sum(success(r) for r in rs) for key, rs in sweeps.items()}
    ok_fresh = {key: sum(success(r) for r in rs) for key, rs in fresh.items()}
    return Sweeps(sweeps, fresh, little, ok, ok_fresh, {key: len(rs) for key, rs in fresh.items()})


def failures(records: list[dict]) -> str:
    """The failed runs of a sweep, one phrase each: data seed, top-spectrum MCC and dimension read off.

    Arguments:
        records: run records.

    Returns:
        The phrases joined by ``", "`` (empty when every run succeeded).
    """
    bad = [r for r in records if not success(r)]
    return ", ".join(f"data seed {r['data_seed']}: top MCC {r['top_mcc']:.3f}, {r['n_informative']} dim." for r in bad)


def mcc_at(record: dict, epoch: int) -> float:
    """The MCC a run had at ``epoch``, from its logged trajectory.

    Arguments:
        record: a run record with a ``trajectory`` of ``{"epoch", "mcc", ...}`` points.
        epoch: an epoch at which the run was evaluated.

    Returns:
        The MCC. Raises ``KeyError`` if the run was not evaluated at that epoch.
    """
    for point in record["trajectory"]:
        if point["epoch"] == epoch:
            return point["mcc"]
    raise KeyError(f"data seed {record['data_seed']} was not evaluated at epoch {epoch}")


def little_data_summary(sw: Sweeps, results: str | Path) -> dict:
    """Row 2's evidence: splits at 10,000 against 100,000 points, and the restart rule.

    Arguments:
        sw: the logged sweeps (:func:`load_sweeps`).
        results: the folder of the records (for the first little-data sweep and the hard data set).

    Returns:
        ``{"splits_small", "splits_large"}`` (the split records), ``"restart_ok"`` of ``"n_restart"`` data sets
        succeed when the best of three networks by held-out NLL is kept, ``"first_splits"`` (splits in the
        first sweep, which mixed with another network), ``"first_split_seeds"`` (their data seeds) and ``"hard_big"`` (the 100,000-point run of the
        data set that split there).
    """
    results = Path(results)
    restart = apply_restart_rule(sw.little, net_seeds=(0, 1, 2), score="val_nll")
    first = load_records(results / "artificial_little_data_v1.json")
    hard = load_records(results / "artificial_little_data_hard.json")
    return {
        "splits_small": [r for r in sw.little if is_split(r)],
        "splits_large": [r for r in sw.sweeps[(1, "80/50")] if is_split(r)],
        "restart_ok": sum(success(r) for r in restart.values()),
        "n_restart": len(restart),
        "first_splits": sum(map(is_split, first)),
        "first_split_seeds": sorted({r["data_seed"] for r in first if is_split(r)}),
        "hard_big": filter_records(hard, n_points=100_000)[0],
    }


def schedule_drift(sw: Sweeps) -> dict:
    """How the long schedule (80/50) fails: the MCC lost after epoch 10, and failures that only misread the dimension.

    Arguments:
        sw: the logged sweeps (:func:`load_sweeps`).

    Returns:
        ``{"drift2"}``: the largest MCC lost between epoch 10 and the end by an experiment 2 run;
        ``{"misread"}``: 80/50 failures whose top-spectrum MCC is still at least :data:`MCC_MIN`;
        ``{"n_fail_long"}``: all 80/50 failures on seeds 0-9.
    """
    long = [key for key in sw.sweeps if key[1] == "80/50"]
    return {
        "drift2": max(mcc_at(r, 10) - r["mcc"] for r in sw.sweeps[(2, "80/50")]),
        "misread": sum(r["top_mcc"] >= MCC_MIN and r["n_informative"] != 2 for key in long for r in sw.sweeps[key]),
        "n_fail_long": sum(len(sw.sweeps[key]) - sw.ok[key] for key in long),
    }


# ---------------------------------------------------------------------------------------------
# Evidence computed when the page is built


def ablation_runs(settings: dict, device: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Rows 4a and 5: one data set trained by GIN at lr 1e-2 and 1e-4, and by a GLOW-style flow at 1e-2.

    Arguments:
        settings: the keyword arguments of :func:`~gin_core.book.runs.run_artificial` shared by the
            three runs (points, epochs, milestones, data and network seeds, ...).
        device: where to train.

    Returns:
        ``(runs, records)``: the three :class:`~gin_core.book.runs.ArtificialRun` objects and one
        record per run (``model``, ``mcc``, ``top_mcc``, ``n_informative``, ``n_informative_gap``,
        ``n_latent``, ``affine_sparse``, ``gap``, ``loss``), both keyed ``"GIN, lr 1e-2"``,
        ``"GIN, lr 1e-4"`` and ``"GLOW-style, lr 1e-2"``.
    """
    variants = {
        "GIN, lr 1e-2": dict(lr=1e-2),
        "GIN, lr 1e-4": dict(lr=1e-4),
        "GLOW-style, lr 1e-2": dict(lr=1e-2, volume_preserving=False),
    }
    runs = {name: run_artificial(**settings, **change, device=device) for name, change in variants.items()}
    records = {
        name: {
            "model": name,
            "mcc": r.evaluation.mcc,
            "top_mcc": r.evaluation.top_mcc,
            "n_informative": r.evaluation.n_informative,
            "n_informative_gap": r.evaluation.n_informative_gap,
            "n_latent": 2,
            "affine_sparse": r.evaluation.affine.is_sparse,
            "gap": r.evaluation.gap,
            "loss": r.history.loss[-1],
        }
        for name, r in runs.items()
    }
    return runs, records


def glow_rescaling_change(net, x, u, n_classes: int, scales=None) -> tuple[float, float]:
    """The class-conditional loss before and after rescaling ``w`` per variable, the log-determinant paying for it.

    For a flow that changes volume the loss of a code ``w`` is ``NLL(w) - log|det J|``. Multiplying
    ``w_i`` by ``s_i`` multiplies every class's standard deviation along ``i`` by ``s_i``, and adding
    ``sum_i log s_i`` to the log-determinant is exactly what the same stretch as the flow's last layer
    would cost. With batch statistics the two changes cancel, for any factors: the loss cannot prefer
    one split of the spread among the variables.

    Arguments:
        net: a flow returning ``(w, log_det)``.
        x, u: data and labels; n_classes: the number of classes.
        scales: the factors ``s`` (default: from 0.01 to 100, product far from 1).

    Returns:
        ``(before, after)``: the loss in nats per dimension.
    """
    with torch.no_grad():
        w, log_det = net(x)
    w, log_det = w.double(), log_det.double()
    if scales is None:
        scales = torch.tensor([0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 1.0, 0.5, 2.0], dtype=torch.float64)
    scales = torch.as_tensor(scales, dtype=torch.float64)
    before = class_conditional_nll(w, u, n_classes, log_det).item()
    after = class_conditional_nll(w * scales, u, n_classes, log_det + scales.log().sum()).item()
    return before, after


def digits_evidence(net, x, u, n_after: int = 30, noise_seed: int = 1) -> dict:
    """Rows 6-8: GIN's and PCA's spectra of the same digit images, the count, and the variables' effects.

    Arguments:
        net: the trained digits flow.
        x, u: training images and labels (encoded with the training noise, as in the spectra chapter).
        n_after: how many variables after the cut-off the effect ratio compares with.
        noise_seed: seed of the training noise added to the images for PCA.

    Returns:
        A dictionary: ``atlas``, ``std`` (GIN's spectrum), ``k`` (stated rule), ``k_range`` (over the
        knee criteria), ``pca`` (PCA's spectrum), ``gin_cut``/``pca_cut`` (largest drop among variables
        5-200) and ``p_gin``/``p_pca`` (its prominence), ``n_after``, ``effect_ratio`` (mean decoded
        change of variables 1-k over the next ``n_after``), ``reach`` (per informative variable, the
        classes with at least half its largest effect), ``n_global`` (reach >= 8), ``n_local``
        (reach <= 3), ``half``, ``reach_first`` and ``reach_second`` (mean reach of the two halves).
    """
    atlas = prepare_atlas(net, x, u)
    std, k = atlas.spectrum.std, atlas.k
    counts = [row["k"] for row in knee_table(std)]
    x_noisy = x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(noise_seed))
    pca = pca_spectrum(x_noisy)
    gin_cut = count_informative(std, "max_gap", min_k=5, max_k=200)
    pca_cut = count_informative(pca, "max_gap", min_k=5, max_k=200)
    n_after = min(n_after, len(std) - k)
    per_class = effect_sizes(atlas, range(1, k + n_after + 1), per_class=True)
    effects = per_class.mean(1)
    reach = (per_class[:k] >= 0.5 * per_class[:k].max(1, keepdims=True)).sum(1)
    half = k // 2
    return {
        "atlas": atlas,
        "std": std,
        "k": k,
        "k_range": (min(counts), max(counts)),
        "pca": pca,
        "gin_cut": gin_cut,
        "pca_cut": pca_cut,
        "p_gin": knee_prominence(std, gin_cut),
        "p_pca": knee_prominence(pca, pca_cut),
        "n_after": n_after,
        "effect_ratio": float(effects[:k].mean() / effects[k:].mean()),
        "reach": reach,
        "n_global": int((reach >= 8).sum()),
        "n_local": int((reach <= 3).sum()),
        "half": half,
        "reach_first": float(reach[:half].mean()),
        "reach_second": float(reach[half:].mean()),
    }


def plot_sweep_spectra(records: list[dict], title: str = "", ax=None):
    """The sorted spectra of a sweep's runs on a log scale, successes in colour and failures in grey.

    Arguments:
        records: run records with a ``spectrum`` (sorted standard deviations) each.
        title: the axes' title.
        ax: Matplotlib axes to draw on (default: a new figure).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    for r in records:
        spectrum = np.asarray(r["spectrum"], dtype=float)
        good = success(r)
        ax.semilogy(
            np.arange(1, len(spectrum) + 1),
            spectrum,
            "o-" if good else "x--",
            ms=3,
            lw=1,
            color="C0" if good else "0.55",
            alpha=0.85,
        )
    ax.axvline(2.5, color="C3", ls=":", lw=1)
    ax.set(xlabel="variable (sorted by standard deviation)", ylabel="standard deviation", xticks=range(1, 11))
    ax.set_title(title, fontsize=9)
    ax.figure.tight_layout()
    return ax.figure
