"""Shared helpers for the gin_core tests (small sizes, CPU)."""

import os
from pathlib import Path

import pytest
import torch
from torch import nn


def randomize(module: nn.Module, std: float = 0.2, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with N(0, std^2) draws from a private generator.

    The paper's networks start with zero last layers (every coupling is then the identity),
    which would make invertibility and log-det tests pass trivially.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return module


def jacobian_logdet(fn, x: torch.Tensor) -> torch.Tensor:
    """log|det J| of ``fn`` at each sample of ``x`` by autograd (float64, small sizes)."""
    out = []
    for sample in x:
        jac = torch.autograd.functional.jacobian(lambda v: fn(v.unsqueeze(0)).reshape(-1), sample)
        out.append(torch.linalg.slogdet(jac.reshape(sample.numel(), sample.numel()))[1])
    return torch.stack(out)


@pytest.fixture
def gen():
    """A fresh seeded CPU generator."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(name="randomize")
def randomize_fixture():
    return randomize


@pytest.fixture(name="jacobian_logdet")
def jacobian_logdet_fixture():
    return jacobian_logdet


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The book's data folder holding MNIST; a clear failure in CI (never a silent skip) when it is missing."""
    from gin_core.digits import dataset_available

    root = ROOT / "data"
    if not dataset_available("mnist", root):
        message = f"the MNIST files are missing from {root / 'mnist'}: fetch them with `bash scripts/fetch_mnist.sh`"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI runs every test; it installs them in .ci/run)", pytrace=False)
        pytest.skip(message)
    return root
