r"""Training an ensemble: N GIN models of one architecture as one run, with whole-ensemble checkpoints.

:func:`train_ensemble` trains member k as ``train(nets[k], xs[k], us[k], seed=seeds[k])`` would
alone, all members in one :class:`~gin_core.training.ensemble.EnsembleStep` a batch. Member k
draws its shuffling and noise from its own generator seeded with its own seed, in the order
:func:`gin_core.training.train` draws them.

**Checkpoints** hold the whole ensemble (every member's weights, settings and history, the
optimiser, every generator, the position in the epoch), are written atomically
(:func:`gin_core.checkpoints.save_checkpoint`), loaded with ``weights_only=True``, and resume
bit for bit. A run holds the run lock of its checkpoint's folder
(:func:`gin_core.training.lock.run_lock`).

References:
    Sorrenson et al. (2020), §4.3.1, §4.4.1 and Appendix D.1.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .. import __version__
from ..checkpoints import (
    FORMAT,
    VERSION,
    CheckpointError,
    code_commit,
    compare_settings,
    load_checkpoint,
    load_state,
    save_checkpoint,
)
from .ensemble import EnsembleStep, check_members, choose_ensemble_mode
from .lock import run_lock
from .loop import as_model, check_arguments
from .optim import default_device, lr_at
from .sampling import epoch_order
from .state import History, TrainSettings, network_record

__all__ = ["train_ensemble", "KIND"]

KIND = "ensemble"  # the checkpoint's "kind": a single run's checkpoint has none


def _member_data(xs, us, n_members: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The members' data sets stacked: ``(N, n, ...)`` and ``(N, n)``, with clear errors."""
    xs, us = list(xs), list(us)
    if len(xs) != n_members or len(us) != n_members:
        raise ValueError(f"need one data set and one label set per member ({n_members}), got {len(xs)} and {len(us)}")
    for k, (x, u) in enumerate(zip(xs, us)):
        if not isinstance(x, torch.Tensor) or not isinstance(u, torch.Tensor):
            raise TypeError(
                f"member {k}'s data and labels must be torch tensors, got {type(x).__name__}, {type(u).__name__}"
            )
        if tuple(x.shape) != tuple(xs[0].shape) or x.dtype != xs[0].dtype:
            raise ValueError(
                f"member {k}'s data has shape {tuple(x.shape)} ({x.dtype}), member 0's {tuple(xs[0].shape)} "
                f"({xs[0].dtype}): an ensemble's members train on data sets of one shape and dtype"
            )
        if tuple(u.shape) != (x.shape[0],):
            raise ValueError(f"member {k}'s labels have shape {tuple(u.shape)}, expected ({x.shape[0]},)")
    return torch.stack(xs), torch.stack(us)


class _EnsembleRun:
    """The state of an ensemble run: step, generators, settings, histories, position (what a checkpoint holds)."""

    def __init__(self, step: EnsembleStep, generators: list[torch.Generator], settings: list[TrainSettings]):
        self.step, self.generators, self.settings = step, generators, settings
        self.networks = [network_record(m.flow) for m in step.models]
        self.histories = [History() for _ in step.models]
        self.commits = [code_commit()]
        self.epoch, self.position, self.perm = 0, 0, None
        self.epoch_sums, self.epoch_count, self.t0 = [0.0] * step.size, 0, time.perf_counter()

    def state(self) -> dict:
        for history, excluded in zip(self.histories, self.step.n_excluded):
            history.excluded = excluded
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": KIND,
            "members": self.step.size,
            "gin_core": __version__,
            "network": self.networks,
            "training": [s.record() for s in self.settings],
            "commits": self.commits,
            "net": [m.flow.state_dict() for m in self.step.models],
            "base": [m.base.state_dict() for m in self.step.models],
            "optimizer": self.step.optimizer.state_dict(),
            "generator": [g.get_state() for g in self.generators],
            "epoch": self.epoch,
            "position": self.position,
            "perm": self.perm,
            "epoch_sum": list(self.epoch_sums),
            "epoch_count": self.epoch_count,
            "epoch_seconds": time.perf_counter() - self.t0,
            "history": [h.as_dict() for h in self.histories],
            "fast": self.step.mode,
        }

    def restore(self, path: Path, state: dict, device: torch.device) -> None:
        if state.get("kind") != KIND:
            raise CheckpointError(
                f"{path} is a single run's checkpoint, not an ensemble's; use gin_core.train or another file"
            )
        if int(state["members"]) != self.step.size:
            raise CheckpointError(
                f"{path} holds an ensemble of {state['members']} members, this one has {self.step.size}"
            )
        for k in range(self.step.size):
            compare_settings(state["network"][k], self.networks[k], f"network settings of member {k}", path)
            compare_settings(state["training"][k], self.settings[k].record(), f"training settings of member {k}", path)
        if state["fast"] != self.step.mode:
            raise CheckpointError(
                f"{path} was written by the {state['fast']} ensemble step, this run takes the {self.step.mode} one"
            )
        for k, model in enumerate(self.step.models):
            load_state(model.flow, state["net"][k], path)  # copies into the views: the stacked tensors follow
            load_state(model.base, state["base"][k], path)
        self.step.optimizer.load_state_dict(state["optimizer"])
        for g, saved in zip(self.generators, state["generator"]):
            g.set_state(saved.cpu())
        self.histories = [
            History(list(h["loss"]), list(h["lr"]), list(h["seconds"]), int(h["excluded"])) for h in state["history"]
        ]
        self.step.n_excluded = [h.excluded for h in self.histories]
        current = self.commits[-1]
        self.commits = list(state["commits"]) + ([current] if current != state["commits"][-1] else [])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.perm = state["perm"].to(device) if state["perm"] is not None else None
        self.epoch_sums, self.epoch_count = [float(v) for v in state["epoch_sum"]], int(state["epoch_count"])
        self.t0 = time.perf_counter() - float(state["epoch_seconds"])


