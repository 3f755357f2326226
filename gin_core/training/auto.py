"""The auto rule: whether a run's training step is compiled, and the registry of steps compiled in this process.

:func:`choose` decides whether compiling pays for a run: compiling costs tens of seconds (less when
inductor's on-disk cache is warm), so a short run stays eager. Its rule and the measurements behind
it are in :data:`AUTO_RULE`. :func:`compile_available` says whether ``torch.compile`` can build a
step here (set :data:`ALLOW_COMPILE` to ``False`` to keep every step eager). The compiled steps
themselves are :class:`gin_core.training.compiled.CompiledStep`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from ..flows import InvertibleSequential

__all__ = ["AUTO_RULE", "ALLOW_COMPILE", "MODES", "compile_available", "choose", "clear_cache"]

# What "auto" does on CPU. Measured by bench/bench_step.py (bench/results/speed.json): on the
# project's 2-core CPU compiling the 10-d step took about 18-45 s with a cold inductor cache and
# a few seconds with a warm one, and saved about 3-6 ms a step. A 10-d run compiles only if its
# planned steps would repay the compilation: at least `cold_steps` (cold cache) or `warm_steps`
# (an earlier process on this machine compiled the same step). A step already compiled in this
# process is always reused. Image networks whose architecture is listed under "channels_last"
# would run channels-last (no compilation); none is listed, because on the project's CPU the
# channels-last EMNIST step was measured slower than eager (bench/results/speed_first_run.json: 277
# against 256 ms a step at 1 thread, 167 against 156 ms at 2, whole MNIST training 3.59 against 3.82
# and 4.83 against 6.08 steps/s; speed.json: 226 against 215 and 140 against 135 ms). On a GPU,
# "auto" stays eager until bench/bench_gpu.py has been run there.
AUTO_RULE = {
    "compiled": ("artificial_gin",),  # compiled where the planned steps repay the compilation
    "cold_steps": 12_000,
    "warm_steps": 3_000,
    "channels_last": (),  # measured slower than eager on CPU (above); e.g. ("emnist_gin",) to opt in
}

# False keeps every step eager (compile_available says so). Set it as gin_core.training.auto.ALLOW_COMPILE (an
# imported copy would not change). The core reads no environment: the book's settings set this from
# GIN_NO_COMPILE (gin_core.book.settings.run_config).
ALLOW_COMPILE = True

_COMPILED: dict[tuple, tuple] = {}  # key -> (compiled function, template network)
_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def compile_available(device: torch.device | str = "cpu") -> tuple[bool, str]:
    """Can ``torch.compile`` build a step here? Returns ``(available, reason if not)``."""
    device = torch.device(device)
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile"
    if sys.platform == "win32":
        return False, "torch.compile's inductor backend is not supported on Windows here"
    if not ALLOW_COMPILE:
        return (
            False,
            "compilation is switched off (gin_core.training.auto.ALLOW_COMPILE is False; the book: GIN_NO_COMPILE)",
        )
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return False, "no C++ compiler (g++, c++ or clang++) on the PATH: inductor cannot build CPU kernels"
    if device.type == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available"
    return True, ""


def _architecture(net: nn.Module) -> dict:
    config = dict(getattr(net, "config", None) or {"class": type(net).__name__})
    config.pop("seed", None)  # the seed changes weights and permutations, which are inputs
    return config


def _key(net, x_shape, dtype, device, n_classes, learned, amp) -> tuple:
    # repr(net) spells out every layer and its settings (not the seed, whose weights and
    # permutations are inputs), so two networks share a compiled step only if their structure is equal
    return (
        repr(net),
        tuple(x_shape),
        str(dtype),
        str(device),
        n_classes,
        learned,
        amp,
    )


def _marker(key: tuple) -> Path:
    """A file beside inductor's on-disk cache recording that this step was compiled (and how long it took)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    root = Path(cache_dir())  # inductor's own cache folder (TORCHINDUCTOR_CACHE_DIR, where set)
    return root / "gin_core" / f"{_stable_hash(repr(key))}.json"


def _stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


MODES = ("eager", "compiled", "channels_last")


def choose(fast, net: nn.Module, x_shape, dtype, device, n_classes: int, learned: bool, planned_steps: int) -> str:
    """Which step a run takes: ``"eager"``, ``"compiled"`` or ``"channels_last"``.

    ``"compiled"`` is :class:`CompiledStep` with compilation; ``"channels_last"`` is :class:`CompiledStep`
    without it, for image networks: the same eager operations on channels-last tensors, at no
    compilation cost (taken by "auto" only for the architectures :data:`AUTO_RULE` lists).

    Arguments:
        fast: ``True`` (compile unless unavailable), ``False`` (eager) or ``"auto"`` (the rule of
            :data:`AUTO_RULE` for ``planned_steps``).
        net, x_shape, dtype, device, n_classes, learned: what the step is built for; ``x_shape``
            is the batch's shape.
        planned_steps: the steps the run still has to take.

    Returns:
        One of :data:`MODES`.
    """
    if fast not in (True, False, "auto"):
        raise ValueError(f"fast must be True, False or 'auto', got {fast!r}")
    if fast is False or not isinstance(net, InvertibleSequential):
        return "eager"
    device = torch.device(device)
    images = len(x_shape) == 4
    available, reason = compile_available(device)
    if fast is True:
        if available:
            return "compiled"
        _warn_once(f"the fast training step is unavailable ({reason}); training runs eagerly")
        return "channels_last" if images else "eager"
    if available and _key(net, x_shape, dtype, device, n_classes, learned, False) in _COMPILED:
        return "compiled"  # compiled earlier in this process: free to reuse
    if device.type != "cpu":
        return "eager"  # not measured on a GPU yet (bench/bench_gpu.py measures it)
    if images:
        return "channels_last" if _architecture(net).get("architecture") in AUTO_RULE["channels_last"] else "eager"
    if not available or _architecture(net).get("architecture") not in AUTO_RULE["compiled"]:
        return "eager"
    warm = _marker(_key(net, x_shape, dtype, device, n_classes, learned, False)).is_file()
    return "compiled" if planned_steps >= AUTO_RULE["warm_steps" if warm else "cold_steps"] else "eager"


def clear_cache() -> None:
    """Forget the steps compiled in this process (tests; the on-disk cache stays)."""
    _COMPILED.clear()
    torch._dynamo.reset()


def _write_marker(key: tuple, seconds: float) -> None:
    path = _marker(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": repr(key), "first_call_seconds": seconds, "torch": torch.__version__}))
        tmp.replace(path)
    except OSError as error:  # the marker only informs "auto"; training goes on
        _warn_once(f"could not record the compiled step at {path} ({error}); 'auto' will treat the cache as cold")
