"""Tests of gin_core.book.scorecard: every verdict rule on each of its branches, the logged sweeps as the
scorecard reads them (and a tampered record refused), the evidence helpers, and the introduction's figure."""

import json
import shutil

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gin_core import emnist_gin  # noqa: E402
from gin_core.book import scorecard as sc  # noqa: E402
from gin_core.book.records import load_records, success  # noqa: E402
from gin_core.book.settings import results_dir  # noqa: E402
from gin_core.loss import class_conditional_nll  # noqa: E402
from gin_core.metrics import knee_prominence  # noqa: E402


def record(top_mcc=0.99, mcc=None, n_informative=2, sparse=True, data_seed=0, trajectory=None):
    """A run record with just the fields the rules read."""
    return {
        "top_mcc": top_mcc,
        "mcc": top_mcc if mcc is None else mcc,
        "n_informative": n_informative,
        "n_informative_gap": n_informative,
        "n_latent": 2,
        "affine_sparse": sparse,
        "data_seed": data_seed,
        "trajectory": trajectory or [],
    }


GOOD, SPLIT, MISREAD = record(), record(top_mcc=0.6, sparse=False), record(top_mcc=0.99, n_informative=3)


def test_is_split_needs_a_low_mcc_and_a_dense_fit():
    assert sc.is_split(SPLIT)
    assert not sc.is_split(GOOD)
    assert not sc.is_split(record(top_mcc=0.6, sparse=True))  # low MCC, but each true variable in one place
    assert not sc.is_split(MISREAD)


def test_verdict_sweep_branches():
    assert sc.verdict_sweep({"a": (9, 10), "b": (5, 5)}) == "reproduced"
    assert sc.verdict_sweep({"a": (9, 10), "b": (4, 5)}) == "partly"  # 4 of 5 is below 90%
    assert sc.verdict_sweep({"a": (4, 10), "b": (2, 5)}) == "not reproduced"
    assert sc.verdict_sweep({"a": (5, 10)}) == "partly"  # exactly half


def test_verdict_little_branches():
    assert sc.verdict_little([GOOD, GOOD], [GOOD]) == "not reproduced"
    assert sc.verdict_little([GOOD, SPLIT], [GOOD]) == "reproduced"
    assert sc.verdict_little([SPLIT], [SPLIT, GOOD]) == "partly"


def test_verdict_low_lr_branches():
    assert sc.verdict_low_lr(MISREAD, SPLIT) == "untested"  # the paper's learning rate itself failed
    assert sc.verdict_low_lr(GOOD, SPLIT) == "reproduced"
    assert sc.verdict_low_lr(GOOD, GOOD) == "not reproduced"


def test_verdict_schedule_branches():
    good, bad = {1: (10, 10), 2: (9, 10)}, {1: (10, 10), 2: (7, 10)}
    assert sc.verdict_schedule({"80/50": good, "30/10": good}) == "reproduced"
    assert sc.verdict_schedule({"80/50": bad, "30/10": good}) == "partly"
    assert sc.verdict_schedule({"80/50": bad, "30/10": bad}) == "not reproduced"


def test_verdict_glow_branches():
    assert sc.verdict_glow(MISREAD, GOOD, 0.0) == "untested"
    assert sc.verdict_glow(GOOD, GOOD, 1e-3) == "not reproduced"
    assert sc.verdict_glow(GOOD, MISREAD, 0.0) == "reproduced"
    assert sc.verdict_glow(GOOD, GOOD, 0.0) == "partly"


