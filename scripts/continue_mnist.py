"""Turn the shipped MNIST weights back into a training checkpoint, so that the run can continue.

The shipped ``data/weights/gin_mnist.pt`` stopped after 65 of the paper's 95 epochs (45 at
lr 3e-4, 20 at 3e-5). Its training checkpoint was not kept, so this script rebuilds one from
the shipped files:

* the network: the shipped float16 weights cast to float32 (what readers load);
* the history (loss, lr, seconds of the 65 epochs) and code commits: from the provenance;
* Adam's moments: **restarted** (zero), and the shuffling/noise generator seeded afresh with
  ``--seed`` + 1000 (the original generator state was not shipped).

Then continue with the training command line, which resumes from the checkpoint::

    python scripts/continue_mnist.py --out runs/gin_mnist_continued
    OMP_NUM_THREADS=1 python -m gin_core.training digits --dataset mnist --data-root data --epochs 95 \
        --lr 3e-4 --drop 45 --seed 0 --out runs/gin_mnist_continued --quiet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gin_core.checkpoints import save_checkpoint
from gin_core.model import GIN
from gin_core.training import EagerStep, History, RunState, TrainSettings
from gin_core.weights import load_weights


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="data/weights/gin_mnist.pt")
    p.add_argument("--out", required=True, help="run directory; checkpoint.pt is written there")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--drop", type=int, nargs="*", default=[45])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    net, prov = load_weights(args.weights)
    if prov["dataset"] != "mnist" or prov["batch_size"] != 240:
        raise ValueError(f"expected the shipped MNIST weights (batch 240), got {prov['dataset']}, {prov['batch_size']}")
    net.train()
    step = EagerStep(GIN(net, 10), args.lr)
    generator = torch.Generator().manual_seed(args.seed + 1000)
    settings = TrainSettings(
        batch_size=240,
        lr=float(args.lr),
        milestones=tuple(int(m) for m in args.drop),
        noise=float(prov["noise"]),
        seed=int(args.seed),
        learned_stats=False,
        n_classes=10,
        n_samples=60000,
        sample_shape=(1, 28, 28),
        dataset="mnist",
        device_type="cpu",
    )
    run = RunState(step, generator, settings)
    hist = prov["history"]
    run.history = History(list(hist["loss"]), list(hist["lr"]), list(hist["seconds"]), 0)
    run.commits = list(prov.get("code_commits") or [prov["code_commit"]]) + run.commits
    run.epoch = int(prov["epochs_done"])
    out = Path(args.out) / "checkpoint.pt"
    if out.exists():
        raise FileExistsError(f"{out} exists; continue it with the training command instead")
    save_checkpoint(out, run.state())
    print(f"wrote {out} at epoch {run.epoch} (Adam restarted, generator seed {args.seed + 1000})")


if __name__ == "__main__":
    main()
