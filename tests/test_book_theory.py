"""Tests of gin_core.book.theory: the executable pieces of §3 and Appendices A-C (float64, exact where possible).

Sufficient statistics and natural parameters of Gaussians, the condition matrix L and its rank,
the unmixing of Theorem 1, component-wise models, rotations and the rotation invariance of a
standard normal, log-determinants by autograd, the symbolic terms of Appendix B and the table of
Appendix C. The theory chapter's figures are tested in test_book_plots.py.
"""

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.stats import norm

import gin_core
from gin_core.book import theory


def test_gaussian_statistics_and_coefficients_reproduce_the_log_density():
    rng = np.random.default_rng(0)
    means, stds = rng.uniform(-5, 5, (1, 3)), rng.uniform(0.5, 3, (1, 3))
    z = rng.normal(size=(50, 3))
    T = theory.gaussian_sufficient_statistics(z)
    assert T.shape == (50, 6)
    np.testing.assert_array_equal(T[:, :3], z)
    np.testing.assert_array_equal(T[:, 3:], z**2)
    lam = theory.gaussian_natural_parameters(means, stds)[0]
    log_z = theory.gaussian_log_normalizer(means, stds)[0]
    per_variable = z * lam[:3] + z**2 * lam[3:] - log_z
    np.testing.assert_allclose(per_variable, norm.logpdf(z, means[0], stds[0]), rtol=0, atol=1e-12)


def test_bad_gaussian_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="positive"):
        theory.gaussian_natural_parameters([[0.0]], [[0.0]])
    with pytest.raises(ValueError, match="same shape"):
        theory.gaussian_log_normalizer([[0.0, 1.0]], [[1.0]])
    with pytest.raises(ValueError, match="NaN"):
        theory.gaussian_sufficient_statistics([[np.nan]])
    with pytest.raises(ValueError, match="2-d"):
        theory.gaussian_sufficient_statistics([1.0, 2.0])


def test_condition_matrix_is_differences_to_the_reference_condition():
    lam = np.arange(12.0).reshape(3, 4) ** 2
    L = theory.condition_matrix(lam)
    assert L.shape == (4, 2)
    np.testing.assert_array_equal(L[:, 0], lam[1] - lam[0])
    np.testing.assert_array_equal(L[:, 1], lam[2] - lam[0])
    with pytest.raises(ValueError, match="at least two conditions"):
        theory.condition_matrix(lam[:1])


@pytest.mark.parametrize("n", [1, 2, 4])
def test_rank_of_L_reaches_nk_exactly_at_nk_plus_one_conditions(n):
    for m in range(2, 2 * n + 4):
        means, stds = theory.random_gaussian_conditions(m, n, seed=m)
        assert np.linalg.matrix_rank(theory.gaussian_condition_matrix(means, stds)) == min(m - 1, 2 * n)


def test_fixed_variances_make_L_rank_deficient():
    means, stds = theory.random_gaussian_conditions(9, 2, seed=1)
    assert np.linalg.matrix_rank(theory.gaussian_condition_matrix(means, np.ones_like(stds))) == 2


def test_max_identifiable_dims():
    assert [theory.max_identifiable_dims(m) for m in (1, 2, 3, 5, 10)] == [0, 0, 1, 2, 4]
    assert theory.max_identifiable_dims(7, k=3) == 2
    with pytest.raises(ValueError):
        theory.max_identifiable_dims(0)


def _componentwise_example(seed=0):
    means, stds = theory.random_gaussian_conditions(5, 2, seed=seed)
    scale, shift, columns, d = [2.0, -0.5], [1.0, 3.0], [2, 0], 4
    means_w, stds_w = theory.componentwise_gaussian_model(means, stds, scale, shift, columns, d, noise_std=0.3)
    sol = theory.unmixing_from_conditions(
        theory.gaussian_natural_parameters(means, stds),
        theory.gaussian_log_normalizer(means, stds),
        theory.gaussian_natural_parameters(means_w, stds_w),
        theory.gaussian_log_normalizer(means_w, stds_w),
    )
    return means, stds, scale, shift, columns, d, sol


def test_unmixing_recovers_the_inverse_of_a_componentwise_map():
    means, stds, scale, shift, columns, d, sol = _componentwise_example()
    # z1 = (w3 - 1) / 2 and z2 = (w1 - 3) / (-0.5): row i of A1 holds 1/scale_i at column columns[i].
    expected_A1 = np.zeros((2, d))
    expected_A1[0, 2], expected_A1[1, 0] = 0.5, -2.0
    np.testing.assert_allclose(sol.A[:2, :d], expected_A1, atol=1e-10)
    np.testing.assert_allclose(sol.A[:2, d:], 0, atol=1e-10)  # A2 = 0 (Appendix B)
    np.testing.assert_allclose(sol.c[:2], [-0.5, 6.0], atol=1e-10)
    assert np.linalg.matrix_rank(sol.A) == 4
    rng = np.random.default_rng(1)
    u = rng.integers(0, 5, 2000)
    z = means[u] + stds[u] * rng.standard_normal((2000, 2))
    w = theory.apply_componentwise(z, scale, shift, columns, d, noise_std=0.3, seed=2)
    lhs = theory.gaussian_sufficient_statistics(z)
    rhs = theory.gaussian_sufficient_statistics(w) @ sol.A.T + sol.c
    np.testing.assert_allclose(lhs, rhs, atol=1e-9)


