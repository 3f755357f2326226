"""The sweep runner (gin_core.book.sweeps): records, reruns, shared stores, a real Dask cluster and a killed worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudpickle
import distributed
import pytest
import torch

from gin_core.book.sweeps import ARTIFICIAL, RecordStore, Task, plan_packs, run_key, run_sweep

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(n_points=1000, n_val=200, n_epochs=2, batch_size=500, milestones=[1])  # 4 Adam steps a run
CALLS: list[int] = []
CALLS_LOCK = threading.Lock()

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Dask workers get this module's task functions by value


def square(settings: dict) -> dict:
    """A task run: sleeps ``settings["sleep"]`` seconds and returns ``i`` squared."""
    time.sleep(settings.get("sleep", 0.0))
    with CALLS_LOCK:
        CALLS.append(settings["i"])
    return {"value": settings["i"] ** 2}


SQUARE = Task(run=square)


def grid_of(n: int, sleep: float = 0.0) -> list[dict]:
    return [{"i": i, "sleep": sleep} for i in range(n)]


def comparable(records: list[dict]) -> list[tuple]:
    return [
        (r["key"], json.dumps(r["settings"], sort_keys=True), json.dumps(r["result"], sort_keys=True)) for r in records
    ]


def test_run_keys_are_canonical():
    assert run_key({"a": 1, "b": [1, 2]}) == run_key({"b": [1, 2], "a": 1})
    assert run_key({"a": 1}) != run_key({"a": 2})
    assert len(run_key({"a": 1})) == 24
    with pytest.raises(TypeError, match="JSON values"):
        run_key({"a": object()})
    with pytest.raises(TypeError, match="must be a dict"):
        run_key([1, 2])


def test_packs_group_compatible_runs_and_fill_every_worker():
    task = Task(run=square, run_pack=lambda runs: [square(r) for r in runs], pack_by=lambda s: s["group"])
    runs = [{"i": i, "group": i % 2} for i in range(10)]
    packs = plan_packs(runs, task, "auto", workers=2)
    assert [[r["i"] for r in p] for p in packs] == [[0, 2, 4], [6, 8], [1, 3, 5], [7, 9]]
    assert [len(p) for p in plan_packs(runs, task, 1, workers=2)] == [1] * 10
    assert [len(p) for p in plan_packs(runs, SQUARE, "auto", workers=2)] == [1] * 10  # the task cannot pack
    with pytest.raises(ValueError, match="pack must be"):
        plan_packs(runs, task, 0, workers=2)


def test_a_record_is_never_replaced(tmp_path):
    store = RecordStore(tmp_path)
    store.write({"key": "abc", "result": 1})
    with pytest.raises(FileExistsError):
        store.write({"key": "abc", "result": 2})
    assert store.read("abc")["result"] == 1
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_rerun_skips_finished_runs(tmp_path):
    CALLS.clear()
    first = run_sweep(grid_of(3), SQUARE, tmp_path, executor="serial", progress=False)
    assert [r["result"]["value"] for r in first] == [0, 1, 4] and sorted(CALLS) == [0, 1, 2]
    again = run_sweep(grid_of(4), SQUARE, tmp_path, executor="serial", progress=False)
    assert sorted(CALLS) == [0, 1, 2, 3]  # only the new run ran
    assert comparable(again[:3]) == comparable(first)
    with pytest.raises(ValueError, match=r"the same run twice \(rows 0 and 2\)"):
        run_sweep([{"i": 0}, {"i": 1}, {"i": 0}], SQUARE, tmp_path, executor="serial", progress=False)


def test_two_sweeps_into_one_store_run_each_run_once(tmp_path):
    CALLS.clear()
    grid = grid_of(6, sleep=0.1)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(run_sweep, grid, SQUARE, tmp_path, executor="serial", wait_timeout=60, progress=False)
            for _ in range(2)
        ]
        a, b = (f.result(timeout=120) for f in futures)
    assert sorted(CALLS) == list(range(6))  # no run twice
    assert comparable(a) == comparable(b)
    assert len(RecordStore(tmp_path).keys()) == 6


HOLDER = """
import sys, time
from gin_core.training.lock import hold_lock
with hold_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_run_whose_holder_died_is_redone(tmp_path):
    """A run claimed by a process that is killed (SIGKILL) is run by the sweep that waits for it."""
    CALLS.clear()
    store = RecordStore(tmp_path)
    claim = tmp_path / "claims" / f"{run_key({'i': 1, 'sleep': 0.0})}.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(claim)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TimeoutError, match="1 runs held by another sweep"):
            run_sweep(grid_of(3), SQUARE, store, executor="serial", wait_timeout=1, progress=False)
        assert sorted(CALLS) == [0, 2] and store.claimed(run_key({"i": 1, "sleep": 0.0}))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    records = run_sweep(grid_of(3), SQUARE, store, executor="serial", wait_timeout=30, progress=False)
    assert [r["result"]["value"] for r in records] == [0, 1, 4] and sorted(CALLS) == [0, 1, 2]


