"""Time one training step of the paper's two networks: gin_core against the authors' FrEIA code path.

One step is what a training loop does per batch: add the noise, map the batch to the latent,
compute the loss, back-propagate and take an Adam step (and read the loss value, as both
training loops do to log it). Both implementations run side by side in one process, on the
same batch, with the same thread count, interleaved repeat by repeat (the order alternates).
For each repeat the script records the time per step of each, as thread CPU time (robust
when other processes share the cores: time spent descheduled is not counted) and as wall
time, and prints the medians and the ratio FrEIA / gin_core (the median over repeats of the
per-repeat ratios; > 1 means gin_core is faster). Sizes are the paper's: batch 1000 of 10-d
points with 5 classes, batch 240 of 28x28 images with 10 classes (random data: the time of a
step does not depend on the values).

* gin_core: :func:`gin_core.artificial_gin` / :func:`gin_core.emnist_gin`, the
  loss with batch class statistics (:func:`gin_core.loss.nll_terms`), and
  :class:`gin_core.training.EagerStep` with its fused Adam, exactly as
  :func:`gin_core.training` runs them (``check_values=False``: ``train`` validates its whole
  data set once, not every batch).
* FrEIA 0.2: ``FrEIA.framework.SequenceINN`` of ``GINCouplingBlock`` + ``PermuteRandom``
  (and ``IRevNetDownsampling`` / ``Flatten`` for EMNIST), the same subnetworks and clamp 2,
  as in the authors' ``construct_net_10d`` / ``construct_net_emnist``, with the authors' loss:
  a Python loop over classes computing each class's (biased) standard deviation, then
  ``0.5 + mean(log sig[u]) + 0.5 log 2 pi - log_det / d`` and ``backward(retain_graph=True)``.
  (The authors' loop also skips batches with a class of fewer than two samples by counting
  labels sample by sample in Python; that check is left out here because it is data
  loading, not the step, and would only slow the FrEIA side down.)

Usage (one thread, as on the project's shared 2-core machine)::

    python bench/bench_step.py --threads 1

References:
    Sorrenson et al. (2020), Appendix D (networks, batch sizes 1000 and 240).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import FrEIA.framework as Ff
import FrEIA.modules as Fm
import numpy as np
import torch
from torch import nn

from gin_core import GIN, artificial_gin, count_parameters, emnist_gin
from gin_core.training import CompiledStep, EagerStep

# ----------------------------------------------------------------------------------------------
# The authors' code path on FrEIA 0.2
# ----------------------------------------------------------------------------------------------


def authors_fc(c_in: int, hidden: int, c_out: int, xavier: bool) -> nn.Sequential:
    """The authors' fully connected subnet: a plain ``nn.Sequential``, last layer zero."""
    subnet = nn.Sequential(
        nn.Linear(c_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, c_out)
    )
    return _zero_last(subnet, xavier)


