"""Tests of gin_core.flows: invertibility, log-determinants, zero-sum log-scales, layouts, errors."""

import math

import pytest
import torch

from gin_core._checks import check_finite
from gin_core.couplings import AffineCoupling, soft_clamp
from gin_core.flows import DiagonalScaling, Downsample, Flatten, InvertibleSequential, Permutation, declares_volume
from gin_core.networks import conv_net, coupling_flow, mlp

from conftest import jacobian_logdet, randomize

KINDS = ["fc", "conv"]


def make_block(kind: str, volume_preserving: bool = True, clamp_kind: str = "tanh") -> AffineCoupling:
    if kind == "fc":
        return AffineCoupling(6, lambda c_in, c_out: mlp(c_in, 8, c_out), volume_preserving, clamp_kind=clamp_kind)
    return AffineCoupling(
        4, lambda c_in, c_out: conv_net(c_in, 5, c_out), volume_preserving, clamp_kind=clamp_kind, conv=True
    )


def make_input(kind: str, n: int, dtype=torch.float32, seed: int = 0, hw: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, 6) if kind == "fc" else (n, 4, hw, hw)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


# ---------------------------------------------------------------------------------------------
# Invertibility of every block
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("volume_preserving", [True, False])
@pytest.mark.parametrize("clamp_kind", ["tanh", "atan"])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_coupling_round_trip(kind, volume_preserving, clamp_kind, dtype, tol):
    block = randomize(make_block(kind, volume_preserving, clamp_kind), std=0.3).to(dtype)
    x = make_input(kind, 16, dtype)
    y, log_det = block(x)
    assert y.shape == x.shape and y.dtype == dtype and log_det.shape == (16,)
    assert (y - x).abs().max() > 0.1, "randomised weights must make the block non-trivial"
    assert (block.inverse(y) - x).abs().max() < tol
    x_again = block.inverse(y)
    assert (block(x_again)[0] - y).abs().max() < 10 * tol


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize(
    "layer, shape",
    [
        (Permutation(6, seed=3), (5, 6)),
        (Permutation(4, seed=3), (5, 4, 3, 3)),
        (Downsample(), (5, 3, 4, 6)),
        (Flatten((3, 2, 2)), (5, 3, 2, 2)),
    ],
    ids=["permutation-fc", "permutation-conv", "downsample", "flatten"],
)
def test_fixed_layers_round_trip_and_zero_log_det(layer, shape, dtype, tol):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    y, log_det = layer(x)
    assert torch.equal(log_det, torch.zeros(shape[0], dtype=dtype))
    assert (layer.inverse(y) - x).abs().max() < tol
    assert torch.equal(layer.inverse(y), x)  # pure rearrangements: exact


