"""The artificial data of §4.3: an n-d Gaussian mixture (n = 2 in the paper) plus 10 - n noise dimensions, mixed into 10-d.

The paper's mixing (``mixing="paper"``, the reproduction) is a randomly initialised GLOW-style
coupling network. It leaves each true variable largely in one coordinate of x, so it barely
tests unmixing; the other mixing families of :data:`MIXINGS` do mix (see :func:`mixing_map`).

References:
    Sorrenson et al. (2020), §4.3.1 and §4.3.2; Hyvärinen & Morioka (2016), §5 (leaky-ReLU MLP
    mixings with condition-number-selected matrices); Khemakhem et al. (2020), §6.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import special_ortho_group
from torch import nn

from .flows import InvertibleSequential
from .networks import artificial_gin

__all__ = [
    "GENERATOR_VERSION",
    "REFERENCE_POINTS",
    "VARIANCES",
    "MIXINGS",
    "ArtificialData",
    "make_artificial_data",
    "mixing_network",
    "mixing_map",
    "mixing_seed",
    "LinearLayer",
    "LeakyReLU",
    "conditioned_matrix",
]

# Version 2: the mixing network's seed no longer depends on the number of points (version 1 drew
# it after the points, so that 10,000 and 100,000 points of one seed were mixed by different
# networks); samples of REFERENCE_POINTS points are the same in both versions.
GENERATOR_VERSION = 2
REFERENCE_POINTS = 110_000
VARIANCES = ("random", "shared")
# "paper": the authors' recipe (the reproduction); "paper_rotated": it, then a Haar-random rotation;
# "mlp1".."mlp4": leaky-ReLU MLPs of that many condition-number-selected square matrices ("mlp1" is
# linear); "volume_preserving": a random GIN (inside GIN's own model class) with large shifts, then a
# Haar rotation (volume preserving too). All but "paper" standardise x (see mixing_map).
MIXINGS = ("paper", "paper_rotated", "mlp1", "mlp2", "mlp3", "mlp4", "volume_preserving")
STANDARDISE_POINTS = 20_000  # the reference sample that standardises x (all mixings but "paper")
VP_GAIN = (
    2.0  # the smallest of 1, 2, 3 whose median raw-coordinate MCC (n = 2) on calibration seeds 100-104 is below 0.8
)


@dataclass
class ArtificialData:
    """Observed data and ground truth of an artificial experiment.

    Attributes:
        x: observed data, ``(N, 10)`` float32.
        u: cluster labels, ``(N,)`` long.
        z: true latent, ``(N, 10)``: ``n_informative`` informative dimensions, then noise dimensions.
        means: cluster means of the informative dimensions, ``(n_clusters, n_informative)``.
        stds: cluster standard deviations of the informative dimensions, ``(n_clusters, n_informative)``.
        seed: the seed that made it.
        variances: ``"random"`` (the paper's) or ``"shared"`` (one isotropic standard deviation
            for every cluster: the negative control, which violates condition (ii) of §3.1).
        mixing_points: the sample size whose generator state picked the mixing network
            (:func:`mixing_seed`).
        mixing: the mixing family (:data:`MIXINGS`).
    """

    x: torch.Tensor
    u: torch.Tensor
    z: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor
    seed: int
    variances: str = "random"
    mixing_points: int = 110_000
    mixing: str = "paper"

    @property
    def n_clusters(self) -> int:
        return self.means.shape[0]

    def subset(self, index) -> ArtificialData:
        """The points ``index`` (a slice or an index tensor) of the same data set: the same means,
        standard deviations, seed and mixing."""
        return dataclasses.replace(self, x=self.x[index], u=self.u[index], z=self.z[index])

    @property
    def n_informative(self) -> int:
        return self.means.shape[1]

    @property
    def description(self) -> str:
        """How the data were made, e.g. ``artificial(n_clusters=5, n_informative=2, variances=random, n_points=100000,
        seed=0, mixing=v2)`` (recorded in checkpoints: a checkpoint of other data cannot be resumed on these)."""
        mixing = "" if self.mixing_points == REFERENCE_POINTS else f", mixing_points={self.mixing_points}"
        if self.mixing != "paper":  # the paper's data keep the description their checkpoints recorded
            mixing += f", mixing={self.mixing}"
        return (
            f"artificial(n_clusters={self.n_clusters}, n_informative={self.n_informative}, variances={self.variances}, "
            f"n_points={len(self.x)}, seed={self.seed}, mixing=v{GENERATOR_VERSION}{mixing})"
        )


def mixing_network(seed: int = 0):
    """The random non-linear mixing f: an 8-block GLOW-style (non-volume-preserving) coupling network.

    Same layout as :func:`~gin_core.networks.artificial_gin`, but every layer is randomly
    initialised (not the identity) and the log-scales are clamped with FrEIA's arctan, as in
    the authors' data generation. Its weights are frozen.

    References:
        Sorrenson et al. (2020), §4.3.1.
    """
    net = artificial_gin(volume_preserving=False, seed=seed, zero_init_last=False, clamp_kind="atan")
    return net.requires_grad_(False).eval()


class LinearLayer(nn.Module):
    """A fixed invertible affine map ``y = x A^T + b`` (a layer of the mixing maps; not trained).

    Arguments:
        matrix: ``A``, ``(d, d)``, invertible.
        bias: ``b``, ``(d,)`` (default zero).
    """

    def __init__(self, matrix: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix must be square, got shape {tuple(matrix.shape)}")
        sign, log_abs_det = torch.linalg.slogdet(matrix)
        if sign == 0:
            raise ValueError("matrix is singular; a mixing layer must be invertible")
        self.register_buffer("matrix", matrix)
        self.register_buffer("bias", torch.zeros(len(matrix), dtype=torch.float64) if bias is None else bias.double())
        self.register_buffer("log_abs_det", log_abs_det)
        self.volume_preserving = bool(abs(float(log_abs_det)) < 1e-9)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = x @ self.matrix.to(x.dtype).T + self.bias.to(x.dtype)
        return y, self.log_abs_det.to(x.dtype).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.linalg.solve(self.matrix.to(y.dtype), (y - self.bias.to(y.dtype)).T).T


class LeakyReLU(nn.Module):
    """The elementwise leaky ReLU ``max(x, slope x)``, inverted exactly (a layer of the MLP mixings)."""

    volume_preserving = False

    def __init__(self, slope: float = 0.2):
        super().__init__()
        if not 0 < slope < 1:
            raise ValueError(f"slope must be in (0, 1) for an invertible leaky ReLU, got {slope}")
        self.slope = float(slope)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        negative = x < 0
        return torch.where(negative, self.slope * x, x), negative.sum(1).to(x.dtype) * float(np.log(self.slope))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.where(y < 0, y / self.slope, y)


def conditioned_matrix(
    n: int, rng: np.random.Generator, percentile: float = 25.0, reference: int = 10_000
) -> np.ndarray:
    """A random square matrix with unit-norm columns whose condition number is below the given percentile.

    The recipe of Hyvärinen & Morioka (2016) for nonlinear-ICA mixings: entries uniform on
    [-1, 1], columns normalised; the threshold is the ``percentile`` of the condition numbers of
    ``reference`` such matrices, and matrices are drawn until one falls below it.

    Arguments:
        n: size.
        rng: NumPy generator.
        percentile: the condition-number percentile (25 in the recipe).
        reference: matrices drawn to set the threshold.

    Returns:
        ``(n, n)`` float64.
    """

    def draw(k: int) -> np.ndarray:
        a = rng.uniform(-1, 1, size=(k, n, n))
        return a / np.sqrt((a**2).sum(axis=1, keepdims=True))

    threshold = np.percentile(np.linalg.cond(draw(reference)), percentile)
    while True:
        a = draw(1)[0]
        if np.linalg.cond(a) < threshold:
            return a


def mixing_map(mixing: str, seed: int, n_dims: int = 10) -> nn.Module:
    """The map ``x = f(z)`` of a mixing family (before standardisation), an invertible flow with frozen weights.

    * ``"paper"``: :func:`mixing_network` (8 random GLOW-style couplings, the authors' recipe);
    * ``"paper_rotated"``: the same followed by a Haar-random rotation (scipy's ``special_ortho_group``),
      so that no coordinate of x is aligned with a true variable;
    * ``"mlp1"`` .. ``"mlp4"``: ``A_L σ(... σ(A_1 z))`` with L = 1..4 square matrices of
      :func:`conditioned_matrix` and σ the leaky ReLU of slope 0.2 (Hyvärinen & Morioka 2016;
      Khemakhem et al. 2020); ``"mlp1"`` is a linear mixing;
    * ``"volume_preserving"``: a randomly initialised GIN (:func:`~gin_core.networks.artificial_gin`
      with its coupling subnetworks' last layers scaled by :data:`VP_GAIN`: large shifts mix the
      halves), then a Haar rotation: volume preserving, so the true inverse lies in GIN's model class
      up to the rotation, which GIN's couplings can only approximate.

    Arguments:
        mixing: one of :data:`MIXINGS`.
        seed: seeds every random choice (the data set's :func:`mixing_seed`).
        n_dims: the dimension (10).

    Returns:
        An :class:`~gin_core.flows.InvertibleSequential` in evaluation mode, no gradients.
    """
    if mixing not in MIXINGS:
        raise ValueError(f"unknown mixing {mixing!r}; expected one of {MIXINGS}")
    if mixing in ("paper", "paper_rotated", "volume_preserving"):
        if mixing == "volume_preserving":
            base = artificial_gin(volume_preserving=True, seed=seed, zero_init_last=False)
            with torch.no_grad():
                for block in base.layers[1::2]:
                    for sub in (block.subnet1, block.subnet2):
                        sub[-1].weight.mul_(VP_GAIN)
                        sub[-1].bias.mul_(VP_GAIN)
        else:
            base = mixing_network(seed)
        layers = list(base.layers)
        if mixing != "paper":
            rotation = special_ortho_group.rvs(n_dims, random_state=np.random.default_rng(seed))
            layers.append(LinearLayer(torch.from_numpy(rotation)))
    else:
        rng = np.random.default_rng(seed)
        depth = int(mixing[3:])
        layers = []
        for i in range(depth):
            layers.append(LinearLayer(torch.from_numpy(conditioned_matrix(n_dims, rng))))
            if i < depth - 1:
                layers.append(LeakyReLU(0.2))
    return InvertibleSequential(layers, (n_dims,)).requires_grad_(False).eval()


def _standardiser(mix: nn.Module, means, stds, seed: int, n_dims: int, noise_std: float) -> LinearLayer:
    """The fixed per-coordinate affine map that gives x mean 0 and std 1 on a reference sample of this process.

    The reference sample (:data:`STANDARDISE_POINTS` points from a generator seeded by ``seed``) depends on
    the data set's seed only, so every sample size of one data set is standardised alike.
    """
    g = torch.Generator().manual_seed(int(seed))
    n, k, size = means.shape[1], means.shape[0], STANDARDISE_POINTS
    u = torch.randint(k, (size,), generator=g)
    eps = torch.randn(size, n, generator=g)
    noise = torch.randn(size, n_dims - n, generator=g) * noise_std
    with torch.no_grad():
        x, _ = mix(torch.cat([means[u] + eps * stds[u], noise], dim=1))
    mean, std = x.double().mean(0), x.double().std(0)
    return LinearLayer(torch.diag(1 / std), -mean / std)


def mixing_seed(
    seed: int, n_clusters: int = 5, n_informative: int = 2, n_dims: int = 10, mixing_points: int = REFERENCE_POINTS
) -> int:
    """The seed of the mixing network of data set ``seed``: the same for every number of points.

    It is the seed that version 1 of the generator drew right after a sample of
    :data:`REFERENCE_POINTS` points (the paper's 100,000 training points plus the book's
    10,000 held-out points), so the logged paper-size data sets are unchanged, while a sample
    of any other size (10,000 points for Fig. 7) is now mixed by the same network. Another
    ``mixing_points`` picks the network that version 1 gave a sample of that size (e.g. 11,000
    points: the 10,000-point data set of the book's first little-data sweep).
    """
    g = torch.Generator().manual_seed(int(seed))
    _draw_latent(g, n_clusters, int(mixing_points), n_informative, n_dims)
    return int(torch.randint(2**31 - 1, (1,), generator=g))


def _draw_latent(g: torch.Generator, n_clusters: int, n_points: int, n_informative: int, n_dims: int):
    """Cluster parameters, labels and latent draws, in the generator's fixed order."""
    means = torch.rand(n_clusters, n_informative, generator=g) * 10 - 5
    stds = torch.rand(n_clusters, n_informative, generator=g) * 2.5 + 0.5
    u = torch.randint(n_clusters, (n_points,), generator=g)
    eps = torch.randn(n_points, n_informative, generator=g)
    noise = torch.randn(n_points, n_dims - n_informative, generator=g)
    return means, stds, u, eps, noise


def make_artificial_data(
    n_clusters: int = 5,
    n_points: int = 100_000,
    seed: int = 0,
    n_informative: int = 2,
    n_dims: int = 10,
    noise_std: float = 0.01,
    variances: str = "random",
    mixing_points: int = REFERENCE_POINTS,
    mixing: str = "paper",
) -> ArtificialData:
    """Sample the artificial data set of §4.3.

    Cluster means are uniform on [-5, 5], cluster standard deviations uniform on [0.5, 3]
    (per informative dimension), labels uniform over clusters; the ``n_dims - n_informative``
    remaining latent dimensions are independent N(0, noise_std^2). The latent ``z`` is mixed
    into ``x = f(z)`` by :func:`mixing_network`. Everything is drawn from generators seeded by
    ``seed``; the global random state is not touched. The cluster parameters and the mixing
    network (:func:`mixing_seed`) do not depend on ``n_points``, so 10,000 and 100,000 points of
    one seed come from the same process (version 2 of the generator; version 1 drew the mixing
    seed after the points; both give the same latents ``z``, and the same ``x`` for samples of
    :data:`REFERENCE_POINTS` points, the size of every logged paper-size run).

    With ``variances="shared"`` every cluster gets the same isotropic standard deviation (one
    draw from [0.5, 3]): the clusters differ only in their means, which violates condition
    (ii) of §3.1 (the negative control of the book's identifiability chapter).

    Arguments:
        n_clusters: number of mixture components (5 in experiment 1, 3 in experiment 2).
        n_points: number of samples (100,000 in the paper; 10,000 for Fig. 7).
        seed: seed of the data and of the mixing network.
        n_informative: informative latent dimensions (2 in the paper).
        n_dims: total dimension (10 in the paper; the mixing network is built for 10).
        noise_std: standard deviation of the noise dimensions (0.01).
        variances: ``"random"`` (the paper) or ``"shared"`` (negative control).
        mixing_points: which mixing network (:func:`mixing_seed`); the default for every sample size.
        mixing: the mixing family (:data:`MIXINGS`, :func:`mixing_map`); every family but
            ``"paper"`` standardises x (a fixed per-coordinate affine map, set on a reference sample
            of the same process), which changes no variable's identifiability.

    Returns:
        An :class:`ArtificialData`.

    References:
        Sorrenson et al. (2020), §4.3.1.
    """
    if n_clusters < 1 or n_points < 1:
        raise ValueError(f"n_clusters and n_points must be positive, got {n_clusters} and {n_points}")
    if n_dims != 10 or not 1 <= n_informative <= n_dims:
        raise ValueError(
            f"the paper's mixing network is 10-d: need n_dims=10 and 1 <= n_informative <= 10, got {n_dims}, {n_informative}"
        )
    if variances not in VARIANCES:
        raise ValueError(f"variances must be one of {VARIANCES}, got {variances!r}")
    if mixing not in MIXINGS:
        raise ValueError(f"mixing must be one of {MIXINGS}, got {mixing!r}")
    g = torch.Generator().manual_seed(int(seed))
    means, stds, u, eps, noise = _draw_latent(g, n_clusters, n_points, n_informative, n_dims)
    if n_points == mixing_points:  # the generator is already where mixing_seed would replay it to
        mix = int(torch.randint(2**31 - 1, (1,), generator=g))
    else:
        mix = mixing_seed(seed, n_clusters, n_informative, n_dims, mixing_points)
    if variances == "shared":
        stds = stds[:1, :1].expand(n_clusters, n_informative).clone()
    z = torch.cat([means[u] + eps * stds[u], noise * noise_std], dim=1)
    f = mixing_network(seed=mix) if mixing == "paper" else mixing_map(mixing, mix, n_dims)
    with torch.no_grad():
        x, _ = f(z)
        if mixing != "paper":
            x = _standardiser(f, means, stds, mix + 1, n_dims, noise_std)(x.double())[0].float()
    return ArtificialData(
        x=x,
        u=u,
        z=z,
        means=means,
        stds=stds,
        seed=int(seed),
        variances=variances,
        mixing_points=int(mixing_points),
        mixing=mixing,
    )
