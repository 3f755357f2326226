"""The scorecard's benchmark rows (gin_core.book.scorecard_benchmark): each rule on made-up numbers, and the rows."""

import pytest

from gin_core.book import scorecard_benchmark as later
from gin_core.book.settings import results_dir


def test_paper_mixing_rule_reads_the_frozen_protocol():
    assert later.verdict_paper_mixing({"paper_n2_K5": {"discriminating": False}}) == "not reproduced"
    assert later.verdict_paper_mixing({"paper_n2_K5": {"discriminating": True}}) == "reproduced"
    with pytest.raises(ValueError, match="no cell of the paper's mixing"):
        later.verdict_paper_mixing({"mlp1_n5_K11": {"discriminating": True}})


def test_recovery_and_control_rules():
    assert later.verdict_recovery({"a": (9, 10), "b": (10, 10)}) == "reproduced"
    assert later.verdict_recovery({"a": (5, 10), "b": (0, 10)}) == "partly"
    assert later.verdict_recovery({"a": (4, 10)}) == "not reproduced"
    tops = {"a": 0.8}
    assert later.verdict_controls({("a", "shared"): 0.5, ("a", "permuted"): 0.8}, tops) == "reproduced"
    assert later.verdict_controls({("a", "shared"): 0.5, ("a", "permuted"): 0.9}, tops) == "partly"
    assert later.verdict_controls({("a", "shared"): 0.85, ("a", "permuted"): 0.9}, tops) == "not reproduced"


def test_fewer_conditions_rule_compares_n_plus_1_to_2n_with_the_threshold():
    rows = {k: {"top_mcc_median": m} for k, m in ((2, 0.1), (3, 0.97), (4, 0.98), (5, 0.99))}
    assert later.verdict_fewer_conditions(rows, 2) == "reproduced"  # K = 2 is below n + 1: not compared
    rows[3]["top_mcc_median"] = 0.92
    assert later.verdict_fewer_conditions(rows, 2) == "partly"
    rows[3]["top_mcc_median"] = 0.8
    assert later.verdict_fewer_conditions(rows, 2) == "not reproduced"
    with pytest.raises(ValueError, match="no run at the threshold"):
        later.verdict_fewer_conditions({3: {"top_mcc_median": 0.9}}, 2)


def test_vae_rule_and_the_rows_from_the_records():
    assert later.verdict_vae(right_ivae=10, right_gin=12) == "reproduced"
    assert later.verdict_vae(right_ivae=12, right_gin=12) == "partly"
    rows = later.benchmark_rows(results_dir())
    assert [r[0] for r in rows] == ["B1", "B2", "B3", "B4", "B5"]
    assert all(r[3] in ("reproduced", "partly", "not reproduced") for r in rows)
