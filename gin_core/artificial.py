"""The artificial data of §4.3: an n-d Gaussian mixture (n = 2 in the paper) plus 10 - n noise dimensions, mixed non-linearly into 10-d.

References:
    Sorrenson et al. (2020), §4.3.1 and §4.3.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .networks import artificial_gin

__all__ = [
    "GENERATOR_VERSION",
    "REFERENCE_POINTS",
    "VARIANCES",
    "ArtificialData",
    "make_artificial_data",
    "mixing_network",
    "mixing_seed",
]

# Version 2: the mixing network's seed no longer depends on the number of points (version 1 drew
# it after the points, so that 10,000 and 100,000 points of one seed were mixed by different
# networks); samples of REFERENCE_POINTS points are the same in both versions.
GENERATOR_VERSION = 2
REFERENCE_POINTS = 110_000
VARIANCES = ("random", "shared")


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
    """

    x: torch.Tensor
    u: torch.Tensor
    z: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor
    seed: int
    variances: str = "random"
    mixing_points: int = 110_000

    @property
    def n_clusters(self) -> int:
        return self.means.shape[0]

    @property
    def n_informative(self) -> int:
        return self.means.shape[1]

    @property
    def description(self) -> str:
        """How the data were made, e.g. ``artificial(n_clusters=5, n_informative=2, variances=random, n_points=100000,
        seed=0, mixing=v2)`` (recorded in checkpoints: a checkpoint of other data cannot be resumed on these)."""
        mixing = "" if self.mixing_points == REFERENCE_POINTS else f", mixing_points={self.mixing_points}"
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
    g = torch.Generator().manual_seed(int(seed))
    means, stds, u, eps, noise = _draw_latent(g, n_clusters, n_points, n_informative, n_dims)
    if n_points == mixing_points:  # the generator is already where mixing_seed would replay it to
        mix = int(torch.randint(2**31 - 1, (1,), generator=g))
    else:
        mix = mixing_seed(seed, n_clusters, n_informative, n_dims, mixing_points)
    if variances == "shared":
        stds = stds[:1, :1].expand(n_clusters, n_informative).clone()
    z = torch.cat([means[u] + eps * stds[u], noise * noise_std], dim=1)
    with torch.no_grad():
        x, _ = mixing_network(seed=mix)(z)
    return ArtificialData(
        x=x, u=u, z=z, means=means, stds=stds, seed=int(seed), variances=variances, mixing_points=int(mixing_points)
    )
