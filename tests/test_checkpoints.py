"""Tests of gin_core.checkpoints: versioned format, settings checks on resume, wrong networks, corrupt files."""

import inspect
import re
import shlex

import pytest
import torch

import gin_core.training.cli
from gin_core import (
    CheckpointError,
    artificial_gin,
    emnist_gin,
    load_checkpoint,
    load_network,
    make_artificial_data,
    train,
)
from gin_core.checkpoints import load_state, save_checkpoint, save_json
from gin_core.training.cli import build_parser


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(n_clusters=3, n_points=400, seed=0)


def fit(data, path, n_epochs=1, **changes):
    options = dict(n_classes=3, n_epochs=n_epochs, lr=1e-2, batch_size=100, milestones=(2,), seed=0, progress=False)
    net = artificial_gin(volume_preserving=changes.pop("volume_preserving", True), seed=changes.pop("net_seed", 0))
    x, u = changes.pop("x", data.x), changes.pop("u", data.u)
    options.update(changes)
    return net, train(net, x, u, checkpoint=path, **options)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"batch_size": 50}, "batch_size: file 100, now 50"),
        ({"lr": 1e-3}, "lr: file 0.01, now 0.001"),
        ({"seed": 1}, "seed: file 0, now 1"),
        ({"milestones": (3,)}, r"milestones: file \[2\], now \[3\]"),
        ({"noise": 0.1}, "noise: file 0.01, now 0.1"),
        ({"learned_stats": True}, "learned_stats: file False, now True"),
        ({"volume_preserving": False}, "volume_preserving: file True, now False"),
        ({"net_seed": 4}, "seed: file 0, now 4"),
        ({"dataset": "mnist"}, "dataset: file None, now 'mnist'"),
    ],
)
def test_resume_with_other_settings_names_each_difference(data, tmp_path, change, message):
    path = tmp_path / "run.pt"
    fit(data, path)
    with pytest.raises(CheckpointError, match=message):
        fit(data, path, n_epochs=2, **change)


def test_resume_with_other_data_size_and_several_changes(data, tmp_path):
    path = tmp_path / "run.pt"
    fit(data, path)
    with pytest.raises(CheckpointError, match="n_samples: file 400, now 300") as error:
        fit(data, path, n_epochs=2, x=data.x[:300], u=data.u[:300], lr=0.5, batch_size=60)
    text = str(error.value)
    assert "batch_size: file 100, now 60" in text and "lr: file 0.01, now 0.5" in text and str(path) in text
    fit(data, path, n_epochs=2)  # the same settings resume


def test_corrupt_and_foreign_files_give_clear_errors(data, tmp_path):
    path = tmp_path / "run.pt"
    fit(data, path)
    raw = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"cut.pt is not a readable checkpoint \(truncated, corrupt"):
        fit(data, tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    torch.save(artificial_gin().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="not a gin_core training checkpoint"):
        fit(data, tmp_path / "bare.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds a list, not a checkpoint dictionary"):
        load_checkpoint(tmp_path / "list.pt")
    state = load_checkpoint(path)
    save_checkpoint(tmp_path / "future.pt", {**state, "version": 99})
    with pytest.raises(CheckpointError, match="version 99; this gin_core reads versions 2, 3"):
        load_checkpoint(tmp_path / "future.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_weights_of_another_network_name_the_difference():
    with pytest.raises(CheckpointError, match="tensors missing from the file") as error:
        load_state(emnist_gin(), artificial_gin().state_dict(), "small.pt")
    assert "tensors the network does not have" in str(error.value)
    wide = artificial_gin().state_dict()
    key = next(k for k, v in wide.items() if v.is_floating_point())
    wide[key] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=re.escape(f"{key}: file (3, 3), network")):
        load_state(artificial_gin(), wide)


def test_load_network_rebuilds_the_recorded_network(data, tmp_path):
    path = tmp_path / "run.pt"
    net, _ = fit(data, path, volume_preserving=False)
    again = load_network(path)
    assert again.config == net.config and not again.volume_preserving and not again.training
    assert all(torch.equal(again.state_dict()[k], v) for k, v in net.state_dict().items())


def test_checkpoint_records_commits_and_writes_atomically(data, tmp_path):
    path = tmp_path / "run" / "run.pt"
    fit(data, path)
    state = load_checkpoint(path)
    assert isinstance(state["commits"], list) and len(state["commits"]) == 1 and state["gin_core"]
    save_json(tmp_path / "run" / "records.json", [{"a": 1}])
    assert sorted(p.name for p in path.parent.iterdir()) == ["records.json", "run.pt"]  # no temporary files


def test_the_training_docstring_commands_parse():
    """Every `python -m gin_core.training ...` line in the module's docstring is accepted by its parser."""
    commands = [
        line.strip() for line in inspect.getdoc(gin_core.training.cli).splitlines() if "-m gin_core.training" in line
    ]
    assert len(commands) == 2
    for command in commands:
        words = shlex.split(command)
        args = build_parser().parse_args(words[words.index("gin_core.training") + 1 :])
        assert args.experiment in ("artificial", "digits") and args.epochs > 0
