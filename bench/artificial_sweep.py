"""Seed sweep of the artificial experiments (§4.3): train GIN per (data seed, net seed) and log every result.

Each run is appended to a JSON file of records (gin_core.book.restarts.seed_sweep) as soon as it
finishes; rerunning the same command reuses the records already there. The runs go through the
sweep runner (gin_core.book.sweeps.run_sweep): one after another in this process by default, or in
local processes with --executor processes (one thread each, one process per core; the same
records).

Examples (one thread, as on the project's shared 2-core machine):

    OMP_NUM_THREADS=1 python bench/artificial_sweep.py --name exp1_paper --data-seeds 0-9 --net-seeds 0
    OMP_NUM_THREADS=1 python bench/artificial_sweep.py --name exp2_paper --clusters 3 --data-seeds 0-9 --net-seeds 0
    OMP_NUM_THREADS=1 python bench/artificial_sweep.py --name exp1_paper --data-seeds 10-19 --executor processes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from gin_core.book.records import add_setting_arguments, results_path, settings_from_arguments
from gin_core.book.restarts import seed_sweep, sweep_executor


def seeds(text: str) -> list[int]:
    """'0-9' or '0,3,5' or '0-2,7'."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="records go to bench/results/artificial_<name>.json")
    p.add_argument("--data-seeds", type=seeds, required=True)
    p.add_argument("--net-seeds", type=seeds, default=[0])
    add_setting_arguments(p)  # one option per setting of a run (gin_core.book.records.RunSettings)
    p.add_argument(
        "--eval-every", type=int, default=10, help="trajectory: evaluate every this many epochs (0: only at the end)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads of the serial executor")
    p.add_argument("--executor", choices=["serial", "processes"], default="serial", help="where the missing runs run")
    p.add_argument(
        "--workers", type=int, default=None, help="processes of --executor processes (default: one per core)"
    )
    p.add_argument(
        "--results", type=Path, default=None, help="folder of the records (default bench/results; tests: a scratch one)"
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    every = args.eval_every
    eval_epochs = tuple(range(every, args.n_epochs, every)) if every else ()
    name = f"artificial_{args.name}.json"
    cache = args.results / name if args.results is not None else results_path(name)
    print("command: python " + " ".join(sys.argv), flush=True)
    with sweep_executor(args.executor, args.workers):
        records = seed_sweep(
            args.data_seeds,
            args.net_seeds,
            cache=cache,
            log=lambda s: print(s, flush=True),
            **settings_from_arguments(args),
            eval_epochs=eval_epochs,
        )
    print(f"records in {cache}")
    return records


if __name__ == "__main__":
    main()
