"""A sweep of experiment 1 runs one after another at one thread against the same runs through the sweep runner.

Two sections, side by side in one run, written as JSON (default ``bench/results/sweep.json``):

* ``sweep``: the runs (data seed = network seed = 0..R-1; 5 clusters, 100,000 points, 30 epochs,
  lr 1e-2 divided by 10 at epoch 10, batch 1000: the book's cpu schedule) first one after another
  in this process at one thread, as the book's sweeps run them today
  (:func:`gin_core.book.runs.run_artificial`, ``fast="auto"``), then through
  :func:`gin_core.book.sweeps.run_sweep` (local processes, one per core, one thread each, runs
  packed into ensembles). For each: wall time, runs per hour, the successes
  (:func:`gin_core.book.records.success`: the right dimension and a top-spectrum MCC of at
  least 0.95), and the core time per step and member (wall time x cores used / (runs x steps),
  data, process start-up, compilation and evaluation included); the serial sweep also records its
  training time per step.
* ``ensemble_step``: the eager ensemble step (:class:`gin_core.training.EnsembleStep`)
  of N = 1 ... 64 networks of Table 2, in thread CPU time and wall time per step and per member,
  against the FLOP floor of one member's step (its forward and backward FLOPs, counted by
  ``torch.utils.flop_counter``, at the speed of a 512 x 512 float32 matrix product at one thread,
  as ``bench/bench_step.py`` computes it), with today's single steps (eager and compiled) beside it.
  ``--compiled-sizes`` also times the compiled ensemble step at those N (each compiles for minutes).

Usage (the project's 2-core machine)::

    OMP_NUM_THREADS=1 python bench/bench_sweep.py              # the full bench, about 10-20 minutes
    OMP_NUM_THREADS=1 python bench/bench_sweep.py --smoke --out /tmp/sweep.json   # tiny sizes (tests)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from gin_core import artificial_gin
from gin_core.book.records import success
from gin_core.book.runs import run_artificial, run_record
from gin_core.book.sweeps import ARTIFICIAL, local_workers, run_sweep
from gin_core.checkpoints import save_json
from gin_core.model import GIN
from gin_core.training import EnsembleStep
from gin_core.training.compiled import CompiledStep, compile_available
from gin_core.training.steps import EagerStep

FULL = dict(n_clusters=5, n_points=100_000, n_epochs=30, lr=1e-2, milestones=[10], batch_size=1000)
SMOKE = dict(n_clusters=5, n_points=1000, n_val=200, n_epochs=2, lr=1e-2, milestones=[1], batch_size=500)


def settings_of(schedule: dict, runs: int) -> list[dict]:
    return [{**schedule, "data_seed": s, "net_seed": s} for s in range(runs)]


def steps_per_run(schedule: dict) -> int:
    return schedule["n_epochs"] * (schedule["n_points"] // schedule["batch_size"])


def serial_sweep(schedule: dict, runs: int) -> dict:
    """Today's way: the runs one after another in this process at one thread (``fast="auto"``)."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    records = []
    for settings in settings_of(schedule, runs):
        arguments = {k: v for k, v in settings.items() if k != "milestones"}
        run = run_artificial(**arguments, milestones=tuple(settings["milestones"]), progress=False)
        records.append({**run_record(run), "fast": run.history.fast})
        print(f"  serial run {len(records)}/{runs}: {run.seconds:.1f} s training ({run.history.fast})", flush=True)
    wall = time.perf_counter() - start
    train = sum(r["seconds"] for r in records)
    return {
        **_summary(records, wall, 1, runs * steps_per_run(schedule)),
        "train_seconds": train,
        "train_member_step_s": train / (runs * steps_per_run(schedule)),
        "steps": [r["fast"] for r in records],
    }


def runner_sweep(schedule: dict, runs: int, workers: int) -> dict:
    """The new way: :func:`~gin_core.book.sweeps.run_sweep` over local processes, packed into ensembles."""
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        records = run_sweep(settings_of(schedule, runs), ARTIFICIAL, store, workers=workers, progress=False)
        wall = time.perf_counter() - start
    flat = [{**r["settings"], **r["result"]} for r in records]
    packs = {}
    for r in records:  # one training time per pack (its members trained together)
        packs[(r["run"]["pid"], r["run"]["seconds"])] = r["run"]["pack"]
    return {
        **_summary(flat, wall, workers, runs * steps_per_run(schedule)),
        "workers": workers,
        "packs": sorted(packs.values()),
        "pack_seconds": [seconds for (_, seconds) in packs],  # data, training and evaluation of each pack
    }


def _summary(records: list[dict], wall: float, cores: int, member_steps: int) -> dict:
    """Counts and times; ``core_s_per_member_step``: wall time x cores used / (runs x steps), everything included."""
    return {
        "runs": len(records),
        "wall_s": wall,
        "runs_per_hour": 3600 * len(records) / wall,
        "core_s_per_member_step": wall * cores / member_steps,
        "successes": sum(success(r) for r in records),
        "top_mcc": [r["top_mcc"] for r in records],
        "n_informative": [r["n_informative"] for r in records],
    }


# ----------------------------------------------------------------------------------------------
# The ensemble step against the FLOP floor


