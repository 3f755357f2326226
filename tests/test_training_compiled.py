"""Tests of gin_core.training.compiled: the compiled training step against eager execution, resume, the auto rule,
and the eager fallback (compiling takes tens of seconds on CPU, so the compiled cases share one step)."""

import pytest
import torch

import gin_core.training.auto as fast
from gin_core import GIN, artificial_gin, class_conditional_nll, load_checkpoint, make_artificial_data, train
from gin_core.training import CompiledStep, EagerStep, make_optimizer
from gin_core.training.auto import AUTO_RULE, choose, compile_available

needs_compiler = pytest.mark.skipif(
    not compile_available("cpu")[0], reason=f"torch.compile unavailable: {compile_available('cpu')[1]}"
)


@pytest.fixture(scope="module", autouse=True)
def forget_compiled_steps():
    """Later tests call train(fast="auto"), which reuses a step compiled in this process: forget them."""
    yield
    fast.clear_cache()


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(n_clusters=5, n_points=2000, seed=0)


def steps(data, mode, n=10, dtype=torch.float32, optimizer="adam", lr=1e-2):
    """n training steps of the 10-d network on one batch of 1000, eager or compiled."""
    model = GIN(artificial_gin(seed=0).to(dtype), 5)
    generator = torch.Generator().manual_seed(0)
    x, u = data.x[:1000].to(dtype), data.u[:1000]
    step = CompiledStep(model, lr) if mode == "fast" else EagerStep(model, lr)
    params = step.parameters()
    step.optimizer = make_optimizer(params, lr) if optimizer == "adam" else torch.optim.SGD(params, lr)
    losses = [step(x, u, 0.01, generator) for _ in range(n)]
    return losses, model.flow


