r"""The mixing benchmark: data on which the identifiability tests can fail, calibrated before any training.

On the paper's data the raw coordinates of x already match the true variables (MCC 0.90-0.997), so
a test of GIN there cannot fail. This module measures, for every data set and **before GIN is
trained**, what methods that do not learn a nonlinear unmixing already achieve:

* :func:`baseline_codes`: raw x, PCA, FastICA, the untrained GIN, and :func:`joint_diagonalization`
  (linear multi-condition ICA, the linear analogue of the theorem);
* :func:`chance_band`: the MCC of z itself under random orthogonal and random det-1 linear maps;
* :func:`purity`: for each true variable, the share of its matched estimate's variance that the
  true variable *alone* explains (a flexible one-dimensional regression). Pearson MCC rewards an
  estimate that is linear in its true variable and penalises a monotone distortion that
  identifiability allows; purity is indifferent to the distortion and drops when the estimate
  still depends on other true variables, which is the failure that matters;
* :func:`calibrate`: all of it for one data set, as a JSON-ready record.

:data:`RULE` states which cells count as *discriminating* (their baselines below a stated level);
it is written to the protocol record before GIN is trained (``bench/mixing_benchmark.py``).

The figures (``plot_*``) draw what these functions computed, and each returns the Matplotlib Figure.

References:
    Hyvärinen & Morioka (2016); Khemakhem et al. (2020), §6 (MCC); Cardoso & Souloumiac (1996)
    (joint diagonalisation by Jacobi rotations); Sorrenson et al. (2020), §3 and §4.3.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import special_ortho_group

from ..artificial import ArtificialData
from ..flows import encode
from ..metrics import mcc
from ..networks import artificial_gin

__all__ = [
    "RULE",
    "purity",
    "chance_band",
    "joint_diagonalization",
    "baseline_codes",
    "calibrate",
    "is_discriminating",
    "bootstrap",
    "summarise",
    "score_table",
    "cell_records",
    "benchmark_tables",
    "plot_calibration_map",
    "plot_raw_against_gin",
    "plot_success_curves",
    "condition_sweep",
    "heldout_agreement",
    "plot_condition_sweep",
]

# Written before any GIN run of the benchmark: a cell (mixing family, n) is discriminating when the
# median over its data seeds of the best baseline's MCC is below `max_baseline_mcc`. The baselines are
# the methods that learn no nonlinear unmixing: raw x, PCA, FastICA and the untrained GIN.
RULE = {
    "baselines": ("raw_x", "pca", "fastica", "untrained_gin"),
    "max_baseline_mcc": 0.80,
    "statistic": "median over the cell's data seeds of the largest baseline MCC",
}


def purity(z: np.ndarray, w: np.ndarray, columns, window: int = 101) -> np.ndarray:
    """Share of each matched estimate's variance explained by its true variable alone.

    For true variable i and its matched estimate ``w[:, columns[i]]``, the conditional mean
    :math:`E[w \\mid z_i]` is estimated by averaging w in ``bins`` equal-count bins of :math:`z_i`;
    the score is :math:`1 - \\mathrm{Var}(w - E[w \\mid z_i]) / \\mathrm{Var}(w)`. Any function of
    :math:`z_i` alone (monotone or not) scores 1; dependence on the other true variables, or noise,
    lowers it.

    Arguments:
        z: true variables ``(N, n)``.
        w: estimates ``(N, d)``.
        columns: the matched column of ``w`` for each true variable (:func:`gin_core.mcc`).
        window: neighbours in each local fit.

    Returns:
        ``(n,)`` scores in [0, 1].
    """
    z, w = np.asarray(z, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if len(z) != len(w) or len(columns) != z.shape[1]:
        raise ValueError(f"need z (N, n), w (N, d) and n columns; got {z.shape}, {w.shape}, {len(columns)}")
    out = np.empty(z.shape[1])
    for i, j in enumerate(columns):
        order = np.argsort(z[:, i], kind="stable")
        a, b = z[order, i], w[order, j]
        out[i] = max(0.0, 1.0 - (b - _local_linear(a, b, window)).var() / b.var())
    return out


def _local_linear(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Least-squares line through each point's ``window`` nearest neighbours in sorted ``a``, evaluated there."""
    n, half = len(a), window // 2
    lo = np.clip(np.arange(n) - half, 0, max(n - window, 0))
    hi = np.minimum(lo + window, n)
    cum = [np.r_[0.0, np.cumsum(v)] for v in (np.ones(n), a, b, a * a, a * b)]
    s0, s1, sb, s2, sab = (c[hi] - c[lo] for c in cum)
    var = s2 - s1 * s1 / s0
    slope = np.where(var > 1e-12 * np.maximum(s2, 1e-300), (sab - s1 * sb / s0) / np.where(var > 0, var, 1), 0.0)
    return sb / s0 + slope * (a - s1 / s0)


