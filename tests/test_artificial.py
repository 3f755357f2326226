"""Tests of gin_core.artificial: the statistics of the §4.3 data and its mixing network."""

import pytest
import torch

from gin_core import AffineCoupling, count_parameters, make_artificial_data, mixing_network
from gin_core.artificial import REFERENCE_POINTS, mixing_seed


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(n_clusters=5, n_points=20_000, seed=0)


def test_shapes_and_dtypes(data):
    assert data.x.shape == (20_000, 10) and data.x.dtype == torch.float32
    assert data.z.shape == (20_000, 10) and data.u.shape == (20_000,) and data.u.dtype == torch.long
    assert data.means.shape == (5, 2) and data.stds.shape == (5, 2)
    assert data.n_clusters == 5 and data.seed == 0
    assert torch.isfinite(data.x).all()


def test_cluster_parameters_lie_in_the_stated_ranges():
    for seed in range(20):
        d = make_artificial_data(n_clusters=5, n_points=10, seed=seed)
        assert d.means.min() >= -5 and d.means.max() <= 5
        assert d.stds.min() >= 0.5 and d.stds.max() <= 3
    spread = torch.cat([make_artificial_data(5, 10, seed=s).means.flatten() for s in range(40)])
    assert spread.min() < -4 and spread.max() > 4  # uniform over the whole range, not a corner of it


def test_latent_statistics_match_the_cluster_parameters(data):
    for c in range(5):
        members = data.z[data.u == c]
        assert torch.allclose(members[:, :2].mean(0), data.means[c], atol=0.15)
        assert torch.allclose(members[:, :2].std(0), data.stds[c], rtol=0.05)
    noise = data.z[:, 2:]
    assert torch.allclose(noise.std(0), torch.full((8,), 0.01), rtol=0.05)
    assert noise.mean(0).abs().max() < 0.001


def test_labels_are_balanced(data):
    shares = torch.bincount(data.u, minlength=5).double() / len(data.u)
    assert torch.allclose(shares, torch.full((5,), 0.2, dtype=torch.float64), atol=0.015)


def test_reproducible_by_seed_and_different_for_other_seeds():
    a, b, c = (make_artificial_data(3, 500, seed=s) for s in (4, 4, 5))
    for name in ("x", "u", "z", "means", "stds"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.means, c.means) and not torch.equal(a.x, c.x)


def test_global_rng_untouched():
    state = torch.random.get_rng_state()
    make_artificial_data(3, 100, seed=0)
    assert torch.equal(state, torch.random.get_rng_state())


