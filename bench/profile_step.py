"""Profile one gin_core training step of each paper network with torch.profiler (CPU).

    python bench/profile_step.py --threads 1 --steps 20

Prints, for the 10-d network (batch 1000) and the EMNIST network (batch 240), the operators that take
the most self CPU time over ``--steps`` steps after a warm-up: where an optimisation of the step has
to look first (the numbers in bench/README.md come from this command).
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from gin_core import GIN, artificial_gin, emnist_gin
from gin_core.training import EagerStep


def profile_network(name: str, net, shape, n_classes: int, batch: int, steps: int, rows: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *shape, generator=g)
    u = torch.randint(n_classes, (batch,), generator=g)
    eager = EagerStep(GIN(net, n_classes), 1e-3)

    def step():
        eager(x, u, noise=0.01, generator=g)

    for _ in range(3):  # warm-up
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    print(f"\n== {name}, batch {batch}, {steps} steps, {torch.get_num_threads()} thread(s) ==")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rows", type=int, default=12)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    profile_network("10-d network (Table 2)", artificial_gin(seed=0), (10,), 5, 1000, args.steps, args.rows)
    profile_network(
        "EMNIST network (Table 3)", emnist_gin(seed=0), (1, 28, 28), 10, 240, max(args.steps // 4, 2), args.rows
    )


if __name__ == "__main__":
    main()
