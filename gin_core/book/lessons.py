r"""Helpers for the artificial-data chapters: load or recompute their sweeps, and build their tables.

The chapters ``artificial_little_data`` and ``artificial_what_matters`` read many logged sweeps of
``bench/artificial_sweep.py`` (at ``cpu`` and ``smoke`` scale) or recompute them (at ``paper`` scale),
and turn them into tables. The loading and the table building live here, so that a chapter shows the
key computation and not the bookkeeping:

* :func:`little_data_records`, :func:`valley_rows`: the 10,000-point sweep against the paper-size one;
* :func:`restart_rows`, :func:`restart_rule_comparison`: restarts and the rule that picks among them
  by the held-out negative log-likelihood;
* :func:`schedule_records`: experiments 1 and 2 with the 80/50 and the 30/10 schedule;
* :func:`protocol_result`: the protocol frozen in ``bench/results/protocol.json`` and its held-out score;
* :func:`run_variants`, :func:`variant_rows`: single-run comparisons (learning rate, GLOW-style flow).

References:
    Sorrenson et al. (2020), §4.3.1 (experiment 1, too little data, the learning rate) and §4.3.2
    (experiment 2); §4.1 (volume preservation).
"""

from __future__ import annotations

import json

from .records import by_data_seed, filter_records, load_records, results_path, success
from .recovery import marginal_valley
from .restarts import Protocol, apply_restart_rule, protocol_score, run_protocol, seed_sweep
from .runs import run_artificial, split_data

__all__ = [
    "LITTLE_DATA_COMMANDS",
    "SCHEDULE_COMMANDS",
    "RESTART_COLUMNS",
    "VARIANT_COLUMNS",
    "little_data_records",
    "valley_rows",
    "restart_rows",
    "restart_rule_comparison",
    "schedule_records",
    "protocol_result",
    "run_variants",
    "variant_rows",
]

_SWEEP = "OMP_NUM_THREADS=1 python bench/artificial_sweep.py"

#: the commands that logged the records of the chapter artificial_little_data
LITTLE_DATA_COMMANDS = {
    "little": f"{_SWEEP} --name little_data --n-points 10000 --n-val 1000 --data-seeds 0-9 --net-seeds 0-2 "
    "--eval-every 0",
    "paper": f"{_SWEEP} --name exp1_paper --data-seeds 0-9 --net-seeds 0 --eval-every 5",
    "hard": f"{_SWEEP} --name little_data_hard --mixing-points 11000 --data-seeds 5 --net-seeds 0 --eval-every 0 "
    "(100,000 points; and with --n-points 10000 --n-val 1000 --net-seeds 0-2)",
    "other networks": "artificial_little_data_v1.json: the 'little' command with generator version 1, which "
    "mixed each 10,000-point data set with the network drawn after its 11,000 points",
}

#: the commands that logged the schedule sweeps of the chapter artificial_what_matters
SCHEDULE_COMMANDS = {
    "exp1 80/50": f"{_SWEEP} --name exp1_paper --data-seeds 0-9 --net-seeds 0 --eval-every 5",
    "exp2 80/50": f"{_SWEEP} --name exp2_paper --clusters 3 --data-seeds 0-9 --net-seeds 0 --eval-every 10",
    "exp1 30/10": f"{_SWEEP} --name exp1_drop10 --data-seeds 0-9 --net-seeds 0 --epochs 30 --drop 10 --eval-every 5",
    "exp2 30/10": f"{_SWEEP} --name exp2_drop10 --clusters 3 --data-seeds 0-9 --net-seeds 0 --epochs 30 --drop 10 "
    "--eval-every 5",
    "little": LITTLE_DATA_COMMANDS["little"],
    "exp1 80/50 fresh": f"{_SWEEP} --eval-every 0 --name exp1_paper_dev --data-seeds 10-19",
    "exp2 80/50 fresh": f"{_SWEEP} --eval-every 0 --name exp2_paper_dev --clusters 3 --data-seeds 10-19",
    "exp1 30/10 fresh": f"{_SWEEP} --eval-every 0 --name exp1_drop10_dev --data-seeds 10-19 --epochs 30 --drop 10",
    "exp2 30/10 fresh": f"{_SWEEP} --eval-every 0 --name exp2_drop10_dev --clusters 3 --data-seeds 10-19 --epochs 30 "
    "--drop 10",
}

