"""Trained weights as a pair of files: ``<name>.pt`` (the network's weights) and ``<name>.json`` (provenance).

* ``<name>.pt``: the ``state_dict``, floating tensors in half precision by default (about 5 MB
  for the 2,620,192 parameters of the digits network), loaded with ``weights_only=True``;
* ``<name>.json``: the network's constructor settings (``network``, see
  :func:`gin_core.networks.build_network`), the SHA-256 of the ``.pt`` file, and whatever
  provenance the caller adds (command, seed, epochs, wall time, test NLL, commit, ...).

:func:`load_weights` takes an explicit path, checks the SHA-256, rebuilds the network from its
recorded settings and loads the weights; each problem (missing file, checksum mismatch, weights
of another network) raises an error that says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn

from .checkpoints import CheckpointError, atomic_write, load_checkpoint, load_state, save_json
from .networks import build_network, count_parameters

__all__ = ["sha256_file", "half_state_dict", "save_weights", "read_provenance", "load_weights"]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def half_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors cast to float16 (contiguous, on the CPU); integer buffers kept as they are."""
    return {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in state.items()
    }


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix not in (".pt", ".json"):
        raise ValueError(f"weights are named <name>.pt with <name>.json beside them; got {path}")
    return path.with_suffix(".pt"), path.with_suffix(".json")


def save_weights(net: nn.Module, path: str | os.PathLike, provenance: dict | None = None, half: bool = True) -> dict:
    """Write ``<name>.pt`` and ``<name>.json`` atomically.

    Arguments:
        net: a network built by :mod:`gin_core.networks` (it records its ``config``).
        path: ``<name>.pt`` (or ``<name>.json``); the folder is created.
        provenance: further fields for the JSON (command, seed, data set, results, ...).
        half: store floating tensors as float16.

    Returns:
        The provenance dictionary as written.
    """
    if not isinstance(getattr(net, "config", None), dict):
        raise ValueError("the network records no constructor settings (net.config); build it with gin_core.networks")
    pt_path, json_path = _paths(path)
    state = half_state_dict(net.state_dict()) if half else {k: v.detach().cpu() for k, v in net.state_dict().items()}
    atomic_write(pt_path, lambda tmp: torch.save(state, tmp))
    record = {
        "name": pt_path.stem,
        "file": pt_path.name,
        "sha256": sha256_file(pt_path),
        "bytes": pt_path.stat().st_size,
        "dtype": "float16" if half else "as trained",
        "network": net.config,
        "parameters": count_parameters(net),
        **(provenance or {}),
    }
    save_json(json_path, record)
    return record


def read_provenance(path: str | os.PathLike) -> dict:
    """Read ``<name>.json`` (``path`` may name the ``.pt`` or the ``.json``)."""
    _, json_path = _paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(
            f"no provenance file {json_path}: weights are shipped as <name>.pt with <name>.json beside them"
        )
    try:
        record = json.loads(json_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{json_path} is not valid JSON (truncated or corrupt): {error}") from error
    for key in ("file", "sha256", "network"):
        if key not in record:
            raise CheckpointError(
                f"{json_path} lacks the field {key!r}; it was not written by gin_core.weights.save_weights"
            )
    return record


def load_weights(
    path: str | os.PathLike, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Load weights written by :func:`save_weights`, after checking their SHA-256.

    Arguments:
        path: ``<name>.pt`` or ``<name>.json``.
        dtype: floating type of the returned network.
        device: where it goes.

    Returns:
        ``(net, provenance)``: the network in evaluation mode and the provenance dictionary.

    Raises:
        FileNotFoundError: the ``.pt`` or ``.json`` is missing.
        CheckpointError: the checksum does not match, the file is corrupt, or it holds weights of
            another network than the one its provenance names.
    """
    provenance = read_provenance(path)
    pt_path = _paths(path)[1].with_name(provenance["file"])
    if not pt_path.is_file():
        raise FileNotFoundError(f"weights file {pt_path} named in {pt_path.with_suffix('.json').name} is missing")
    digest = sha256_file(pt_path)
    if digest != provenance["sha256"]:
        raise CheckpointError(
            f"SHA-256 mismatch for {pt_path}: the file has {digest}, its provenance expects {provenance['sha256']}; "
            "the file is corrupt or was replaced without re-exporting"
        )
    state = load_checkpoint(pt_path, expect_format=False)
    net = load_state(build_network(provenance["network"]).to(dtype), state, pt_path)
    return net.to(device).eval(), provenance
