"""The book's protocol for artificial data: develop on data seeds 10-19, freeze it, score it once on 20-29.

    # 1. develop: apply a candidate protocol to the development seeds (runs what is missing)
    OMP_NUM_THREADS=1 python bench/protocol.py dev --knee book --restart-when disagree --net-seeds 0 1 2
    # 2. freeze: the same arguments, written to bench/results/protocol.json with the commit and time
    OMP_NUM_THREADS=1 python bench/protocol.py freeze --knee book --restart-when disagree --net-seeds 0 1 2
    # 3. score once on the held-out seeds 20-29 (refuses to run twice)
    OMP_NUM_THREADS=1 python bench/protocol.py score

Experiment 1 (5 clusters) and experiment 2 (3 clusters), 100,000 points; the runs are cached in
bench/results/artificial_exp{1,2}_drop10_dev.json (development) and
bench/results/artificial_protocol_exp{1,2}_test.json (held out). They run through
gin_core.book.restarts.seed_sweep (the sweep runner, one run after another: each restart
depends on the run before it). `--smoke --results DIR` checks the wiring on tiny data in a
scratch folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from gin_core.book.records import results_path
from gin_core.book.restarts import Protocol, protocol_score, run_protocol
from gin_core.checkpoints import save_json

DEV_SEEDS, TEST_SEEDS = range(10, 20), range(20, 30)
EXPERIMENTS = {"exp1": 5, "exp2": 3}


def _protocol(args) -> Protocol:
    return Protocol(
        n_epochs=args.epochs,
        milestones=tuple(args.drop),
        knee=args.knee,
        net_seeds=tuple(args.net_seeds),
        restart_when=args.restart_when,
        select_by=args.select_by,
        min_knee_ratio=args.min_knee_ratio,
    )


SMOKE = dict(n_points=600, n_val=200, batch_size=100)  # tiny data: checks the wiring, measures nothing


def _apply(protocol: Protocol, seeds, cache_name: str, results: Path | None = None, data: dict | None = None) -> dict:
    out = {}
    for name, clusters in EXPERIMENTS.items():
        cache = _path(cache_name.format(name=name), results)
        chosen = run_protocol(protocol, seeds, cache=cache, log=_print, n_clusters=clusters, **(data or {}))
        out[name] = protocol_score(protocol, chosen)
        print(f"{name}: {out[name]['successes']} of {out[name]['data_sets']} ({out[name]['runs']} runs)", flush=True)
    return out


def _print(line: str) -> None:
    print(line, flush=True)


def _path(name: str, results: Path | None) -> Path:
    return results / name if results is not None else results_path(name)


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> dict:
    """Run one step; returns the development score (dev, freeze) or the held-out score (score)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["dev", "freeze", "score"])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--drop", type=int, nargs="*", default=[10])
    p.add_argument("--knee", choices=["book", "max_gap"], default="book")
    p.add_argument("--net-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--restart-when", choices=["never", "always", "disagree", "weak_knee"], default="never")
    p.add_argument("--select-by", choices=["val_nll", "knee"], default="val_nll")
    p.add_argument("--min-knee-ratio", type=float, default=5.0)
    p.add_argument("--note", default="", help="freeze: why this protocol (stored with it)")
    p.add_argument("--results", type=Path, default=None, help="folder of the records (default bench/results)")
    p.add_argument("--smoke", action="store_true", help=f"tiny data ({SMOKE}); needs --results (a scratch folder)")
    args = p.parse_args(argv)
    if args.smoke and args.results is None:
        p.error("--smoke writes tiny runs: give --results (a scratch folder), not the book's records")
    data = SMOKE if args.smoke else {}
    torch.set_num_threads(1)
    command = "python " + " ".join(sys.argv)
    print(f"command: {command}", flush=True)
    frozen_path, test_path = _path("protocol.json", args.results), _path("protocol_test.json", args.results)
    if args.step in ("dev", "freeze"):
        protocol = _protocol(args)
        dev = _apply(protocol, DEV_SEEDS, "artificial_{name}_drop10_dev.json", args.results, data)
        if args.step == "freeze":
            if frozen_path.exists():
                raise SystemExit(f"{frozen_path} exists: the protocol is already frozen")
            record = {
                "protocol": protocol.as_dict(),
                "frozen_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "code_commit": _commit(),
                "command": command,
                "note": args.note,
                "development_seeds": list(DEV_SEEDS),
                "development_score": dev,
                "test_seeds": list(TEST_SEEDS),
            }
            save_json(frozen_path, record)
            print(f"frozen in {frozen_path}")
        return dev
    if test_path.exists():
        raise SystemExit(f"{test_path} exists: the held-out seeds were scored once already")
    frozen = json.loads(frozen_path.read_text())
    protocol = Protocol(**{k: tuple(v) if isinstance(v, list) else v for k, v in frozen["protocol"].items()})
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    test = _apply(protocol, TEST_SEEDS, "artificial_protocol_{name}_test.json", args.results, data)
    save_json(
        test_path,
        {
            "protocol": protocol.as_dict(),
            "frozen_utc": frozen["frozen_utc"],
            "started_utc": started,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "code_commit": _commit(),
            "command": command,
            "test_seeds": list(TEST_SEEDS),
            "score": test,
        },
    )
    print(f"scored in {test_path}")
    return test


if __name__ == "__main__":
    main()