#: column formats of :func:`restart_rows` for :func:`~gin_core.book.records.markdown_table`
RESTART_COLUMNS = {
    "net_seed": "d",
    "mcc": ".3f",
    "n_informative": "d",
    "gap": ".1f",
    "sparse": "",
    "val_nll": ".4f",
    "seconds": ".0f",
}

#: column formats of :func:`variant_rows` for :func:`~gin_core.book.records.markdown_table`
VARIANT_COLUMNS = {
    "model": "",
    "MCC": ".3f",
    "dim": "d",
    "gap": ".1f",
    "sparse A": "",
    "final loss": ".3f",
    "held-out NLL": ".3f",
    "time (s)": ".0f",
}


def _logged(name: str, **settings) -> list[dict]:
    return filter_records(load_records(results_path(f"artificial_{name}.json")), **settings)


def little_data_records(scale: str, device=None) -> dict:
    """The records of the chapter artificial_little_data: logged, or recomputed at ``paper`` scale.

    Arguments:
        scale: ``"paper"`` recomputes the three sweeps (40 runs); any other scale reads the records
            logged by the commands of :data:`LITTLE_DATA_COMMANDS`.
        device: the device of recomputed runs.

    Returns:
        A dict with ``little`` (10,000 points, data seeds 0-9, network seeds 0-2), ``paper``
        (100,000 points, network seed 0), ``hard_big`` (data seed 5 at 100,000 points with the mixing
        network of ``mixing_points=11_000``), ``other_networks`` (the record
        ``artificial_little_data_v1.json``, always read: its small data sets were mixed by other
        networks) and ``source`` (a phrase saying whether the records were recomputed or read).

    Raises:
        ValueError: the 10,000-point sweep lacks a (data seed, network seed) pair.

    References:
        Sorrenson et al. (2020), §4.3.1 and Fig. 7 (too little data).
    """
    if scale == "paper":
        little = seed_sweep(range(10), (0, 1, 2), n_points=10_000, n_val=1_000, device=device, log=None)
        paper = seed_sweep(range(10), (0,), n_points=100_000, n_val=10_000, device=device, log=None)
        hard_big = seed_sweep([5], (0,), mixing_points=11_000, device=device, log=None)
        source = "recomputed in this build"
    else:
        little = _logged("little_data", n_points=10_000)
        paper = _logged("exp1_paper", n_points=100_000, net_seed=0)
        hard_big = _logged("little_data_hard", n_points=100_000)
        source = "read from the logged records in bench/results"
    pairs = sorted((r["data_seed"], r["net_seed"]) for r in little)
    if pairs != [(d, s) for d in range(10) for s in range(3)]:
        raise ValueError(f"the 10,000-point sweep should hold data seeds 0-9 x network seeds 0-2, got {pairs}")
    other = load_records(results_path("artificial_little_data_v1.json"))
    return {"little": little, "paper": paper, "hard_big": hard_big, "other_networks": other, "source": source}


