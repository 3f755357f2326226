"""Tests of gin_core.metrics: spectrum, knee, MCC, alignment and the affine fit of eq. (4)."""

import numpy as np
import pytest
import torch

from gin_core import Spectrum, affine_fit, align_to, count_informative, latent_spectrum, mcc


@pytest.fixture(scope="module")
def z():
    rng = np.random.default_rng(0)
    return np.column_stack([rng.normal(0, 2, 20_000), rng.uniform(-3, 3, 20_000), rng.laplace(0, 1, 20_000)])


def permuted_rescaled_copy(z, rng):
    """w with the variables of z permuted, rescaled (some flipped), shifted, plus extra noise variables."""
    w = np.empty((len(z), 5))
    columns = [3, 0, 4]  # z_i -> w_columns[i]
    for i, j in enumerate(columns):
        w[:, j] = [2.5, -0.3, 7.0][i] * z[:, i] + [1.0, -4.0, 0.5][i]
    w[:, [1, 2]] = rng.normal(size=(len(z), 2)) * 0.01
    return w, columns


def test_mcc_is_one_for_a_permuted_rescaled_shifted_copy(z):
    w, columns = permuted_rescaled_copy(z, np.random.default_rng(1))
    assert mcc(z, w) == pytest.approx(1.0, abs=1e-12)
    score, matched, corr = mcc(z, w, return_matching=True)
    assert list(matched) == columns and np.allclose(corr, 1.0)
    assert mcc(torch.from_numpy(z), torch.from_numpy(w)) == pytest.approx(1.0, abs=1e-12)  # tensors too


def test_mcc_is_near_zero_for_independent_noise(z):
    w = np.random.default_rng(2).normal(size=(len(z), 3))
    assert mcc(z, w) < 0.03


def test_mcc_in_between_for_a_rotation(z):
    angle = np.pi / 4
    zs = (z[:, :2] - z[:, :2].mean(0)) / z[:, :2].std(0)
    rotated = zs @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert 0.6 < mcc(zs, rotated) < 0.8  # |cos 45°| ~ 0.71: mixed, not identified


def test_align_to_recovers_the_true_variables(z):
    w, _ = permuted_rescaled_copy(z, np.random.default_rng(3))
    assert np.allclose(align_to(z, w), z, atol=1e-9)


def test_affine_fit_is_sparse_for_a_componentwise_affine_map(z):
    w, columns = permuted_rescaled_copy(z, np.random.default_rng(4))
    fit = affine_fit(z, w)
    assert fit.A.shape == (6, 10) and fit.c.shape == (6,)
    assert fit.is_sparse and fit.distinct and list(fit.columns) == columns
    assert np.all(fit.row_share > 0.999) and np.all(fit.offrow_share > 0.999)
    assert np.all(fit.r2 > 0.999)
    assert np.abs(fit.A[:3, 5:]).max() < 1e-6  # z does not depend on w^2 (block A2 of eq. 18)


def test_affine_fit_is_not_sparse_for_a_rotation(z):
    angle = np.pi / 4
    zs = (z[:, :2] - z[:, :2].mean(0)) / z[:, :2].std(0)
    w = zs @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    fit = affine_fit(zs, w)
    assert not fit.is_sparse
    assert np.all(fit.row_share < 0.6)  # each true variable spread over both w (about half each)


def test_affine_fit_is_not_sparse_when_z_depends_on_a_square(z):
    # z_1 = w_1 + 0.8 w_2^2: block A1 alone is sparse (each z on one distinct w), but eq. (4) also
    # needs the block A2 (z on w^2) to vanish, and that row carries a large w_2^2 entry
    rng = np.random.default_rng(8)
    w = rng.standard_normal((len(z), 3))
    zz = np.stack([w[:, 0] + 0.8 * w[:, 1] ** 2, w[:, 2]], axis=1)
    fit = affine_fit(zz, w)
    assert fit.distinct and fit.row_share.min() > 0.99  # the old check (A1 only) would call it sparse
    assert fit.offrow_share[0] < 0.7
    assert not fit.is_sparse


def test_affine_fit_square_rows_are_tied_to_the_same_variable(z):
    w, columns = permuted_rescaled_copy(z, np.random.default_rng(4))
    fit = affine_fit(z, w)
    assert np.all(fit.square_share > 0.999)


