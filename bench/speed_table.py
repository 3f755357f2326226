#!/usr/bin/env python3
"""Render the README's speed table from bench/results/speed.json (written by bench_step.py).

    python bench/speed_table.py            # prints the Markdown table the README holds

tests/test_bench.py checks that the README's table is exactly this output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "speed.json"
BEGIN, END = "<!-- speed table: bench/speed_table.py -->", "<!-- end of speed table -->"


def render(result: dict) -> str:
    lines = [
        BEGIN,
        f"`{result['command']}` on {result['processor']}, torch {result['torch']}, {result['utc']}; "
        "wall time per step on an otherwise idle machine (median of interleaved repeats; thread CPU time, "
        "which counts the calling thread only, is in the record), ratio = FrEIA / this. "
        '`train(fast="auto")` on CPU takes the compiled step for long 10-d runs and eager for the image network.',
        "",
        "| threads | network | gin_core eager (vs FrEIA) | gin_core fast path (vs FrEIA) | FrEIA 0.2 | fast path / FLOP floor |",
        "|---|---|---|---|---|---|",
    ]
    for threads, entry in result["threads"].items():
        for name, label in (("10d", "10-d, batch 1000"), ("emnist", "EMNIST, batch 240")):
            if name not in entry:
                continue
            timing = entry[name]["timing"]
            fast_key = next(k for k in timing if k.startswith("gin_core ") and k != "gin_core")
            fast = timing[fast_key]
            lines.append(
                f"| {threads} | {label} | {1e3 * timing['gin_core']['wall_s']:.2f} ms "
                f"({timing['gin_core']['freia_over_this_wall']:.2f}x) | {1e3 * fast['wall_s']:.2f} ms "
                f"({fast_key.split()[1]}, {fast['freia_over_this_wall']:.2f}x) | {1e3 * timing['freia']['wall_s']:.2f} ms | "
                f"{fast['wall_s'] / entry[name]['floor_s']:.1f}x |"
            )
    whole = [(t, e["whole"]) for t, e in result["threads"].items() if "whole" in e]
    if whole:
        lines += [
            "",
            "| threads | whole run | eager | auto | fast (compiled) | eager / fast |",
            "|---|---|---|---|---|---|",
        ]
        for threads, w in whole:
            e, a, f = (w[f"experiment1_{k}"]["seconds"] for k in ("eager", "auto", "fast"))
            lines.append(
                f"| {threads} | experiment 1, one run (30 epochs) | {e:.1f} s | {a:.1f} s | {f:.1f} s | {e / f:.2f}x |"
            )
            if "sweep_eager" in w:
                se, sf = w["sweep_eager"]["seconds"], w["sweep_fast"]["seconds"]
                n = len(w["sweep_eager"]["runs"])
                lines.append(
                    f"| {threads} | experiment 1, sweep of {n} runs in one process, interleaved | {se:.1f} s | | {sf:.1f} s | **{se / sf:.2f}x** |"
                )
            me, ma = w["mnist_eager"], w["mnist_auto"]
            lines.append(
                f"| {threads} | MNIST, {me['steps']} training steps | {me['steps_per_s']:.2f} steps/s | "
                f"{ma['steps_per_s']:.2f} steps/s ({ma['fast']}) | | {ma['steps_per_s'] / me['steps_per_s']:.2f}x (auto) |"
            )
    lines.append(END)
    return "\n".join(lines)


def main() -> str:
    table = render(json.loads(RESULTS.read_text()))
    sys.stdout.write(table + "\n")
    return table


if __name__ == "__main__":
    main()
