"""Tests of gin_core.book.predictions and its figures (the chapter theory_predictions).

* the exact symmetry M = D R D^-1 of classes with one shared covariance (float64): it keeps the
  Gaussian, leaves the model loss unchanged on shared-variance data and raises it on the paper's;
* the shared-variance data have one standard deviation for every class and variable;
* the best factorial fit, the model NLL (against SciPy) and the expected loss change;
* the epoch-0 evaluation of a run's network (the paper's start is a permutation of x);
* the tables from records, which refuse incomplete or doubled sweeps, and the chapter's runs and tables;
* the four figures of the chapter.
"""

import matplotlib

matplotlib.use("Agg")
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy.stats import norm

import gin_core
from gin_core.book import predictions, theory_figures
from gin_core.book.theory import random_rotation, rotation_2d

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def shared():
    return gin_core.make_artificial_data(5, 20_000, seed=3, variances="shared")


@pytest.fixture(scope="module")
def paper():
    return gin_core.make_artificial_data(5, 20_000, seed=3, variances="random")


# --- the symmetry ----------------------------------------------------------------------------


def test_symmetry_map_keeps_the_gaussian_and_the_volume():
    d = np.array([0.5, 2.0, 3.0])
    M = predictions.symmetry_map(d, random_rotation(3, seed=4))
    np.testing.assert_allclose(M @ np.diag(d**2) @ M.T, np.diag(d**2), atol=1e-12)
    assert abs(np.linalg.det(M) - 1) < 1e-12
    assert np.abs(M - np.diag(np.diag(M))).max() > 0.1  # it mixes the variables


def test_symmetry_map_rejects_bad_input():
    with pytest.raises(ValueError, match="determinant"):
        predictions.symmetry_map([1.0, 2.0], np.diag([1.0, -1.0]))  # a reflection
    with pytest.raises(ValueError, match="orthogonal"):
        predictions.symmetry_map([1.0, 2.0], np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="match"):
        predictions.symmetry_map([1.0, 2.0, 3.0], rotation_2d(30))
    with pytest.raises(ValueError, match="positive"):
        predictions.symmetry_map([1.0, 0.0], rotation_2d(30))


def test_shared_variance_data_have_one_standard_deviation(shared, paper):
    assert torch.equal(shared.stds, shared.stds[0, 0].expand_as(shared.stds))
    z = shared.z[:, :2].double()
    sample = torch.stack([z[shared.u == c].std(0) for c in range(5)])
    np.testing.assert_allclose(sample.numpy(), shared.stds.double().numpy(), rtol=0.05)
    assert torch.equal(shared.means, paper.means)  # the same draw; only the variances differ
    assert paper.stds.unique().numel() == paper.stds.numel()  # the paper's: all different


def test_symmetry_is_exact_with_shared_variances(shared):
    check = predictions.symmetry_check(shared, rotation_2d(45))
    assert abs(check.det - 1) < 1e-12
    assert abs(check.model_change) < 1e-9 and abs(check.loss_w - check.loss_z) < 1e-9
    assert abs(check.population_change) < 1e-12
    assert abs(check.batch_change) < 1e-3  # sampling error only
    assert check.mcc < 0.8  # although the variables are mixed


def test_the_same_map_costs_likelihood_on_the_papers_data(paper):
    check = predictions.symmetry_check(paper, rotation_2d(45))
    assert abs(check.det - 1) < 1e-12
    assert check.population_change > 1e-3
    assert check.model_change > 1e-3 and check.batch_change > 1e-3
    assert check.model_change == pytest.approx(check.population_change, rel=0.2)
    scan = predictions.symmetry_scan(paper, [0, 30, 90, 120, 180])
    np.testing.assert_allclose(scan["population_change"][[0, 2, 4]], 0, atol=1e-12)  # identity and swaps
    assert (scan["population_change"][[1, 3]] > 1e-3).all()
    np.testing.assert_allclose(scan["mcc"][[0, 2, 4]], 1, atol=1e-9)


