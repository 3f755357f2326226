r"""Ensembles: N networks of one architecture trained in one step, each with its own data, seed and Adam state.

The 10-d network of Table 2 (4,480 parameters) cannot fill a CPU core: its step is ~140 small
matrix products whose per-operator overhead dominates (``bench/README.md``). Training N such
networks *as one* (each product becomes one batched product over the N members) shares that
overhead N ways. The model code is written once: :class:`EnsembleStep` maps
:meth:`gin_core.model.GIN.loss_terms` (so :func:`gin_core.loss.nll_terms`, the one loss) over the
members with ``torch.func.vmap`` over ``functional_call``, on the members' parameters stacked into
one ``(N, P)`` tensor.

* **Each member is the run it would be alone.** Member k's losses and gradients depend on its
  own parameters and data only, and its noise comes from its own generator. One Adam steps the
  stacked tensor; Adam is elementwise, so that is N separate Adams. The members therefore agree
  with lone runs to rounding (float64: 1e-8 after 10 steps, ``tests/test_ensemble.py``): the
  batched products may sum in another order.
* **Compiled where it pays:** ``compile=True`` compiles the vmapped forward and loss
  (``torch.compile``), once per process per architecture, batch shape and N;
  :func:`choose_ensemble_mode` decides for ``fast="auto"`` by :data:`ENSEMBLE_AUTO_RULE`.

The loop that trains an ensemble, its checkpoints and its run lock are in
:mod:`gin_core.training.ensemble_loop` (:func:`~gin_core.training.ensemble_loop.train_ensemble`).
The members' modules stay usable during and after training: their parameters are views of the
stacked tensor and their buffers views of the stacked buffers.

References:
    Sorrenson et al. (2020), §4.3.1 and Appendix D (the step); PyTorch ``torch.func`` (model ensembling).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..loss import NO_PAIR_MESSAGE
from ..model import GIN
from .auto import compile_available
from .compiled import deterministic
from .optim import make_optimizer

__all__ = ["EnsembleStep", "check_members", "choose_ensemble_mode", "ENSEMBLE_AUTO_RULE", "COMPILE_OPTIONS"]

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


def check_members(models: Sequence[GIN]) -> None:
    """Check that ``models`` are N distinct :class:`~gin_core.model.GIN` models of one architecture and one dtype.

    Raises:
        ValueError, TypeError: the first member that breaks the rule, named.
    """
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
            :func:`~gin_core.training.ensemble_loop.train_ensemble` asks :func:`~gin_core.training.compiled.compile_available` first).

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
        check_members(models)
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
            The N losses (may be NaN: :func:`~gin_core.training.ensemble_loop.train_ensemble` checks).

        Raises:
            ValueError: a member's batch has no class with two samples (batch statistics).
        """
        if len(generators) != self.size:
            raise ValueError(f"need one generator per member ({self.size}), got {len(generators)}")
        if noise > 0:
            draws = [torch.randn(x.shape[1:], generator=g, device=x.device, dtype=x.dtype) for g in generators]
            x = x + noise * torch.stack(draws)
        if self.mode == "compiled" and x.device.type == "cpu":
            with deterministic():
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