def test_latent_spectrum_on_constructed_latents():
    rng = np.random.default_rng(5)
    n = 50_000
    u = np.repeat([0, 1], n)
    # per class standard deviations of the three variables
    stds = np.array([[0.1, 4.0, 1.0], [0.1, 2.0, 1.0]])
    w = rng.normal(size=(2 * n, 3)) * stds[u] + rng.normal(size=(1, 3)) * 10
    spectrum = latent_spectrum(w, u)
    assert isinstance(spectrum, Spectrum)
    assert list(spectrum.order) == [1, 2, 0]
    expected = np.sqrt((stds**2).mean(0))[[1, 2, 0]]  # RMS over classes, sorted
    assert np.allclose(spectrum.std, expected, rtol=0.02)
    pooled = latent_spectrum(w)  # without labels: one class
    assert np.allclose(pooled.std, w.std(0)[pooled.order])


def test_latent_spectrum_ignores_classes_with_one_sample():
    w = np.array([[0.0, 0.0], [2.0, 1.0], [100.0, 100.0]])
    spectrum = latent_spectrum(w, np.array([0, 0, 1]))
    assert np.allclose(spectrum.std, [1.0, 0.5])


def test_count_informative_on_constructed_spectra():
    spectrum = np.array([3.0, 2.5, 0.02, 0.015, 0.01])
    assert count_informative(spectrum) == 2
    assert count_informative(Spectrum(std=spectrum, order=np.arange(5))) == 2
    assert count_informative(np.array([5.0, 0.5, 0.4, 0.3])) == 1
    assert count_informative(np.array([5.0, 4.0, 3.0, 0.3, 0.2, 0.001])) == 5  # the largest drop wins
    assert (
        count_informative(np.array([5.0, 4.0, 3.0, 0.3, 0.2, 0.001]), max_k=5) == 3
    )  # only the first 5 variables: cuts 1-4
    assert count_informative(spectrum, method="threshold", threshold=0.1) == 2
    assert count_informative(spectrum, method="threshold", threshold=0.012) == 4


@pytest.mark.parametrize(
    "spectrum, kwargs, message",
    [
        (np.array([1.0]), {}, "a spectrum needs at least two variables"),
        (np.array([1.0, 0.0]), {}, "standard deviations must be positive"),
        (np.array([1.0, 2.0]), {}, "the spectrum must be sorted in decreasing order"),
        (np.array([2.0, 1.0]), {"method": "knee"}, "unknown knee method 'knee'; expected one of"),
        (np.array([2.0, 1.0]), {"method": "threshold"}, "method='threshold' needs a threshold"),
        (np.array([2.0, np.nan]), {}, "spectrum contains NaN or infinite values"),
    ],
)
def test_count_informative_errors(spectrum, kwargs, message):
    with pytest.raises(ValueError, match=message):
        count_informative(spectrum, **kwargs)


def test_metric_input_errors():
    good = np.random.default_rng(6).normal(size=(50, 3))
    with pytest.raises(ValueError, match=r"w must be 2-d, got shape \(50,\)"):
        mcc(good, good[:, 0])
    with pytest.raises(ValueError, match="z_true contains NaN or infinite values"):
        mcc(np.where(good > 2, np.inf, good), good)
    with pytest.raises(ValueError, match="w contains NaN or infinite values"):
        affine_fit(good, np.where(good > 2, np.nan, good))
    with pytest.raises(ValueError, match="z_true has 50 samples but w has 49"):
        mcc(good, good[:49])
    with pytest.raises(ValueError, match=r"w needs at least as many variables as z_true \(3\), got 2"):
        mcc(good, good[:, :2])
    with pytest.raises(ValueError, match="w is empty; expected at least one sample"):
        latent_spectrum(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="u has 49 labels but w has 50 samples"):
        latent_spectrum(good, np.zeros(49, dtype=int))
    with pytest.raises(ValueError, match="no class has two or more samples"):
        latent_spectrum(good[:2], np.array([0, 1]))
    with pytest.raises(ValueError, match="a variable is constant; its correlation is undefined"):
        mcc(good, np.column_stack([good, np.ones(50)])[:, [3, 0, 1]])
    with pytest.raises(TypeError, match="w must be numeric"):
        mcc(good, np.array([["a"] * 3] * 50))
    with pytest.raises(ValueError, match="z_true has 50 samples but w has 10"):
        affine_fit(good, good[:10])
