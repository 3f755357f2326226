"""GIN against iVAE on the mixing benchmark's discriminating cells (issue 20).

The same data sets (``split_data`` with the cell's mixing, n, K and data seed), the same schedule
as GIN's runs (gin_core.book.ivae.IVAESettings), the same success rule. Two iVAE variants:

* ``told``: iVAE given the true latent dimension n;
* ``ten``: iVAE given 10 latent dimensions, as GIN is; its dimension is the number of active latent
  dimensions (mean KL > 0.1 nats, gin_core.book.ivae; rule fixed before any benchmark run).

    OMP_NUM_THREADS=1 python bench/ivae_benchmark.py run --seeds 0-9                 # all cells, both variants
    OMP_NUM_THREADS=1 python bench/ivae_benchmark.py run --cells mlp4_n5_K11 --seeds 0-9
    OMP_NUM_THREADS=1 python bench/ivae_benchmark.py score --seeds 0-9               # the chapter's table
    OMP_NUM_THREADS=1 python bench/ivae_benchmark.py time --cell mlp1_n5_K11 --epochs 5   # side-by-side wall time

Records: bench/results/ivae_<cell>_<variant>.json (one record per data seed, resumable: a seed
already recorded is skipped); ``time`` writes bench/results/ivae_timing.json. GIN's records are the
mixing benchmark's (bench/results/mixing_<cell>_gin.json).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from artificial_sweep import seeds  # noqa: E402
from mixing_benchmark import RESULTS, SCHEDULE, load, parse_cell, protocol  # noqa: E402

from gin_core.book.ivae import IVAESettings, TrainingDiverged, evaluate_ivae, ivae_summary, train_ivae  # noqa: E402
from gin_core.book.runs import run_artificial, split_data  # noqa: E402
from gin_core.checkpoints import save_json  # noqa: E402

PROTOCOL = RESULTS / "ivae_protocol.json"
VARIANTS = {"told": None, "ten": 10}  # latent dimension: None = the true n
ORDER = [  # deepest first, so that an interrupted queue leaves whole cells
    "mlp4_n5_K11",
    "mlp1_n5_K11",
    "volume_preserving_n5_K11",
    "volume_preserving_n2_K5",
    "paper_rotated_n5_K11",
    "mlp2_n5_K11",
    "mlp3_n5_K11",
]


def command(argv) -> str:
    return "python " + " ".join(["bench/ivae_benchmark.py", *argv] if argv is not None else sys.argv)


def records_path(cell: str, variant: str) -> Path:
    return RESULTS / f"ivae_{cell}_{variant}.json"


def run_cell(cell: str, variant: str, data_seeds, cmd: str) -> list[dict]:
    """Train and score the variant on every data seed of the cell that has no record yet."""
    mixing, n, k = parse_cell(cell)
    path = records_path(cell, variant)
    records = load(path)
    done = {r["data_seed"] for r in records}
    for seed in data_seeds:
        if seed in done:
            continue
        train, val = split_data(k, SCHEDULE["n_points"], seed, SCHEDULE["n_val"], n, mixing=mixing)
        settings = IVAESettings(latent_dim=VARIANTS[variant] or n)
        record = {"cell": cell, "variant": variant, "data_seed": seed, "n": n, "K": k, "command": cmd}
        record["settings"] = settings.record()
        try:
            fit = train_ivae(train, settings)
        except TrainingDiverged as error:  # the frozen settings failed on this data set: a failed run, recorded
            records.append(record | {"diverged": True, "error": str(error)})
            save_json(path, records)
            print(f"{cell} {variant} seed {seed}: diverged ({error})", flush=True)
            continue
        record |= evaluate_ivae(fit, train, val)
        records.append(record)
        save_json(path, records)
        print(
            f"{cell} {variant} seed {seed}: top-MCC {record['top_mcc']:.3f}, active {record['n_active']}, "
            f"{record['seconds']:.0f} s",
            flush=True,
        )
    return [r for r in records if r["data_seed"] in data_seeds]


def do_freeze(args, cmd) -> None:
    """Write the comparison's rules to bench/results/ivae_protocol.json before any benchmark run."""
    if PROTOCOL.is_file():
        raise SystemExit(f"{PROTOCOL} exists: the iVAE protocol is frozen")
    save_json(
        PROTOCOL,
        {
            "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": cmd,
            "note": "written after one pilot data set (seed 99, never scored) and before any benchmark run of iVAE",
            "settings": IVAESettings(latent_dim=1).record() | {"latent_dim": "n (told) or 10 (ten)"},
            "dimension_rule": "iVAE with 10 latent dimensions: active dimensions = mean KL(q||p) > active_kl nats",
            "success": "top-n MCC >= 0.95 and the dimension right (GIN: the book's knee; iVAE ten: the KL rule; "
            "iVAE told: given)",
            "cells": ORDER,
            "seeds": "0-9 (the benchmark's training seeds; GIN's records are the mixing benchmark's)",
            "held_out_likelihood": "GIN: exact NLL per dim of x; iVAE: importance-weighted bound (64 samples) per dim",
        },
    )
    print(PROTOCOL.read_text())


