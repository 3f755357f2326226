"""Tests of the artificial experiments of the book (§4.3): gin_core.book.runs, records, restarts, baselines.

The data split, the held-out score of a run (``validation_nll``), the evaluation of a run
(``evaluate_run``: spectrum, dimension, MCC, gap, affine fit), training runs with trajectories,
cached seed sweeps (``seed_sweep``), the restart rule, the linear baselines, the marginal
valleys, and the records and tables the chapters read (``load_records``, ``results_path``,
``filter_records``, ``markdown_table``). Runs are tiny (600 points, 2 epochs).
"""

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from gin_core.artificial import make_artificial_data
from gin_core.book.baselines import linear_baseline
from gin_core.book.records import by_data_seed, filter_records, load_records, markdown_table, results_path, success
from gin_core.book.recovery import marginal_valley
from gin_core.book.restarts import apply_restart_rule, seed_sweep, select_restart, sweep_executor
from gin_core.book.runs import (
    evaluate_run,
    make_learner,
    run_artificial,
    run_record,
    scrambling_scales,
    split_data,
    validation_nll,
)
from gin_core.loss import class_conditional_nll
from gin_core.metrics import count_informative
from gin_core.networks import artificial_gin

REPO = Path(__file__).resolve().parent.parent

TINY = dict(n_points=600, n_val=200, n_epochs=2, milestones=(1,), batch_size=100)


def test_split_data_sizes_and_disjoint():
    train, val = split_data(5, 300, data_seed=3, n_val=100)
    assert train.x.shape == (300, 10) and val.x.shape == (100, 10)
    full = make_artificial_data(5, 400, seed=3)
    assert torch.equal(torch.cat([train.x, val.x]), full.x)
    assert torch.equal(train.means, full.means)
    assert split_data(5, 300, 3, n_val=0)[1] is None
    with pytest.raises(ValueError, match="n_val"):
        split_data(5, 300, 3, n_val=-1)


def test_validation_nll_equals_loss_on_training_data():
    torch.set_default_dtype(torch.float64)
    try:
        train, _ = split_data(3, 500, data_seed=1, n_val=0)
        train.x = train.x.double()
        for vp in (True, False):
            net = artificial_gin(volume_preserving=vp, seed=2, zero_init_last=False, clamp=0.5).double()
            with torch.no_grad():
                w, log_det = net(train.x)
                expected = class_conditional_nll(w, train.u, 3, None if vp else log_det).item()
            assert math.isclose(validation_nll(net, train, train), expected, rel_tol=1e-9, abs_tol=1e-9)
    finally:
        torch.set_default_dtype(torch.float32)


def test_validation_nll_scores_held_out_data_under_the_training_statistics():
    train, val = split_data(3, 400, data_seed=2, n_val=300)
    for vp in (True, False):
        net = artificial_gin(volume_preserving=vp, seed=1, zero_init_last=False, clamp=0.5).double()
        with torch.no_grad():
            w_train = net(train.x.double())[0]
            w_val, log_det = net(val.x.double())
        nll = torch.empty(len(w_val), dtype=torch.float64)
        for c in range(3):
            tr, va = w_train[train.u == c], val.u == c
            mean, var = tr.mean(0), tr.var(0, unbiased=False)
            nll[va] = (0.5 * (w_val[va] - mean) ** 2 / var + 0.5 * torch.log(var) + 0.5 * math.log(2 * math.pi)).mean(1)
        if not vp:
            nll = nll - log_det / 10
        assert math.isclose(validation_nll(net, train, val), nll.mean().item(), rel_tol=1e-9)
        assert validation_nll(net, train, val) != validation_nll(net, train, train)


def test_validation_nll_needs_two_samples_per_class():
    train, val = split_data(3, 200, data_seed=0, n_val=50)
    train.u = torch.zeros_like(train.u)
    train.u[0] = 2
    with pytest.raises(ValueError, match=r"classes \[1, 2\] have fewer than two samples"):
        validation_nll(artificial_gin(seed=0), train, val)


