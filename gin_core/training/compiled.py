"""The compiled training step: the forward pass and the loss compiled with ``torch.compile``, eager as fallback.

The 10-d network of Table 2 does about 27 MFLOP a step, which a CPU core does in well under a
millisecond; in eager PyTorch most of its step is per-operator overhead (``bench/README.md``).
Compiling the forward pass and the loss into one graph (TorchInductor generates fused C++ on
CPU and Triton on CUDA, and AOTAutograd the matching backward) removes most of it.

* :class:`CompiledStep` implements the step contract of :mod:`gin_core.training.steps`: the same
  noise from the same generator, the same loss (:func:`gin_core.loss.nll_terms`, batch statistics
  or learned, GIN or GLOW-style), the same Adam step as :class:`~gin_core.training.steps.EagerStep`;
  only the forward and the loss run compiled. Loss and parameters agree with eager execution to
  float32 rounding (tests: 1e-5 after 10 steps).
* The compiled function takes the parameters as inputs (``torch.func.functional_call``), so it is
  compiled **once per process** for a network architecture and batch shape and reused by every
  later run, whatever its seed: a sweep pays for compilation once.
* :func:`gin_core.training.auto.choose` decides whether compiling pays for a run (the auto
  rule, :data:`gin_core.training.auto.AUTO_RULE`); :func:`make_step` builds the step it chose.
* Where compilation is unavailable (no C compiler on CPU, an unsupported platform, or a failure
  while compiling), the step falls back to eager with a warning that says why.

On CUDA, the EMNIST network can also run under bfloat16 autocast with channels-last images
(``amp=True``): the class statistics and the loss stay in float32, and the weights stay float32,
so the trained flow inverts as exactly as before (the inversion tests run on the weights).

References:
    Sorrenson et al. (2020), Appendix D (the step being compiled); PyTorch 2 ``torch.compile``.
"""

from __future__ import annotations

import contextlib
import copy
import time

import torch
from torch import nn
from torch.func import functional_call

from ..checkpoints import CheckpointError
from ..flows import InvertibleSequential
from ..loss import nll_terms
from ..model import GIN
from . import auto
from .auto import choose, compile_available
from .steps import EagerStep, Step

__all__ = ["CompiledStep", "make_step", "compile_available", "deterministic"]


def _loss(template, n_conditions, volume_preserving, amp, params, buffers, base, x, u):
    """The flow (on the given parameters) and :func:`gin_core.loss.nll_terms`: what gets compiled."""
    if amp:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            w, log_det = functional_call(template, (params, buffers), (x,), {"check_finite": False})
        w, log_det = w.float(), log_det.float()
    else:
        w, log_det = functional_call(template, (params, buffers), (x,), {"check_finite": False})
    means, log_stds = base if base else (None, None)
    return nll_terms(w.flatten(1), u, n_conditions, None if volume_preserving else log_det, means, log_stds)