def do_run(args, cmd) -> None:
    if not PROTOCOL.is_file():
        raise SystemExit(f"freeze the iVAE protocol first ({PROTOCOL})")
    frozen = protocol()
    cells = args.cells or [c for c in ORDER if frozen["cells"][c]["discriminating"]]
    for cell in cells:
        for variant in args.variants:
            print(f"== {cell} iVAE {variant}", flush=True)
            run_cell(cell, variant, args.seeds, cmd)


def do_score(args, cmd) -> dict:
    frozen = protocol()
    cells = args.cells or [c for c in ORDER if frozen["cells"][c]["discriminating"]]
    table = {}
    for cell in cells:
        mixing, n, k = parse_cell(cell)
        gin = [r for r in load(RESULTS / f"mixing_{cell}_gin.json") if r["data_seed"] in args.seeds]
        row = {"gin": ivae_summary(gin, n, kind="gin")}
        for variant in args.variants:
            recs = [r for r in load(records_path(cell, variant)) if r["data_seed"] in args.seeds]
            if recs:
                row[variant] = ivae_summary(recs, n, kind=variant)
        table[cell] = row
    print(f"data seeds {min(args.seeds)}-{max(args.seeds)}; success: top-n MCC >= 0.95 and the dimension found")
    print("| cell | method | runs | successes | top-MCC median [95% CI] | dimension right | held-out NLL/dim |")
    print("|---|---|---|---|---|---|---|")
    for cell, row in table.items():
        for method, s in row.items():
            print(
                f"| {cell} | {method} | {s['runs']} ({s.get('diverged', 0)} diverged) | {s['successes']} | {s['top_mcc_median']:.3f} "
                f"[{s['top_mcc_ci'][0]:.3f}, {s['top_mcc_ci'][1]:.3f}] | {s['right_dimension']} | "
                f"{s['val_nll_median']:.3f} |"
            )
    if args.out:
        save_json(args.out, {"command": cmd, "seeds": args.seeds, "table": table})
    return table


def do_time(args, cmd) -> None:
    """GIN and iVAE trained alternately in one process on one data set: a wall-time ratio."""
    mixing, n, k = parse_cell(args.cell)
    train, _ = split_data(k, SCHEDULE["n_points"], 0, 0, n, mixing=mixing)
    times = {"gin": [], "ivae_told": [], "ivae_ten": []}
    for _ in range(args.repeats):
        run = run_artificial(
            n_clusters=k, n_latent=n, mixing=mixing, data_seed=0, n_points=SCHEDULE["n_points"], n_val=0,
            n_epochs=args.epochs, lr=SCHEDULE["lr"], milestones=(), fast=args.fast,
        )  # fmt: skip
        times["gin"].append(run.seconds)  # training only, as fit.seconds
        for variant, dim in (("ivae_told", n), ("ivae_ten", 10)):
            fit = train_ivae(train, IVAESettings(latent_dim=dim, n_epochs=args.epochs, milestones=()))
            times[variant].append(fit.seconds)
    medians = {m: float(np.median(t)) for m, t in times.items()}
    out = {
        "command": cmd,
        "cell": args.cell,
        "epochs": args.epochs,
        "gin_step": "compiled" if args.fast else "eager",
        "seconds": times,
        "median_seconds": medians,
        "ratio_to_gin": {m: medians[m] / medians["gin"] for m in medians},
        "threads": torch.get_num_threads(),
    }
    save_json(RESULTS / "ivae_timing.json", out)
    print(out["ratio_to_gin"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train iVAE on the cells (default: the discriminating ones)")
    s = sub.add_parser("score", help="GIN and iVAE side by side for any list of seeds (no training)")
    for q in (r, s):
        q.add_argument("--cells", nargs="*")
        q.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
        q.add_argument("--seeds", type=seeds, required=True)
    s.add_argument("--out", type=Path)
    sub.add_parser("freeze", help="write the comparison's rules before any run")
    t = sub.add_parser("time", help="GIN and iVAE wall time, alternately in one process")
    t.add_argument("--cell", default="mlp1_n5_K11")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--repeats", type=int, default=3)
    t.add_argument("--fast", action="store_true", help="GIN with the compiled step (as its benchmark runs)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cmd = command(argv)
    print("command: " + cmd, flush=True)
    {"freeze": do_freeze, "run": do_run, "score": do_score, "time": do_time}[args.command](args, cmd)


if __name__ == "__main__":
    main()