def test_symmetry_scan_needs_two_variables():
    four = gin_core.make_artificial_data(9, 200, seed=0, n_informative=4)
    with pytest.raises(ValueError, match="two"):
        predictions.symmetry_scan(four, [0, 45])
    check = predictions.symmetry_check(four, random_rotation(4, seed=1))  # any n works for one check
    assert check.population_change > 0


def test_factorial_fit_matches_the_sample(paper):
    M = predictions.symmetry_map(paper.stds[0].double().numpy(), rotation_2d(30))
    means_w, stds_w = predictions.factorial_fit(paper.means.double().numpy(), paper.stds.double().numpy(), M)
    w = paper.z[:, :2].double().numpy() @ M.T
    u = paper.u.numpy()
    for c in range(5):
        np.testing.assert_allclose(w[u == c].mean(0), means_w[c], atol=0.1)
        np.testing.assert_allclose(w[u == c].std(0), stds_w[c], rtol=0.05)
    with pytest.raises(ValueError, match="M"):
        predictions.factorial_fit(np.zeros((5, 2)), np.ones((5, 2)), np.eye(3))


def test_model_nll_and_population_change():
    rng = np.random.default_rng(0)
    means, stds = rng.normal(size=(3, 2)), rng.uniform(0.5, 2, (3, 2))
    u = rng.integers(0, 3, 400)
    w = rng.normal(size=(400, 2))
    expected = -norm.logpdf(w, means[u], stds[u]).sum(1).mean() / 2
    assert predictions.model_nll(w, torch.from_numpy(u), means, stds) == pytest.approx(expected, abs=1e-12)
    assert predictions.population_change(stds, np.eye(2)) == 0
    assert predictions.population_change(stds, rotation_2d(20)) > 0
    with pytest.raises(ValueError, match="determinant 1"):
        predictions.population_change(stds, 2 * np.eye(2))


def test_batch_nll_is_the_training_loss(paper):
    z = paper.z.double()
    assert predictions.batch_nll(z, paper.u, 5) == pytest.approx(gin_core.class_conditional_nll(z, paper.u, 5).item())


# --- epoch 0 ---------------------------------------------------------------------------------

RECORD = dict(
    n_clusters=5,
    n_points=600,
    n_val=100,
    data_seed=1,
    net_seed=0,
    n_latent=2,
    variances="random",
    init="identity",
    volume_preserving=True,
)


def test_record_data_uses_the_records_mixing_network():
    other = predictions.record_data({**RECORD, "mixing_points": 11_000})
    train = predictions.record_data(RECORD)
    assert torch.equal(other.z, train.z) and not torch.equal(other.x, train.x)


def test_record_data_is_the_training_set_and_its_prefix():
    train = predictions.record_data(RECORD)
    full, _ = gin_core.book.runs.split_data(5, 600, 1, 100)
    assert torch.equal(train.x, full.x) and torch.equal(train.z, full.z)
    part = predictions.record_data(RECORD, 200)
    assert torch.equal(part.x, full.x[:200]) and torch.equal(part.u, full.u[:200])
    with pytest.raises(ValueError, match="n_points"):
        predictions.record_data(RECORD, 601)


def test_the_papers_start_is_a_permutation_of_x_and_scrambling_keeps_the_volume():
    train = predictions.record_data(RECORD)
    start = predictions.initial_evaluation(RECORD, train)
    np.testing.assert_allclose(start.spectrum.std, gin_core.latent_spectrum(train.x, train.u).std, rtol=1e-6)
    assert start.mcc == pytest.approx(gin_core.mcc(train.z[:, :2], train.x))
    scrambled = predictions.initial_evaluation({**RECORD, "init": "scrambled"}, train)
    assert np.log(scrambled.spectrum.std).sum() == pytest.approx(np.log(start.spectrum.std).sum(), abs=1e-4)
    assert not np.allclose(scrambled.spectrum.std, start.spectrum.std)
    point = predictions.initial_point(start)
    assert point["epoch"] == 0 and point["gap"] == start.gap and len(point["spectrum"]) == 10
    with pytest.raises(ValueError, match="not the data"):
        predictions.initial_evaluation({**RECORD, "data_seed": 2}, train)