def valley_rows(little: list[dict], paper: list[dict], other: list[dict]) -> tuple[list[dict], dict[int, float]]:
    """One table row per data set: its valley, the 10,000-point restarts, the 100,000-point run, other networks.

    Arguments:
        little: records at 10,000 points (several network seeds per data seed).
        paper: records at 100,000 points (network seed 0).
        other: records at 10,000 points whose data sets were mixed by other networks.

    Returns:
        ``(rows, valleys)``: rows with ``data seed``, ``valley`` (the smaller of the two true variables'
        valleys, :func:`~gin_core.book.recovery.marginal_valley`, from the cluster parameters), one
        ``10k, net s`` column per network seed and ``100k, net 0`` (top-spectrum MCC and, in brackets,
        the dimension by the book's rule) and ``other networks, MCC``; and ``{data seed: valley}``.

    References:
        Sorrenson et al. (2020), §4.3.1 (clusters that overlap too little).
    """
    valleys, rows = {}, []
    for data_seed, group in by_data_seed(little).items():
        clusters, _ = split_data(5, 1_000, data_seed, 0)  # the cluster parameters only
        valleys[data_seed] = float(marginal_valley(clusters).min())
        row = {"data seed": data_seed, "valley": valleys[data_seed]}
        for r in sorted(group, key=lambda r: r["net_seed"]):
            row[f"10k, net {r['net_seed']}"] = f"{r['top_mcc']:.3f} ({r['n_informative']})"
        big = [r for r in paper if r["data_seed"] == data_seed]
        row["100k, net 0"] = f"{big[0]['top_mcc']:.3f} ({big[0]['n_informative']})" if big else "-"
        old = sorted((r for r in other if r["data_seed"] == data_seed), key=lambda r: r["net_seed"])
        row["other networks, MCC"] = ", ".join(f"{r['mcc']:.3f}" for r in old)
        rows.append(row)
    return rows, valleys


def restart_rows(runs: dict) -> list[dict]:
    """One table row per restart: what it recovered and its observable held-out score.

    Arguments:
        runs: ``{network seed: ArtificialRun}`` (:func:`~gin_core.book.runs.run_artificial`).

    Returns:
        Rows with ``net_seed``, ``mcc``, ``n_informative``, ``gap``, ``sparse`` (the fit of eq. (4)),
        ``val_nll`` (held-out NLL) and ``seconds``, in the order of ``runs``; format them with
        :data:`RESTART_COLUMNS`.
    """
    rows = []
    for seed, run in runs.items():
        ev = run.evaluation
        rows.append(
            dict(
                net_seed=seed,
                mcc=ev.mcc,
                n_informative=ev.n_informative,
                gap=ev.gap,
                sparse=ev.affine.is_sparse,
                val_nll=ev.val_nll,
                seconds=run.seconds,
            )
        )
    return rows


def restart_rule_comparison(records: list[dict], net_seeds=(0, 1, 2)) -> dict:
    """A single run, restarts picked by held-out NLL, and the best restart by MCC, per data set.

    Arguments:
        records: a sweep with every network seed of ``net_seeds`` on every data seed.
        net_seeds: the restarts; the single run is the first of them.

    Returns:
        A dict with ``rows`` (per data seed: the single run's and the rule's MCC and dimension, the
        oracle's MCC), ``rates`` (successes of ``single``, ``rule`` and ``oracle``), ``pairs`` (pairs of
        a successful and a failed restart on the same data set), ``wrong`` (those in which the held-out
        NLL prefers the failed one) and ``failing_sets`` (data sets with at least one failed restart).
        The oracle needs the ground truth; the rule does not.

    References:
        Sorrenson et al. (2020), §4.3.1 (convergence depends on the data and the initialisation).
    """
    groups = by_data_seed([r for r in records if r["net_seed"] in net_seeds])
    single = {s: next(r for r in g if r["net_seed"] == net_seeds[0]) for s, g in groups.items()}
    rule = apply_restart_rule(records, net_seeds=net_seeds, score="val_nll")
    oracle = {s: max(g, key=lambda r: r["mcc"]) for s, g in groups.items()}
    rows = [
        {
            "data seed": s,
            "single run": f"{single[s]['mcc']:.3f} ({single[s]['n_informative']})",
            "rule picks": f"net {rule[s]['net_seed']}: {rule[s]['mcc']:.3f} ({rule[s]['n_informative']})",
            "best of 3 (oracle)": f"{oracle[s]['mcc']:.3f}",
        }
        for s in single
    ]
    rates = {name: sum(success(r) for r in chosen.values()) for name, chosen in (("single", single), ("rule", rule))}
    rates["oracle"] = sum(success(r) for r in oracle.values())
    pairs = [(a, b) for g in groups.values() for a in g for b in g if success(a) and not success(b)]
    return {
        "rows": rows,
        "rates": rates,
        "pairs": len(pairs),
        "wrong": sum(a["val_nll"] > b["val_nll"] for a, b in pairs),
        "failing_sets": sum(any(not success(r) for r in g) for g in groups.values()),
    }


