"""Sweeps: a grid of runs through an executor, one record per run, safe to rerun, to share and to kill.

A **grid** is a list of settings dictionaries (JSON values). A :class:`Task` says how to run one
settings dictionary (``run``), and optionally how to run several at once as an ensemble
(``run_pack``, e.g. :func:`gin_core.training.train_ensemble`) and which runs may share
one (``pack_by``). :func:`run_sweep` executes the runs not yet recorded through an executor:

* ``"processes"`` (the default): local processes, one per core, one thread each; the pending
  runs are packed into ensembles of up to :data:`PACK_LIMIT` members so that every process gets
  one pack where the task can pack;
* a ``distributed.Client`` (**Dask distributed**): the same packs as tasks on a cluster. Dask is
  pure Python and light (a scheduler and worker processes), reaches Slurm, PBS and the like
  through ``dask-jobqueue`` and Kubernetes through its operator, and retries a task whose worker
  died; Ray would serve the same need with a heavier runtime (its own object store and
  raylet), which a sweep of small independent runs does not use;
* ``"serial"``: in this process, one run after another (tests, debugging, and
  :func:`gin_core.book.restarts.seed_sweep` by default).

**Records** live in a :class:`RecordStore`: one JSON file per run, named by :func:`run_key`, the
SHA-256 of the run's canonical settings. Each file is written under a temporary name and
*linked* to its final name, an atomic create that never replaces an existing record. A worker
claims a run by holding an exclusive lock on ``claims/<key>.lock``
(:func:`gin_core.training.lock.hold_lock`) while it runs it, so

* a rerun skips finished runs (their record exists) and redoes a run whose worker died (the
  kernel dropped the dead worker's lock with its process);
* two sweeps writing into one store never run one run twice at the same time, nor write a
  record twice: a run claimed by the other sweep is skipped, and :func:`run_sweep` then waits
  for its record (or claims it if its holder dies).

References:
    Dask distributed, https://distributed.dask.org (``Client``, ``LocalCluster``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..artificial import GENERATOR_VERSION
from ..training import train_ensemble
from ..training.lock import LockedError, hold_lock
from .records import DEFAULTS
from .runs import ArtificialRun, evaluate_run, make_learner, run_artificial, run_record, split_data

__all__ = [
    "PACK_LIMIT",
    "run_key",
    "RecordStore",
    "Task",
    "plan_packs",
    "execute_pack",
    "run_sweep",
    "local_workers",
    "artificial_settings",
    "artificial_run",
    "artificial_pack",
    "ARTIFICIAL",
]

# Most members of one ensemble a sweep packs. Measured on the project's shared 2-core CPU (bench/results/sweep.json,
# "ensemble_step", thread CPU time at one thread while other jobs loaded the machine): the eager ensemble step of
# the 10-d network cost 22.2 ms a member at N = 1, 6.4 at N = 4 and 8, 5.2 at 16, 3.8 at 32 and 4.5 at 64 (the
# single compiled step: 6.2 ms). The runner packs ceil(runs / workers) runs, up to the best N measured.
PACK_LIMIT = 32


def run_key(settings: dict) -> str:
    """The record key of a run: SHA-256 (24 hex digits) of its settings as canonical JSON.

    Keys are sorted and the JSON is compact, so equal settings give one key whatever their order;
    ``10`` and ``10.0`` are different JSON and give different keys.

    Arguments:
        settings: a dictionary of JSON values (str keys; numbers, strings, booleans, None, lists, dicts).

    Returns:
        24 hexadecimal digits.
    """
    return hashlib.sha256(_canonical(settings).encode()).hexdigest()[:24]


def _canonical(settings: dict) -> str:
    if not isinstance(settings, dict):
        raise TypeError(f"a run's settings must be a dict of JSON values, got {type(settings).__name__}")
    try:
        return json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"a run's settings must be JSON values (no tuples of tensors, NaN or objects): {error}"
        ) from error


class RecordStore:
    """A folder of run records: ``records/<key>.json``, claims in ``claims/``, temporary files in ``tmp/``.

    Arguments:
        root: the folder (created).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        for sub in ("records", "claims", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / "records" / f"{key}.json"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> dict:
        return json.loads(self.path(key).read_text())

    def keys(self) -> list[str]:
        """The keys of every record in the store."""
        return sorted(p.stem for p in (self.root / "records").glob("*.json"))

    def claim(self, key: str) -> contextlib.AbstractContextManager[dict]:
        """Hold the claim on run ``key`` (an exclusive lock); raises :class:`~gin_core.training.lock.LockedError` if held."""
        return hold_lock(self.root / "claims" / f"{key}.lock")

    def claimed(self, key: str) -> bool:
        """Whether a live process holds the claim on run ``key`` now."""
        return _held(self.root / "claims" / f"{key}.lock")

    def write(self, record: dict) -> Path:
        """Write ``record`` (with its ``key``) atomically; an existing record is never replaced.

        Raises:
            FileExistsError: the run already has a record (two writers of one run: a claim was not held).
        """
        final = self.path(record["key"])
        tmp = self.root / "tmp" / f"{record['key']}.{os.getpid()}.{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(record, indent=1, allow_nan=True) + "\n")
        try:
            os.link(tmp, final)  # atomic, and fails if the record exists
        finally:
            tmp.unlink()
        return final


def _held(path: Path) -> bool:
    """Whether a live process holds the exclusive lock on ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # no claim, or its holder ended and removed it
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Task:
    """What a sweep runs.

    Attributes:
        run: one run: ``run(settings) -> result`` (a dict of JSON values).
        run_pack: several runs as one ensemble: ``run_pack([settings, ...]) -> [result, ...]``, in
            order; ``None`` if the task cannot pack.
        pack_by: runs with equal ``pack_by(settings)`` may share a pack (default: any two may).
        normalize: the settings as they are keyed and recorded (e.g. with defaults filled in),
            or ``None`` to key them as given.
    """

    run: Callable[[dict], dict]
    run_pack: Callable[[list[dict]], list[dict]] | None = None
    pack_by: Callable[[dict], Hashable] | None = None
    normalize: Callable[[dict], dict] | None = None


def local_workers() -> int:
    """The cores this process may run on (one worker each)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def plan_packs(runs: Sequence[dict], task: Task, pack: int | str, workers: int) -> list[list[dict]]:
    """Split runs into packs: groups of equal ``task.pack_by``, chunked to the pack size, in grid order.

    Arguments:
        runs: the settings of the runs to do.
        task: the :class:`Task` (without ``run_pack`` every pack has one run).
        pack: the pack size, or ``"auto"``: ``ceil(runs / workers)`` up to :data:`PACK_LIMIT`, so
            that every worker gets one pack.
        workers: the number of workers.

    Returns:
        A list of packs (lists of settings).
    """
    if pack != "auto" and (not isinstance(pack, int) or pack < 1):
        raise ValueError(f"pack must be a positive int or 'auto', got {pack!r}")
    groups: dict[str, list[dict]] = {}
    for settings in runs:
        label = json.dumps(task.pack_by(settings) if task.pack_by else None, sort_keys=True, default=repr)
        groups.setdefault(label, []).append(settings)
    packs = []
    for group in groups.values():
        size = 1 if task.run_pack is None else pack
        if size == "auto":
            size = max(1, min(PACK_LIMIT, math.ceil(len(group) / max(workers, 1))))
        packs += [group[i : i + size] for i in range(0, len(group), size)]
    return packs


def execute_pack(task: Task, root: str, pack: list[dict], threads: int | None = 1) -> dict:
    """Run the unrecorded, unclaimed runs of a pack (on a worker) and write their records.

    Arguments:
        task: the :class:`Task`.
        root: the :class:`RecordStore` folder.
        pack: settings (already normalised).
        threads: torch threads while running (restored after); ``None``: as they are.

    Returns:
        ``{"done": [keys written], "busy": [keys claimed by another process]}``.
    """
    store = RecordStore(root)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    done, busy = [], []
    try:
        with contextlib.ExitStack() as claims:
            mine = []
            for settings in pack:
                key = run_key(settings)
                if store.has(key):
                    continue
                try:
                    claims.enter_context(store.claim(key))
                except LockedError:
                    busy.append(key)
                    continue
                if not store.has(key):  # finished by another sweep between the check and the claim
                    mine.append(settings)
            if len(mine) > 1:
                start = time.perf_counter()
                results = task.run_pack(mine)
                _check_results(results, len(mine))
                seconds = time.perf_counter() - start
                for settings, result in zip(mine, results):
                    done.append(store.write(_record(settings, result, seconds, len(mine))).stem)
            for settings in mine if len(mine) == 1 else []:
                start = time.perf_counter()
                result = task.run(settings)
                _check_results([result], 1)
                done.append(store.write(_record(settings, result, time.perf_counter() - start, 1)).stem)
    finally:
        torch.set_num_threads(previous)
    return {"done": done, "busy": busy}


def _check_results(results, n: int) -> None:
    if not isinstance(results, list) or len(results) != n or not all(isinstance(r, dict) for r in results):
        raise TypeError(f"a task must return one result dict per run ({n}), got {type(results).__name__}")


def _record(settings: dict, result: dict, seconds: float, pack: int) -> dict:
    return {
        "key": run_key(settings),
        "settings": settings,
        "result": result,
        "run": {
            "seconds": seconds,
            "pack": pack,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "torch_threads": torch.get_num_threads(),
        },
    }


def _one_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def run_sweep(
    grid: Sequence[dict],
    task: Task,
    store: str | os.PathLike | RecordStore,
    *,
    executor="processes",
    workers: int | None = None,
    pack: int | str = "auto",
    wait_timeout: float | None = None,
    poll: float = 0.5,
    progress: bool = True,
    threads: int | None = 1,
    on_record: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every run of ``grid`` that has no record yet, and return all the grid's records in grid order.

    Arguments:
        grid: the runs' settings (dicts of JSON values, each once).
        task: how to run them (:class:`Task`).
        store: a :class:`RecordStore` or its folder.
        executor: ``"processes"`` (local processes, one thread each), ``"serial"`` (this process) or a
            ``distributed.Client``.
        workers: local processes (default: :func:`local_workers`); with a client, its workers' count.
        pack: runs per ensemble (``"auto"``: :func:`plan_packs`; 1: no ensembles).
        wait_timeout: seconds to wait for runs that another sweep is running (``None``: as long as it runs).
        poll: seconds between looks at those runs.
        progress: show a progress bar over the grid's runs.
        threads: torch threads of each run (default 1); ``None`` keeps the threads of the process
            that runs it (the caller's, with ``"serial"``).
        on_record: called in this process with each record this sweep writes, as soon as its pack
            has finished (in the order the packs finish), e.g. to log it or copy it elsewhere.

    Returns:
        One record per run: ``{"key", "settings", "result", "run": {seconds, pack, host, pid, ...}}``.

    Raises:
        TimeoutError: another sweep's runs were not finished within ``wait_timeout``.
        RuntimeError: a local worker process died (rerun: finished records are kept, its runs are redone).
    """
    store = store if isinstance(store, RecordStore) else RecordStore(store)
    grid = [task.normalize(dict(s)) if task.normalize else dict(s) for s in grid]
    keys = [run_key(s) for s in grid]
    seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in seen:
            raise ValueError(f"the grid holds the same run twice (rows {seen[key]} and {i}): {grid[i]}")
        seen[key] = i
    pending = [s for s, key in zip(grid, keys) if not store.has(key)]
    workers = workers or (_client_workers(executor) if not isinstance(executor, str) else local_workers())
    packs = plan_packs(pending, task, pack, workers)
    bar = tqdm(total=len(grid), initial=len(grid) - len(pending), desc="sweep", unit="run", disable=not progress)

    def finished(outcome: dict) -> None:
        bar.update(len(outcome["done"]))
        for key in outcome["done"] if on_record is not None else ():
            on_record(store.read(key))

    try:
        for outcome in _dispatch(executor, packs, task, store, workers, threads):
            finished(outcome)
        _wait_for_others(grid, keys, task, store, wait_timeout, poll, threads, finished)
    finally:
        bar.close()
    return [store.read(key) for key in keys]


def _client_workers(client) -> int:
    return max(1, len(client.scheduler_info()["workers"]))


def _dispatch(executor, packs, task: Task, store: RecordStore, workers: int, threads: int | None):
    """Yield each pack's outcome as it finishes."""
    root = str(store.root)
    if executor == "serial":
        for pack in packs:
            yield execute_pack(task, root, pack, threads)
    elif executor == "processes":
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_one_thread) as pool:
            futures = [pool.submit(execute_pack, task, root, pack, threads) for pack in packs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except BrokenProcessPool as error:
                raise RuntimeError(
                    "a sweep worker process died; the records finished so far are kept: rerun the sweep to redo the rest"
                ) from error
    elif hasattr(executor, "submit") and hasattr(executor, "scheduler_info"):
        from distributed import as_completed as dask_completed

        futures = [executor.submit(execute_pack, task, root, pack, threads, pure=False) for pack in packs]
        for future in dask_completed(futures):
            yield future.result()
    else:
        raise ValueError(f"executor must be 'processes', 'serial' or a distributed.Client, got {executor!r}")


def _wait_for_others(grid, keys, task: Task, store: RecordStore, timeout: float | None, poll: float, threads, finished):
    """Wait for the runs another sweep holds; run here any whose holder died (``finished`` gets its outcome)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    missing = [(s, k) for s, k in zip(grid, keys) if not store.has(k)]
    while missing:
        for settings, key in missing:
            if not store.has(key) and not store.claimed(key):
                finished(execute_pack(task, str(store.root), [settings], threads))
        missing = [(s, k) for s, k in missing if not store.has(k)]
        if missing and deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} runs held by another sweep were not finished within {timeout} s")
        if missing:
            time.sleep(poll)


# ----------------------------------------------------------------------------------------------
# The artificial experiments (§4.3) as a task


def artificial_settings(settings: dict) -> dict:
    """A run of :func:`gin_core.book.runs.run_artificial` as a sweep keys it: every setting, defaults filled in.

    Arguments:
        settings: any of the settings of :class:`~gin_core.book.records.RunSettings` (not
            ``checkpoint``, ``device``, ``progress``, ``fast`` or ``eval_epochs``, which do not define a run here).

    Returns:
        The full settings, ``milestones`` as a list, and the data generator's version.
    """
    defaults = DEFAULTS
    unknown = sorted(set(settings) - set(defaults) - {"generator"})
    if unknown:
        raise ValueError(f"unknown settings of an artificial run: {unknown}; known: {sorted(defaults)}")
    full = {**defaults, **settings, "generator": GENERATOR_VERSION}
    full["milestones"] = [int(m) for m in full["milestones"]]
    if full["generator"] != GENERATOR_VERSION:
        raise ValueError(
            f"these runs were keyed by data generator {settings['generator']}, this code has {GENERATOR_VERSION}"
        )
    return full


def _result(record: dict, settings: dict) -> dict:
    return {k: v for k, v in record.items() if k not in settings and k != "seconds"}


def artificial_run(settings: dict) -> dict:
    """One artificial run (:func:`~gin_core.book.runs.run_artificial`, ``fast="auto"``); its result without its settings."""
    arguments = {k: v for k, v in settings.items() if k != "generator"}
    return _result(run_record(run_artificial(**arguments, progress=False)), settings)


def _artificial_pack_key(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k not in ("data_seed", "net_seed")}


def artificial_pack(runs: list[dict]) -> list[dict]:
    """Several artificial runs of one schedule as one ensemble (:func:`~gin_core.training.train_ensemble`).

    Each member is the run :func:`artificial_run` does (its own data seed, network seed, shuffling
    and noise), evaluated the same way (:func:`~gin_core.book.runs.evaluate_run`); its
    training agrees with the lone run's to float32 rounding.

    Arguments:
        runs: settings (:func:`artificial_settings`) that differ only in ``data_seed`` and ``net_seed``.

    Returns:
        The results, in order.
    """
    shared = _artificial_pack_key(runs[0])
    for k, settings in enumerate(runs):
        if _artificial_pack_key(settings) != shared:
            raise ValueError(
                f"run {k} of the pack differs from run 0 in more than its seeds; it cannot share an ensemble"
            )
    s = runs[0]
    data = [
        split_data(
            s["n_clusters"],
            s["n_points"],
            r["data_seed"],
            s["n_val"],
            s["n_latent"],
            s["variances"],
            s["mixing_points"],
            s["mixing"],
            s["permute_labels"],
        )
        for r in runs
    ]
    nets = [make_learner(s["init"], s["volume_preserving"], r["net_seed"]) for r in runs]
    start = time.perf_counter()
    histories = train_ensemble(
        nets, [d.x for d, _ in data], [d.u for d, _ in data], s["n_clusters"], seeds=[r["net_seed"] for r in runs],
        n_epochs=s["n_epochs"], lr=s["lr"], batch_size=s["batch_size"], milestones=tuple(s["milestones"]),
        noise=s["noise"], datasets=[d.description for d, _ in data], progress=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    out = []
    for settings, net, (train, val), history in zip(runs, nets, data, histories):
        run = ArtificialRun(dict(settings), net, train, val, history, evaluate_run(net, train, val), [], seconds)
        out.append(_result(run_record(run), settings))
    return out


ARTIFICIAL = Task(
    run=artificial_run, run_pack=artificial_pack, pack_by=_artificial_pack_key, normalize=artificial_settings
)
"""The artificial experiments as a sweep task: ``run_sweep([{"data_seed": s, "net_seed": s, ...}], ARTIFICIAL, store)``."""