def test_initial_evaluations_share_the_data_of_a_seed():
    records = [RECORD, {**RECORD, "init": "scrambled"}, {**RECORD, "data_seed": 2}]
    evaluations = predictions.initial_evaluations(records, n_points=300)
    assert len(evaluations) == 3
    one = predictions.initial_evaluation(records[2], predictions.record_data(records[2], 300))
    np.testing.assert_array_equal(evaluations[2].spectrum.std, one.spectrum.std)
    assert len(evaluations[0].w) == 300
    assert len(predictions.initial_evaluations(records[:1], n_points=10_000)[0].w) == 600  # at most the run's data


def test_trajectory_with_start_adds_epoch_0_and_the_end():
    start = predictions.initial_evaluation(RECORD, predictions.record_data(RECORD, 300))
    record = {**RECORD, "n_epochs": 30, **fake(), "val_nll": -2.0, "loss": -1.9, "n_informative_gap": 2}
    points = predictions.trajectory_with_start({**record, "trajectory": []}, start)
    assert [p["epoch"] for p in points] == [0, 30] and points[1]["top_mcc"] == 0.99
    logged = [{"epoch": 15, "gap": 3.0}, {"epoch": 30, "gap": 4.0}]
    points = predictions.trajectory_with_start({**record, "trajectory": logged}, start)
    assert [p["epoch"] for p in points] == [0, 15, 30] and points[-1]["gap"] == 4.0


def test_a_fixed_rescaling_leaves_the_gradient_unchanged():
    data = predictions.record_data(RECORD, 400)
    make = gin_core.book.runs.make_learner
    identity = predictions.parameter_gradient(make("identity", seed=0), data)
    scrambled = predictions.parameter_gradient(make("scrambled", seed=0), data)
    random = predictions.parameter_gradient(make("random", seed=0), data)
    assert identity.dtype == torch.float64 and identity.shape == scrambled.shape
    assert (identity - scrambled).norm() < 1e-12 * identity.norm()
    assert (identity - random).norm() > 0.1 * identity.norm()


# --- tables ----------------------------------------------------------------------------------


def fake(**settings):
    base = dict(mcc=0.99, top_mcc=0.99, n_informative=2, n_latent=2, gap=10.0, init="identity", data_seed=0)
    return {**base, **settings}


def test_require_complete_orders_and_refuses_gaps():
    records = [fake(init=i, data_seed=s) for s in (1, 0) for i in ("random", "identity")]
    ordered = predictions.require_complete(records, init=("identity", "random"), data_seed=range(2))
    assert [(r["init"], r["data_seed"]) for r in ordered] == [
        ("identity", 0),
        ("identity", 1),
        ("random", 0),
        ("random", 1),
    ]
    with pytest.raises(
        ValueError, match=r"incomplete records: no run for 1 of 4 settings: \(init='random', data_seed=1\)"
    ):
        predictions.require_complete(records[1:], init=("identity", "random"), data_seed=range(2))
    with pytest.raises(ValueError, match="more than one run"):
        predictions.require_complete(records + records[:1], init=("identity", "random"), data_seed=range(2))
    with pytest.raises(ValueError, match="incomplete"):
        predictions.require_complete([], data_seed=(0,))
    with pytest.raises(KeyError, match="no field"):
        predictions.require_complete(records, seed=(0,))