def chance_band(z: np.ndarray, n: int, draws: int = 100, seed: int = 0) -> dict:
    """MCC of the n true variables against random linear maps of the whole latent z.

    Two families: Haar-random rotations, and random det-1 maps (Gaussian matrices rescaled to
    :math:`|\\det| = 1`, the linear maps a volume-preserving model can represent). An estimate
    inside this band has found nothing a random linear map would not.

    Arguments:
        z: the full latent ``(N, d)`` (informative first).
        n: informative variables.
        draws: maps of each family.
        seed: seed of the draws.

    Returns:
        ``{"rotation": [5%, 50%, 95%], "det1": [5%, 50%, 95%]}`` of the MCC.
    """
    z = np.asarray(z, dtype=np.float64)
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    out = {}
    for family in ("rotation", "det1"):
        scores = []
        for _ in range(draws):
            if family == "rotation":
                m = special_ortho_group.rvs(d, random_state=rng)
            else:
                m = rng.standard_normal((d, d))
                m /= abs(np.linalg.det(m)) ** (1 / d)
            scores.append(mcc(z[:, :n], z @ m.T))
        out[family] = [float(q) for q in np.percentile(scores, [5, 50, 95])]
    return out


def joint_diagonalization(x: np.ndarray, u: np.ndarray, sweeps: int = 100, tol: float = 1e-12) -> np.ndarray:
    """Linear multi-condition ICA: the rotation of whitened x that jointly diagonalises the class covariances.

    If x = A z with z independent within each class, the class covariances of z are diagonal; after
    whitening with the mean within-class covariance, the class covariances are diagonalised by one
    orthogonal matrix, which is unique when the variance ratios differ across classes (the linear
    case of the identifiability theorem). Jacobi rotations
    minimise the off-diagonal energy of all class covariances together (Cardoso & Souloumiac 1996).

    Arguments:
        x: data ``(N, d)``.
        u: class labels ``(N,)``.
        sweeps: the most Jacobi sweeps.
        tol: stop when no rotation angle exceeds this.

    Returns:
        The estimated components ``(N, d)``.
    """
    x = np.asarray(x, dtype=np.float64)
    u = np.asarray(u)
    classes = [c for c in np.unique(u) if (u == c).sum() > 1]
    covs = np.stack([np.cov(x[u == c], rowvar=False) for c in classes])
    # whiten with the mean *within-class* covariance: diagonal in z, so whitened classes differ by a rotation
    evals, evecs = np.linalg.eigh(covs.mean(0))
    whitening = evecs / np.sqrt(np.maximum(evals, 1e-300))
    white = (x - x.mean(0)) @ whitening
    covs = whitening.T @ covs @ whitening
    d = x.shape[1]
    v = np.eye(d)
    for _ in range(sweeps):
        largest = 0.0
        for p in range(d - 1):
            for q in range(p + 1, d):
                g = np.stack([covs[:, p, p] - covs[:, q, q], covs[:, p, q] + covs[:, q, p]], axis=1)
                gg = g.T @ g
                ton, toff = gg[0, 0] - gg[1, 1], gg[0, 1] + gg[1, 0]
                theta = 0.5 * np.arctan2(toff, ton + np.sqrt(ton * ton + toff * toff))
                c, s = np.cos(theta), np.sin(theta)
                largest = max(largest, abs(s))
                if abs(s) > tol:
                    rot = np.eye(d)
                    rot[[p, p, q, q], [p, q, p, q]] = [c, -s, s, c]
                    covs = rot.T @ covs @ rot
                    v = v @ rot
        if largest <= tol:
            break
    return white @ v


