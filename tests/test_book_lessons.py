"""Tests of gin_core.book.lessons, the helpers of the artificial-data chapters.

* the restart and variant tables keep every run, in order, with the columns their formats name;
* the restart-rule comparison counts single runs, the rule and the oracle, and the pairs the
  held-out NLL ranks wrongly, on synthetic records with a known answer;
* the valley table reads the valley from the cluster parameters and marks a missing big run;
* the logged records of both chapters are complete, and an incomplete or mis-seeded sweep is refused;
* the frozen protocol's held-out score is refused when it was not made after the freeze.
"""

import json
from types import SimpleNamespace

import pytest

from gin_core.book import lessons
from gin_core.book.recovery import marginal_valley
from gin_core.book.runs import split_data

pytestmark = pytest.mark.unit


def record(data_seed=0, net_seed=0, **fields):
    base = dict(mcc=0.99, top_mcc=0.99, n_informative=2, n_latent=2, val_nll=-2.0)
    return {"data_seed": data_seed, "net_seed": net_seed, **base, **fields}


def fake_run(mcc=0.99, val_nll=-2.0, seconds=3.0):
    evaluation = SimpleNamespace(
        mcc=mcc, n_informative=2, gap=12.0, affine=SimpleNamespace(is_sparse=True), val_nll=val_nll
    )
    return SimpleNamespace(evaluation=evaluation, seconds=seconds, history=SimpleNamespace(loss=[0.5, -1.5]))


def test_restart_rows_keep_every_restart_in_order():
    runs = {2: fake_run(mcc=0.7, val_nll=-1.0), 0: fake_run()}
    rows = lessons.restart_rows(runs)
    assert [r["net_seed"] for r in rows] == [2, 0]
    assert rows[0]["mcc"] == 0.7 and rows[0]["val_nll"] == -1.0 and rows[1]["sparse"] is True
    assert all(set(r) == set(lessons.RESTART_COLUMNS) for r in rows)


def test_variant_rows_name_each_run_and_its_final_loss():
    rows = lessons.variant_rows({"GIN": fake_run(), "GLOW-style": fake_run(mcc=0.5, seconds=9.0)})
    assert [r["model"] for r in rows] == ["GIN", "GLOW-style"]
    assert rows[1]["MCC"] == 0.5 and rows[1]["time (s)"] == 9.0 and rows[0]["final loss"] == -1.5
    assert all(set(r) == set(lessons.VARIANT_COLUMNS) for r in rows)


def test_run_variants_refuses_a_variant_that_overrides_a_common_setting():
    with pytest.raises(ValueError, match="sets \\['lr'\\]"):
        lessons.run_variants({"lr": 1e-2, "n_points": 100}, {"low": {"lr": 1e-4}})


def test_restart_rule_comparison_on_records_with_a_known_answer():
    failed = dict(top_mcc=0.5, mcc=0.6)
    records = [
        record(0, 0, val_nll=-1.0, **failed),  # the single run fails
        record(0, 1, val_nll=-2.0),  # the rule picks this one: lowest held-out NLL, a success
        record(0, 2, val_nll=-0.5, mcc=0.995),  # a success that the held-out NLL ranks below the failure
        *(record(1, s) for s in (0, 1, 2)),
    ]
    out = lessons.restart_rule_comparison(records)
    assert out["rates"] == {"single": 1, "rule": 2, "oracle": 2}
    assert out["pairs"] == 2 and out["wrong"] == 1 and out["failing_sets"] == 1
    assert out["rows"][0]["rule picks"].startswith("net 1: ") and out["rows"][0]["best of 3 (oracle)"] == "0.995"
    # a rule that may only take the failed restart fails
    assert lessons.restart_rule_comparison(records, net_seeds=(0,))["rates"]["rule"] == 1


def test_valley_rows_read_the_valley_from_the_clusters_and_mark_missing_runs():
    little = [record(d, s) for d in (0, 1) for s in (0, 1, 2)]
    paper = [record(0, 0, top_mcc=0.97, n_informative=3)]
    other = [record(0, s, mcc=0.5 + s / 10) for s in (2, 0, 1)]
    rows, valleys = lessons.valley_rows(little, paper, other)
    assert [r["data seed"] for r in rows] == [0, 1]
    assert valleys[1] == pytest.approx(float(marginal_valley(split_data(5, 1_000, 1, 0)[0]).min()))
    assert rows[0]["100k, net 0"] == "0.970 (3)" and rows[1]["100k, net 0"] == "-"
    assert rows[0]["other networks, MCC"] == "0.500, 0.600, 0.700" and rows[1]["other networks, MCC"] == ""
    assert rows[0]["10k, net 2"] == "0.990 (2)"


def test_little_data_records_are_complete_and_refuse_gaps(monkeypatch):
    records = lessons.little_data_records("cpu")
    assert records["source"].startswith("read from the logged records")
    assert len(records["little"]) == 30 and len(records["paper"]) == 10
    assert [r["data_seed"] for r in records["hard_big"]] == [5] and records["other_networks"]
    real = lessons._logged
    monkeypatch.setattr(lessons, "_logged", lambda name, **kw: real(name, **kw)[:-1])
    with pytest.raises(ValueError, match="data seeds 0-9 x network seeds 0-2"):
        lessons.little_data_records("cpu")


def test_schedule_records_are_complete_and_refuse_missing_seeds(monkeypatch):
    records = lessons.schedule_records("smoke")
    for key in ("exp1", "exp2", "exp1_d10", "exp2_d10"):
        assert sorted(r["data_seed"] for r in records[key]) == list(range(10)), key
    assert {r["n_clusters"] for r in records["exp2"]} == {3} and {r["n_epochs"] for r in records["exp1_d10"]} == {30}
    assert set(records["fresh"]) == {(5, "80/50"), (5, "30/10"), (3, "80/50"), (3, "30/10")}
    assert len(records["little"]) == 30
    real = lessons._logged
    monkeypatch.setattr(lessons, "_logged", lambda name, **kw: [r for r in real(name, **kw) if r["data_seed"] != 12])
    with pytest.raises(ValueError, match="expected data seeds"):
        lessons.schedule_records("smoke")


def test_protocol_result_reads_the_held_out_score_and_refuses_one_made_before_the_freeze(monkeypatch, tmp_path):
    result = lessons.protocol_result("cpu")
    assert [r["experiment"] for r in result["rows"]] == ["exp1", "exp2"]
    assert set(result["held_out"]) >= {"exp1", "exp2"} and result["source"].startswith("logged by")
    assert result["protocol"].knee in ("book", "max_gap")
    frozen = json.loads(lessons.results_path("protocol.json").read_text())
    test = json.loads(lessons.results_path("protocol_test.json").read_text())
    (tmp_path / "protocol.json").write_text(json.dumps(frozen))
    (tmp_path / "protocol_test.json").write_text(json.dumps({**test, "started_utc": "2000-01-01T00:00:00"}))
    monkeypatch.setattr(lessons, "results_path", lambda name: tmp_path / name)
    with pytest.raises(ValueError, match="after the freeze"):
        lessons.protocol_result("cpu")
    (tmp_path / "protocol_test.json").write_text(json.dumps({**test, "protocol": {**test["protocol"], "knee": "x"}}))
    with pytest.raises(ValueError, match="not the score of the frozen protocol"):
        lessons.protocol_result("cpu")