def test_summarise_counts_successes_and_dimensions():
    records = [
        fake(),
        fake(top_mcc=0.9, mcc=0.97),  # right dimension, variables not recovered
        fake(n_informative=3, gap=1.0),  # recovered, wrong dimension
    ]
    s = predictions.summarise(records)
    assert s["runs"] == 3 and s["successes"] == 1 and s["right_dim"] == 2
    assert s["frac_right_dim"] == pytest.approx(2 / 3)
    assert s["min_top_mcc"] == 0.9 and s["median_top_mcc"] == 0.99 and s["median_gap"] == 10.0
    with pytest.raises(ValueError, match="no records"):
        predictions.summarise([])


def test_conditions_rows_mark_the_threshold_and_need_every_run():
    conditions = {2: (3, 5), 4: (9,)}
    records = [
        fake(n_latent=n, n_clusters=k, data_seed=s, n_informative=n, top_mcc=0.5 if k < 2 * n + 1 else 0.99)
        for n, ks in conditions.items()
        for k in ks
        for s in (0, 1)
    ]
    rows = predictions.conditions_rows(records, conditions, data_seeds=(0, 1))
    assert [(r["n"], r["M"], r["needed"], r["enough"]) for r in rows] == [
        (2, 3, 5, False),
        (2, 5, 5, True),
        (4, 9, 9, True),
    ]
    assert [r["successes"] for r in rows] == [0, 2, 2]
    with pytest.raises(ValueError, match=r"n_clusters=9, data_seed=1"):
        predictions.conditions_rows(records[:-1], conditions, data_seeds=(0, 1))


def test_commands_cover_every_setting_of_the_chapter():
    lines = predictions.COMMANDS["conditions"]
    assert len(lines) == sum(len(ks) for ks in predictions.CONDITIONS.values())
    points, held_out = predictions.CONDITION_POINTS
    assert all(f"--n-points {points} --n-val {held_out}" in c and "--data-seeds 30-34" in c for c in lines)
    assert {c.split("--init ")[1].split()[0] for c in predictions.COMMANDS["knee_origin"]} == {"scrambled", "random"}
    assert set(predictions.KNEE_INITS) <= set(gin_core.book.runs.INITS)


# --- figures ---------------------------------------------------------------------------------


def test_knee_origin_figure():
    spectra = {i: ([np.geomspace(3, 0.1, 10)] * 2, [np.geomspace(1, 0.01, 10)] * 2) for i in ("identity", "random")}
    trajectory = [{"epoch": e, "gap": 2.0 + e, "top_mcc": 0.9, "n_informative": 2} for e in (0, 5, 10)]
    trajectories = {i: [trajectory, trajectory] for i in spectra}
    fig = theory_figures.plot_knee_origin(spectra, trajectories)
    assert len(fig.axes) == 5
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), np.geomspace(1, 0.01, 10))
    assert fig.axes[2].get_yscale() == "log"
    with pytest.raises(ValueError, match="same"):
        theory_figures.plot_knee_origin(spectra, {"identity": [trajectory]})
    with pytest.raises(ValueError, match="initial"):
        theory_figures.plot_knee_origin({"identity": ([np.ones(10)] * 2, [np.ones(10)])}, {"identity": [trajectory]})
    fig = theory_figures.plot_knee_origin({"random": ([np.geomspace(3, 0.1, 10)], [])}, {"random": [trajectory[:1]]})
    assert "not trained" in fig.axes[0].get_title() and len(fig.axes[0].lines) == 2  # epoch 0 and the gray line


def test_strip_symmetry_and_conditions_figures(paper):
    ax = theory_figures.plot_mcc_strip({"a": [0.7, 0.8], "b": [0.99, 0.98, 0.97]}).axes[0]
    assert len(ax.lines) >= 2 and [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="no groups"):
        theory_figures.plot_mcc_strip({})
    scan = predictions.symmetry_scan(paper, [0, 45, 90])
    fig = theory_figures.plot_symmetry_scan({"paper": scan})
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), scan["mcc"])
    records = [fake(n_latent=2, n_clusters=k, top_mcc=0.5 + 0.1 * k) for k in (3, 5)]
    fig = theory_figures.plot_conditions(records, {2: (3, 5)})
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="no records"):
        theory_figures.plot_conditions(records, {2: (3, 7)})


