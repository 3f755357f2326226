"""Tests of the mixing families (gin_core.artificial) and the benchmark's calibration (gin_core.book.benchmark)."""

import numpy as np
import pytest
import torch

import gin_core
from gin_core.artificial import MIXINGS, LeakyReLU, LinearLayer, conditioned_matrix, mixing_map
from gin_core.book.benchmark import calibrate, chance_band, is_discriminating, joint_diagonalization, purity
from gin_core.book.runs import split_data


@pytest.mark.parametrize("mixing", MIXINGS)
def test_every_mixing_is_an_invertible_flow_with_the_declared_volume(mixing):
    f = mixing_map(mixing, seed=3).double()
    z = torch.randn(500, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    x, log_det = f(z)
    assert (f.inverse(x) - z).abs().max() < 1e-8 * max(1.0, x.abs().max().item())  # the strong mixings reach 1e4
    assert f.volume_preserving == (mixing == "volume_preserving")
    if mixing == "volume_preserving":
        assert log_det.abs().max() < 1e-9


def test_the_paper_mixing_is_unchanged_and_the_others_are_standardised():
    paper = gin_core.make_artificial_data(5, 2000, seed=4)
    assert paper.mixing == "paper" and "mixing=" not in paper.description.split("mixing=v2")[1]
    for mixing in ("mlp2", "paper_rotated"):
        data = gin_core.make_artificial_data(5, 20_000, seed=4, mixing=mixing)
        assert torch.equal(data.z, gin_core.make_artificial_data(5, 20_000, seed=4, mixing="paper").z)
        assert f"mixing={mixing}" in data.description
        assert data.x.mean(0).abs().max() < 0.05 and (data.x.std(0) - 1).abs().max() < 0.05
    # one process for every sample size: x is a fixed function of z set by the seed, not by the sample
    small = gin_core.make_artificial_data(5, 1000, seed=4, mixing="mlp2")
    mix = gin_core.artificial.mixing_seed(4)
    f = mixing_map("mlp2", mix)
    standardise = gin_core.artificial._standardiser(f, small.means, small.stds, mix + 1, 10, 0.01)
    with torch.no_grad():
        x = standardise(f(small.z)[0].double())[0]
    assert torch.allclose(x.float(), small.x, atol=1e-5)
    with pytest.raises(ValueError, match="mixing must be one of"):
        gin_core.make_artificial_data(5, 100, mixing="swirl")


def test_mixing_layers_and_conditioned_matrices():
    rng = np.random.default_rng(0)
    a = conditioned_matrix(10, rng)
    assert np.allclose(np.linalg.norm(a, axis=0), 1)
    reference = [np.linalg.cond(conditioned_matrix(10, np.random.default_rng(s))) for s in range(5)]
    assert max(reference) < 60  # below the 25th percentile of random unit-column matrices
    layer = LinearLayer(torch.eye(3) * 2)
    assert not layer.volume_preserving and torch.allclose(layer(torch.ones(2, 3))[1], torch.full((2,), 3 * np.log(2)))
    with pytest.raises(ValueError, match="singular"):
        LinearLayer(torch.zeros(3, 3))
    relu = LeakyReLU(0.2)
    x = torch.tensor([[-1.0, 2.0]])
    assert torch.equal(relu.inverse(relu(x)[0]), x)
    with pytest.raises(ValueError, match="slope must be in"):
        LeakyReLU(1.5)


def test_purity_is_one_for_a_function_of_the_variable_alone_and_drops_with_leakage():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20_000, 2))
    own = np.c_[np.tanh(z[:, 0]) ** 3 + 0.2 * z[:, 0], z[:, 1] ** 3]  # nonlinear, but each of one variable
    leaky = np.c_[z[:, 0] + 0.5 * z[:, 1], z[:, 1]]
    assert purity(z, own, [0, 1]).min() > 0.99
    assert purity(z, leaky, [0, 1])[0] == pytest.approx(0.8, abs=0.02)  # 1 / (1 + 0.25)
    with pytest.raises(ValueError, match="need z"):
        purity(z, own, [0])


def test_joint_diagonalization_unmixes_a_linear_mixture_of_conditionally_independent_sources():
    rng = np.random.default_rng(1)
    u = rng.integers(0, 6, 30_000)
    stds = rng.uniform(0.5, 3, (6, 4))
    z = rng.standard_normal((30_000, 4)) * stds[u] + rng.uniform(-3, 3, (6, 4))[u]
    x = z @ rng.standard_normal((4, 4)).T
    w = joint_diagonalization(x, u)
    assert gin_core.mcc(z, w) > 0.99
    assert gin_core.mcc(z, x) < 0.9


