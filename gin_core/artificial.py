"""The artificial data of §4.3: a 2-d Gaussian mixture plus 8 noise dimensions, mixed non-linearly into 10-d.

References:
    Sorrenson et al. (2020), §4.3.1 and §4.3.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .networks import artificial_gin

__all__ = ["ArtificialData", "make_artificial_data", "mixing_network"]


@dataclass
class ArtificialData:
    """Observed data and ground truth of an artificial experiment.

    Attributes:
        x: observed data, ``(N, 10)`` float32.
        u: cluster labels, ``(N,)`` long.
        z: true latent, ``(N, 10)``: 2 informative dimensions then 8 noise dimensions.
        means: cluster means of the informative dimensions, ``(n_clusters, 2)``.
        stds: cluster standard deviations of the informative dimensions, ``(n_clusters, 2)``.
        seed: the seed that made it.
    """

    x: torch.Tensor
    u: torch.Tensor
    z: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor
    seed: int

    @property
    def n_clusters(self) -> int:
        return self.means.shape[0]

    @property
    def description(self) -> str:
        """How the data were made, e.g. ``artificial(n_clusters=5, n_points=100000, seed=0)`` (recorded in checkpoints)."""
        return f"artificial(n_clusters={self.n_clusters}, n_points={len(self.x)}, seed={self.seed})"


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


def make_artificial_data(
    n_clusters: int = 5,
    n_points: int = 100_000,
    seed: int = 0,
    n_informative: int = 2,
    n_dims: int = 10,
    noise_std: float = 0.01,
) -> ArtificialData:
    """Sample the artificial data set of §4.3.

    Cluster means are uniform on [-5, 5], cluster standard deviations uniform on [0.5, 3]
    (per informative dimension), labels uniform over clusters; the ``n_dims - n_informative``
    remaining latent dimensions are independent N(0, noise_std^2). The latent ``z`` is mixed
    into ``x = f(z)`` by :func:`mixing_network`. Everything is drawn from generators seeded by
    ``seed``; the global random state is not touched. The cluster parameters depend on ``seed``
    alone, but the mixing network's seed is drawn after the points, so the same ``seed`` with
    another ``n_points`` gives the same clusters under a different mixing network (the logged
    sweeps in ``bench/results`` were made this way, so it is kept).

    Arguments:
        n_clusters: number of mixture components (5 in experiment 1, 3 in experiment 2).
        n_points: number of samples (100,000 in the paper; 10,000 for Fig. 7).
        seed: seed of the data and of the mixing network.
        n_informative: informative latent dimensions (2 in the paper).
        n_dims: total dimension (10 in the paper; the mixing network is built for 10).
        noise_std: standard deviation of the noise dimensions (0.01).

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
    g = torch.Generator().manual_seed(int(seed))
    means = torch.rand(n_clusters, n_informative, generator=g) * 10 - 5
    stds = torch.rand(n_clusters, n_informative, generator=g) * 2.5 + 0.5
    u = torch.randint(n_clusters, (n_points,), generator=g)
    informative = means[u] + torch.randn(n_points, n_informative, generator=g) * stds[u]
    noise = torch.randn(n_points, n_dims - n_informative, generator=g) * noise_std
    z = torch.cat([informative, noise], dim=1)
    with torch.no_grad():
        x, _ = mixing_network(seed=int(torch.randint(2**31 - 1, (1,), generator=g)))(z)
    return ArtificialData(x=x, u=u, z=z, means=means, stds=stds, seed=int(seed))