def _run_epoch(run: _EnsembleRun, x: torch.Tensor, u: torch.Tensor, bar) -> None:
    """Finish the current epoch of every member (as :func:`gin_core.training.train` runs one member's)."""
    s = run.settings[0]
    lr = lr_at(run.epoch, s.lr, s.milestones)
    for group in run.step.optimizer.param_groups:
        group["lr"] = lr
    n, batch = x.shape[1], s.batch_size
    if run.perm is None:
        run.perm = torch.stack([epoch_order(n, None, g, x.device) for g in run.generators])
        run.position, run.epoch_sums, run.epoch_count = 0, [0.0] * run.step.size, 0
        run.t0 = time.perf_counter()
    rows = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    while run.position < n // batch:
        index = run.perm[:, run.position * batch : (run.position + 1) * batch]
        values = run.step(x[rows, index], u[rows, index], s.noise, run.generators)
        bad = [k for k, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(
                f"the loss of ensemble members {bad} became {[values[k] for k in bad]} at epoch {run.epoch + 1}, "
                f"step {run.position}; lower the learning rate"
            )
        run.epoch_sums = [a + v for a, v in zip(run.epoch_sums, values)]
        run.epoch_count, run.position = run.epoch_count + 1, run.position + 1
        bar.update(1)
        bar.set_postfix(epoch=run.epoch + 1, loss=f"{sum(values) / len(values):.4f}", refresh=False)
    seconds = time.perf_counter() - run.t0
    for history, total in zip(run.histories, run.epoch_sums):
        history.loss.append(total / max(run.epoch_count, 1))
        history.lr.append(lr)
        history.seconds.append(seconds)
    run.epoch, run.position, run.perm = run.epoch + 1, 0, None


def train_ensemble(
    nets: Sequence[nn.Module],
    xs: Sequence[torch.Tensor],
    us: Sequence[torch.Tensor],
    n_classes: int | None = None,
    *,
    seeds: Sequence[int],
    n_epochs: int,
    lr: float,
    batch_size: int,
    milestones: tuple[int, ...] = (),
    noise: float = 0.01,
    learned_stats: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    device: str | torch.device | None = None,
    progress: bool = True,
    datasets: Sequence[str | None] | None = None,
    fast: bool | str = "auto",
) -> list[History]:
    """Train N GIN models of one architecture as one ensemble: member k as ``train(nets[k], xs[k], us[k], seed=seeds[k])``.

    The optimisation settings (epochs, learning rate and schedule, batch size, noise, statistics)
    are shared; the networks (their seeds), the data sets and the seeds of shuffling and noise are
    the members' own. Each member's result equals the lone run's to rounding (module docstring).

    Arguments:
        nets: N :class:`~gin_core.model.GIN` models or bare flows of one architecture (distinct objects).
        xs: N training data sets of one shape ``(n, ...)`` (a list, or a tensor ``(N, n, ...)``).
        us: their labels, N tensors ``(n,)``.
        n_classes: number of conditions (needed with bare flows).
        seeds: N seeds of the members' shuffling and noise (as :func:`~gin_core.training.train`'s ``seed``).
        n_epochs, lr, batch_size, milestones, noise, learned_stats, checkpoint_every, device, progress:
            as :func:`~gin_core.training.train`.
        checkpoint: one file for the whole ensemble; resumed if it exists. The run holds the run
            lock of its folder (:func:`~gin_core.training.lock.run_lock`).
        datasets: per member, a description of its data (recorded and checked on resume), or ``None``.
        fast: ``True``, ``False`` or ``"auto"`` (:func:`choose_ensemble_mode`); a resumed run takes
            the step its checkpoint was written with.

    Returns:
        One :class:`~gin_core.training.state.History` per member, its trained model in ``.model``.

    Raises:
        ValueError, TypeError: bad input (members of other architectures, data of other shapes, ...).
        FloatingPointError: a member's loss became NaN or infinite (the error names it).
        LockedError: another run holds the checkpoint's folder.
    """
    nets = list(nets)
    device = torch.device(device) if device is not None else default_device()
    models = [as_model(net, n_classes, learned_stats) for net in nets]
    if isinstance(xs, torch.Tensor):
        xs = list(xs.unbind(0))
    if isinstance(us, torch.Tensor):
        us = list(us.unbind(0))
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(models):
        raise ValueError(f"need one seed per member ({len(models)}), got {len(seeds)}")
    datasets = list(datasets) if datasets is not None else [None] * len(models)
    if len(datasets) != len(models):
        raise ValueError(f"need one dataset description per member ({len(models)}), got {len(datasets)}")
    x, u = _member_data(xs, us, len(models))
    check_members(models)
    for k, model in enumerate(models):
        check_arguments(xs[k], us[k], model.n_conditions, n_epochs, lr, batch_size, noise, None)
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    if checkpoint is None:
        return _train(
            models, x, u, seeds, datasets, device, n_epochs, lr, batch_size, milestones, noise, None, 1, progress, fast
        )
    with run_lock(Path(checkpoint).parent):
        return _train(
            models, x, u, seeds, datasets, device, n_epochs, lr, batch_size, milestones, noise, checkpoint,
            checkpoint_every, progress, fast,
        )  # fmt: skip


def _train(
    models,
    x,
    u,
    seeds,
    datasets,
    device,
    n_epochs,
    lr,
    batch_size,
    milestones,
    noise,
    checkpoint,
    every,
    progress,
    fast,
):
    settings = [
        TrainSettings(
            batch_size=int(batch_size),
            lr=float(lr),
            milestones=tuple(int(m) for m in milestones),
            noise=float(noise),
            seed=seed,
            learned_stats=models[0].learned,
            n_classes=models[0].n_conditions,
            n_samples=int(x.shape[1]),
            sample_shape=tuple(x.shape[2:]),
            dataset=dataset,
            device_type=device.type,
        )
        for seed, dataset in zip(seeds, datasets)
    ]
    for model in models:
        model.to(device).train()
    generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
    steps = x.shape[1] // batch_size
    path = Path(checkpoint) if checkpoint is not None else None
    saved = load_checkpoint(path, map_location=device) if path is not None and path.is_file() else None
    done = min(int(saved["epoch"]) * steps + int(saved["position"]), n_epochs * steps) if saved else 0
    mode = (
        saved["fast"] if saved is not None else choose_ensemble_mode(fast, models[0], device, n_epochs * steps - done)
    )
    step = EnsembleStep(models, lr, compile=mode == "compiled")
    run = _EnsembleRun(step, generators, settings)
    if saved is not None:
        run.restore(path, saved, device)
    x, u = x.to(device), u.to(device)
    bar = tqdm(
        total=n_epochs * steps, initial=done, disable=not progress, desc=f"ensemble of {len(models)}", unit="step",
        mininterval=1.0, file=sys.stdout,
    )  # fmt: skip
    try:
        while run.epoch < n_epochs:
            _run_epoch(run, x, u, bar)
            if path is not None and (run.epoch % every == 0 or run.epoch == n_epochs):
                save_checkpoint(path, run.state())
    except KeyboardInterrupt:
        if path is not None:
            save_checkpoint(path, run.state())
        raise
    finally:
        bar.close()
    for history, model, excluded in zip(run.histories, models, step.n_excluded):
        history.excluded, history.model, history.fast = excluded, model, step.mode
        history.compile_seconds = step.compile_seconds
    return run.histories
