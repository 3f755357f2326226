"""The benchmark scripts run (tiny settings), and the README's speed and sweep tables are the ones rendered from their records."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_step_writes_its_record(tmp_path):
    bench = load("bench_step")
    threads = torch.get_num_threads()
    try:
        out = tmp_path / "speed.json"
        result = bench.main(["--repeats", "1", "--steps", "2", "--warmup", "0", "--no-fast", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    entry = result["threads"]["1"]
    for name in ("10d", "emnist"):
        assert set(entry[name]["timing"]) == {"gin_core", "freia"}
        assert entry[name]["timing"]["gin_core"]["cpu_s"] > 0 and entry[name]["floor_s"] > 0
    assert 1e7 < entry["10d"]["flops"] < 1e8  # about 27 MFLOP a step (forward and backward)
    assert 1e9 < entry["emnist"]["flops"] < 1e11  # about 20 GFLOP


def test_whole_run_timers_run():
    bench = load("bench_step")
    single = bench.whole_experiment1(False, n_epochs=1, milestones=())
    assert single["seconds"] > 0 and single["runs"][0]["fast"] == "eager"
    steps = bench.mnist_steps(False, 2)
    assert steps["steps"] == 2 and steps["fast"] == "eager" and steps["steps_per_s"] > 0


def test_readme_speed_table_is_rendered_from_the_record():
    table = load("speed_table")
    if not table.RESULTS.is_file():
        pytest.fail(f"{table.RESULTS} is missing: run bench/bench_step.py with --out (command in bench/README.md)")
    rendered = table.render(json.loads(table.RESULTS.read_text()))
    assert rendered in (ROOT / "README.md").read_text()


def test_readme_sweep_tables_are_rendered_from_the_record():
    table = load("sweep_table")
    if not table.RESULTS.is_file():
        pytest.fail(f"{table.RESULTS} is missing: run bench/bench_sweep.py (command in the README's Sweeps section)")
    record = json.loads(table.RESULTS.read_text())
    rendered = table.render(record)
    assert rendered in (ROOT / "README.md").read_text()
    assert "**not met**" in rendered  # the record's verdicts: 0.78x, and 14.5x the floor at best
    with pytest.raises(ValueError, match="--smoke run"):
        table.render({**record, "smoke": True})


def test_the_artificial_sweep_script_runs_and_reuses_its_records(tmp_path, capsys):
    sweep = load("artificial_sweep")
    tiny = "--n-points 600 --n-val 200 --epochs 2 --drop 1 --batch-size 100 --eval-every 1".split()
    first = sweep.main(["--name", "tiny", "--data-seeds", "0-1", *tiny, "--results", str(tmp_path)])
    assert [(r["data_seed"], r["net_seed"]) for r in first] == [(0, 0), (1, 0)]
    assert [p["epoch"] for p in first[0]["trajectory"]] == [1, 2]
    assert json.loads((tmp_path / "artificial_tiny.json").read_text()) == first
    assert capsys.readouterr().out.count("data_seed=") == 2
    again = sweep.main(["--name", "tiny", "--data-seeds", "0-2", *tiny, "--results", str(tmp_path)])
    assert again[:2] == first and capsys.readouterr().out.count("data_seed=") == 1  # only seed 2 ran


def test_the_protocol_script_runs_its_three_steps_on_tiny_data(tmp_path):
    protocol = load("protocol")
    rule = ["--epochs", "2", "--drop", "1", "--smoke", "--results", str(tmp_path)]
    dev = protocol.main(["dev", *rule])
    assert {name: score["data_sets"] for name, score in dev.items()} == {"exp1": 10, "exp2": 10}
    assert protocol.main(["freeze", *rule]) == dev  # the development runs are reused, not rerun
    test = protocol.main(["score", "--smoke", "--results", str(tmp_path)])
    assert json.loads((tmp_path / "protocol_test.json").read_text())["score"] == json.loads(json.dumps(test))
    with pytest.raises(SystemExit, match="scored once already"):
        protocol.main(["score", "--smoke", "--results", str(tmp_path)])
    with pytest.raises(SystemExit):  # tiny runs never go into the book's records
        protocol.main(["dev", "--smoke"])


def test_bench_gpu_smoke_runs_the_gpu_code_paths_on_cpu():
    bench = load("bench_gpu")
    result = bench.main(["--smoke", "--no-compile"])
    emnist = result["emnist"]
    for path in ("fp32", "bf16_channels_last"):
        assert emnist[f"{path}_s"] > 0
        assert emnist[f"{path}_inversion_error"] < 1e-4  # float32 weights after bf16 steps still invert
    if not torch.cuda.is_available():  # without --smoke it refuses to run on a CPU, and says why
        with pytest.raises(SystemExit, match="no CUDA device"):
            bench.main([])


def test_interleaved_sweep_alternates_eager_and_fast_run_by_run(monkeypatch):
    bench = load("bench_step")
    calls = []

    def fake_run(fast, seed, n_epochs, milestones):
        calls.append((fast, seed))
        return {"seed": seed, "seconds": 1.0 + seed + (10.0 if fast is True else 0.0)}

    monkeypatch.setattr(bench, "experiment1_run", fake_run)
    sweep = bench.interleaved_sweep(3, n_epochs=1, milestones=())
    assert calls == [(False, 0), (True, 0), (True, 1), (False, 1), (False, 2), (True, 2)]
    assert sweep["eager"]["seconds"] == 1 + 2 + 3 and sweep["fast"]["seconds"] == 11 + 12 + 13
    assert [r["seed"] for r in sweep["fast"]["runs"]] == [0, 1, 2]