def test_packed_runs_agree_with_lone_runs(tmp_path):
    """The artificial task: two runs as one ensemble against the same two alone (float32 rounding)."""
    grid = [{**TINY, "data_seed": s, "net_seed": s + 1} for s in range(2)]
    alone = run_sweep(grid, ARTIFICIAL, tmp_path / "alone", executor="serial", pack=1, progress=False)
    packed = run_sweep(grid, ARTIFICIAL, tmp_path / "packed", executor="serial", pack=2, progress=False)
    assert [r["run"]["pack"] for r in alone] == [1, 1] and [r["run"]["pack"] for r in packed] == [2, 2]
    for a, b in zip(alone, packed):
        assert a["key"] == b["key"] and a["settings"] == b["settings"]
        assert a["result"]["loss"] == pytest.approx(b["result"]["loss"], abs=1e-5)
        assert a["result"]["n_informative"] == b["result"]["n_informative"]
    with pytest.raises(ValueError, match="unknown settings of an artificial run"):
        run_sweep([{"data_seed": 0, "epochs": 3}], ARTIFICIAL, tmp_path / "bad", executor="serial", progress=False)


def test_each_record_is_reported_as_its_pack_finishes(tmp_path):
    seen = []
    records = run_sweep(grid_of(3), SQUARE, tmp_path, executor="serial", progress=False, on_record=seen.append)
    assert comparable(seen) == comparable(records)  # serial: in grid order, each once
    again = []
    run_sweep(grid_of(4), SQUARE, tmp_path, executor="serial", progress=False, on_record=again.append)
    assert [r["result"]["value"] for r in again] == [9]  # only the record this sweep wrote


def test_serial_runs_keep_the_callers_threads_when_asked(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        kept = run_sweep(grid_of(1), SQUARE, tmp_path / "kept", executor="serial", progress=False, threads=None)
        one = run_sweep(grid_of(1), SQUARE, tmp_path / "one", executor="serial", progress=False)
        assert torch.get_num_threads() == 2  # restored after the runs
    finally:
        torch.set_num_threads(threads)
    assert kept[0]["run"]["torch_threads"] == 2 and one[0]["run"]["torch_threads"] == 1


def claim_holder(path: Path) -> dict:
    """The record in a claim file; ``{}`` if it is empty or its holder removed it since the listing (it finished)."""
    try:
        return json.loads(path.read_text() or "{}")
    except FileNotFoundError:  # a finished run's claim goes with its lock: not a failure, the run is just done
        return {}


@pytest.fixture
def dask_client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield client


def test_a_local_dask_cluster_gives_the_serial_records(tmp_path, dask_client):
    grid = [{**TINY, "data_seed": s, "net_seed": s} for s in range(4)]
    serial = run_sweep(grid, ARTIFICIAL, tmp_path / "serial", executor="serial", pack=2, progress=False)
    on_dask = run_sweep(grid, ARTIFICIAL, tmp_path / "dask", executor=dask_client, pack=2, progress=False)
    assert comparable(on_dask) == comparable(serial)  # bit for bit: same packs, one thread each
    assert {r["run"]["pid"] for r in on_dask} <= set(dask_client.run(os.getpid).values())
    assert all(r["run"]["torch_threads"] == 1 for r in on_dask)


def test_a_killed_dask_worker_loses_no_record_and_the_rerun_completes(tmp_path, dask_client):
    store = RecordStore(tmp_path)
    grid = grid_of(8, sleep=1.0)
    with ThreadPoolExecutor(1) as pool:
        sweep = pool.submit(run_sweep, grid, SQUARE, store, executor=dask_client, pack=1, progress=False)
        deadline = time.monotonic() + 120
        while not store.keys() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.keys(), "no run finished within 120 s"
        pids = set(dask_client.run(os.getpid).values())
        busy = None
        while busy is None and time.monotonic() < deadline:
            holders = [claim_holder(p) for p in (tmp_path / "claims").glob("*.lock")]
            busy = next((h["pid"] for h in holders if h.get("pid") in pids), None)
            time.sleep(0.02)
        assert busy is not None, "no worker was running a run"
        finished = {key: store.path(key).read_bytes() for key in store.keys()}
        os.kill(busy, signal.SIGKILL)
        outcome = sweep.exception(timeout=180)  # Dask may retry the lost run elsewhere, or give up on it
    assert outcome is None or "Killed" in type(outcome).__name__ or "died" in str(outcome), outcome
    records = run_sweep(grid, SQUARE, store, executor=dask_client, pack=1, progress=False, wait_timeout=120)
    assert [r["result"]["value"] for r in records] == [i * i for i in range(8)]
    assert {key: store.path(key).read_bytes() for key in finished} == finished  # finished records untouched
    assert len(store.keys()) == 8 and not any(store.claimed(r["key"]) for r in records)


def test_the_bench_runs_in_smoke_mode(tmp_path):
    out = tmp_path / "sweep.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "bench/bench_sweep.py", "--smoke", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["smoke"] is True
    assert record["sweep"]["serial"]["runs"] == record["sweep"]["runner"]["runs"] == 2
    assert record["sweep"]["serial"]["successes"] == record["sweep"]["runner"]["successes"]
    assert [e["members"] for e in record["ensemble_step"]["sizes"]] == [1, 2]
    assert all(e["member_s"] > 0 and e["over_floor"] > 0 for e in record["ensemble_step"]["sizes"])
