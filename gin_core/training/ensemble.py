r"""Ensembles: N networks of one architecture trained in one step, each with its own data, seed and Adam state.

The 10-d network of Table 2 (4,480 parameters) cannot fill a CPU core: its step is ~140 small
matrix products whose per-operator overhead dominates (``bench/README.md``). Training N such
networks *as one* (each product becomes one batched product over the N members) shares that
overhead N ways. The model code is written once: the step maps
:meth:`gin_core.model.GIN.loss_terms` (so :func:`gin_core.loss.nll_terms`, the one loss) over the
members with ``torch.func.vmap`` over ``functional_call``, on the members' parameters stacked into
one ``(N, P)`` tensor.

* **Each member is the run it would be alone.** Member k draws its shuffling and noise from its
  own generator seeded with its own seed, in the order :func:`gin_core.training.train` draws them,
  and its losses and gradients depend on its own parameters and data only. One Adam steps the
  stacked tensor; Adam is elementwise, so that is N separate Adams. The members therefore agree
  with lone runs to rounding (float64: 1e-8 after 10 steps, ``tests/test_ensemble.py``): the
  batched products may sum in another order.
* **Compiled where it pays:** ``fast=True`` compiles the vmapped forward and loss
  (``torch.compile``), once per process per architecture, batch shape and N; ``"auto"`` follows
  :data:`ENSEMBLE_AUTO_RULE`.
* **Checkpoints** hold the whole ensemble (every member's weights, settings and history, the
  optimiser, every generator, the position in the epoch), are written atomically
  (:func:`gin_core.checkpoints.save_checkpoint`), loaded with ``weights_only=True``, and resume
  bit for bit. A run holds the run lock of its checkpoint's folder
  (:func:`gin_core.training.lock.run_lock`).

The members' modules stay usable during and after training: their parameters are views of the
stacked tensor and their buffers views of the stacked buffers.

References:
    Sorrenson et al. (2020), §4.3.1 and Appendix D (the step); PyTorch ``torch.func`` (model ensembling).
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap
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
from ..loss import NO_PAIR_MESSAGE
from ..model import GIN
from .compiled import _deterministic, compile_available
from .lock import run_lock
from .loop import _as_model, _check_arguments
from .optim import default_device, lr_at, make_optimizer
from .sampling import epoch_order
from .state import History, TrainSettings, network_record

__all__ = ["EnsembleStep", "train_ensemble", "choose_ensemble_mode", "ENSEMBLE_AUTO_RULE", "COMPILE_OPTIONS", "KIND"]

KIND = "ensemble"  # the checkpoint's "kind": a single run's checkpoint has none

# What fast="auto" does for an ensemble: which architectures compile, from how many planned steps. Nothing
# yet: on the project's 2-core CPU (torch 2.14, one thread, thread CPU time while other jobs shared the
# machine) the compiled vmapped step of 8 artificial_gin members took 61.4 ms against 51.5 ms eager (7.7
# against 6.4 ms a member; bench/results/sweep.json, "ensemble_step"), after 11 s (warm cache) to 149 s
# (cold) of compilation. fast=True still compiles.
ENSEMBLE_AUTO_RULE = {"compiled": (), "min_steps": 3_000}

# Inductor's options for the ensemble's step. On the project's CPU (AVX-512, torch 2.14) its vectorised
# kernels store boolean masks (the ReLUs' saved masks) about 10x slower than its scalar ones: a fused
# relu-and-mask kernel of 8 x 10 x 1000 floats took 1.15 ms vectorised and 0.12 ms with simdlen 1
# (measured in this project, bench/bench_sweep.py records the step times).
COMPILE_OPTIONS = {"cpp.simdlen": 1}

_COMPILED: dict[tuple, object] = {}  # key -> compiled vmapped loss, shared by every ensemble of this process


class _Objective(nn.Module):
    """``model.loss_terms(x, u)`` as a module's forward, for ``functional_call``."""

    def __init__(self, model: GIN):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.loss_terms(x, u)


def _structure(model: GIN) -> str:
    return repr(model)  # every layer and setting, not the seed (whose weights and permutations are data)


