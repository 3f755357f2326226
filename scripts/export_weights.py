#!/usr/bin/env python3
"""Export a digits training checkpoint as shipped weights with provenance.

Writes <out-dir>/<name>.pt (half-precision state_dict, permutations included) and
<out-dir>/<name>.json (network settings, command, seed, data set, epochs, lr schedule, wall time,
history, final training loss, test NLL in nats/dim and bits/dim, code commits, SHA-256 of the .pt).
The network and training settings and the commits come from the checkpoint itself.

Example:

    OMP_NUM_THREADS=1 python scripts/export_weights.py runs/mnist_cpu/checkpoint.pt \
        --command "python -m gin_core.training digits --dataset mnist --data-root data --epochs 95 --lr 3e-4 --drop 45 --seed 0 --out runs/mnist_cpu"

The checkpoint is copied to a temporary folder first, so a run that is still writing it is
not disturbed. The test NLL uses the full training set for the class statistics and the
full test set (about a minute on one CPU core for MNIST); --limit shortens it for trials.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from gin_core.book.settings import data_root, weights_dir
from gin_core.book.trained import export_weights, parse_train_command
from gin_core.digits import load_digits


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint.pt written by gin_core.training")
    p.add_argument("--command", default=None, help="the training command (default: command.txt next to the checkpoint)")
    p.add_argument("--name", default=None, help="file stem (default gin_<dataset>)")
    p.add_argument("--out-dir", default=None, help="destination (default: the book's data/weights)")
    p.add_argument("--notes", default="", help="free text stored in the provenance")
    p.add_argument(
        "--limit", type=int, default=None, help="use only the first N training and test images (trials only)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    checkpoint = Path(args.checkpoint)
    run_dir = checkpoint.parent

    def from_file(value, filename, what):
        if value is not None:
            return value
        path = run_dir / filename
        if not path.is_file():
            sys.exit(f"error: give --{what} or put {filename} next to the checkpoint ({path} not found)")
        return path.read_text().strip()

    command = from_file(args.command, "command.txt", "command")
    dataset = parse_train_command(command).dataset
    name = args.name or f"gin_{dataset}"
    notes = args.notes + (f" [trial export: only {args.limit} training/test images]" if args.limit else "")

    x_train, u_train = load_digits(dataset, "train", data_root(), limit=args.limit)
    x_test, u_test = load_digits(dataset, "test", data_root(), limit=args.limit)
    out_dir = Path(args.out_dir) if args.out_dir else weights_dir()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "checkpoint.pt"
        shutil.copyfile(checkpoint, copy)
        provenance = export_weights(copy, out_dir / f"{name}.pt", command, x_train, u_train, x_test, u_test, notes)
    t = provenance["test_nll"]
    print(
        f"wrote {out_dir / provenance['file']} ({provenance['bytes'] / 1e6:.1f} MB, sha256 {provenance['sha256'][:16]}...)\n"
        f"{provenance['epochs_done']}/{provenance['epochs_planned']} epochs, wall {provenance['wall_time_h']:.2f} h, "
        f"final train loss {provenance['final_train_loss_nats_per_dim']:.4f} nats/dim\n"
        f"test NLL {t['nats_per_dim']:.4f} nats/dim = {t['bits_per_dim']:.4f} bits/dim "
        f"(floor {t['noise_floor_bits_per_dim']:.4f}); max inversion error {provenance['max_inversion_error_float32']:.2e}"
    )
    return provenance


if __name__ == "__main__":
    main()
