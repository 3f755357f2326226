r"""Testing the theory's predictions on artificial data: the knee's origin, a negative control, and nk + 1 conditions.

Three helpers for the chapter ``theory_predictions``:

* **the knee at initialisation**: :func:`initial_evaluation` measures a network before training
  (epoch 0) exactly as :func:`~gin_core.book.runs.evaluate_run` measures it after;
* **the exact symmetry of the negative control**: when every condition shares one Gaussian
  covariance :math:`D^2`, the volume-preserving map :math:`S = D R D^{-1}` (R a rotation) maps every
  class to a factorial Gaussian with the same variances, so the likelihood cannot tell
  :math:`w = z` from :math:`w = Sz` (:func:`symmetry_check`); when the variances differ between
  conditions (the paper's data), it can;
* **tables from logged records** that refuse to summarise an incomplete sweep
  (:func:`require_complete`, :func:`summarise`, :func:`conditions_rows`).

All likelihood computations are in float64.

References:
    Sorrenson et al. (2020), §3.1 (condition (ii), nk + 1 conditions), §3.3 and §4.3,
    Appendix A.1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._checks import as_float64
from ..artificial import REFERENCE_POINTS, ArtificialData
from ..loss import class_conditional_nll
from ..metrics import mcc
from .records import filter_records, load_records, results_path, success
from .restarts import seed_sweep
from .runs import Evaluation, evaluate_run, make_learner, split_data
from .theory import max_identifiable_dims, rotation_2d

__all__ = [
    "KNEE_SEEDS",
    "KNEE_INITS",
    "CONTROL_SEEDS",
    "CONDITION_SEEDS",
    "CONDITIONS",
    "CONDITION_POINTS",
    "TRAINING",
    "KNEE_EVAL_EPOCHS",
    "COMMANDS",
    "require_complete",
    "summarise",
    "record_data",
    "initial_evaluation",
    "initial_evaluations",
    "initial_point",
    "trajectory_with_start",
    "parameter_gradient",
    "symmetry_map",
    "factorial_fit",
    "model_nll",
    "batch_nll",
    "population_change",
    "SymmetryCheck",
    "symmetry_check",
    "symmetry_scan",
    "conditions_rows",
    "chapter_runs",
    "knee_rows",
    "conditions_table",
]

KNEE_SEEDS = tuple(range(10, 15))
#: the starts trained for the knee-origin question
KNEE_INITS = ("identity", "scrambled", "random")
CONTROL_SEEDS = tuple(range(10, 15))
CONDITION_SEEDS = tuple(range(30, 35))
#: informative variables n -> numbers of conditions M of the conditions sweep
CONDITIONS = {2: (3, 5, 7), 4: (5, 9, 12)}
#: training and held-out points of the conditions sweep (fewer than the paper's 100,000, for compute)
CONDITION_POINTS = (30_000, 3_000)
#: the training schedule of every sweep of the chapter (30 epochs, lr 1e-2 divided by 10 after epoch 10)
TRAINING = dict(n_epochs=30, lr=1e-2, milestones=(10,))
KNEE_EVAL_EPOCHS = (5, 10, 15, 20, 25)
_SWEEP = "OMP_NUM_THREADS=1 python bench/artificial_sweep.py"
#: the commands that wrote the logged records (one line each)
COMMANDS = {
    "knee_origin": [
        f"{_SWEEP} --name knee_origin --data-seeds 10-14 --epochs 30 --drop 10 --init {init} --eval-every 5"
        for init in KNEE_INITS
        if init != "identity"  # the identity start is the standard run of exp1_drop10_dev
    ],
    "exp1_drop10_dev": [f"{_SWEEP} --eval-every 0 --name exp1_drop10_dev --data-seeds 10-19 --epochs 30 --drop 10"],
    "negative_control": [
        f"{_SWEEP} --name negative_control --variances shared --data-seeds 10-14 --epochs 30 --drop 10 --eval-every 0"
    ],
    "conditions": [
        f"{_SWEEP} --name conditions --n-latent {n} --clusters {k} --data-seeds 30-34 --epochs 30 --drop 10 "
        f"--n-points {CONDITION_POINTS[0]} --n-val {CONDITION_POINTS[1]} --eval-every 0"
        for n, ks in CONDITIONS.items()
        for k in ks
    ],
}


def require_complete(records: list[dict], **values) -> list[dict]:
    """Check that ``records`` hold exactly one run for every combination of the given setting values.

    Arguments:
        records: sweep records (:func:`~gin_core.book.runs.run_record`).
        **values: for each setting, the values the sweep must cover, e.g.
            ``init=("identity", "random"), data_seed=range(10, 15)``.

    Returns:
        The records, one per combination, in the order of :func:`itertools.product` of the values.

    Raises:
        ValueError: a combination has no record (the sweep is incomplete, e.g. still running) or
            more than one; the message lists them.
    """
    if not values:
        raise ValueError("name at least one setting whose values the records must cover")
    keys = list(values)
    for key in keys:
        if records and key not in records[0]:
            raise KeyError(f"records have no field {key!r}")
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    combos = list(itertools.product(*(list(values[k]) for k in keys)))

    def name(combo):
        return "(" + ", ".join(f"{k}={v!r}" for k, v in zip(keys, combo)) + ")"

    missing = [name(c) for c in combos if c not in groups]
    if missing:
        raise ValueError(
            f"incomplete records: no run for {len(missing)} of {len(combos)} settings: {', '.join(missing)} "
            "(is the sweep that writes them still running?)"
        )
    doubled = [name(c) for c in combos if len(groups[c]) > 1]
    if doubled:
        raise ValueError(f"more than one run for {', '.join(doubled)}; filter the records first")
    return [groups[c][0] for c in combos]


def summarise(records: list[dict]) -> dict:
    """Scalar summary of a group of runs: MCCs, detected dimension, gap and successes.

    Arguments:
        records: runs of one setting (at least one).

    Returns:
        A dict with ``runs``, ``median_top_mcc``, ``min_top_mcc``, ``median_mcc``, ``min_mcc``,
        ``right_dim`` (runs whose detected dimension, by the book's knee rule, is ``n_latent``),
        ``frac_right_dim``, ``median_gap`` (n-th over (n+1)-th standard deviation) and
        ``successes`` (:func:`~gin_core.book.records.success`).
    """
    if not records:
        raise ValueError("no records to summarise")
    top = np.array([r["top_mcc"] for r in records])
    full = np.array([r["mcc"] for r in records])
    right = sum(int(r["n_informative"] == r.get("n_latent", 2)) for r in records)
    return {
        "runs": len(records),
        "median_top_mcc": float(np.median(top)),
        "min_top_mcc": float(top.min()),
        "median_mcc": float(np.median(full)),
        "min_mcc": float(full.min()),
        "right_dim": right,
        "frac_right_dim": right / len(records),
        "median_gap": float(np.median([r["gap"] for r in records])),
        "successes": sum(success(r) for r in records),
    }


def record_data(record: dict, n_points: int | None = None) -> ArtificialData:
    """The training data of a logged run, regenerated from its settings.

    Arguments:
        record: a run record (its settings are used, not its results).
        n_points: keep only the first ``n_points`` training points (``None``: all of them, exactly
            the run's training set).

    Returns:
        An :class:`~gin_core.artificial.ArtificialData`.
    """
    train, _ = split_data(
        record["n_clusters"],
        record["n_points"],
        record["data_seed"],
        record["n_val"],
        record.get("n_latent", 2),
        record.get("variances", "random"),
        record.get("mixing_points", REFERENCE_POINTS),
    )
    if n_points is None:
        return train
    if not 2 * train.n_clusters <= n_points <= len(train.x):
        raise ValueError(f"n_points must lie in [{2 * train.n_clusters}, {len(train.x)}], got {n_points}")
    return replace(train, x=train.x[:n_points], u=train.u[:n_points], z=train.z[:n_points])


def initial_evaluation(record: dict, train: ArtificialData | None = None) -> Evaluation:
    """The network of a logged run *before* training, measured as the run is measured after training.

    Builds :func:`~gin_core.book.runs.make_learner` with the run's ``init`` and ``net_seed``
    and evaluates it with :func:`~gin_core.book.runs.evaluate_run` (no affine fit, no
    held-out score): the epoch-0 point of the run's trajectory. Cheap: one pass over the data.

    Arguments:
        record: a run record (its settings are used, not its results).
        train: the data to encode (default: the run's training data, :func:`record_data`); pass a
            prefix of it to save time.

    Returns:
        An :class:`~gin_core.book.runs.Evaluation`.

    References:
        Sorrenson et al. (2020), §4.3.1 and Table 2 (the network).
    """
    train = record_data(record) if train is None else train
    if train.seed != record["data_seed"] or train.n_clusters != record["n_clusters"]:
        raise ValueError("train is not the data of this record (other data seed or number of clusters)")
    net = make_learner(record.get("init", "identity"), record["volume_preserving"], record["net_seed"])
    return evaluate_run(net, train, None, with_affine=False)


def initial_evaluations(records: list[dict], n_points: int | None = None) -> list[Evaluation]:
    """:func:`initial_evaluation` of every record, generating each data set once.

    Arguments:
        records: run records.
        n_points: evaluate on the first ``min(n_points, run's training points)`` points (``None``: all).

    Returns:
        One :class:`~gin_core.book.runs.Evaluation` per record, in order.
    """
    data: dict[tuple, ArtificialData] = {}
    out = []
    for r in records:
        fields = ("n_clusters", "n_points", "data_seed", "n_val", "n_latent", "variances", "mixing_points")
        key = tuple(r.get(k) for k in fields)
        if key not in data:
            data[key] = record_data(r, None if n_points is None else min(n_points, r["n_points"]))
        out.append(initial_evaluation(r, data[key]))
    return out


def initial_point(evaluation: Evaluation) -> dict:
    """An epoch-0 trajectory point (the fields of a record's ``trajectory``) from :func:`initial_evaluation`."""
    return {
        "epoch": 0,
        "mcc": evaluation.mcc,
        "top_mcc": evaluation.top_mcc,
        "n_informative": evaluation.n_informative,
        "n_informative_gap": evaluation.n_informative_gap,
        "gap": evaluation.gap,
        "spectrum": [float(s) for s in evaluation.spectrum.std],
    }


def trajectory_with_start(record: dict, start: Evaluation) -> list[dict]:
    """A run's trajectory with its epoch-0 point in front and its final evaluation at the end.

    Records made without intermediate evaluations (``--eval-every 0``) have an empty trajectory;
    they still get the start and the end.

    Arguments:
        record: a run record.
        start: its :func:`initial_evaluation`.

    Returns:
        A list of points with ``epoch``, ``mcc``, ``top_mcc``, ``n_informative``, ``gap``, ...
    """
    points = [initial_point(start), *record.get("trajectory", [])]
    if points[-1]["epoch"] != record["n_epochs"]:
        keys = ("mcc", "top_mcc", "n_informative", "n_informative_gap", "gap", "val_nll", "loss")
        points.append({"epoch": record["n_epochs"], **{k: record.get(k) for k in keys}})
    return points


def parameter_gradient(net: torch.nn.Module, data: ArtificialData) -> torch.Tensor:
    """The gradient of the training loss (batch statistics, all of ``data`` as one batch) with respect to the
    network's trainable parameters, in float64.

    A fixed rescaling of product one appended to a GIN (the ``"scrambled"`` start) shifts the loss by
    :math:`\\sum_i \\log a_i = 0` at every parameter value, so it leaves this gradient unchanged.

    Arguments:
        net: a volume-preserving flow (converted to float64 in place).
        data: the batch (``x``, ``u``, ``n_clusters`` are used).

    Returns:
        The flattened gradient, one entry per trainable parameter.
    """
    net = net.double()
    net.zero_grad(set_to_none=True)
    w, _ = net(data.x.double())
    class_conditional_nll(w, data.u, data.n_clusters).backward()
    return torch.cat([p.grad.flatten() for p in net.parameters() if p.requires_grad and p.grad is not None])


def symmetry_map(stds, rotation) -> np.ndarray:
    r"""The volume-preserving linear map :math:`S = D R D^{-1}` that maps :math:`N(0, D^2)` to itself.

    :math:`S D^2 S^\top = D R R^\top D = D^2` and :math:`\det S = \det R = 1`.

    Arguments:
        stds: the diagonal of D, ``(n,)``, positive.
        rotation: R, ``(n, n)``, orthogonal with determinant +1 (e.g.
            :func:`~gin_core.book.theory.random_rotation`).

    Returns:
        ``(n, n)`` float64.

    References:
        Sorrenson et al. (2020), §3.1, condition (ii) (what fails when it holds for every condition).
    """
    d = as_float64(stds, "stds", ndim=1)
    r = as_float64(rotation, "rotation", ndim=2)
    if r.shape != (len(d), len(d)):
        raise ValueError(f"rotation must be ({len(d)}, {len(d)}) to match stds, got {r.shape}")
    if np.any(d <= 0):
        raise ValueError("stds must be positive")
    if not np.allclose(r @ r.T, np.eye(len(d)), atol=1e-10) or np.linalg.det(r) < 0:
        raise ValueError("rotation must be orthogonal with determinant +1")
    return d[:, None] * r / d[None, :]


def factorial_fit(means, stds, S) -> tuple[np.ndarray, np.ndarray]:
    r"""The factorial Gaussian that best fits each class of :math:`w = Sz` when :math:`z \mid u \sim N(\mu(u), \mathrm{diag}(\sigma(u))^2)`.

    The class of :math:`w` is :math:`N(S\mu(u), S\,\mathrm{diag}(\sigma(u)^2) S^\top)`; its best
    factorial fit (in likelihood) keeps the means and the diagonal of the covariance.

    Arguments:
        means, stds: ``(M, n)``, one row per condition.
        S: ``(n, n)``.

    Returns:
        ``(means_w, stds_w)``, each ``(M, n)``.
    """
    means = as_float64(means, "means", ndim=2)
    stds = as_float64(stds, "stds", ndim=2)
    S = as_float64(S, "S", ndim=2)
    if means.shape != stds.shape or S.shape != (means.shape[1],) * 2:
        raise ValueError(f"need means and stds (M, n) and S (n, n); got {means.shape}, {stds.shape}, {S.shape}")
    var_w = np.einsum("ij,cj,ij->ci", S, stds**2, S)  # diag(S diag(s^2) S^T) per class
    return means @ S.T, np.sqrt(var_w)


def model_nll(w, u, means, stds) -> float:
    r"""Per-dimension NLL of ``w`` under the factorial Gaussian model with the given class parameters (float64).

    :func:`~gin_core.loss.class_conditional_nll` with learned statistics set to
    ``means`` and ``log(stds)``: the loss of eq. (7) for a *given* model, not a batch fit.

    Arguments:
        w: ``(N, n)`` codes.
        u: ``(N,)`` integer labels.
        means, stds: ``(M, n)``.

    Returns:
        The mean NLL in nats per dimension.
    """
    means = torch.from_numpy(as_float64(means, "means", ndim=2))
    stds = torch.from_numpy(as_float64(stds, "stds", ndim=2))
    w = torch.as_tensor(w, dtype=torch.float64)
    with torch.no_grad():
        return float(class_conditional_nll(w, torch.as_tensor(u), means.shape[0], None, means, stds.log()))


def batch_nll(w, u, n_classes: int) -> float:
    """The training loss with batch statistics (the paper's), on all of ``w`` at once, float64, nats per dimension."""
    w = torch.as_tensor(w, dtype=torch.float64)
    return float(class_conditional_nll(w, torch.as_tensor(u), n_classes))


def population_change(stds, S, weights=None) -> float:
    r"""Exact change of the expected loss (nats per dimension) when :math:`w = Sz` replaces :math:`w = z`.

    With the best factorial fit of every class (:func:`factorial_fit`), the expected NLL of class
    u changes by :math:`\tfrac12\big(\sum_i \log (S\Sigma_u S^\top)_{ii} - \log\det\Sigma_u\big)`
    for :math:`\det S = 1`: zero when :math:`S\Sigma_u S^\top` is diagonal, positive otherwise
    (Hadamard's inequality).

    Arguments:
        stds: ``(M, n)`` class standard deviations of z.
        S: ``(n, n)`` with determinant 1.
        weights: class probabilities (default: equal, as the artificial data draw labels).

    Returns:
        The change, averaged over classes and divided by n.
    """
    stds = as_float64(stds, "stds", ndim=2)
    S = as_float64(S, "S", ndim=2)
    if abs(np.linalg.det(S) - 1) > 1e-9:
        raise ValueError(f"S must have determinant 1 (volume preserving), got {np.linalg.det(S)}")
    weights = np.full(len(stds), 1 / len(stds)) if weights is None else as_float64(weights, "weights", ndim=1)
    _, stds_w = factorial_fit(np.zeros_like(stds), stds, S)
    per_class = np.log(stds_w).sum(1) - np.log(stds).sum(1)  # = (sum log diag - log det) / 2
    return float(weights @ per_class / stds.shape[1])


@dataclass
class SymmetryCheck:
    """What the map :math:`w = Sz`, :math:`S = D R D^{-1}`, does to the loss and to the MCC.

    Attributes:
        S: the map, ``(n, n)``.
        det: its determinant (1).
        loss_z: model NLL of the true latent under the true model (nats/dim).
        loss_w: model NLL of ``w = Sz`` under the best factorial fit of each class.
        model_change: ``loss_w - loss_z``.
        batch_change: the same change of the batch-statistics loss (the training loss).
        population_change: the exact expected change (:func:`population_change`).
        mcc: MCC between z and w (1 for the identity).
    """

    S: np.ndarray
    det: float
    loss_z: float
    loss_w: float
    model_change: float
    batch_change: float
    population_change: float
    mcc: float


def symmetry_check(data: ArtificialData, rotation, reference: int = 0) -> SymmetryCheck:
    r"""Apply :math:`S = D R D^{-1}` (D: the class standard deviations of class ``reference``) to the informative part of z.

    S is a symmetry of the reference class. If every class has the covariance :math:`D^2`
    (``variances="shared"``), it is a symmetry of every class, and the model
    :math:`(S\mu(u), D)` gives ``w = Sz`` exactly the likelihood that the true model gives z. If
    the variances change across classes, the best factorial fit of ``w`` is worse.

    The other ``10 - n`` variables of z are left alone by S; they add the same amount to every
    loss and are left out.

    Arguments:
        data: artificial data (its ``z``, ``u``, ``means`` and ``stds`` are used).
        rotation: ``(n, n)`` rotation, n = ``data.n_informative``.
        reference: the class whose covariance S preserves.

    Returns:
        A :class:`SymmetryCheck`.

    References:
        Sorrenson et al. (2020), §3.1 condition (ii), Appendix A.1.
    """
    n = data.n_informative
    z = data.z[:, :n].double().numpy()
    means, stds = data.means.double().numpy(), data.stds.double().numpy()
    S = symmetry_map(stds[reference], rotation)
    w = z @ S.T
    means_w, stds_w = factorial_fit(means, stds, S)
    loss_z, loss_w = model_nll(z, data.u, means, stds), model_nll(w, data.u, means_w, stds_w)
    return SymmetryCheck(
        S=S,
        det=float(np.linalg.det(S)),
        loss_z=loss_z,
        loss_w=loss_w,
        model_change=loss_w - loss_z,
        batch_change=batch_nll(w, data.u, data.n_clusters) - batch_nll(z, data.u, data.n_clusters),
        population_change=population_change(stds, S, np.bincount(data.u.numpy(), minlength=len(stds)) / len(z)),
        mcc=mcc(z, w),
    )


def symmetry_scan(data: ArtificialData, angles, reference: int = 0) -> dict[str, np.ndarray]:
    """:func:`symmetry_check` for 2-d rotations by each angle (degrees); needs ``n_informative == 2``.

    Returns:
        ``{"angle", "model_change", "batch_change", "population_change", "mcc"}``, arrays over the angles.
    """
    if data.n_informative != 2:
        raise ValueError(f"the scan rotates two variables; the data have {data.n_informative}")
    checks = [symmetry_check(data, rotation_2d(a), reference) for a in angles]
    out = {"angle": np.asarray(angles, dtype=float)}
    for key in ("model_change", "batch_change", "population_change", "mcc"):
        out[key] = np.array([getattr(c, key) for c in checks])
    return out


def conditions_rows(records: list[dict], conditions: dict | None = None, data_seeds=CONDITION_SEEDS) -> list[dict]:
    """One summary row per (n informative variables, M conditions) of the conditions sweep.

    Arguments:
        records: records of the sweep (filter them to one schedule and data size first).
        conditions: ``{n: (M, ...)}`` the sweep must cover (default :data:`CONDITIONS`).
        data_seeds: the data seeds every setting must have.

    Returns:
        Rows with ``n``, ``M`` (the number of conditions), ``needed`` (2n + 1, Theorem 1 with k = 2),
        ``enough`` (M >= 2n + 1),
        and the fields of :func:`summarise`.

    Raises:
        ValueError: a setting lacks a run (:func:`require_complete`).

    References:
        Sorrenson et al. (2020), §3.1 and Appendix A.1 (nk + 1 conditions), §4.3.2.
    """
    conditions = CONDITIONS if conditions is None else conditions
    rows = []
    for n, ks in conditions.items():
        for k in ks:
            group = require_complete(
                [r for r in records if r["n_latent"] == n and r["n_clusters"] == k],
                n_latent=(n,),
                n_clusters=(k,),
                data_seed=data_seeds,
            )
            rows.append(
                {
                    "n": n,
                    "M": k,
                    "needed": 2 * n + 1,
                    "enough": max_identifiable_dims(k, 2) >= n,
                    **summarise(group),
                }
            )
    return rows


def chapter_runs(scale: str, device=None) -> dict:
    """Every run of the chapter theory_predictions: logged, or recomputed at ``paper`` scale.

    Arguments:
        scale: ``"paper"`` retrains every run with :data:`TRAINING`; any other scale reads the records
            logged by :data:`COMMANDS`.
        device: the device of recomputed runs.

    Returns:
        A dict with ``knee`` (the starts :data:`KNEE_INITS` on :data:`KNEE_SEEDS`), ``standard`` (the
        ``identity`` start on :data:`CONTROL_SEEDS`, the paper's data), ``control`` (shared variances on
        :data:`CONTROL_SEEDS`), ``conditions`` (the :data:`CONDITIONS` sweep on :data:`CONDITION_SEEDS`),
        ``condition_rows`` (:func:`conditions_rows` of it), ``n_runs`` and ``hours`` (training time, each
        run counted once) and ``source``.

    Raises:
        ValueError: a setting lacks its run, or has two (:func:`require_complete`).

    References:
        Sorrenson et al. (2020), §3.1 (condition (ii)), §3.3 and §4.3.
    """
    points, held_out = CONDITION_POINTS
    if scale == "paper":

        def sweep(seeds, **settings):
            return seed_sweep(seeds, (0,), cache=None, log=None, device=device, **TRAINING, **settings)

        knee = [r for init in KNEE_INITS for r in sweep(KNEE_SEEDS, init=init, eval_epochs=KNEE_EVAL_EPOCHS)]
        standard = [r for r in knee if r["init"] == "identity"]  # the paper's start: the standard run
        control = sweep(CONTROL_SEEDS, variances="shared")
        conditions = [
            r
            for n, ks in CONDITIONS.items()
            for k in ks
            for r in sweep(CONDITION_SEEDS, n_latent=n, n_clusters=k, n_points=points, n_val=held_out)
        ]
        source = "recomputed in this build"
    else:

        def logged(name, **settings):
            records = load_records(results_path(f"artificial_{name}.json"))
            return filter_records(records, net_seed=0, n_epochs=30, lr=1e-2, milestones=[10], **settings)

        paper_size = dict(n_points=100_000, n_val=10_000, n_clusters=5, n_latent=2)
        standard = [
            r
            for r in logged("exp1_drop10_dev", **paper_size, variances="random", init="identity")
            if r["data_seed"] in CONTROL_SEEDS
        ]
        # the identity arm of the knee question is the standard run; the other two starts were logged apart
        knee = standard + [
            r
            for init in ("scrambled", "random")
            for r in logged("knee_origin", **paper_size, variances="random", init=init)
        ]
        control = logged("negative_control", **paper_size, variances="shared", init="identity")
        conditions = logged("conditions", n_points=points, n_val=held_out, variances="random", init="identity")
        source = "read from the logged records in bench/results"
    knee = require_complete(knee, init=KNEE_INITS, data_seed=KNEE_SEEDS)
    control = require_complete(control, data_seed=CONTROL_SEEDS)
    standard = require_complete(standard, data_seed=CONTROL_SEEDS)
    condition_rows = conditions_rows(conditions)  # also checks that every setting is there
    conditions = [
        r
        for r in conditions
        if r["n_clusters"] in CONDITIONS.get(r["n_latent"], ()) and r["data_seed"] in CONDITION_SEEDS
    ]
    all_runs = {id(r): r for r in knee + control + standard + conditions}.values()  # shared runs counted once
    return {
        "knee": knee,
        "standard": standard,
        "control": control,
        "conditions": conditions,
        "condition_rows": condition_rows,
        "n_runs": len(all_runs),
        "hours": sum(r["seconds"] for r in all_runs) / 3600,
        "source": source,
    }


def knee_rows(initial: dict, by_run: dict, seeds=KNEE_SEEDS, trained=KNEE_INITS) -> tuple[list[dict], dict]:
    """The table of the knee question: every start at epoch 0 and, where it was trained, at the end.

    Arguments:
        initial: ``{(init, data seed): Evaluation}`` of the untrained networks (:func:`initial_evaluation`).
        by_run: ``{(init, data seed): record}`` of the trained runs.
        seeds: the data seeds.
        trained: the starts that were trained; the other starts in ``initial`` are reported at epoch 0 only.

    Returns:
        ``(rows, summary)``: one table row per start; and per start a dict with ``dim0`` (data sets whose
        untrained spectrum reads dimension 2 by the book's knee rule), ``top0``, ``gap0``, ``largest0``
        (medians of the untrained top-spectrum MCC, gap and largest standard deviation), ``top_ok0``
        (untrained top-spectrum MCC at least 0.95) and, for trained starts, the fields of :func:`summarise`.

    References:
        Sorrenson et al. (2020), §3.3 and Fig. 2 (the spectrum and its knee).
    """
    present = list(dict.fromkeys(init for init, _ in initial))
    inits = [i for i in trained if i in present] + [i for i in present if i not in trained]  # trained first
    rows, summary = [], {}
    for init in inits:
        start = [initial[(init, s)] for s in seeds]
        n = len(start)
        s = {
            "dim0": sum(e.n_informative == 2 for e in start),
            "top0": float(np.median([e.top_mcc for e in start])),
            "gap0": float(np.median([e.gap for e in start])),
            "top_ok0": sum(e.top_mcc >= 0.95 for e in start),
            "largest0": float(np.median([e.spectrum.std[0] for e in start])),
        }
        row = {
            "start": init,
            "epoch 0: dim = 2": f"{s['dim0']} of {n}",
            "epoch 0: top-MCC": f"{s['top0']:.3f}",
            "epoch 0: gap": f"{s['gap0']:.2f}",
        }
        if init in trained:
            s.update(summarise([by_run[(init, seed)] for seed in seeds]))
            row.update(
                {
                    "end: dim = 2": f"{s['right_dim']} of {n}",
                    "end: top-MCC (min)": f"{s['median_top_mcc']:.3f} ({s['min_top_mcc']:.3f})",
                    "end: gap": f"{s['median_gap']:.2f}",
                    "successes": f"{s['successes']} of {n}",
                }
            )
        else:
            row.update({"end: dim = 2": "not trained", "end: top-MCC (min)": "", "end: gap": "", "successes": ""})
        summary[init] = s
        rows.append(row)
    return rows, summary


def conditions_table(trained_rows: list[dict], start_rows: list[dict]) -> list[dict]:
    """The table of the conditions sweep: the untrained and the trained networks side by side.

    Arguments:
        trained_rows: :func:`conditions_rows` of the trained runs.
        start_rows: :func:`conditions_rows` of the same runs at epoch 0, in the same order.

    Returns:
        One row per setting with ``n``, ``M``, ``2n + 1`` and, for epoch 0 and after training, the median
        (smallest) top-spectrum MCC and the runs whose detected dimension is n; and the successes.

    Raises:
        ValueError: the two lists are not of the same settings in the same order.
    """
    if [(r["n"], r["M"]) for r in trained_rows] != [(r["n"], r["M"]) for r in start_rows]:
        raise ValueError("trained and epoch-0 rows must list the same settings in the same order")
    return [
        {
            "n": row["n"],
            "M": row["M"],
            "2n + 1": row["needed"],
            "epoch 0: top-MCC (min)": f"{row0['median_top_mcc']:.3f} ({row0['min_top_mcc']:.3f})",
            "epoch 0: dim = n": f"{row0['right_dim']} of {row0['runs']}",
            "trained: top-MCC (min)": f"{row['median_top_mcc']:.3f} ({row['min_top_mcc']:.3f})",
            "trained: dim = n": f"{row['right_dim']} of {row['runs']}",
            "successes": f"{row['successes']} of {row['runs']}",
        }
        for row, row0 in zip(trained_rows, start_rows)
    ]
