r"""Executable pieces of the identifiability theory (§3 and Appendices A-C) for the theory chapter.

Notation follows the book: ``z`` the true latent (``n`` variables), ``u`` the condition,
``w`` the estimated latent (``d >= n`` variables), ``k`` sufficient statistics per variable.
The Gaussian helpers order the sufficient statistics in blocks, as Appendix B does:
:math:`T(z) = (z_1, \dots, z_n, z_1^2, \dots, z_n^2)`.

All NumPy functions compute in float64.

References:
    Sorrenson et al. (2020), §3, Appendices A, B and C; Khemakhem et al. (2019), Theorem 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import special_ortho_group

from .._checks import as_float64 as _as_float64

__all__ = [
    "gaussian_sufficient_statistics",
    "gaussian_natural_parameters",
    "gaussian_log_normalizer",
    "random_gaussian_conditions",
    "gaussian_statistics_jacobian",
    "componentwise_gaussian_model",
    "apply_componentwise",
    "condition_matrix",
    "gaussian_condition_matrix",
    "max_identifiable_dims",
    "UnmixingSolution",
    "unmixing_from_conditions",
    "rotation_2d",
    "random_rotation",
    "standard_normal_log_likelihood",
    "log_abs_det_jacobian",
    "squared_affine_unmatched_terms",
    "ExpFamRow",
    "two_parameter_families",
    "check_family",
    "families_markdown",
    "terms_markdown",
    "affine_residual",
]


def _means_stds(means, stds) -> tuple[np.ndarray, np.ndarray]:
    means = _as_float64(means, "means")
    stds = _as_float64(stds, "stds")
    if means.shape != stds.shape:
        raise ValueError(f"means and stds must have the same shape, got {means.shape} and {stds.shape}")
    if np.any(stds <= 0):
        raise ValueError("standard deviations must be positive")
    return means, stds


def gaussian_sufficient_statistics(z) -> np.ndarray:
    r"""The sufficient statistics of a factorial Gaussian, :math:`T(z) = (z, z^2)` in block order.

    Arguments:
        z: samples, ``(N, n)``.

    Returns:
        ``(N, 2n)``: the columns ``z_1..z_n`` followed by ``z_1^2..z_n^2``.

    References:
        Sorrenson et al. (2020), eq. (17).
    """
    z = _as_float64(z, "z", ndim=2)
    return np.hstack([z, z**2])


def gaussian_natural_parameters(means, stds) -> np.ndarray:
    r"""The coefficients :math:`\lambda(u)` of :math:`T(z) = (z, z^2)` for Gaussians :math:`N(\mu, \sigma^2)`.

    :math:`\log p(z) = \frac{\mu}{\sigma^2} z - \frac{1}{2\sigma^2} z^2 - \log Z`, so
    :math:`\lambda = (\mu/\sigma^2, -1/(2\sigma^2))`.

    Arguments:
        means: ``(..., n)``, one row per condition.
        stds: ``(..., n)``, positive.

    Returns:
        ``(..., 2n)`` in block order (all first-statistic coefficients, then all second).

    References:
        Sorrenson et al. (2020), eq. (1) with k = 2.
    """
    means, stds = _means_stds(means, stds)
    var = stds**2
    return np.concatenate([means / var, -0.5 / var], axis=-1)


def gaussian_log_normalizer(means, stds) -> np.ndarray:
    r"""Per-variable :math:`\log Z_i(u) = \mu_i^2/(2\sigma_i^2) + \log\sigma_i + \tfrac12\log 2\pi` (base measure 1).

    Arguments:
        means: ``(..., n)``.
        stds: ``(..., n)``.

    Returns:
        ``(..., n)``.
    """
    means, stds = _means_stds(means, stds)
    return means**2 / (2 * stds**2) + np.log(stds) + 0.5 * math.log(2 * math.pi)


def random_gaussian_conditions(n_conditions: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Means uniform on [-5, 5] and standard deviations uniform on [0.5, 3] for each condition.

    The ranges of the artificial experiments (§4.3.1), drawn independently for every condition
    and variable, as Appendix A.1 assumes.

    Arguments:
        n_conditions: number of conditions (rows).
        n: number of latent variables (columns).
        seed: seed of a private NumPy generator.

    Returns:
        ``(means, stds)``, each ``(n_conditions, n)``.
    """
    if n_conditions < 1 or n < 1:
        raise ValueError(f"n_conditions and n must be positive, got {n_conditions} and {n}")
    rng = np.random.default_rng(seed)
    return rng.uniform(-5, 5, (n_conditions, n)), rng.uniform(0.5, 3, (n_conditions, n))