class CompiledStep(Step):
    """The training step with the forward pass and the loss compiled (the step contract of :class:`Step`).

    With ``compile=True`` the flow's parameters are gathered into **one flat tensor** that the
    modules' parameters view (so the flow and its ``state_dict`` stay current): the compiled graph
    then has one parameter input instead of ~100 (cheaper guards), backward accumulates one
    gradient, and Adam updates one tensor. Adam is elementwise, so this is the same update.

    Arguments:
        model: a :class:`~gin_core.model.GIN` whose flow is an
            :class:`~gin_core.flows.InvertibleSequential` (the package's networks).
        lr: learning rate of the step's Adam.
        amp: bfloat16 autocast (CUDA, the EMNIST network); the loss stays float32.
        compile: compile the forward pass and the loss, on flat parameters (``False``: the same
            function eagerly on the module's own parameters, channels-last for image networks:
            mode ``"channels_last"``).

    If compiling fails, it warns once and runs the same function eagerly.
    """

    def __init__(self, model: GIN, lr: float, amp: bool = False, compile: bool = True):
        if not isinstance(getattr(model, "flow", None), InvertibleSequential):
            raise TypeError(
                f"the compiled step needs a GIN whose flow is an InvertibleSequential, got {type(model).__name__}"
            )
        net = model.flow
        self.net, self.amp, self.compile = net, bool(amp), bool(compile)
        self.mode = "compiled" if self.compile else "channels_last"
        self.volume_preserving = model.volume_preserving
        self.images = len(getattr(net, "input_shape", ())) == 3
        self.names = [name for name, _ in net.named_parameters()]
        # Per-step bookkeeping done once (walking the module tree and repr(net) cost about 0.7 ms a step
        # of the 10-d network, measured): where each buffer lives, and the compiled step's key per batch shape.
        self._buffer_slots = [
            (name, module._buffers, name.rsplit(".", 1)[-1])
            for name, module in ((n, net.get_submodule(n.rpartition(".")[0])) for n, _ in net.named_buffers())
        ]
        self._structure = repr(net)
        self._keys: dict[tuple, tuple] = {}
        self.flat = _flatten(net) if self.compile else None
        if not self.compile and self.images:  # channels-last tensors (same values, other strides)
            net.to(memory_format=torch.channels_last)
        self.eager = False  # set when compilation failed and the same function runs uncompiled
        super().__init__(model, lr)

    def parameters(self) -> list[torch.Tensor]:
        """What the optimiser updates: the flat parameter (compiled) or the flow's, and the base's if learned."""
        own = [self.flat] if self.flat is not None else list(self.net.parameters())
        return own + list(self.model.base.parameters())

    def _function(self, x: torch.Tensor):
        where = (tuple(x.shape), x.dtype, x.device)
        key = self._keys.get(where)
        if key is None:
            key = auto._key(self.net, x.shape, x.dtype, x.device, self.model.n_conditions, self.model.learned, self.amp)
            if key[0] != self._structure:
                raise RuntimeError(
                    "the network's structure changed after its compiled step was built; build a new CompiledStep"
                )
            key = self._keys[where] = key if self.compile else (*key, "eager")
        if key not in auto._COMPILED:
            template = copy.deepcopy(self.net)
            for p in template.parameters():
                p.requires_grad_(False)
            settings = (self.model.n_conditions, self.volume_preserving, self.amp)
            if self.compile:
                shapes = [p.shape for p in self.net.parameters()]
                sizes = [p.numel() for p in self.net.parameters()]
                names = list(self.names)

                def loss(flat, buffers, base, x, u):
                    params = {n: t.view(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
                    return _loss(template, *settings, params, buffers, base, x, u)

                # on CUDA, "reduce-overhead" replays the step as a CUDA graph: the 10-d network is launch-bound
                mode = "reduce-overhead" if x.device.type == "cuda" else None
                auto._COMPILED[key] = (torch.compile(loss, fullgraph=True, dynamic=False, mode=mode), loss, False)
            else:

                def loss(params, buffers, base, x, u):
                    return _loss(template, *settings, params, buffers, base, x, u)

                auto._COMPILED[key] = (loss, loss, True)
        return key

    def __call__(self, x: torch.Tensor, u: torch.Tensor, noise: float = 0.01, generator=None) -> float:
        if not self.compile or x.device.type != "cpu":  # CUDA's deterministic mode would need cuBLAS settings
            return super().__call__(x, u, noise, generator)
        with deterministic():
            return super().__call__(x, u, noise, generator)

    def loss_terms(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() == 4 and not self.compile:
            x = x.contiguous(memory_format=torch.channels_last)
        key = self._function(x)
        function, plain, ready = auto._COMPILED[key]
        weights = self.flat if self.flat is not None else dict(self.net.named_parameters())
        buffers = {name: slots[attr] for name, slots, attr in self._buffer_slots}  # current even after .to()
        base = (self.model.base.means, self.model.base.log_stds) if self.model.learned else ()
        if self.eager:
            function = plain
        start = time.perf_counter()
        try:
            terms = function(weights, buffers, base, x, u)
        except Exception as error:  # noqa: BLE001 - reported, then the same function runs uncompiled
            if ready or self.eager:
                raise
            auto._warn_once(
                f"compiling the training step failed ({type(error).__name__}: {error}); training runs eagerly"
            )
            self.eager = True
            auto._COMPILED.pop(key, None)
            terms = plain(weights, buffers, base, x, u)
        if not ready and not self.eager:
            self.compile_seconds = time.perf_counter() - start
            auto._COMPILED[key] = (function, plain, True)
            auto._write_marker(key, self.compile_seconds)
        return terms


def make_step(fast, model: GIN, x_shape, dtype, device, lr: float, planned_steps: int, saved_mode: str | None) -> Step:
    """The step a run takes: :func:`choose` its mode, and build it.

    A resumed run keeps the mode its checkpoint was written with unless ``fast`` is ``True`` or
    ``False``; the compiled step keeps its parameters in one flat tensor, so its checkpoints can
    only be resumed by the compiled step (which runs uncompiled where compiling is unavailable).

    Arguments:
        fast: ``True``, ``False`` or ``"auto"`` (see :func:`choose`).
        model: the model to train.
        x_shape, dtype, device: the batches' shape, dtype and device.
        lr: the learning rate.
        planned_steps: steps the run still has to take.
        saved_mode: the mode of the checkpoint being resumed, or ``None``.

    Returns:
        An :class:`~gin_core.training.steps.EagerStep` or a :class:`CompiledStep`.
    """
    if saved_mode is not None and fast == "auto":
        mode = saved_mode
    else:
        mode = choose(fast, model.flow, x_shape, dtype, device, model.n_conditions, model.learned, planned_steps)
    if saved_mode is not None and (saved_mode == "compiled") != (mode == "compiled"):
        raise CheckpointError(
            f"the checkpoint was written by the {saved_mode} training step and would be resumed by the {mode} "
            f"step; their optimiser states have different layouts. Resume with fast='auto' (or "
            f"fast={saved_mode == 'compiled'})"
        )
    if mode == "eager":
        return EagerStep(model, lr)
    step = CompiledStep(model, lr, compile=mode == "compiled")
    if mode == "compiled" and not compile_available(device)[0]:
        auto._warn_once(f"the compiled step is unavailable here ({compile_available(device)[1]}); it runs uncompiled")
        step.eager = True
    return step


@contextlib.contextmanager
def deterministic():
    """Deterministic algorithms while a compiled step (single or ensemble) is built and run (forward, backward, Adam).

    With more than one thread, inductor's CPU kernels accumulate the class sums of the batch
    statistics (``index_add``) and the backward of row gathers with atomic adds, whose order varies
    from run to run: the same training gave different losses in the fourth digit (measured at 2
    threads). In deterministic mode inductor calls ATen's sequential kernels for those sums
    instead, so a run and its resumption are bit-identical at any thread count. CPU only: on CUDA
    this mode would also need cuBLAS's workspace setting, and GPU training is not bit-exact anyway.
    """
    enabled, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def _flatten(net: nn.Module) -> torch.Tensor:
    """One flat leaf tensor holding every parameter of ``net``; the module's parameters become views of it."""
    params = list(net.parameters())
    if not params:
        raise ValueError("the network has no parameters to train")
    dtypes = {p.dtype for p in params}
    if len(dtypes) != 1:
        raise ValueError(f"the compiled step needs one parameter dtype, got {sorted(map(str, dtypes))}")
    flat = torch.cat([p.detach().reshape(-1) for p in params]).requires_grad_(True)
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.data = flat.detach()[offset : offset + n].view(p.shape)  # shares memory: the module stays current
            offset += n
    return flat