def test_chance_band_and_the_rule():
    z = np.random.default_rng(2).standard_normal((5000, 10)) * np.r_[np.ones(5) * 3, np.ones(5) * 0.01]
    band = chance_band(z, 5, draws=20)
    assert 0 < band["rotation"][0] <= band["rotation"][1] <= band["rotation"][2] < 1
    assert is_discriminating([{"best_baseline_mcc": 0.5}, {"best_baseline_mcc": 0.7}, {"best_baseline_mcc": 0.95}])
    assert not is_discriminating([{"best_baseline_mcc": 0.85}, {"best_baseline_mcc": 0.9}])
    with pytest.raises(ValueError, match="no calibration"):
        is_discriminating([])


def test_calibration_record_of_a_small_data_set():
    train, _ = split_data(5, 3000, 0, 0, 2, mixing="mlp1")
    record = calibrate(train, n_score=3000)
    assert set(record["methods"]) == {"raw_x", "pca", "fastica", "untrained_gin", "joint_diag"}
    assert record["methods"]["raw_x"]["mcc"] == pytest.approx(record["methods"]["untrained_gin"]["mcc"], abs=1e-6)
    assert record["linear_r2"] > 0.99  # a linear mixing: z is a linear function of x
    assert record["best_baseline_mcc"] == max(
        record["methods"][b]["mcc"] for b in ("raw_x", "pca", "fastica", "untrained_gin")
    )


def test_permuted_labels_control():
    train, _ = split_data(5, 2000, 3, 0, 2, permute_labels=True)
    plain, _ = split_data(5, 2000, 3, 0, 2)
    assert torch.equal(train.z, plain.z) and not torch.equal(train.u, plain.u)
    assert torch.equal(torch.bincount(train.u, minlength=5), torch.bincount(plain.u, minlength=5))


def test_cell_records_are_used_only_whole_and_tables_refuse_incomplete_cells(tmp_path):
    import json

    from gin_core.book.benchmark import benchmark_tables, cell_records

    run = {"top_mcc": 0.97, "mcc": 0.97, "purity": [0.9], "n_informative": 2, "n_informative_gap": 2}
    (tmp_path / "mixing_mlp1_n2_K5_gin.json").write_text(json.dumps([dict(run, data_seed=s) for s in (0, 1)]))
    assert len(cell_records(tmp_path, "mlp1_n2_K5", "gin", [0, 1])) == 2
    assert cell_records(tmp_path, "mlp1_n2_K5", "gin", [0, 1, 2]) is None  # seed 2 missing
    assert cell_records(tmp_path, "mlp1_n2_K5", "glow", [0, 1]) is None  # no file
    cal = [
        {"mixing": "mlp1", "n": 2, "K": 5, "seed": s, "best_baseline_mcc": 0.5, "methods": {"joint_diag": {"mcc": 0.9}}}
        for s in (0, 1)
    ]
    table, controls, curves, missing = benchmark_tables(tmp_path, ["mlp1_n2_K5"], cal, [0, 1], methods=("gin",))
    assert table["mlp1_n2_K5"]["gin"]["successes"] == 2 and missing == ["mlp1_n2_K5"] and not controls
    with pytest.raises(ValueError, match="glow runs of mlp1_n2_K5 are incomplete"):
        benchmark_tables(tmp_path, ["mlp1_n2_K5"], cal, [0, 1], methods=("gin", "glow"))


def test_condition_sweep_keeps_complete_counts_and_heldout_agreement_reads_the_interval(tmp_path):
    import json

    from gin_core.book.benchmark import condition_sweep, heldout_agreement

    run = {"mcc": 0.9, "purity": [0.9], "n_informative": 2, "n_informative_gap": 2}
    for k, tops in ((3, (0.5, 0.6)), (5, (0.97, 0.99))):
        records = [dict(run, data_seed=s, top_mcc=t) for s, t in enumerate(tops)]
        (tmp_path / f"mlp1_n2_K{k}.json").write_text("[]")  # not a record file: ignored
        (tmp_path / f"mixing_mlp1_n2_K{k}_gin.json").write_text(json.dumps(records))
    rows = condition_sweep(tmp_path, "mlp1", 2, [3, 4, 5], [0, 1])
    assert sorted(rows) == [3, 5]  # K = 4 has no records
    assert rows[3]["successes"] == 0 and rows[5]["successes"] == 2
    training = {"a": {"gin": {"top_mcc_ci": [0.9, 0.95]}}, "b": {"gin": {"top_mcc_ci": [0.5, 0.6]}}}
    heldout = {"a": {"gin": {"top_mcc_median": 0.93}}, "b": {"gin": {"top_mcc_median": 0.7}}}
    assert heldout_agreement(training, heldout) == {"a": True, "b": False}
