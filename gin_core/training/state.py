"""The run's settings (the one checkpoint schema) and its state: what a checkpoint holds.

A checkpoint (format :data:`~gin_core.checkpoints.FORMAT`, version
:data:`~gin_core.checkpoints.VERSION`) is the dictionary :meth:`RunState.state` returns: the
network's constructor settings, the :class:`TrainSettings` as a record, the code commits, the
flow's and the base's weights, the step's optimiser state and mode, the random generator, the
position inside the epoch and the history. Resuming compares the settings and stops with an
error that names each difference.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..checkpoints import FORMAT, VERSION, CheckpointError, code_commit, compare_settings, load_checkpoint, load_state
from ..model import GIN

__all__ = ["TrainSettings", "History", "RunState", "network_record"]


@dataclass(frozen=True)
class TrainSettings:
    """What a run was trained with, as its checkpoint records it and a resume must repeat.

    Attributes:
        batch_size, lr, milestones, noise, seed: the optimisation (§4.3.1, §4.4.1).
        learned_stats: learned base statistics instead of batch statistics.
        n_classes: number of conditions (the checkpoint's key keeps this name).
        n_samples, sample_shape: the training data's size and per-sample shape.
        dataset: a description of the data set, or ``None``.
        device_type: ``"cpu"`` or ``"cuda"``.
        strata_sizes: the strata of balanced batches (``None``: plain shuffling).
    """

    batch_size: int
    lr: float
    milestones: tuple[int, ...]
    noise: float
    seed: int
    learned_stats: bool
    n_classes: int
    n_samples: int
    sample_shape: tuple[int, ...]
    dataset: str | None
    device_type: str
    strata_sizes: tuple[int, ...] | None = None

    def record(self) -> dict:
        """The settings as the checkpoint's ``training`` dictionary (``strata_sizes`` only when used)."""
        record = asdict(self)
        record["milestones"] = list(self.milestones)
        record["sample_shape"] = list(self.sample_shape)
        if self.strata_sizes is None:
            del record["strata_sizes"]
        else:
            record["strata_sizes"] = list(self.strata_sizes)
        return record


@dataclass
class History:
    """What a training run did, epoch by epoch.

    Attributes:
        loss: mean training loss (nats per dimension) of each epoch.
        lr: learning rate of each epoch.
        seconds: wall time of each epoch (of the run that trained it).
        excluded: samples left out of the loss (classes with < 2 samples in a batch).
        model: the trained :class:`~gin_core.model.GIN` (its base holds the learned statistics
            when ``learned_stats=True``).
        fast: the step the run took: ``"eager"``, ``"compiled"`` or ``"channels_last"``.
        compile_seconds: time of the first compiled call in this process (0 if none or reused).
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    excluded: int = 0
    model: GIN | None = field(default=None, repr=False, compare=False)
    fast: str = field(default="eager", compare=False)
    compile_seconds: float = field(default=0.0, compare=False)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict:
        return {"loss": list(self.loss), "lr": list(self.lr), "seconds": list(self.seconds), "excluded": self.excluded}


def network_record(net: nn.Module) -> dict:
    """The constructor settings of ``net`` (``net.config`` for the package's networks) and its volume declaration."""
    record = dict(getattr(net, "config", None) or {"class": type(net).__name__})
    record["volume_preserving"] = bool(net.volume_preserving)
    return record


class RunState:
    """The state of one training run: its step, generator, settings, history and position.

    Arguments:
        step: the run's training step (it holds the model and the optimiser).
        generator: the random generator of shuffling and noise.
        settings: the run's :class:`TrainSettings`.
    """

    def __init__(self, step, generator: torch.Generator, settings: TrainSettings):
        self.step, self.generator, self.settings = step, generator, settings
        self.network = network_record(step.model.flow)
        self.history = History()
        self.commits = [code_commit()]
        self.epoch, self.position, self.perm = 0, 0, None  # epoch, step inside it, its shuffle
        self.epoch_sum, self.epoch_count, self.t0 = 0.0, 0, time.perf_counter()

    def state(self) -> dict:
        """Everything needed to continue exactly where the run is now."""
        self.history.excluded = self.step.n_excluded
        return {
            "format": FORMAT,
            "version": VERSION,
            "gin_core": __version__,
            "network": self.network,
            "training": self.settings.record(),
            "commits": self.commits,
            "net": self.step.model.flow.state_dict(),
            "base": self.step.model.base.state_dict(),
            "optimizer": self.step.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "position": self.position,
            "perm": self.perm,
            "epoch_sum": self.epoch_sum,
            "epoch_count": self.epoch_count,
            "epoch_seconds": time.perf_counter() - self.t0,
            "history": self.history.as_dict(),
            "fast": self.step.mode,
        }

    def restore(self, path: Path, device: torch.device, state: dict | None = None) -> None:
        """Continue from the checkpoint at ``path`` (or its loaded ``state``) after checking its settings.

        Raises:
            CheckpointError: the checkpoint is an ensemble's (:func:`~gin_core.training.train_ensemble`), or
                its settings differ from this run's (each difference named).
        """
        state = state if state is not None else load_checkpoint(path, map_location=device)
        if state.get("kind") is not None:  # a single run's checkpoint has no kind; an ensemble's says "ensemble"
            raise CheckpointError(
                f"{path} is the checkpoint of an {state['kind']} of {state.get('members', '?')} members "
                "(gin_core.training.train_ensemble), not of a single run; resume it with train_ensemble, or give "
                "this run another checkpoint file"
            )
        compare_settings(state["network"], self.network, "network settings", path)
        compare_settings(state["training"], self.settings.record(), "training settings", path)
        model = self.step.model
        load_state(model.flow, state["net"], path)
        load_state(model.base, base_state(state), path)
        self.step.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        saved = state["history"]
        self.history = History(list(saved["loss"]), list(saved["lr"]), list(saved["seconds"]), int(saved["excluded"]))
        self.step.n_excluded = self.history.excluded
        current = self.commits[-1]  # the commit this process runs, read once in __init__
        self.commits = list(state["commits"]) + ([current] if current != state["commits"][-1] else [])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.perm = state["perm"].to(device) if state["perm"] is not None else None
        self.epoch_sum, self.epoch_count = float(state["epoch_sum"]), int(state["epoch_count"])
        self.t0 = time.perf_counter() - float(state["epoch_seconds"])


def base_state(state: dict) -> dict:
    """The base distribution's weights in a checkpoint; version 2 kept them as the loss module's ``prior.*``."""
    if "base" in state:
        return state["base"]
    return {k.removeprefix("prior."): v for k, v in state["criterion"].items()}
