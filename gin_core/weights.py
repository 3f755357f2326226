"""Trained weights of the EMNIST network (Table 3): export with provenance, verified loading, and
the choice between the reader's own checkpoint and the shipped weights.

Shipped weights live in ``data/weights/`` as a pair:

* ``<name>.pt``: the network's ``state_dict`` in half precision (floating tensors as float16,
  the permutation buffers as integers), about 5 MB for the 2,620,192 parameters;
* ``<name>.json``: the provenance: training command, seed, data set, epochs, learning-rate
  schedule, wall time, per-epoch training history, final training loss, test NLL (nats/dim and
  bits/dim, see :mod:`gin_core.evaluate`), code commit, and the SHA-256 of the ``.pt`` file.

:func:`load_shipped` recomputes the SHA-256 and refuses a file that does not match, then loads
it with ``torch.load(..., weights_only=True)`` and casts it to float32 (or the requested type).

:func:`load_trained` is what the analysis chapters call: the reader's own checkpoint when
there is one (``$GIN_CHECKPOINT``, or ``runs/gin_<dataset>/checkpoint.pt`` as written by
``python -m gin_core.train digits --dataset <dataset> --epochs 95 --lr 3e-4 --drop 45 --out
runs/gin_<dataset>``), else the shipped weights trained on that data set.

Export a training checkpoint with ``python scripts/export_weights.py`` (see its ``--help``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .networks import count_parameters, emnist_gin

__all__ = [
    "REPO_ROOT",
    "weights_dir",
    "runs_dir",
    "sha256_file",
    "half_state_dict",
    "parse_train_command",
    "export_weights",
    "load_provenance",
    "load_shipped",
    "reader_checkpoint",
    "TrainedModel",
    "load_trained",
    "max_inversion_error",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAIN_COMMAND = "python -m gin_core.train digits --dataset {dataset} --epochs 95 --lr 3e-4 --drop 45 --seed 0 --out runs/gin_{dataset}"


def weights_dir() -> Path:
    """The folder of shipped weights: the repository's ``data/weights``."""
    return REPO_ROOT / "data" / "weights"


