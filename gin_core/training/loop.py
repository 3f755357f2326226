"""The training loop: epochs of shuffled batches, a learning-rate drop, safe checkpoints and exact resume.

References:
    Sorrenson et al. (2020), §4.3.1, §4.4.1 and Appendix D.1.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from .._checks import check_finite, check_labels
from ..checkpoints import load_checkpoint, save_checkpoint
from ..model import GIN
from .compiled import make_step
from .lock import run_lock
from .optim import default_device, lr_at
from .sampling import epoch_order
from .state import History, RunState, TrainSettings

__all__ = ["train", "as_model", "check_arguments"]


def check_arguments(x, u, n_classes, n_epochs, lr, batch_size, noise, strata) -> None:
    """Check a run's data and settings (as :func:`train` takes them), with errors that name the culprit.

    Arguments:
        x, u: the training data and its labels.
        n_classes: the model's number of conditions.
        n_epochs, lr, batch_size, noise, strata: as :func:`train`.

    Raises:
        TypeError, ValueError: the first argument that is wrong, and why.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating point torch.Tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
    check_finite(x, "x")
    check_labels(u, x.shape[0], n_classes)
    if batch_size < 2 or batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be in [2, {x.shape[0]}] (the data size), got {batch_size}")
    if n_epochs < 0 or lr <= 0 or noise < 0:
        raise ValueError(f"need n_epochs >= 0, lr > 0 and noise >= 0; got {n_epochs}, {lr}, {noise}")
    if strata is not None:
        if not isinstance(strata, torch.Tensor) or strata.dtype != torch.long or tuple(strata.shape) != (x.shape[0],):
            raise ValueError(
                f"strata must be a long tensor of shape ({x.shape[0]},), got {getattr(strata, 'shape', strata)}"
            )
        if int(strata.min()) < 0:
            raise ValueError("strata must be non-negative integers")


def as_model(net: nn.Module, n_classes: int | None, learned_stats: bool) -> GIN:
    """``net`` as the :class:`~gin_core.model.GIN` a run trains: a model is checked, a bare flow is paired with a base.

    Arguments:
        net: a :class:`~gin_core.model.GIN`, or a bare flow.
        n_classes: number of conditions (needed with a bare flow; checked against a model's).
        learned_stats: learned base statistics (checked against a model's).

    Returns:
        The model (``net`` itself if it is one).

    Raises:
        ValueError: the settings disagree with the model, or a bare flow comes without ``n_classes``.
    """
    if isinstance(net, GIN):
        if n_classes is not None and n_classes != net.n_conditions:
            raise ValueError(f"n_classes={n_classes} but the model has {net.n_conditions} conditions")
        if learned_stats != net.learned:
            raise ValueError(f"learned_stats={learned_stats} but the model's base has learned={net.learned}")
        return net
    if n_classes is None:
        raise ValueError("give n_classes (the number of conditions) with a bare flow, or pass a gin_core.GIN model")
    return GIN(net, n_classes, learned=learned_stats)


def _run_epoch(run: RunState, x: torch.Tensor, u: torch.Tensor, strata, bar) -> None:
    """Finish the current epoch: shuffle (unless resumed inside it), step through its batches, log it."""
    s = run.settings
    lr = lr_at(run.epoch, s.lr, s.milestones)
    for group in run.step.optimizer.param_groups:
        group["lr"] = lr
    if run.perm is None:
        run.perm = epoch_order(x.shape[0], strata, run.generator, x.device)
        run.position, run.epoch_sum, run.epoch_count, run.t0 = 0, 0.0, 0, time.perf_counter()
    batch = s.batch_size
    while run.position < x.shape[0] // batch:
        index = run.perm[run.position * batch : (run.position + 1) * batch]
        value = run.step(x[index], u[index], s.noise, run.generator)
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the loss became {value} at epoch {run.epoch + 1}, step {run.position}; lower the learning rate"
            )
        run.epoch_sum, run.epoch_count, run.position = run.epoch_sum + value, run.epoch_count + 1, run.position + 1
        bar.update(1)
        bar.set_postfix(epoch=run.epoch + 1, loss=f"{value:.4f}", refresh=False)
    run.history.loss.append(run.epoch_sum / max(run.epoch_count, 1))
    run.history.lr.append(lr)
    run.history.seconds.append(time.perf_counter() - run.t0)
    run.epoch, run.position, run.perm = run.epoch + 1, 0, None