def largest_difference(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


@needs_compiler
def test_one_compiled_step_equals_eager_in_float32(data):
    """Loss and gradients of one batch, float32: the compiled function against eager, after 5 eager steps."""
    _, net = steps(data, "eager", n=5)
    x, u = data.x[1000:], data.u[1000:]
    w, _ = net(x)
    eager = class_conditional_nll(w, u, 5)
    eager_grads = torch.autograd.grad(eager, list(net.parameters()))
    step = CompiledStep(GIN(net, 5), 1e-2)
    function, _, _ = fast._COMPILED[step._function(x)]
    compiled, n_used = function(step.flat, dict(net.named_buffers()), (), x, u)
    (flat_grad,) = torch.autograd.grad(compiled, [step.flat])
    compiled_grads = torch.split(flat_grad, [p.numel() for p in net.parameters()])
    compiled_grads = [g.view(p.shape) for g, p in zip(compiled_grads, net.parameters())]
    assert int(n_used) == 1000 and abs(compiled.item() - eager.item()) < 1e-5
    scale = max(g.abs().max().item() for g in eager_grads)
    assert max((a - b).abs().max().item() for a, b in zip(eager_grads, compiled_grads)) < 1e-5 * max(scale, 1.0)


@needs_compiler
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_ten_compiled_steps_equal_eager(data, optimizer):
    """Ten steps: float64 with Adam to 1e-8; float32 with SGD to 1e-5.

    Float32 with Adam is not compared parameter by parameter: the loss with batch statistics is
    invariant to shifting a latent coordinate, so the gradients of the translation biases are
    rounding noise, and Adam turns noise of any sign into steps of size lr. Eager itself differs
    from eager that way between 1 and 2 threads (test_adam_amplifies_rounding_in_eager_too).
    """
    dtype = torch.float64 if optimizer == "adam" else torch.float32
    tolerance = 1e-8 if optimizer == "adam" else 1e-5
    eager_losses, eager_net = steps(data, "eager", dtype=dtype, optimizer=optimizer)
    fast_losses, fast_net = steps(data, "fast", dtype=dtype, optimizer=optimizer)
    assert max(abs(a - b) for a, b in zip(eager_losses, fast_losses)) < tolerance
    assert largest_difference(eager_net, fast_net) < tolerance
    assert fast_losses[-1] < fast_losses[0]  # it trains


def test_adam_amplifies_rounding_in_eager_too(data):
    """Why float32 + Adam is compared by its loss only: eager at 1 and at 2 threads already differ."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = steps(data, "eager")
        torch.set_num_threads(2)
        two = steps(data, "eager")
    finally:
        torch.set_num_threads(threads)
    assert max(abs(a - b) for a, b in zip(one[0], two[0])) < 1e-4  # the loss agrees closely ...
    assert largest_difference(one[1], two[1]) > 1e-3  # ... the parameters do not (0.055 when this was written)


@needs_compiler
def test_fast_training_resumes_bit_identically(data, tmp_path):
    from unittest import mock

    def go(checkpoint, stop=None):
        net = artificial_gin(seed=0)
        kwargs = dict(n_classes=5, n_epochs=3, lr=1e-2, batch_size=1000, milestones=(2,), seed=0, progress=False)
        if stop is None:
            return net, train(net, data.x, data.u, checkpoint=checkpoint, fast=True, **kwargs)
        real, calls = CompiledStep.__call__, []

        def call(self, *args, **kw):
            if len(calls) == stop:
                raise KeyboardInterrupt
            calls.append(1)
            return real(self, *args, **kw)

        with mock.patch.object(CompiledStep, "__call__", call), pytest.raises(KeyboardInterrupt):
            train(net, data.x, data.u, checkpoint=checkpoint, fast=True, **kwargs)

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # with two threads inductor's sums were atomic (run-to-run noise) until
    try:  # the compiled step ran in deterministic mode (gin_core.training.compiled.deterministic)
        reference_net, reference = go(tmp_path / "full.pt")
        assert reference.fast == load_checkpoint(tmp_path / "full.pt")["fast"] == "compiled"
        assert not torch.are_deterministic_algorithms_enabled()  # the step restores the global setting
        go(tmp_path / "cut.pt", stop=3)
        assert load_checkpoint(tmp_path / "cut.pt")["fast"] == "compiled"
        resumed_net, resumed = go(tmp_path / "cut.pt")  # "auto" would also keep the checkpoint's path
    finally:
        torch.set_num_threads(threads)
    assert resumed.loss == reference.loss  # bit for bit
    sa, sb = reference_net.state_dict(), resumed_net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_auto_rule(data, monkeypatch):
    net = artificial_gin(seed=3)
    shape = (1000, 10)
    args = (net, shape, torch.float32, "cpu", 5, False)
    monkeypatch.setattr(fast, "_COMPILED", {})
    assert choose(False, *args, planned_steps=10**9) == "eager"
    if compile_available("cpu")[0]:
        assert choose(True, *args, planned_steps=1) == "compiled"
        assert choose("auto", *args, planned_steps=AUTO_RULE["cold_steps"] + AUTO_RULE["warm_steps"]) == "compiled"
        shortest = min(AUTO_RULE["cold_steps"], AUTO_RULE["warm_steps"]) - 1
        assert choose("auto", *args, planned_steps=shortest) == "eager"
        key = fast._key(net, shape, torch.float32, torch.device("cpu"), 5, False, False)
        monkeypatch.setitem(fast._COMPILED, key, (None, None, True))
        assert choose("auto", *args, planned_steps=1) == "compiled"  # compiled in this process: reused
        assert choose("auto", net, shape, torch.float32, "meta", 5, False, 10**9) == "eager"  # not measured off CPU
    from gin_core import emnist_gin

    image_args = (emnist_gin(seed=0), (240, 1, 28, 28), torch.float32, "cpu", 10, False)
    # channels-last was measured slower than eager on CPU, so "auto" keeps the image network eager
    assert choose("auto", *image_args, planned_steps=10**9) == "eager"
    monkeypatch.setitem(AUTO_RULE, "channels_last", ("emnist_gin",))  # an architecture listed opts in
    assert choose("auto", *image_args, planned_steps=1) == "channels_last"  # no compilation to repay
    with pytest.raises(ValueError, match="fast must be True, False or 'auto'"):
        choose("yes", *args, planned_steps=1)


def test_channels_last_digits_step_resumes_bit_identically_and_matches_eager(tmp_path, monkeypatch):
    """The image network's channels-last path on CPU (no compilation): resume and agreement with eager."""
    from unittest import mock

    from gin_core import emnist_gin

    g = torch.Generator().manual_seed(0)
    x, u = torch.rand(40, 1, 28, 28, generator=g), torch.arange(40) % 10

    def go(fast, checkpoint=None, stop=None):
        net = emnist_gin(seed=0)
        kwargs = dict(n_classes=10, n_epochs=2, lr=1e-3, batch_size=20, seed=0, progress=False, fast=fast)
        if stop is None:
            return net, train(net, x, u, checkpoint=checkpoint, **kwargs)
        real, calls = CompiledStep.__call__, []

        def call(self, *args, **kw):
            if len(calls) == stop:
                raise KeyboardInterrupt
            calls.append(1)
            return real(self, *args, **kw)

        with mock.patch.object(CompiledStep, "__call__", call), pytest.raises(KeyboardInterrupt):
            train(net, x, u, checkpoint=checkpoint, **kwargs)

    monkeypatch.setitem(AUTO_RULE, "channels_last", ("emnist_gin",))  # opt in: "auto" then takes it
    reference_net, reference = go("auto", tmp_path / "full.pt")
    assert reference.fast == "channels_last"
    assert reference_net.layers[2].subnet1[0].weight.is_contiguous(memory_format=torch.channels_last)
    go("auto", tmp_path / "cut.pt", stop=3)
    resumed_net, resumed = go("auto", tmp_path / "cut.pt")
    assert resumed.loss == reference.loss  # bit for bit
    sa, sb = reference_net.state_dict(), resumed_net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    eager_net, eager = go(False)
    assert eager.fast == "eager" and abs(eager.loss[0] - reference.loss[0]) < 1e-5


def test_eager_fallback_with_a_clear_message(data, monkeypatch):
    monkeypatch.setattr(fast, "ALLOW_COMPILE", False)
    monkeypatch.setattr(fast, "_WARNED", set())
    assert compile_available("cpu") == (
        False,
        "compilation is switched off (gin_core.training.auto.ALLOW_COMPILE is False; the book: GIN_NO_COMPILE)",
    )
    with pytest.warns(RuntimeWarning, match="fast training step is unavailable .compilation is switched off"):
        history = train(artificial_gin(seed=0), data.x, data.u, 5, 1, 1e-2, 1000, fast=True, progress=False)
    assert history.fast == "eager" and len(history.loss) == 1


def test_a_failing_compilation_falls_back_to_eager(data, monkeypatch):
    def broken_compile(fn, **kwargs):
        def call(*args, **kw):
            raise RuntimeError("inductor failed (simulated)")

        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr(fast, "_COMPILED", {})
    monkeypatch.setattr(fast, "_WARNED", set())
    step = CompiledStep(GIN(artificial_gin(seed=0).double(), 5), 1e-2)
    reference = EagerStep(GIN(artificial_gin(seed=0).double(), 5), 1e-2)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    x, u = data.x[:1000].double(), data.u[:1000]  # float64: Adam would amplify float32 rounding
    with pytest.warns(RuntimeWarning, match="compiling the training step failed .RuntimeError: inductor failed"):
        value = step(x, u, 0.01, g1)
    # the same function, uncompiled, on the flat parameters: the eager step to rounding
    assert step.eager and abs(value - reference(x, u, 0.01, g2)) < 1e-10
    assert abs(step(x, u, 0.01, g1) - reference(x, u, 0.01, g2)) < 1e-5


@needs_compiler
@pytest.mark.parametrize("volume_preserving, learned", [(False, False), (True, True)], ids=["glow", "learned"])
def test_glow_and_learned_statistics_compile_to_the_eager_step(data, volume_preserving, learned):
    """The other branches of the loss, float64, 10 Adam steps; the GLOW batch has a lone sample of class 4."""
    x = data.x[:999].double()
    u = data.u[:999].clone()
    u[u == 4] = 3
    u[0] = 4  # one sample of class 4: left out of the loss (and its log-det) and counted
    results = []
    for mode in ("eager", "fast"):
        model = GIN(artificial_gin(volume_preserving=volume_preserving, seed=0), 5, learned=learned).double()
        generator = torch.Generator().manual_seed(0)
        step = CompiledStep(model, 1e-2) if mode == "fast" else EagerStep(model, 1e-2)
        losses = [step(x, u, 0.01, generator) for _ in range(10)]
        results.append((losses, model, step))
    (eager_losses, eager_model, eager_step), (fast_losses, fast_model, fast_step) = results
    assert max(abs(a - b) for a, b in zip(eager_losses, fast_losses)) < 1e-8
    assert largest_difference(eager_model.flow, fast_model.flow) < 1e-8
    assert eager_step.n_excluded == fast_step.n_excluded == (0 if learned else 10)
    if learned:
        assert torch.allclose(eager_model.base.means, fast_model.base.means, atol=1e-8)
