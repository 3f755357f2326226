"""Tests of gin_core.digits on small synthetic IDX files written to a temporary folder."""

import gzip
import struct

import numpy as np
import pytest
import torch

from gin_core import digits
from gin_core.digits import FILES, available_datasets, find_files, load_digits, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path, array, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def asymmetric_images(n: int, seed: int = 0) -> np.ndarray:
    """Images whose transpose differs from themselves (a bright top-right corner region)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[:, 0, 27] = 255
    images[:, 27, 0] = 0
    return images


def write_dataset(root, dataset, n_train=30, n_test=20, compress=False, folder=None, seed=0):
    folder = root / (folder or dataset)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = asymmetric_images(n, seed + (split == "test"))
        labels = (np.arange(n) % 10).astype(np.uint8)
        image_name, label_name = FILES[dataset][split]
        write_idx(folder / image_name, images, compress)
        write_idx(folder / label_name, labels, compress)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip(tmp_path, compress):
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / "a-idx3-ubyte", array, compress)
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("dataset", ["mnist", "emnist"])
@pytest.mark.parametrize("compress", [False, True])
def test_load_shapes_range_and_labels(tmp_path, dataset, compress):
    raw = write_dataset(tmp_path, dataset, compress=compress)
    for split, n in (("train", 30), ("test", 20)):
        x, u = load_digits(dataset, split, root=tmp_path)
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert u.shape == (n,) and u.dtype == torch.int64
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert u.min() >= 0 and u.max() <= 9
        np.testing.assert_array_equal(u.numpy(), raw[split][1])


def test_emnist_transposed_mnist_not(tmp_path):
    raw_m = write_dataset(tmp_path, "mnist")
    raw_e = write_dataset(tmp_path, "emnist")
    xm, _ = load_digits("mnist", "train", root=tmp_path)
    xe, _ = load_digits("emnist", "train", root=tmp_path)
    np.testing.assert_array_equal((xm[:, 0].numpy() * 255).round().astype(np.uint8), raw_m["train"][0])
    np.testing.assert_array_equal(
        (xe[:, 0].numpy() * 255).round().astype(np.uint8), raw_e["train"][0].transpose(0, 2, 1)
    )
    # the marker pixel stored at row 0, column 27 appears at row 27, column 0 for EMNIST
    assert torch.all(xe[:, 0, 27, 0] == 1.0) and torch.all(xm[:, 0, 0, 27] == 1.0)


def test_torchvision_layout_and_limit(tmp_path):
    write_dataset(tmp_path, "emnist", folder="EMNIST/raw")
    images, labels = find_files("emnist", "train", root=tmp_path)
    assert images.parent == tmp_path / "EMNIST" / "raw"
    x, u = load_digits("emnist", "test", root=tmp_path, limit=7)
    assert x.shape == (7, 1, 28, 28) and u.shape == (7,)
    with pytest.raises(ValueError, match="limit"):
        load_digits("emnist", "test", root=tmp_path, limit=0)


def test_truncated_file(tmp_path):
    path = write_idx(tmp_path / "t-idx3-ubyte", asymmetric_images(3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)
    header_only = tmp_path / "h-idx3-ubyte"
    header_only.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="header is incomplete"):
        read_idx(header_only)


def test_corrupt_files(tmp_path):
    bad_magic = tmp_path / "m-idx1-ubyte"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 2) + b"\x00\x01")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(bad_magic)
    empty = tmp_path / "e-idx1-ubyte"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(empty)
    float_type = tmp_path / "f-idx1-ubyte"
    float_type.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="only unsigned bytes"):
        read_idx(float_type)
    gz = write_idx(tmp_path / "g-idx3-ubyte", asymmetric_images(2), compress=True)
    gz.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])
    with pytest.raises(ValueError, match="not a valid gzip"):
        read_idx(gz)


def test_corrupt_dataset_gives_clear_error(tmp_path):
    write_dataset(tmp_path, "mnist")
    labels = tmp_path / "mnist" / FILES["mnist"]["train"][1]
    write_idx(labels, np.full(30, 12, dtype=np.uint8))
    with pytest.raises(ValueError, match="classes 0-9"):
        load_digits("mnist", "train", root=tmp_path)
    write_idx(labels, np.zeros(29, dtype=np.uint8))
    with pytest.raises(ValueError, match="30 images but .* 29 labels"):
        load_digits("mnist", "train", root=tmp_path)
    write_idx(tmp_path / "mnist" / FILES["mnist"]["test"][0], np.zeros((20, 14, 14), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"expected \(N, 28, 28\)"):
        load_digits("mnist", "test", root=tmp_path)


def test_missing_dataset_names_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="bash scripts/fetch_mnist.sh"):
        load_digits("mnist", "train", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m gin_core.digits fetch emnist"):
        find_files("emnist", "test", tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_digits("mnist", "valid", root=tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        load_digits("fashion", "train", root=tmp_path)


def test_available_datasets(tmp_path):
    assert available_datasets(tmp_path) == []
    write_dataset(tmp_path, "mnist")
    assert available_datasets(tmp_path) == ["mnist"]
    write_dataset(tmp_path, "emnist", compress=True)
    assert available_datasets(tmp_path) == ["emnist", "mnist"]
    assert digits.dataset_available("emnist", tmp_path)
    with pytest.raises(ValueError, match="dataset must be one of"):
        digits.dataset_available("kmnist", tmp_path)


def test_the_data_root_is_explicit(tmp_path, monkeypatch):
    """No default root and no environment variable: the core reads exactly the folder it is given."""
    write_dataset(tmp_path, "mnist", n_train=10, n_test=10)
    monkeypatch.setenv("GIN_DATA_ROOT", str(tmp_path / "elsewhere"))  # ignored by the core
    x, _ = load_digits("mnist", "train", tmp_path)
    assert x.shape == (10, 1, 28, 28)
    with pytest.raises(TypeError):
        load_digits("mnist", "train")  # the root is required


def test_examples_by_class(tmp_path):
    write_dataset(tmp_path, "mnist", n_train=40)
    x, u = load_digits("mnist", "train", root=tmp_path)
    grid = digits.examples_by_class(x, u, n_per_class=3)
    assert grid.shape == (3, 10, 28, 28)
    np.testing.assert_array_equal(grid[1, 4], x[14, 0].numpy())  # second image of class 4 (labels cycle 0-9)
    with pytest.raises(ValueError, match="class 0 has only 4"):
        digits.examples_by_class(x, u, n_per_class=5)