def _check_members(models: Sequence[GIN]) -> None:
    if len(models) == 0:
        raise ValueError("an ensemble needs at least one member")
    for k, model in enumerate(models):
        if not isinstance(model, GIN):
            raise TypeError(f"ensemble member {k} must be a gin_core.GIN model, got {type(model).__name__}")
    first = models[0]
    shapes = [(n, tuple(t.shape), t.dtype) for n, t in first.state_dict().items()]
    for k, model in enumerate(models[1:], start=1):
        if model is first or any(model is other for other in models[:k]):
            raise ValueError(
                f"ensemble member {k} is the same model object as an earlier member; give N distinct models"
            )
        if _structure(model) != _structure(first):
            raise ValueError(
                f"ensemble member {k} has another architecture than member 0; an ensemble trains N networks of one "
                "architecture (differing only in their seeds)"
            )
        other = [(n, tuple(t.shape), t.dtype) for n, t in model.state_dict().items()]
        if other != shapes:
            diff = next((a, b) for a, b in zip(shapes, other) if a != b) if len(other) == len(shapes) else "count"
            raise ValueError(f"ensemble member {k} has other tensors than member 0 (first difference: {diff})")
    dtypes = {p.dtype for p in first.parameters()}
    if len(dtypes) != 1:
        raise ValueError(f"an ensemble needs one parameter dtype, got {sorted(map(str, dtypes))}")