def runs_dir() -> Path:
    """The folder where the reader's training runs go: the repository's ``runs``."""
    return REPO_ROOT / "runs"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def half_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors cast to float16 (contiguous, on the CPU); integer buffers kept as they are."""
    return {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous() for k, v in state.items()}


def parse_train_command(command: str):
    """Parse a ``python -m gin_core.train ...`` command line with the training CLI's own parser.

    Returns:
        The ``argparse.Namespace`` (experiment, epochs, lr, drop, seed, dataset, batch_size, noise, ...).

    Raises:
        ValueError: the command is not a ``gin_core.train`` digits command.
    """
    from .train import _parser

    words = shlex.split(command)
    words = [w for w in words if "=" not in w or w.startswith("-")]  # drop leading VAR=value assignments
    try:
        start = words.index("gin_core.train") + 1
    except ValueError:
        raise ValueError(f"not a `python -m gin_core.train` command: {command!r}") from None
    args = _parser().parse_args(words[start:])
    if args.experiment != "digits":
        raise ValueError(f"the command trains {args.experiment!r}, not the digits model: {command!r}")
    return args


@torch.no_grad()
def max_inversion_error(net: torch.nn.Module, x: torch.Tensor, batch_size: int = 500) -> float:
    """Largest ``|g(g^{-1}(x)) - x|`` over ``x``, in evaluation mode."""
    net.eval()
    device = next(net.parameters()).device
    worst = 0.0
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size].to(device, next(net.parameters()).dtype)
        w, _ = net(xb)
        worst = max(worst, (net.inverse(w) - xb).abs().max().item())
    return worst


def _build(state: dict[str, torch.Tensor], dtype: torch.dtype, volume_preserving: bool = True, seed: int = 0):
    net = emnist_gin(volume_preserving=volume_preserving, seed=seed)
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    net.load_state_dict(state, strict=True)
    return net.to(dtype).eval()


def export_weights(
    checkpoint: str | os.PathLike,
    out_dir: str | os.PathLike,
    name: str,
    command: str,
    commit: str,
    x_train: torch.Tensor,
    u_train: torch.Tensor,
    x_test: torch.Tensor,
    u_test: torch.Tensor,
    notes: str = "",
    noise: float = 0.01,
) -> dict:
    """Turn a training checkpoint into shipped weights ``<name>.pt`` + provenance ``<name>.json``.

    The test NLL and the inversion error are measured on the *exported* (float16, cast back to
    float32) weights, i.e. exactly what readers load.

    Arguments:
        checkpoint: a checkpoint written by :func:`gin_core.train.train`.
        out_dir: destination folder (``data/weights`` for the shipped weights).
        name: file stem, e.g. ``"gin_mnist"``.
        command: the training command line (parsed for seed, data set, schedule).
        commit: the code commit the run was started from.
        x_train, u_train: training images and labels (class statistics of the test NLL).
        x_test, u_test: test images and labels.
        notes: free text stored in the provenance (e.g. why the run stopped).
        noise: evaluation noise (the training noise, 0.01).

    Returns:
        The provenance dictionary (also written as JSON).
    """
    from .evaluate import evaluate_nll
    from .train import load_checkpoint

    args = parse_train_command(command)
    state = load_checkpoint(checkpoint)
    history = state["history"]
    epochs_done = int(state["epoch"])
    if epochs_done != len(history["loss"]):
        raise ValueError(f"inconsistent checkpoint: epoch {epochs_done} but {len(history['loss'])} history entries")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pt_path, json_path = out_dir / f"{name}.pt", out_dir / f"{name}.json"
    tmp = pt_path.with_name(pt_path.name + ".tmp")
    torch.save(half_state_dict(state["net"]), tmp)
    os.replace(tmp, pt_path)

    net = _build(torch.load(pt_path, map_location="cpu", weights_only=True), torch.float32, not args.glow, args.seed)
    inversion = max_inversion_error(net, x_test)
    result = evaluate_nll(net, x_train, u_train, x_test, u_test, n_classes=10, noise=noise, seed=0)
    wall = float(sum(history["seconds"]))
    provenance = {
        "name": name,
        "file": pt_path.name,
        "sha256": sha256_file(pt_path),
        "bytes": pt_path.stat().st_size,
        "dtype": "float16 (floating tensors); permutations as int64 buffers",
        "architecture": "gin_core.networks.emnist_gin (Table 3)",
        "volume_preserving": not args.glow,
        "parameters": count_parameters(net),
        "dataset": args.dataset,
        "command": command,
        "seed": args.seed,
        "batch_size": args.batch_size or 240,
        "noise": args.noise,
        "lr": args.lr,
        "lr_drops": list(args.drop),
        "lr_schedule": f"Adam lr {args.lr:g}, divided by 10 at epoch(s) {list(args.drop)}",
        "epochs_planned": args.epochs,
        "epochs_done": epochs_done,
        "complete": epochs_done >= args.epochs,
        "steps_into_next_epoch": int(state["position"]),
        "wall_time_s": wall,
        "wall_time_h": wall / 3600,
        "final_train_loss_nats_per_dim": history["loss"][-1] if history["loss"] else None,
        "test_nll": {
            "nats_per_dim": result.nats_per_dim,
            "bits_per_dim": result.bits_per_dim,
            "noise_floor_bits_per_dim": result.floor_bits_per_dim,
            "noise": noise,
            "seed": result.seed,
            "n_test": result.n_test,
            "n_train_for_class_statistics": result.n_train,
            "weights": "the exported float16 weights cast to float32",
            "convention": "x = pixel/255 plus N(0, noise^2); class-conditional; see gin_core.evaluate",
        },
        "max_inversion_error_float32": inversion,
        "code_commit": commit,
        "torch_version": torch.__version__,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "exported_on": platform.platform(),
        "notes": notes,
        "history": {"loss": history["loss"], "lr": history["lr"], "seconds": history["seconds"]},
    }
    json_path.write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


def load_provenance(name: str = "gin_mnist", directory: str | os.PathLike | None = None) -> dict:
    """Read ``<name>.json`` from ``directory`` (default :func:`weights_dir`)."""
    path = Path(directory or weights_dir()) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no provenance file {path}; the shipped weights are missing (they are part of the repository: "
            f"`git checkout -- data/weights`), or export a checkpoint with `python scripts/export_weights.py`"
        )
    return json.loads(path.read_text())


def load_shipped(
    name: str = "gin_mnist",
    directory: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, dict]:
    """Load shipped weights after checking their SHA-256 against the provenance file.

    Arguments:
        name: file stem in ``directory``.
        directory: default :func:`weights_dir`.
        dtype: floating type of the returned network (the file holds float16).
        device: where the network goes.

    Returns:
        ``(net, provenance)``: the network in evaluation mode and the provenance dictionary.

    Raises:
        FileNotFoundError: the ``.pt`` or ``.json`` is missing.
        ValueError: the SHA-256 does not match (a corrupt or replaced file).
    """
    provenance = load_provenance(name, directory)
    path = Path(directory or weights_dir()) / provenance["file"]
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} named in {name}.json is missing")
    digest = sha256_file(path)
    if digest != provenance["sha256"]:
        raise ValueError(
            f"SHA-256 mismatch for {path}: file has {digest}, {name}.json expects {provenance['sha256']}; "
            "the file is corrupt or was replaced without re-exporting"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = _build(state, dtype, provenance.get("volume_preserving", True), provenance.get("seed", 0))
    return net.to(device), provenance


def reader_checkpoint(dataset: str, runs: str | os.PathLike | None = None) -> Path | None:
    """The reader's own checkpoint for ``dataset``, if any.

    ``$GIN_CHECKPOINT`` (an explicit path; an error if it does not exist) takes precedence over
    ``<runs>/gin_<dataset>/checkpoint.pt`` (``runs`` defaults to :func:`runs_dir`).
    """
    env = os.environ.get("GIN_CHECKPOINT")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"GIN_CHECKPOINT={env} does not exist")
        return path
    path = Path(runs or runs_dir()) / f"gin_{dataset}" / "checkpoint.pt"
    return path if path.is_file() else None


@dataclass
class TrainedModel:
    """A trained digits network and where it came from.

    Attributes:
        net: the network (evaluation mode).
        dataset: the data set it was trained on.
        source: ``"checkpoint"`` (the reader's own) or ``"shipped"``.
        path: the file loaded.
        epochs: epochs trained.
        history: per-epoch ``loss``, ``lr``, ``seconds``.
        provenance: the shipped provenance (``None`` for a checkpoint).
    """

    net: torch.nn.Module
    dataset: str
    source: str
    path: Path
    epochs: int
    history: dict = field(default_factory=dict)
    provenance: dict | None = None

    def __str__(self) -> str:
        if self.source == "checkpoint":
            return f"your checkpoint {self.path} ({self.dataset}, {self.epochs} epochs)"
        p = self.provenance
        return (
            f"shipped weights {self.path.name} ({self.dataset}, {self.epochs} of {p['epochs_planned']} epochs, "
            f"sha256 {p['sha256'][:12]}..., code {p['code_commit'][:8]})"
        )


def load_trained(
    dataset: str,
    name: str | None = None,
    weights: str | os.PathLike | None = None,
    runs: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> TrainedModel:
    """The reader's own checkpoint for ``dataset`` if there is one, else the shipped weights.

    Arguments:
        dataset: ``"mnist"`` or ``"emnist"`` (resolved, see :func:`gin_core.digits.resolve_dataset`).
        name: shipped file stem (default ``gin_<dataset>``).
        weights: folder of shipped weights (default :func:`weights_dir`).
        runs: folder of the reader's runs (default :func:`runs_dir`).
        dtype, device: of the returned network.

    Returns:
        A :class:`TrainedModel`.

    Raises:
        FileNotFoundError: neither exists; the message gives the training command.
    """
    from .train import load_checkpoint

    checkpoint = reader_checkpoint(dataset, runs)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        net = _build(state["net"], dtype).to(device)
        history = {k: list(state["history"][k]) for k in ("loss", "lr", "seconds")}
        return TrainedModel(net, dataset, "checkpoint", checkpoint, int(state["epoch"]), history)
    name = name or f"gin_{dataset}"
    if not (Path(weights or weights_dir()) / f"{name}.json").is_file():
        raise FileNotFoundError(
            f"no weights trained on {dataset}: no checkpoint at {Path(runs or runs_dir()) / f'gin_{dataset}' / 'checkpoint.pt'} "
            f"and no shipped {name}.pt in {weights or weights_dir()}. Train one with `{TRAIN_COMMAND.format(dataset=dataset)}` "
            "(a GPU is advised for EMNIST), or use the shipped MNIST weights with GIN_DATASET=mnist"
        )
    net, provenance = load_shipped(name, weights, dtype, device)
    if provenance["dataset"] != dataset:
        raise ValueError(f"{name}.pt was trained on {provenance['dataset']}, not {dataset}")
    history = provenance.get("history", {})
    return TrainedModel(net, dataset, "shipped", Path(weights or weights_dir()) / provenance["file"], provenance["epochs_done"], history, provenance)
