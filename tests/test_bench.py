"""The benchmark scripts run (tiny settings), and the README's speed table is the one rendered from its record."""

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
