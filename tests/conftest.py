"""Shared helpers and the organisation of the test run.

* Markers: every notebook run by nbmake is marked ``notebook``, the browser check
  (tests/test_book_html.py) ``browser``, and every other test ``unit``:
  ``python3 -m pytest -m unit`` runs the unit tests alone.
* Order: the browser check builds the book, so it runs after the chapters.
* Each chapter executes once per test run: a chapter that nbmake executed successfully is
  stored in the book build's execution cache (jupyter-cache, the folder the book's Sphinx
  extension uses for the current scale and data set), and the build then reuses it.
"""

import importlib.util
import os
import time
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


def _book_extension():
    spec = importlib.util.spec_from_file_location("gin_book", ROOT / "book" / "_ext" / "gin_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: chapters that nbmake executed and stored in the build's cache in this test run (tests/test_book_html.py checks
#: that the book build did not execute them again)
CACHED_BY_NBMAKE: list[Path] = []


def _cache_executed_chapters() -> None:
    """Wrap nbmake's notebook run so that every chapter it executes without error lands in the build's cache."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from nbmake import pytest_items

    extension = _book_extension()
    run_class = pytest_items.NotebookRun

    class CachingRun(run_class):
        def execute(self, *args, **kwargs):
            started = time.perf_counter()
            result = super().execute(*args, **kwargs)
            if result.error is None:
                # The cache matches a notebook by its code and its cells' metadata; nbclient adds timing
                # metadata to every executed cell, so the outputs go into a fresh copy of the chapter.
                executed = nbformat.read(str(self.filename), as_version=4)
                code = [cell for cell in executed.cells if cell.cell_type == "code"]
                ran = [cell for cell in result.nb.cells if cell.cell_type == "code"]
                assert len(code) == len(ran), f"{self.filename}: nbmake returned another notebook"
                for cell, done in zip(code, ran):
                    cell.outputs, cell.execution_count = done.outputs, done.execution_count
                scale, dataset, _ = extension.resolve_scale()
                cache = get_cache(str(extension.execution_cache_path(ROOT / "_build", scale, dataset)))
                bundle = CacheBundleIn(
                    executed,
                    str(Path(self.filename).resolve()),
                    data={"execution_seconds": time.perf_counter() - started},
                )
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
                CACHED_BY_NBMAKE.append(Path(self.filename).resolve())
            return result

    pytest_items.NotebookRun = CachingRun


def pytest_configure(config):
    for name, text in (
        ("unit", "fast tests of the package and helpers"),
        ("notebook", "a chapter executed by nbmake"),
        ("browser", "the built book checked in Chromium (builds the book)"),
    ):
        config.addinivalue_line("markers", f"{name}: {text}")
    if config.pluginmanager.hasplugin("nbmake"):
        _cache_executed_chapters()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if getattr(item, "nbmake", False):
            item.add_marker(pytest.mark.notebook)
        elif item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.unit)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: the browser check last


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every document of the table of contents (root, parts, chapters, sections), in order, without suffix."""
    import yaml

    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return [str(Path(p).with_suffix("")) for p in pages]


def linear_atlas():
    """An atlas of the Table 3 network at initialisation (a pixel rearrangement), with 5 informative variables.

    Returns:
        ``(atlas, w, u)``: the atlas and the synthetic codes and labels it was made from.
    """
    from gin_core import emnist_gin
    from gin_core.book.atlas import make_atlas

    net = emnist_gin(seed=0).double().eval()
    g = torch.Generator().manual_seed(0)
    u = torch.arange(400) % 10
    scales = torch.rand(784, generator=g, dtype=torch.float64) * 0.2 + 0.01
    w = 0.5 + scales * torch.randn(400, 784, generator=g, dtype=torch.float64) + 0.01 * u[:, None]
    return make_atlas(net, w, u, k=5), w, u