def test_evaluate_identity_on_true_latent():
    # a network that starts as a permutation applied to z itself recovers z exactly
    train, val = split_data(5, 2000, data_seed=0, n_val=500)
    train.x, val.x = train.z.clone(), val.z.clone()
    ev = evaluate_run(artificial_gin(seed=0), train, val)
    assert ev.mcc > 0.999999 and ev.top_mcc > 0.999999
    assert ev.n_informative == 2 and ev.gap > 10
    assert ev.affine.is_sparse
    assert ev.val_nll is not None and math.isfinite(ev.val_nll)
    assert set(ev.summary()) >= {"mcc", "n_informative", "gap", "spectrum", "val_nll", "affine_sparse"}


def test_run_artificial_trajectory_does_not_change_the_run():
    plain = run_artificial(data_seed=1, net_seed=4, **TINY)
    traced = run_artificial(data_seed=1, net_seed=4, eval_epochs=(1,), **TINY)
    assert plain.history.loss == traced.history.loss
    assert plain.evaluation.mcc == traced.evaluation.mcc
    assert [p["epoch"] for p in traced.trajectory] == [1, 2]
    assert traced.trajectory[-1]["mcc"] == traced.evaluation.mcc
    assert plain.settings["net_seed"] == 4 and plain.seconds > 0
    with pytest.raises(ValueError, match="eval_epochs"):
        run_artificial(eval_epochs=(2,), **TINY)


def test_seed_sweep_caches_and_resumes(tmp_path):
    cache = tmp_path / "sub" / "sweep.json"
    lines = []
    first = seed_sweep([0], [0, 1], cache=cache, log=lines.append, **TINY)
    assert len(first) == 2 and len(lines) == 2
    assert [(r["data_seed"], r["net_seed"]) for r in first] == [(0, 0), (0, 1)]
    assert json.loads(cache.read_text()) == first  # every record is written as soon as it is made
    again = seed_sweep([0], [0, 1, 2], cache=cache, log=lines.append, **TINY)
    assert len(lines) == 3  # only net seed 2 was new
    assert again[:2] == first
    assert len(load_records(cache)) == 3
    other = seed_sweep([0], [0], cache=cache, log=lines.append, **{**TINY, "lr": 1e-3})
    assert len(lines) == 4 and other[0]["lr"] == 1e-3
    assert seed_sweep([0], [1], cache=cache, log=lines.append, **TINY) == [first[1]]  # cached: no run, no log line
    assert len(lines) == 4 and len(load_records(cache)) == 4
    with pytest.raises(FileNotFoundError, match="bench script"):
        load_records(tmp_path / "missing.json")


SETTINGS = (  # the settings a seed_sweep record is found by (gin_core.book.records.RECORD_KEYS)
    "n_clusters", "n_points", "data_seed", "net_seed", "n_epochs", "lr", "milestones", "batch_size", "noise",
    "volume_preserving", "n_val", "n_latent", "variances", "init", "mixing_points", "mixing", "permute_labels",
    "generator",
)  # fmt: skip
ADDED_LATER = {"mixing_points": 110_000, "mixing": "paper", "permute_labels": False}  # older records lack them


def logged_sweeps() -> list[Path]:
    """The seed sweep records in bench/results (JSON lists written by seed_sweep; not the calibration)."""
    files = sorted((REPO / "bench" / "results").glob("artificial_*.json"))
    files += sorted((REPO / "bench" / "results").glob("mixing_*.json"))
    return [f for f in files if f.name != "mixing_calibration.json" and isinstance(json.loads(f.read_text()), list)]


