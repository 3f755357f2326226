"""Training: Adam, a 10x learning-rate drop, noise augmentation, safe checkpoints and exact resume.

Use :func:`train` from Python, or the command line on a headless server::

    python -m gin_core.training artificial --n-points 100000 --epochs 80 --lr 1e-2 --drop 50 --out runs/exp1
    python -m gin_core.training digits --dataset mnist --data-root data --epochs 95 --lr 3e-4 --drop 45 --out runs/mnist

Interrupt with Ctrl-C (or ``kill``): the checkpoint is written first; rerun the same command
to resume. A rerun with other settings stops with an error that names them.

References:
    Sorrenson et al. (2020), §4.3.1 and §4.4.1 (optimisation), Appendix D.1.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from . import __version__
from ._checks import check_finite, check_labels
from .checkpoints import (
    FORMAT,
    VERSION,
    CheckpointError,
    code_commit,
    compare_settings,
    load_checkpoint,
    load_state,
    save_checkpoint,
)
from .flows import InvertibleSequential
from .loss import GaussianMixtureNLL

__all__ = ["History", "train", "train_step", "make_optimizer", "default_device", "stratified_permutation", "main"]


def default_device() -> torch.device:
    """CUDA if available, else CPU (the one place the device is chosen by default)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class History:
    """What a training run did, epoch by epoch.

    Attributes:
        loss: mean training loss (nats per dimension) of each epoch.
        lr: learning rate of each epoch.
        seconds: wall time of each epoch (of the run that trained it).
        excluded: samples left out of the loss (classes with < 2 samples in a batch).
        criterion: the trained :class:`~gin_core.loss.GaussianMixtureNLL` (its prior holds the
            learned statistics when ``learned_stats=True``).
        fast: the step the run took: ``"eager"``, ``"compiled"`` or ``"channels_last"`` (:mod:`gin_core.fast`).
        compile_seconds: time of the first compiled call in this process (0 if none or reused).
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    excluded: int = 0
    criterion: GaussianMixtureNLL | None = field(default=None, repr=False, compare=False)
    fast: str = field(default="eager", compare=False)
    compile_seconds: float = field(default=0.0, compare=False)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict:
        return {"loss": list(self.loss), "lr": list(self.lr), "seconds": list(self.seconds), "excluded": self.excluded}


def make_optimizer(params, lr: float) -> torch.optim.Adam:
    """Adam as :func:`train` uses it.

    PyTorch's fused implementation where it has one for the parameters (floating point, on
    CPU or CUDA): one kernel per step instead of a Python loop over parameter tensors, which
    on small networks costs more than the network itself. Otherwise the default Adam.
    """
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=lr, fused=True if fused else None)


def train_step(
    net: nn.Module,
    criterion: GaussianMixtureNLL,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    u: torch.Tensor,
    noise: float = 0.01,
    generator: torch.Generator | None = None,
    check_values: bool = True,
) -> float:
    """One optimisation step on one batch, as :func:`train` takes it.

    Adds Gaussian noise of standard deviation ``noise`` (drawn from ``generator``), maps the
    batch to ``w, log_det = net(x)``, evaluates ``criterion`` (with the log-det term only if
    the flow is not volume preserving), back-propagates and steps ``optimizer``.

    Arguments:
        net: the flow.
        criterion: a :class:`~gin_core.loss.GaussianMixtureNLL`.
        optimizer: optimiser of the network's (and the criterion's) parameters.
        x: the batch, on the network's device.
        u: its integer labels.
        noise: standard deviation of the augmentation noise.
        generator: random generator of the noise (on ``x``'s device).
        check_values: check that ``x`` and ``w`` are finite and the labels in range (passes
            over the data; shapes are always checked). :func:`train` checks its whole data
            set once, then steps with ``check_values=False``.

    Returns:
        The loss value (a Python float; may be NaN or infinite, :func:`train` checks it).
    """
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if isinstance(net, InvertibleSequential):
        w, log_det = net(x, check_finite=check_values)
    else:
        if check_values:
            check_finite(x, "x")
        w, log_det = net(x)
    w = w.flatten(1)
    vp = getattr(net, "volume_preserving", False)
    loss = criterion(w, u, None if vp else log_det, check_values=check_values)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def stratified_permutation(strata: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An epoch's order in which every stratum is spread evenly: balanced batches.

    Each stratum's samples are shuffled, then placed at evenly spaced positions of the epoch
    (keys ``(rank + offset_k) / n_k`` with one random offset per stratum, then sorted), so that any
    run of B consecutive samples holds close to ``B n_k / N`` samples of stratum k (systematic
    stratified sampling). Drawn from ``generator`` on the strata's device.

    Arguments:
        strata: integer stratum of each sample ``(N,)``.
        generator: the run's random generator.

    Returns:
        A permutation of ``range(N)``.
    """
    n = strata.shape[0]
    perm = torch.randperm(n, generator=generator, device=strata.device)
    s = strata[perm]
    counts = torch.bincount(s)
    grouped = torch.argsort(s, stable=True)  # stratum by stratum, in the random order
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(s)
    rank[grouped] = torch.arange(n, device=s.device) - starts[s[grouped]]
    offset = torch.rand(counts.shape[0], generator=generator, device=s.device, dtype=torch.float64)
    key = (rank.double() + offset[s]) / counts[s].double()
    return perm[torch.argsort(key, stable=True)]


def _lr_at(epoch: int, lr: float, milestones: tuple[int, ...]) -> float:
    return lr * 0.1 ** sum(epoch >= m for m in milestones)


def _network_record(net: nn.Module) -> dict:
    """The constructor settings of ``net`` (``net.config`` for the package's networks)."""
    record = dict(getattr(net, "config", None) or {"class": type(net).__name__})
    record["volume_preserving"] = bool(getattr(net, "volume_preserving", False))
    return record


class _Run:
    """The state of one training run: what a checkpoint holds, and the steps of an epoch."""

    def __init__(self, net, criterion, optimizer, generator, network: dict, settings: dict):
        self.net, self.criterion, self.optimizer, self.generator = net, criterion, optimizer, generator
        self.network, self.settings = network, settings
        self.strata = None  # balanced batches over these strata (train(strata=...)), else plain shuffling
        self.fast = None  # the path this run takes (decided once, kept in the checkpoint)
        self.fast_step = None
        self.history = History()
        self.commits = [code_commit()]
        self.epoch, self.position, self.perm = 0, 0, None  # epoch, step inside it, its shuffle
        self.epoch_sum, self.epoch_count, self.t0 = 0.0, 0, time.perf_counter()

    def state(self) -> dict:
        """Everything needed to continue exactly where the run is now."""
        self.history.excluded = self.criterion.n_excluded
        return {
            "format": FORMAT,
            "version": VERSION,
            "gin_core": __version__,
            "network": self.network,
            "training": self.settings,
            "commits": self.commits,
            "net": self.net.state_dict(),
            "criterion": self.criterion.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "position": self.position,
            "perm": self.perm,
            "epoch_sum": self.epoch_sum,
            "epoch_count": self.epoch_count,
            "epoch_seconds": time.perf_counter() - self.t0,
            "history": self.history.as_dict(),
            "fast": self.fast,
        }

    def restore(self, path: Path, device: torch.device) -> None:
        """Continue from the checkpoint at ``path``, after checking it was made with the same settings."""
        state = load_checkpoint(path, map_location=device)
        compare_settings(state["network"], self.network, "network settings", path)
        compare_settings(state["training"], self.settings, "training settings", path)
        load_state(self.net, state["net"], path)
        self.criterion.load_state_dict(state["criterion"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        saved = state["history"]
        self.history = History(list(saved["loss"]), list(saved["lr"]), list(saved["seconds"]), int(saved["excluded"]))
        self.criterion.n_excluded = self.history.excluded
        current = self.commits[-1]  # the commit this process runs, read once in __init__
        self.commits = list(state["commits"]) + ([current] if current != state["commits"][-1] else [])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.perm = state["perm"].to(device) if state["perm"] is not None else None
        self.epoch_sum, self.epoch_count = float(state["epoch_sum"]), int(state["epoch_count"])
        self.t0 = time.perf_counter() - float(state["epoch_seconds"])

    def run_epoch(self, x: torch.Tensor, u: torch.Tensor, bar) -> None:
        """Finish the current epoch: shuffle (unless resumed inside it), step through its batches, log it."""
        s = self.settings
        lr = _lr_at(self.epoch, s["lr"], tuple(s["milestones"]))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.perm is None:
            if self.strata is None:
                self.perm = torch.randperm(x.shape[0], generator=self.generator, device=x.device)
            else:
                self.perm = stratified_permutation(self.strata, self.generator)
            self.position, self.epoch_sum, self.epoch_count, self.t0 = 0, 0.0, 0, time.perf_counter()
        batch = s["batch_size"]
        while self.position < x.shape[0] // batch:
            index = self.perm[self.position * batch : (self.position + 1) * batch]
            if self.fast_step is not None:
                value = self.fast_step(x[index], u[index], s["noise"], self.generator)
            else:
                value = train_step(
                    self.net,
                    self.criterion,
                    self.optimizer,
                    x[index],
                    u[index],
                    s["noise"],
                    self.generator,
                    check_values=False,
                )
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"the loss became {value} at epoch {self.epoch + 1}, step {self.position}; lower the learning rate"
                )
            self.epoch_sum, self.epoch_count, self.position = (
                self.epoch_sum + value,
                self.epoch_count + 1,
                self.position + 1,
            )
            bar.update(1)
            bar.set_postfix(epoch=self.epoch + 1, loss=f"{value:.4f}", refresh=False)
        self.history.loss.append(self.epoch_sum / max(self.epoch_count, 1))
        self.history.lr.append(lr)
        self.history.seconds.append(time.perf_counter() - self.t0)
        self.epoch, self.position, self.perm = self.epoch + 1, 0, None


def _check_arguments(x, u, n_classes, n_epochs, lr, batch_size, noise) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating point torch.Tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
    check_finite(x, "x")
    check_labels(u, x.shape[0], n_classes)
    if batch_size < 2 or batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be in [2, {x.shape[0]}] (the data size), got {batch_size}")
    if n_epochs < 0 or lr <= 0 or noise < 0:
        raise ValueError(f"need n_epochs >= 0, lr > 0 and noise >= 0; got {n_epochs}, {lr}, {noise}")


def _choose_step(fast, net, criterion, x, batch_size, device, lr, planned_steps, saved):
    """The step a run takes (:func:`gin_core.fast.choose`) and its :class:`~gin_core.fast.FastStep`, if any.

    A resumed run keeps the step its checkpoint was written with unless ``fast`` is ``True`` or
    ``False``; the compiled step keeps its parameters in one flat tensor, so its checkpoints can
    only be resumed by the compiled step (which runs uncompiled where compiling is unavailable).
    """
    from .fast import FastStep, _warn_once, choose, compile_available

    saved_mode = (saved.get("fast") or "eager") if saved is not None else None  # older checkpoints: eager
    if saved_mode is not None and fast == "auto":
        mode = saved_mode
    else:
        shape = (batch_size, *x.shape[1:])
        mode = choose(fast, net, shape, x.dtype, device, criterion.n_classes, criterion.learned, planned_steps)
    if saved_mode is not None and (saved_mode == "compiled") != (mode == "compiled"):
        raise CheckpointError(
            f"the checkpoint was written by the {saved_mode} training step and would be resumed by the {mode} "
            f"step; their optimiser states have different layouts. Resume with fast='auto' (or "
            f"fast={saved_mode == 'compiled'})"
        )
    if mode == "eager":
        return mode, None
    step = FastStep(net, criterion, lr, compile=mode == "compiled")
    if mode == "compiled" and not compile_available(device)[0]:
        _warn_once(f"the compiled step is unavailable here ({compile_available(device)[1]}); it runs uncompiled")
        step.eager = True
    return mode, step


def train(
    net: nn.Module,
    x: torch.Tensor,
    u: torch.Tensor,
    n_classes: int,
    n_epochs: int,
    lr: float,
    batch_size: int,
    milestones: tuple[int, ...] = (),
    noise: float = 0.01,
    learned_stats: bool = False,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    device: str | torch.device | None = None,
    progress: bool = True,
    dataset: str | None = None,
    strata: torch.Tensor | None = None,
    fast: bool | str = "auto",
) -> History:
    """Train a flow by minimising the Gaussian-mixture NLL of its latent codes.

    Each epoch shuffles the data; each step adds Gaussian noise of standard deviation
    ``noise`` to the batch and takes an Adam step on
    :class:`~gin_core.loss.GaussianMixtureNLL` (:func:`train_step`). The learning rate is
    divided by 10 at each epoch in ``milestones`` (the paper's schedule: one drop after
    convergence).

    With ``checkpoint`` set, the whole state is written atomically every ``checkpoint_every``
    epochs, at the end, and when the run is interrupted (``KeyboardInterrupt``, also raised by
    the command line on SIGTERM). If the file exists, training resumes from it and ends
    exactly as an uninterrupted run would (on CPU, bit for bit); a file written with other
    settings (network, batch size, learning rate, milestones, noise, seed, statistics, data
    size or data set) stops with a :class:`~gin_core.checkpoints.CheckpointError` naming them.

    Arguments:
        net: the flow (``w, log_det = net(x)``); moved to ``device``.
        x: training data, ``(N, ...)`` matching the network's input shape.
        u: integer labels, ``(N,)``.
        n_classes: number of classes (mixture components).
        n_epochs: total number of epochs (including those already done in a checkpoint).
        lr: initial learning rate.
        batch_size: samples per step (the last, smaller batch of an epoch is dropped).
        milestones: epochs at which the learning rate is divided by 10.
        noise: standard deviation of the Gaussian noise added to each batch.
        learned_stats: learn class means and log-stds instead of batch estimates.
        seed: seeds the shuffling and the noise.
        checkpoint: path of the checkpoint file, or ``None``.
        checkpoint_every: epochs between checkpoints.
        device: default :func:`default_device`.
        progress: show a progress bar with the loss.
        dataset: name of the data set, recorded in the checkpoint and checked on resume.
        strata: integer stratum of each sample ``(N,)``; if given, each epoch's batches are
            balanced over the strata (:func:`stratified_permutation`) instead of plainly
            shuffled: a remedy for conditions too rare to have two samples in every batch.
        fast: the fast step of :mod:`gin_core.fast`: ``True`` (compiled), ``False`` (eager), or
            ``"auto"`` (:func:`gin_core.fast.choose`: compiled where it pays for this run's steps,
            eager otherwise; the rule and its measurements are :data:`gin_core.fast.AUTO_RULE`).
            A resumed run keeps the path its checkpoint was written with, unless ``fast`` is
            given as ``True`` or ``False``. The two paths agree to float32 rounding, not bit for bit.

    Returns:
        The :class:`History` of all epochs, resumed ones included, with the trained criterion.

    References:
        Sorrenson et al. (2020), §4.3.1, §4.4.1, Appendix D.1.
    """
    device = torch.device(device) if device is not None else default_device()
    _check_arguments(x, u, n_classes, n_epochs, lr, batch_size, noise)
    if strata is not None:
        if not isinstance(strata, torch.Tensor) or strata.dtype != torch.long or tuple(strata.shape) != (x.shape[0],):
            raise ValueError(
                f"strata must be a long tensor of shape ({x.shape[0]},), got {getattr(strata, 'shape', strata)}"
            )
        if int(strata.min()) < 0:
            raise ValueError("strata must be non-negative integers")
    settings = {
        "batch_size": int(batch_size),
        "lr": float(lr),
        "milestones": [int(m) for m in milestones],
        "noise": float(noise),
        "seed": int(seed),
        "learned_stats": bool(learned_stats),
        "n_classes": int(n_classes),
        "n_samples": int(x.shape[0]),
        "sample_shape": list(x.shape[1:]),
        "dataset": dataset,
        "device_type": device.type,
    }
    if strata is not None:  # recorded only when used, so older checkpoints still resume
        settings["strata_sizes"] = torch.bincount(strata).tolist()
    net.to(device).train()
    n_dims = math.prod(getattr(net, "latent_shape", x.shape[1:]))
    criterion = GaussianMixtureNLL(n_classes, n_dims, learned=learned_stats).to(device)
    generator = torch.Generator(device=device).manual_seed(int(seed))
    steps = x.shape[0] // batch_size
    saved = None
    if checkpoint is not None and Path(checkpoint).is_file():
        saved = load_checkpoint(checkpoint, map_location=device)
    done = min(int(saved["epoch"]) * steps + int(saved["position"]), n_epochs * steps) if saved else 0
    mode, fast_step = _choose_step(fast, net, criterion, x, batch_size, device, lr, n_epochs * steps - done, saved)
    if fast_step is not None:
        optimizer = fast_step.optimizer
    else:
        optimizer = make_optimizer(list(net.parameters()) + list(criterion.parameters()), lr)
    run = _Run(net, criterion, optimizer, generator, _network_record(net), settings)
    run.strata = None if strata is None else strata.to(device)
    run.fast, run.fast_step = mode, fast_step
    if saved is not None:
        run.restore(Path(checkpoint), device)

    x, u = x.to(device), u.to(device)
    done = min(run.epoch * steps + run.position, n_epochs * steps)
    bar = tqdm(
        total=n_epochs * steps,
        initial=done,
        disable=not progress,
        desc="train",
        unit="step",
        mininterval=1.0,
        file=sys.stdout,
    )
    try:
        while run.epoch < n_epochs:
            run.run_epoch(x, u, bar)
            if checkpoint is not None and (run.epoch % checkpoint_every == 0 or run.epoch == n_epochs):
                save_checkpoint(checkpoint, run.state())
    except KeyboardInterrupt:
        if checkpoint is not None:
            save_checkpoint(checkpoint, run.state())
        raise
    finally:
        bar.close()
    run.history.excluded = criterion.n_excluded
    run.history.criterion = criterion
    run.history.fast = "eager" if run.fast_step is None or run.fast_step.eager else run.fast
    run.history.compile_seconds = run.fast_step.compile_seconds if run.fast_step is not None else 0.0
    return run.history


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gin_core.training",
        description="Train GIN headless (CUDA if available). Interrupt with Ctrl-C and rerun the same command to resume.",
    )
    p.add_argument(
        "experiment", choices=["artificial", "digits"], help="artificial data (§4.3) or EMNIST/MNIST digits (§4.4)"
    )
    p.add_argument("--out", required=True, help="run directory: checkpoint.pt is written there")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--drop", type=int, nargs="*", default=[], help="epochs at which the learning rate is divided by 10")
    p.add_argument("--batch-size", type=int, default=None, help="default 1000 (artificial) or 240 (digits)")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0, help="seed of network, shuffling and noise")
    p.add_argument("--glow", action="store_true", help="non-volume-preserving (GLOW-style) blocks instead of GIN")
    p.add_argument(
        "--learned-stats", action="store_true", help="learn class means/variances instead of batch estimates"
    )
    p.add_argument("--clusters", type=int, default=5, help="artificial: number of clusters")
    p.add_argument("--n-points", type=int, default=100_000, help="artificial: number of points")
    p.add_argument("--data-seed", type=int, default=0, help="artificial: seed of the data")
    p.add_argument("--dataset", choices=["emnist", "mnist"], default="emnist", help="digits: which data set")
    p.add_argument("--data-root", default="data", help="digits: folder holding the data sets (default: ./data)")
    p.add_argument(
        "--sub-labels",
        type=int,
        default=None,
        metavar="S",
        help="digits: condition on S k-means sub-labels per class (10*S conditions; gin_core.sublabels)",
    )
    p.add_argument(
        "--stratify",
        type=int,
        default=None,
        metavar="S",
        help="digits: balanced batches over S k-means sub-labels per class (whatever the conditions)",
    )
    p.add_argument(
        "--fast",
        choices=["auto", "on", "off"],
        default="auto",
        help="compiled training step (gin_core.fast): on, off, or auto (where it pays; default)",
    )
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> History:
    """Command-line entry point; see ``python -m gin_core.training --help``."""
    args = _parser().parse_args(argv)

    # Ctrl-C and `kill` (SIGTERM) both end the run through KeyboardInterrupt, which writes the
    # checkpoint first; SIGINT is re-armed because background shells start programs ignoring it.
    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> History:
    from .networks import artificial_gin, emnist_gin

    if (args.sub_labels is not None or args.stratify is not None) and args.experiment != "digits":
        raise ValueError("--sub-labels and --stratify apply to the digits experiment only")
    strata = None
    if args.experiment == "artificial":
        from .artificial import make_artificial_data

        data = make_artificial_data(args.clusters, args.n_points, seed=args.data_seed)
        x, u, n_classes = data.x, data.u, args.clusters
        net = artificial_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size, dataset = args.batch_size or 1000, data.description
    else:
        from .digits import load_digits

        x, u = load_digits(args.dataset, "train", root=args.data_root)
        n_classes, dataset = 10, args.dataset
        if args.stratify is not None:
            from .sublabels import fit_sub_labels

            strata_rule = fit_sub_labels(x, u, per_class=args.stratify)
            strata = strata_rule.assign(x, u)
            dataset += f"; batches balanced over {strata_rule.describe()}"
        if args.sub_labels is not None:
            from .sublabels import fit_sub_labels

            rule = fit_sub_labels(x, u, per_class=args.sub_labels)
            u, n_classes = rule.assign(x, u), rule.n_conditions
            dataset += f"; conditioned on {rule.describe()}"
        net = emnist_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size = args.batch_size or 240
    out = Path(args.out)
    history = train(
        net,
        x,
        u,
        n_classes,
        n_epochs=args.epochs,
        lr=args.lr,
        batch_size=batch_size,
        milestones=tuple(args.drop),
        noise=args.noise,
        learned_stats=args.learned_stats,
        seed=args.seed,
        checkpoint=out / "checkpoint.pt",
        device=args.device,
        progress=not args.quiet,
        dataset=dataset,
        strata=strata,
        fast={"auto": "auto", "on": True, "off": False}[args.fast],
    )
    final = f"final loss {history.loss[-1]:.4f} nats/dim" if history.loss else "no epoch trained"
    print(f"done: {history.epochs} epochs, {final}, checkpoint {out / 'checkpoint.pt'}")
    return history


if __name__ == "__main__":
    main()
