"""Metrics: the latent spectrum and its knee, the MCC identifiability score, and the affine fit of eq. (4).

All functions accept NumPy arrays or torch tensors and return NumPy values.

References:
    Sorrenson et al. (2020), §3.2-3.3, eq. (4), Appendix B, Figs. 2-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ._checks import as_float64
from .distributions import class_statistics


def _array(a, name: str, ndim: int = 2) -> np.ndarray:
    return as_float64(a, name, ndim)


__all__ = [
    "Spectrum",
    "latent_spectrum",
    "KNEE_METHODS",
    "count_informative",
    "knee_prominence",
    "mcc",
    "AffineFit",
    "affine_fit",
    "align_to",
]


@dataclass
class Spectrum:
    """Per-variable standard deviations of the latent, sorted in decreasing order.

    Attributes:
        std: sorted standard deviations (RMS over classes of the class-conditional stds).
        order: ``order[k]`` is the latent index of the k-th most important variable.
    """

    std: np.ndarray
    order: np.ndarray


def latent_spectrum(w, u=None) -> Spectrum:
    """The spectrum of Figs. 2-3: each variable's standard deviation, RMS over classes, sorted.

    Arguments:
        w: latent codes, ``(N, d)``.
        u: class labels, ``(N,)``; ``None`` treats all samples as one class.

    Returns:
        A :class:`Spectrum`. Classes with fewer than two samples are ignored.

    References:
        Sorrenson et al. (2020), §3.3 and Figs. 2-3.
    """
    w = _array(w, "w")
    u = np.zeros(len(w), dtype=int) if u is None else _array(u, "u", ndim=1).astype(int)
    if len(u) != len(w):
        raise ValueError(f"u has {len(u)} labels but w has {len(w)} samples")
    classes, index = np.unique(u, return_inverse=True)
    _, variances, counts = class_statistics(torch.from_numpy(w), torch.from_numpy(index.astype(np.int64)), len(classes))
    kept = (counts >= 2).numpy()
    if not kept.any():
        raise ValueError("no class has two or more samples; cannot estimate a standard deviation")
    std = np.sqrt(variances.numpy()[kept].mean(axis=0))
    order = np.argsort(-std, kind="stable")
    return Spectrum(std=std[order], order=order)


KNEE_METHODS = ("max_gap", "plateau", "threshold", "two_lines")


def _std(spectrum) -> np.ndarray:
    std = spectrum.std if isinstance(spectrum, Spectrum) else _array(spectrum, "spectrum", ndim=1)
    if len(std) < 2:
        raise ValueError(f"a spectrum needs at least two variables to have a knee, got {len(std)}")
    if np.any(std <= 0):
        raise ValueError(
            "standard deviations must be positive (add the training noise before PCA of images with constant pixels)"
        )
    if np.any(np.diff(std) > 0):
        raise ValueError("the spectrum must be sorted in decreasing order")
    return std


def _two_lines(log_std: np.ndarray) -> int:
    """Best split of a two-segment least-squares line fit of log std against the index (L-method)."""
    n = len(log_std)
    k_index = np.arange(1, n + 1, dtype=np.float64)
    best, best_k = np.inf, 2
    for k in range(2, n - 1):  # each segment has at least two points
        error = 0.0
        for idx, y in ((k_index[:k], log_std[:k]), (k_index[k:], log_std[k:])):
            coef = np.polyfit(idx, y, 1)
            error += float(((np.polyval(coef, idx) - y) ** 2).sum())
        if error < best:
            best, best_k = error, k
    return best_k


def count_informative(
    spectrum,
    method: str = "max_gap",
    *,
    min_k: int = 1,
    max_k: int | None = None,
    factor: float = 2.0,
    threshold: float | None = None,
) -> int:
    r"""The number of informative variables read off the spectrum's knee, by a stated rule.

    The rules (all on the spectrum :math:`\sigma_1 \ge \sigma_2 \ge \dots` sorted in decreasing order):

    * ``"max_gap"``: the cut where neighbours drop by the largest factor,
      :math:`k = \arg\max_{\mathrm{min\_k} \le k < K} \log(\sigma_k / \sigma_{k+1})`;
    * ``"plateau"``: the number of variables whose standard deviation exceeds ``factor`` times
      the median of the spectrum (the median lies in the noise floor when most variables are noise);
    * ``"threshold"``: the number of variables with standard deviation above ``threshold``;
    * ``"two_lines"`` (the L-method of Salvador & Chan, 2004): the split with the smallest total
      squared error of two straight-line fits to :math:`\log\sigma_1..\log\sigma_k` and
      :math:`\log\sigma_{k+1}..\log\sigma_K`.

    Arguments:
        spectrum: a :class:`Spectrum` or sorted standard deviations.
        method: one of :data:`KNEE_METHODS`.
        min_k: smallest cut ``max_gap`` considers.
        max_k: ``max_gap`` and ``two_lines`` consider only the first ``K = max_k`` variables
            (default: all).
        factor: the multiple of the median for ``plateau``.
        threshold: the standard deviation for ``threshold``.

    Returns:
        The number k of informative variables (the first k of the spectrum).

    References:
        Sorrenson et al. (2020), §3.2 (dimension discovery) and §4.4.2.
    """
    std = _std(spectrum)
    n = len(std) if max_k is None else min(int(max_k), len(std))
    if method == "max_gap":
        if not 1 <= min_k < n:
            raise ValueError(f"need 1 <= min_k < max_k (number of variables considered); got min_k={min_k}, max_k={n}")
        gaps = np.log(std[: n - 1]) - np.log(std[1:n])
        return int(np.argmax(gaps[min_k - 1 :])) + min_k
    if method == "plateau":
        if factor <= 1:
            raise ValueError(f"factor must exceed 1, got {factor}")
        return int((std > factor * float(np.median(std))).sum())
    if method == "threshold":
        if threshold is None:
            raise ValueError("method='threshold' needs a threshold")
        return int((std > threshold).sum())
    if method == "two_lines":
        if n < 4:
            raise ValueError(f"the two-lines rule needs at least four variables, got {n}")
        return _two_lines(np.log(std[:n]))
    raise ValueError(f"unknown knee method {method!r}; expected one of {KNEE_METHODS}")


def _abs_correlation(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    zc = z - z.mean(0)
    wc = w - w.mean(0)
    zs, ws = zc.std(0), wc.std(0)
    if np.any(zs == 0) or np.any(ws == 0):
        raise ValueError("a variable is constant; its correlation is undefined")
    return np.abs((zc / zs).T @ (wc / ws) / len(z))


def mcc(z_true, w, return_matching: bool = False):
    """Mean correlation coefficient: mean absolute Pearson r after the optimal one-to-one matching.

    Each column of ``z_true`` is matched to a distinct column of ``w`` (Hungarian algorithm on
    the absolute correlation matrix), so a permuted, rescaled and shifted copy scores 1.

    Arguments:
        z_true: true latents, ``(N, n)``.
        w: estimated latents, ``(N, d)`` with ``d >= n``.
        return_matching: also return the matched column of ``w`` for each column of ``z_true``
            and the per-pair correlations.

    Returns:
        The MCC in [0, 1]; with ``return_matching``, ``(mcc, columns, correlations)``.

    References:
        Khemakhem et al. (2019), §6; Hyvärinen & Morioka (2016).
    """
    z = _array(z_true, "z_true")
    w = _array(w, "w")
    if len(z) != len(w):
        raise ValueError(f"z_true has {len(z)} samples but w has {len(w)}")
    if w.shape[1] < z.shape[1]:
        raise ValueError(f"w needs at least as many variables as z_true ({z.shape[1]}), got {w.shape[1]}")
    corr = _abs_correlation(z, w)
    rows, cols = linear_sum_assignment(-corr)
    score = float(corr[rows, cols].mean())
    if return_matching:
        return score, cols, corr[rows, cols]
    return score


def align_to(z_true, w, columns=None) -> np.ndarray:
    """The variables of ``w`` matched to ``z_true``, flipped and affinely rescaled to match it (for plots).

    Arguments:
        z_true: ``(N, n)``.
        w: ``(N, d)``.
        columns: columns of ``w`` to use (default: the MCC matching).

    Returns:
        ``(N, n)``: for each true variable, its matched w fitted by least squares ``a w + b``.
    """
    z = _array(z_true, "z_true")
    w = _array(w, "w")
    if columns is None:
        _, columns, _ = mcc(z, w, return_matching=True)
    out = np.empty_like(z)
    for i, j in enumerate(columns):
        a, b = np.polyfit(w[:, j], z[:, i], 1)
        out[:, i] = a * w[:, j] + b
    return out


@dataclass
class AffineFit:
    r"""Least-squares fit of eq. (17): :math:`(z, z^2) = A\,(w, w^2) + c` on standardised variables.

    Attributes:
        A: the fitted ``(2n, 2d)`` matrix, blocks ``A1 = A[:n, :d]`` etc. as in eq. (18).
        c: the fitted offset, ``(2n,)``.
        r2: coefficient of determination of each row, ``(2n,)``.
        columns: for each true variable, the w column with the largest ``|A1|`` entry in its row.
        row_share: per true variable, the share of its row's squared ``A1`` mass in that one
            entry (1 for the sparse form of Appendix B).
        offrow_share: per true variable, the share of the whole row of ``A`` (both blocks)
            in that one entry.
        square_share: per true variable, the share of the row of :math:`z_i^2` held by the
            entries of its tied w and that w's square (1 for the sparse form: :math:`z_i^2 =
            a_i^2 w_j^2 + 2 a_i b_i w_j + b_i^2`).
        distinct: whether the true variables are tied to distinct w.
    """

    A: np.ndarray
    c: np.ndarray
    r2: np.ndarray
    columns: np.ndarray
    row_share: np.ndarray
    offrow_share: np.ndarray
    square_share: np.ndarray
    distinct: bool

    @property
    def is_sparse(self) -> bool:
        """The sparse form of eq. (4), in both blocks: each true variable tied to one distinct w_j, holding at
        least 90% of the squared mass of the row of z_i (over w and w², so A2 ≈ 0), and at least 90% of the
        row of z_i² on w_j and w_j²."""
        return bool(self.distinct and np.all(self.offrow_share > 0.9) and np.all(self.square_share > 0.9))


def affine_fit(z_true, w) -> AffineFit:
    """Regress the sufficient statistics ``(z, z^2)`` of the true latents on ``(w, w^2)`` (eq. 4).

    Both z and w are standardised first so that the entries of A are comparable. Appendix B
    proves that at the optimum, the block ``A2`` (``z`` on ``w^2``) vanishes and every row of
    ``A1`` has exactly one non-zero entry, in distinct columns: ``z_i = a_i w_j + b_i``.

    Arguments:
        z_true: true latents, ``(N, n)`` (pass only the informative ones).
        w: estimated latents, ``(N, d)``.

    Returns:
        An :class:`AffineFit`.

    References:
        Sorrenson et al. (2020), eq. (4), eqs. (17)-(28) of Appendix B.
    """
    z = _array(z_true, "z_true")
    w = _array(w, "w")
    if len(z) != len(w):
        raise ValueError(f"z_true has {len(z)} samples but w has {len(w)}")
    zs = (z - z.mean(0)) / z.std(0)
    ws = (w - w.mean(0)) / w.std(0)
    n, d = z.shape[1], w.shape[1]
    targets = np.hstack([zs, zs**2])
    features = np.hstack([ws, ws**2, np.ones((len(ws), 1))])
    coef, *_ = np.linalg.lstsq(features, targets, rcond=None)
    A, c = coef[:-1].T, coef[-1]
    residual = targets - features @ coef
    r2 = 1 - residual.var(0) / targets.var(0)
    A1 = A[:n, :d]
    columns = np.argmax(np.abs(A1), axis=1)
    picked = A1[np.arange(n), columns] ** 2
    row_share = picked / (A1**2).sum(1)
    offrow_share = picked / (A[:n] ** 2).sum(1)
    rows = np.arange(n)
    squares = A[n:] ** 2
    square_share = (squares[rows, columns] + squares[rows, d + columns]) / squares.sum(1)
    return AffineFit(A, c, r2, columns, row_share, offrow_share, square_share, len(set(columns.tolist())) == n)


def knee_prominence(spectrum, k: int, min_k: int = 5, max_k: int = 200) -> float:
    r"""How much the drop after variable ``k`` stands out: :math:`\log(\sigma_k/\sigma_{k+1})` divided
    by the median drop :math:`\log(\sigma_j/\sigma_{j+1})` over ``min_k <= j < max_k``.

    Exactly 1 on a geometric (straight on a log scale) spectrum; a spectrum with a real knee has
    one drop many times larger than the typical one.
    """
    std = _std(spectrum)
    max_k = min(int(max_k), len(std))
    if not 1 <= min_k <= k < max_k:
        raise ValueError(f"need 1 <= min_k <= k < max_k, got min_k={min_k}, k={k}, max_k={max_k}")
    gaps = np.log(std[:-1]) - np.log(std[1:])
    typical = float(np.median(gaps[min_k - 1 : max_k - 1]))
    return float(gaps[k - 1] / max(typical, 1e-300))