def baseline_codes(data: ArtificialData, seed: int = 0) -> dict[str, np.ndarray]:
    """The codes of every method that learns no nonlinear unmixing, and of linear multi-condition ICA.

    Arguments:
        data: the data set (its x and u; z is not used).
        seed: random state of FastICA.

    Returns:
        ``{"raw_x", "pca", "fastica", "untrained_gin", "joint_diag"}`` -> codes ``(N, d)``.
    """
    from sklearn.decomposition import PCA, FastICA

    x = data.x.double().numpy()
    untrained = artificial_gin(seed=0)  # the identity start of every GIN run: a permutation of x
    return {
        "raw_x": x,
        "pca": PCA(n_components=x.shape[1]).fit_transform(x),
        "fastica": FastICA(
            n_components=x.shape[1], random_state=seed, max_iter=1000, whiten="unit-variance"
        ).fit_transform(x),
        "untrained_gin": encode(untrained, data.x)[0].double().numpy(),
        "joint_diag": joint_diagonalization(x, data.u.numpy()),
    }


def calibrate(data: ArtificialData, n_score: int = 20_000, seed: int = 0) -> dict:
    """Everything known about a data set before GIN is trained on it, as a JSON-ready record.

    Arguments:
        data: the training data.
        n_score: points used for the scores (the first ``n_score``).
        seed: seed of FastICA and of the chance band's draws.

    Returns:
        ``{"methods": {name: {"mcc", "purity"}}, "best_baseline_mcc", "linear_r2", "chance"}``.
    """
    part = data if len(data.x) <= n_score else data.subset(slice(0, n_score))
    n = data.n_informative
    z = part.z[:, :n].double().numpy()
    methods = {}
    for name, w in baseline_codes(part, seed).items():
        score, columns, _ = mcc(z, w, return_matching=True)
        methods[name] = {"mcc": score, "purity": float(purity(z, w, columns).mean())}
    x = np.c_[part.x.double().numpy(), np.ones(len(part.x))]
    fitted = x @ np.linalg.lstsq(x, z, rcond=None)[0]
    linear_r2 = float(np.mean(1 - ((z - fitted) ** 2).sum(0) / ((z - z.mean(0)) ** 2).sum(0)))
    return {
        "methods": methods,
        "best_baseline_mcc": max(methods[b]["mcc"] for b in RULE["baselines"]),
        "linear_r2": linear_r2,
        "chance": chance_band(part.z.double().numpy(), n, seed=seed),
    }


def is_discriminating(calibrations: list[dict], rule: dict = RULE) -> bool:
    """Whether a cell passes :data:`RULE`: the median of its data sets' best baseline MCC is below the level."""
    if not calibrations:
        raise ValueError("no calibration records for this cell")
    return bool(np.median([c["best_baseline_mcc"] for c in calibrations]) < rule["max_baseline_mcc"])


