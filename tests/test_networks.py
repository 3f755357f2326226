"""Tests of gin_core.networks: the paper's two networks, initialisation, seeding, saving and reloading."""

import pytest
import torch
from torch import nn

from gin_core import AffineCoupling, Permutation, artificial_gin, count_parameters, coupling_flow, emnist_gin
from gin_core.networks import MLP, mlp

from conftest import jacobian_logdet, randomize

BUILDERS = {"fc": artificial_gin, "conv": emnist_gin}
# Random weights of this size keep the networks well conditioned (scales within a few e-folds),
# so that a float32 round trip is a fair test; larger ones make an 8-block network expand
# its input by 1e5 and float32 cannot invert that to 1e-5.
STD = {"fc": 0.1, "conv": 0.03}
SHAPES = {"fc": (10,), "conv": (1, 28, 28)}


def sample(kind: str, n: int, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "fc":
        return (torch.randn(n, 10, generator=g, dtype=torch.float64) * 3).to(dtype)
    return torch.rand(n, 1, 28, 28, generator=g, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("volume_preserving", [True, False])
def test_parameter_counts_match_the_paper(volume_preserving):
    assert count_parameters(artificial_gin(volume_preserving)) == 4_480
    assert count_parameters(emnist_gin(volume_preserving)) == 2_620_192


def test_architectures_follow_tables_2_and_3():
    fc = artificial_gin()
    couplings = [m for m in fc.layers if isinstance(m, AffineCoupling)]
    assert len(couplings) == 8 and sum(isinstance(m, Permutation) for m in fc.layers) == 8
    widths = [layer.out_features for layer in couplings[0].subnet1 if isinstance(layer, nn.Linear)]
    assert couplings[0].subnet1[0].in_features == 5 and widths == [10, 10, 10]

    conv = emnist_gin()
    couplings = [m for m in conv.layers if isinstance(m, AffineCoupling)]
    assert [m.conv for m in couplings] == [True] * 8 + [False] * 2
    assert [m.channels for m in couplings] == [4] * 4 + [16] * 4 + [784] * 2
    assert [layer.out_channels for layer in couplings[0].subnet1 if isinstance(layer, nn.Conv2d)] == [16, 16, 4]
    assert [layer.out_channels for layer in couplings[4].subnet1 if isinstance(layer, nn.Conv2d)] == [32, 32, 16]
    assert [layer.out_features for layer in couplings[8].subnet1 if isinstance(layer, nn.Linear)] == [392, 392, 784]
    assert conv.input_shape == (1, 28, 28) and conv.latent_shape == (784,)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_fresh_network_is_a_permutation(kind):
    net = BUILDERS[kind](seed=3)
    for block in (m for m in net.modules() if isinstance(m, AffineCoupling)):
        layers = [m for m in block.subnet1 if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert torch.count_nonzero(layers[-1].weight) == 0 and torch.count_nonzero(layers[-1].bias) == 0
        assert all(torch.count_nonzero(layer.weight) > 0 for layer in layers[:-1])  # Xavier, not zero
    x = sample(kind, 4)
    w, log_det = net(x)
    assert torch.equal(log_det, torch.zeros(4))
    # a pure rearrangement of each sample's entries
    assert torch.equal(w.sort(dim=1).values, x.flatten(1).sort(dim=1).values)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_paper_networks_round_trip_float32(kind):
    net = randomize(BUILDERS[kind](seed=0), std=STD[kind])
    x = sample(kind, 4 if kind == "conv" else 64)
    w, log_det = net(x)
    assert w.shape == (x.shape[0], 10 if kind == "fc" else 784)
    identity_init = BUILDERS[kind](seed=0)(x)[0]  # same permutations, couplings = identity
    assert (w - identity_init).abs().max() > 0.5, "randomised weights must make the network non-trivial"
    assert torch.equal(log_det, torch.zeros(x.shape[0]))  # GIN: volume preserving, exactly
    assert (net.inverse(w) - x).abs().max() < 1e-5


def test_artificial_network_round_trip_float64_both_variants():
    for volume_preserving in (True, False):
        net = randomize(artificial_gin(volume_preserving, seed=1), std=STD["fc"]).double()
        x = sample("fc", 64, torch.float64)
        w, _ = net(x)
        assert (net.inverse(w) - x).abs().max() < 1e-10


def test_emnist_network_round_trip_float64():
    net = randomize(emnist_gin(seed=1), std=STD["conv"]).double()
    x = sample("conv", 2, torch.float64)
    w, log_det = net(x)
    assert torch.equal(log_det, torch.zeros(2, dtype=torch.float64))
    assert (net.inverse(w) - x).abs().max() < 1e-10


def test_glow_artificial_network_log_det_matches_autograd():
    net = randomize(artificial_gin(volume_preserving=False, seed=2), std=STD["fc"]).double()
    x = sample("fc", 3, torch.float64)
    _, log_det = net(x)
    reference = jacobian_logdet(lambda v: net(v)[0], x)
    assert reference.abs().min() > 0.05
    assert torch.allclose(log_det, reference, atol=1e-10, rtol=0)


def test_gin_artificial_network_jacobian_has_unit_determinant():
    net = randomize(artificial_gin(seed=2), std=STD["fc"]).double()
    x = sample("fc", 3, torch.float64)
    assert jacobian_logdet(lambda v: net(v)[0], x).abs().max() < 1e-10


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_building_never_touches_global_rng(kind):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    BUILDERS[kind](seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_seeds(kind):
    a, b, c = BUILDERS[kind](seed=5), BUILDERS[kind](seed=5), BUILDERS[kind](seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    perms = [k for k in sa if k.endswith(".perm")]
    assert len(perms) == (8 if kind == "fc" else 10)
    assert any(not torch.equal(sa[k], sc[k]) for k in perms)
    hidden = [k for k in sa if k.endswith("subnet1.0.weight")]
    assert any(not torch.equal(sa[k], sc[k]) for k in hidden)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_save_and_reload_gives_identical_outputs(kind, tmp_path):
    net = randomize(BUILDERS[kind](seed=0), std=STD[kind])
    path = tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    other = BUILDERS[kind](seed=1)  # different permutations and weights
    x = sample(kind, 3)
    assert not torch.equal(other(x)[0], net(x)[0])
    other.load_state_dict(torch.load(path, weights_only=True))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    w, _ = net(x)
    assert torch.equal(other(x)[0], w)
    assert torch.equal(other.inverse(w), net.inverse(w))


def test_mlp_computes_the_same_function_as_sequential():
    a = mlp(5, 7, 4).double()
    plain = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 7), nn.ReLU(), nn.Linear(7, 4)).double()
    plain.load_state_dict(a.state_dict())  # same parameter names
    assert isinstance(a, MLP) and isinstance(a, nn.Sequential)
    x = torch.randn(50, 10, dtype=torch.float64)[:, ::2]  # a non-contiguous batch
    assert torch.allclose(a(x), plain(x), atol=1e-13)
    x3 = torch.randn(2, 3, 5, dtype=torch.float64)  # not (batch, features): plain evaluation
    assert torch.allclose(a(x3), plain(x3), atol=1e-13)
    # gradients too
    xa, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
    a(xa).pow(2).sum().backward()
    plain(xp).pow(2).sum().backward()
    assert torch.allclose(xa.grad, xp.grad, atol=1e-12)
    assert all(torch.allclose(p.grad, q.grad, atol=1e-12) for p, q in zip(a.parameters(), plain.parameters()))


def test_coupling_flow_rejects_unknown_block():
    with pytest.raises(ValueError, match="unknown block kind 'dense'; expected 'fc', 'conv', 'down' or 'flatten'"):
        coupling_flow([("dense", {})], (4,))