def schedule_records(scale: str, device=None) -> dict:
    """Experiments 1 and 2 on ten data sets with two schedules, fresh data sets, and the 10,000-point sweep.

    Arguments:
        scale: ``"paper"`` recomputes every sweep (70 runs at 100,000 points, 30 at 10,000); any other
            scale reads the records logged by the commands of :data:`SCHEDULE_COMMANDS`.
        device: the device of recomputed runs.

    Returns:
        A dict with ``exp1``, ``exp2`` (80/50 schedule, data seeds 0-9), ``exp1_d10``, ``exp2_d10``
        (30/10), ``fresh`` (``{(clusters, "80/50" or "30/10"): records}`` on data seeds 10-19; at
        ``cpu`` and ``smoke`` scale the 80/50 records cover data seeds 10-14 only), ``little``
        (10,000 points, network seeds 0-2) and ``source``.

    References:
        Sorrenson et al. (2020), §4.3 (the schedule: divide the learning rate by 10 after convergence).
    """
    if scale == "paper":

        def sweep(seeds, n_clusters, n_epochs, drop, every=0):
            eval_epochs = tuple(range(every, n_epochs, every)) if every else ()
            return seed_sweep(
                seeds,
                (0,),
                n_clusters=n_clusters,
                n_epochs=n_epochs,
                milestones=(drop,),
                eval_epochs=eval_epochs,
                device=device,
                log=None,
            )

        out = {
            "exp1": sweep(range(10), 5, 80, 50, 5),
            "exp2": sweep(range(10), 3, 80, 50, 10),
            "exp1_d10": sweep(range(10), 5, 30, 10, 5),
            "exp2_d10": sweep(range(10), 3, 30, 10, 5),
            "fresh": {
                (k, name): sweep(range(10, 20), k, e, d)
                for k in (5, 3)
                for name, e, d in (("80/50", 80, 50), ("30/10", 30, 10))
            },
            "little": seed_sweep(range(10), (0, 1, 2), n_points=10_000, n_val=1_000, device=device, log=None),
            "source": "recomputed in this build",
        }
    else:
        out = {
            "exp1": _logged("exp1_paper", net_seed=0, n_clusters=5, n_epochs=80),
            "exp2": _logged("exp2_paper", net_seed=0, n_clusters=3, n_epochs=80),
            "exp1_d10": _logged("exp1_drop10", net_seed=0, n_clusters=5, n_epochs=30),
            "exp2_d10": _logged("exp2_drop10", net_seed=0, n_clusters=3, n_epochs=30),
            "fresh": {
                (5, "80/50"): _logged("exp1_paper_dev", net_seed=0, n_clusters=5, n_epochs=80),
                (5, "30/10"): _logged("exp1_drop10_dev", net_seed=0, n_clusters=5, n_epochs=30),
                (3, "80/50"): _logged("exp2_paper_dev", net_seed=0, n_clusters=3, n_epochs=80),
                (3, "30/10"): _logged("exp2_drop10_dev", net_seed=0, n_clusters=3, n_epochs=30),
            },
            "little": _logged("little_data", n_points=10_000),
            "source": "read from the logged records in bench/results",
        }
    for (k, name), records in out["fresh"].items():
        seeds = sorted(r["data_seed"] for r in records)
        expected = list(range(10, 20)) if name == "30/10" or scale == "paper" else list(range(10, 15))
        if seeds != expected:
            raise ValueError(f"experiment with {k} clusters, {name}: expected data seeds {expected}, got {seeds}")
    return out