def test_records_written_by_the_old_code_are_reused_without_training(tmp_path, monkeypatch):
    """Every logged record of this data generator is found by the same request, and nothing is trained or written.

    The files in bench/results were written by the seed_sweep loop that preceded the sweep runner;
    a request rebuilt from a record's own settings must return that record (the last one of its
    settings, as before) from a copy of its file, which must stay byte for byte as it was.
    """
    import gin_core.book.runs as runs
    from gin_core.artificial import GENERATOR_VERSION

    def no_training(*args, **settings):
        raise AssertionError(f"seed_sweep trained a run that its cache holds ({settings.get('dataset')})")

    monkeypatch.setattr(runs, "train", no_training)  # run_artificial's training
    files = logged_sweeps()
    assert len([f for f in files if f.name.startswith("artificial_")]) >= 15, [f.name for f in files]
    checked, without_later_settings = 0, 0
    for path in files:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        records = json.loads(copy.read_text())
        for record in records:
            if record.get("generator") != GENERATOR_VERSION:  # older generators' records are never reused
                continue
            settings = {
                k: record[k] for k in SETTINGS if k in record and k not in ("data_seed", "net_seed", "generator")
            }
            lines = []
            found = seed_sweep([record["data_seed"]], [record["net_seed"]], cache=copy, log=lines.append, **settings)
            same = [
                r
                for r in records
                if all(r.get(k, ADDED_LATER.get(k)) == record.get(k, ADDED_LATER.get(k)) for k in SETTINGS)
            ]
            assert json.dumps(found, sort_keys=True) == json.dumps(same[-1:], sort_keys=True), (path.name, settings)
            assert lines == []
            checked += 1
            without_later_settings += not set(ADDED_LATER) <= set(record)
        assert copy.read_bytes() == path.read_bytes(), f"{path.name} was rewritten"
    assert checked >= 200 and without_later_settings > 0, (checked, without_later_settings)


