"""Two-epoch training runs whose exact results pin the training path (``tests/data/bitwise_reference.json``).

``python tests/bitwise_reference.py --out tests/data/bitwise_reference.json`` records, for each case,
the epoch losses (as ``float.hex``) and a SHA-256 of the trained network's parameters and buffers.
The file in the repository was written by this script run against the code *before* the model
object and the one loss were introduced (commit bb082a1), at one thread on the project's CPU;
``tests/test_training.py::test_training_matches_the_recorded_reference_bit_for_bit`` reruns
the cases with the current code and requires the same bits.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import torch

import gin_core

CASES = {  # name -> train() keyword arguments on top of the shared ones
    "gin_eager": {"fast": False},
    "gin_compiled": {"fast": True},
    "gin_learned_eager": {"fast": False, "learned_stats": True},
    "glow_eager": {"fast": False, "glow": True},
}


def digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run(case: str) -> dict:
    options = dict(CASES[case])
    glow = options.pop("glow", False)
    torch.set_num_threads(1)
    data = gin_core.make_artificial_data(5, 5000, seed=0)
    net = gin_core.artificial_gin(volume_preserving=not glow, seed=0)
    history = gin_core.train(
        net,
        data.x,
        data.u,
        5,
        n_epochs=2,
        lr=1e-2,
        batch_size=1000,
        milestones=(1,),
        seed=0,
        device="cpu",
        progress=False,
        **options,
    )
    return {"loss": [float(v).hex() for v in history.loss], "state": digest(net)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    record = {case: run(case) for case in CASES}
    record["_command"] = "OMP_NUM_THREADS=1 python tests/bitwise_reference.py --out " + args.out
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps(record, indent=1))