# ---------------------------------------------------------------------------------------------
# Log-determinants against autograd
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clamp_kind", ["tanh", "atan"])
def test_glow_block_log_det_matches_autograd(kind, clamp_kind):
    block = randomize(make_block(kind, volume_preserving=False, clamp_kind=clamp_kind), std=0.3).double()
    x = make_input(kind, 3, torch.float64, hw=3)
    y, log_det = block(x)
    reference = jacobian_logdet(lambda v: block(v)[0], x)
    assert reference.abs().min() > 0.05, "the block must change volume for this test to mean anything"
    assert torch.allclose(log_det, reference, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_gin_block_log_det_is_zero_and_autograd_agrees(kind):
    block = randomize(make_block(kind, volume_preserving=True), std=0.3).double()
    x = make_input(kind, 3, torch.float64, hw=3)
    _, log_det = block(x)
    assert torch.equal(log_det, torch.zeros(3, dtype=torch.float64))
    reference = jacobian_logdet(lambda v: block(v)[0], x)
    assert reference.abs().max() < 1e-10


SMALL_NET = [
    ("down", {}),
    ("conv", {"hidden": 4}),
    ("down", {}),
    ("conv", {"hidden": 4}),
    ("flatten", {}),
    ("fc", {"hidden": 8}),
]


@pytest.mark.parametrize("volume_preserving", [True, False])
def test_whole_small_network_log_det_matches_autograd(volume_preserving):
    net = randomize(coupling_flow(SMALL_NET, (1, 4, 4), volume_preserving=volume_preserving, seed=1), std=0.3).double()
    assert net.latent_shape == (16,)
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w, log_det = net(x)
    reference = jacobian_logdet(lambda v: net(v)[0], x)
    if volume_preserving:
        assert torch.equal(log_det, torch.zeros(3, dtype=torch.float64))
        assert reference.abs().max() < 1e-10
    else:
        assert reference.abs().min() > 0.05
        assert torch.allclose(log_det, reference, atol=1e-10, rtol=0)
    assert (net.inverse(w) - x).abs().max() < 1e-10


# ---------------------------------------------------------------------------------------------
# Zero-sum log-scales, soft clamp
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_gin_log_scales_sum_to_zero_per_sample(kind, dtype, tol):
    block = randomize(make_block(kind, volume_preserving=True), std=0.5).to(dtype)
    x = make_input(kind, 8, dtype)
    for s in block.log_scales(x):
        assert s.shape[:2] == (8, block.channels // 2)  # half of the features / channels
        assert s.abs().max() > 0.1, "non-trivial log-scales"
        assert s.flatten(1).sum(1).abs().max() < tol  # per sample
        if kind == "conv":  # per pixel, over channels (the authors' choice)
            assert s.sum(1).abs().max() < tol
        assert s.abs().max() <= 2 * block.clamp  # mean subtraction keeps |s| within twice the clamp


@pytest.mark.parametrize("kind", KINDS)
def test_glow_log_scales_do_not_sum_to_zero(kind):
    block = randomize(make_block(kind, volume_preserving=False), std=0.5).double()
    x = make_input(kind, 8, torch.float64)
    s1, s2 = block.log_scales(x)
    assert s1.flatten(1).sum(1).abs().min() > 1e-3
    _, log_det = block(x)
    assert torch.allclose(log_det, s1.flatten(1).sum(1) + s2.flatten(1).sum(1), atol=1e-12)


def test_soft_clamp_formulas_and_bounds():
    s = torch.linspace(-50, 50, 1001, dtype=torch.float64)
    tanh = soft_clamp(s, 2.0, "tanh")
    atan = soft_clamp(s, 2.0, "atan")
    assert torch.allclose(tanh, 2 * torch.tanh(s))
    assert torch.allclose(atan, 2 * 0.636 * torch.atan(s / 2))
    assert tanh.abs().max() <= 2 and atan.abs().max() <= 2
    assert soft_clamp(torch.tensor([5.0]), 2.0, "tanh").abs() < 2  # strictly inside for finite input
    assert atan.abs().max() < 2 * 0.636 * math.pi / 2 + 1e-12
    assert torch.allclose(
        soft_clamp(torch.tensor([1e-3], dtype=torch.float64), 2.0, "atan"),
        torch.tensor([0.636e-3], dtype=torch.float64),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="unknown soft clamp 'relu'"):
        soft_clamp(s, 2.0, "relu")


# ---------------------------------------------------------------------------------------------
# Layout conventions
# ---------------------------------------------------------------------------------------------


def test_downsample_channel_layout():
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)
    y, _ = Downsample()(x)
    assert y.shape == (1, 8, 2, 3)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                assert torch.equal(y[0, 4 * c + 2 * i + j], x[0, c, i::2, j::2])


def test_flatten_is_row_major():
    x = torch.randn(2, 3, 2, 2)
    y, _ = Flatten((3, 2, 2))(x)
    assert torch.equal(y, x.reshape(2, 12))


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 2, 2)])
def test_permutation_matches_fancy_indexing(shape):
    layer = Permutation(6, seed=11)
    assert sorted(layer.perm.tolist()) == list(range(6)) and layer.perm.tolist() != list(range(6))
    x = torch.randn(shape)
    y, _ = layer(x)
    assert torch.equal(y, x[:, layer.perm])
    assert torch.equal(layer.inverse(y), x)


def test_permutation_is_saved_in_state_dict_and_restored():
    a, b = Permutation(10, seed=1), Permutation(10, seed=2)
    assert not torch.equal(a.perm, b.perm)
    assert set(a.state_dict()) == {"perm", "inv_perm"}
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 10)
    assert torch.equal(a(x)[0], b(x)[0])


