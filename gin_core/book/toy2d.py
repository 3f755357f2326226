r"""Intuition you can touch: a GIN in two dimensions trained in snapshots, and a small playground.

Two things the chapters use to make training visible:

* **A 2-D toy** (:doc:`gin_from_scratch`). Five conditions :math:`u`, each a Gaussian with its own
  means and standard deviations in the true latent :math:`z \in \mathbb{R}^2`, mixed into
  :math:`x = f(z)` by a bend that preserves area (:func:`make_toy2d`). The flow
  (:func:`make_toy2d_flow`) is a chain of :class:`ShearBlock` s. In two dimensions a GIN coupling
  splits :math:`x` into two halves of one entry each, and one log-scale minus its own mean is zero:
  a GIN coupling can only *shift* one coordinate by a function of the other (the additive coupling of
  NICE). Each block does that twice, along a direction of its own (a fixed rotation before the shifts
  and its inverse after them), so the chain can bend space along many directions, and it can
  stretch one direction while squeezing the other (a product of shears can), but it can never change
  an area. :func:`train_toy2d` trains it with the GIN loss (eq. 7 with batch statistics,
  :func:`gin_core.class_conditional_nll`) and keeps snapshots of the codes :math:`w = g^{-1}(x)` and of
  a square grid of :math:`x`-space mapped to :math:`w`-space; :func:`plot_toy2d` draws them.
* **A playground** (:doc:`artificial_exp1`). :func:`playground_run` trains the GIN of Table 2
  (:func:`gin_core.artificial_gin`) on a few thousand points of the artificial data of §4.3 for a few
  epochs and returns the MCC, the spectrum and a figure; the chapter wires it to widgets.

Everything is seeded with private generators; the global random state is not touched.

References:
    Sorrenson et al. (2020), §3-4 and §4.3; Dinh et al. (2014), NICE (additive couplings).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..artificial import make_artificial_data
from ..flows import encode
from ..loss import class_conditional_nll
from ..metrics import count_informative, latent_spectrum, mcc
from ..networks import artificial_gin
from ..training import train

__all__ = [
    "Toy2DData",
    "make_toy2d",
    "bend",
    "ShearBlock",
    "Toy2DFlow",
    "make_toy2d_flow",
    "Snapshot",
    "ToyRun",
    "train_toy2d",
    "jacobian_dets",
    "plot_toy2d",
    "PlaygroundResult",
    "playground_run",
    "plot_playground",
]

#: the angle of the rotation at the end of the toy's mixing, in radians (30 degrees)
MIX_ANGLE = math.pi / 6


# ---------------------------------------------------------------------------------------------
# The 2-D data


@dataclass
class Toy2DData:
    """A 2-D data set with conditions: observed ``x``, labels ``u``, true latent ``z``.

    Attributes:
        x: observed points ``(N, 2)``, float32.
        u: integer conditions ``(N,)`` in ``[0, n_classes)``.
        z: true latent ``(N, 2)``, float32.
        means, stds: per condition, the means and standard deviations of ``z`` ``(n_classes, 2)``.
    """

    x: torch.Tensor
    u: torch.Tensor
    z: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor

    @property
    def n_classes(self) -> int:
        return len(self.means)


def bend(z: torch.Tensor, angle: float = MIX_ANGLE) -> torch.Tensor:
    r"""The toy's mixing :math:`x = f(z)`: two bends and a rotation, each of which keeps areas.

    :math:`a_2 = z_2 + 1.5 \sin(z_1 / 1.5)` (the second coordinate bent by the first), then
    :math:`a_1 = z_1 + 0.8 \sin(a_2 / 2)`, then a rotation by ``angle``. Each step has Jacobian
    determinant 1, so a volume-preserving flow can undo ``f`` exactly.

    Arguments:
        z: points ``(N, 2)``.
        angle: the final rotation, radians.

    Returns:
        ``x``, ``(N, 2)``, same dtype as ``z``.
    """
    z1, z2 = z[:, 0], z[:, 1]
    a2 = z2 + 1.5 * torch.sin(z1 / 1.5)
    a1 = z1 + 0.8 * torch.sin(a2 / 2)
    c, s = math.cos(angle), math.sin(angle)
    return torch.stack([c * a1 - s * a2, s * a1 + c * a2], dim=1)


def make_toy2d(n_points: int = 2000, n_classes: int = 5, seed: int = 0) -> Toy2DData:
    """Sample the 2-D toy: class-conditional Gaussians in ``z``, bent into ``x`` by :func:`bend`.

    The means lie evenly around a circle of radius 3 (at a random turn), the standard deviations are
    uniform on [0.3, 1], per condition and coordinate; labels are uniform. Five conditions are what Theorem 1 asks for two Gaussian
    variables (:math:`2n + 1`).

    Arguments:
        n_points: number of samples.
        n_classes: number of conditions (at least 1).
        seed: seed of everything drawn.

    Returns:
        A :class:`Toy2DData`.
    """
    if n_points < 2 or n_classes < 1:
        raise ValueError(f"need n_points >= 2 and n_classes >= 1, got {n_points} and {n_classes}")
    g = torch.Generator().manual_seed(int(seed))
    turn = torch.rand(1, generator=g) * 2 * math.pi + torch.arange(n_classes) * 2 * math.pi / n_classes
    means = 3.0 * torch.stack([torch.cos(turn), torch.sin(turn)], dim=1)  # evenly around a circle
    stds = torch.rand(n_classes, 2, generator=g) * 0.7 + 0.3
    u = torch.randint(n_classes, (n_points,), generator=g)
    z = means[u] + stds[u] * torch.randn(n_points, 2, generator=g)
    return Toy2DData(x=bend(z), u=u, z=z, means=means, stds=stds)


# ---------------------------------------------------------------------------------------------
# The 2-D flow


def _mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))


class ShearBlock(nn.Module):
    r"""A 2-D GIN block: two additive couplings along a fixed direction, volume preserving.

    The block rotates its input by :math:`-\theta`, shifts the second coordinate by a function of the
    first and then the first by a function of the new second, :math:`y_2 = x_2 + t_1(x_1)`,
    :math:`y_1 = x_1 + t_2(y_2)`, and rotates back by :math:`\theta`. This is a GIN block in two
    dimensions: with halves of one entry, the zero-sum log-scales are zero, so only the shifts are
    left. Each step has determinant 1. With zero last layers the block is the identity.

    Arguments:
        angle: the direction :math:`\theta` of the shears, radians.
        hidden: width of the two hidden layers of each shift network.
    """

    def __init__(self, angle: float, hidden: int = 32):
        super().__init__()
        self.angle = float(angle)
        self.shift1, self.shift2 = _mlp(hidden), _mlp(hidden)

    def rotation(self, like: torch.Tensor) -> torch.Tensor:
        """The rotation by the block's angle, in the dtype of ``like`` (exactly orthogonal in float64 too)."""
        a = torch.tensor(self.angle, dtype=like.dtype, device=like.device)
        c, s = torch.cos(a), torch.sin(a)
        return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])  # columns: the block's axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x -> w
        rotation = self.rotation(x)
        h = x @ rotation  # coordinates along the block's axes
        h1, h2 = h[:, :1], h[:, 1:]
        h2 = h2 + self.shift1(h1)
        h1 = h1 + self.shift2(h2)
        return torch.cat([h1, h2], dim=1) @ rotation.T

    def inverse(self, w: torch.Tensor) -> torch.Tensor:  # w -> x: the shifts undone in reverse order
        rotation = self.rotation(w)
        h = w @ rotation
        h1, h2 = h[:, :1], h[:, 1:]
        h1 = h1 - self.shift2(h2)
        h2 = h2 - self.shift1(h1)
        return torch.cat([h1, h2], dim=1) @ rotation.T


