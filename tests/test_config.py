"""Tests of gin_core.config: GIN_SCALE, GIN_DATASET and the device."""

import dataclasses

import pytest
import torch

from gin_core import RunConfig, run_config


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("GIN_SCALE", raising=False)
    monkeypatch.delenv("GIN_DATASET", raising=False)
    return monkeypatch


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