def test_a_sweep_through_local_processes_gives_the_serial_records(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the serial sweep runs at the caller's threads; the processes at one thread
    try:
        serial = seed_sweep([0, 1], [0], cache=tmp_path / "serial.json", log=None, eval_epochs=(1,), **TINY)
    finally:
        torch.set_num_threads(threads)
    lines = []
    with sweep_executor("processes", workers=2):
        parallel = seed_sweep([0, 1], [0], cache=tmp_path / "parallel.json", log=lines.append, eval_epochs=(1,), **TINY)
    assert len(lines) == 2 and len(load_records(tmp_path / "parallel.json")) == 2
    for a, b in zip(serial, parallel):  # bit for bit: the same lone runs at one thread, in other processes
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert [r["epoch"] for r in parallel[0]["trajectory"]] == [1, 2]
    with pytest.raises(ValueError, match="executor must be"):
        with sweep_executor("threads"):
            pass


def test_two_sweeps_into_one_cache_lose_and_double_no_record(tmp_path):
    cache = tmp_path / "sweep.json"
    with ThreadPoolExecutor(2) as pool:  # overlapping sweeps: seed 1 is run by both
        a, b = pool.map(lambda seeds: seed_sweep(seeds, [0], cache=cache, log=None, **TINY), ([0, 1], [1, 2]))
    records = load_records(cache)
    assert sorted(r["data_seed"] for r in records) == [0, 1, 2]  # each run once, none lost
    assert a[1] == b[0] == next(r for r in records if r["data_seed"] == 1)  # both return the record kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json"]  # no lock or temporary file left


def test_seed_sweep_refuses_settings_it_cannot_run(tmp_path):
    with pytest.raises(ValueError, match=r"does not take per sweep: \['checkpoint', 'epochs'\]"):
        seed_sweep([0], [0], cache=None, log=None, epochs=3, checkpoint=tmp_path / "c.pt", **TINY)


def test_results_path_is_below_the_book_root(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    monkeypatch.setenv("GIN_BOOK_ROOT", str(tmp_path))
    assert (
        results_path("artificial_exp1_paper.json")
        == tmp_path.resolve() / "bench" / "results" / "artificial_exp1_paper.json"
    )
    with pytest.raises(FileNotFoundError, match="no sweep results"):
        load_records(results_path("artificial_exp1_paper.json"))


def test_logged_records_of_the_repository_load(monkeypatch):
    monkeypatch.delenv("GIN_BOOK_ROOT", raising=False)
    monkeypatch.chdir(REPO / "book")  # where the chapters run
    path = results_path("artificial_exp1_paper.json")
    assert path == REPO / "bench" / "results" / "artificial_exp1_paper.json"
    records = filter_records(load_records(path), n_points=100_000, net_seed=0)
    assert records and all({"mcc", "n_informative", "data_seed", "val_nll"} <= set(r) for r in records)


def test_select_restart_uses_observable_score():
    records = [{"data_seed": 0, "val_nll": v, "mcc": m} for v, m in [(-1.0, 0.99), (-2.0, 0.5), (-1.5, 0.9)]]
    assert select_restart(records)["mcc"] == 0.5
    with pytest.raises(ValueError, match="ground truth"):
        select_restart(records, score="mcc")
    with pytest.raises(ValueError, match="one data set"):
        select_restart(records + [{"data_seed": 1, "val_nll": 0.0}])
    with pytest.raises(ValueError, match="finite"):
        select_restart([{"data_seed": 0, "val_nll": None}])
    with pytest.raises(ValueError, match="no records"):
        select_restart([])


def test_success_needs_top_spectrum_mcc_and_dimension():
    ok = {"mcc": 0.99, "top_mcc": 0.96, "n_informative": 2, "n_informative_gap": 3, "n_latent": 2}
    assert success(ok)
    assert not success({**ok, "top_mcc": 0.94})  # the variables the spectrum marks must be the true ones
    assert not success({**ok, "n_informative": 3})
    assert not success(ok, knee="max_gap") and success({**ok, "n_informative_gap": 2}, knee="max_gap")
    assert success({**ok, "n_latent": 4, "n_informative": 4})
    with pytest.raises(ValueError, match="knee"):
        success(ok, knee="plateau")


def test_learner_initialisations():
    x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    identity, random_init, scrambled = (make_learner(init, seed=3) for init in ("identity", "random", "scrambled"))
    with torch.no_grad():
        assert torch.equal(identity(x)[0].sort(1)[0], x.sort(1)[0])  # identity blocks: a permutation of x
        w, log_det = scrambled(x)
        scales = scrambling_scales(3)
        assert abs(scales.log().sum().item()) < 1e-12 and scales.max() / scales.min() > 3
        assert torch.allclose(w, identity(x)[0] * scales.float(), atol=1e-6)
        assert log_det.abs().max() < 1e-5 and scrambled.volume_preserving
        assert (random_init(x)[0] - identity(x)[0]).abs().max() > 0.01  # not the identity any more
        assert random_init(x)[1].abs().max() < 1e-5  # but still volume preserving
    with pytest.raises(ValueError, match="init must be one of"):
        make_learner("zeros")


def test_run_records_the_data_and_knee_settings():
    run = run_artificial(data_seed=1, net_seed=0, n_latent=3, n_clusters=7, variances="shared", **TINY)
    assert run.train.n_informative == 3 and torch.allclose(run.train.stds, run.train.stds[0, 0])
    record = run_record(run)
    assert record["n_latent"] == 3 and record["variances"] == "shared" and record["generator"] == 2
    assert len(record["correlations"]) == 3
    assert record["n_informative"] == count_informative(np.array(record["spectrum"]), "plateau", factor=2.0)
    assert record["n_informative_gap"] == count_informative(np.array(record["spectrum"]), "max_gap")


def test_old_records_are_not_reused(tmp_path):
    cache = tmp_path / "sweep.json"
    first = seed_sweep([0], [0], cache=cache, log=None, **TINY)
    old = {k: v for k, v in first[0].items() if k not in ("generator", "n_latent", "variances", "init")}
    cache.write_text(json.dumps([old]))
    lines = []
    seed_sweep([0], [0], cache=cache, log=lines.append, **TINY)
    assert len(lines) == 1  # the record of older code lacks the new settings: rerun


def test_marginal_valley_separated_vs_overlapping():
    data = make_artificial_data(2, 1000, seed=0)
    data.stds[:] = 0.5
    data.means[:] = torch.tensor([[-4.0, -0.1], [4.0, 0.1]])
    data.z[:, :2] = data.means[data.u] + torch.randn(1000, 2, generator=torch.Generator().manual_seed(0)) * 0.5
    valley = marginal_valley(data)
    assert valley[0] < 1e-6  # two clusters far apart: an empty gap
    assert valley[1] > 0.99  # two clusters on top of each other: no dip


def test_linear_baselines_score_like_gin():
    train, _ = split_data(5, 2000, data_seed=0, n_val=0)
    for name in ("PCA", "FastICA"):
        b = linear_baseline(name, train)
        assert (
            b.w.shape == (2000, 10) and 0 <= b.mcc <= 1 and 0 <= b.n_informative <= 9
        )  # whitened ICA: flat, may count 0
    # on linearly mixed data PCA keeps the true informative plane: its top 2 components span z[:, :2]
    train.x = train.z @ torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(1)))[0]
    pca = linear_baseline("PCA", train)
    z = train.z[:, :2].numpy()
    coef, *_ = np.linalg.lstsq(np.c_[pca.w[:, :2], np.ones(2000)], z, rcond=None)
    assert np.allclose(np.c_[pca.w[:, :2], np.ones(2000)] @ coef, z, atol=1e-4)
    with pytest.raises(ValueError, match="unknown baseline"):
        linear_baseline("NMF", train)