class EnsembleStep:
    """One training step of N models at once: noise, vmapped loss, backward, one Adam over the stacked parameters.

    The members' parameters are gathered into one ``(N, P)`` leaf tensor :attr:`flat`, and each
    member's parameters become views of its row (so every member's module and ``state_dict``
    stay current); the buffers are stacked likewise.

    Arguments:
        models: N distinct :class:`~gin_core.model.GIN` models of one architecture, on one device.
        lr: learning rate of the Adam (:func:`~gin_core.training.optim.make_optimizer` over :attr:`flat`).
        compile: compile the vmapped forward and loss with ``torch.compile`` (where it is available:
            :func:`train_ensemble` asks :func:`~gin_core.training.compiled.compile_available` first).

    Attributes:
        models: the members.
        mode: ``"eager"`` or ``"compiled"`` (recorded in checkpoints).
        optimizer: the Adam over :attr:`flat`.
        n_excluded: per member, samples left out of the loss so far (classes with fewer than two
            samples in a batch).
        compile_seconds: time of the first compiled call (0 where nothing was compiled or it was reused).

    References:
        Sorrenson et al. (2020), Appendix D.1.
    """

    def __init__(self, models: Sequence[GIN], lr: float, compile: bool = False):
        models = list(models)
        _check_members(models)
        self.models = models
        self.mode = "compiled" if compile else "eager"
        self.n_excluded = [0] * len(models)
        self.compile_seconds = 0.0
        self.names = [name for name, _ in models[0].named_parameters()]
        self.shapes = [p.shape for p in models[0].parameters()]
        self.sizes = [p.numel() for p in models[0].parameters()]
        self.flat = _stack_parameters(models)
        self.buffers = _stack_buffers(models)
        template = copy.deepcopy(_Objective(models[0]))
        for p in template.parameters():
            p.requires_grad_(False)
        self.template = template
        self.optimizer = make_optimizer([self.flat], lr)
        self._function = None

    @property
    def size(self) -> int:
        """The number of members N."""
        return len(self.models)

    def _member_loss(self, flat: torch.Tensor, buffers: dict, x: torch.Tensor, u: torch.Tensor):
        params = {f"model.{n}": t.view(s) for n, t, s in zip(self.names, torch.split(flat, self.sizes), self.shapes)}
        return functional_call(self.template, (params, buffers), (x, u))

    def _loss_function(self, x: torch.Tensor):
        if self._function is not None:
            return self._function
        batched = vmap(self._member_loss)
        if self.mode != "compiled":
            self._function = batched
            return batched
        model = self.models[0]
        key = (_structure(model), tuple(x.shape), str(x.dtype), str(x.device))
        if key not in _COMPILED:
            names, sizes, shapes, template = list(self.names), list(self.sizes), list(self.shapes), self.template

            def member(flat, buffers, x, u):  # closes over no ensemble: one compiled function serves every ensemble
                params = {f"model.{n}": t.view(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
                return functional_call(template, (params, buffers), (x, u))

            _COMPILED[key] = torch.compile(vmap(member), fullgraph=True, dynamic=False, options=dict(COMPILE_OPTIONS))
        self._function = _COMPILED[key]
        return self._function

    def loss_terms(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member ``(loss, n_used)`` of noisy batches ``x`` ``(N, B, ...)`` and labels ``u`` ``(N, B)``."""
        function = self._loss_function(x)
        start = time.perf_counter()
        terms = function(self.flat, self.buffers, x, u)
        if self.mode == "compiled" and self.compile_seconds == 0.0:
            self.compile_seconds = time.perf_counter() - start
        return terms

    def __call__(
        self, x: torch.Tensor, u: torch.Tensor, noise: float, generators: Sequence[torch.Generator]
    ) -> list[float]:
        """One step of every member on its batch; returns the N losses (before the step), as floats.

        Arguments:
            x: the members' batches ``(N, B, *input_shape)``.
            u: their labels ``(N, B)``.
            noise: standard deviation of the Gaussian noise added to each batch.
            generators: the members' generators; member k's noise is drawn from ``generators[k]``
                exactly as :func:`~gin_core.training.optim.add_noise` draws a lone run's.

        Returns:
            The N losses (may be NaN: :func:`train_ensemble` checks).

        Raises:
            ValueError: a member's batch has no class with two samples (batch statistics).
        """
        if len(generators) != self.size:
            raise ValueError(f"need one generator per member ({self.size}), got {len(generators)}")
        if noise > 0:
            draws = [torch.randn(x.shape[1:], generator=g, device=x.device, dtype=x.dtype) for g in generators]
            x = x + noise * torch.stack(draws)
        if self.mode == "compiled" and x.device.type == "cpu":
            with _deterministic():
                return self._step(x, u)
        return self._step(x, u)

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> list[float]:
        losses, n_used = self.loss_terms(x, u)
        used = n_used.tolist()
        empty = [k for k, n in enumerate(used) if n == 0]
        if empty:
            raise ValueError(f"ensemble members {empty}: {NO_PAIR_MESSAGE}")
        for k, n in enumerate(used):
            self.n_excluded[k] += x.shape[1] - n
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # member k's gradient is that of its own loss: the members share nothing
        self.optimizer.step()
        return losses.detach().tolist()


def _stack_parameters(models: Sequence[GIN]) -> torch.Tensor:
    """One ``(N, P)`` leaf tensor holding every member's parameters; their parameters become views of its rows."""
    flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in models])
    flat.requires_grad_(True)
    with torch.no_grad():
        for k, model in enumerate(models):
            offset = 0
            for p in model.parameters():
                n = p.numel()
                p.data = flat.detach()[k, offset : offset + n].view(p.shape)
                offset += n
    return flat


def _stack_buffers(models: Sequence[GIN]) -> dict[str, torch.Tensor]:
    """The members' buffers stacked along a new first dimension; each member's buffers become views of them."""
    stacked = {}
    for name, _ in models[0].named_buffers():
        stacked[f"model.{name}"] = torch.stack([m.get_buffer(name) for m in models])
        module_name, _, attr = name.rpartition(".")
        for k, model in enumerate(models):
            model.get_submodule(module_name)._buffers[attr] = stacked[f"model.{name}"][k]
    return stacked


# ----------------------------------------------------------------------------------------------
# Training


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


def choose_ensemble_mode(fast, model: GIN, device: torch.device, planned_steps: int) -> str:
    """``"compiled"`` or ``"eager"`` for an ensemble run (``fast``: ``True``, ``False`` or ``"auto"``).

    ``True`` compiles where :func:`~gin_core.training.compiled.compile_available` says it can
    (else eager); ``"auto"`` compiles on CPU the architectures of :data:`ENSEMBLE_AUTO_RULE` when
    the run's planned steps reach its ``min_steps``.
    """
    if fast not in (True, False, "auto"):
        raise ValueError(f"fast must be True, False or 'auto', got {fast!r}")
    available = compile_available(device)[0]
    if fast is False or not available:
        return "eager"
    if fast is True:
        return "compiled"
    architecture = (getattr(model.flow, "config", None) or {}).get("architecture")
    compiled = architecture in ENSEMBLE_AUTO_RULE["compiled"] and planned_steps >= ENSEMBLE_AUTO_RULE["min_steps"]
    return "compiled" if device.type == "cpu" and compiled else "eager"


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
    models = [_as_model(net, n_classes, learned_stats) for net in nets]
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
    _check_members(models)
    for k, model in enumerate(models):
        _check_arguments(xs[k], us[k], model.n_conditions, n_epochs, lr, batch_size, noise, None)
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