def bootstrap(values, stat=np.median, draws: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of ``stat`` over the data sets (resampled with replacement).

    Arguments:
        values: one value per data set.
        stat: the statistic (median, mean).
        draws: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        ``[low, high]``.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    boot = [stat(rng.choice(values, len(values))) for _ in range(draws)]
    return [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]


def summarise(records: list[dict], n: int, thresholds=(0.7, 0.8, 0.9, 0.95, 0.99), main: float = 0.95) -> dict:
    """A cell's runs in numbers: successes (with a bootstrap interval), top-MCC, purity and the success curve.

    Success is :func:`gin_core.book.records.success`: the knee rule finds n variables and the
    top-n-spectrum MCC is at least the threshold; the curve gives the count at every threshold for
    both knee rules (``book``: above twice the median; ``max_gap``: the largest drop).

    Arguments:
        records: run records of one cell and method (one per data seed).
        n: the true number of informative variables.
        thresholds: the thresholds of the curve.
        main: the threshold of the headline count.

    Returns:
        A JSON-ready dictionary.
    """
    from .records import success

    if not records:
        raise ValueError("no run records for this cell")
    top = [r["top_mcc"] for r in records]
    hits = [float(success(r, main, "book")) for r in records]
    hits_gap = [float(success(r, main, "max_gap")) for r in records]
    return {
        "runs": len(records),
        "top_mcc_median": float(np.median(top)),
        "top_mcc_ci": bootstrap(top),
        "mcc_median": float(np.median([r["mcc"] for r in records])),
        "purity_median": float(np.median([np.mean(r["purity"]) for r in records])),
        "right_dimension": {
            "book": sum(r["n_informative"] == n for r in records),
            "max_gap": sum(r["n_informative_gap"] == n for r in records),
        },
        "successes": int(sum(hits)),
        "success_rate_ci": bootstrap(hits, np.mean),
        "successes_max_gap": int(sum(hits_gap)),
        "success_rate_max_gap_ci": bootstrap(hits_gap, np.mean),
        "success_curve": {
            knee: [sum(success(r, t, knee) for r in records) for t in thresholds] for knee in ("book", "max_gap")
        },
        "thresholds": list(thresholds),
    }


def score_table(table: dict, methods, seeds) -> str:
    """The Markdown table of the chapter and of ``bench/mixing_benchmark.py score``.

    Arguments:
        table: ``{cell: {"best_baseline_mcc_median", "joint_diag_mcc_median", method: summarise(...)}}``.
        methods: the methods to show, in order.
        seeds: the data seeds scored (for the caption line).

    Returns:
        The caption line and the table.
    """
    lines = [
        f"data seeds {min(seeds)}-{max(seeds)}; successes: the knee finds n and the top-n MCC >= 0.95, counted "
        "with the book's knee / with the largest drop; top-MCC: median [95% bootstrap interval]",
        "",
        "| cell | best baseline MCC | joint diag. MCC | "
        + " | ".join(f"{m}: successes, top-MCC" for m in methods)
        + " |",
        "|---|---|---|" + "---|" * len(methods),
    ]
    for cell, row in table.items():
        parts = [
            f"{row[m]['successes']} / {row[m]['successes_max_gap']} of {row[m]['runs']}, {row[m]['top_mcc_median']:.3f} "
            f"[{row[m]['top_mcc_ci'][0]:.3f}, {row[m]['top_mcc_ci'][1]:.3f}]"
            for m in methods
        ]
        calibrated = [
            f"{row[key]:.3f}" if key in row else "not calibrated"
            for key in ("best_baseline_mcc_median", "joint_diag_mcc_median")
        ]
        lines.append(f"| {cell} | " + " | ".join(calibrated + parts) + " |")
    return "\n".join(lines)


def cell_records(results, cell: str, method: str, seeds) -> list[dict] | None:
    """A cell's run records of one method for exactly these data seeds, or ``None`` if any is missing.

    Arguments:
        results: the records' folder (``bench/results``).
        cell: e.g. ``"mlp2_n5_K11"``.
        method: ``"gin"``, ``"glow"``, ``"shared"`` or ``"permuted"`` (file ``mixing_<cell>_<method>.json``).
        seeds: the data seeds wanted.

    Returns:
        The records, or ``None`` when the file is absent or lacks a seed (a cell is used only whole).
    """
    import json
    from pathlib import Path

    path = Path(results) / f"mixing_{cell}_{method}.json"
    if not path.is_file():
        return None
    records = [r for r in json.loads(path.read_text()) if r["data_seed"] in set(seeds)]
    return records if sorted(r["data_seed"] for r in records) == sorted(seeds) else None


def benchmark_tables(
    results, cells, calibration: list[dict], seeds, methods=("gin", "glow"), controls=("shared", "permuted")
):
    """The chapter's tables: every cell's calibration and each method's :func:`summarise`.

    Arguments:
        results: the records' folder.
        cells: cell names (the discriminating ones).
        calibration: the calibration records (``mixing_calibration.json``).
        seeds: the data seeds scored.
        methods: methods every cell must have (an incomplete one is an error).
        controls: methods reported where all of them are complete.

    Returns:
        ``(table, control_table, curves, missing)``: rows for :func:`score_table`, the rows of the cells
        whose controls are complete, the success curves by ``"<cell> <method>"``, and the cells without
        complete controls.

    Raises:
        ValueError: a method's runs of a cell are incomplete.
    """
    table, control_table, curves = {}, {}, {}
    for cell in cells:
        mixing, n, k = cell.rsplit("_", 2)
        n, k = int(n[1:]), int(k[1:])
        cal = [c for c in calibration if (c["mixing"], c["n"], c["K"]) == (mixing, n, k) and c["seed"] in seeds]
        row = {}
        if cal:  # seeds without a calibration record (e.g. held-out seeds scored later) have no baseline row
            row["best_baseline_mcc_median"] = float(np.median([c["best_baseline_mcc"] for c in cal]))
            row["joint_diag_mcc_median"] = float(np.median([c["methods"]["joint_diag"]["mcc"] for c in cal]))
        for method in methods:
            records = cell_records(results, cell, method, seeds)
            if records is None:
                raise ValueError(f"the {method} runs of {cell} are incomplete for seeds {list(seeds)}")
            row[method] = summarise(records, n)
            curves[f"{cell} {method}"] = {**row[method]["success_curve"], "runs": len(records)}
        table[cell] = row
        done = {m: cell_records(results, cell, m, seeds) for m in controls}
        if all(r is not None for r in done.values()):
            control_table[cell] = {**row, **{m: summarise(done[m], n) for m in controls}}
    missing = [c for c in cells if c not in control_table]
    return table, control_table, curves, missing


def condition_sweep(results, mixing: str, n: int, ks, seeds) -> dict[int, dict]:
    """GIN over the number of conditions K on one mixing family: :func:`summarise` of each complete K.

    Arguments:
        results: the records' folder (``mixing_<mixing>_n<n>_K<k>_gin.json``).
        mixing, n: the family and the number of informative variables.
        ks: the condition counts wanted.
        seeds: the data seeds.

    Returns:
        ``{K: summary}`` for the K whose records hold every seed (the others are left out).
    """
    out = {}
    for k in ks:
        records = cell_records(results, f"{mixing}_n{n}_K{k}", "gin", seeds)
        if records is not None:
            out[int(k)] = summarise(records, n)
    return out


def heldout_agreement(training: dict, heldout: dict, method: str = "gin") -> dict[str, bool]:
    """Per cell: is the held-out seeds' median top-MCC inside the training seeds' 95% interval?

    Arguments:
        training, heldout: :func:`benchmark_tables` tables of the same cells on two seed lists.
        method: the method compared.

    Returns:
        ``{cell: inside}`` for the cells in both tables.
    """
    out = {}
    for cell in training:
        if cell in heldout:
            low, high = training[cell][method]["top_mcc_ci"]
            out[cell] = bool(low <= heldout[cell][method]["top_mcc_median"] <= high)
    return out


# ---------------------------------------------------------------------------------------------
# Figures (they draw what the functions above computed)


def plot_calibration_map(cells: dict, mixings, ns=(2, 5), level: float = RULE["max_baseline_mcc"]):
    """Heat map of each cell's median best-baseline MCC, the discriminating cells outlined.

    Arguments:
        cells: the protocol's ``cells`` (``{"<mixing>_n<n>_K<K>": {"median_best_baseline_mcc", "discriminating"}}``).
        mixings: the mixing families, in row order.
        ns: the numbers of informative variables, in column order.
        level: the rule's level (shown in the title).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    names = {(name.rsplit("_", 2)[0], int(name.rsplit("_", 2)[1][1:])): name for name in cells}
    grid = np.array([[cells[names[m, n]]["median_best_baseline_mcc"] for n in ns] for m in mixings])
    fig, ax = plt.subplots(figsize=(4.8, 0.45 * len(mixings) + 1.2))
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i, m in enumerate(mixings):
        for j, n in enumerate(ns):
            cell = cells[names[m, n]]
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w" if grid[i, j] < 0.6 else "k")
            if cell["discriminating"]:
                ax.add_patch(plt.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, ec="r", lw=2))
    ax.set_xticks(range(len(ns)), [f"n = {n}" for n in ns])
    ax.set_yticks(range(len(mixings)), mixings)
    ax.set_title(f"best baseline MCC (median); red: below {level}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    return fig


def plot_raw_against_gin(z, raw, gin, titles=("best raw coordinate of x", "GIN's matched variable")):
    """Scatter of each true variable against its best raw coordinate (top row) and GIN's variable (bottom row).

    Arguments:
        z: true informative variables ``(N, n)``.
        raw, gin: the matched columns, ``(N, n)`` each (already matched to z).
        titles: the two rows' labels.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    z, raw, gin = (np.asarray(a, dtype=float) for a in (z, raw, gin))
    n = z.shape[1]
    keep = np.random.default_rng(0).permutation(len(z))[:3000]
    fig, axes = plt.subplots(2, n, figsize=(2.1 * n, 4.4), squeeze=False)
    for row, (values, title) in enumerate(zip((raw, gin), titles)):
        for i in range(n):
            ax = axes[row, i]
            ax.scatter(z[keep, i], values[keep, i], s=1, alpha=0.4, rasterized=True)
            r = abs(np.corrcoef(z[:, i], values[:, i])[0, 1])
            ax.set_title(f"$z_{i + 1}$: |r| = {r:.2f}", fontsize=8)
            ax.tick_params(labelsize=6)
        axes[row, 0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    return fig


def plot_success_curves(curves: dict, thresholds):
    """Successes against the MCC threshold, one line per (cell, method), one panel per knee rule.

    Arguments:
        curves: ``{label: {"book": counts, "max_gap": counts, "runs": N}}``.
        thresholds: the thresholds of the counts.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, knee in zip(axes, ("book", "max_gap")):
        for label, curve in curves.items():
            ax.plot(thresholds, np.asarray(curve[knee]) / curve["runs"], marker="o", ms=3, label=label)
        ax.set_xlabel("top-MCC threshold")
        ax.set_title("book's knee (2x the median)" if knee == "book" else "largest drop", fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel("share of data sets recovered")
    axes[1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig


def plot_condition_sweep(sweeps: dict):
    """Top-n MCC (median, 95% interval) and the right-dimension count against K, one line per family.

    Arguments:
        sweeps: ``{label: (n, condition_sweep(...))}``.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for j, (label, (n, rows)) in enumerate(sweeps.items()):
        ks = sorted(rows)
        med = np.array([rows[k]["top_mcc_median"] for k in ks])
        ci = np.array([rows[k]["top_mcc_ci"] for k in ks])
        a.errorbar(ks, med, yerr=[med - ci[:, 0], ci[:, 1] - med], fmt="o-", capsize=3, color=f"C{j}", label=label)
        a.axvline(2 * n + 1, color=f"C{j}", ls=":", lw=1)
        b.plot(
            ks, [rows[k]["right_dimension"]["max_gap"] for k in ks], "o-", color=f"C{j}", label=f"{label}, largest drop"
        )
        b.plot(
            ks, [rows[k]["right_dimension"]["book"] for k in ks], "s--", color=f"C{j}", label=f"{label}, book's knee"
        )
        b.axvline(2 * n + 1, color=f"C{j}", ls=":", lw=1)
    a.set(xlabel="conditions K (dotted: 2n + 1)", ylabel="top-n MCC", ylim=(0, 1.02))
    b.set(xlabel="conditions K (dotted: 2n + 1)", ylabel="data sets with n read right")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig
