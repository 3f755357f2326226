r"""More conditions than classes (§4.4.4): the chapter's measurements on a sub-label and a 10-label model.

The paper's last EMNIST paragraph proposes more conditions than the 10 digit classes: sub-labels
(:mod:`gin_core.sublabels`) or soft labels. This module holds what the chapter
``conditions_sublabels`` measures on two networks trained with identical settings, one on the 10
classes and one on the sub-labels:

* how often a condition has fewer than two samples in a batch (:func:`rare_condition_share`);
* the test NLL of the sub-label model, both given its sub-label and given only the class (a
  mixture over the class's sub-labels, :func:`class_mixture_weights`, :func:`sublabel_nll`);
* which variables of the 10-label model survive in the sub-label model (:func:`match_variables`);
* a stated crossbar detector for sevens (:func:`crossbar`) and the crossed fraction of real and
  sampled sevens (:func:`crossed_fraction`, :func:`sample_conditions`).

References:
    Sorrenson et al. (2020), §4.4.4; Khemakhem et al. (2020), Theorem 1 (2n + 1 conditions).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..flows import encode
from ..likelihood import bits_per_dim
from ..model import GIN
from ..sublabels import SubLabels

__all__ = [
    "PAIR",
    "PAIR_COMMAND",
    "SURVIVAL_R",
    "crossbar",
    "wilson_interval",
    "crossed_fraction",
    "rare_condition_share",
    "class_mixture_weights",
    "sublabel_nll",
    "within_class_correlation",
    "match_variables",
    "sample_conditions",
    "load_pair",
    "train_pair",
    "measure_pair",
    "pair_for_scale",
    "record_differences",
    "pair_nll",
    "compare_crossed",
]

# The shipped pair: data/weights/<name>.pt + .json, trained by PAIR_COMMAND.
PAIR = {"labels": "gin_mnist_labels10", "sublabels": "gin_mnist_sublabels40"}
PAIR_COMMAND = (
    "python -m gin_core.training digits --dataset {dataset} --data-root data --epochs {epochs} --lr 3e-4 "
    "--drop {drop} --seed 0{sub} --out runs/{name}"
)
# A 10-label variable survives if its one-to-one partner correlates at least this much (stated in
# bench/results/conditions_mnist_plan.json before the models were trained).
SURVIVAL_R = 0.7


def _longest_run(row: np.ndarray) -> tuple[int, int, int]:
    """Length, first and last column of the longest run of True in a boolean row (0, 0, -1 if none)."""
    padded = np.concatenate([[False], row, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    if len(edges) == 0:
        return 0, 0, -1
    starts, ends = edges[0::2], edges[1::2]
    j = int(np.argmax(ends - starts))  # the first of the longest runs
    return int(ends[j] - starts[j]), int(starts[j]), int(ends[j] - 1)


def crossbar(
    images,
    ink: float = 0.5,
    band: tuple[float, float] = (0.25, 0.85),
    extra: int = 4,
    ratio: float = 2.0,
    side: int = 2,
) -> np.ndarray:
    """Does a seven have a crossbar? A stated rule on the ink of each row.

    Pixels above ``ink`` are ink. Between the first and last inked rows (height H), the rows from
    ``band[0]·H`` to ``band[1]·H`` below the top are the stem's band; in each, take the longest
    horizontal run of ink. The stem's width is the median of those runs. A seven is **crossed**
    if some band row has a run at least ``max(stem + extra, ratio · stem)`` long (a bar, not the
    stem) *and* an earlier band row is stem-only (run at most ``stem + 1``, so the long row is not
    the top bar running into the band) with its centre at least ``side`` pixels inside the long
    run (the bar crosses the stem and sticks out on both sides).

    The defaults were set by eye on the first 400 sevens of the MNIST test set, before any
    model's samples were scored.

    Arguments:
        images: ``(N, H, W)`` or ``(N, 1, H, W)`` in [0, 1] (tensor or array).
        ink, band, extra, ratio, side: the rule's settings, as above.

    Returns:
        ``(N,)`` boolean array.
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W), got {images.shape}")
    if not 0 <= band[0] < band[1] <= 1:
        raise ValueError(f"band must satisfy 0 <= start < end <= 1, got {band}")
    out = np.zeros(len(images), dtype=bool)
    for n, image in enumerate(images > ink):
        rows = np.flatnonzero(image.any(1))
        if len(rows) == 0:
            continue
        height = rows[-1] - rows[0] + 1
        first, last = rows[0] + round(band[0] * height), rows[0] + round(band[1] * height)
        runs = [_longest_run(image[r]) for r in range(first, last + 1)]
        stem = float(np.median([r[0] for r in runs]))
        for j, (length, start, end) in enumerate(runs):
            if length < max(stem + extra, ratio * stem):
                continue
            if any(n2 <= stem + 1 and start + side <= (s2 + e2) / 2 <= end - side for n2, s2, e2 in runs[:j] if n2):
                out[n] = True
                break
    return out


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% for ``z = 1.96``)."""
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"need 0 <= hits <= n and n > 0, got hits={hits}, n={n}")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def crossed_fraction(images) -> dict:
    """Fraction of images that :func:`crossbar` calls crossed, with its 95% Wilson interval."""
    hits = crossbar(images)
    low, high = wilson_interval(int(hits.sum()), len(hits))
    return {"n": len(hits), "crossed": int(hits.sum()), "fraction": float(hits.mean()), "low": low, "high": high}


def rare_condition_share(labels: torch.Tensor, n_conditions: int, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """How often a condition has fewer than two samples in a batch (so its samples leave the loss).

    Shuffles ``labels`` as training does (a fresh permutation per epoch, the last partial batch
    dropped) with a generator seeded by ``seed``. Training also draws its noise from its
    generator, so the batches are not exactly the run's; the run's own count is
    :attr:`gin_core.training.History.excluded`.

    Returns:
        ``{"excluded_share", "batches_affected_share", "mean_per_condition"}``: the share of samples
        left out, the share of batches with at least one left out, and the mean number of samples
        of a condition per batch.
    """
    generator = torch.Generator().manual_seed(int(seed))
    n_batches = labels.shape[0] // batch_size
    excluded = affected = 0
    for _ in range(epochs):
        perm = torch.randperm(labels.shape[0], generator=generator)
        batches = labels[perm[: n_batches * batch_size]].view(n_batches, batch_size)
        counts = torch.zeros(n_batches, n_conditions, dtype=torch.long).scatter_add_(
            1, batches, torch.ones_like(batches)
        )
        lonely = counts == 1
        excluded += int(lonely.sum())
        affected += int(lonely.any(1).sum())
    total = epochs * n_batches
    return {
        "excluded_share": excluded / (total * batch_size),
        "batches_affected_share": affected / total,
        "mean_per_condition": batch_size / n_conditions,
    }


def class_mixture_weights(classes: torch.Tensor, rule: SubLabels) -> torch.Tensor:
    """Mixture weights ``(N, C·s)`` over the sub-labels of each sample's class, by their training shares.

    With these, :meth:`ClassConditionalGaussian.mixture_log_prob` of the sub-label model is the
    density of the code given only the class: :math:`p(w \\mid c) = \\sum_r p(r \\mid c)\\, p(w \\mid c, r)`.
    """
    shares = (rule.sizes / rule.sizes.sum(1, keepdim=True)).double()  # (C, s)
    weights = torch.zeros(classes.shape[0], rule.n_conditions, dtype=torch.float64)
    s = rule.per_class
    for r in range(s):
        weights[torch.arange(classes.shape[0]), classes * s + r] = shares[classes, r]
    return weights


def sublabel_nll(
    net: nn.Module,
    rule: SubLabels,
    x_train: torch.Tensor,
    u_train: torch.Tensor,
    x_test: torch.Tensor,
    u_test: torch.Tensor,
    noise: float = 0.01,
    seed: int = 0,
) -> dict:
    """Test NLL of a sub-label model, given the sub-label and given only the class.

    The sub-label statistics are fitted on the training codes (noise draws from ``seed``); the test
    codes (``seed + 1``) are scored (a) under their own sub-label (assigned by ``rule``) and (b)
    under the mixture of their class's sub-labels (:func:`class_mixture_weights`). (b) is
    comparable with a 10-label model's class-conditional NLL; (a) uses more information than the
    class. GIN is volume preserving, so no log-determinant enters.

    Returns:
        ``{"sublabel": {"nats_per_dim", "bits_per_dim"}, "class_mixture": {...}}``.
    """
    if not getattr(net, "volume_preserving", False):
        raise ValueError("sublabel_nll scores a volume-preserving (GIN) network; this one has a log-determinant")
    model = GIN(net, rule.n_conditions).fit_base(x_train, rule.assign(x_train, u_train), 500, noise, seed)
    d = model.n_dims
    w = model.encode(x_test, 500, noise, seed + 1).double()
    own = -model.base.log_prob(w, rule.assign(x_test, u_test)).mean().item() / d
    mixture = -model.base.mixture_log_prob(w, class_mixture_weights(u_test.cpu(), rule)).mean().item() / d
    return {
        "sublabel": {"nats_per_dim": own, "bits_per_dim": bits_per_dim(own)},
        "class_mixture": {"nats_per_dim": mixture, "bits_per_dim": bits_per_dim(mixture)},
    }


def within_class_correlation(a, b, u) -> np.ndarray:
    """Pooled within-class |Pearson r| between the columns of ``a (N, p)`` and ``b (N, q)``.

    Each column is centred by its class means (classes ``u``) before correlating, so that two
    variables agree only if they vary together *inside* the classes, not merely in their class means.
    """
    a, b = (np.asarray(t.detach().cpu() if hasattr(t, "detach") else t, dtype=np.float64) for t in (a, b))
    u = np.asarray(u.cpu() if hasattr(u, "cpu") else u).astype(int)
    if not len(a) == len(b) == len(u):
        raise ValueError(f"a, b and u need one row per sample; got {len(a)}, {len(b)} and {len(u)}")

    def centred(m):
        out = m.copy()
        for c in np.unique(u):
            out[u == c] -= m[u == c].mean(0)
        std = out.std(0)
        if np.any(std == 0):
            raise ValueError("a variable is constant within every class; its correlation is undefined")
        return out / std

    return np.abs(centred(a).T @ centred(b) / len(a))


def match_variables(w_ref, order_ref, k_ref: int, w_new, order_new, k_new: int, u, threshold: float = SURVIVAL_R):
    """Which informative variables of a reference model reappear in a new model (one-to-one, by |r|).

    Arguments:
        w_ref, w_new: codes of the same images under the two models, ``(N, d)``.
        order_ref, order_new: spectrum orders (``order[j]`` = latent index of variable j+1).
        k_ref, k_new: numbers of informative variables.
        u: the images' classes.
        threshold: a match with ``|r| >= threshold`` counts as surviving.

    Returns:
        ``(rows, new_only, corr)``: one row per reference variable ``{"variable", "partner", "r",
        "survives", "best_r"}`` (variables are 1-based spectrum ranks, ``partner`` ``None`` if
        unmatched), the new model's informative variables whose best |r| with any reference
        variable is below ``threshold``, and the ``(k_ref, k_new)`` |r| matrix.
    """
    a = np.asarray(w_ref)[:, np.asarray(order_ref)[:k_ref]]
    b = np.asarray(w_new)[:, np.asarray(order_new)[:k_new]]
    corr = within_class_correlation(a, b, u)
    rows_i, cols_j = linear_sum_assignment(-corr)
    partner = dict(zip(rows_i.tolist(), cols_j.tolist()))
    rows = []
    for i in range(k_ref):
        j = partner.get(i)
        r = float(corr[i, j]) if j is not None else 0.0
        rows.append(
            {
                "variable": i + 1,
                "partner": None if j is None else j + 1,
                "r": r,
                "survives": bool(r >= threshold),
                "best_r": float(corr[i].max()),
            }
        )
    new_only = [j + 1 for j in range(k_new) if corr[:, j].max() < threshold]
    return rows, new_only, corr


@torch.no_grad()
def sample_conditions(
    model: GIN,
    conditions: torch.Tensor,
    temperature: float = 1.0,
    seed: int = 0,
    dims=None,
) -> torch.Tensor:
    """Decode samples :math:`w \\sim \\mathcal N(\\mu(u), T^2\\sigma^2(u))` of the given conditions.

    As in the paper's Fig. 9, pass the informative variables as ``dims`` to sample only those and
    keep the others at the condition mean (``None``: all variables). Drawn in float64 and decoded
    by the flow's inverse in its own dtype.

    Returns:
        Images ``(N, ...)`` on the CPU, float64.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return model.sample(conditions.cpu(), temperature, generator=generator, dims=dims).double()


def load_pair(device: str | torch.device = "cpu") -> dict:
    """The shipped pair of :data:`PAIR`: ``{"labels": (net, provenance), "sublabels": (net, provenance)}``.

    Both are checked against each other: the same network, seed, schedule, batch size and
    balanced batches, differing only in the conditions.
    """
    from ..weights import load_weights
    from . import settings

    pair = {key: load_weights(settings.weights_dir() / f"{name}.pt", device=device) for key, name in PAIR.items()}
    a, b = pair["labels"][1], pair["sublabels"][1]
    same = ("network", "seed", "batch_size", "noise", "lr", "lr_drops", "epochs_done", "dataset")
    differing = [key for key in same if a[key] != b[key]]
    if differing:
        raise ValueError(f"the shipped pair was not trained with identical settings: {differing} differ")
    for net, _ in pair.values():
        net.eval()
    return pair


def train_pair(
    dataset: str,
    epochs: int,
    drop: int,
    x: torch.Tensor,
    u: torch.Tensor,
    runs: str,
    per_class: int = 4,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict:
    """Train the 10-label and the sub-label Table 3 GIN with identical settings and batches (checkpoints resume).

    Both use balanced batches over the same sub-labels (:func:`gin_core.training.stratified_permutation`),
    seed 0, Adam at 3e-4 divided by 10 at epoch ``drop``, batch 240 and noise 0.01: the settings of
    :data:`PAIR_COMMAND`. Returns ``{"labels": (net, history), "sublabels": (net, history)}``.
    """
    from pathlib import Path

    from ..networks import emnist_gin
    from ..sublabels import fit_sub_labels
    from ..training import train

    rule = fit_sub_labels(x, u, per_class=per_class)
    sub = rule.assign(x, u)
    description = f"{dataset}; {rule.balancing()}"
    out = {}
    for key, labels, n_classes, data in (
        ("labels", u, 10, description),
        ("sublabels", sub, rule.n_conditions, f"{description}; {rule.conditioning()}"),
    ):
        net = emnist_gin(seed=0)
        history = train(
            net,
            x,
            labels,
            n_classes,
            n_epochs=epochs,
            lr=3e-4,
            batch_size=240,
            milestones=(drop,),
            noise=0.01,
            seed=0,
            checkpoint=Path(runs) / f"{PAIR[key]}_{dataset}" / "checkpoint.pt",
            device=device,
            progress=progress,
            dataset=data,
            strata=sub,
        )
        out[key] = (net.eval(), history)
    return out


@torch.no_grad()
def measure_pair(
    nets: dict,
    rule: SubLabels,
    x_train: torch.Tensor,
    u_train: torch.Tensor,
    x_test: torch.Tensor,
    u_test: torch.Tensor,
    n_samples: int = 1000,
    temperature: float = 1.0,
    noise: float = 0.01,
    seed: int = 0,
) -> dict:
    """Everything the chapter measures on the pair, as plain numbers (the bench script stores this).

    Arguments:
        nets: ``{"labels": net, "sublabels": net}``.
        rule: the sub-label rule the sub-label model was trained with.
        x_train, u_train: images whose codes (noise ``noise``, draws from ``seed``) give the
            spectra, the knees and the latent distributions.
        x_test, u_test: images whose codes (noise-free) are matched between the models.
        n_samples: sevens sampled from each model at ``temperature`` (draws from ``seed``), only its
            informative variables sampled (the paper's Fig. 9).

    Returns:
        A dictionary: spectra and counts by the book's knee rule, the matching table, the
        new-only variables, the crossed fractions of real and sampled sevens, and the codes and
        priors needed for the figures (under ``"_objects"``, not serialisable).
    """
    from ..metrics import count_informative, latent_spectrum
    from .atlas import DEFAULT_KNEE

    method, kwargs = DEFAULT_KNEE
    sub_train = rule.assign(x_train, u_train)
    result, objects = {"n_train": len(x_train), "n_test": len(x_test), "conditions": rule.describe()}, {}
    for key, labels, n_conditions in (("labels", u_train, 10), ("sublabels", sub_train, rule.n_conditions)):
        net = nets[key]
        w, _ = encode(net, x_train, 500, noise, seed)
        spectrum = latent_spectrum(w, labels)
        k = count_informative(spectrum, method, **kwargs)
        model = GIN(net, n_conditions)
        model.base.fit(w.double(), labels)
        result[key] = {"k": k, "std": spectrum.std.tolist()}
        objects[key] = {"w_train": w, "spectrum": spectrum, "model": model}
        if key == "sublabels":  # the same codes measured with the 10 classes
            by_class = latent_spectrum(w, u_train)
            result[key]["k_by_class"] = count_informative(by_class, method, **kwargs)
            result[key]["std_by_class"] = by_class.std.tolist()
            objects[key]["class_model"] = GIN(net, 10)
            objects[key]["class_model"].base.fit(w.double(), u_train)
        objects[key]["w_test"], _ = encode(net, x_test, 500, 0.0, seed)
    ref, new = objects["labels"], objects["sublabels"]
    rows, new_only, corr = match_variables(
        ref["w_test"].numpy(),
        ref["spectrum"].order,
        result["labels"]["k"],
        new["w_test"].numpy(),
        new["spectrum"].order,
        result["sublabels"]["k"],
        u_test,
    )
    result["matching"] = {"threshold": SURVIVAL_R, "rows": rows, "new_only": new_only}
    result["survivors"] = sum(r["survives"] for r in rows)
    objects["corr"] = corr
    # crossed sevens: the training set, then samples of class 7 from each model
    result["crossed"] = {"train": crossed_fraction(x_train[u_train == 7])}
    sevens_10 = torch.full((n_samples,), 7)
    shares = rule.sizes[7].double() / rule.sizes[7].sum()
    draws = torch.multinomial(shares, n_samples, replacement=True, generator=torch.Generator().manual_seed(seed))
    sevens_40 = 7 * rule.per_class + draws
    for key, conditions in (("labels", sevens_10), ("sublabels", sevens_40)):
        informative = torch.as_tensor(objects[key]["spectrum"].order[: result[key]["k"]].copy())
        images = sample_conditions(objects[key]["model"], conditions, temperature, seed, dims=informative)
        result["crossed"][key] = crossed_fraction(images)
        objects[key]["sevens"] = images
    result["crossed"]["temperature"] = temperature
    result["crossed"]["sublabel_draws"] = torch.bincount(draws, minlength=rule.per_class).tolist()
    result["_objects"] = objects
    return result


def pair_for_scale(
    scale: str,
    dataset: str,
    x: torch.Tensor,
    u: torch.Tensor,
    runs: str,
    device: str | torch.device = "cpu",
) -> dict:
    """The pair the chapter analyses: trained with the paper's schedule at ``paper`` scale, else the shipped pair.

    Arguments:
        scale: ``"paper"``, ``"cpu"`` or ``"smoke"``.
        dataset: the data set to train on at ``paper`` scale (the shipped pair is MNIST's).
        x, u: the training images and labels (used only at ``paper`` scale).
        runs: the folder of the reader's training runs (checkpoints resume).
        device: where the networks go.

    Returns:
        ``{"nets": {key: net}, "histories": {key: {"loss", "lr", "seconds"}}, "provenance": {key: dict} or
        None, "excluded": int, "drop": int}`` for the keys ``"labels"`` and ``"sublabels"``: ``excluded`` is the
        number of samples the sub-label run left out of its loss (a condition alone in its batch), ``drop`` the
        epoch of the learning-rate drop.
    """
    if scale == "paper":
        trained = train_pair(dataset, epochs=95, drop=45, x=x, u=u, runs=runs, device=device)
        return {
            "nets": {key: net for key, (net, _) in trained.items()},
            "histories": {key: history.as_dict() for key, (_, history) in trained.items()},
            "provenance": None,
            "excluded": int(trained["sublabels"][1].excluded),
            "drop": 45,
        }
    pair = load_pair(device=device)
    provenance = {key: p for key, (_, p) in pair.items()}
    return {
        "nets": {key: net for key, (net, _) in pair.items()},
        "histories": {key: p["history"] for key, p in provenance.items()},
        "provenance": provenance,
        "excluded": int(provenance["sublabels"]["samples_excluded"]),
        "drop": int(provenance["labels"]["lr_drops"][0]),
    }


def record_differences(result: dict, recorded: dict, tol: float = 1e-6) -> list[str]:
    """Where a measurement of the pair (:func:`measure_pair`) differs from a logged one (``conditions_mnist.json``).

    Arguments:
        result: this run's measurement; recorded: the logged one.
        tol: the largest difference of a correlation counted as none.

    Returns:
        One line per difference (empty: the same counts, the same matching and the same crossed counts).
    """
    problems = []
    for key in ("labels", "sublabels"):
        if result[key]["k"] != recorded[key]["k"]:
            problems.append(f"{key}: k = {result[key]['k']}, recorded {recorded[key]['k']}")
    mine, theirs = result["matching"]["rows"], recorded["matching"]["rows"]
    if len(mine) != len(theirs):
        problems.append(f"{len(mine)} matched variables, recorded {len(theirs)}")
    for a, b in zip(mine, theirs):
        if (a["partner"], a["survives"]) != (b["partner"], b["survives"]) or abs(a["r"] - b["r"]) > tol:
            problems.append(f"variable {a['variable']}: {a}, recorded {b}")
    for key in ("train", "labels", "sublabels"):
        if result["crossed"][key]["crossed"] != recorded["crossed"][key]["crossed"]:
            problems.append(
                f"crossed {key}: {result['crossed'][key]['crossed']}, recorded {recorded['crossed'][key]['crossed']}"
            )
    return problems


def pair_nll(pair: dict, rule: SubLabels, x_train, u_train, x_test, u_test) -> dict:
    """Test NLL of the pair in bits per dimension: from the shipped provenance, or measured (at ``paper`` scale).

    Arguments:
        pair: as returned by :func:`pair_for_scale`.
        rule: the sub-label rule.
        x_train, u_train, x_test, u_test: the data, used only when there is no provenance.

    Returns:
        ``{"labels", "class_mixture", "sublabel"}``: the 10-label model given the class, the sub-label model given
        only the class (mixture over its sub-labels), and the sub-label model given the sub-label.
    """
    if pair["provenance"] is not None:
        labels = pair["provenance"]["labels"]["test_nll"]["bits_per_dim"]
        sub = pair["provenance"]["sublabels"]["test_nll_sub_labels"]
    else:
        from ..likelihood import heldout_nll

        nets = pair["nets"]
        labels = heldout_nll(nets["labels"], x_train, u_train, x_test, u_test, n_classes=10, noise=0.01).bits_per_dim
        sub = sublabel_nll(nets["sublabels"], rule, x_train, u_train, x_test, u_test)
    return {
        "labels": float(labels),
        "class_mixture": float(sub["class_mixture"]["bits_per_dim"]),
        "sublabel": float(sub["sublabel"]["bits_per_dim"]),
    }


def compare_crossed(crossed: dict) -> dict:
    """What the crossed fractions of real and sampled sevens say, by the chapter's stated reading.

    Two fractions differ when their 95% intervals do not overlap; a model "holds" the paper's observation
    (few crossed sevens) when its interval lies entirely below half the real sevens' lower bound.

    Arguments:
        crossed: ``{"train", "labels", "sublabels"}``, each ``{"fraction", "low", "high"}`` (:func:`crossed_fraction`).

    Returns:
        ``{"between"}``: the two models compared; ``{"versus_real"}``: both against the real sevens;
        ``{"labels_hold"}``, ``{"sublabels_hold"}``: whether each model's samples hold the observation.
    """
    a, b, real = crossed["labels"], crossed["sublabels"], crossed["train"]
    if a["high"] < b["low"] or b["high"] < a["low"]:
        more = "more" if b["fraction"] > a["fraction"] else "fewer"
        between = f"the two models' intervals do not overlap: the sub-label model makes {more} sevens the detector calls crossed"
    else:
        between = "the two models' intervals overlap: no difference between them is shown"
    below = real["low"] / 2
    return {
        "between": between,
        "versus_real": "both lie far below the real sevens' share"
        if max(a["high"], b["high"]) < below
        else "at least one comes close to the real sevens' share",
        "labels_hold": bool(a["high"] < below),
        "sublabels_hold": bool(b["high"] < below),
    }
