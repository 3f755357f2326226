"""Cross-checks against FrEIA 0.2 (a test-time dependency), the library of the authors' code.

Conventions, checked below:

* **Which half moves first.** FrEIA's ``GINCouplingBlock`` / ``GLOWCouplingBlock`` first
  transform the *first* half ``x1`` with ``subnet2(x2)``, then ``x2`` with ``subnet1(y1)``.
  gin_core's :class:`~gin_core.couplings.AffineCoupling` first transforms the *second* half
  ``x2`` with ``subnet1(x1)``, then ``x1`` with ``subnet2(y2)``. With equal halves the two
  agree up to swapping the halves: ``freia(x) = swap(ours(swap(x)))`` when
  ``ours.subnet1 = freia.subnet2`` and ``ours.subnet2 = freia.subnet1``.
* **Permutation placement.** The authors put each random permutation *after* its coupling
  block, gin_core *before*; a sequence of permutations and blocks converts either way.
* **Soft clamp.** ``clamp_kind="tanh"`` is FrEIA's ``clamp_activation="TANH"`` (``c tanh(s)``).
  ``clamp_kind="atan"`` is ``0.636 c atan(s / c)``, FrEIA's clamp before 0.2 (the authors'
  code); FrEIA 0.2's default ``"ATAN"`` is ``0.636 c atan(s)``, so it is passed here as a
  custom ``clamp_activation``.
* **Downsampling.** gin_core's channel ``4c + 2i + j`` ordering is that of FrEIA's
  ``IRevNetDownsampling`` (default backend); the legacy backend orders channels differently.
"""

import copy

import FrEIA.framework as Ff
import FrEIA.modules as Fm
import pytest
import torch
from torch import nn

from gin_core import AffineCoupling, Downsample, Flatten, Permutation, artificial_gin, emnist_gin, mixing_network
from gin_core.couplings import soft_clamp
from gin_core.networks import conv_net, mlp

from conftest import randomize


