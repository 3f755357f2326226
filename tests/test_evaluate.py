"""Tests of gin_core.evaluate: class statistics, Gaussian NLL, change of variables, bits/dim and the noise floor."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from gin_core.evaluate import (
    bits_per_dim,
    class_statistics,
    encode_noisy,
    evaluate_nll,
    gaussian_nll,
    noise_floor,
)
from gin_core.networks import artificial_gin


class AffineFlow(nn.Module):
    """w = a * x + b elementwise (log|det J| = sum log a), a toy non-volume-preserving flow."""

    volume_preserving = False

    def __init__(self, a, b):
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=torch.float64))
        self.b = nn.Parameter(torch.as_tensor(b, dtype=torch.float64))

    def forward(self, x):
        return self.a * x + self.b, torch.log(self.a.abs()).sum().expand(x.shape[0])


def gaussian_data(n=600, d=4, n_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.arange(n) % n_classes
    means = torch.randn(n_classes, d, generator=g, dtype=torch.float64) * 3
    stds = torch.rand(n_classes, d, generator=g, dtype=torch.float64) + 0.2
    x = means[u] + stds[u] * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, u


def test_class_statistics_matches_numpy():
    x, u = gaussian_data()
    stats = class_statistics(x, u, 3)
    for c in range(3):
        np.testing.assert_allclose(stats.means[c].numpy(), x[u == c].numpy().mean(0), rtol=1e-12)
        np.testing.assert_allclose(stats.variances[c].numpy(), x[u == c].numpy().var(0), rtol=1e-12)
    assert stats.counts.tolist() == [200, 200, 200]
    assert stats.means.dtype == torch.float64


def test_gaussian_nll_matches_scipy():
    x, u = gaussian_data()
    stats = class_statistics(x[:300], u[:300], 3)
    nll = gaussian_nll(x[300:], u[300:], stats)
    expected = -norm.logpdf(x[300:].numpy(), stats.means[u[300:]].numpy(), stats.stds[u[300:]].numpy()).mean(1)
    np.testing.assert_allclose(nll.numpy(), expected, rtol=1e-12)
    log_det = torch.full((300,), 2.0, dtype=torch.float64)
    np.testing.assert_allclose(gaussian_nll(x[300:], u[300:], stats, log_det).numpy(), expected - 2.0 / 4, rtol=1e-12)


def test_change_of_variables_invariance():
    """An affine flow must give the same NLL of x as the identity: the log-det term compensates."""
    x, u = gaussian_data()
    x_train, u_train, x_test, u_test = x[:450], u[:450], x[450:], u[450:]
    identity = evaluate_nll(AffineFlow(torch.ones(4), torch.zeros(4)), x_train, u_train, x_test, u_test, 3, noise=0)
    scaled = evaluate_nll(
        AffineFlow(torch.tensor([0.1, 2.0, 5.0, 0.7]), torch.tensor([1.0, -2.0, 0.0, 3.0])),
        x_train, u_train, x_test, u_test, 3, noise=0,
    )
    assert identity.nats_per_dim == pytest.approx(scaled.nats_per_dim, abs=1e-10)
    np.testing.assert_allclose(identity.per_class, scaled.per_class, atol=1e-10)
    assert identity.n_train == 450 and identity.n_test == 150


def test_volume_preserving_flow_ignores_log_det():
    net = artificial_gin(seed=1, zero_init_last=False).double()
    assert net.volume_preserving
    x, u = gaussian_data(d=10)
    result = evaluate_nll(net, x[:450], u[:450], x[450:], u[450:], 3, noise=0)
    w, log_det = encode_noisy(net, x, noise=0)
    assert torch.all(log_det == 0)
    stats = class_statistics(w[:450], u[:450], 3)
    assert result.nats_per_dim == pytest.approx(gaussian_nll(w[450:], u[450:], stats).mean().item(), rel=1e-12)


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
    result = evaluate_nll(AffineFlow(torch.ones(d), torch.zeros(d)), x, u, x, u, 2, noise=0.01, seed=3)
    assert result.bits_per_dim == pytest.approx(result.floor_bits_per_dim, abs=0.02)
    assert result.floor_bits_per_dim == pytest.approx(noise_floor(0.01)[1])


def test_noise_is_seeded_and_nonnegative():
    net = AffineFlow(torch.ones(3), torch.zeros(3))
    x = torch.zeros(10, 3, dtype=torch.float64)
    w1, _ = encode_noisy(net, x, noise=0.1, seed=5)
    w2, _ = encode_noisy(net, x, noise=0.1, seed=5)
    w3, _ = encode_noisy(net, x, noise=0.1, seed=6)
    assert torch.equal(w1, w2) and not torch.equal(w1, w3)
    assert w1.std().item() == pytest.approx(0.1, rel=0.5)
    with pytest.raises(ValueError, match="noise"):
        encode_noisy(net, x, noise=-1)


def test_bad_input_errors():
    x, u = gaussian_data()
    with pytest.raises(ValueError, match="fewer than two samples"):
        class_statistics(x[:4], u[:4], 3)
    with pytest.raises(ValueError, match="labels u must lie"):
        class_statistics(x, u, 2)
    with pytest.raises(ValueError, match="zero variance"):
        class_statistics(torch.zeros(6, 2, dtype=torch.float64), torch.arange(6) % 3, 3)
    stats = class_statistics(x, u, 3)
    with pytest.raises(ValueError, match="shape"):
        gaussian_nll(x[:, :3], u, stats)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        gaussian_nll(bad, u, stats)


def test_plot_loss_curve():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gin_core.evaluate import plot_loss_curve

    ax = plot_loss_curve({"loss": [-1.0, -1.5, -1.7], "lr": [1e-3, 1e-3, 1e-4]}, title="t")
    assert ax.get_title() == "t" and len(ax.figure.axes) == 2  # loss and learning-rate axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [-1.0, -1.5, -1.7])
    with pytest.raises(ValueError, match="no epochs"):
        plot_loss_curve({"loss": []})
    plt.close("all")
