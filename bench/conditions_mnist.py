#!/usr/bin/env python3
"""Measure the shipped pair of issue 11 (10 labels vs 40 sub-labels) on all of MNIST; write the record.

    OMP_NUM_THREADS=2 python bench/conditions_mnist.py --threads 2

Loads data/weights/gin_mnist_labels10.pt and gin_mnist_sublabels40.pt (gin_core.book.conditions.PAIR),
fits the sub-label rule on the 60,000 training images, and runs gin_core.book.conditions.measure_pair:
spectra and counts (book knee rule) from the training codes, the variable matching on the 10,000 test
images, and the crossbar detector on the training sevens and on 1,000 sampled sevens per model.
Writes bench/results/conditions_mnist.json; the chapter conditions_sublabels, at cpu scale, recomputes
the same numbers and asserts that they equal this record.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "conditions_mnist.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from gin_core.book.conditions import load_pair, measure_pair
    from gin_core.book.settings import data_root
    from gin_core.digits import load_digits
    from gin_core.sublabels import fit_sub_labels

    start = time.perf_counter()
    x_train, u_train = load_digits("mnist", "train", data_root())
    x_test, u_test = load_digits("mnist", "test", data_root())
    pair = load_pair()
    rule = fit_sub_labels(x_train, u_train, per_class=4)
    result = measure_pair({k: net for k, (net, _) in pair.items()}, rule, x_train, u_train, x_test, u_test)
    result.pop("_objects")
    result["weights"] = {k: {"file": p["file"], "sha256": p["sha256"]} for k, (_, p) in pair.items()}
    result["test_nll_bits_per_dim"] = {
        "labels": pair["labels"][1]["test_nll"]["bits_per_dim"],
        "sublabels_given_class": pair["sublabels"][1]["test_nll_sub_labels"]["class_mixture"]["bits_per_dim"],
        "sublabels_given_sublabel": pair["sublabels"][1]["test_nll_sub_labels"]["sublabel"]["bits_per_dim"],
    }
    result["command"] = "OMP_NUM_THREADS=2 python bench/conditions_mnist.py --threads 2"
    result["code_commit"] = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    result["seconds"] = time.perf_counter() - start
    result["machine"] = platform.platform()
    result["recorded_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"k: 10 labels {result['labels']['k']}, sub-labels {result['sublabels']['k']} "
        f"(by class {result['sublabels']['k_by_class']}); survivors {result['survivors']} of {result['labels']['k']}; "
        f"crossed: train {result['crossed']['train']['fraction']:.3f}, 10 labels "
        f"{result['crossed']['labels']['fraction']:.3f}, sub-labels {result['crossed']['sublabels']['fraction']:.3f}; "
        f"{result['seconds']:.0f} s -> {args.out}",
        file=sys.stderr,
    )
    return result


if __name__ == "__main__":
    main()
