"""Tests of gin_core.weights: save and load with provenance, SHA-256 verification, half precision, clear errors."""

import json

import pytest
import torch

from gin_core import CheckpointError, artificial_gin, emnist_gin, inversion_error, load_weights, save_weights
from gin_core.weights import half_state_dict, read_provenance, sha256_file

from conftest import randomize


@pytest.fixture
def saved(tmp_path):
    net = randomize(artificial_gin(seed=2), std=0.1)
    record = save_weights(net, tmp_path / "tiny.pt", {"command": "test", "seed": 2})
    return net, record, tmp_path / "tiny.pt"


def test_half_state_dict_keeps_permutations():
    state = half_state_dict(emnist_gin().state_dict())
    perms = [k for k in state if k.endswith("perm")]
    assert perms and all(state[k].dtype == torch.int64 for k in perms)
    assert all(v.dtype == torch.float16 for k, v in state.items() if not k.endswith("perm"))


def test_save_and_load_round_trip(saved):
    net, record, path = saved
    assert json.loads(path.with_suffix(".json").read_text()) == record
    assert record["sha256"] == sha256_file(path) and record["network"] == net.config and record["command"] == "test"
    assert record["parameters"] == 4480 and record["dtype"] == "float16"
    loaded, provenance = load_weights(path)
    assert provenance == record and not loaded.training and loaded.config == net.config
    for k, v in loaded.state_dict().items():
        expected = net.state_dict()[k]
        assert torch.equal(
            v, expected.half().float() if v.is_floating_point() else expected
        )  # exactly the fp16 rounding
    x = torch.randn(50, 10, generator=torch.Generator().manual_seed(0))
    assert inversion_error(load_weights(path.with_suffix(".json"), dtype=torch.float64)[0], x.double()) < 1e-10


def test_full_precision_and_the_recorded_kind(tmp_path):
    glow = randomize(artificial_gin(volume_preserving=False), std=0.1)
    save_weights(glow, tmp_path / "glow.pt", half=False)
    loaded, _ = load_weights(tmp_path / "glow.pt")
    assert not loaded.volume_preserving  # GLOW and GIN share their tensors; the recorded settings tell them apart
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in glow.state_dict().items())


def test_tampered_missing_and_foreign_files_are_refused(saved, tmp_path):
    _, record, path = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        load_weights(path)
    with pytest.raises(FileNotFoundError, match="no provenance file"):
        load_weights(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="named <name>.pt"):
        load_weights(tmp_path / "tiny.bin")
    path.with_suffix(".json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_provenance(path)
    save_weights(emnist_gin(), tmp_path / "big.pt")
    swapped = json.loads((tmp_path / "big.json").read_text())
    swapped["network"] = record["network"]  # provenance names the 10-d network, the file holds the digits network
    (tmp_path / "big.json").write_text(json.dumps(swapped))
    with pytest.raises(CheckpointError, match="holds weights of another network"):
        load_weights(tmp_path / "big.pt")
    (tmp_path / "bare.json").write_text(json.dumps({"file": "bare.pt", "sha256": "0"}))
    with pytest.raises(CheckpointError, match="lacks the field 'network'"):
        load_weights(tmp_path / "bare.pt")


def test_networks_without_settings_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="records no constructor settings"):
        save_weights(torch.nn.Linear(2, 2), tmp_path / "x.pt")
