"""The book's run settings: the scale (``GIN_SCALE``), the device, and the digits data set (``GIN_DATASET``).

``GIN_SCALE`` takes three levels:

* ``paper``: the paper's exact settings (the default on a GPU);
* ``cpu``: reduced so that each chapter finishes in minutes on a 2-core CPU (the default without a GPU);
* ``smoke``: just enough to prove the wiring (CI).

``GIN_DATASET`` is ``emnist`` or ``mnist`` (or ``auto``, the default: EMNIST where its files
are present, MNIST otherwise); chapters print what they resolved to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["SCALES", "DATASETS", "RunConfig", "run_config"]

SCALES = ("paper", "cpu", "smoke")
DATASETS = ("auto", "emnist", "mnist")


@dataclass(frozen=True)
class RunConfig:
    """Resolved run settings.

    Attributes:
        scale: ``"paper"``, ``"cpu"`` or ``"smoke"``.
        device: where tensors and networks go.
        dataset: ``"auto"``, ``"emnist"`` or ``"mnist"`` as requested (resolve with
            :func:`gin_core.digits.resolve_dataset`).
    """

    scale: str
    device: torch.device
    dataset: str

    def pick(self, paper, cpu, smoke):
        """Return the value for the current scale."""
        return {"paper": paper, "cpu": cpu, "smoke": smoke}[self.scale]

    def __str__(self) -> str:
        return f"scale={self.scale} device={self.device} dataset={self.dataset}"


def run_config(scale: str | None = None, dataset: str | None = None) -> RunConfig:
    """Read ``GIN_SCALE`` and ``GIN_DATASET`` (or take the arguments) and pick the device.

    Arguments:
        scale: overrides ``GIN_SCALE``.
        dataset: overrides ``GIN_DATASET``.

    Returns:
        A :class:`RunConfig`.
    """
    cuda = torch.cuda.is_available()
    scale = (scale or os.environ.get("GIN_SCALE") or ("paper" if cuda else "cpu")).lower()
    if scale not in SCALES:
        raise ValueError(f"GIN_SCALE must be one of {SCALES}, got {scale!r}")
    dataset = (dataset or os.environ.get("GIN_DATASET") or "auto").lower()
    if dataset not in DATASETS:
        raise ValueError(f"GIN_DATASET must be one of {DATASETS}, got {dataset!r}")
    return RunConfig(scale=scale, device=torch.device("cuda" if cuda else "cpu"), dataset=dataset)
