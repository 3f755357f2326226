"""Training: Adam, a 10x learning-rate drop, noise augmentation, checkpoints and exact resume.

Use :func:`train` from Python, or the command line on a headless server::

    python -m gin_core.train artificial --n-points 100000 --epochs 80 --lr 1e-2 --drop 50 --out runs/exp1
    python -m gin_core.train emnist --dataset mnist --epochs 95 --lr 3e-4 --drop 45 --out runs/mnist

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

from .flows import InvertibleSequential, check_finite
from .loss import GaussianMixtureNLL, check_labels

__all__ = ["History", "train", "train_step", "make_optimizer", "default_device", "save_checkpoint", "load_checkpoint", "main"]


def default_device() -> torch.device:
    """CUDA if available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class History:
    """What a training run did, epoch by epoch.

    Attributes:
        loss: mean training loss (nats per dimension) of each epoch.
        lr: learning rate of each epoch.
        seconds: wall time of each epoch (of the run that trained it).
        excluded: samples left out of the loss (classes with < 2 samples in a batch).
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    excluded: int = 0

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict:
        return {"loss": self.loss, "lr": self.lr, "seconds": self.seconds, "excluded": self.excluded}


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` with ``torch.save`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


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


def _lr_at(epoch: int, lr: float, milestones: tuple[int, ...]) -> float:
    return lr * 0.1 ** sum(epoch >= m for m in milestones)


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
    stop_after_steps: int | None = None,
) -> History:
    """Train a flow by minimising the Gaussian-mixture NLL of its latent codes.

    Each epoch shuffles the data; each step adds Gaussian noise of standard deviation
    ``noise`` to the batch, maps it to ``w, log_det = net(x)`` and takes an Adam step on
    :class:`~gin_core.loss.GaussianMixtureNLL` (the log-det term is used only if the flow is
    not volume preserving). The learning rate is divided by 10 at each epoch in
    ``milestones`` (the paper's schedule: one drop after convergence).

    With ``checkpoint`` set, the full state (network, loss parameters, optimiser, epoch and
    position inside it, the epoch's shuffle, random generator, history) is written
    atomically every ``checkpoint_every`` epochs, at the end, and when the run is
    interrupted (``KeyboardInterrupt``); if the file exists, training resumes from it and
    ends exactly as an uninterrupted run would (on CPU, bit for bit). The checkpoint loads
    with ``weights_only=True``.

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
        progress: show a tqdm bar with the loss.
        stop_after_steps: stop (checkpointing first) after this many steps of this call;
            simulates an interruption.

    Returns:
        The :class:`History` of all epochs, resumed ones included. The trained
        ``GaussianMixtureNLL`` is attached as ``history.criterion``.

    References:
        Sorrenson et al. (2020), §4.3.1, §4.4.1, Appendix D.1.
    """
    device = torch.device(device) if device is not None else default_device()
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating point torch.Tensor")
    check_finite(x, "x")
    check_labels(u, x.shape[0], n_classes)
    if batch_size < 2 or batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be in [2, {x.shape[0]}] (the data size), got {batch_size}")
    if n_epochs < 0 or lr <= 0 or noise < 0:
        raise ValueError(f"need n_epochs >= 0, lr > 0 and noise >= 0; got {n_epochs}, {lr}, {noise}")

    net.to(device).train()
    n_dims = math.prod(getattr(net, "latent_shape", x.shape[1:]))
    criterion = GaussianMixtureNLL(n_classes, n_dims, learned=learned_stats).to(device)
    params = list(net.parameters()) + list(criterion.parameters())
    optimizer = make_optimizer(params, lr)
    generator = torch.Generator(device=device).manual_seed(int(seed))
    history = History()
    epoch, position, perm = 0, 0, None

    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=device)
        net.load_state_dict(state["net"])
        criterion.load_state_dict(state["criterion"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())
        history = History(**{k: state["history"][k] for k in ("loss", "lr", "seconds")}, excluded=int(state["history"]["excluded"]))
        epoch, position, perm = int(state["epoch"]), int(state["position"]), state["perm"]
        perm = perm.to(device) if perm is not None else None
        criterion.n_excluded = history.excluded
        resumed_partial = (float(state["epoch_sum"]), int(state["epoch_count"]), float(state["epoch_seconds"]))
    else:
        resumed_partial = (0.0, 0, 0.0)

    def snapshot() -> dict:
        history.excluded = criterion.n_excluded
        return {
            "net": net.state_dict(),
            "criterion": criterion.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
            "epoch": epoch,
            "position": position,
            "perm": perm,
            "epoch_sum": epoch_sum,
            "epoch_count": epoch_count,
            "epoch_seconds": time.perf_counter() - t0,
            "history": {"loss": history.loss, "lr": history.lr, "seconds": history.seconds, "excluded": history.excluded},
        }

    x, u = x.to(device), u.to(device)
    steps_per_epoch = x.shape[0] // batch_size
    bar = tqdm(
        total=n_epochs * steps_per_epoch,
        initial=min(epoch * steps_per_epoch + position, n_epochs * steps_per_epoch),
        disable=not progress,
        desc="train",
        unit="step",
        mininterval=1.0,
        file=sys.stdout,
    )
    steps_this_call = 0
    epoch_sum, epoch_count, seconds_before = resumed_partial
    t0 = time.perf_counter() - seconds_before
    try:
        while epoch < n_epochs:
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(epoch, lr, tuple(milestones))
            if perm is None:
                perm = torch.randperm(x.shape[0], generator=generator, device=device)
                position, epoch_sum, epoch_count, t0 = 0, 0.0, 0, time.perf_counter()
            while position < steps_per_epoch:
                if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                    raise KeyboardInterrupt
                index = perm[position * batch_size : (position + 1) * batch_size]
                value = train_step(net, criterion, optimizer, x[index], u[index], noise, generator, check_values=False)
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss became {value} at epoch {epoch}, step {position}; lower the learning rate")
                epoch_sum, epoch_count = epoch_sum + value, epoch_count + 1
                position += 1
                steps_this_call += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{value:.4f}", refresh=False)
            history.loss.append(epoch_sum / max(epoch_count, 1))
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.seconds.append(time.perf_counter() - t0)
            epoch, position, perm = epoch + 1, 0, None
            if checkpoint is not None and (epoch % checkpoint_every == 0 or epoch == n_epochs):
                save_checkpoint(checkpoint, snapshot())
    except KeyboardInterrupt:
        if checkpoint is not None:
            save_checkpoint(checkpoint, snapshot())
        bar.close()
        if stop_after_steps is not None:
            history.excluded = criterion.n_excluded
            history.criterion = criterion
            return history
        raise
    bar.close()
    history.excluded = criterion.n_excluded
    history.criterion = criterion
    return history


@torch.no_grad()
def encode(net: nn.Module, x: torch.Tensor, batch_size: int = 1000, device: str | torch.device | None = None) -> torch.Tensor:
    """Map data to flat latent codes ``w`` in evaluation mode, batch by batch, returned on the CPU."""
    device = torch.device(device) if device is not None else next(net.parameters()).device
    net.eval()
    out = [net(x[i : i + batch_size].to(device))[0].flatten(1).cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gin_core.train",
        description="Train GIN headless (CUDA if available). Interrupt with Ctrl-C and rerun the same command to resume.",
    )
    p.add_argument("experiment", choices=["artificial", "digits"], help="artificial data (§4.3) or EMNIST/MNIST digits (§4.4)")
    p.add_argument("--out", required=True, help="run directory: checkpoint.pt is written there")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--drop", type=int, nargs="*", default=[], help="epochs at which the learning rate is divided by 10")
    p.add_argument("--batch-size", type=int, default=None, help="default 1000 (artificial) or 240 (digits)")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0, help="seed of network, shuffling and noise")
    p.add_argument("--glow", action="store_true", help="non-volume-preserving (GLOW-style) blocks instead of GIN")
    p.add_argument("--learned-stats", action="store_true", help="learn class means/variances instead of batch estimates")
    p.add_argument("--clusters", type=int, default=5, help="artificial: number of clusters")
    p.add_argument("--n-points", type=int, default=100_000, help="artificial: number of points")
    p.add_argument("--data-seed", type=int, default=0, help="artificial: seed of the data")
    p.add_argument("--dataset", choices=["emnist", "mnist"], default="emnist", help="digits: which data set")
    p.add_argument("--data-root", default=None, help="digits: folder holding the data (default: $GIN_DATA_ROOT or the repository's data/)")
    p.add_argument("--device", default=None)
    return p


def main(argv: list[str] | None = None) -> History:
    """Command-line entry point; see ``python -m gin_core.train --help``."""
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

    if args.experiment == "artificial":
        from .artificial import make_artificial_data

        data = make_artificial_data(args.clusters, args.n_points, seed=args.data_seed)
        x, u, n_classes = data.x, data.u, args.clusters
        net = artificial_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size = args.batch_size or 1000
    else:
        from .digits import load_digits

        x, u = load_digits(args.dataset, "train", root=args.data_root)
        n_classes = 10
        net = emnist_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size = args.batch_size or 240
    out = Path(args.out)
    history = train(
        net, x, u, n_classes, n_epochs=args.epochs, lr=args.lr, batch_size=batch_size, milestones=tuple(args.drop),
        noise=args.noise, learned_stats=args.learned_stats, seed=args.seed, checkpoint=out / "checkpoint.pt",
        device=args.device,
    )
    print(f"done: {history.epochs} epochs, final loss {history.loss[-1]:.4f} nats/dim, checkpoint {out / 'checkpoint.pt'}")
    return history


if __name__ == "__main__":
    main()
