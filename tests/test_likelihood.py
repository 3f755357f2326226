"""Tests of gin_core.likelihood: held-out NLL (change of variables, volume preservation), bits/dim, the noise floor."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from gin_core.distributions import ClassConditionalGaussian
from gin_core.flows import encode
from gin_core.likelihood import bits_per_dim, heldout_nll, noise_floor
from gin_core.networks import artificial_gin


class AffineFlow(nn.Module):
    """w = a * x + b elementwise (log|det J| = sum log a), a toy non-volume-preserving flow."""

    volume_preserving = False

    def __init__(self, a, b):
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=torch.float64))
        self.b = nn.Parameter(torch.as_tensor(b, dtype=torch.float64))
        self.latent_shape = tuple(self.a.shape)

    def forward(self, x):
        return self.a * x + self.b, torch.log(self.a.abs()).sum().expand(x.shape[0])


def gaussian_data(n=600, d=4, n_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.arange(n) % n_classes
    means = torch.randn(n_classes, d, generator=g, dtype=torch.float64) * 3
    stds = torch.rand(n_classes, d, generator=g, dtype=torch.float64) + 0.2
    x = means[u] + stds[u] * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, u


def test_heldout_nll_matches_scipy():
    x, u = gaussian_data()
    identity = AffineFlow(torch.ones(4), torch.zeros(4))
    result = heldout_nll(identity, x[:300], u[:300], x[300:], u[300:], 3)
    mean = torch.stack([x[:300][u[:300] == c].mean(0) for c in range(3)])
    std = torch.stack([x[:300][u[:300] == c].std(0, unbiased=False) for c in range(3)])
    expected = -norm.logpdf(x[300:].numpy(), mean[u[300:]].numpy(), std[u[300:]].numpy()).mean(1)
    np.testing.assert_allclose(result.per_sample.numpy(), expected, rtol=1e-12)
    assert result.nats_per_dim == pytest.approx(expected.mean(), rel=1e-12)
    np.testing.assert_allclose(result.per_class, [expected[u[300:].numpy() == c].mean() for c in range(3)], rtol=1e-12)


def test_change_of_variables_invariance():
    """An affine flow must give the same NLL of x as the identity: the log-det term compensates."""
    x, u = gaussian_data()
    x_train, u_train, x_test, u_test = x[:450], u[:450], x[450:], u[450:]
    identity = heldout_nll(AffineFlow(torch.ones(4), torch.zeros(4)), x_train, u_train, x_test, u_test, 3, noise=0)
    scaled = heldout_nll(
        AffineFlow(torch.tensor([0.1, 2.0, 5.0, 0.7]), torch.tensor([1.0, -2.0, 0.0, 3.0])),
        x_train,
        u_train,
        x_test,
        u_test,
        3,
        noise=0,
    )
    assert identity.nats_per_dim == pytest.approx(scaled.nats_per_dim, abs=1e-10)
    np.testing.assert_allclose(identity.per_class, scaled.per_class, atol=1e-10)
    assert identity.n_fit == 450 and identity.n_eval == 150


def test_volume_preserving_flow_ignores_log_det():
    net = artificial_gin(seed=1, zero_init_last=False).double()
    assert net.volume_preserving
    x, u = gaussian_data(d=10)
    result = heldout_nll(net, x[:450], u[:450], x[450:], u[450:], 3, noise=0)
    w, log_det = encode(net, x)
    assert torch.all(log_det == 0)
    prior = ClassConditionalGaussian(3, 10).double().fit(w[:450], u[:450])
    assert result.nats_per_dim == pytest.approx((-prior.log_prob(w[450:], u[450:]) / 10).mean().item(), rel=1e-12)


def test_units_and_noise_floor():
    assert bits_per_dim(-math.log(255)) == pytest.approx(0.0, abs=1e-12)
    assert bits_per_dim(math.log(2) - math.log(255)) == pytest.approx(1.0)
    nats, bits = noise_floor(0.01)
    assert nats == pytest.approx(0.5 * math.log(2 * math.pi * math.e) + math.log(0.01))
    assert bits == pytest.approx(math.log2(255 * 0.01 * math.sqrt(2 * math.pi * math.e)))
    assert 3.39 < bits < 3.41
    with pytest.raises(ValueError, match="noise > 0"):
        noise_floor(0)


def test_constant_images_reach_the_noise_floor():
    """Images that are constant within a class carry no information but the noise: NLL = floor."""
    n, d = 6000, 8
    u = torch.arange(n) % 2
    x = torch.where(u[:, None] == 0, 0.0, 1.0).expand(n, d).to(torch.float64).contiguous()
    result = heldout_nll(AffineFlow(torch.ones(d), torch.zeros(d)), x, u, x, u, 2, noise=0.01, seed=3)
    assert result.bits_per_dim == pytest.approx(result.floor_bits_per_dim, abs=0.02)
    assert result.floor_bits_per_dim == pytest.approx(noise_floor(0.01)[1])


def test_noise_is_seeded_and_nonnegative():
    net = AffineFlow(torch.ones(3), torch.zeros(3))
    x = torch.zeros(10, 3, dtype=torch.float64)
    w1, _ = encode(net, x, noise=0.1, seed=5)
    w2, _ = encode(net, x, noise=0.1, seed=5)
    w3, _ = encode(net, x, noise=0.1, seed=6)
    assert torch.equal(w1, w2) and not torch.equal(w1, w3)
    assert w1.std().item() == pytest.approx(0.1, rel=0.5)
    with pytest.raises(ValueError, match="noise"):
        encode(net, x, noise=-1)


def test_bad_input_errors():
    x, u = gaussian_data()
    identity = AffineFlow(torch.ones(4), torch.zeros(4))
    with pytest.raises(ValueError, match="fewer than two samples"):
        heldout_nll(identity, x[:4], u[:4], x, u, 3)
    with pytest.raises(ValueError, match="labels u must lie"):
        heldout_nll(identity, x, u, x, u, 2)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        heldout_nll(identity, x, u, x, u, 3, noise=-0.1)