def train(
    net: nn.Module,
    x: torch.Tensor,
    u: torch.Tensor,
    n_classes: int | None = None,
    n_epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    milestones: tuple[int, ...] = (),
    noise: float = 0.01,
    learned_stats: bool = False,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    device: str | torch.device | None = None,
    progress: bool = True,
    dataset: str | None = None,
    strata: torch.Tensor | None = None,
    fast: bool | str = "auto",
) -> History:
    """Train a GIN model by minimising the class-conditional NLL of its latent codes.

    Each epoch shuffles the data; each step adds Gaussian noise of standard deviation
    ``noise`` to the batch and takes an Adam step on the loss (a step of
    :mod:`gin_core.training.steps`). The learning rate is divided by 10 at each epoch in
    ``milestones`` (the paper's schedule: one drop after convergence).

    With ``checkpoint`` set, the whole state is written atomically every ``checkpoint_every``
    epochs, at the end, and when the run is interrupted (``KeyboardInterrupt``, also raised by
    the command line on SIGTERM). If the file exists, training resumes from it and ends
    exactly as an uninterrupted run would (on CPU, bit for bit); a file written with other
    settings (:class:`~gin_core.training.state.TrainSettings`, or another network) stops with a
    :class:`~gin_core.checkpoints.CheckpointError` naming them. While it trains, the run holds
    the run lock of the checkpoint's folder (:func:`~gin_core.training.lock.run_lock`): a second
    run started into that folder stops at once with a
    :class:`~gin_core.training.lock.LockedError` that names the first (process, host, start
    time, command). The lock is released when the run ends, normally or not.

    Arguments:
        net: a :class:`~gin_core.model.GIN`, or a bare flow (``w, log_det = net(x)``) that is
            paired here with a base of ``n_classes`` conditions; moved to ``device``.
        x: training data, ``(N, ...)`` matching the network's input shape.
        u: integer labels, ``(N,)``.
        n_classes: number of conditions (needed with a bare flow; checked against a model's).
        n_epochs: total number of epochs (including those already done in a checkpoint); required.
        lr: initial learning rate; required.
        batch_size: samples per step (the last, smaller batch of an epoch is dropped); required.
        milestones: epochs at which the learning rate is divided by 10.
        noise: standard deviation of the Gaussian noise added to each batch.
        learned_stats: learn class means and log-stds instead of batch estimates.
        seed: seeds the shuffling and the noise.
        checkpoint: path of the checkpoint file, or ``None``; its folder is locked while the run trains.
        checkpoint_every: epochs between checkpoints.
        device: default :func:`~gin_core.training.optim.default_device`.
        progress: show a progress bar with the loss.
        dataset: name of the data set, recorded in the checkpoint and checked on resume.
        strata: integer stratum of each sample ``(N,)``; if given, each epoch's batches are
            balanced over the strata (:func:`~gin_core.training.sampling.stratified_permutation`)
            instead of plainly shuffled: a remedy for conditions too rare to have two samples in
            every batch.
        fast: ``True`` (compiled step), ``False`` (eager step), or ``"auto"``
            (:func:`gin_core.training.auto.choose`: compiled where it pays for this run's
            steps). A resumed run keeps the step its checkpoint was written with, unless ``fast``
            is given as ``True`` or ``False``. The two agree to float32 rounding, not bit for bit.

    Returns:
        The :class:`~gin_core.training.state.History` of all epochs, resumed ones included, with
        the trained model.

    Raises:
        LockedError: another run holds the checkpoint's folder.

    References:
        Sorrenson et al. (2020), §4.3.1, §4.4.1, Appendix D.1.
    """
    missing = [name for name, v in (("n_epochs", n_epochs), ("lr", lr), ("batch_size", batch_size)) if v is None]
    if missing:
        raise TypeError(f"train() needs {', '.join(missing)}")
    device = torch.device(device) if device is not None else default_device()
    model = as_model(net, n_classes, learned_stats)
    check_arguments(x, u, model.n_conditions, n_epochs, lr, batch_size, noise, strata)
    settings = TrainSettings(
        batch_size=int(batch_size),
        lr=float(lr),
        milestones=tuple(int(m) for m in milestones),
        noise=float(noise),
        seed=int(seed),
        learned_stats=model.learned,
        n_classes=model.n_conditions,
        n_samples=int(x.shape[0]),
        sample_shape=tuple(x.shape[1:]),
        dataset=dataset,
        device_type=device.type,
        strata_sizes=None if strata is None else tuple(torch.bincount(strata).tolist()),
    )
    model.to(device).train()
    if checkpoint is None:
        return _train(model, x, u, strata, settings, n_epochs, None, checkpoint_every, device, progress, fast)
    with run_lock(Path(checkpoint).parent):  # a second run into this folder stops here, naming this one
        return _train(model, x, u, strata, settings, n_epochs, checkpoint, checkpoint_every, device, progress, fast)


def _train(model, x, u, strata, settings, n_epochs, checkpoint, checkpoint_every, device, progress, fast) -> History:
    """The run of :func:`train` once its arguments are checked (and its folder locked): resume, epochs, checkpoints."""
    batch_size, lr = settings.batch_size, settings.lr
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    steps = x.shape[0] // batch_size
    resume = checkpoint is not None and Path(checkpoint).is_file()
    saved = load_checkpoint(checkpoint, map_location=device) if resume else None
    done = min(int(saved["epoch"]) * steps + int(saved["position"]), n_epochs * steps) if saved else 0
    saved_mode = (saved.get("fast") or "eager") if saved is not None else None  # older checkpoints: eager
    shape = (batch_size, *x.shape[1:])
    step = make_step(fast, model, shape, x.dtype, device, lr, n_epochs * steps - done, saved_mode)
    run = RunState(step, generator, settings)
    if saved is not None:
        run.restore(Path(checkpoint), device, saved)

    x, u = x.to(device), u.to(device)
    strata = None if strata is None else strata.to(device)
    bar = tqdm(
        total=n_epochs * steps, initial=done, disable=not progress, desc="train", unit="step", mininterval=1.0,
        file=sys.stdout,
    )  # fmt: skip
    try:
        while run.epoch < n_epochs:
            _run_epoch(run, x, u, strata, bar)
            if checkpoint is not None and (run.epoch % checkpoint_every == 0 or run.epoch == n_epochs):
                save_checkpoint(checkpoint, run.state())
    except KeyboardInterrupt:
        if checkpoint is not None:
            save_checkpoint(checkpoint, run.state())
        raise
    finally:
        bar.close()
    run.history.excluded = step.n_excluded
    run.history.model = model
    run.history.fast = "eager" if getattr(step, "eager", False) else step.mode
    run.history.compile_seconds = step.compile_seconds
    return run.history