class Toy2DFlow(nn.Module):
    """A chain of :class:`ShearBlock` s: ``w = flow(x)``, ``x = flow.inverse(w)``; determinant 1 everywhere."""

    def __init__(self, blocks: list[ShearBlock]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def inverse(self, w: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[::-1]:
            w = block.inverse(w)
        return w


def make_toy2d_flow(n_blocks: int = 4, hidden: int = 32, seed: int = 0, start_as_identity: bool = True) -> Toy2DFlow:
    """A :class:`Toy2DFlow` of ``n_blocks`` blocks whose directions are spread over half a turn.

    Arguments:
        n_blocks: number of blocks (each two couplings).
        hidden: width of the shift networks.
        seed: seeds the weights and the offset of the directions.
        start_as_identity: zero the last layer of every shift network, so the flow starts as the
            identity (as the paper's networks do); ``False`` keeps PyTorch's random last layers.

    Returns:
        The flow, float32.
    """
    g = torch.Generator().manual_seed(int(seed))
    offset = float(torch.rand(1, generator=g)) * math.pi
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=g)))
        blocks = [ShearBlock(offset + k * math.pi / n_blocks, hidden) for k in range(n_blocks)]
    if start_as_identity:
        for block in blocks:
            for net in (block.shift1, block.shift2):
                nn.init.zeros_(net[-1].weight), nn.init.zeros_(net[-1].bias)
    return Toy2DFlow(blocks)


