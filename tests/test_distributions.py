"""Tests of gin_core.distributions: the class-conditional Gaussian (fit, log_prob, sample), float64."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gin_core.distributions import HALF_LOG_2PI, ClassConditionalGaussian, class_statistics
from gin_core.loss import nll_terms


def gaussian_data(n=600, d=4, n_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.arange(n) % n_classes
    means = torch.randn(n_classes, d, generator=g, dtype=torch.float64) * 3
    stds = torch.rand(n_classes, d, generator=g, dtype=torch.float64) + 0.2
    return means[u] + stds[u] * torch.randn(n, d, generator=g, dtype=torch.float64), u, means, stds


def test_class_statistics_matches_numpy():
    w, u, _, _ = gaussian_data()
    means, variances, counts = class_statistics(w, u, 4)  # class 3 is empty
    for c in range(3):
        np.testing.assert_allclose(means[c].numpy(), w[u == c].numpy().mean(0), rtol=1e-12)
        np.testing.assert_allclose(variances[c].numpy(), w[u == c].numpy().var(0), rtol=1e-12)
    assert counts.tolist() == [200, 200, 200, 0] and means[3].abs().sum() == 0


def test_fit_and_log_prob_match_scipy():
    w, u, _, _ = gaussian_data()
    prior = ClassConditionalGaussian(3, 4).double().fit(w[:300], u[:300])
    means, variances, _ = class_statistics(w[:300], u[:300], 3)
    torch.testing.assert_close(prior.means, means, rtol=0, atol=0)
    torch.testing.assert_close(prior.stds, variances.sqrt(), rtol=1e-14, atol=0)
    expected = norm.logpdf(w[300:].numpy(), means[u[300:]].numpy(), variances.sqrt()[u[300:]].numpy()).sum(1)
    np.testing.assert_allclose(prior.log_prob(w[300:], u[300:]).numpy(), expected, rtol=1e-12)


def test_batch_statistics_loss_is_the_log_prob_under_the_batch_statistics():
    """With the batch's own statistics the quadratic term is constant: the loss's closed form equals the full NLL."""
    w, u, _, _ = gaussian_data(n=90)
    w = w.requires_grad_()
    loss, n_used = nll_terms(w, u, 3)
    full = -ClassConditionalGaussian(3, 4).double().fit(w.detach(), u).log_prob(w.detach(), u).mean() / 4
    assert int(n_used) == 90 and loss.item() == pytest.approx(full.item(), abs=1e-13)
    loss.backward()
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_sample_follows_the_fitted_statistics():
    w, u, means, stds = gaussian_data(n=30_000)
    prior = ClassConditionalGaussian(3, 4).double().fit(w, u)
    labels = torch.arange(3).repeat(20_000)
    s = prior.sample(labels, generator=torch.Generator().manual_seed(0))
    for c in range(3):
        torch.testing.assert_close(s[labels == c].mean(0), means[c], atol=0.06, rtol=0)
        torch.testing.assert_close(s[labels == c].std(0), stds[c], atol=0.04, rtol=0.03)
    torch.testing.assert_close(prior.sample(labels[:5], temperature=0.0), prior.means[labels[:5]])
    half = prior.sample(labels, temperature=0.5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(half - prior.means[labels], 0.5 * (s - prior.means[labels]))


def test_sample_with_chosen_dims_and_shared_noise():
    w, u, _, _ = gaussian_data()
    prior = ClassConditionalGaussian(3, 4).double().fit(w, u)
    labels = torch.tensor([0, 1, 2])
    s = prior.sample(labels, dims=torch.tensor([1, 3]), generator=torch.Generator().manual_seed(1))
    assert torch.equal(s[:, [0, 2]], prior.means[labels][:, [0, 2]]) and not torch.equal(
        s[:, 1], prior.means[labels][:, 1]
    )
    eps = torch.ones(3, 4, dtype=torch.float64)
    torch.testing.assert_close(prior.sample(labels, 2.0, noise=eps), prior.means[labels] + 2.0 * prior.stds[labels])
    with pytest.raises(ValueError, match=r"noise must have shape \(3, 4\)"):
        prior.sample(labels, noise=torch.ones(3, 2))


def test_learned_mode_has_parameters_and_no_fit():
    prior = ClassConditionalGaussian(2, 3, learned=True)
    assert {n for n, _ in prior.named_parameters()} == {"means", "log_stds"}
    w = torch.zeros(2, 3)
    assert prior.log_prob(w, torch.tensor([0, 1])).tolist() == pytest.approx([-3 * HALF_LOG_2PI] * 2)
    with pytest.raises(ValueError, match="learned distribution"):
        prior.fit(w, torch.tensor([0, 1]))


def test_unfitted_and_bad_input_errors():
    w, u, _, _ = gaussian_data()
    prior = ClassConditionalGaussian(3, 4).double()
    with pytest.raises(ValueError, match="has not been fitted"):
        prior.log_prob(w, u)
    with pytest.raises(ValueError, match="has not been fitted"):
        prior.sample(u)
    with pytest.raises(ValueError, match="fewer than two samples"):
        prior.fit(w[:4], u[:4])
    with pytest.raises(ValueError, match="zero variance"):
        prior.fit(torch.zeros(6, 4, dtype=torch.float64), torch.arange(6) % 3)
    prior.fit(w, u)
    with pytest.raises(ValueError, match=r"latent w must have shape \(batch, 4\)"):
        prior.log_prob(w[:, :3], u)
    bad = w.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prior.log_prob(bad, u)
    with pytest.raises(ValueError, match=r"labels u must lie in \[0, 3\)"):
        prior.log_prob(w, u + 1)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        prior.sample(u, temperature=-1)
    with pytest.raises(ValueError, match="n_classes and n_dims must be positive"):
        ClassConditionalGaussian(0, 4)


def test_state_dict_round_trip_keeps_the_fit():
    w, u, _, _ = gaussian_data()
    prior = ClassConditionalGaussian(3, 4).double().fit(w, u)
    copy = ClassConditionalGaussian(3, 4).double()
    copy.load_state_dict(prior.state_dict())
    torch.testing.assert_close(copy.log_prob(w, u), prior.log_prob(w, u), rtol=0, atol=0)


def test_mixture_log_prob():
    """log sum_k pi_k N(w; mu_k, sigma_k): one-hot weights give log_prob exactly; soft weights the written-out sum."""
    w, u, _, _ = gaussian_data()
    prior = ClassConditionalGaussian(3, 4).double().fit(w, u)
    one_hot = torch.nn.functional.one_hot(u, 3).double()
    assert torch.equal(prior.mixture_log_prob(w, one_hot), prior.log_prob(w, u))
    pi = torch.softmax(torch.randn(len(w), 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64), 1)
    written_out = torch.zeros(len(w), dtype=torch.float64)
    for k in range(3):
        written_out += pi[:, k] * prior.log_prob(w, torch.full_like(u, k)).exp()
    assert torch.allclose(prior.mixture_log_prob(w, pi), written_out.log(), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"weights must have shape \(600, 3\)"):
        prior.mixture_log_prob(w, pi[:, :2])
    with pytest.raises(ValueError, match="sum to 1"):
        prior.mixture_log_prob(w, 2 * pi)
    with pytest.raises(ValueError, match="sum to 1"):
        prior.mixture_log_prob(w, pi - pi.roll(1, 1))  # rows sum to 0 and hold negative entries
    with pytest.raises(ValueError, match="not been fitted"):
        ClassConditionalGaussian(3, 4).mixture_log_prob(w.float(), pi.float())
