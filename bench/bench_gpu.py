#!/usr/bin/env python3
"""The GPU paths, measured: step times, the paper's EMNIST schedule extrapolated, experiment 1 at paper scale.

    python bench/bench_gpu.py --out bench/results/speed_gpu.json        # on a CUDA machine

* 10-d network (Table 2), batch 1000: eager against the compiled step (gin_core.training.compiled; on CUDA with
  ``mode="reduce-overhead"``, i.e. CUDA graphs), data held on the device.
* EMNIST network (Table 3), batch 240: float32 eager against bfloat16 autocast with channels-last
  images (eager and compiled); after a few bf16 steps the float32 weights must still invert test
  images to 1e-4 (the flow's inverse-consistency).
* The paper's full EMNIST schedule (95 epochs of 240,000 images = 95,000 steps) extrapolated from the
  measured step time of each path.
* Experiment 1 at paper scale (100,000 points, 80 epochs, drop at 50), one whole run per path.
* Seed ensembles of the 10-d network (gin_core.training.EnsembleStep), N = 1, 8, 64 and 256 members
  in one vmapped step: seconds per step and per member (the GPU is launch-bound for one network).

Without CUDA it stops with a message, unless ``--smoke`` runs every path on the CPU with tiny sizes
(what the tests check).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
from pathlib import Path

import torch

from gin_core import GIN, artificial_gin, emnist_gin, inversion_error
from gin_core.training import CompiledStep, EagerStep, EnsembleStep
from gin_core.training.auto import clear_cache


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(fn, steps: int, device: torch.device, warmup: int = 2) -> float:
    """Seconds per step of ``fn`` (after ``warmup`` calls), synchronised with the device."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / steps


def bench_10d(device, steps: int, batch: int = 1000) -> dict:
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, 10, generator=g, device=device) * 3
    u = torch.arange(batch, device=device) % 5
    out = {}
    for label in ("eager", "compiled"):
        model = GIN(artificial_gin(seed=0), 5).to(device)
        if label == "eager":
            fn = functools.partial(EagerStep(model, 1e-2), x, u, 0.01, g)
        else:
            step = CompiledStep(model, 1e-2)
            start = time.perf_counter()
            step(x, u, 0.01, g)
            out["compile_s"] = time.perf_counter() - start
            fn = functools.partial(step, x, u, 0.01, g)

        out[f"{label}_s"] = time_steps(fn, steps, device)
    return out


def bench_emnist(device, steps: int, compiled: bool, batch: int = 240) -> dict:
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 1, 28, 28, generator=g, device=device)
    u = torch.arange(batch, device=device) % 10
    out = {}
    paths = ["fp32", "bf16_channels_last"] + (["bf16_compiled"] if compiled else [])
    for label in paths:
        net = emnist_gin(seed=0).to(device)
        if label != "fp32":
            net = net.to(memory_format=torch.channels_last)
        model = GIN(net, 10).to(device)
        step = CompiledStep(model, 3e-4, amp=True, compile=label == "bf16_compiled") if label != "fp32" else None
        if step is None:
            fn = functools.partial(EagerStep(model, 3e-4), x, u, 0.01, g)
        else:
            start = time.perf_counter()
            step(x, u, 0.01, g)
            out[f"{label}_first_call_s"] = time.perf_counter() - start
            fn = functools.partial(step, x, u, 0.01, g)

        out[f"{label}_s"] = time_steps(fn, steps, device)
        # float32 weights after bf16 steps: the flow still inverts to float32 precision
        out[f"{label}_inversion_error"] = inversion_error(net.eval(), x[:64].contiguous())
        net.train()
        out[f"{label}_paper_schedule_h"] = out[f"{label}_s"] * (240 / batch) * 95 * (240_000 // 240) / 3600
    return out


def bench_ensembles(device, steps: int, sizes, batch: int = 1000, compiled: bool = False) -> dict:
    """Seconds per step of an ensemble of N 10-d networks (gin_core.training.EnsembleStep), and per member."""
    out = {}
    for n in sizes:
        models = [GIN(artificial_gin(seed=k), 5).to(device) for k in range(n)]
        generators = [torch.Generator(device=device).manual_seed(k) for k in range(n)]
        g = torch.Generator(device=device).manual_seed(0)
        x = torch.randn(n, batch, 10, generator=g, device=device) * 3
        u = (torch.arange(batch, device=device) % 5).expand(n, batch).contiguous()
        step = EnsembleStep(models, 1e-2, compile=compiled)
        seconds = time_steps(functools.partial(step, x, u, 0.01, generators), steps, device)
        out[str(n)] = {"step_s": seconds, "per_member_s": seconds / n, "mode": step.mode}
    return out


def experiment1_paper(device, fast) -> dict:
    from gin_core.book.runs import run_artificial

    clear_cache()
    start = time.perf_counter()
    run = run_artificial(n_clusters=5, data_seed=0, net_seed=0, n_epochs=80, milestones=(50,), device=device, fast=fast)
    return {"seconds": time.perf_counter() - start, "mcc": run.evaluation.mcc, "fast": run.history.fast}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200, help="timed steps of the 10-d network (EMNIST: steps // 4)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes on whatever device there is (CPU: checks the code)")
    p.add_argument("--no-compile", action="store_true", help="leave out the compiled paths")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.smoke:
        sys.exit("no CUDA device: bench_gpu.py measures the GPU paths (use --smoke to run them on the CPU as a check)")
    steps = 2 if args.smoke else args.steps
    result = {
        "command": "python bench/bench_gpu.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()})",
        "torch": torch.__version__,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if not args.no_compile:
        result["10d"] = bench_10d(device, steps, batch=100 if args.smoke else 1000)
    sizes = (1, 2) if args.smoke else (1, 8, 64, 256)  # issue 18: seed ensembles of the 10-d network
    result["ensembles"] = bench_ensembles(device, steps, sizes, batch=100 if args.smoke else 1000)
    result["emnist"] = bench_emnist(
        device, max(2, steps // 4), compiled=not args.no_compile and not args.smoke, batch=16 if args.smoke else 240
    )
    if not args.smoke:
        result["experiment1_paper"] = {
            label: experiment1_paper(device, fast) for label, fast in (("eager", False), ("fast", True))
        }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
