"""Checkpoints and result files: atomic writes, a versioned format, and clear errors.

A training checkpoint (written by :func:`gin_core.training.train`) is a dictionary with

* ``format`` and ``version``: :data:`FORMAT`, :data:`VERSION`;
* ``network``: the network's constructor settings (``net.config``, see
  :func:`gin_core.networks.build_network`), ``volume_preserving`` included;
* ``training``: batch size, learning rate, milestones, noise, seed, statistics mode, number of
  classes, data size and shape, and the data set where there is one;
* ``commits``: the code commits the run was trained with, and the ``gin_core`` version;
* the state: the flow (``net``), the base distribution (``base``; version 2 stored it as the
  loss module's ``criterion``), the optimiser, the random generator, the position in the epoch,
  the history. :mod:`gin_core.training.state` writes and reads it.

Every file is written to a temporary name and renamed, so an interruption never leaves a
half-written file. Loading uses ``torch.load(..., weights_only=True)``; a truncated or corrupt
file, a file of another format, a resume with other settings and weights for another network
each raise a :class:`CheckpointError` that says what differs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import torch
from torch import nn

from .networks import build_network

__all__ = [
    "FORMAT",
    "VERSION",
    "READABLE_VERSIONS",
    "CheckpointError",
    "atomic_write",
    "save_json",
    "save_checkpoint",
    "load_checkpoint",
    "compare_settings",
    "load_state",
    "load_network",
    "code_commit",
]

FORMAT = "gin_core.checkpoint"
VERSION = 3
READABLE_VERSIONS = (2, 3)  # version 2: the base distribution under "criterion" (read by gin_core.training.state)


class CheckpointError(ValueError):
    """A checkpoint or weights file that cannot be used: corrupt, of another format, or of other settings."""


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``, so ``path`` is never half-written.

    Arguments:
        path: the destination; its folder is created.
        write: a function that writes a file at the path it is given.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def save_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically (provenance and sweep records)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1) + "\n"))


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` with ``torch.save``, atomically."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike, map_location="cpu", expect_format: bool = True) -> dict:
    """Load a file written by :func:`save_checkpoint` with ``weights_only=True``.

    Arguments:
        path: the file.
        map_location: where tensors go.
        expect_format: require a training checkpoint of this :data:`FORMAT` and :data:`VERSION`
            (``False`` accepts any dictionary, e.g. a bare ``state_dict``).

    Returns:
        The dictionary.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated or corrupt, not a dictionary, or of another format
            or version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch.load raises RuntimeError, EOFError, UnpicklingError, ... by cause
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, corrupt, or not written by torch.save): "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dictionary")
    if expect_format:
        if state.get("format") != FORMAT:
            raise CheckpointError(
                f"{path} is not a gin_core training checkpoint (no format {FORMAT!r}); it may be a bare state_dict "
                "or come from gin_core < 0.2, which did not record its settings: start a new run"
            )
        if state.get("version") not in READABLE_VERSIONS:
            raise CheckpointError(
                f"{path} has checkpoint version {state.get('version')}; this gin_core reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}"
            )
    return state


def compare_settings(saved: dict, current: dict, what: str, source: str | os.PathLike) -> None:
    """Raise a :class:`CheckpointError` naming every setting whose value differs.

    Arguments:
        saved: the settings recorded in the file.
        current: the settings of this call.
        what: what the settings are (``"training settings"``, ``"network"``), for the message.
        source: the file, for the message.
    """
    keys = sorted(set(saved) | set(current))
    differences = [
        f"{k}: file {saved.get(k, '(not recorded)')!r}, now {current.get(k, '(not given)')!r}"
        for k in keys
        if _normal(saved.get(k)) != _normal(current.get(k))
    ]
    if differences:
        raise CheckpointError(
            f"{source} was written with other {what}; resuming would silently mix two runs.\n  "
            + "\n  ".join(differences)
            + "\nPass the same settings, or start a new run in a new folder (or delete the file)."
        )


def _normal(value):
    """Tuples and lists compare equal; ints and equal floats compare equal."""
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def load_state(net: nn.Module, state: dict[str, torch.Tensor], source: str | os.PathLike = "the weights") -> nn.Module:
    """``net.load_state_dict(state)``, with an error that names every missing, extra or differently shaped tensor.

    Arguments:
        net: the network.
        state: its ``state_dict`` as loaded from a file (floating tensors are cast to the
            network's dtype).
        source: the file, for the message.

    Returns:
        ``net``.
    """
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)}, network {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensors missing from the file (first: {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} tensors the network does not have (first: {', '.join(extra[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} tensors of another shape (first: {'; '.join(shapes[:3])})")
        raise CheckpointError(f"{source} holds weights of another network: " + "; ".join(parts))
    cast = {k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    net.load_state_dict(cast, strict=True)
    return net


def load_network(path: str | os.PathLike, map_location="cpu") -> nn.Module:
    """Rebuild the network of a training checkpoint from its recorded settings and load its weights.

    Returns:
        The network, in evaluation mode.
    """
    state = load_checkpoint(path, map_location)
    net = build_network(state["network"])
    return load_state(net, state["net"], path).to(map_location).eval()


def code_commit() -> str | None:
    """The git commit of the current working directory (where a run is started), or ``None`` outside git."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
