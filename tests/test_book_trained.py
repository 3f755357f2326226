"""Tests of gin_core.book.trained: export of a training checkpoint with provenance, the reader's checkpoint
versus the shipped weights, the shipped MNIST weights themselves, and scripts/export_weights.py."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from gin_core import emnist_gin, inversion_error, load_weights, train
from gin_core.book.trained import (
    PAPER_OPTIMISER,
    TRAIN_COMMAND,
    export_weights,
    load_trained,
    parse_train_command,
    training_checkpoint,
)
from gin_core.digits import load_digits
from gin_core.weights import sha256_file

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "OMP_NUM_THREADS=1 python -m gin_core.training digits --dataset mnist --epochs 95 --lr 3e-4 --drop 45 --seed 0 --out runs/x"


def fake_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10


def tiny_run(path, epochs=2, seed=0, dataset="mnist"):
    """A real (short) training run of the Table 3 network on 40 random images: a real checkpoint."""
    x, u = fake_data(40, seed)
    return train(
        emnist_gin(seed=0),
        x,
        u,
        n_classes=10,
        n_epochs=epochs,
        lr=1e-3,
        batch_size=20,
        seed=seed,
        checkpoint=path,
        progress=False,
        dataset=dataset,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    history = tiny_run(root / "checkpoint.pt")
    x_train, u_train = fake_data(40, 0)
    x_test, u_test = fake_data(20, 1)
    provenance = export_weights(
        root / "checkpoint.pt", root / "out" / "gin_mnist.pt", COMMAND, x_train, u_train, x_test, u_test, notes="test"
    )
    return root, history, provenance, x_test


def test_parse_train_command():
    args = parse_train_command(COMMAND)
    assert (args.dataset, args.epochs, args.lr, args.drop, args.seed) == ("mnist", 95, 3e-4, [45], 0)
    assert parse_train_command(COMMAND.replace("gin_core.training", "gin_core.train")).epochs == 95  # old name
    assert parse_train_command(TRAIN_COMMAND.format(dataset="emnist")).dataset == "emnist"
    with pytest.raises(ValueError, match="not a `python -m gin_core.training`"):
        parse_train_command("python train.py")
    with pytest.raises(ValueError, match="not the digits model"):
        parse_train_command("python -m gin_core.training artificial --epochs 1 --lr 1 --out x")


def test_export_writes_provenance(exported):
    root, history, provenance, x_test = exported
    out = root / "out"
    assert json.loads((out / "gin_mnist.json").read_text()) == json.loads(json.dumps(provenance))
    assert provenance["sha256"] == sha256_file(out / "gin_mnist.pt")
    assert 4.5e6 < provenance["bytes"] < 6.5e6  # 2.6M parameters in float16
    assert provenance["parameters"] == 2_620_192 and provenance["network"]["architecture"] == "emnist_gin"
    assert (provenance["dataset"], provenance["seed"], provenance["epochs_done"], provenance["epochs_planned"]) == (
        "mnist",
        0,
        2,
        95,
    )
    assert provenance["complete"] is False and provenance["batch_size"] == 20 and provenance["lr"] == 1e-3
    assert provenance["wall_time_s"] == pytest.approx(sum(history.seconds))
    assert provenance["final_train_loss_nats_per_dim"] == pytest.approx(history.loss[-1])
    assert provenance["command"] == COMMAND and len(provenance["code_commits"]) == 1
    t = provenance["test_nll"]
    assert t["n_test"] == 20 and t["n_train_for_class_statistics"] == 40
    assert t["bits_per_dim"] == pytest.approx((t["nats_per_dim"] + math.log(255)) / math.log(2))
    net, _ = load_weights(out / "gin_mnist.pt")
    assert provenance["max_inversion_error_float32"] == inversion_error(net, x_test) < 1e-4


def test_load_trained_prefers_the_reader_checkpoint(exported, tmp_path, monkeypatch):
    root, _, _, _ = exported
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "weights").symlink_to(root / "out")
    monkeypatch.setenv("GIN_BOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("GIN_CHECKPOINT", raising=False)
    shipped = load_trained("mnist")
    assert shipped.source == "shipped" and shipped.epochs == 2 and "shipped weights" in str(shipped)
    own = tmp_path / "runs" / "gin_mnist" / "checkpoint.pt"
    tiny_run(own, epochs=3, seed=1)
    mine = load_trained("mnist")
    assert mine.source == "checkpoint" and mine.epochs == 3 and len(mine.history["loss"]) == 3
    with pytest.raises(ValueError, match="trained on mnist, not emnist"):
        monkeypatch.setenv("GIN_CHECKPOINT", str(own))
        load_trained("emnist")
    monkeypatch.setenv("GIN_CHECKPOINT", str(tmp_path / "nowhere.pt"))
    with pytest.raises(FileNotFoundError, match="GIN_CHECKPOINT"):
        load_trained("mnist")
    monkeypatch.delenv("GIN_CHECKPOINT")
    with pytest.raises(FileNotFoundError, match="python -m gin_core.training digits --dataset emnist"):
        load_trained("emnist")


def test_shipped_weights_verify_and_invert_test_images(mnist_root):
    """The weights in data/weights: SHA-256 verified, Table 3 network, inverts real test images to 1e-4."""
    net, provenance = load_weights(ROOT / "data" / "weights" / "gin_mnist.pt")
    assert provenance["dataset"] == "mnist" and provenance["parameters"] == 2_620_192
    assert (ROOT / "data" / "weights" / "gin_mnist.pt").stat().st_size < 8e6
    x, _ = load_digits("mnist", "test", mnist_root, limit=200)
    assert inversion_error(net, x) < 1e-4


def test_export_script_reads_the_command_from_the_run_folder(tmp_path, mnist_root, monkeypatch):
    """scripts/export_weights.py: the command from command.txt, a trial export on a few real images."""
    spec = importlib.util.spec_from_file_location("export_weights", ROOT / "scripts" / "export_weights.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    tiny_run(run / "checkpoint.pt")
    (run / "command.txt").write_text(COMMAND + "\n")
    provenance = script.main([str(run / "checkpoint.pt"), "--out-dir", str(tmp_path / "out"), "--limit", "50"])
    assert (
        provenance["command"] == COMMAND
        and provenance["test_nll"]["n_test"] == 50
        and "trial export" in provenance["notes"]
    )
    net, _ = load_weights(tmp_path / "out" / "gin_mnist.pt")
    assert provenance["epochs_done"] == 2 and not net.training
    (run / "command.txt").unlink()
    with pytest.raises(SystemExit, match="give --command"):
        script.main([str(run / "checkpoint.pt"), "--out-dir", str(tmp_path / "out2")])


def test_paper_optimiser_is_the_training_command():
    args = parse_train_command(TRAIN_COMMAND.format(dataset="mnist"))
    batch_size = args.batch_size or 240  # the digits default of the training CLI
    assert PAPER_OPTIMISER == {"lr": args.lr, "batch_size": batch_size, "noise": args.noise, "seed": args.seed}


def test_training_checkpoint_paper_scale_is_the_readers_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GIN_BOOK_ROOT", str(tmp_path))
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    path, folder = training_checkpoint("paper", "emnist")
    assert folder is None and path == tmp_path.resolve() / "runs" / "gin_emnist" / "checkpoint.pt"
    for scale in ("cpu", "smoke"):
        path, folder = training_checkpoint(scale, "mnist")
        assert path.parent == Path(folder.name) and path.parent.is_dir() and tmp_path not in path.parents
        folder.cleanup()
        assert not path.parent.exists()
