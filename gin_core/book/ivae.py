r"""iVAE, the reference method for conditional nonlinear ICA, written for a side-by-side test with GIN.

Khemakhem et al. (2020) identify the latent variables of a conditionally factorial model with a
variational autoencoder whose prior depends on the condition u:

.. math::

    p(z \mid u) = \prod_j \mathcal N(z_j;\ \mu_{u,j},\ \sigma^2_{u,j}), \qquad
    p(x \mid z) = \mathcal N(x;\ f(z),\ \sigma_{\text{obs}}^2 I), \qquad
    q(z \mid x, u) = \prod_j \mathcal N(z_j;\ m_j(x, u),\ s_j^2(x, u)),

trained by maximising the evidence lower bound (ELBO)

.. math::

    \log p(x \mid u) \ \ge\ \mathbb E_{q}\big[\log p(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x, u)\,\|\,p(z \mid u)\big).

GIN's paper names two advantages of an invertible network over this model: it needs no latent
dimension, and it optimises the likelihood directly rather than a bound (Sorrenson et al. 2020, §1).
This module makes both claims measurable. Every choice the iVAE paper leaves open is a field of
:class:`IVAESettings` with the value used by the book, decided before any benchmark run:

* prior: a learned table of per-condition means and log-variances (the condition is one of K labels,
  so a table is the most general function of u);
* encoder and decoder: MLPs with ``depth`` hidden layers of ``width`` units and leaky-ReLU slope 0.2;
  the encoder reads ``[x, one_hot(u)]``, the decoder reads z only;
* observation noise: fixed, ``obs_std = 0.1`` per coordinate of the standardised x (public iVAE code
  fixes it too; the value sets the resolution below which the model explains x as noise);
* optimiser: GIN's schedule in the benchmark: Adam, learning rate 1e-2, batch 1000, 30 epochs, the
  learning rate divided by 10 after epoch 10; one reparameterised sample per point. Chosen on a pilot
  data set (linear mixing, n = 5, K = 11, data seed 99, never scored): learning rates 3e-3 and 1e-2
  gave the same MCC (0.83) after 30 epochs; 90 epochs at 3e-3 reached 0.88, so iVAE is not converged
  at GIN's budget, and the comparison is at equal epochs;
* the dimension rule for a model given more latent dimensions than the data have: a latent dimension
  is **active** when its KL term, averaged over the training data, exceeds ``active_kl`` = 0.1 nats.
  An unused dimension has a posterior equal to its prior, so its KL is near 0; a dimension that
  carries a variable of spread >= 0.5 at resolution ~0.1 costs about log(0.5 / 0.1) > 1 nat.

References:
    Khemakhem, Kingma, Monti & Hyvärinen (2020), "Variational autoencoders and nonlinear ICA: a
    unifying framework", AISTATS, §3 (model) and §6 (experiments); Burda, Grosse & Salakhutdinov
    (2016) for the importance-weighted bound; Sorrenson et al. (2020), §1.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..artificial import ArtificialData
from ..metrics import mcc

__all__ = [
    "IVAESettings",
    "IVAE",
    "IVAEFit",
    "TrainingDiverged",
    "train_ivae",
    "evaluate_ivae",
    "count_active",
    "ivae_summary",
    "comparison_table",
    "plot_comparison",
    "plot_dimension_readings",
]

METHODS = {"gin": "GIN", "told": "iVAE told n", "ten": "iVAE, 10 dims"}

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class IVAESettings:
    """Every choice of the iVAE that the paper leaves open (the book's values are the defaults).

    Attributes:
        latent_dim: latent dimensions (the true n when iVAE is told it; 10 to compare with GIN).
        width: units of each hidden layer of encoder and decoder.
        depth: hidden layers of encoder and decoder.
        slope: negative slope of the leaky ReLUs.
        obs_std: fixed standard deviation of the Gaussian observation noise.
        lr: Adam's learning rate.
        n_epochs: passes over the training data.
        milestones: epochs after which the learning rate is divided by 10.
        batch_size: points per step.
        active_kl: nats of mean KL above which a latent dimension counts as active (the dimension rule).
        seed: seed of the initialisation, the shuffling and the reparameterisation noise.
    """

    latent_dim: int
    width: int = 64
    depth: int = 2
    slope: float = 0.2
    obs_std: float = 0.1
    lr: float = 1e-2
    n_epochs: int = 30
    milestones: tuple[int, ...] = (10,)
    batch_size: int = 1000
    active_kl: float = 0.1
    seed: int = 0

    def __post_init__(self):
        for name in ("latent_dim", "width", "depth", "n_epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"IVAESettings.{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("obs_std", "lr", "active_kl"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"IVAESettings.{name} must be > 0, got {getattr(self, name)!r}")

    def record(self) -> dict:
        """The settings as a JSON-ready dict."""
        out = asdict(self)
        out["milestones"] = list(self.milestones)
        return out


def _mlp(n_in: int, n_out: int, width: int, depth: int, slope: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.LeakyReLU(slope)]
    layers.append(nn.Linear(width if depth else n_in, n_out))
    return nn.Sequential(*layers)


def _diag_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp())


class IVAE(nn.Module):
    """The identifiable VAE: a conditional Gaussian prior, a Gaussian encoder and decoder.

    Arguments:
        x_dim: dimension of the data x.
        n_conditions: number of labels u can take (``u`` holds integers ``0 .. n_conditions - 1``).
        settings: the architecture (``latent_dim``, ``width``, ``depth``, ``slope``, ``obs_std``).

    References:
        Khemakhem et al. (2020), §3, eq. (7)-(9).
    """

    def __init__(self, x_dim: int, n_conditions: int, settings: IVAESettings):
        super().__init__()
        if x_dim < 1 or n_conditions < 1:
            raise ValueError(f"x_dim and n_conditions must be positive, got {x_dim} and {n_conditions}")
        d, s = settings.latent_dim, settings
        self.x_dim, self.n_conditions, self.latent_dim = x_dim, n_conditions, d
        self.encoder = _mlp(x_dim + n_conditions, 2 * d, s.width, s.depth, s.slope)
        self.decoder = _mlp(d, x_dim, s.width, s.depth, s.slope)
        self.prior_mean = nn.Parameter(torch.zeros(n_conditions, d))
        self.prior_log_var = nn.Parameter(torch.zeros(n_conditions, d))
        self.register_buffer("obs_log_var", torch.tensor(2 * math.log(s.obs_std)))

    def _check(self, x: torch.Tensor, u: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.x_dim:
            raise ValueError(f"x must have shape (N, {self.x_dim}), got {tuple(x.shape)}")
        if u.shape != (x.shape[0],):
            raise ValueError(f"u must have shape ({x.shape[0]},) (one label per row of x), got {tuple(u.shape)}")
        if u.dtype.is_floating_point or (len(u) and (int(u.min()) < 0 or int(u.max()) >= self.n_conditions)):
            raise ValueError(f"u must hold integer labels in 0..{self.n_conditions - 1}")

    def posterior(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, u), each ``(N, latent_dim)``."""
        self._check(x, u)
        one_hot = nn.functional.one_hot(u.long(), self.n_conditions).to(x.dtype)
        mean, log_var = self.encoder(torch.cat([x, one_hot], 1)).chunk(2, dim=1)
        return mean, log_var

    def prior(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(z | u), each ``(N, latent_dim)``."""
        return self.prior_mean[u.long()], self.prior_log_var[u.long()]

    def kl_terms(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """KL(q(z_j | x, u) || p(z_j | u)) per point and latent dimension, ``(N, latent_dim)``, in nats."""
        m, lv = self.posterior(x, u)
        pm, plv = self.prior(u)
        return 0.5 * (plv - lv + (lv.exp() + (m - pm) ** 2) / plv.exp() - 1)

    def elbo(self, x: torch.Tensor, u: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The evidence lower bound per point, ``(N,)``, in nats (one reparameterised sample).

        Returns:
            ``E_q[log p(x | z)] - KL(q(z | x, u) || p(z | u))``, a lower bound on ``log p(x | u)``.
        """
        m, lv = self.posterior(x, u)
        pm, plv = self.prior(u)
        eps = torch.randn(m.shape, generator=generator, dtype=m.dtype, device=m.device)
        z = m + (0.5 * lv).exp() * eps
        reconstruction = _diag_gaussian_log_prob(x, self.decoder(z), self.obs_log_var).sum(1)
        kl = 0.5 * (plv - lv + (lv.exp() + (m - pm) ** 2) / plv.exp() - 1).sum(1)
        return reconstruction - kl

    @torch.no_grad()
    def importance_bound(self, x: torch.Tensor, u: torch.Tensor, samples: int = 64, seed: int = 0) -> torch.Tensor:
        """The importance-weighted bound on ``log p(x | u)`` per point (Burda et al. 2016), ``(N,)``.

        Tighter than the ELBO and still a lower bound; it approaches ``log p(x | u)`` as ``samples`` grows.
        """
        g = torch.Generator().manual_seed(seed)
        m, lv = self.posterior(x, u)
        pm, plv = self.prior(u)
        z = m + (0.5 * lv).exp() * torch.randn((samples, *m.shape), generator=g, dtype=m.dtype)
        log_w = (
            _diag_gaussian_log_prob(x, self.decoder(z), self.obs_log_var).sum(-1)
            + _diag_gaussian_log_prob(z, pm, plv).sum(-1)
            - _diag_gaussian_log_prob(z, m, lv).sum(-1)
        )
        return torch.logsumexp(log_w, 0) - math.log(samples)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The posterior mean, the iVAE's estimate w of the latent variables, ``(N, latent_dim)``."""
        return self.posterior(x, u)[0]


@dataclass
class IVAEFit:
    """A trained iVAE with its training curve.

    Attributes:
        model: the trained :class:`IVAE`.
        settings: its :class:`IVAESettings`.
        losses: mean negative ELBO per point of each epoch, in nats.
        seconds: wall time of the training.
    """

    model: IVAE
    settings: IVAESettings
    losses: list[float]
    seconds: float


class TrainingDiverged(ValueError):
    """The ELBO became non-finite during training (the benchmark records such a run as a failure)."""


def train_ivae(data: ArtificialData, settings: IVAESettings, progress=None) -> IVAEFit:
    """Train an iVAE on artificial data by maximising the ELBO.

    Arguments:
        data: the training data (``x`` and the condition labels ``u``).
        settings: the model and schedule.
        progress: called with ``(epoch, mean negative ELBO)`` after every epoch (e.g. ``print``), or ``None``.

    Returns:
        An :class:`IVAEFit`.

    Raises:
        TrainingDiverged: the loss became non-finite (the epoch is named).
    """
    torch.manual_seed(settings.seed)
    g = torch.Generator().manual_seed(settings.seed)
    x, u = data.x.float(), data.u.long()
    model = IVAE(x.shape[1], int(data.n_clusters), settings)
    model._check(x, u)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(settings.milestones), gamma=0.1)
    losses = []
    t0 = time.perf_counter()
    for epoch in range(settings.n_epochs):
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for start in range(0, len(x), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            loss = -model.elbo(x[idx], u[idx], g).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        losses.append(total / len(x))
        if not math.isfinite(losses[-1]):
            raise TrainingDiverged(f"the iVAE's loss is {losses[-1]} in epoch {epoch + 1}: training diverged")
        if progress is not None:
            progress(epoch + 1, losses[-1])
    return IVAEFit(model=model, settings=settings, losses=losses, seconds=time.perf_counter() - t0)


def count_active(kl_per_dim, threshold: float) -> int:
    """The dimension rule: latent dimensions whose mean KL exceeds ``threshold`` nats."""
    return int((np.asarray(kl_per_dim) > threshold).sum())


@torch.no_grad()
def evaluate_ivae(
    fit: IVAEFit, train: ArtificialData, val: ArtificialData | None = None, n_score: int = 20_000
) -> dict:
    """What an iVAE recovered, scored like a GIN run of the benchmark.

    Arguments:
        fit: a trained iVAE.
        train: its training data (``z`` is the ground truth); the first ``n_score`` points are scored.
        val: held-out data for the likelihood bounds, or ``None``.
        n_score: points used for the MCC and the KL spectrum.

    Returns:
        A JSON-ready dict: ``mcc`` (Hungarian matching over all latent dimensions), ``top_mcc``
        (matching among the n dimensions of largest KL), ``kl_spectrum`` (mean KL per dimension,
        sorted, nats), ``n_active`` (the dimension rule), and with ``val`` the held-out ``elbo`` and
        ``iwae`` bounds in nats per dimension of x (negated: comparable with GIN's ``val_nll``).
    """
    model = fit.model.eval()
    n = train.n_informative
    x, u = train.x[:n_score].float(), train.u[:n_score].long()
    z = train.z[:n_score, :n].double().numpy()
    w = model.encode(x, u).double().numpy()
    kl = model.kl_terms(x, u).mean(0).double().numpy()
    order = np.argsort(kl)[::-1]
    score, _, correlations = mcc(z, w, return_matching=True)
    out = {
        "mcc": float(score),
        "correlations": [float(c) for c in correlations],
        "top_mcc": float(mcc(z, w[:, order[: min(n, len(order))]])) if len(order) >= n else float(score),
        "kl_spectrum": [float(k) for k in kl[order]],
        "n_active": count_active(kl, fit.settings.active_kl),
        "seconds": fit.seconds,
        "final_loss": fit.losses[-1],
    }
    if val is not None:
        xv, uv = val.x.float(), val.u.long()
        d = xv.shape[1]
        g = torch.Generator().manual_seed(0)
        out["val_neg_elbo"] = float(
            -torch.cat([model.elbo(xv[i : i + 2000], uv[i : i + 2000], g) for i in range(0, len(xv), 2000)]).mean() / d
        )
        out["val_neg_iwae"] = float(
            -torch.cat(
                [model.importance_bound(xv[i : i + 500], uv[i : i + 500]) for i in range(0, len(xv), 500)]
            ).mean()
            / d
        )
    return out


def ivae_summary(records: list[dict], n: int, kind: str, threshold: float = 0.95) -> dict:
    """One cell's runs of GIN or an iVAE variant in the benchmark's numbers.

    Success is the mixing benchmark's: the top-n MCC is at least ``threshold`` and the dimension is
    right (GIN: the book's knee rule; iVAE with 10 dimensions: :func:`count_active`; iVAE told n:
    the dimension is given, so only the MCC counts).

    Arguments:
        records: one record per data seed (GIN's from the mixing benchmark, or :func:`evaluate_ivae`'s).
        n: the true number of informative variables.
        kind: ``"gin"``, ``"told"`` or ``"ten"``.
        threshold: the top-n MCC a success needs.

    Returns:
        A JSON-ready dict: runs, diverged runs (counted as failures; the medians are over the others),
        successes with a bootstrap interval of the rate, the median top-MCC with its interval, how often
        the dimension was right (for GIN also by the largest drop, with the successes that reading
        gives), the median held-out NLL per dimension over the runs where it is finite (GIN exact; iVAE
        the importance-weighted bound, an upper bound on its NLL) with the count of the others, and the
        median training seconds.
    """
    from .benchmark import bootstrap

    if kind not in ("gin", "told", "ten"):
        raise ValueError(f"kind must be 'gin', 'told' or 'ten', got {kind!r}")
    if not records:
        raise ValueError(f"no {kind} records to summarise")
    diverged = sum(bool(r.get("diverged")) for r in records)
    done = [r for r in records if not r.get("diverged")]
    if not done:
        raise ValueError(f"every {kind} run diverged: nothing to summarise but the count")
    records = done
    top = [r["top_mcc"] for r in records]
    if kind == "gin":
        right = [r["n_informative"] == n for r in records]
        right_gap = [r["n_informative_gap"] == n for r in records]
        nll = [r["val_nll"] for r in records]
    else:
        right = [True] * len(records) if kind == "told" else [r["n_active"] == n for r in records]
        nll = [r["val_neg_iwae"] for r in records]
    hits = [float(ok and t >= threshold) for ok, t in zip(right, top)]
    hits += [0.0] * diverged  # a diverged run is a failure
    finite = [v for v in nll if v is not None and np.isfinite(v)]
    extra = {}
    if kind == "gin":  # GIN read by the largest drop too (the book's knee never reads n = 5 on the benchmark)
        extra["right_dimension_gap"] = int(sum(right_gap))
        extra["successes_gap"] = int(sum(ok and t >= threshold for ok, t in zip(right_gap, top)))
    return extra | {
        "runs": len(records) + diverged,
        "diverged": diverged,
        "successes": int(sum(hits)),
        "success_rate_ci": bootstrap(hits, np.mean),
        "top_mcc_median": float(np.median(top)),
        "top_mcc_ci": bootstrap(top),
        "right_dimension": "given" if kind == "told" else int(sum(right)),
        "val_nll_median": float(np.median(finite)) if finite else float("nan"),
        "val_nll_nonfinite": len(nll) - len(finite),
        "seconds_median": float(np.median([r["seconds"] for r in records])),
    }


def comparison_table(results, cells, seeds) -> tuple[dict, list[str]]:
    """GIN and both iVAE variants on the cells where all three have a record for every seed.

    Arguments:
        results: the records' folder (``mixing_<cell>_gin.json``, ``ivae_<cell>_<variant>.json``).
        cells: cell names, e.g. ``"mlp4_n5_K11"``.
        seeds: the data seeds.

    Returns:
        ``(rows, missing)``: ``{cell: {"gin"|"told"|"ten": ivae_summary(...)}}`` for the complete cells,
        and the cells left out because a record is missing.
    """
    import json
    from pathlib import Path

    def records(name):
        path = Path(results) / name
        found = [r for r in json.loads(path.read_text()) if r["data_seed"] in set(seeds)] if path.is_file() else []
        return found if sorted(r["data_seed"] for r in found) == sorted(seeds) else None

    rows, missing = {}, []
    for cell in cells:
        n = int(cell.rsplit("_", 2)[1][1:])
        found = {"gin": records(f"mixing_{cell}_gin.json")}
        found |= {v: records(f"ivae_{cell}_{v}.json") for v in ("told", "ten")}
        if any(r is None for r in found.values()):
            missing.append(cell)
            continue
        rows[cell] = {kind: ivae_summary(recs, n, kind) for kind, recs in found.items()}
    return rows, missing


def plot_comparison(rows: dict):
    """Top-MCC (median and 95% interval) of GIN and both iVAE variants on each cell; draws only.

    Arguments:
        rows: :func:`comparison_table`'s rows.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.4))
    cells = list(rows)
    for j, (kind, label) in enumerate(METHODS.items()):
        xs = np.arange(len(cells)) + (j - 1) * 0.22
        med = [rows[c][kind]["top_mcc_median"] for c in cells]
        lo = [rows[c][kind]["top_mcc_ci"][0] for c in cells]
        hi = [rows[c][kind]["top_mcc_ci"][1] for c in cells]
        ax.errorbar(xs, med, yerr=[np.subtract(med, lo), np.subtract(hi, med)], fmt="o", capsize=3, label=label)
    ax.set_xticks(range(len(cells)), cells, rotation=20, fontsize=8)
    ax.set_ylabel("top-n MCC (median, 95% CI)")
    ax.set_ylim(0, 1.02)
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_dimension_readings(kl_spectrum, gin_spectrum, n: int, active_kl: float, gin_count: int):
    """How each method reads the number of variables: iVAE's KL per latent dimension, GIN's spectrum.

    Arguments:
        kl_spectrum: iVAE's mean KL per latent dimension, sorted (nats).
        gin_spectrum: GIN's per-variable standard deviations, sorted.
        n: the true number of informative variables.
        active_kl: iVAE's threshold.
        gin_count: the number GIN's knee rule read.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    ranks = np.arange(1, len(kl_spectrum) + 1)
    a.semilogy(ranks, np.maximum(kl_spectrum, 1e-6), "o-")
    a.axhline(active_kl, color="C3", ls="--", label=f"active: KL > {active_kl} nats")
    a.axvline(n + 0.5, color="grey", ls=":", label=f"true n = {n}")
    a.set(xlabel="latent dimension (sorted)", ylabel="mean KL(q || p) [nats]", title="iVAE, 10 latent dimensions")
    a.legend(fontsize=8)
    ranks = np.arange(1, len(gin_spectrum) + 1)
    b.semilogy(ranks, gin_spectrum, "o-", color="C1")
    b.axvline(n + 0.5, color="grey", ls=":", label=f"true n = {n}")
    b.axvline(gin_count + 0.5, color="C3", ls="--", label=f"knee rule: {gin_count}")
    b.set(xlabel="variable (sorted)", ylabel="standard deviation of w", title="GIN")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig
