"""Tests of gin_core.book.settings, the one place where the book reads ``GIN_*`` environment variables.

* ``run_config``: ``GIN_SCALE``, ``GIN_DATASET`` and the device;
* the folders: ``book_root`` (``GIN_BOOK_ROOT`` or the folder holding ``_toc.yml``), ``data_root``
  (``GIN_DATA_ROOT``), ``weights_dir``, ``runs_dir``, ``results_dir``;
* ``resolve_dataset`` (``auto``, ``emnist``, ``mnist`` on small IDX files written to a temporary folder);
* ``checkpoint_override`` (``GIN_CHECKPOINT``), ``cell_timeout`` (``GIN_CELL_TIMEOUT``) and
  ``chromium`` (``GIN_CHROMIUM``);
* that the core package (``gin_core`` outside ``gin_core.book``) reads no environment variable and
  does not import the book's helpers.

Every test starts from an environment without any ``GIN_*`` variable.
"""

import dataclasses
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gin_core
from gin_core.book import settings
from gin_core.book.settings import (
    DATASET_CHOICES,
    SCALES,
    TIMEOUTS,
    RunConfig,
    book_root,
    cell_timeout,
    checkpoint_override,
    chromium,
    data_root,
    resolve_dataset,
    results_dir,
    run_config,
    runs_dir,
    weights_dir,
)
from gin_core.digits import FILES