def test_mixing_is_a_random_nonlinear_glow_network():
    net = mixing_network(seed=3)
    assert not net.volume_preserving and not net.training
    assert count_parameters(net) == 0  # frozen: nothing to train
    assert sum(p.numel() for p in net.parameters()) == 4_480
    couplings = [m for m in net.modules() if isinstance(m, AffineCoupling)]
    assert len(couplings) == 8 and all(m.clamp_kind == "atan" for m in couplings)
    assert all(torch.count_nonzero(list(m.subnet1.parameters())[-2]) > 0 for m in couplings)  # not identity-initialised
    z = torch.randn(200, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net = net.double()
    x, log_det = net(z)
    assert log_det.abs().min() > 1e-3  # changes volume
    assert (net.inverse(x) - z).abs().max() < 1e-10
    # non-linear: a least-squares affine map from z explains x only partly
    design = torch.cat([z, torch.ones(200, 1, dtype=torch.float64)], dim=1)
    residual = x - design @ torch.linalg.lstsq(design, x).solution
    assert (residual.var(0) / x.var(0)).max() > 0.05
    assert not torch.equal(mixing_network(seed=3).layers[0].perm, mixing_network(seed=4).layers[0].perm)


def test_observed_data_is_the_mixed_latent(data):
    """x is not z: the informative directions are spread over all 10 observed dimensions."""
    corr = torch.corrcoef(torch.cat([data.z[:, :2], data.x], dim=1).T)[:2, 2:].abs()
    assert (corr > 0.1).sum() > 2
    assert data.x.std(0).min() > 0.01 * 2  # noise dimensions mixed with the informative ones


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_clusters": 0}, "n_clusters and n_points must be positive, got 0 and 100"),
        ({"n_points": 0}, "n_clusters and n_points must be positive, got 5 and 0"),
        ({"n_dims": 12}, "the paper's mixing network is 10-d: need n_dims=10"),
        ({"n_informative": 11}, "1 <= n_informative <= 10"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"n_clusters": 5, "n_points": 100, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_artificial_data(**args)


def _version_1(n_clusters, n_points, seed):
    """Generator version 1, written out: the mixing seed drawn after the points."""
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n_clusters, 2, generator=g) * 10 - 5
    stds = torch.rand(n_clusters, 2, generator=g) * 2.5 + 0.5
    u = torch.randint(n_clusters, (n_points,), generator=g)
    z = torch.cat(
        [means[u] + torch.randn(n_points, 2, generator=g) * stds[u], torch.randn(n_points, 8, generator=g) * 0.01], 1
    )
    with torch.no_grad():
        return mixing_network(seed=int(torch.randint(2**31 - 1, (1,), generator=g)))(z)[0], z


def test_generator_v2_keeps_paper_size_data():
    # every logged paper-size sweep drew 100,000 training + 10,000 held-out points: unchanged data
    for n_clusters in (5, 3):
        x1, z1 = _version_1(n_clusters, REFERENCE_POINTS, seed=2)
        data = make_artificial_data(n_clusters, REFERENCE_POINTS, seed=2)
        assert torch.equal(data.x, x1) and torch.equal(data.z, z1)


def test_mixing_does_not_depend_on_the_number_of_points():
    small, large = make_artificial_data(5, 1_000, seed=7), make_artificial_data(5, 30_000, seed=7)
    assert torch.equal(small.means, large.means) and torch.equal(small.stds, large.stds)
    mix = mixing_network(seed=mixing_seed(7, 5))
    with torch.no_grad():
        assert torch.equal(mix(small.z)[0], small.x) and torch.equal(mix(large.z)[0], large.x)
    assert mixing_seed(7, 5) != mixing_seed(8, 5)
    # version 1 mixed the 1,000 points with another network: the reason for version 2
    assert not torch.equal(_version_1(5, 1_000, seed=7)[0], small.x)


def test_more_informative_variables_and_shared_variances():
    data = make_artificial_data(9, 20_000, seed=1, n_informative=4)
    assert data.n_informative == 4 and data.means.shape == (9, 4) and data.z.shape == (20_000, 10)
    assert torch.allclose(data.z[:, 4:].std(0), torch.full((6,), 0.01), rtol=0.05)
    shared = make_artificial_data(5, 20_000, seed=1, variances="shared")
    assert torch.equal(shared.stds, shared.stds[0, 0].expand(5, 2))
    for c in range(5):
        assert torch.allclose(shared.z[shared.u == c, :2].std(0), shared.stds[c], rtol=0.05)
    assert "variances=shared" in shared.description and "n_informative=2" in shared.description
    with pytest.raises(ValueError, match="variances must be one of"):
        make_artificial_data(5, 10, variances="equal")


def test_mixing_points_recovers_a_version_1_data_set():
    # the 10,000 + 1,000 points of the book's first little-data sweep (generator version 1)
    x1, z1 = _version_1(5, 11_000, seed=5)
    data = make_artificial_data(5, 11_000, seed=5, mixing_points=11_000)
    assert torch.equal(data.x, x1) and torch.equal(data.z, z1)
    assert "mixing_points=11000" in data.description
    assert "mixing_points" not in make_artificial_data(5, 100, seed=5).description


def test_subset_keeps_the_data_set_and_takes_the_points():
    data = make_artificial_data(3, 50, seed=1)
    part = data.subset(slice(10, 20))
    assert (
        torch.equal(part.x, data.x[10:20]) and torch.equal(part.u, data.u[10:20]) and torch.equal(part.z, data.z[10:20])
    )
    assert part.description.replace("n_points=10", "") == data.description.replace("n_points=50", "")
    assert torch.equal(part.means, data.means) and part.seed == data.seed