def test_permutation_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    Permutation(100, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("kind", KINDS)
def test_network_outputs_are_contiguous(kind):
    blocks = [("fc", {"hidden": 8})] * 2 if kind == "fc" else [("conv", {"hidden": 4})] * 2
    shape = (6,) if kind == "fc" else (4, 3, 3)
    net = randomize(coupling_flow(blocks, shape, seed=0))
    x = torch.randn(5, *shape)
    w, _ = net(x)
    assert w.is_contiguous() and net.inverse(w).is_contiguous()
    w.view(-1)  # works on the returned tensor


def test_check_finite_skip_still_checks_shape_and_emptiness():
    net = coupling_flow([("fc", {"hidden": 8})], (6,), seed=0)
    bad = torch.full((2, 6), float("nan"))
    w, _ = net(bad, check_finite=False)  # the caller promised finite values: no pass over the data
    assert torch.isnan(w).all()
    with pytest.raises(ValueError, match="NaN or infinite"):
        net(bad)
    with pytest.raises(ValueError, match=r"must have shape \(batch, 6\)"):
        net(torch.zeros(2, 5), check_finite=False)
    with pytest.raises(ValueError, match="empty batch"):
        net(torch.zeros(0, 6), check_finite=False)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [5, 7, 2, 0])
def test_gin_fc_block_rejects_odd_or_too_small_dimension(channels):
    with pytest.raises(
        ValueError, match=rf"fully connected GIN coupling block needs an even number of dimensions >= 4, got {channels}"
    ):
        AffineCoupling(channels, lambda c_in, c_out: mlp(c_in, 4, c_out))


def test_glow_block_accepts_two_dimensions_but_not_odd():
    AffineCoupling(2, lambda c_in, c_out: mlp(c_in, 4, c_out), volume_preserving=False)
    with pytest.raises(ValueError, match="GLOW-style coupling block needs an even number of dimensions >= 2, got 3"):
        AffineCoupling(3, lambda c_in, c_out: mlp(c_in, 4, c_out), volume_preserving=False)
    with pytest.raises(
        ValueError, match="convolutional GIN coupling block needs an even number of channels >= 4, got 3"
    ):
        AffineCoupling(3, lambda c_in, c_out: conv_net(c_in, 4, c_out), conv=True)


def test_unknown_clamp_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown soft clamp 'sigmoid'"):
        AffineCoupling(4, lambda c_in, c_out: mlp(c_in, 4, c_out), clamp_kind="sigmoid")


@pytest.mark.parametrize("kind", KINDS)
def test_block_rejects_wrong_shape(kind):
    block = make_block(kind)
    bad = torch.zeros(3, 8) if kind == "fc" else torch.zeros(3, 6, 2, 2)
    expected = r"\(batch, features\)" if kind == "fc" else r"\(batch, channels, height, width\)"
    with pytest.raises(ValueError, match=rf"coupling block expects a tensor of shape {expected}"):
        block(bad)
    with pytest.raises(ValueError, match="coupling block expects"):
        block.inverse(bad)
    with pytest.raises(ValueError, match="coupling block expects"):
        block(torch.zeros(6) if kind == "fc" else torch.zeros(3, 4, 2))  # wrong number of dimensions


def test_fixed_layers_reject_wrong_shape():
    with pytest.raises(ValueError, match="permutation expects 6 entries at dim 1"):
        Permutation(6, seed=0)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="inverse permutation expects 6 entries at dim 1"):
        Permutation(6, seed=0).inverse(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="downsampling expects .* even height and width"):
        Downsample()(torch.zeros(2, 1, 5, 4))
    with pytest.raises(ValueError, match="downsampling expects"):
        Downsample()(torch.zeros(2, 16))
    with pytest.raises(ValueError, match=r"inverse downsampling expects \(batch, 4\*channels, h, w\)"):
        Downsample().inverse(torch.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"flatten expects per-sample shape \(3, 2, 2\)"):
        Flatten((3, 2, 2))(torch.zeros(2, 3, 2, 3))
    with pytest.raises(ValueError, match=r"inverse flatten expects \(batch, 12\)"):
        Flatten((3, 2, 2)).inverse(torch.zeros(2, 13))