def _evaluation(n_informative=2, top_mcc=0.99, gap=10.0, largest=1.0):
    spectrum = SimpleNamespace(std=np.array([largest, largest / gap, 0.01]))
    return SimpleNamespace(n_informative=n_informative, top_mcc=top_mcc, gap=gap, spectrum=spectrum)


def test_knee_rows_put_trained_starts_first_and_summarise_both_ends():
    seeds = (0, 1)
    initial = {
        (init, s): _evaluation(
            n_informative=2 if init == "identity" else 3, top_mcc=0.99 if init == "identity" else 0.5
        )
        for s in seeds
        for init in ("identity", "untrained", "scrambled")
    }
    by_run = {
        (init, s): fake(init=init, data_seed=s, gap=20.0 + s) for init in ("identity", "scrambled") for s in seeds
    }
    rows, summary = predictions.knee_rows(initial, by_run, seeds=seeds, trained=("identity", "scrambled"))
    assert [r["start"] for r in rows] == ["identity", "scrambled", "untrained"]
    assert summary["identity"]["dim0"] == 2 and summary["scrambled"]["dim0"] == 0
    assert summary["identity"]["top_ok0"] == 2 and summary["untrained"]["top_ok0"] == 0
    assert summary["scrambled"]["median_gap"] == pytest.approx(20.5) and summary["scrambled"]["successes"] == 2
    assert rows[2]["end: dim = 2"] == "not trained" and "median_gap" not in summary["untrained"]
    assert rows[0]["epoch 0: dim = 2"] == "2 of 2" and rows[1]["successes"] == "2 of 2"


def test_conditions_table_pairs_the_start_with_the_trained_runs():
    conditions = {2: (3, 5)}
    trained = [fake(n_latent=2, n_clusters=k, data_seed=s, top_mcc=0.99) for k in (3, 5) for s in (0, 1)]
    start = [{**r, "top_mcc": 0.9, "n_informative": 3} for r in trained]
    rows = predictions.conditions_table(
        predictions.conditions_rows(trained, conditions, data_seeds=(0, 1)),
        predictions.conditions_rows(start, conditions, data_seeds=(0, 1)),
    )
    assert [(r["n"], r["M"], r["2n + 1"]) for r in rows] == [(2, 3, 5), (2, 5, 5)]
    assert rows[0]["epoch 0: top-MCC (min)"] == "0.900 (0.900)" and rows[0]["epoch 0: dim = n"] == "0 of 2"
    assert rows[0]["trained: top-MCC (min)"] == "0.990 (0.990)" and rows[0]["successes"] == "2 of 2"
    with pytest.raises(ValueError, match="same settings"):
        predictions.conditions_table(
            predictions.conditions_rows(trained, conditions, data_seeds=(0, 1)),
            predictions.conditions_rows(start, {2: (5, 3)}, data_seeds=(0, 1)),
        )


def test_chapter_runs_read_every_logged_run_once():
    runs = predictions.chapter_runs("cpu")
    assert runs["source"].startswith("read from the logged records")
    assert {(r["init"], r["data_seed"]) for r in runs["knee"]} == {
        (i, s) for i in predictions.KNEE_INITS for s in predictions.KNEE_SEEDS
    }
    assert [r["data_seed"] for r in runs["control"]] == list(predictions.CONTROL_SEEDS)
    assert all(r["variances"] == "shared" for r in runs["control"])
    assert runs["standard"] == [r for r in runs["knee"] if r["init"] == "identity"]
    settings = sum(len(ks) for ks in predictions.CONDITIONS.values())
    assert len(runs["conditions"]) == settings * len(predictions.CONDITION_SEEDS) == len(runs["condition_rows"]) * 5
    # the identity arm of the knee question is the standard run: counted once
    assert runs["n_runs"] == len(runs["knee"]) + len(runs["control"]) + len(runs["conditions"])
    assert runs["hours"] > 0