def gaussian_statistics_jacobian(z) -> np.ndarray:
    r"""The Jacobian :math:`\partial T(z) / \partial z` of :math:`T(z) = (z, z^2)` at each sample.

    Arguments:
        z: ``(N, n)``.

    Returns:
        ``(N, 2n, n)``: the identity stacked on :math:`\mathrm{diag}(2z)`.
    """
    z = _as_float64(z, "z", ndim=2)
    n = z.shape[1]
    eye = np.broadcast_to(np.eye(n), (len(z), n, n))
    return np.concatenate([eye, 2 * z[:, :, None] * np.eye(n)], axis=1)


def _check_componentwise(n: int, scale, shift, columns, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = _as_float64(scale, "scale", ndim=1)
    shift = _as_float64(shift, "shift", ndim=1)
    columns = np.asarray(columns)
    if scale.shape != (n,) or shift.shape != (n,) or columns.shape != (n,):
        raise ValueError(f"scale, shift and columns need one entry per true variable ({n})")
    if np.any(scale == 0):
        raise ValueError("scale must be non-zero (the map must be invertible)")
    if len(set(columns.tolist())) != n or columns.min() < 0 or columns.max() >= d:
        raise ValueError(f"columns must be {n} distinct indices in [0, {d}), got {columns.tolist()}")
    return scale, shift, columns.astype(int)


def componentwise_gaussian_model(means, stds, scale, shift, columns, d: int, noise_std: float = 0.1):
    r"""The estimated latent distribution when :math:`w = g^{-1}(f(z, \varepsilon))` is component-wise.

    True variable ``i`` lands in ``w[columns[i]] = scale[i] * z[i] + shift[i]``; the other
    ``d - n`` estimated variables hold noise :math:`N(0, \mathrm{noise\_std}^2)` that does not
    depend on the condition. Then ``w`` given ``u`` is again a factorial Gaussian and both models
    give every ``x`` the same conditional likelihood (eq. 3).

    Arguments:
        means, stds: the true model, ``(M, n)``, one row per condition.
        scale, shift: ``(n,)``, scale non-zero.
        columns: ``(n,)`` distinct indices into ``w``.
        d: dimension of ``w`` (``>= n``).
        noise_std: standard deviation of the noise variables.

    Returns:
        ``(means_w, stds_w)``, each ``(M, d)``.
    """
    means, stds = _means_stds(means, stds)
    scale, shift, columns = _check_componentwise(means.shape[1], scale, shift, columns, d)
    means_w = np.zeros((len(means), d))
    stds_w = np.full((len(means), d), float(noise_std))
    means_w[:, columns] = scale * means + shift
    stds_w[:, columns] = np.abs(scale) * stds
    return means_w, stds_w


def apply_componentwise(z, scale, shift, columns, d: int, noise_std: float = 0.1, seed: int = 0) -> np.ndarray:
    """Samples of ``w`` for :func:`componentwise_gaussian_model`: the mapped ``z`` plus independent noise.

    Arguments:
        z: ``(N, n)`` true latent samples.
        scale, shift, columns, d, noise_std: as in :func:`componentwise_gaussian_model`.
        seed: seed of the noise.

    Returns:
        ``(N, d)``.
    """
    z = _as_float64(z, "z", ndim=2)
    scale, shift, columns = _check_componentwise(z.shape[1], scale, shift, columns, d)
    w = np.random.default_rng(seed).standard_normal((len(z), d)) * noise_std
    w[:, columns] = scale * z + shift
    return w


def condition_matrix(lam) -> np.ndarray:
    r"""The matrix :math:`L = (\lambda(u_1) - \lambda(u_0), \dots, \lambda(u_M) - \lambda(u_0))` of eq. (8).

    Arguments:
        lam: the coefficients of ``M + 1`` conditions, ``(M + 1, nk)``; row 0 is the reference
            condition :math:`u_0`.

    Returns:
        ``(nk, M)``: one column per condition after the first. Theorem 1 needs ``M = nk``
        and ``L`` invertible.

    References:
        Sorrenson et al. (2020), eq. (8) and Appendix A.1.
    """
    lam = _as_float64(lam, "lam", ndim=2)
    if lam.shape[0] < 2:
        raise ValueError(f"need at least two conditions to form differences, got {lam.shape[0]}")
    return (lam[1:] - lam[0]).T


def gaussian_condition_matrix(means, stds) -> np.ndarray:
    """:func:`condition_matrix` of Gaussian conditions: ``L`` from their means and standard deviations.

    Arguments:
        means, stds: ``(M + 1, n)``, one row per condition, row 0 the reference.

    Returns:
        ``(2n, M)``.
    """
    return condition_matrix(gaussian_natural_parameters(means, stds))


def max_identifiable_dims(n_conditions: int, k: int = 2) -> int:
    """The largest number n of true latent variables that ``n_conditions`` can cover: nk + 1 <= M + 1.

    Arguments:
        n_conditions: number of distinct conditions (classes).
        k: sufficient statistics per variable (2 for a Gaussian).

    Returns:
        ``(n_conditions - 1) // k``.

    References:
        Sorrenson et al. (2020), §3.1, §4.3.2 and §4.4.1.
    """
    if n_conditions < 1 or k < 1:
        raise ValueError(f"n_conditions and k must be positive, got {n_conditions} and {k}")
    return (n_conditions - 1) // k


@dataclass
class UnmixingSolution:
    r"""The pieces of the proof of Theorem 1: :math:`T(z) = A\,T'(w) + c` with :math:`A = L^{-T} L'^T`.

    Attributes:
        L: ``(nk, nk)`` for the true model, eq. (8).
        L_prime: ``(dk, nk)`` for the estimating model.
        b: ``(nk,)``, the log-normalizer offsets of eq. (14).
        A: ``(nk, dk)``.
        c: ``(nk,)``.
    """

    L: np.ndarray
    L_prime: np.ndarray
    b: np.ndarray
    A: np.ndarray
    c: np.ndarray


def unmixing_from_conditions(lam_z, log_norm_z, lam_w, log_norm_w) -> UnmixingSolution:
    r"""Solve eq. (14) for A and c, as in the proof of Theorem 1.

    For each condition :math:`u_l` (``l = 1..nk``) the differences of log-densities give
    :math:`\langle T(z), \bar\lambda(u_l)\rangle + \sum_i \log\frac{Z_i(u_0)}{Z_i(u_l)}
    = \langle T'(w), \bar\lambda'(u_l)\rangle + \sum_i \log\frac{Z'_i(u_0)}{Z'_i(u_l)}`,
    i.e. :math:`L^T T(z) = L'^T T'(w) + b`, hence :math:`A = L^{-T}L'^T`, :math:`c = L^{-T} b`.

    Arguments:
        lam_z: ``(nk + 1, nk)`` coefficients of the true model for the conditions ``u_0..u_nk``.
        log_norm_z: ``(nk + 1, n)`` per-variable :math:`\log Z_i(u)` of the true model.
        lam_w: ``(nk + 1, dk)`` coefficients of the estimating model.
        log_norm_w: ``(nk + 1, d)`` per-variable :math:`\log Z'_i(u)`.

    Returns:
        An :class:`UnmixingSolution`.

    Raises:
        ValueError: if the number of conditions is not nk + 1 or L is singular (condition (ii)
            of Theorem 1 fails).

    References:
        Sorrenson et al. (2020), Appendix A, eqs. (8)-(15).
    """
    lam_z = _as_float64(lam_z, "lam_z", ndim=2)
    lam_w = _as_float64(lam_w, "lam_w", ndim=2)
    log_norm_z = _as_float64(log_norm_z, "log_norm_z", ndim=2)
    log_norm_w = _as_float64(log_norm_w, "log_norm_w", ndim=2)
    n_cond, nk = lam_z.shape
    if n_cond != nk + 1:
        raise ValueError(f"Theorem 1 uses exactly nk + 1 = {nk + 1} conditions, got {n_cond}")
    if lam_w.shape[0] != n_cond or log_norm_z.shape[0] != n_cond or log_norm_w.shape[0] != n_cond:
        raise ValueError("lam_z, log_norm_z, lam_w and log_norm_w must have one row per condition")
    L = condition_matrix(lam_z)
    L_prime = condition_matrix(lam_w)
    if np.linalg.matrix_rank(L) < nk:
        raise ValueError(
            f"L has rank {np.linalg.matrix_rank(L)} < nk = {nk}: the conditions do not vary enough "
            "(condition (ii) of Theorem 1 fails)"
        )
    z_part = log_norm_z.sum(1)  # sum_i log Z_i(u)
    w_part = log_norm_w.sum(1)
    # b_l = sum_i log Z'_i(u_0) Z_i(u_l) / (Z_i(u_0) Z'_i(u_l))
    b = (w_part[0] - w_part[1:]) - (z_part[0] - z_part[1:])
    A = np.linalg.solve(L.T, L_prime.T)
    c = np.linalg.solve(L.T, b)
    return UnmixingSolution(L=L, L_prime=L_prime, b=b, A=A, c=c)


def rotation_2d(degrees: float) -> np.ndarray:
    """The 2 x 2 rotation matrix by ``degrees`` (counter-clockwise), float64."""
    a = math.radians(degrees)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def random_rotation(n: int, seed: int = 0) -> np.ndarray:
    """A Haar-random rotation matrix (orthogonal, determinant +1), float64: SciPy's ``special_ortho_group``.

    Arguments:
        n: dimension, at least 2.
        seed: seed of a private NumPy generator.

    Returns:
        ``(n, n)``.
    """
    if n < 2:
        raise ValueError(f"a rotation needs n >= 2, got {n}")
    return special_ortho_group.rvs(n, random_state=np.random.default_rng(seed))


def standard_normal_log_likelihood(w) -> np.ndarray:
    r"""Per-sample :math:`\log N(w; 0, I)` in float64.

    Arguments:
        w: ``(N, d)``.

    Returns:
        ``(N,)``.
    """
    w = _as_float64(w, "w", ndim=2)
    return -0.5 * (w**2).sum(1) - 0.5 * w.shape[1] * math.log(2 * math.pi)


def log_abs_det_jacobian(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log|\det \partial w / \partial x|` of a flow at each sample, by automatic differentiation.

    The full Jacobian of the flattened output with respect to the flattened input is built
    with :func:`torch.autograd.functional.jacobian`, one sample at a time; this does not use
    the log-determinant the flow reports, so it checks it independently.

    Arguments:
        net: a flow with ``forward(x) -> (w, log_det)``.
        x: a batch ``(B, ...)``; use float64 (convert the net with ``.double()``) for exactness.

    Returns:
        ``(B,)`` tensor of log-absolute-determinants.
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] == 0:
        raise ValueError("x must be a non-empty batch tensor of shape (B, ...)")
    out = []
    for xi in x:

        def f(v, shape=xi.shape):
            w, _ = net(v.reshape(1, *shape))
            return w.reshape(-1)

        jac = torch.autograd.functional.jacobian(f, xi.reshape(-1))
        if jac.shape[0] != jac.shape[1]:
            raise ValueError(f"the flow's Jacobian is not square: {tuple(jac.shape)}")
        out.append(torch.linalg.slogdet(jac).logabsdet)
    return torch.stack(out)


def squared_affine_unmatched_terms(n_w: int, quadratic: bool = False):
    r"""Square the affine map of eq. (22)/(26) symbolically and list the terms eq. (23) cannot match.

    Eq. (23) writes :math:`z_i^2` as a combination of :math:`1, w_j, w_j^2` only. Squaring
    :math:`z_i = \sum_j a_j w_j + c` (and, with ``quadratic=True``, :math:`+ \sum_j b_j w_j^2`)
    produces other monomials; their coefficients must all vanish.

    Arguments:
        n_w: number of estimated variables :math:`w_1..w_{n_w}`.
        quadratic: include the :math:`A^{(2)}` terms :math:`b_j w_j^2` (eqs. 24-25).

    Returns:
        ``(expansion, unmatched, symbols)``: the expanded square (a SymPy expression), a dict
        mapping each unmatched monomial to its coefficient, and ``(w, a, b, c)``.

    References:
        Sorrenson et al. (2020), Appendix B, eqs. (22)-(27).
    """
    import sympy as sp

    if n_w < 1:
        raise ValueError(f"n_w must be positive, got {n_w}")
    w = sp.symbols(f"w1:{n_w + 1}")
    a = sp.symbols(f"a1:{n_w + 1}")
    b = sp.symbols(f"b1:{n_w + 1}")
    c = sp.Symbol("c")
    z = sum(ai * wi for ai, wi in zip(a, w)) + c
    if quadratic:
        z += sum(bi * wi**2 for bi, wi in zip(b, w))
    expansion = sp.expand(z**2)
    poly = sp.Poly(expansion, *w)
    allowed = {sp.Integer(1), *w, *(wi**2 for wi in w)}
    unmatched = {}
    for monom, coeff in zip(poly.monoms(), poly.coeffs()):
        term = sp.Mul(*(wi**p for wi, p in zip(w, monom)))
        if term not in allowed:
            unmatched[term] = sp.factor(coeff)
    return expansion, unmatched, (w, a, b, c)


@dataclass
class ExpFamRow:
    r"""One row of the table of Appendix C, as SymPy expressions.

    Attributes:
        name: the distribution.
        z: the variable symbol (with its domain as assumptions).
        params: the parameter symbols.
        log_pdf: the log-density in z.
        T1, T2: the sufficient statistics.
        eta1, eta2: their natural coefficients.
        log_base: the log base measure :math:`\log Q(z)`.
        t: :math:`t = T_2 \circ T_1^{-1}` as a function of the symbol ``x``.
        x: the argument symbol of ``t``.
        relation: the latent-space relationship the paper states, as text.
        relation_map: a concrete ``z = h(w)`` of that form, as a Python function of NumPy arrays.
        domain: an interval ``(low, high)`` inside the support, for numeric checks.
    """

    name: str
    z: object
    params: tuple
    log_pdf: object
    T1: object
    T2: object
    eta1: object
    eta2: object
    log_base: object
    t: object
    x: object
    relation: str
    relation_map: object
    domain: tuple


def two_parameter_families() -> list[ExpFamRow]:
    """The six two-parameter exponential families of Table 1 (Appendix C) with their statistics.

    Returns:
        A list of :class:`ExpFamRow` (Normal, Lognormal, Inverse Gaussian, Gamma, Inverse Gamma, Beta).

    References:
        Sorrenson et al. (2020), Appendix C, Table 1.
    """
    import sympy as sp

    x = sp.Symbol("x", real=True)
    zr = sp.Symbol("z", real=True)
    zp = sp.Symbol("z", positive=True)
    mu = sp.Symbol("mu", real=True)
    sigma, lam, alpha, beta = sp.symbols("sigma lambda alpha beta", positive=True)
    a, b = sp.symbols("a b", positive=True)
    half_log_2pi = sp.log(2 * sp.pi) / 2
    rows = [
        ExpFamRow(
            "Normal",
            zr,
            (mu, sigma),
            -((zr - mu) ** 2) / (2 * sigma**2) - sp.log(sigma) - half_log_2pi,
            zr,
            zr**2,
            mu / sigma**2,
            -1 / (2 * sigma**2),
            sp.Integer(0),
            x**2,
            x,
            "z_i = a w_j + c",
            lambda w: 1.7 * w - 0.4,
            (-3.0, 3.0),
        ),
        ExpFamRow(
            "Lognormal",
            zp,
            (mu, sigma),
            -((sp.log(zp) - mu) ** 2) / (2 * sigma**2) - sp.log(sigma) - half_log_2pi - sp.log(zp),
            sp.log(zp),
            sp.log(zp) ** 2,
            mu / sigma**2,
            -1 / (2 * sigma**2),
            -sp.log(zp),
            x**2,
            x,
            r"\log z_i = a \log w_j + c",
            lambda w: np.exp(1.7 * np.log(w) - 0.4),
            (0.1, 5.0),
        ),
        ExpFamRow(
            "Inverse Gaussian",
            zp,
            (mu, lam),
            sp.log(lam) / 2 - half_log_2pi - sp.Rational(3, 2) * sp.log(zp) - lam * (zp - mu) ** 2 / (2 * mu**2 * zp),
            zp,
            1 / zp,
            -lam / (2 * mu**2),
            -lam / 2,
            -sp.Rational(3, 2) * sp.log(zp),
            1 / x,
            x,
            "z_i = a w_j or z_i = a / w_j",
            lambda w: 2.5 / w,
            (0.1, 5.0),
        ),
        ExpFamRow(
            "Gamma",
            zp,
            (alpha, beta),
            alpha * sp.log(beta) - sp.loggamma(alpha) + (alpha - 1) * sp.log(zp) - beta * zp,
            sp.log(zp),
            zp,
            alpha - 1,
            -beta,
            sp.Integer(0),
            sp.exp(x),
            x,
            "z_i = a w_j",
            lambda w: 2.5 * w,
            (0.1, 5.0),
        ),
        ExpFamRow(
            "Inverse Gamma",
            zp,
            (alpha, beta),
            alpha * sp.log(beta) - sp.loggamma(alpha) - (alpha + 1) * sp.log(zp) - beta / zp,
            sp.log(zp),
            1 / zp,
            -alpha - 1,
            -beta,
            sp.Integer(0),
            sp.exp(-x),
            x,
            "z_i = a w_j",
            lambda w: 2.5 * w,
            (0.1, 5.0),
        ),
        ExpFamRow(
            "Beta",
            zp,
            (a, b),
            (a - 1) * sp.log(zp) + (b - 1) * sp.log(1 - zp) - (sp.loggamma(a) + sp.loggamma(b) - sp.loggamma(a + b)),
            sp.log(zp),
            sp.log(1 - zp),
            a - 1,
            b - 1,
            sp.Integer(0),
            sp.log(1 - sp.exp(x)),
            x,
            r"\log z_i = \log w_j or \log z_i = \log(1 - w_j)",
            lambda w: 1 - w,
            (0.05, 0.95),
        ),
    ]
    return rows


def check_family(row: ExpFamRow, n_grid: int = 401) -> dict:
    """Check one row of Table 1 (Appendix C), symbolically and numerically.

    Arguments:
        row: an :class:`ExpFamRow`.
        n_grid: number of grid points in ``row.domain`` for the numeric check.

    Returns:
        ``{"exponential_form", "t_matches", "t_nonlinear", "affine_residual"}``: whether
        :math:`\\log p - \\eta_1 T_1 - \\eta_2 T_2 - \\log Q` is free of z; whether
        :math:`t(T_1(z)) = T_2(z)`; whether :math:`t'' \\ne 0`; and the largest residual of
        :math:`T(z)` fitted affinely on :math:`T(w)` under the stated relationship ``z = h(w)``.
    """
    import sympy as sp

    free = sp.diff(row.log_pdf - row.eta1 * row.T1 - row.eta2 * row.T2 - row.log_base, row.z)
    T1, T2 = (sp.lambdify(row.z, T, "numpy") for T in (row.T1, row.T2))
    w = np.linspace(*row.domain, n_grid)
    z = row.relation_map(w)
    return {
        "exponential_form": sp.simplify(free) == 0,
        "t_matches": sp.simplify(row.t.subs(row.x, row.T1) - row.T2) == 0,
        "t_nonlinear": sp.simplify(sp.diff(row.t, row.x, 2)) != 0,
        "affine_residual": float(affine_residual(np.c_[T1(z), T2(z)], np.c_[T1(w), T2(w)]).max()),
    }


def families_markdown(rows: list[ExpFamRow]) -> str:
    """Table 1 of Appendix C as a Markdown table (math in ``$...$``)."""
    import sympy as sp

    lines = ["| distribution | sufficient statistics | $t(x)$ | latent-space relationship |", "|---|---|---|---|"]
    for row in rows:
        relation = " or ".join(f"${part}$" for part in row.relation.split(" or "))
        lines.append(
            f"| {row.name} | $({sp.latex(row.T1)},\\ {sp.latex(row.T2)})$ | ${sp.latex(row.t)}$ | {relation} |"
        )
    return "\n".join(lines)


def terms_markdown(terms: dict) -> str:
    """A Markdown table of monomials and their coefficients (from :func:`squared_affine_unmatched_terms`)."""
    import sympy as sp

    lines = ["| term | coefficient |", "|---|---|"]
    lines += [f"| ${sp.latex(term)}$ | ${sp.latex(coef)}$ |" for term, coef in terms.items()]
    return "\n".join(lines)


def affine_residual(targets, features) -> np.ndarray:
    """Largest absolute residual of the least-squares fit of each target column on ``[features, 1]``.

    Used to check that statistics are exactly affine in others (residual at round-off level)
    or not (residual of order one).

    Arguments:
        targets: ``(N, p)``.
        features: ``(N, q)``.

    Returns:
        ``(p,)`` maximal absolute residuals.
    """
    targets = _as_float64(targets, "targets", ndim=2)
    features = _as_float64(features, "features", ndim=2)
    if len(targets) != len(features):
        raise ValueError(f"targets has {len(targets)} rows but features has {len(features)}")
    design = np.hstack([features, np.ones((len(features), 1))])
    coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return np.abs(targets - design @ coef).max(0)


# ---------------------------------------------------------------------------------------------
# Figures of the theory chapter
