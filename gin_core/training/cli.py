"""The command line of :mod:`gin_core.training` (also installed as ``gin-train``).

Train GIN headless on a server::

    python -m gin_core.training artificial --n-points 100000 --epochs 80 --lr 1e-2 --drop 50 --out runs/exp1
    python -m gin_core.training digits --dataset mnist --data-root data --epochs 95 --lr 3e-4 --drop 45 --out runs/mnist

Interrupt with Ctrl-C (or ``kill``): the checkpoint is written first; rerun the same command
to resume. A rerun with other settings stops with an error that names them.

References:
    Sorrenson et al. (2020), §4.3.1 and §4.4.1.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from ..artificial import make_artificial_data
from ..digits import load_digits
from ..networks import artificial_gin, emnist_gin
from ..sublabels import fit_sub_labels
from .loop import train
from .state import History

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gin_core.training",
        description="Train GIN headless (CUDA if available). Interrupt with Ctrl-C and rerun the same command to resume.",
    )
    p.add_argument(
        "experiment", choices=["artificial", "digits"], help="artificial data (§4.3) or EMNIST/MNIST digits (§4.4)"
    )
    p.add_argument("--out", required=True, help="run directory: checkpoint.pt is written there")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--drop", type=int, nargs="*", default=[], help="epochs at which the learning rate is divided by 10")
    p.add_argument("--batch-size", type=int, default=None, help="default 1000 (artificial) or 240 (digits)")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0, help="seed of network, shuffling and noise")
    p.add_argument("--glow", action="store_true", help="non-volume-preserving (GLOW-style) blocks instead of GIN")
    p.add_argument(
        "--learned-stats", action="store_true", help="learn class means/variances instead of batch estimates"
    )
    p.add_argument("--clusters", type=int, default=5, help="artificial: number of clusters")
    p.add_argument("--n-points", type=int, default=100_000, help="artificial: number of points")
    p.add_argument("--data-seed", type=int, default=0, help="artificial: seed of the data")
    p.add_argument("--dataset", choices=["emnist", "mnist"], default="emnist", help="digits: which data set")
    p.add_argument("--data-root", default="data", help="digits: folder holding the data sets (default: ./data)")
    p.add_argument(
        "--sub-labels",
        type=int,
        default=None,
        metavar="S",
        help="digits: condition on S k-means sub-labels per class (10*S conditions; gin_core.sublabels)",
    )
    p.add_argument(
        "--stratify",
        type=int,
        default=None,
        metavar="S",
        help="digits: balanced batches over S k-means sub-labels per class (whatever the conditions)",
    )
    p.add_argument(
        "--fast",
        choices=["auto", "on", "off"],
        default="auto",
        help="compiled training step (gin_core.training.compiled): on, off, or auto (where it pays; default)",
    )
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> History:
    """Command-line entry point; see ``python -m gin_core.training --help``."""
    args = build_parser().parse_args(argv)

    # Ctrl-C and `kill` (SIGTERM) both end the run through KeyboardInterrupt, which writes the
    # checkpoint first; SIGINT is re-armed because background shells start programs ignoring it.
    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> History:
    if (args.sub_labels is not None or args.stratify is not None) and args.experiment != "digits":
        raise ValueError("--sub-labels and --stratify apply to the digits experiment only")
    strata = None
    if args.experiment == "artificial":
        data = make_artificial_data(args.clusters, args.n_points, seed=args.data_seed)
        x, u, n_classes = data.x, data.u, args.clusters
        net = artificial_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size, dataset = args.batch_size or 1000, data.description
    else:
        x, u = load_digits(args.dataset, "train", root=args.data_root)
        n_classes, dataset = 10, args.dataset
        if args.stratify is not None:
            strata_rule = fit_sub_labels(x, u, per_class=args.stratify)
            strata = strata_rule.assign(x, u)
            dataset += f"; {strata_rule.balancing()}"
        if args.sub_labels is not None:
            rule = fit_sub_labels(x, u, per_class=args.sub_labels)
            u, n_classes = rule.assign(x, u), rule.n_conditions
            dataset += f"; {rule.conditioning()}"
        net = emnist_gin(volume_preserving=not args.glow, seed=args.seed)
        batch_size = args.batch_size or 240
    out = Path(args.out)
    history = train(
        net,
        x,
        u,
        n_classes=n_classes,
        n_epochs=args.epochs,
        lr=args.lr,
        batch_size=batch_size,
        milestones=tuple(args.drop),
        noise=args.noise,
        learned_stats=args.learned_stats,
        seed=args.seed,
        checkpoint=out / "checkpoint.pt",
        device=args.device,
        progress=not args.quiet,
        dataset=dataset,
        strata=strata,
        fast={"auto": "auto", "on": True, "off": False}[args.fast],
    )
    final = f"final loss {history.loss[-1]:.4f} nats/dim" if history.loss else "no epoch trained"
    print(f"done: {history.epochs} epochs, {final}, checkpoint {out / 'checkpoint.pt'}")
    return history