def swap(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[1] // 2
    return torch.cat([x[:, half:], x[:, :half]], dim=1)


def freia_clamp(kind: str, clamp: float):
    if kind == "tanh":
        return "TANH"
    return lambda s: 0.636 * torch.atan(s / clamp)  # FrEIA multiplies by the clamp itself


def freia_block_args(ours: AffineCoupling):
    """FrEIA block class and arguments computing ``ours`` up to the half swap, with copied weights."""
    plain = [
        nn.Sequential(*copy.deepcopy(list(sub))) for sub in (ours.subnet2, ours.subnet1)
    ]  # FrEIA builds subnet1 first
    block_class = Fm.GINCouplingBlock if ours.volume_preserving else Fm.GLOWCouplingBlock
    kwargs = {
        "subnet_constructor": lambda c_in, c_out: plain.pop(0),
        "clamp": ours.clamp,
        "clamp_activation": freia_clamp(ours.clamp_kind, ours.clamp),
    }
    return block_class, kwargs


def freia_block(ours: AffineCoupling, dims):
    block_class, kwargs = freia_block_args(ours)
    return block_class([dims], **kwargs).to(next(ours.parameters()).dtype)


def identity(n: int) -> torch.Tensor:
    return torch.arange(n)


def swap_index(n: int) -> torch.Tensor:
    return torch.cat([torch.arange(n // 2, n), torch.arange(n // 2)])


def to_freia(net) -> Ff.SequenceINN:
    """Convert a gin_core network into a FrEIA SequenceINN computing the same function.

    Permutations are composed (``x[:, a][:, b] == x[:, a[b]]``) with the half swaps around
    each coupling block and inserted as FrEIA ``PermuteRandom`` layers with overwritten indices.
    """
    shape = net.input_shape
    seq = Ff.SequenceINN(*shape)
    pending = identity(shape[0])

    def flush():
        nonlocal pending
        if not torch.equal(pending, identity(len(pending))):
            seq.append(Fm.PermuteRandom, seed=0)
            module = seq.module_list[-1]
            module.perm.data = pending.clone()
            module.perm_inv.data = torch.argsort(pending)
        pending = identity(len(pending))

    for layer in net.layers:
        if isinstance(layer, Permutation):
            pending = pending[layer.perm]
        elif isinstance(layer, AffineCoupling):
            pending = pending[swap_index(shape[0])]
            flush()
            block_class, kwargs = freia_block_args(layer)
            seq.append(block_class, **kwargs)
            pending = swap_index(shape[0])
        elif isinstance(layer, Downsample):
            flush()
            seq.append(Fm.IRevNetDownsampling)
            shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            pending = identity(shape[0])
        elif isinstance(layer, Flatten):
            flush()
            seq.append(Fm.Flatten)
            shape = (shape[0] * shape[1] * shape[2],)
            pending = identity(shape[0])
        else:
            raise TypeError(type(layer))
    flush()
    return seq.to(next(net.parameters()).dtype)


# ---------------------------------------------------------------------------------------------
# Single blocks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fc", "conv"])
@pytest.mark.parametrize("volume_preserving", [True, False])
@pytest.mark.parametrize("clamp_kind", ["tanh", "atan"])
def test_coupling_block_matches_freia(kind, volume_preserving, clamp_kind):
    if kind == "fc":
        ours = AffineCoupling(8, lambda i, o: mlp(i, 12, o), volume_preserving, clamp_kind=clamp_kind)
        dims, x = (8,), torch.randn(16, 8, dtype=torch.float64)
    else:
        ours = AffineCoupling(4, lambda i, o: conv_net(i, 6, o), volume_preserving, clamp_kind=clamp_kind, conv=True)
        dims, x = (4, 5, 5), torch.randn(6, 4, 5, 5, dtype=torch.float64)
    ours = randomize(ours, std=0.4).double()
    theirs = freia_block(ours, dims)

    (y_theirs,), log_det_theirs = theirs([x])
    y_ours, log_det_ours = ours(swap(x))
    assert (y_ours - swap(x)).abs().max() > 0.1  # a non-trivial block
    assert torch.allclose(swap(y_ours), y_theirs, atol=1e-12, rtol=0)
    if volume_preserving:
        assert torch.equal(log_det_ours, torch.zeros(len(x), dtype=torch.float64)) and log_det_theirs == 0
    else:
        assert torch.allclose(log_det_ours, log_det_theirs, atol=1e-12)
    (x_theirs,), _ = theirs([y_theirs], rev=True)
    assert torch.allclose(swap(ours.inverse(swap(y_theirs))), x_theirs, atol=1e-12, rtol=0)


def test_freia_02_default_atan_clamp_differs_from_ours():
    """FrEIA 0.2's ``ATAN`` is 0.636 c atan(s); gin_core's ``atan`` divides s by c first (pre-0.2 FrEIA)."""
    s = torch.linspace(-3, 3, 61, dtype=torch.float64)
    ours = soft_clamp(s, 2.0, "atan")
    freia_default = 2.0 * 0.636 * torch.atan(s)
    assert torch.allclose(ours, 2.0 * freia_clamp("atan", 2.0)(s))
    assert (ours - freia_default).abs().max() > 0.3


def test_downsampling_matches_freia_default_backend_only():
    x = torch.randn(3, 2, 6, 4)
    ours, _ = Downsample()(x)
    (theirs,), _ = Fm.IRevNetDownsampling([(2, 6, 4)])([x])
    assert torch.equal(ours, theirs)
    (legacy,), _ = Fm.IRevNetDownsampling([(2, 6, 4)], legacy_backend=True)([x])
    assert not torch.equal(ours, legacy) and torch.equal(ours.sort(1).values, legacy.sort(1).values)
    (back,), _ = Fm.IRevNetDownsampling([(2, 6, 4)])([ours], rev=True)
    assert torch.equal(back, Downsample().inverse(ours))


def test_flatten_and_permutation_match_freia():
    x = torch.randn(3, 4, 2, 2)
    (theirs,), _ = Fm.Flatten([(4, 2, 2)])([x])
    assert torch.equal(Flatten((4, 2, 2))(x)[0], theirs)
    ours = Permutation(4, seed=2)
    module = Fm.PermuteRandom([(4, 2, 2)], seed=0)
    module.perm.data, module.perm_inv.data = ours.perm.clone(), ours.inv_perm.clone()
    assert torch.equal(ours(x)[0], module([x])[0][0])


# ---------------------------------------------------------------------------------------------
# Whole networks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("volume_preserving", [True, False])
def test_artificial_network_matches_freia(volume_preserving):
    net = randomize(artificial_gin(volume_preserving, seed=3), std=0.1).double()
    theirs = to_freia(net)
    x = torch.randn(32, 10, dtype=torch.float64) * 3
    w, log_det = net(x)
    w_theirs, log_det_theirs = theirs(x)
    assert torch.allclose(w, w_theirs, atol=1e-10, rtol=0)
    assert torch.allclose(log_det, torch.as_tensor(log_det_theirs, dtype=torch.float64).expand(32), atol=1e-10)
    x_theirs, _ = theirs(w, rev=True)
    assert torch.allclose(net.inverse(w), x_theirs, atol=1e-10, rtol=0)


def test_mixing_network_matches_freia_glow_with_the_old_atan_clamp():
    net = mixing_network(seed=0).double()
    theirs = to_freia(net)
    z = torch.randn(32, 10, dtype=torch.float64)
    x, log_det = net(z)
    x_theirs, log_det_theirs = theirs(z)
    assert torch.allclose(x, x_theirs, atol=1e-10, rtol=0)
    assert torch.allclose(log_det, log_det_theirs, atol=1e-10)


def test_emnist_network_matches_freia():
    net = randomize(emnist_gin(seed=0), std=0.03).double()
    theirs = to_freia(net)
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    w, _ = net(x)
    w_theirs, _ = theirs(x)
    assert w_theirs.shape == (2, 784)
    assert torch.allclose(w, w_theirs, atol=1e-10, rtol=0)