def authors_conv(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    """The authors' convolutional subnet: three 3x3 convolutions, Xavier-normal, last layer zero."""
    subnet = nn.Sequential(
        nn.Conv2d(c_in, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, c_out, 3, padding=1),
    )
    return _zero_last(subnet, True)


def _zero_last(subnet: nn.Sequential, xavier: bool) -> nn.Sequential:
    layers = [m for m in subnet if isinstance(m, (nn.Linear, nn.Conv2d))]
    if xavier:
        for layer in layers:
            nn.init.xavier_normal_(layer.weight)
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return subnet


def freia_10d(seed: int = 0) -> Ff.SequenceINN:
    """8 GIN blocks, each followed by a random permutation (subnets 5->10->10->10)."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = Ff.SequenceINN(10)
    for _ in range(8):
        net.append(
            Fm.GINCouplingBlock, subnet_constructor=lambda c_in, c_out: authors_fc(c_in, 10, c_out, False), clamp=2.0
        )
        net.append(Fm.PermuteRandom, seed=int(rng.randint(2**31)))
    return net


def freia_emnist(seed: int = 0) -> Ff.SequenceINN:
    """Downsample, 4 conv blocks (16), downsample, 4 conv blocks (32), flatten, 2 fc blocks (392)."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = Ff.SequenceINN(1, 28, 28)
    net.append(Fm.IRevNetDownsampling)
    for hidden in (16, 32):
        for _ in range(4):
            net.append(
                Fm.GINCouplingBlock,
                subnet_constructor=lambda c_in, c_out, h=hidden: authors_conv(c_in, h, c_out),
                clamp=2.0,
            )
            net.append(Fm.PermuteRandom, seed=int(rng.randint(2**31)))
        if hidden == 16:
            net.append(Fm.IRevNetDownsampling)
    net.append(Fm.Flatten)
    for _ in range(2):
        net.append(
            Fm.GINCouplingBlock, subnet_constructor=lambda c_in, c_out: authors_fc(c_in, 392, c_out, True), clamp=2.0
        )
        net.append(Fm.PermuteRandom, seed=int(rng.randint(2**31)))
    return net


def authors_loss(z: torch.Tensor, target: torch.Tensor, log_det: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The loss of the authors' ``train_model`` with empirical class variances."""
    sig = torch.stack([z[target == i].std(0, unbiased=False) for i in range(n_classes)])
    loss = 0.5 + sig[target].log().mean(1) + 0.5 * np.log(2 * np.pi)
    loss = loss - log_det / z.shape[1]
    return loss.mean()


def freia_step(net, optimizer, x, u, n_classes, noise=0.01, generator=None) -> float:
    optimizer.zero_grad()
    data = x + torch.randn(x.shape, generator=generator) * noise
    z, log_det = net(data)
    z = z.flatten(1)
    loss = authors_loss(z, u, log_det, n_classes)
    value = loss.item()
    loss.backward(retain_graph=True)
    optimizer.step()
    return value


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------


def balanced_labels(n: int, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    return torch.arange(n)[torch.randperm(n, generator=generator)] % n_classes


def step_functions(name, x, u, n_classes, lr, modes: tuple[str, ...]) -> tuple[dict, dict]:
    """The steps compared: gin_core eager, gin_core's fast modes (``"compiled"``, ``"channels_last"``) and FrEIA."""
    make = artificial_gin if name == "10d" else emnist_gin
    g = torch.Generator().manual_seed(0)
    fns, info = {}, {}
    eager = make(seed=0).train()
    fns["gin_core"] = functools.partial(EagerStep(GIN(eager, n_classes), lr), x, u, 0.01, g)
    for mode in modes:
        net = make(seed=0).train()
        step = CompiledStep(GIN(net, n_classes), lr, compile=mode == "compiled")
        start = time.perf_counter()
        step(x, u, 0.01, g)  # compiles (or loads from inductor's cache)
        info[f"first_call_s {mode}"] = time.perf_counter() - start
        if step.eager:
            raise RuntimeError("the fast step fell back to eager; see the warning above")
        fns[f"gin_core {mode}"] = functools.partial(step, x, u, 0.01, g)
    theirs = (freia_10d if name == "10d" else freia_emnist)(0)
    theirs.train()
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=lr)
    fns["freia"] = functools.partial(freia_step, theirs, opt_theirs, x, u, n_classes, 0.01, g)
    info["parameters"] = count_parameters(eager)
    return fns, info


def interleaved(fns: dict, repeats: int, steps: int, warmup: int) -> dict:
    """Median seconds per step of each function (thread CPU time and wall time), interleaved, order rotating."""
    for _ in range(warmup):
        for fn in fns.values():
            for _ in range(steps):
                fn()
    cpu = {k: [] for k in fns}
    wall = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for key in names[r % len(names) :] + names[: r % len(names)]:
            t_cpu, t_wall = time.thread_time(), time.perf_counter()
            for _ in range(steps):
                fns[key]()
            cpu[key].append((time.thread_time() - t_cpu) / steps)
            wall[key].append((time.perf_counter() - t_wall) / steps)
    out = {}
    for key in names:
        out[key] = {"cpu_s": statistics.median(cpu[key]), "wall_s": statistics.median(wall[key])}
        if key != "freia":
            ratios = [a / b for a, b in zip(cpu["freia"], cpu[key])]
            out[key]["freia_over_this_cpu"] = statistics.median(ratios)
            out[key]["freia_over_this_cpu_range"] = [min(ratios), max(ratios)]
            out[key]["freia_over_this_wall"] = statistics.median([a / b for a, b in zip(wall["freia"], wall[key])])
    return out


def step_flops(name, x, u, n_classes) -> int:
    """FLOPs of one eager step's forward and backward (torch.utils.flop_counter; Adam is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = GIN((artificial_gin if name == "10d" else emnist_gin)(seed=0), n_classes)
    with FlopCounterMode(display=False) as counter:
        model.loss_terms(x, u)[0].backward()
    return int(counter.get_total_flops())


def matmul_rate(threads: int, n: int = 512, repeats: int = 20) -> float:
    """FLOP/s of an n x n float32 matrix product at this thread count: what the cores can do at best."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def experiment1_run(fast, seed: int, n_epochs: int, milestones: tuple[int, ...]) -> dict:
    """Wall time of one whole experiment 1 run in this process (data generation and evaluation included)."""
    from gin_core.book.runs import run_artificial

    start = time.perf_counter()
    run = run_artificial(
        n_clusters=5, data_seed=seed, net_seed=seed, n_epochs=n_epochs, milestones=milestones, fast=fast
    )
    return {
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "mcc": run.evaluation.mcc,
        "fast": run.history.fast,
        "compile_s": run.history.compile_seconds,
        "train_s": run.seconds,
    }


def whole_experiment1(fast, n_epochs: int, milestones: tuple[int, ...], runs: int = 1) -> dict:
    """Wall time of whole experiment 1 runs in this process; run i has data seed i and network seed i."""
    start = time.perf_counter()
    records = [experiment1_run(fast, seed, n_epochs, milestones) for seed in range(runs)]
    return {"seconds": time.perf_counter() - start, "runs": records}


def interleaved_sweep(runs: int, n_epochs: int, milestones: tuple[int, ...]) -> dict:
    """A sweep of ``runs`` experiment 1 runs, eager and fast (compiled) side by side, run by run.

    Run i of each sweep has data seed i and network seed i; the eager and the fast run of a seed
    follow each other, in alternating order, so that a slow spell of a shared machine falls on
    both sweeps alike. The compiled step is forgotten first, so the fast sweep pays for its
    compilation once (in its first run), as a fresh process would. A sweep's time is the sum of
    its runs' wall times.
    """
    from gin_core.training import auto as fast_module

    fast_module.clear_cache()
    out = {"eager": [], "fast": []}
    for seed in range(runs):
        order = (("eager", False), ("fast", True))
        for label, fast in order if seed % 2 == 0 else order[::-1]:
            out[label].append(experiment1_run(fast, seed, n_epochs, milestones))
    return {label: {"seconds": sum(r["seconds"] for r in rs), "runs": rs} for label, rs in out.items()}


def mnist_steps(fast, steps: int) -> dict:
    """Steps per second of a fixed number of MNIST training steps through gin_core.training.train."""
    from gin_core import train
    from gin_core.book.settings import data_root
    from gin_core.digits import load_digits

    x, u = load_digits("mnist", "train", data_root(), limit=240 * steps)
    start = time.perf_counter()
    history = train(emnist_gin(seed=0), x, u, 10, 1, 3e-4, 240, progress=False, fast=fast)
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds, "fast": history.fast}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts, in one process (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved repeats; the median is reported")
    p.add_argument("--steps", type=int, default=20, help="steps per repeat (10-d); EMNIST uses steps // 4, at least 2")
    p.add_argument("--warmup", type=int, default=1, help="untimed repeats first")
    p.add_argument("--only", choices=["10d", "emnist"], default=None)
    p.add_argument("--no-fast", action="store_true", help="leave out gin_core's compiled step")
    p.add_argument("--emnist-fast", action="store_true", help="also time the compiled EMNIST step (minutes to compile)")
    p.add_argument("--whole", action="store_true", help="also time whole runs: experiment 1, a sweep, MNIST steps")
    p.add_argument("--sweep", type=int, default=10, help="experiment 1 runs in the sweep (with --whole)")
    p.add_argument("--mnist-steps", type=int, default=20, help="MNIST training steps timed (with --whole)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    result = {
        "command": "python bench/bench_step.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "torch": torch.__version__,
        "machine": platform.platform(),
        "processor": _processor(),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inductor_cache": _inductor_cache(),
        "threads": {},
    }
    g = torch.Generator().manual_seed(1)
    cases = {
        "10d": (torch.randn(1000, 10, generator=g) * 3, balanced_labels(1000, 5, g), 5, 1e-2, args.steps),
        "emnist": (
            torch.rand(240, 1, 28, 28, generator=g),
            balanced_labels(240, 10, g),
            10,
            3e-4,
            max(2, args.steps // 4),
        ),
    }
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"== torch {torch.__version__}, {threads} thread(s), {args.repeats} repeats; median time per step ==")
        entry = {"matmul_flop_per_s": matmul_rate(threads)}
        for name, (x, u, n_classes, lr, steps) in cases.items():
            if args.only not in (None, name):
                continue
            modes = () if args.no_fast else ("compiled",) if name == "10d" else ("channels_last",)
            if name == "emnist" and args.emnist_fast and not args.no_fast:
                modes += ("compiled",)
            fns, info = step_functions(name, x, u, n_classes, lr, modes)
            timing = interleaved(fns, args.repeats, steps, args.warmup)
            flops = step_flops(name, x, u, n_classes)
            floor = flops / entry["matmul_flop_per_s"]
            best = min(v["cpu_s"] for k, v in timing.items() if k != "freia")
            entry[name] = {**info, "timing": timing, "flops": flops, "floor_s": floor, "best_over_floor": best / floor}
            for key, t in timing.items():
                ratio = (
                    f"  freia/this {t['freia_over_this_cpu']:.2f}x (wall {t['freia_over_this_wall']:.2f}x)"
                    if key != "freia"
                    else ""
                )
                print(f"  {name:>6} {key:<14} {1e3 * t['cpu_s']:8.2f} ms cpu {1e3 * t['wall_s']:8.2f} ms wall{ratio}")
            print(
                f"  {name:>6} {flops / 1e6:.1f} MFLOP a step; floor at matmul speed {1e3 * floor:.2f} ms; best / floor {best / floor:.1f}x"
            )
            for key, value in info.items():
                if key.startswith("first_call_s"):
                    print(f"  {name:>6} first call of {key.split()[1]} (compilation, if any): {value:.1f} s")
        if args.whole:
            entry["whole"] = whole_runs(args)
        result["threads"][str(threads)] = entry
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return result


def whole_runs(args) -> dict:
    """Experiment 1 at the book's cpu schedule (30 epochs, learning rate divided by 10 at epoch 10), eager and fast."""
    from gin_core.training import auto as fast_module

    out = {}
    schedule = {"n_epochs": 30, "milestones": (10,)}
    for label, fast in (("eager", False), ("auto", "auto"), ("fast", True)):
        fast_module.clear_cache()  # each whole-run measurement pays its own compilation
        single = whole_experiment1(fast, **schedule)
        out[f"experiment1_{label}"] = single
        print(f"  experiment 1, one run ({label}): {single['seconds']:.1f} s")
    sweep = interleaved_sweep(args.sweep, **schedule)
    for label in ("eager", "fast"):
        out[f"sweep_{label}"] = sweep[label]
        print(f"  experiment 1, sweep of {args.sweep} runs ({label}, interleaved): {sweep[label]['seconds']:.1f} s")
    for label, fast in (("eager", False), ("auto", "auto")):
        steps = mnist_steps(fast, args.mnist_steps)
        out[f"mnist_{label}"] = steps
        print(
            f"  MNIST, {steps['steps']} steps ({label}, fast path used: {steps['fast']}): {steps['steps_per_s']:.2f} steps/s"
        )
    return out


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _inductor_cache() -> str:
    from torch._inductor import config as inductor_config

    return str(getattr(inductor_config, "cache_dir", None) or os.environ.get("TORCHINDUCTOR_CACHE_DIR", ""))


if __name__ == "__main__":
    main()
