"""The mixing benchmark (issue 19): calibrate every data set, freeze the protocol, then train and score.

Steps, in this order (each resumable; records in bench/results/):

    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py calibrate --seeds 0-9       # no training
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py freeze                      # before any GIN run
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py run --methods gin glow --seeds 0-9
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py run --methods shared permuted --seeds 0-9
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py conditions --mixing mlp2 --n 5 --seeds 0-9
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py run --methods little --seeds 0-9     # 10,000 points
    OMP_NUM_THREADS=1 python bench/mixing_benchmark.py score --seeds 20-29          # anyone's seeds

``freeze`` writes bench/results/mixing_protocol.json with a timestamp: the discriminating rule
(gin_core.book.benchmark.RULE) applied to the calibration of seeds 0-9, the schedule, the success
rule and the knee rules. It refuses to overwrite an existing protocol. ``score`` trains whatever
runs of the given seeds are missing (with the frozen settings) and prints the chapter's table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gin_core.artificial import MIXINGS  # noqa: E402
from gin_core.book.benchmark import RULE, calibrate, is_discriminating, score_table, summarise  # noqa: E402
from gin_core.book.restarts import seed_sweep  # noqa: E402
from gin_core.book.runs import split_data  # noqa: E402
from gin_core.checkpoints import save_json  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from artificial_sweep import seeds  # noqa: E402  (the seed-list syntax of every sweep script)

RESULTS = ROOT / "bench" / "results"
CALIBRATION = RESULTS / "mixing_calibration.json"
PROTOCOL = RESULTS / "mixing_protocol.json"
CONDITIONS = {2: 5, 5: 11}  # the main cells: K = 2n + 1 conditions, the theorem's threshold
SCHEDULE = dict(n_epochs=30, lr=1e-2, milestones=(10,), n_points=100_000, n_val=10_000)  # the book's cpu 30/10
THRESHOLDS = (0.7, 0.8, 0.9, 0.95, 0.99)
METHODS = {  # run_artificial settings of each method
    "gin": {},
    "glow": {"volume_preserving": False},
    "shared": {"variances": "shared"},  # control: one isotropic variance for every class (not identifiable)
    "permuted": {"permute_labels": True},  # control: labels carry no information about z
    "little": {"n_points": 10_000, "n_val": 1_000},  # GIN on a tenth of the data (the paper's little-data split)
}


def cell_name(mixing: str, n: int, k: int) -> str:
    return f"{mixing}_n{n}_K{k}"


def load(path: Path) -> list:
    return json.loads(path.read_text()) if path.is_file() else []


def do_calibrate(args) -> None:
    records = load(CALIBRATION)
    done = {(r["mixing"], r["n"], r["K"], r["seed"]) for r in records}
    for mixing in args.mixings:
        for n in args.n:
            k = CONDITIONS[n]
            for seed in args.seeds:
                if (mixing, n, k, seed) in done:
                    continue
                t0 = time.perf_counter()
                train, _ = split_data(k, SCHEDULE["n_points"], seed, SCHEDULE["n_val"], n, mixing=mixing)  # as the runs
                record = {"mixing": mixing, "n": n, "K": k, "seed": seed, **calibrate(train)}
                record["seconds"] = time.perf_counter() - t0
                records.append(record)
                save_json(CALIBRATION, records)
                best = max(record["methods"][b]["mcc"] for b in RULE["baselines"])
                print(f"{cell_name(mixing, n, k)} seed {seed}: best baseline MCC {best:.3f}", flush=True)


def do_freeze(args) -> None:
    if PROTOCOL.is_file():
        raise SystemExit(f"{PROTOCOL} exists: the protocol is frozen (delete it only to start a new benchmark)")
    records = [r for r in load(CALIBRATION) if r["seed"] in args.seeds]
    cells = {}
    for r in records:
        cells.setdefault(cell_name(r["mixing"], r["n"], r["K"]), []).append(r)
    missing = [c for c, rs in cells.items() if len(rs) < len(args.seeds)]
    if missing or not cells:
        raise SystemExit(f"calibrate seeds {args.seeds} of every cell first (incomplete: {missing or 'all'})")
    table = {
        name: {
            "discriminating": is_discriminating(rs),
            "median_best_baseline_mcc": float(np.median([r["best_baseline_mcc"] for r in rs])),
        }
        for name, rs in sorted(cells.items())
    }
    protocol = {
        "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "note": "written after the calibration (no training) and before any GIN run of the benchmark",
        "rule": {k: list(v) if isinstance(v, tuple) else v for k, v in RULE.items()},
        "calibration_seeds": args.seeds,
        "cells": table,
        "schedule": {k: list(v) if isinstance(v, tuple) else v for k, v in SCHEDULE.items()},
        "success": "the knee rule finds n informative variables and the top-n-spectrum MCC >= threshold",
        "knee_rules": ["book (sigma > 2x the median sigma)", "max_gap (largest ratio of consecutive sigmas)"],
        "thresholds": list(THRESHOLDS),
        "main_threshold": 0.95,
        "restarts": "none: one network seed (0) per data set",
        "training_seeds": "0-9",
        "held_out_seeds": "20-29 (scored once with `score --seeds 20-29`)",
    }
    save_json(PROTOCOL, protocol)
    print(json.dumps(table, indent=1))


def protocol() -> dict:
    if not PROTOCOL.is_file():
        raise SystemExit(f"no frozen protocol at {PROTOCOL}: run `calibrate` and `freeze` first")
    return json.loads(PROTOCOL.read_text())


def run_cell(mixing: str, n: int, k: int, method: str, data_seeds) -> list[dict]:
    cache = RESULTS / f"mixing_{cell_name(mixing, n, k)}_{method}.json"
    settings = {**SCHEDULE, **METHODS[method]}
    settings["milestones"] = tuple(settings["milestones"])
    # compiled once per process and reused by every run of the sweep (gin_core.training.compiled)
    return seed_sweep(data_seeds, (0,), cache=cache, fast=True, n_clusters=k, n_latent=n, mixing=mixing, **settings)


def do_run(args) -> None:
    frozen = protocol()
    cells = args.cells or [c for c, v in frozen["cells"].items() if v["discriminating"]]
    for cell in cells:
        mixing, n, k = parse_cell(cell)
        for method in args.methods:
            print(f"== {cell} {method}", flush=True)
            run_cell(mixing, n, k, method, args.seeds)


def do_conditions(args) -> None:
    protocol()
    for k in args.k or range(2, 3 * args.n + 1):
        print(f"== {args.mixing} n={args.n} K={k}", flush=True)
        run_cell(args.mixing, args.n, k, "gin", args.seeds)


def parse_cell(cell: str) -> tuple[str, int, int]:
    mixing, n, k = cell.rsplit("_", 2)
    if mixing not in MIXINGS or not n.startswith("n") or not k.startswith("K"):
        raise SystemExit(f"not a cell name: {cell!r} (expected e.g. mlp2_n5_K11)")
    return mixing, int(n[1:]), int(k[1:])


def do_score(args) -> dict:
    frozen = protocol()
    cells = args.cells or [c for c, v in frozen["cells"].items() if v["discriminating"]]
    calibrations = load(CALIBRATION)
    table = {}
    for cell in cells:
        mixing, n, k = parse_cell(cell)
        cal = [c for c in calibrations if (c["mixing"], c["n"], c["K"]) == (mixing, n, k) and c["seed"] in args.seeds]
        row = {}
        if cal:
            row["best_baseline_mcc_median"] = float(np.median([c["best_baseline_mcc"] for c in cal]))
            row["joint_diag_mcc_median"] = float(np.median([c["methods"]["joint_diag"]["mcc"] for c in cal]))
            row["chance_rotation_95"] = float(np.median([c["chance"]["rotation"][2] for c in cal]))
        for method in args.methods:
            row[method] = summarise(run_cell(mixing, n, k, method, args.seeds), n, THRESHOLDS)
        table[cell] = row
    print(score_table(table, args.methods, args.seeds))
    if args.out:
        save_json(args.out, {"command": "python " + " ".join(sys.argv), "seeds": args.seeds, "table": table})
    return table


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("calibrate", help="baselines, chance band and purity of every data set (no training)")
    c.add_argument("--seeds", type=seeds, required=True)
    c.add_argument("--mixings", nargs="*", default=list(MIXINGS), choices=MIXINGS)
    c.add_argument("--n", type=int, nargs="*", default=[2, 5], choices=[2, 5])
    f = sub.add_parser("freeze", help="write the protocol (discriminating cells) before any training")
    f.add_argument("--seeds", type=seeds, default=seeds("0-9"))
    r = sub.add_parser("run", help="train the methods on the cells (default: the discriminating ones)")
    r.add_argument("--cells", nargs="*")
    r.add_argument("--methods", nargs="*", default=["gin"], choices=list(METHODS))
    r.add_argument("--seeds", type=seeds, required=True)
    k = sub.add_parser("conditions", help="GIN over the number of conditions K on one family")
    k.add_argument("--mixing", choices=MIXINGS, required=True)
    k.add_argument("--n", type=int, choices=[2, 5], required=True)
    k.add_argument("--k", type=int, nargs="*")
    k.add_argument("--seeds", type=seeds, required=True)
    s = sub.add_parser("score", help="the chapter's table for any list of seeds (trains what is missing)")
    s.add_argument("--cells", nargs="*")
    s.add_argument("--methods", nargs="*", default=["gin", "glow", "shared", "permuted"], choices=list(METHODS))
    s.add_argument("--seeds", type=seeds, required=True)
    s.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print("command: python " + " ".join(sys.argv if argv is None else ["bench/mixing_benchmark.py", *argv]), flush=True)
    {"calibrate": do_calibrate, "freeze": do_freeze, "run": do_run, "conditions": do_conditions, "score": do_score}[
        args.command
    ](args)


if __name__ == "__main__":
    main()
