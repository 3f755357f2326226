"""Ensembles (gin_core.training.ensemble, ensemble_loop): each member is its lone run; checkpoints resume exactly."""

from __future__ import annotations

import pytest
import torch

import gin_core
from gin_core.checkpoints import CheckpointError, load_checkpoint
from gin_core.model import GIN
from gin_core.networks import coupling_flow
from gin_core.training import EnsembleStep, LockedError, run_lock, train_ensemble
from gin_core.training.optim import make_optimizer

pytestmark = pytest.mark.unit

N_POINTS, BATCH = 2000, 400  # 5 steps an epoch: 2 epochs are 10 Adam steps
SCHEDULE = dict(n_epochs=2, lr=1e-2, batch_size=BATCH, milestones=(1,), device="cpu", progress=False)


def member_data(n: int, dtype=torch.float32):
    data = [gin_core.make_artificial_data(5, N_POINTS, seed=s) for s in range(n)]
    return [d.x.to(dtype) for d in data], [d.u for d in data]


def flows(n: int, dtype=torch.float32, volume_preserving: bool = True):
    return [gin_core.artificial_gin(volume_preserving=volume_preserving, seed=10 + k).to(dtype) for k in range(n)]


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def lone_runs(xs, us, dtype, seeds, learned=False, volume_preserving=True, **schedule):
    out = []
    for k, (x, u) in enumerate(zip(xs, us)):
        net = gin_core.artificial_gin(volume_preserving=volume_preserving, seed=10 + k).to(dtype)
        model = GIN(net, 5, learned=learned).to(dtype) if learned else net
        history = gin_core.train(model, x, u, 5, seed=seeds[k], fast=False, learned_stats=learned, **schedule)
        out.append(history)
    return out


@pytest.mark.parametrize(
    "learned, volume_preserving",
    [(False, True), (True, True), (False, False)],
    ids=["gin", "gin_learned", "glow"],
)
def test_each_member_equals_its_lone_run_in_float64(learned, volume_preserving):
    """10 Adam steps (with the learning-rate drop after 5) of 3 members, each against gin_core.train alone: 1e-8."""
    xs, us = member_data(3, torch.float64)
    seeds = [100, 7, 55]
    nets = flows(3, torch.float64, volume_preserving)
    models = [GIN(net, 5, learned=learned).double() if learned else net for net in nets]
    together = train_ensemble(models, xs, us, 5, seeds=seeds, learned_stats=learned, fast=False, **SCHEDULE)
    alone = lone_runs(xs, us, torch.float64, seeds, learned, volume_preserving, **SCHEDULE)
    for k, (mine, theirs) in enumerate(zip(together, alone)):
        assert len(mine.loss) == 2
        torch.testing.assert_close(torch.tensor(mine.loss), torch.tensor(theirs.loss), rtol=0, atol=1e-8)
        torch.testing.assert_close(flat(mine.model), flat(theirs.model), rtol=0, atol=1e-8)
        assert mine.lr == theirs.lr == [1e-2, 1e-3]
        assert mine.excluded == theirs.excluded
        assert not torch.equal(flat(mine.model), flat(together[(k + 1) % 3].model))  # the members differ


def test_members_agree_with_lone_runs_in_float32():
    """The same in float32: equal to rounding (the batched products sum in another order).

    The losses agree to 1e-5. Adam divides each gradient by its running RMS, so a parameter whose
    gradient is pure rounding noise (zero-initialised last layers) moves by up to the learning rate
    either way: all parameters agree to one step (1e-2), and 99% of them to 1e-5.
    """
    xs, us = member_data(2)
    seeds = [3, 4]
    together = train_ensemble(flows(2), xs, us, 5, seeds=seeds, fast=False, **SCHEDULE)
    alone = lone_runs(xs, us, torch.float32, seeds, **SCHEDULE)
    for mine, theirs in zip(together, alone):
        torch.testing.assert_close(torch.tensor(mine.loss), torch.tensor(theirs.loss), rtol=0, atol=1e-5)
        difference = (flat(mine.model) - flat(theirs.model)).abs()
        assert difference.max() < 1e-2
        assert (difference < 1e-5).double().mean() > 0.99