def test_restart_rule_and_tables():
    records = [
        {"data_seed": d, "net_seed": n, "val_nll": v, "mcc": m, "n_points": 100}
        for d, n, v, m in [
            (0, 0, -1.0, 0.5),
            (0, 1, -2.0, 0.99),
            (1, 0, -3.0, 0.97),
            (1, 1, -1.0, 0.2),
            (0, 2, -9.0, 0.1),
        ]
    ]
    chosen = apply_restart_rule(records, net_seeds=[0, 1])
    assert {d: r["net_seed"] for d, r in chosen.items()} == {0: 1, 1: 0}
    assert apply_restart_rule(records, net_seeds=[0])[0]["net_seed"] == 0
    with pytest.raises(ValueError, match="lacks runs"):
        apply_restart_rule(records, net_seeds=[0, 2])
    assert list(by_data_seed(records)) == [0, 1] and len(by_data_seed(records)[0]) == 3
    assert len(filter_records(records, net_seed=0)) == 2
    with pytest.raises(ValueError, match="no record matches"):
        filter_records(records, n_points=5)
    with pytest.raises(KeyError, match="no field"):
        filter_records(records, lr=1.0)
    table = markdown_table([{"a": 1, "b": 0.123456, "c": True}], {"a": "d", "b": ".3f", "c": ""})
    assert table.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1 | 0.123 | yes |"]


def test_protocol_restarts_only_when_the_knee_rules_disagree(tmp_path):
    from gin_core.book.restarts import Protocol, protocol_score, run_protocol

    cache = tmp_path / "protocol.json"
    once = Protocol(n_epochs=2, milestones=(1,), net_seeds=(0, 1), restart_when="never")
    chosen = run_protocol(
        once, [0], cache=cache, log=None, **{k: v for k, v in TINY.items() if k not in ("n_epochs", "milestones")}
    )
    assert chosen[0]["runs"] == 1 and chosen[0]["net_seed"] == 0
    always = Protocol(n_epochs=2, milestones=(1,), net_seeds=(0, 1), restart_when="always")
    chosen = run_protocol(
        always, [0], cache=cache, log=None, **{k: v for k, v in TINY.items() if k not in ("n_epochs", "milestones")}
    )
    runs = load_records(cache)
    assert chosen[0]["runs"] == 2 and len(runs) == 2  # the first run came from the cache
    assert chosen[0]["val_nll"] == min(r["val_nll"] for r in runs)
    score = protocol_score(always, chosen)
    assert score["data_sets"] == 1 and score["runs"] == 2 and score["successes"] == int(success(chosen[0]))
    # "disagree": a restart only after a run whose two knee rules disagree
    fake = [{**runs[0], "n_informative": 3, "n_informative_gap": 2}]
    cache.write_text(json.dumps(fake + runs[1:]))
    lazy = Protocol(n_epochs=2, milestones=(1,), net_seeds=(0, 1), restart_when="disagree")
    assert (
        run_protocol(
            lazy, [0], cache=cache, log=None, **{k: v for k, v in TINY.items() if k not in ("n_epochs", "milestones")}
        )[0]["runs"]
        == 2
    )
    cache.write_text(json.dumps(runs))
    agreed = runs[0]["n_informative"] == runs[0]["n_informative_gap"]
    assert run_protocol(
        lazy, [0], cache=cache, log=None, **{k: v for k, v in TINY.items() if k not in ("n_epochs", "milestones")}
    )[0]["runs"] == (1 if agreed else 2)
    with pytest.raises(ValueError, match="restart_when"):
        Protocol(restart_when="sometimes")
    with pytest.raises(ValueError, match="knee"):
        Protocol(knee="elbow")