def test_verdict_knee_count_crossed_and_atlas():
    assert sc.verdict_knee(9.9, 1.0) == "not reproduced"
    assert sc.verdict_knee(30.0, 10.0) == "reproduced" and sc.verdict_knee(30.0, 10.1) == "partly"
    assert sc.verdict_count("mnist", 22, (20, 25)) == "untested"
    assert sc.verdict_count("emnist", 22, (20, 25)) == "reproduced"
    assert sc.verdict_count("emnist", 18, (15, 25)) == "partly"
    assert sc.verdict_count("emnist", 18, (15, 20)) == "not reproduced"
    real = {"fraction": 0.10, "low": 0.08, "high": 0.12}
    assert sc.verdict_crossed("mnist", real, {"fraction": 0.0, "low": 0.0, "high": 0.01}) == "untested"
    assert sc.verdict_crossed("emnist", real, {"fraction": 0.02, "low": 0.01, "high": 0.04}) == "reproduced"
    assert sc.verdict_crossed("emnist", real, {"fraction": 0.06, "low": 0.05, "high": 0.07}) == "partly"
    assert sc.verdict_crossed("emnist", real, {"fraction": 0.07, "low": 0.05, "high": 0.09}) == "not reproduced"
    assert sc.verdict_atlas("55cd75b2f9947bea00ff", "55cd75b2f9947bea") == "partly"
    assert sc.verdict_atlas("0000", "55cd75b2f9947bea") == "untested"
    assert sc.verdict_atlas(None, "55cd75b2f9947bea") == "untested"
    assert all(
        v in sc.VERDICTS for v in (sc.verdict_sweep({"a": (1, 1)}), sc.verdict_knee(1, 1), sc.verdict_atlas(None, "a"))
    )


def test_load_sweeps_counts_the_committed_records():
    sw = sc.load_sweeps(results_dir())
    assert set(sw.sweeps) == set(sw.fresh) == {(e, r) for e in (1, 2) for r in sc.READINGS}
    for key, rs in sw.sweeps.items():
        assert sw.ok[key] == sum(success(r) for r in rs) and len(rs) == 10
        assert all(r["n_clusters"] == (5 if key[0] == 1 else 3) for r in rs)
        assert all(r["n_epochs"] == sc.READINGS[key[1]]["n_epochs"] for r in rs)
    assert sw.n_fresh[(2, "80/50")] == 5 and sw.n_fresh[(2, "30/10")] == 10
    counts = sw.counts(2)
    assert counts["80/50, seeds 0-9"] == (sw.ok[(2, "80/50")], 10)
    assert counts["30/10, fresh seeds"] == (sw.ok_fresh[(2, "30/10")], 10)
    assert len(sw.little) == 30


def test_load_sweeps_refuses_a_record_that_lost_a_seed(tmp_path):
    for name in sc.SWEEP_ARGS:
        shutil.copy(results_dir() / f"artificial_{name}.json", tmp_path)
    path = tmp_path / "artificial_exp1_paper.json"
    records = json.loads(path.read_text())
    path.write_text(json.dumps([r for r in records if r["data_seed"] != 3]))
    with pytest.raises(ValueError, match="expected data seeds 0-9"):
        sc.load_sweeps(tmp_path)


def test_failures_and_mcc_at():
    runs = [GOOD, record(top_mcc=0.5, n_informative=1, data_seed=4)]
    assert sc.failures(runs) == "data seed 4: top MCC 0.500, 1 dim."
    assert sc.failures([GOOD]) == ""
    r = record(trajectory=[{"epoch": 5, "mcc": 0.9}, {"epoch": 10, "mcc": 0.97}])
    assert sc.mcc_at(r, 10) == 0.97
    with pytest.raises(KeyError, match="epoch 7"):
        sc.mcc_at(r, 7)


def test_little_data_summary_and_schedule_drift_on_the_records():
    sw = sc.load_sweeps(results_dir())
    little = sc.little_data_summary(sw, results_dir())
    assert little["n_restart"] == 10 and 0 <= little["restart_ok"] <= 10
    assert all(sc.is_split(r) for r in little["splits_small"] + little["splits_large"])
    first = load_records(results_dir() / "artificial_little_data_v1.json")
    assert little["first_splits"] == sum(map(sc.is_split, first))
    assert little["first_split_seeds"] == sorted({r["data_seed"] for r in first if sc.is_split(r)})
    drift = sc.schedule_drift(sw)
    by_hand = max(sc.mcc_at(r, 10) - r["mcc"] for r in sw.sweeps[(2, "80/50")])
    assert drift["drift2"] == by_hand
    assert drift["n_fail_long"] == 20 - sw.ok[(1, "80/50")] - sw.ok[(2, "80/50")]