def test_one_adam_over_stacked_parameters_equals_separate_adams():
    """Adam is elementwise: one (fused) Adam over an (N, P) tensor takes each row's steps as N Adams over the members' tensors."""
    g = torch.Generator().manual_seed(0)
    shapes = [(10, 5), (10,), (7, 3), (1,)]
    members = [[torch.randn(s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes] for _ in range(3)]
    stacked = torch.stack([torch.cat([p.detach().reshape(-1) for p in m]) for m in members]).requires_grad_(True)
    adams = [make_optimizer(m, 1e-2) for m in members]
    adam = make_optimizer([stacked], 1e-2)
    for _ in range(10):
        grads = [[torch.randn(s, generator=g, dtype=torch.float64) for s in shapes] for _ in members]
        for m, gs in zip(members, grads):
            for p, gr in zip(m, gs):
                p.grad = gr.clone()
        stacked.grad = torch.stack([torch.cat([gr.reshape(-1) for gr in gs]) for gs in grads])
        for opt in (*adams, adam):
            opt.step()
    separate = torch.stack([torch.cat([p.detach().reshape(-1) for p in m]) for m in members])
    torch.testing.assert_close(stacked.detach(), separate, rtol=0, atol=1e-15)


def test_members_stay_views_of_the_stacked_parameters():
    models = [GIN(net, 5) for net in flows(2)]
    step = EnsembleStep(models, 1e-2)
    x, u = torch.randn(2, 100, 10), torch.arange(100).repeat(2, 1) % 5
    before = flat(models[1]).clone()
    losses = step(x, u, 0.01, [torch.Generator().manual_seed(k) for k in range(2)])
    assert len(losses) == 2 and all(isinstance(v, float) for v in losses)
    assert not torch.equal(flat(models[1]), before)  # the member's module saw the step
    torch.testing.assert_close(flat(models[1]), step.flat[1].detach(), rtol=0, atol=0)


def _stop_after(monkeypatch, calls: int):
    original = EnsembleStep.__call__
    count = {"n": 0}

    def interrupted(self, *args):
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(EnsembleStep, "__call__", interrupted)


def test_an_interrupted_ensemble_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Interrupted mid-epoch (after 7 of 10 steps), then resumed: the same weights, losses and optimiser state bit for bit."""
    xs, us = member_data(3)
    seeds = [1, 2, 3]
    whole = train_ensemble(flows(3), xs, us, 5, seeds=seeds, fast=False, checkpoint=tmp_path / "a" / "e.pt", **SCHEDULE)
    path = tmp_path / "b" / "e.pt"
    with monkeypatch.context() as patch:
        _stop_after(patch, 7)
        with pytest.raises(KeyboardInterrupt):
            train_ensemble(flows(3), xs, us, 5, seeds=seeds, fast=False, checkpoint=path, **SCHEDULE)
    saved = load_checkpoint(path)
    assert (saved["kind"], saved["members"], saved["epoch"], saved["position"]) == ("ensemble", 3, 1, 2)
    resumed = train_ensemble(flows(3), xs, us, 5, seeds=seeds, fast=False, checkpoint=path, **SCHEDULE)
    for a, b in zip(whole, resumed):
        assert a.loss == b.loss
        assert torch.equal(flat(a.model), flat(b.model))
    end_a, end_b = load_checkpoint(tmp_path / "a" / "e.pt"), load_checkpoint(path)
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(end_a["optimizer"]["state"][0][key], end_b["optimizer"]["state"][0][key])
    assert all(torch.equal(g, h) for g, h in zip(end_a["generator"], end_b["generator"]))


def test_resume_checks_every_members_settings(tmp_path):
    xs, us = member_data(2)
    path = tmp_path / "e.pt"
    one_epoch = {**SCHEDULE, "n_epochs": 1}
    train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, checkpoint=path, **one_epoch)
    with pytest.raises(CheckpointError, match="training settings of member 1"):
        train_ensemble(flows(2), xs, us, 5, seeds=[1, 9], fast=False, checkpoint=path, **SCHEDULE)
    with pytest.raises(CheckpointError, match="ensemble of 2 members, this one has 3"):
        xs3, us3 = member_data(3)
        train_ensemble(flows(3), xs3, us3, 5, seeds=[1, 2, 3], fast=False, checkpoint=path, **SCHEDULE)
    single = tmp_path / "single" / "run.pt"
    gin_core.train(flows(1)[0], xs[0], us[0], 5, seed=1, fast=False, checkpoint=single, **one_epoch)
    with pytest.raises(CheckpointError, match="single run's checkpoint"):
        train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, checkpoint=single, **SCHEDULE)


def test_a_single_run_refuses_an_ensembles_checkpoint(tmp_path):
    """train (RunState.restore) on an ensemble's checkpoint: a CheckpointError that says what the file is."""
    xs, us = member_data(2)
    path = tmp_path / "e.pt"
    one_epoch = {**SCHEDULE, "n_epochs": 1}
    train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, checkpoint=path, **one_epoch)
    before = path.read_bytes()
    with pytest.raises(
        CheckpointError, match=r"checkpoint of an ensemble of 2 members .* resume it with train_ensemble"
    ):
        gin_core.train(flows(1)[0], xs[0], us[0], 5, seed=1, fast=False, checkpoint=path, **SCHEDULE)
    assert path.read_bytes() == before  # the ensemble's checkpoint is left as it was