def jacobian_dets(flow: nn.Module, points: torch.Tensor) -> np.ndarray:
    """The determinant of the Jacobian of ``flow`` at each point, by autograd in float64.

    Arguments:
        flow: a map of ``(N, 2)`` points: a module (not changed: a float64 copy is differentiated)
            or a function such as :func:`bend`.
        points: ``(N, 2)``.

    Returns:
        ``(N,)`` determinants.
    """
    import copy

    flow64 = copy.deepcopy(flow).double() if isinstance(flow, nn.Module) else flow
    dets = []
    for p in points.double():
        jac = torch.autograd.functional.jacobian(lambda v: flow64(v[None])[0], p)
        dets.append(torch.linalg.det(jac).item())
    return np.array(dets)


# ---------------------------------------------------------------------------------------------
# Training in snapshots


@dataclass
class Snapshot:
    """The state of the toy flow after ``step`` optimiser steps.

    Attributes:
        step: optimiser steps done.
        loss: the GIN loss on all the data (nats per dimension, batch statistics over the whole set).
        mcc: MCC of ``w`` against the true ``z`` (:func:`gin_core.mcc`).
        w: the codes of the plotted points ``(n_shown, 2)``.
        grid: the lines of a square grid in x-space mapped to w-space ``(n_lines, n_per_line, 2)``.
    """

    step: int
    loss: float
    mcc: float
    w: np.ndarray
    grid: np.ndarray


@dataclass
class ToyRun:
    """A trained toy flow, its snapshots and its record.

    Attributes:
        data: the :class:`Toy2DData` it was trained on.
        flow: the trained :class:`Toy2DFlow`.
        losses: the training loss of every step (on its batch).
        snapshots: the :class:`Snapshot` s, in order of steps; the first is before training.
        shown: indices of the plotted points into ``data``.
        seconds: wall time of the training, snapshots included.
        mcc_x: the MCC of the raw coordinates of ``x`` with ``z`` (the flow's starting point).
    """

    data: Toy2DData
    flow: Toy2DFlow
    losses: list[float]
    snapshots: list[Snapshot]
    shown: np.ndarray
    seconds: float
    mcc_x: float = field(default=0.0)


def grid_lines(low: float, high: float, n_lines: int = 13, n_per_line: int = 60) -> np.ndarray:
    """Horizontal and vertical lines of a square grid on [low, high]^2, ``(2 n_lines, n_per_line, 2)``."""
    ticks, along = np.linspace(low, high, n_lines), np.linspace(low, high, n_per_line)
    horizontal = [np.stack([along, np.full_like(along, t)], axis=1) for t in ticks]
    vertical = [np.stack([np.full_like(along, t), along], axis=1) for t in ticks]
    return np.stack(horizontal + vertical).astype(np.float32)


def _snapshot(flow, data, step, shown, lines) -> Snapshot:
    with torch.no_grad():
        w = flow(data.x)
        loss = class_conditional_nll(w, data.u, data.n_classes).item()
        mapped = flow(torch.from_numpy(lines.reshape(-1, 2))).numpy().reshape(lines.shape)
    return Snapshot(step, loss, mcc(data.z.numpy(), w.numpy()), w[shown].numpy(), mapped)