def test_unmixing_zeroes_the_noise_columns_and_satisfies_q_equals_a_q_prime():
    # Appendix A.2: estimated variables whose distribution does not depend on u get zero columns in
    # all of A (both z and z^2 rows); and the rank step of the proof, Q = A Q' at k = 2 points.
    means, stds, scale, shift, columns, d, sol = _componentwise_example()
    noise = [j for j in range(d) if j not in columns]
    np.testing.assert_array_equal(sol.A[:, noise + [d + j for j in noise]], 0.0)
    assert np.abs(sol.A[:, columns]).max(axis=0).min() > 0.1  # every informative column is used
    rng = np.random.default_rng(3)
    z = means[[0, 1]] + stds[[0, 1]] * rng.standard_normal((2, 2))
    w = theory.apply_componentwise(z, scale, shift, columns, d, noise_std=0.3, seed=4)
    dw_dz = np.zeros((d, 2))
    dw_dz[columns, [0, 1]] = scale
    Q = np.hstack(list(theory.gaussian_statistics_jacobian(z)))
    Q_prime = np.hstack([J @ dw_dz for J in theory.gaussian_statistics_jacobian(w)])
    assert np.linalg.matrix_rank(Q) == 4
    np.testing.assert_allclose(Q, sol.A @ Q_prime, atol=1e-9)


def test_affine_fit_reads_a_componentwise_model_as_sparse_and_a_rotated_one_as_dense():
    # The constructed latents of the identifiability chapter's unmixing figure: a component-wise map of
    # conditional Gaussians among noise variables, and the same with the true pair rotated by 45 degrees.
    means, stds = theory.random_gaussian_conditions(5, 2, seed=0)
    rng = np.random.default_rng(8)
    u = rng.integers(0, 5, 3000)
    z = means[u] + stds[u] * rng.standard_normal((3000, 2))
    w_good = theory.apply_componentwise(z, [0.5, -3.0], [2.0, 0.0], [7, 2], d=10, noise_std=0.01)
    w_mixed = w_good.copy()
    w_mixed[:, [7, 2]] = z @ theory.rotation_2d(45).T
    good, mixed = gin_core.affine_fit(z, w_good), gin_core.affine_fit(z, w_mixed)
    assert good.is_sparse and list(good.columns) == [7, 2]
    assert good.row_share.min() > 0.999
    assert not mixed.is_sparse and mixed.row_share.max() < 0.9


def test_unmixing_refuses_singular_L_and_wrong_counts():
    means, stds = theory.random_gaussian_conditions(5, 2, seed=0)
    fixed = np.ones_like(stds)
    args = (theory.gaussian_natural_parameters(means, fixed), theory.gaussian_log_normalizer(means, fixed))
    with pytest.raises(ValueError, match="rank"):
        theory.unmixing_from_conditions(*args, *args)
    short = (
        theory.gaussian_natural_parameters(means[:4], stds[:4]),
        theory.gaussian_log_normalizer(means[:4], stds[:4]),
    )
    with pytest.raises(ValueError, match="nk \\+ 1"):
        theory.unmixing_from_conditions(*short, *short)


def test_componentwise_model_matches_its_samples():
    means, stds = theory.random_gaussian_conditions(3, 2, seed=3)
    means_w, stds_w = theory.componentwise_gaussian_model(
        means, stds, [1.5, -2.0], [0.5, 1.0], [3, 1], 5, noise_std=0.2
    )
    rng = np.random.default_rng(4)
    for c in range(3):
        z = means[c] + stds[c] * rng.standard_normal((200_000, 2))
        w = theory.apply_componentwise(z, [1.5, -2.0], [0.5, 1.0], [3, 1], 5, noise_std=0.2, seed=c)
        np.testing.assert_allclose(w.mean(0), means_w[c], atol=0.03)
        np.testing.assert_allclose(w.std(0), stds_w[c], rtol=0.01)


def test_componentwise_map_rejects_non_invertible_input():
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="non-zero"):
        theory.apply_componentwise(z, [1.0, 0.0], [0.0, 0.0], [0, 1], 3)
    with pytest.raises(ValueError, match="distinct"):
        theory.apply_componentwise(z, [1.0, 1.0], [0.0, 0.0], [1, 1], 3)
    with pytest.raises(ValueError, match="distinct"):
        theory.apply_componentwise(z, [1.0, 1.0], [0.0, 0.0], [0, 3], 3)


def test_statistics_jacobian_matches_finite_differences():
    z = np.random.default_rng(5).normal(size=(4, 3))
    J = theory.gaussian_statistics_jacobian(z)
    assert J.shape == (4, 6, 3)
    eps = 1e-6
    for k in range(3):
        dz = np.zeros(3)
        dz[k] = eps
        numeric = (theory.gaussian_sufficient_statistics(z + dz) - theory.gaussian_sufficient_statistics(z - dz)) / (
            2 * eps
        )
        np.testing.assert_allclose(J[:, :, k], numeric, atol=1e-8)