def test_a_second_run_into_a_locked_folder_stops(tmp_path):
    xs, us = member_data(2)
    with run_lock(tmp_path):
        with pytest.raises(LockedError, match=r"in use by another run: process \d+ on host"):
            train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, checkpoint=tmp_path / "e.pt", **SCHEDULE)
    assert not (tmp_path / "e.pt").exists()


def test_bad_input_gets_clear_errors():
    xs, us = member_data(2)
    with pytest.raises(ValueError, match=r"member 1's data has shape \(1000, 10\)"):
        train_ensemble(flows(2), [xs[0], xs[1][:1000]], [us[0], us[1][:1000]], 5, seeds=[1, 2], **SCHEDULE)
    with pytest.raises(ValueError, match="one seed per member"):
        train_ensemble(flows(2), xs, us, 5, seeds=[1], **SCHEDULE)
    with pytest.raises(ValueError, match="one data set and one label set per member"):
        train_ensemble(flows(2), xs[:1], us[:1], 5, seeds=[1, 2], **SCHEDULE)
    with pytest.raises(ValueError, match="member 1 has another architecture"):
        other = gin_core.artificial_gin(seed=3, volume_preserving=False)
        train_ensemble([flows(1)[0], other], xs, us, 5, seeds=[1, 2], **SCHEDULE)
    same = GIN(flows(1)[0], 5)
    with pytest.raises(ValueError, match="same model object"):
        train_ensemble([same, same], xs, us, 5, seeds=[1, 2], **SCHEDULE)
    with pytest.raises(ValueError, match="labels u must lie in"):
        train_ensemble(flows(2), xs, [us[0], us[1] + 5], 5, seeds=[1, 2], **SCHEDULE)


def test_a_diverging_member_is_named():
    xs, us = member_data(2)
    xs[1] = xs[1] * 1e30  # member 1's loss overflows
    with pytest.raises(FloatingPointError, match=r"members \[1\]"):
        train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, **SCHEDULE)


def test_progress_is_shown(capsys):
    xs, us = member_data(2)
    train_ensemble(flows(2), xs, us, 5, seeds=[1, 2], fast=False, **{**SCHEDULE, "progress": True, "n_epochs": 1})
    assert "ensemble of 2" in capsys.readouterr().out


def test_the_compiled_ensemble_step_agrees_with_the_eager_one():
    """torch.compile of the vmapped step (a one-block flow in float64, to keep the compilation short): 1e-10."""
    x, u = torch.randn(3, 200, 10, dtype=torch.float64), torch.arange(200).repeat(3, 1) % 5

    def models():
        nets = [coupling_flow([("fc", {"hidden": 10})], (10,), seed=k, zero_init_last=False).double() for k in range(3)]
        return [GIN(net, 5) for net in nets]

    eager, compiled = EnsembleStep(models(), 1e-2), EnsembleStep(models(), 1e-2, compile=True)
    assert compiled.mode == "compiled"
    for _ in range(3):
        a = eager(x, u, 0.01, [torch.Generator().manual_seed(k) for k in range(3)])
        b = compiled(x, u, 0.01, [torch.Generator().manual_seed(k) for k in range(3)])
        torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=0, atol=1e-10)
    torch.testing.assert_close(eager.flat, compiled.flat, rtol=0, atol=1e-10)
    assert compiled.compile_seconds > 0
