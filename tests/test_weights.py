"""Tests of gin_core.weights: export with provenance, SHA-256 verification, half precision, and the
choice between the reader's checkpoint and the shipped weights; and the shipped weights themselves."""

import json

import pytest
import torch

from gin_core.digits import load_digits
from gin_core.networks import emnist_gin
from gin_core.train import save_checkpoint
from gin_core.weights import (
    export_weights,
    half_state_dict,
    load_shipped,
    load_trained,
    max_inversion_error,
    parse_train_command,
    sha256_file,
    weights_dir,
)

COMMAND = "OMP_NUM_THREADS=1 python -m gin_core.train digits --dataset mnist --epochs 95 --lr 3e-4 --drop 45 --seed 0 --out runs/x"


def perturbed_net(seed=0):
    """The Table 3 network with every parameter perturbed (so it is not the identity-like initial map)."""
    net = emnist_gin(seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    return net


def fake_checkpoint(path, net, epochs=3):
    history = {"loss": [-1.0 - 0.1 * i for i in range(epochs)], "lr": [3e-4] * epochs, "seconds": [10.0] * epochs, "excluded": 0}
    save_checkpoint(path, {"net": net.state_dict(), "epoch": epochs, "position": 0, "history": history})


def fake_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    net = perturbed_net()
    fake_checkpoint(root / "checkpoint.pt", net)
    x_train, u_train = fake_data(40, 0)
    x_test, u_test = fake_data(20, 1)
    provenance = export_weights(
        root / "checkpoint.pt", root / "out", "gin_mnist", COMMAND, "abc123", x_train, u_train, x_test, u_test, notes="test"
    )
    return root, net, provenance, x_test


def test_parse_train_command():
    args = parse_train_command(COMMAND)
    assert (args.dataset, args.epochs, args.lr, args.drop, args.seed) == ("mnist", 95, 3e-4, [45], 0)
    with pytest.raises(ValueError, match="not a `python -m gin_core.train`"):
        parse_train_command("python train.py")
    with pytest.raises(ValueError, match="not the digits model"):
        parse_train_command("python -m gin_core.train artificial --epochs 1 --lr 1 --out x")


def test_half_state_dict_keeps_permutations():
    state = half_state_dict(emnist_gin().state_dict())
    perms = [k for k in state if k.endswith("perm")]
    assert perms and all(state[k].dtype == torch.int64 for k in perms)
    assert all(v.dtype == torch.float16 for k, v in state.items() if not k.endswith("perm"))


def test_export_writes_provenance(exported):
    root, _, provenance, _ = exported
    out = root / "out"
    on_disk = json.loads((out / "gin_mnist.json").read_text())
    assert on_disk == json.loads(json.dumps(provenance))
    assert provenance["sha256"] == sha256_file(out / "gin_mnist.pt")
    assert 4.5e6 < provenance["bytes"] < 6.5e6  # 2.6M parameters in float16
    assert provenance["parameters"] == 2_620_192
    assert (provenance["dataset"], provenance["seed"], provenance["epochs_done"], provenance["epochs_planned"]) == ("mnist", 0, 3, 95)
    assert provenance["complete"] is False and provenance["lr_drops"] == [45]
    assert provenance["wall_time_s"] == pytest.approx(30.0)
    assert provenance["final_train_loss_nats_per_dim"] == pytest.approx(-1.2)
    assert provenance["code_commit"] == "abc123" and provenance["command"] == COMMAND
    t = provenance["test_nll"]
    assert t["n_test"] == 20 and t["n_train_for_class_statistics"] == 40
    assert t["bits_per_dim"] == pytest.approx((t["nats_per_dim"] + torch.tensor(255.0).log().item()) / torch.tensor(2.0).log().item())
    assert provenance["max_inversion_error_float32"] < 1e-4
    assert len(provenance["history"]["loss"]) == 3


def test_load_shipped_roundtrip(exported):
    root, net, provenance, x_test = exported
    loaded, prov = load_shipped("gin_mnist", root / "out")
    assert prov["sha256"] == provenance["sha256"]
    assert not loaded.training
    reference = net.state_dict()
    for k, v in loaded.state_dict().items():
        if v.is_floating_point():
            assert v.dtype == torch.float32
            assert torch.equal(v, reference[k].half().float())  # exactly the float16 rounding
        else:
            assert torch.equal(v, reference[k])
    assert max_inversion_error(loaded, x_test) < 1e-4
    loaded64, _ = load_shipped("gin_mnist", root / "out", dtype=torch.float64)
    assert max_inversion_error(loaded64, x_test.double()) < 1e-10


def test_tampered_weights_refused(exported, tmp_path):
    root, *_ = exported
    for name in ("gin_mnist.pt", "gin_mnist.json"):
        (tmp_path / name).write_bytes((root / "out" / name).read_bytes())
    data = bytearray((tmp_path / "gin_mnist.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "gin_mnist.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_shipped("gin_mnist", tmp_path)
    with pytest.raises(FileNotFoundError, match="no provenance"):
        load_shipped("gin_emnist", tmp_path)


def test_load_trained_prefers_reader_checkpoint(exported, tmp_path, monkeypatch):
    root, _, provenance, _ = exported
    monkeypatch.delenv("GIN_CHECKPOINT", raising=False)
    runs = tmp_path / "runs"
    shipped = load_trained("mnist", weights=root / "out", runs=runs)
    assert shipped.source == "shipped" and shipped.epochs == 3 and "shipped weights" in str(shipped)
    own = perturbed_net(seed=1)
    fake_checkpoint(runs / "gin_mnist" / "checkpoint.pt", own, epochs=5)
    mine = load_trained("mnist", weights=root / "out", runs=runs)
    assert mine.source == "checkpoint" and mine.epochs == 5 and len(mine.history["loss"]) == 5
    key = next(k for k, v in own.state_dict().items() if v.is_floating_point())
    assert torch.equal(mine.net.state_dict()[key], own.state_dict()[key])
    monkeypatch.setenv("GIN_CHECKPOINT", str(tmp_path / "nowhere.pt"))
    with pytest.raises(FileNotFoundError, match="GIN_CHECKPOINT"):
        load_trained("mnist", weights=root / "out", runs=runs)
    monkeypatch.setenv("GIN_CHECKPOINT", str(runs / "gin_mnist" / "checkpoint.pt"))
    assert load_trained("emnist", weights=root / "out", runs=tmp_path / "empty").source == "checkpoint"
    monkeypatch.delenv("GIN_CHECKPOINT")
    with pytest.raises(FileNotFoundError, match="python -m gin_core.train digits --dataset emnist"):
        load_trained("emnist", weights=root / "out", runs=runs)
    with pytest.raises(ValueError, match="trained on mnist"):
        load_trained("emnist", name="gin_mnist", weights=root / "out", runs=runs)


def test_shipped_weights_verify_and_invert_test_images():
    """The weights in data/weights: SHA-256 verified, Table 3 network, inverts real test images to 1e-4."""
    net, provenance = load_shipped("gin_mnist")
    assert provenance["dataset"] == "mnist" and provenance["parameters"] == 2_620_192
    assert (weights_dir() / "gin_mnist.pt").stat().st_size < 8e6
    x, _ = load_digits("mnist", "test", limit=200)
    assert max_inversion_error(net, x) < 1e-4


def test_export_script_reads_run_folder(tmp_path):
    """scripts/export_weights.py: command and commit from the run folder, trial export on a few real images."""
    import importlib.util

    from gin_core.weights import REPO_ROOT

    spec = importlib.util.spec_from_file_location("export_weights", REPO_ROOT / "scripts" / "export_weights.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    run = tmp_path / "run"
    fake_checkpoint(run / "checkpoint.pt", perturbed_net(seed=3), epochs=2)
    (run / "command.txt").write_text(COMMAND + "\n")
    (run / "commit.txt").write_text("deadbeef\n")
    provenance = script.main([str(run / "checkpoint.pt"), "--out-dir", str(tmp_path / "out"), "--limit", "50"])
    assert provenance["code_commit"] == "deadbeef" and provenance["command"] == COMMAND
    assert provenance["test_nll"]["n_test"] == 50 and "trial export" in provenance["notes"]
    net, _ = load_shipped("gin_mnist", tmp_path / "out")
    assert provenance["epochs_done"] == 2 and not net.training
    (run / "command.txt").unlink()
    with pytest.raises(SystemExit, match="give --command"):
        script.main([str(run / "checkpoint.pt"), "--out-dir", str(tmp_path / "out2")])