def train_toy2d(
    data: Toy2DData,
    n_steps: int = 600,
    n_snapshots: int = 6,
    lr: float = 3e-3,
    batch_size: int = 500,
    n_blocks: int = 4,
    hidden: int = 32,
    seed: int = 0,
    n_shown: int = 1000,
    drop_at: int | None = None,
) -> ToyRun:
    """Train a :func:`make_toy2d_flow` on the toy with Adam and the GIN loss, keeping snapshots.

    Each step draws a batch, encodes it, ``w = flow(x)``, and takes an Adam step on
    :func:`gin_core.class_conditional_nll` with batch statistics (no log-determinant: it is zero).
    Snapshots are taken before training and after steps spread so that early changes are seen
    (quadratically spaced), the last after ``n_steps``.

    Arguments:
        data: the training data (:func:`make_toy2d`).
        n_steps: optimiser steps.
        n_snapshots: snapshots, at least 2 (before and after training).
        lr: Adam's learning rate.
        batch_size: points per step (at most the data's size).
        n_blocks, hidden: the flow (:func:`make_toy2d_flow`).
        seed: seeds the flow and the batches.
        n_shown: points kept in each snapshot for plotting.
        drop_at: the step from which the learning rate is divided by 10 (default: after two thirds
            of the steps; ``0`` for never).

    Returns:
        A :class:`ToyRun`.
    """
    if n_snapshots < 2 or n_steps < n_snapshots - 1:
        raise ValueError(f"need n_snapshots >= 2 and n_steps >= n_snapshots - 1, got {n_snapshots}, {n_steps}")
    t0 = time.perf_counter()
    drop_at = round(2 * n_steps / 3) + 1 if drop_at is None else drop_at
    flow = make_toy2d_flow(n_blocks, hidden, seed)
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    g = torch.Generator().manual_seed(int(seed) + 1)
    n = len(data.x)
    batch_size = min(batch_size, n)
    shown = torch.randperm(n, generator=g)[: min(n_shown, n)].numpy()
    low, high = float(data.x.min()), float(data.x.max())
    lines = grid_lines(low, high)
    fractions = np.linspace(0, 1, n_snapshots) ** 2
    at = sorted(set(np.round(fractions * n_steps).astype(int).tolist()))
    snapshots, losses = [_snapshot(flow, data, 0, shown, lines)], []
    for step in range(1, n_steps + 1):
        if step == drop_at:  # one 10x drop of the learning rate, as in the paper's schedule
            optimizer.param_groups[0]["lr"] = lr / 10
        batch = torch.randperm(n, generator=g)[:batch_size]
        loss = class_conditional_nll(flow(data.x[batch]), data.u[batch], data.n_classes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in at:
            snapshots.append(_snapshot(flow, data, step, shown, lines))
    mcc_x = mcc(data.z.numpy(), data.x.numpy())
    return ToyRun(data, flow, losses, snapshots, shown, time.perf_counter() - t0, mcc_x)


def plot_toy2d(run: ToyRun, title: str = ""):
    """One panel per snapshot: the codes ``w`` (colour: condition) and the image of a square x-grid.

    Arguments:
        run: a :class:`ToyRun`.
        title: the figure's title.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    snaps = run.snapshots
    n_cols = min(3, len(snaps))
    n_rows = -(-len(snaps) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.0 * n_cols, 3.1 * n_rows), constrained_layout=True, squeeze=False
    )
    u = run.data.u.numpy()[run.shown]
    for ax in axes.flat[len(snaps) :]:
        ax.axis("off")
    for ax, snap in zip(axes.flat, snaps):
        for line in snap.grid:
            ax.plot(line[:, 0], line[:, 1], color="0.75", lw=0.5, zorder=0)
        ax.scatter(snap.w[:, 0], snap.w[:, 1], c=u, cmap="tab10", vmin=0, vmax=9, s=3, alpha=0.7, lw=0)
        ax.set_title(f"step {snap.step}\nloss {snap.loss:.3f}, MCC {snap.mcc:.3f}", fontsize=8)
        ax.set_xlabel("$w_1$", fontsize=8)
        ax.set_ylabel("$w_2$", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_aspect("equal", adjustable="datalim")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------------
# The playground


@dataclass
class PlaygroundResult:
    """What one playground run measured.

    Attributes:
        mcc: MCC of the held-out codes ``w`` against the two true variables.
        mcc_x: the same score for the raw coordinates of ``x`` (no training).
        n_informative: variables above twice the median of the spectrum (the book's knee rule).
        spectrum: the sorted standard deviations of ``w`` (:func:`gin_core.latent_spectrum`).
        losses: the training loss of every epoch.
        seconds: wall time of data, training and evaluation.
        settings: the arguments of the run.
        figure: the run's figure (:func:`plot_playground`).
    """

    mcc: float
    mcc_x: float
    n_informative: int
    spectrum: np.ndarray
    losses: list[float]
    seconds: float
    settings: dict
    figure: object = None


def playground_run(
    n_clusters: int = 5,
    variances: str = "random",
    lr: float = 1e-2,
    n_points: int = 3000,
    n_val: int = 1000,
    n_epochs: int = 6,
    batch_size: int = 250,
    seed: int = 0,
    figure: bool = True,
) -> PlaygroundResult:
    """Train the GIN of Table 2 on a small sample of the artificial data of §4.3 and score it.

    The data are :func:`gin_core.make_artificial_data` (two informative variables, eight noise
    variables, mixed into 10-d ``x``); the network is :func:`gin_core.artificial_gin` (4,480
    parameters, starting as a permutation); training is :func:`gin_core.train` with Adam, noise 0.01
    and no learning-rate drop. The score is taken on ``n_val`` held-out points of the same draw.

    Arguments:
        n_clusters: conditions (the theory asks for 5 with two Gaussian variables).
        variances: ``"random"`` (every cluster its own standard deviations, the paper) or
            ``"shared"`` (one standard deviation for all: the clusters differ only in their means).
        lr: Adam's learning rate.
        n_points, n_val: training and held-out points.
        n_epochs: epochs.
        batch_size: points per step.
        seed: seeds the data, the network, the shuffling and the noise.
        figure: whether to draw the figure (:func:`plot_playground`).

    Returns:
        A :class:`PlaygroundResult`.
    """
    t0 = time.perf_counter()
    settings = dict(n_clusters=int(n_clusters), variances=variances, lr=float(lr), n_points=int(n_points),
                    n_val=int(n_val), n_epochs=int(n_epochs), batch_size=int(batch_size), seed=int(seed))  # fmt: skip
    data = make_artificial_data(n_clusters=n_clusters, n_points=n_points + n_val, seed=seed, variances=variances)
    x, u, z = data.x[:n_points], data.u[:n_points], data.z
    net = artificial_gin(seed=seed)
    history = train(net, x, u, n_clusters, n_epochs=n_epochs, lr=lr, batch_size=batch_size, seed=seed,
                    device="cpu", progress=False, fast=False)  # fmt: skip
    net.eval()
    w = encode(net, data.x[n_points:])[0].numpy()
    u_val, z_val = data.u[n_points:].numpy(), z[n_points:, :2].numpy()
    spectrum = latent_spectrum(w, u_val)
    result = PlaygroundResult(
        mcc=mcc(z_val, w),
        mcc_x=mcc(z_val, data.x[n_points:].numpy()),
        n_informative=count_informative(spectrum, "plateau", factor=2.0),
        spectrum=spectrum.std,
        losses=[float(v) for v in history.loss],
        seconds=0.0,
        settings=settings,
    )
    if figure:
        result.figure = plot_playground(result, w[:, spectrum.order[:2]], u_val)
    result.seconds = time.perf_counter() - t0
    return result


def plot_playground(result: PlaygroundResult, w_top: np.ndarray, u: np.ndarray):
    """Two panels: the two widest estimated variables (colour: condition) and the spectrum with the knee rule.

    Arguments:
        result: a :class:`PlaygroundResult` (its figure is not set here).
        w_top: held-out codes of the two widest variables ``(N, 2)``.
        u: their conditions ``(N,)``.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    s = result.settings
    fig, (ax_w, ax_s) = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    ax_w.scatter(w_top[:, 0], w_top[:, 1], c=u, cmap="tab10", vmin=0, vmax=9, s=3, alpha=0.6, lw=0)
    ax_w.set(xlabel="widest $w$", ylabel="second widest $w$", title=f"held-out codes; MCC {result.mcc:.3f}")
    k = np.arange(1, len(result.spectrum) + 1)
    ax_s.semilogy(k, result.spectrum, "o-", color="black")
    ax_s.axhline(2 * np.median(result.spectrum), color="0.6", ls="--", label="twice the median")
    ax_s.set(xlabel="variable (sorted)", ylabel="standard deviation", xticks=k,
             title=f"spectrum: {result.n_informative} above the line")  # fmt: skip
    ax_s.legend(fontsize=8)
    fig.suptitle(
        f"{s['n_clusters']} clusters, {s['variances']} variances, lr {s['lr']:g}, "
        f"{s['n_points']:,} points, {s['n_epochs']} epochs",
        fontsize=9,
    )
    return fig