REPO = Path(__file__).resolve().parent.parent
GIN_VARIABLES = (
    "GIN_SCALE",
    "GIN_DATASET",
    "GIN_BOOK_ROOT",
    "GIN_DATA_ROOT",
    "GIN_NO_COMPILE",
    "GIN_CHECKPOINT",
    "GIN_CELL_TIMEOUT",
    "GIN_CHROMIUM",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in GIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def make_book(folder: Path) -> Path:
    """A minimal book folder: a ``_toc.yml``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    return folder


def write_idx(path: Path, array: np.ndarray) -> None:
    array = np.asarray(array, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def write_dataset(root: Path, dataset: str, n: int = 20) -> None:
    """All four IDX files of ``dataset`` (``n`` images of each split) below ``root/<dataset>``."""
    for split in ("train", "test"):
        images, labels = FILES[dataset][split]
        write_idx(root / dataset / images, np.zeros((n, 28, 28)))
        write_idx(root / dataset / labels, np.arange(n) % 10)


# --- run_config ------------------------------------------------------------------------------


def test_defaults_depend_on_the_device(clean_env):
    config = run_config()
    cuda = torch.cuda.is_available()
    assert config.scale == ("paper" if cuda else "cpu")
    assert config.device == torch.device("cuda" if cuda else "cpu")
    assert config.dataset == "auto"


@pytest.mark.parametrize("scale", ["paper", "cpu", "smoke", "SMOKE"])
def test_scale_from_environment(clean_env, scale):
    clean_env.setenv("GIN_SCALE", scale)
    assert run_config().scale == scale.lower()


@pytest.mark.parametrize("dataset", ["auto", "emnist", "mnist", "MNIST"])
def test_dataset_from_environment(clean_env, dataset):
    clean_env.setenv("GIN_DATASET", dataset)
    assert run_config().dataset == dataset.lower()


def test_blank_variables_count_as_unset(clean_env):
    clean_env.setenv("GIN_SCALE", "  ")
    clean_env.setenv("GIN_DATASET", "")
    config = run_config()
    assert config.scale == ("paper" if torch.cuda.is_available() else "cpu")
    assert config.dataset == "auto"


def test_arguments_override_environment(clean_env):
    clean_env.setenv("GIN_SCALE", "paper")
    clean_env.setenv("GIN_DATASET", "emnist")
    config = run_config(scale="smoke", dataset="mnist")
    assert (config.scale, config.dataset) == ("smoke", "mnist")


def test_pick_and_str(clean_env):
    values = {"paper": 80, "cpu": 20, "smoke": 1}
    for scale, expected in values.items():
        config = run_config(scale=scale)
        assert config.pick(**values) == expected
        assert str(config) == f"scale={scale} device={config.device} dataset=auto"
    assert isinstance(config, RunConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.scale = "paper"


def test_invalid_values_raise_clear_errors(clean_env):
    clean_env.setenv("GIN_SCALE", "huge")
    with pytest.raises(ValueError, match=r"GIN_SCALE must be one of \('paper', 'cpu', 'smoke'\), got 'huge'"):
        run_config()
    clean_env.setenv("GIN_SCALE", "cpu")
    clean_env.setenv("GIN_DATASET", "cifar")
    with pytest.raises(ValueError, match=r"GIN_DATASET must be one of \('auto', 'emnist', 'mnist'\), got 'cifar'"):
        run_config()


def test_choices_and_timeouts_cover_every_level():
    assert SCALES == ("paper", "cpu", "smoke")
    assert DATASET_CHOICES == ("auto", "emnist", "mnist")
    assert set(TIMEOUTS) == set(SCALES)
    assert TIMEOUTS["smoke"] < TIMEOUTS["cpu"] < TIMEOUTS["paper"]


# --- folders ---------------------------------------------------------------------------------


def test_book_root_from_environment(clean_env, tmp_path):
    book = make_book(tmp_path / "my book")
    clean_env.setenv("GIN_BOOK_ROOT", str(book))
    clean_env.chdir(tmp_path)  # the variable wins over the current folder
    assert book_root() == book.resolve()
    clean_env.setenv("GIN_BOOK_ROOT", str(book / ".." / "my book"))  # resolved
    assert book_root() == book.resolve()


def test_book_root_from_environment_without_toc_is_an_error(clean_env, tmp_path):
    clean_env.setenv("GIN_BOOK_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"GIN_BOOK_ROOT=.* holds no _toc.yml"):
        book_root()
    clean_env.setenv("GIN_BOOK_ROOT", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="holds no _toc.yml"):
        book_root()


def test_book_root_is_the_current_folder_or_its_parent(clean_env, tmp_path):
    book = make_book(tmp_path / "book_root")
    clean_env.chdir(book)  # scripts and tests run from the root
    assert book_root() == book.resolve()
    (book / "book").mkdir()
    clean_env.chdir(book / "book")  # chapters run in book/
    assert book_root() == book.resolve()
    (book / "book" / "deeper").mkdir()
    clean_env.chdir(book / "book" / "deeper")  # only one level up is searched
    with pytest.raises(FileNotFoundError, match="cannot find the book's folder .* set GIN_BOOK_ROOT"):
        book_root()


def test_book_root_of_this_repository(clean_env):
    clean_env.chdir(REPO)
    assert book_root() == REPO
    clean_env.chdir(REPO / "book")
    assert book_root() == REPO
    assert weights_dir() == REPO / "data" / "weights" and weights_dir().is_dir()


def test_folders_below_the_book_root(clean_env, tmp_path):
    book = make_book(tmp_path / "book_root").resolve()
    clean_env.setenv("GIN_BOOK_ROOT", str(book))
    assert data_root() == book / "data"
    assert weights_dir() == book / "data" / "weights"
    assert runs_dir() == book / "runs"
    assert results_dir() == book / "bench" / "results"


def test_data_root_from_environment(clean_env, tmp_path):
    data = tmp_path / "elsewhere"
    clean_env.setenv("GIN_DATA_ROOT", str(data / ".." / "elsewhere"))
    clean_env.chdir(tmp_path)  # no book here: the data root does not need one
    assert data_root() == data.resolve()
    book = make_book(tmp_path / "book_root").resolve()
    clean_env.setenv("GIN_BOOK_ROOT", str(book))
    assert data_root() == data.resolve()
    assert weights_dir() == book / "data" / "weights"  # the shipped weights stay with the book


def test_data_root_without_book_is_a_clear_error(clean_env, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    clean_env.chdir(tmp_path / "a" / "b")
    with pytest.raises(FileNotFoundError, match="GIN_BOOK_ROOT"):
        data_root()


# --- resolve_dataset -------------------------------------------------------------------------


def test_resolve_dataset(clean_env, tmp_path):
    write_dataset(tmp_path, "mnist")
    assert resolve_dataset("auto", root=tmp_path) == "mnist"
    assert resolve_dataset(None, root=tmp_path) == "mnist"  # GIN_DATASET unset: auto
    clean_env.setenv("GIN_DATASET", "mnist")
    assert resolve_dataset(None, root=tmp_path) == "mnist"
    write_dataset(tmp_path, "emnist")
    assert resolve_dataset("auto", root=tmp_path) == "emnist"  # EMNIST where its files are present
    assert resolve_dataset("MNIST", root=tmp_path) == "mnist"
    assert resolve_dataset(None, root=tmp_path) == "mnist"  # GIN_DATASET=mnist
    clean_env.setenv("GIN_DATASET", "auto")
    assert resolve_dataset(None, root=tmp_path) == "emnist"


def test_resolve_dataset_uses_the_data_root(clean_env, tmp_path):
    write_dataset(tmp_path / "data", "mnist")
    clean_env.setenv("GIN_DATA_ROOT", str(tmp_path / "data"))
    assert resolve_dataset("auto") == "mnist"
    clean_env.delenv("GIN_DATA_ROOT")
    clean_env.setenv("GIN_BOOK_ROOT", str(make_book(tmp_path)))
    assert resolve_dataset("mnist") == "mnist"  # <book root>/data


def test_resolve_dataset_errors(clean_env, tmp_path):
    with pytest.raises(FileNotFoundError, match="bash scripts/fetch_mnist.sh"):
        resolve_dataset("auto", root=tmp_path)  # auto falls back to MNIST, which is missing too
    write_dataset(tmp_path, "mnist")
    with pytest.raises(FileNotFoundError, match="python -m gin_core.digits fetch emnist"):
        resolve_dataset("emnist", root=tmp_path)
    (tmp_path / "mnist" / FILES["mnist"]["test"][1]).unlink()  # one file of the test split missing
    with pytest.raises(FileNotFoundError, match="MNIST test data not found: missing t10k-labels-idx1-ubyte"):
        resolve_dataset("mnist", root=tmp_path)
    with pytest.raises(ValueError, match=r"dataset must be one of \('auto', 'emnist', 'mnist'\), got 'kmnist'"):
        resolve_dataset("kmnist", root=tmp_path)
    clean_env.setenv("GIN_DATASET", "fashion")
    with pytest.raises(ValueError, match="got 'fashion'"):
        resolve_dataset(None, root=tmp_path)


# --- checkpoint, timeout, browser -------------------------------------------------------------


def test_checkpoint_override(clean_env, tmp_path):
    assert checkpoint_override() is None
    clean_env.setenv("GIN_CHECKPOINT", " ")
    assert checkpoint_override() is None
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"not read here")
    clean_env.setenv("GIN_CHECKPOINT", str(checkpoint))
    assert checkpoint_override() == checkpoint
    clean_env.setenv("GIN_CHECKPOINT", str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match=r"GIN_CHECKPOINT=.*missing\.pt does not exist"):
        checkpoint_override()
    clean_env.setenv("GIN_CHECKPOINT", str(tmp_path))  # a folder is not a checkpoint
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint_override()


@pytest.mark.parametrize("scale", SCALES)
def test_cell_timeout_defaults_and_override(clean_env, scale):
    assert cell_timeout(scale) == {"smoke": 600, "cpu": 3600, "paper": 6 * 3600}[scale]
    clean_env.setenv("GIN_CELL_TIMEOUT", " 120 ")
    assert cell_timeout(scale) == 120


@pytest.mark.parametrize(
    "value, message", [("ten", "integer"), ("1.5", "integer"), ("0", "positive"), ("-5", "positive")]
)
def test_cell_timeout_rejects_bad_values(clean_env, value, message):
    clean_env.setenv("GIN_CELL_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"GIN_CELL_TIMEOUT must be .*{message}"):
        cell_timeout("cpu")


def test_no_compile_switches_the_fast_path_off(clean_env):
    from gin_core.training import auto as fast

    clean_env.setattr(fast, "ALLOW_COMPILE", True)  # restored after the test
    clean_env.setenv("GIN_NO_COMPILE", "1")
    run_config()
    assert fast.ALLOW_COMPILE is False and fast.compile_available("cpu")[0] is False
    clean_env.setenv("GIN_NO_COMPILE", "0")
    run_config()
    assert fast.ALLOW_COMPILE is True
    clean_env.setenv("GIN_NO_COMPILE", "yes")
    with pytest.raises(ValueError, match="GIN_NO_COMPILE must be 0 or 1"):
        run_config()


def test_chromium(clean_env):
    assert chromium() == "/usr/bin/chromium"
    clean_env.setenv("GIN_CHROMIUM", "/opt/chrome/chrome")
    assert chromium() == "/opt/chrome/chrome"


# --- the core reads no environment ------------------------------------------------------------


def test_only_the_settings_module_reads_the_environment():
    package = Path(gin_core.__file__).parent
    # a read: os.getenv(...), os.environ.get(...), os.environ[...] not assigned to, or the mapping passed on
    read = re.compile(r"getenv\(|os\.environ\.get\(|os\.environ\[[^\]]+\](?!\s*=[^=])|os\.environ(?![\[.])")
    readers = [
        str(path.relative_to(package)) for path in sorted(package.rglob("*.py")) if read.search(path.read_text())
    ]
    assert readers == ["book/settings.py"]
    assert read.search('x = os.environ["A"]') and not read.search('os.environ["OMP_NUM_THREADS"] = "1"')
    assert Path(settings.__file__) == package / "book" / "settings.py"


def test_importing_the_core_does_not_import_the_book():
    code = "import sys, gin_core; print(sorted(m for m in sys.modules if m.startswith('gin_core.book')))"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
