"""Tests of gin_core.model.GIN: the flow paired with its base, float64 checks of log_prob, sample, encode, decode."""

import math

import pytest
import torch

from gin_core import GIN, artificial_gin, class_conditional_nll, emnist_gin, make_artificial_data
from gin_core.distributions import ClassConditionalGaussian


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(n_clusters=3, n_points=900, seed=0)


def random_model(volume_preserving=True, learned=False):
    net = artificial_gin(volume_preserving=volume_preserving, seed=1, zero_init_last=False).double()
    return GIN(net, 3, learned=learned).double()


@pytest.mark.parametrize("volume_preserving", [True, False], ids=["gin", "glow"])
def test_log_prob_is_the_change_of_variables(data, volume_preserving):
    model = random_model(volume_preserving)
    x, u = data.x.double(), data.u
    model.fit_base(x, u)
    w, log_det = model.flow(x)
    base = ClassConditionalGaussian(3, 10).double().fit(w.detach(), u)
    expected = base.log_prob(w.detach(), u) + (0 if volume_preserving else log_det.detach())
    torch.testing.assert_close(model.log_prob(x, u), expected, rtol=0, atol=1e-10)
    assert model.volume_preserving is volume_preserving
    if volume_preserving:  # GIN: log_det is exactly zero, the density of x is the density of its code
        assert torch.equal(log_det, torch.zeros_like(log_det))


def test_encode_and_decode_are_inverse_and_sample_decodes_the_base(data):
    model = random_model()
    x, u = data.x.double(), data.u
    w = model.encode(x)
    assert w.shape == (900, 10)
    assert (model.decode(w) - x).abs().max() < 1e-10
    model.fit_base(x, u)
    at_mean = model.sample(torch.tensor([0, 2]), temperature=0.0)
    torch.testing.assert_close(at_mean, model.decode(model.base.means[[0, 2]]))
    g = torch.Generator().manual_seed(0)
    draws = model.sample(torch.zeros(4000, dtype=torch.long), generator=g)
    codes = model.encode(draws)
    torch.testing.assert_close(codes.mean(0), model.base.means[0], atol=0.15, rtol=0)


def test_loss_is_the_one_loss_of_the_codes(data):
    model = random_model(volume_preserving=False)
    x, u = data.x[:300].double(), data.u[:300]
    w, log_det = model.flow(x)
    assert model.loss(x, u).item() == pytest.approx(class_conditional_nll(w, u, 3, log_det).item(), abs=1e-14)
    learned = random_model(learned=True)
    with torch.no_grad():
        learned.base.means.normal_()
    w, _ = learned.flow(x)
    expected = -learned.base.log_prob(w, u).mean().item() / 10
    assert learned.loss(x, u).item() == pytest.approx(expected, abs=1e-13)


def test_batch_statistics_base_is_float64_and_must_be_fitted(data):
    model = GIN(artificial_gin(seed=0), 3)
    assert model.base.means.dtype == torch.float64 and not model.learned
    with pytest.raises(ValueError, match="has not been fitted: call fit"):
        model.log_prob(data.x[:10], data.u[:10])
    with pytest.raises(ValueError, match="fit\\(\\) sets batch statistics"):
        GIN(artificial_gin(seed=0), 3, learned=True).fit_base(data.x, data.u)


def test_bad_input_gets_clear_errors(data):
    model = random_model()
    with pytest.raises(ValueError, match=r"labels u must lie in \[0, 3\)"):
        model.loss(data.x[:10].double(), data.u[:10] + 3)
    with pytest.raises(ValueError, match=r"labels u must have shape \(10,\)"):
        model.fit_base(data.x[:10].double(), data.u[:9])
    with pytest.raises(ValueError, match=r"codes must have shape \(N, 10\)"):
        model.decode(torch.zeros(4, 9))
    with pytest.raises(ValueError, match="no class has two or more samples"):
        model.loss(data.x[:3].double(), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="must declare volume_preserving"):
        GIN(torch.nn.Linear(2, 2), 2)


def test_the_image_model_decodes_to_images():
    model = GIN(emnist_gin(seed=0), 10)
    x = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    w = model.encode(x, batch_size=7)
    assert w.shape == (20, 784) and model.n_dims == 784 == math.prod(model.flow.latent_shape)
    assert (model.decode(w, batch_size=6) - x).abs().max() < 1e-4