class Stretch(torch.nn.Module):
    """A linear flow that is not volume preserving: w = x * a, log|det J| = sum(log a)."""

    def __init__(self, a):
        super().__init__()
        self.a = torch.as_tensor(a, dtype=torch.float64)

    def forward(self, x):
        return x * self.a, torch.full((len(x),), float(self.a.log().sum()), dtype=torch.float64)


def test_glow_rescaling_change_cancels_and_the_uncompensated_loss_does_not():
    g = torch.Generator().manual_seed(0)
    u = torch.arange(600) % 3
    x = torch.randn(600, 10, generator=g, dtype=torch.float64) + u[:, None].double()
    net = Stretch(torch.linspace(0.5, 2.0, 10))
    before, after = sc.glow_rescaling_change(net, x, u, n_classes=3)
    assert abs(after - before) < 1e-9
    w, log_det = net(x)
    scales = torch.tensor([0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 1.0, 0.5, 2.0], dtype=torch.float64)
    uncompensated = class_conditional_nll(w * scales, u, 3, log_det).item()
    assert abs(uncompensated - before) > 0.1  # without the log-determinant the rescaling is seen


def test_ablation_runs_records_three_variants():
    settings = dict(n_points=2000, n_val=200, n_epochs=2, milestones=(1,), n_clusters=5, batch_size=500)
    runs, records = sc.ablation_runs(settings)
    assert list(records) == ["GIN, lr 1e-2", "GIN, lr 1e-4", "GLOW-style, lr 1e-2"]
    for name, r in records.items():
        assert r["model"] == name and 0 <= r["mcc"] <= 1 and r["n_latent"] == 2
        assert r["mcc"] == runs[name].evaluation.mcc and r["loss"] == runs[name].history.loss[-1]
    assert records["GIN, lr 1e-2"]["loss"] != records["GIN, lr 1e-4"]["loss"]


def test_digits_evidence_is_consistent():
    g = torch.Generator().manual_seed(0)
    u = torch.arange(1000) % 10  # more images than pixels, so that PCA's spectrum has no zeros
    x = 0.05 * torch.rand(1000, 1, 28, 28, generator=g)
    x[:, 0, 10:14, 10:14] += 0.3 * torch.rand(1000, 1, 1, generator=g)  # a few pixels that vary a lot
    ev = sc.digits_evidence(emnist_gin(seed=0).eval(), x, u, n_after=5)
    k, std = ev["k"], ev["std"]
    assert k == ev["atlas"].k and ev["k_range"][0] <= k <= ev["k_range"][1]
    assert ev["p_gin"] == knee_prominence(std, ev["gin_cut"]) and ev["p_pca"] == knee_prominence(
        ev["pca"], ev["pca_cut"]
    )
    assert len(ev["reach"]) == k and ev["n_global"] + ev["n_local"] <= k and ev["half"] == k // 2
    assert ev["n_after"] == 5 and ev["effect_ratio"] > 0


def test_plot_sweep_spectra_draws_one_line_per_run_and_greys_failures():
    runs = [dict(record(), spectrum=list(np.geomspace(1, 0.01, 10))) for _ in range(3)]
    runs.append(dict(MISREAD, spectrum=list(np.geomspace(1, 0.1, 10))))
    fig = sc.plot_sweep_spectra(runs, title="t")
    lines = fig.axes[0].get_lines()
    data_lines = [line for line in lines if len(line.get_xdata()) == 10]
    assert len(data_lines) == 4
    assert [line.get_color() for line in data_lines].count("0.55") == 1
    plt.close(fig)
