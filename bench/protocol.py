"""The book's protocol for artificial data: develop on data seeds 10-19, freeze it, score it once on 20-29.

    # 1. develop: apply a candidate protocol to the development seeds (runs what is missing)
    OMP_NUM_THREADS=1 python bench/protocol.py dev --knee book --restart-when disagree --net-seeds 0 1 2
    # 2. freeze: the same arguments, written to bench/results/protocol.json with the commit and time
    OMP_NUM_THREADS=1 python bench/protocol.py freeze --knee book --restart-when disagree --net-seeds 0 1 2
    # 3. score once on the held-out seeds 20-29 (refuses to run twice)
    OMP_NUM_THREADS=1 python bench/protocol.py score

Experiment 1 (5 clusters) and experiment 2 (3 clusters), 100,000 points; the runs are cached in
bench/results/artificial_exp{1,2}_drop10_dev.json (development) and
bench/results/artificial_protocol_exp{1,2}_test.json (held out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch

from gin_core.book.experiments import Protocol, protocol_score, results_path, run_protocol
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


def _apply(protocol: Protocol, seeds, cache_name: str) -> dict:
    out = {}
    for name, clusters in EXPERIMENTS.items():
        cache = results_path(cache_name.format(name=name))
        chosen = run_protocol(protocol, seeds, cache=cache, log=lambda s: print(s, flush=True), n_clusters=clusters)
        out[name] = protocol_score(protocol, chosen)
        print(f"{name}: {out[name]['successes']} of {out[name]['data_sets']} ({out[name]['runs']} runs)", flush=True)
    return out


def _commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def main(argv=None):
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
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    command = "python " + " ".join(sys.argv)
    print(f"command: {command}", flush=True)
    frozen_path, test_path = results_path("protocol.json"), results_path("protocol_test.json")
    if args.step in ("dev", "freeze"):
        protocol = _protocol(args)
        dev = _apply(protocol, DEV_SEEDS, "artificial_{name}_drop10_dev.json")
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
        return
    if test_path.exists():
        raise SystemExit(f"{test_path} exists: the held-out seeds were scored once already")
    frozen = json.loads(frozen_path.read_text())
    protocol = Protocol(**{k: tuple(v) if isinstance(v, list) else v for k, v in frozen["protocol"].items()})
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    test = _apply(protocol, TEST_SEEDS, "artificial_protocol_{name}_test.json")
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


if __name__ == "__main__":
    main()