def test_sweep_summary_counts_the_kinds_of_failure():
    from gin_core.book.records import sweep_summary

    base = {"mcc": 0.99, "top_mcc": 0.99, "n_informative": 2, "n_informative_gap": 2, "n_latent": 2}
    records = [base, {**base, "n_informative": 3}, {**base, "top_mcc": 0.9}, {**base, "n_informative_gap": 1}]
    s = sweep_summary(records)
    assert (s["runs"], s["ok"], s["ok_gap"], s["misread"], s["low_top_mcc"]) == (4, 2, 2, 1, 1)
    assert s["min_top_mcc"] == 0.9 and s["median_top_mcc"] == 0.99
    with pytest.raises(ValueError, match="no records"):
        sweep_summary([])


def test_knee_ratio_and_weak_knee_restarts(tmp_path):
    from gin_core.book.restarts import Protocol, knee_ratio, run_protocol

    spectrum = [2.0, 1.0, 0.1, 0.09, 0.08]
    assert knee_ratio({"n_informative": 2, "spectrum": spectrum}) == 10.0
    assert knee_ratio({"n_informative_gap": 2, "n_informative": 3, "spectrum": spectrum}, knee="max_gap") == 10.0
    assert knee_ratio({"n_informative": 0, "spectrum": spectrum}) == 1.0
    settings = {k: v for k, v in TINY.items() if k not in ("n_epochs", "milestones")}
    # an impossible threshold restarts through every seed; the clearest knee is kept
    strict = Protocol(
        n_epochs=2, milestones=(1,), net_seeds=(0, 1, 2), restart_when="weak_knee", select_by="knee", min_knee_ratio=1e9
    )
    chosen = run_protocol(strict, [0], cache=tmp_path / "a.json", log=None, **settings)[0]
    runs = load_records(tmp_path / "a.json")
    assert chosen["runs"] == 3 and knee_ratio(chosen) == max(knee_ratio(r) for r in runs)
    lax = Protocol(n_epochs=2, milestones=(1,), net_seeds=(0, 1, 2), restart_when="weak_knee", min_knee_ratio=1.0)
    assert run_protocol(lax, [0], cache=tmp_path / "a.json", log=None, **settings)[0]["runs"] == 1
    with pytest.raises(ValueError, match="select_by"):
        Protocol(select_by="mcc")


def test_splits_variable_needs_low_mcc_and_a_fit_that_is_not_sparse():
    from gin_core.book.records import splits_variable

    assert splits_variable({"mcc": 0.9, "affine_sparse": False})
    assert not splits_variable({"mcc": 0.9, "affine_sparse": True})
    assert not splits_variable({"mcc": 0.96, "affine_sparse": False})
    assert splits_variable({"mcc": 0.9, "affine_sparse_A1_only": False})  # a generator-1 record


def test_one_settings_schema_keys_records_takes_arguments_and_builds_the_command_line():
    """RunSettings is the one definition: record keys, run_artificial's arguments and the sweep's options follow it."""
    import argparse

    from gin_core.book.records import (
        ADDED_LATER as ADDED,
    )
    from gin_core.book.records import (
        DEFAULTS,
        RECORD_KEYS,
        RunSettings,
        add_setting_arguments,
        settings_from_arguments,
    )

    assert RECORD_KEYS == SETTINGS and ADDED == ADDED_LATER
    parser = add_setting_arguments(argparse.ArgumentParser())
    plain = settings_from_arguments(parser.parse_args([]))
    assert plain == {k: v for k, v in DEFAULTS.items() if k not in ("data_seed", "net_seed")}
    changed = settings_from_arguments(
        parser.parse_args("--clusters 3 --epochs 30 --drop 10 20 --glow --mixing mlp2 --permute-labels".split())
    )
    assert changed == {
        **plain,
        "n_clusters": 3,
        "n_epochs": 30,
        "milestones": (10, 20),
        "volume_preserving": False,
        "mixing": "mlp2",
        "permute_labels": True,
    }
    assert RunSettings(**changed).record()["milestones"] == [10, 20]
    with pytest.raises(SystemExit):  # a choice the schema does not allow
        parser.parse_args(["--init", "zeros"])
    with pytest.raises(TypeError, match="n_cluster"):
        run_artificial(n_cluster=3)