def protocol_result(scale: str, device=None) -> dict:
    """The protocol frozen in ``bench/results/protocol.json`` and its score on the held-out data seeds 20-29.

    At ``paper`` scale the protocol is run again on data seeds 20-29 of both experiments; at any other
    scale the score is read from ``bench/results/protocol_test.json``, which must have been started
    after the freeze and with the frozen protocol.

    Arguments:
        scale: the book's scale.
        device: the device of recomputed runs.

    Returns:
        A dict with ``frozen`` (the freeze record), ``protocol`` (a
        :class:`~gin_core.book.restarts.Protocol`), ``held_out`` (``{"exp1"|"exp2": score}`` as
        :func:`~gin_core.book.restarts.protocol_score` returns it), ``source`` and ``rows`` (one per
        experiment: development and held-out successes).

    Raises:
        ValueError: the logged score is not of the frozen protocol, or was started before the freeze.
    """
    frozen = json.loads(results_path("protocol.json").read_text())
    protocol = Protocol(**{key: tuple(v) if isinstance(v, list) else v for key, v in frozen["protocol"].items()})
    if scale == "paper":
        held_out = {
            name: protocol_score(protocol, run_protocol(protocol, range(20, 30), log=None, n_clusters=k, device=device))
            for name, k in (("exp1", 5), ("exp2", 3))
        }
        source = "recomputed in this build"
    else:
        test = json.loads(results_path("protocol_test.json").read_text())
        if test["frozen_utc"] != frozen["frozen_utc"] or test["protocol"] != frozen["protocol"]:
            raise ValueError("protocol_test.json is not the score of the frozen protocol")
        if not test["started_utc"] > frozen["frozen_utc"]:
            raise ValueError("the held-out seeds must be scored after the freeze")
        held_out = test["score"]
        source = f"logged by `{test['command']}`, started {test['started_utc']}"
    rows = []
    for name in ("exp1", "exp2"):
        dev, held = frozen["development_score"][name], held_out[name]
        rows.append(
            {
                "experiment": name,
                "development (seeds 10-19)": f"{dev['successes']} of {dev['data_sets']} ({dev['runs']} runs)",
                "held out (seeds 20-29)": f"{held['successes']} of {held['data_sets']} ({held['runs']} runs)",
            }
        )
    return {"frozen": frozen, "protocol": protocol, "held_out": held_out, "source": source, "rows": rows}


def run_variants(settings: dict, variants: dict[str, dict], device=None) -> dict:
    """Train one run per variant of a common setting.

    Arguments:
        settings: arguments of :func:`~gin_core.book.runs.run_artificial` shared by every run.
        variants: ``{name: the arguments that differ}`` (e.g. ``{"GIN, lr 1e-3": {"lr": 1e-3}}``).
        device: the device to train on.

    Returns:
        ``{name: ArtificialRun}`` in the order of ``variants``.

    Raises:
        ValueError: a variant sets an argument that ``settings`` also sets.
    """
    runs = {}
    for name, change in variants.items():
        clash = set(change) & set(settings)
        if clash:
            raise ValueError(f"variant {name!r} sets {sorted(clash)}, which the common settings set too")
        runs[name] = run_artificial(**settings, **change, device=device)
    return runs


def variant_rows(runs: dict) -> list[dict]:
    """One table row per run of :func:`run_variants`.

    Arguments:
        runs: ``{name: ArtificialRun}``.

    Returns:
        Rows with ``model``, ``MCC``, ``dim`` (book's knee rule), ``gap``, ``sparse A`` (eq. (4)),
        ``final loss`` (training), ``held-out NLL`` and ``time (s)``; format them with
        :data:`VARIANT_COLUMNS`.
    """
    return [
        {
            "model": name,
            "MCC": r.evaluation.mcc,
            "dim": r.evaluation.n_informative,
            "gap": r.evaluation.gap,
            "sparse A": r.evaluation.affine.is_sparse,
            "final loss": float(r.history.loss[-1]),
            "held-out NLL": r.evaluation.val_nll,
            "time (s)": r.seconds,
        }
        for name, r in runs.items()
    ]