@pytest.fixture
def small_net():
    return randomize(coupling_flow([("fc", {"hidden": 8})] * 2, (6,), seed=0))


@pytest.mark.parametrize("method", ["forward", "inverse"])
def test_network_rejects_bad_input(small_net, method):
    call = small_net if method == "forward" else small_net.inverse
    name = "x" if method == "forward" else "w"
    with pytest.raises(ValueError, match=rf"{name} must have shape \(batch, 6\), got \(6,\)"):
        call(torch.zeros(6))  # missing batch dimension
    with pytest.raises(ValueError, match=rf"{name} must have shape \(batch, 6\), got \(2, 7\)"):
        call(torch.zeros(2, 7))
    with pytest.raises(ValueError, match=rf"{name} contains 1 NaN or infinite values"):
        call(torch.tensor([[0.0, 1, 2, float("nan"), 4, 5]]))
    with pytest.raises(ValueError, match=rf"{name} contains 2 NaN or infinite values"):
        call(torch.tensor([[float("inf"), 1, 2, 3, 4, float("-inf")]]))
    with pytest.raises(ValueError, match=rf"{name} is an empty batch"):
        call(torch.zeros(0, 6))
    with pytest.raises(TypeError, match=rf"{name} must be a floating point tensor, got dtype torch.int64"):
        call(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(TypeError, match=rf"{name} must be a torch.Tensor, got list"):
        call([[0.0] * 6])


def test_check_finite_messages():
    check_finite(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="data contains 1 NaN or infinite values; expected finite numbers"):
        check_finite(torch.tensor([[1.0, math.inf]]), "data")
    with pytest.raises(ValueError, match=r"data is an empty batch \(shape \(0, 2\)\)"):
        check_finite(torch.zeros(0, 2), "data")


def test_invertible_sequential_volume_preserving_flag():
    assert coupling_flow([("fc", {"hidden": 4})], (4,), volume_preserving=True).volume_preserving
    assert not coupling_flow([("fc", {"hidden": 4})], (4,), volume_preserving=False).volume_preserving
    assert InvertibleSequential([Permutation(4, 0), Downsample()], (4, 2, 2), (16, 1, 1)).volume_preserving


def test_diagonal_scaling_is_exact_and_reports_its_volume():
    log_scale = torch.tensor([0.5, -1.0, 2.0, -1.5], dtype=torch.float64)
    layer = DiagonalScaling(log_scale)
    x = torch.randn(7, 4, dtype=torch.float64)
    y, log_det = layer(x)
    assert torch.equal(y, x * log_scale.exp())
    assert torch.allclose(log_det, torch.zeros(7, dtype=torch.float64), atol=1e-15) and layer.volume_preserving
    assert torch.allclose(layer.inverse(y), x, atol=1e-15)
    stretch = DiagonalScaling(torch.tensor([0.3, 0.0]))
    assert not stretch.volume_preserving and torch.allclose(stretch(torch.ones(2, 2))[1], torch.tensor([0.3, 0.3]))
    assert "log_scale" in layer.state_dict() and not list(layer.parameters())  # fixed, not trained
    with pytest.raises(ValueError, match=r"expected shape \(batch, 4\)"):
        layer(torch.randn(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="1-d floating"):
        DiagonalScaling(torch.zeros(2, 2))


class _Undeclared(torch.nn.Module):
    """A transform that does not say whether it preserves volume (it does not: it doubles x)."""

    def forward(self, x):
        return 2 * x, x.new_full((x.shape[0],), x.shape[1] * math.log(2))

    def inverse(self, y):
        return y / 2


def test_a_layer_without_a_volume_declaration_is_rejected():
    assert not declares_volume(_Undeclared())
    with pytest.raises(TypeError, match=r"layers 1 \(_Undeclared\) do not declare volume_preserving"):
        InvertibleSequential([Permutation(4, 0), _Undeclared()], (4,))
    declared = _Undeclared()
    declared.volume_preserving = False
    net = InvertibleSequential([Permutation(4, 0), declared], (4,))
    assert not net.volume_preserving  # its log-det is then counted by the loss
    _, log_det = net(torch.ones(3, 4))
    assert torch.allclose(log_det, torch.full((3,), 4 * math.log(2)))