def batch(n: int, members: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(members, n, 10, generator=generator) * 3
    u = (torch.arange(n)[torch.randperm(n, generator=generator)] % 5).repeat(members, 1)
    return x, u


def member_flops(n: int) -> int:
    """FLOPs of one network's forward and backward on a batch of ``n`` (Adam not counted), as bench_step.py counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    model = GIN(artificial_gin(seed=0), 5)
    x, u = batch(n, 1, torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        model.loss_terms(x[0], u[0])[0].backward()
    return int(counter.get_total_flops())


def matmul_rate(n: int = 512, repeats: int = 20) -> float:
    """FLOP/s of an n x n float32 matrix product at the current thread count (the best the core does)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def time_steps(step_fn, steps: int, repeats: int) -> dict:
    """Median thread-CPU and wall seconds per call of ``step_fn`` over ``repeats`` repeats of ``steps`` calls."""
    step_fn()  # warm up (and compile, where the step compiles)
    cpu, wall = [], []
    for _ in range(repeats):
        t_cpu, t_wall = time.thread_time(), time.perf_counter()
        for _ in range(steps):
            step_fn()
        cpu.append((time.thread_time() - t_cpu) / steps)
        wall.append((time.perf_counter() - t_wall) / steps)
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall)}


def ensemble_steps(sizes, compiled_sizes, n: int, steps: int, repeats: int, single_compiled: bool = True) -> dict:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    rate = matmul_rate()
    flops = member_flops(n)
    floor = flops / rate
    out = {"batch": n, "matmul_flop_per_s": rate, "member_flops": flops, "floor_s": floor, "sizes": [], "single": {}}
    x1, u1 = batch(n, 1, g)
    singles = [("eager", EagerStep)]
    if single_compiled and compile_available("cpu")[0]:
        singles.append(("compiled", CompiledStep))
    for label, cls in singles:
        step = cls(GIN(artificial_gin(seed=0), 5), 1e-2)
        timing = time_steps(lambda s=step: s(x1[0], u1[0], 0.01, g), steps, repeats)
        out["single"][label] = {**timing, "over_floor": timing["cpu_s"] / floor}
        print(f"  single {label:>8}: {1e3 * timing['cpu_s']:.2f} ms cpu, {timing['cpu_s'] / floor:.1f}x the floor")
    for members, mode in [(m, "eager") for m in sizes] + [(m, "compiled") for m in compiled_sizes]:
        x, u = batch(n, members, g)
        step = EnsembleStep([GIN(artificial_gin(seed=k), 5) for k in range(members)], 1e-2, compile=mode == "compiled")
        generators = [torch.Generator().manual_seed(k) for k in range(members)]
        start = time.perf_counter()
        step(x, u, 0.01, generators)
        first = time.perf_counter() - start
        calls = max(1, steps // max(1, members // 8))
        timing = time_steps(lambda s=step, x=x, u=u, g=generators: s(x, u, 0.01, g), calls, repeats)
        member = timing["cpu_s"] / members
        entry = {"members": members, "mode": mode, **timing, "member_s": member, "over_floor": member / floor}
        out["sizes"].append({**entry, "first_call_s": first})
        print(
            f"  ensemble N={members:>3} {mode:>8}: {1e3 * timing['cpu_s']:8.2f} ms a step (cpu), "
            f"{1e3 * member:.3f} ms a member, {member / floor:.1f}x the floor",
            flush=True,
        )
    eager = [e for e in out["sizes"] if e["mode"] == "eager"]
    best = min(eager, key=lambda e: e["member_s"])
    out["best"] = {"members": best["members"], "member_s": best["member_s"], "over_floor": best["over_floor"]}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--smoke", action="store_true", help="tiny sizes and no compiled single step, to check the wiring (tests)"
    )
    p.add_argument("--runs", type=int, default=None, help="experiment 1 runs in each sweep (default 10; smoke 2)")
    p.add_argument("--workers", type=int, default=None, help="runner processes (default: one per core)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="ensemble sizes N (default 1 2 4 8 16 32 64)")
    p.add_argument("--compiled-sizes", type=int, nargs="*", default=[], help="also time the compiled ensemble step")
    p.add_argument("--steps", type=int, default=None, help="steps per repeat (default 20; smoke 2)")
    p.add_argument("--repeats", type=int, default=None, help="repeats, median reported (default 5; smoke 1)")
    p.add_argument("--skip-sweep", action="store_true", help="only the ensemble step")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep.json"))
    args = p.parse_args(argv)
    schedule = SMOKE if args.smoke else FULL
    runs = args.runs or (2 if args.smoke else 10)
    sizes = args.sizes or ([1, 2] if args.smoke else [1, 2, 4, 8, 16, 32, 64])
    steps, repeats = args.steps or (2 if args.smoke else 20), args.repeats or (1 if args.smoke else 5)
    workers = args.workers or local_workers()
    record = {
        "command": "python bench/bench_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "smoke": args.smoke,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cores": local_workers(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "schedule": schedule,
    }
    print("== ensemble step of the 10-d network, 1 thread, batch 1000 ==", flush=True)
    record["ensemble_step"] = ensemble_steps(sizes, args.compiled_sizes, 1000, steps, repeats, not args.smoke)
    if not args.skip_sweep:
        print(f"== {runs} experiment 1 runs: one after another at one thread ==", flush=True)
        serial = serial_sweep(schedule, runs)
        print(f"== the same {runs} runs through the sweep runner ({workers} processes) ==", flush=True)
        runner = runner_sweep(schedule, runs, workers)
        record["sweep"] = {"serial": serial, "runner": runner, "speedup": serial["wall_s"] / runner["wall_s"]}
        for label, r in (("one after another", serial), ("sweep runner", runner)):
            print(
                f"  {label:>17}: {r['wall_s']:.1f} s, {r['runs_per_hour']:.0f} runs/h, "
                f"{1e3 * r['core_s_per_member_step']:.2f} core-ms a step and member (all included), "
                f"{r['successes']}/{r['runs']} successes"
            )
        print(f"  speedup {record['sweep']['speedup']:.2f}x")
    save_json(args.out, record)
    print(f"wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
