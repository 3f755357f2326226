#!/usr/bin/env python3
"""Render the README's sweep tables from bench/results/sweep.json (written by bench_sweep.py).

    python bench/sweep_table.py            # prints the Markdown the README holds

tests/test_bench.py checks that the README's tables are exactly this output. The verdicts against the
targets of the sweep issue (a 10-run sweep at least 3x faster than one after another, with the same
successes; an ensemble member's step at most 3x the FLOP floor at its best N) are computed here from
the record, not written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sweep.json"
BEGIN, END = "<!-- sweep table: bench/sweep_table.py -->", "<!-- end of sweep table -->"
SPEEDUP_TARGET, FLOOR_TARGET = 3.0, 3.0


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _steps(serial: dict) -> str:
    """How the serial runs trained (``fast="auto"`` picks per run): "compiled", or counts of each step."""
    kinds = serial.get("steps", [])
    if not kinds:
        return "step not recorded"
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    return next(iter(counts)) if len(counts) == 1 else ", ".join(f"{n} {k}" for k, n in counts.items())


def render(record: dict) -> str:
    """The README's Markdown for a record of ``bench/bench_sweep.py``: the sweep, the ensemble step, the verdicts."""
    if record.get("smoke"):
        raise ValueError("this record is a --smoke run (tiny sizes); the README shows a full run")
    lines = [
        BEGIN,
        f"`{record['command']}` on {record['cores']} cores ({record['machine']}), torch {record['torch']}, "
        f"{record['utc']}.",
    ]
    sweep = record.get("sweep")
    if sweep is not None:
        serial, runner, s = sweep["serial"], sweep["runner"], record["schedule"]
        packs = ", ".join(str(p) for p in runner["packs"])
        lines += [
            "",
            f"| {serial['runs']} experiment 1 runs ({s['n_epochs']} epochs, lr divided by 10 at epoch "
            f"{', '.join(str(m) for m in s['milestones'])}, {s['n_points']:,} points) | wall time | runs per hour | "
            "core time per member step | successes |",
            "|---|---|---|---|---|",
            f"| one after another, one thread, in one process ({_steps(serial)} step) | {serial['wall_s']:.1f} s | "
            f"{serial['runs_per_hour']:.0f} | {1e3 * serial['core_s_per_member_step']:.2f} ms | "
            f"{serial['successes']} of {serial['runs']} |",
            f"| sweep runner: {runner['workers']} processes x 1 thread, packs of {packs} (ensembles) | "
            f"{runner['wall_s']:.1f} s | {runner['runs_per_hour']:.0f} | "
            f"{1e3 * runner['core_s_per_member_step']:.2f} ms | {runner['successes']} of {runner['runs']} |",
            "",
            f"The sweep runner ran at {sweep['speedup']:.2f}x the speed of one after another"
            f"{' (slower)' if sweep['speedup'] < 1 else ''}: target at least {SPEEDUP_TARGET:g}x with the same "
            f"successes, {_met(sweep['speedup'] >= SPEEDUP_TARGET and serial['successes'] == runner['successes'])}"
            f" (successes {serial['successes']} and {runner['successes']}). Core time per member step: wall time "
            "x cores used / (runs x steps), data, start-up, compilation and evaluation included.",
        ]
    step = record["ensemble_step"]
    floor = step["floor_s"]
    lines += [
        "",
        f"| one training step of the 10-d network, batch {step['batch']}, 1 thread | thread CPU time a step | "
        "per member | member / FLOP floor |",
        "|---|---|---|---|",
    ]
    for label, single in step["single"].items():
        lines.append(f"| one network, {label} step | {1e3 * single['cpu_s']:.2f} ms | | {single['over_floor']:.1f}x |")
    for e in step["sizes"]:
        lines.append(
            f"| ensemble of N = {e['members']}, {e['mode']} | {1e3 * e['cpu_s']:.2f} ms | {1e3 * e['member_s']:.2f} ms | "
            f"{e['over_floor']:.1f}x |"
        )
    best = step["best"]
    lines += [
        "",
        f"FLOP floor of one member's step: {1e3 * floor:.3f} ms ({step['member_flops'] / 1e6:.1f} MFLOP at "
        f"{step['matmul_flop_per_s'] / 1e9:.1f} GFLOP/s, a 512 x 512 float32 matrix product at one thread). Best "
        f"eager ensemble: N = {best['members']}, {1e3 * best['member_s']:.2f} ms a member, "
        f"{best['over_floor']:.1f}x the floor: target at most {FLOOR_TARGET:g}x, "
        f"{_met(best['over_floor'] <= FLOOR_TARGET)}.",
        END,
    ]
    return "\n".join(lines)


def main() -> str:
    table = render(json.loads(RESULTS.read_text()))
    sys.stdout.write(table + "\n")
    return table


if __name__ == "__main__":
    main()
