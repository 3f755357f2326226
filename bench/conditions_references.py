#!/usr/bin/env python3
"""Two references for the sub-label chapter's numbers (issue 19, "Fix"): what they are compared against.

1. **Seed to seed.** The chapter reports how many of the 10-label model's informative variables
   "survive" in the sub-label model (a one-to-one partner with within-class |r| >= 0.7). Without a
   reference that count means little: two 10-label models that differ only in their seed may share
   few variables too. This script matches the shipped 10-label model (seed 0) with a second one
   trained with seed 1 and otherwise identical settings, by the very same procedure
   (gin_core.book.conditions.match_variables, the book's knee rule on the training codes).
2. **The truncation.** The chapter's sampled sevens vary only the informative variables and keep the
   others at the condition mean (the paper's Fig. 9). Their crossed-seven rate was compared with raw
   training sevens. Here the real training sevens go through the same truncation (encode, set the
   non-informative variables to their condition's mean, decode) under each model of the pair, and the
   crossbar detector scores them.

The second 10-label model is trained by

    OMP_NUM_THREADS=1 python -m gin_core.training digits --dataset mnist --data-root data --epochs 20 \
        --lr 3e-4 --drop 15 --seed 1 --stratify 4 --out runs/mnist_cls10_seed1

(the shipped model's command with --seed 1); then

    OMP_NUM_THREADS=2 python bench/conditions_references.py --threads 2

writes bench/results/conditions_mnist_references.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED1 = ROOT / "runs" / "mnist_cls10_seed1" / "checkpoint.pt"
EPOCHS = 20  # the shipped model's schedule (--epochs 20)
TRAIN_COMMAND = (
    "OMP_NUM_THREADS=1 python -m gin_core.training digits --dataset mnist --data-root data --epochs 20 "
    "--lr 3e-4 --drop 15 --seed 1 --stratify 4 --out runs/mnist_cls10_seed1"
)


def spectrum_and_k(net, x, u, n_conditions):
    """The book's reading of a model: its spectrum on noisy training codes and the knee rule's count."""
    from gin_core.book.atlas import DEFAULT_KNEE
    from gin_core.flows import encode
    from gin_core.metrics import count_informative, latent_spectrum
    from gin_core.model import GIN

    w, _ = encode(net, x, 500, 0.01, 0)
    spectrum = latent_spectrum(w, u)
    model = GIN(net, n_conditions)
    model.base.fit(w.double(), u)
    return spectrum, count_informative(spectrum, DEFAULT_KNEE[0], **DEFAULT_KNEE[1]), model


@torch.no_grad()
def truncated(model, x, conditions, informative) -> torch.Tensor:
    """Encode real images, keep the informative variables, set the others to their condition's mean, decode."""
    w = model.encode(x, 500).double()
    means = model.base.means[conditions].double()
    keep = torch.zeros(w.shape[1], dtype=torch.bool)
    keep[torch.as_tensor(informative)] = True
    w[:, ~keep] = means[:, ~keep]
    return model.decode(w.to(model.base.means.dtype)).double()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "conditions_mnist_references.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from gin_core.book.conditions import SURVIVAL_R, crossed_fraction, load_pair, match_variables
    from gin_core.book.settings import data_root
    from gin_core.checkpoints import load_checkpoint, load_network
    from gin_core.digits import load_digits
    from gin_core.sublabels import fit_sub_labels

    start = time.perf_counter()
    state = load_checkpoint(SEED1)
    if state["epoch"] < EPOCHS or state.get("position", 0):
        raise SystemExit(f"{SEED1} is not finished (epoch {state['epoch']}): resume it with:\n  {TRAIN_COMMAND}")
    x_train, u_train = load_digits("mnist", "train", data_root())
    x_test, u_test = load_digits("mnist", "test", data_root())
    pair = load_pair()
    nets = {"seed0": pair["labels"][0], "seed1": load_network(SEED1)}
    read = {key: spectrum_and_k(net, x_train, u_train, 10) for key, net in nets.items()}
    codes = {key: read[key][2].encode(x_test, 500).numpy() for key in nets}  # noise-free test codes
    rows, new_only, _ = match_variables(
        codes["seed0"],
        read["seed0"][0].order,
        read["seed0"][1],
        codes["seed1"],
        read["seed1"][0].order,
        read["seed1"][1],
        u_test,
    )
    survivors = sum(r["survives"] for r in rows)
    result = {
        "seed_reference": {
            "k": {key: read[key][1] for key in nets},
            "threshold": SURVIVAL_R,
            "rows": rows,
            "new_only": new_only,
            "survivors": survivors,
            "seed1_checkpoint_sha256": hashlib.sha256(SEED1.read_bytes()).hexdigest(),
            "seed1_command": TRAIN_COMMAND,
        }
    }
    print(f"seed 0 vs seed 1: k {read['seed0'][1]} / {read['seed1'][1]}, survivors {survivors}", flush=True)

    # the truncation applied to real training sevens, under each model of the shipped pair
    rule = fit_sub_labels(x_train, u_train, per_class=4)
    sevens = x_train[u_train == 7]
    sub = rule.assign(sevens, torch.full((len(sevens),), 7))
    crossed = {"raw": crossed_fraction(sevens)}
    for key, n_conditions, conditions_train, conditions in (
        ("labels", 10, u_train, torch.full((len(sevens),), 7)),
        ("sublabels", rule.n_conditions, rule.assign(x_train, u_train), sub),
    ):
        spectrum, k, model = spectrum_and_k(pair[key][0], x_train, conditions_train, n_conditions)
        crossed[key] = crossed_fraction(truncated(model, sevens, conditions, spectrum.order[:k].copy()))
        crossed[key]["k"] = k
        print(f"truncated real sevens, {key}: {crossed[key]['fraction']:.3f} crossed", flush=True)
    result["truncated_real_sevens"] = crossed
    result["command"] = f"OMP_NUM_THREADS={args.threads} python bench/conditions_references.py --threads {args.threads}"
    result["seconds"] = time.perf_counter() - start
    result["machine"] = platform.platform()
    result["recorded_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['seconds']:.0f} s -> {args.out}")
    return result


if __name__ == "__main__":
    main()
