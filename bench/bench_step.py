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
  :class:`gin_core.GaussianMixtureNLL` loss with batch class statistics, and
  :func:`gin_core.training.train_step` with :func:`gin_core.training.make_optimizer`, exactly as
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
import math
import statistics
import time

import FrEIA.framework as Ff
import FrEIA.modules as Fm
import numpy as np
import torch
from torch import nn

from gin_core import GaussianMixtureNLL, artificial_gin, count_parameters, emnist_gin
from gin_core.training import make_optimizer, train_step

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


def bench_case(name, ours, theirs, x, u, n_classes, lr, repeats, steps, warmup):
    g = torch.Generator().manual_seed(0)
    criterion = GaussianMixtureNLL(n_classes, math.prod(ours.latent_shape))
    opt_ours = make_optimizer(ours.parameters(), lr)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=lr)
    ours.train()
    theirs.train()

    def run_ours():
        for _ in range(steps):
            train_step(ours, criterion, opt_ours, x, u, noise=0.01, generator=g, check_values=False)

    def run_theirs():
        for _ in range(steps):
            freia_step(theirs, opt_theirs, x, u, n_classes, noise=0.01, generator=g)

    for _ in range(warmup):
        run_ours()
        run_theirs()
    cpu = {"gin_core": [], "freia": []}
    wall = {"gin_core": [], "freia": []}
    for r in range(repeats):
        order = [("gin_core", run_ours), ("freia", run_theirs)]
        if r % 2:
            order.reverse()
        for key, fn in order:
            t_cpu, t_wall = time.thread_time(), time.perf_counter()
            fn()
            cpu[key].append((time.thread_time() - t_cpu) / steps)
            wall[key].append((time.perf_counter() - t_wall) / steps)
    result = {}
    print(
        f"{name}: batch {x.shape[0]}, parameters gin_core {count_parameters(ours):,}, freia {count_parameters(theirs):,}"
    )
    for clock, times in (("cpu", cpu), ("wall", wall)):
        med = {k: statistics.median(v) for k, v in times.items()}
        ratios = [a / b for a, b in zip(times["freia"], times["gin_core"])]
        result[clock] = statistics.median(ratios)
        print(
            f"  {clock:>4} time  gin_core {1e3 * med['gin_core']:8.2f} ms  "
            f"freia {1e3 * med['freia']:8.2f} ms  ratio freia/gin_core {result[clock]:4.2f}x "
            f"(repeats {min(ratios):.2f}-{max(ratios):.2f})"
        )
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved repeats; the median is reported")
    p.add_argument("--steps", type=int, default=20, help="steps per repeat (10-d); EMNIST uses steps // 4, at least 2")
    p.add_argument("--warmup", type=int, default=1, help="untimed repeats first")
    p.add_argument("--only", choices=["10d", "emnist"], default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.repeats}; median time per step, "
        "thread CPU time and wall time; ratio = median over repeats of freia / gin_core"
    )
    g = torch.Generator().manual_seed(1)
    ratios = {}
    if args.only in (None, "10d"):
        x = torch.randn(1000, 10, generator=g) * 3
        u = balanced_labels(1000, 5, g)
        ratios["10d"] = bench_case(
            "10-d", artificial_gin(seed=0), freia_10d(0), x, u, 5, 1e-2, args.repeats, args.steps, args.warmup
        )
    if args.only in (None, "emnist"):
        x = torch.rand(240, 1, 28, 28, generator=g)
        u = balanced_labels(240, 10, g)
        steps = max(2, args.steps // 4)
        ratios["emnist"] = bench_case(
            "EMNIST", emnist_gin(seed=0), freia_emnist(0), x, u, 10, 3e-4, args.repeats, steps, args.warmup
        )
    return ratios


if __name__ == "__main__":
    main()