def test_rotations_are_proper_and_orthogonal():
    for n in (2, 3, 10):
        R = theory.random_rotation(n, seed=n)
        np.testing.assert_allclose(R @ R.T, np.eye(n), atol=1e-12)
        assert math.isclose(np.linalg.det(R), 1.0, abs_tol=1e-12)
    np.testing.assert_allclose(theory.rotation_2d(90) @ [1.0, 0.0], [0.0, 1.0], atol=1e-15)
    with pytest.raises(ValueError):
        theory.random_rotation(1)


def test_standard_normal_log_likelihood_is_rotation_invariant():
    w = np.random.default_rng(6).normal(size=(100, 5))
    ll = theory.standard_normal_log_likelihood(w)
    np.testing.assert_allclose(ll, norm.logpdf(w).sum(1), atol=1e-12)
    np.testing.assert_allclose(theory.standard_normal_log_likelihood(w @ theory.random_rotation(5).T), ll, atol=1e-12)


class _Linear(torch.nn.Module):
    def __init__(self, M):
        super().__init__()
        self.M = M

    def forward(self, x):
        return x @ self.M.T, x.new_zeros(x.shape[0])


def test_log_abs_det_jacobian_by_autograd():
    M = torch.tensor([[2.0, 1.0], [0.5, 3.0]], dtype=torch.float64)
    x = torch.randn(3, 2, dtype=torch.float64)
    ld = theory.log_abs_det_jacobian(_Linear(M), x)
    np.testing.assert_allclose(ld.numpy(), math.log(abs(np.linalg.det(M.numpy()))), atol=1e-12)
    gin = gin_core.artificial_gin(seed=2, zero_init_last=False).double()
    assert theory.log_abs_det_jacobian(gin, torch.randn(2, 10, dtype=torch.float64)).abs().max() < 1e-10
    glow = gin_core.artificial_gin(volume_preserving=False, seed=2, zero_init_last=False).double()
    x10 = torch.randn(2, 10, dtype=torch.float64)
    torch.testing.assert_close(theory.log_abs_det_jacobian(glow, x10), glow(x10)[1].detach(), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="batch"):
        theory.log_abs_det_jacobian(gin, torch.randn(10, dtype=torch.float64))


def test_squared_affine_map_has_exactly_the_cross_terms_of_appendix_b():
    _, cross, (w, a, b, c) = theory.squared_affine_unmatched_terms(3)
    assert cross == {w[0] * w[1]: 2 * a[0] * a[1], w[0] * w[2]: 2 * a[0] * a[2], w[1] * w[2]: 2 * a[1] * a[2]}
    _, unmatched, (w, a, b, c) = theory.squared_affine_unmatched_terms(2, quadratic=True)
    assert unmatched[w[0] ** 4] == b[0] ** 2 and unmatched[w[1] ** 4] == b[1] ** 2
    assert unmatched[w[0] ** 2 * w[1] ** 2] == 2 * b[0] * b[1]
    assert sp.Integer(1) not in unmatched and w[0] ** 2 not in unmatched
    with pytest.raises(ValueError):
        theory.squared_affine_unmatched_terms(0)


def test_table_of_appendix_c_checks_out():
    rows = theory.two_parameter_families()
    assert [r.name for r in rows] == ["Normal", "Lognormal", "Inverse Gaussian", "Gamma", "Inverse Gamma", "Beta"]
    for row in rows:
        check = theory.check_family(row)
        assert check["exponential_form"] and check["t_matches"] and check["t_nonlinear"], row.name
        assert check["affine_residual"] < 1e-8, row.name
    table = theory.families_markdown(rows).splitlines()
    assert len(table) == 2 + len(rows) and table[0].startswith("| distribution")


def test_check_family_detects_a_wrong_row():
    row = theory.two_parameter_families()[3]  # Gamma
    row.t = row.x**2  # not T2 o T1^-1
    row.relation_map = lambda w: w**2  # z = w^2 is not allowed for the Gamma family
    check = theory.check_family(row)
    assert not check["t_matches"] and check["affine_residual"] > 1e-3
    row.eta2 = row.eta2 + 1  # wrong natural parameter
    assert not theory.check_family(row)["exponential_form"]


def test_affine_residual():
    rng = np.random.default_rng(7)
    f = rng.normal(size=(100, 2))
    assert theory.affine_residual(f @ [[1.0], [2.0]] + 3, f).max() < 1e-12
    assert theory.affine_residual(f[:, :1] * f[:, 1:], f).max() > 0.1
    with pytest.raises(ValueError, match="rows"):
        theory.affine_residual(f[:10], f)


def test_terms_markdown():
    _, cross, _ = theory.squared_affine_unmatched_terms(2)
    assert theory.terms_markdown(cross).splitlines() == [
        "| term | coefficient |",
        "|---|---|",
        "| $w_{1} w_{2}$ | $2 a_{1} a_{2}$ |",
    ]
