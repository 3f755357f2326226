"""The chapter "GIN from scratch": the reader's own GIN computes what gin_core computes.

book/gin_from_scratch.ipynb writes a GIN block, a network of blocks, the loss and a training step
in plain PyTorch, and trains them. The chapter itself only uses its own code; whether that code is
the GIN the rest of the book trains with ``gin_core`` is checked here, on the same weights, in
float64: the block (fully connected and convolutional), the network of Table 2, the loss and one
Adam step. The definitions are taken from the notebook itself (its imports, functions and classes,
nothing else, so no training runs), so the tests follow the chapter's code as it is edited.

Also here: the grid computations of :mod:`gin_core.book.scratch` against areas known in closed
form, and that its figures draw.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import gin_core
from gin_core.book import scratch

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "gin_from_scratch.ipynb"
USED = ("mlp", "GINCoupling", "GINNetwork", "make_gin", "gin_loss", "training_step", "train_gin")


def chapter_definitions(path: Path = CHAPTER) -> dict:
    """The imports, functions and classes of the chapter's code cells before its exercises, executed."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict = {}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.lstrip().startswith("## Exercises"):
            break
        if cell["cell_type"] != "code":
            continue
        kept = [
            node
            for node in ast.parse(source).body
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef)
        ]
        exec(compile(ast.Module(body=kept, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def ch() -> dict:
    return chapter_definitions()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference, relative to the largest entry of the reference ``b``."""
    return ((a - b).abs().max() / b.abs().max()).item()


def from_gin_core(ch: dict, net) -> nn.Module:
    """The chapter's network with the permutations and the weights of a gin_core ``artificial_gin``."""
    blocks = [ch["GINCoupling"](10, lambda i, o: ch["mlp"](i, 10, o)) for _ in net.layers[1::2]]
    for mine, theirs in zip(blocks, net.layers[1::2]):
        mine.load_state_dict(theirs.state_dict())  # strict: every parameter name matches
    dtype = next(net.parameters()).dtype
    return ch["GINNetwork"](blocks, [perm.perm for perm in net.layers[0::2]]).to(dtype)


def test_the_chapter_defines_what_the_tests_use(ch):
    missing = [name for name in USED if name not in ch]
    assert not missing, f"book/gin_from_scratch.ipynb no longer defines {missing}"


def _block_pair(ch, kind: str):
    if kind == "fully connected":
        theirs = copy.deepcopy(gin_core.artificial_gin(seed=1, zero_init_last=False).layers[1])
        mine = ch["GINCoupling"](10, lambda i, o: ch["mlp"](i, 10, o))
        shape = (500, 10)
    else:
        torch.manual_seed(1)
        theirs = gin_core.AffineCoupling(
            8, subnet=lambda i, o: gin_core.networks.conv_net(i, 16, o), conv=True
        )  # PyTorch's default (random) initialisation
        mine = ch["GINCoupling"](8, lambda i, o: gin_core.networks.conv_net(i, 16, o))
        shape = (16, 8, 6, 6)
    mine.load_state_dict(theirs.state_dict())
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return mine.double(), theirs.double(), x


@pytest.mark.parametrize("kind", ["fully connected", "convolutional"])
def test_block_equals_gin_core_on_the_same_weights(ch, kind):
    mine, theirs, x = _block_pair(ch, kind)
    with torch.no_grad():
        y_theirs, log_det = theirs(x)
        assert rel_err(mine(x), y_theirs) < 1e-12
        assert rel_err(mine.inverse(y_theirs), theirs.inverse(y_theirs)) < 1e-12
        assert rel_err(mine.inverse(y_theirs), x) < 1e-10
    assert (log_det == 0).all() and rel_err(y_theirs, x) > 0.1  # a real transform, not the identity


def test_the_comparison_can_fail(ch):
    """Without the zero sum the reader's block is a different function: the comparison above would catch it."""

    class NoZeroSum(ch["GINCoupling"]):
        def scale_shift(self, subnet, h):
            s, t = subnet(h).chunk(2, dim=1)
            return self.clamp * torch.tanh(s), t

    _, theirs, x = _block_pair(ch, "fully connected")
    broken = NoZeroSum(10, lambda i, o: ch["mlp"](i, 10, o)).double()
    broken.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(broken(x), theirs(x)[0]) > 1e-3


def test_network_equals_artificial_gin(ch):
    reference = gin_core.artificial_gin(seed=1, zero_init_last=False).double()
    mine = from_gin_core(ch, reference)
    x = torch.randn(1000, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        w_theirs, log_det = reference(x)
        assert rel_err(mine(x), w_theirs) < 1e-12 and (log_det == 0).all()
        assert rel_err(mine.inverse(w_theirs), reference.inverse(w_theirs)) < 1e-10
        assert rel_err(mine.inverse(w_theirs), x) < 1e-10


def test_an_untrained_network_is_a_permutation(ch):
    net = ch["make_gin"](seed=0)
    x = torch.randn(64, 10, generator=torch.Generator().manual_seed(1))
    composed = torch.arange(10)
    for perm in net.perms:
        composed = composed[perm]
    with torch.no_grad():
        w = net(x)
    assert torch.equal(w, x[:, composed]) and not torch.equal(composed, torch.arange(10))


def test_loss_equals_nll_terms(ch):
    data = gin_core.make_artificial_data(n_clusters=5, n_points=1000, seed=0)
    with torch.no_grad():
        w = gin_core.artificial_gin(seed=1, zero_init_last=False).double()(data.x.double())[0]
    u_single = data.u.clone()
    u_single[u_single == 4] = 3
    u_single[0] = 4  # class 4 has one sample: both leave it out
    for u in (data.u, u_single):
        theirs, _ = gin_core.nll_terms(w, u, 5)
        assert abs(ch["gin_loss"](w, u, 5).item() - theirs.item()) < 1e-12


def test_one_training_step_equals_eager_step(ch, lr=1e-2, seed=7):
    data = gin_core.make_artificial_data(n_clusters=5, n_points=1000, seed=0)
    theirs = gin_core.artificial_gin(seed=1, zero_init_last=False).double()
    mine = from_gin_core(ch, theirs)
    x, u = data.x.double(), data.u
    initial = [q.detach().clone() for block in theirs.layers[1::2] for q in block.parameters()]
    step = gin_core.training.EagerStep(gin_core.GIN(theirs, 5), lr)  # fused Adam, the noise, the one loss
    loss_theirs = step(x, u, 0.01, torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(mine.parameters(), lr=lr)
    loss_mine = ch["training_step"](mine, optimizer, x, u, 5, torch.Generator().manual_seed(seed))
    pairs = [(p, q) for a, b in zip(mine.blocks, theirs.layers[1::2]) for p, q in zip(a.parameters(), b.parameters())]
    grad_err = max((p.grad - q.grad).abs().max().item() for p, q in pairs)
    param_err = max((p - q).abs().max().item() for p, q in pairs)
    moved = max((q - q0).abs().max().item() for (_, q), q0 in zip(pairs, initial))
    assert abs(loss_mine - loss_theirs) < 1e-12 and grad_err < 1e-12
    # Adam's first step moves a parameter by lr * g / (|g| + eps), eps = 1e-8: a map with slope at most
    # 1 / eps, so gradients that differ by grad_err move the parameters apart by at most lr * grad_err / eps.
    assert param_err <= lr * grad_err / 1e-8 + 1e-15 and moved > lr / 2


def test_train_gin_lowers_the_loss_and_reports_each_epoch(ch, capsys):
    data = gin_core.make_artificial_data(n_clusters=5, n_points=4000, seed=0)
    torch.set_num_threads(1)
    losses = ch["train_gin"](ch["make_gin"](seed=0), data.x, data.u, 5, n_epochs=3, drop_at=2, batch_size=500)
    printed = capsys.readouterr().out
    assert len(losses) == 3 and losses[-1] < losses[0] - 0.2
    assert [line.split(":")[0] for line in printed.splitlines()] == ["epoch  1/3", "epoch  2/3", "epoch  3/3"]
    assert "lr 1e-03" in printed.splitlines()[-1] and "lr 1e-02" in printed.splitlines()[0]


# ---------------------------------------------------------------------------------------------
# gin_core.book.scratch: the grid computations


def test_polygon_areas_of_known_shapes():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    triangle = np.array([[0, 0], [3, 0], [0, 1]], dtype=float)
    assert scratch.polygon_areas(square) == 4.0 and scratch.polygon_areas(triangle) == 1.5
    assert scratch.polygon_areas(square[::-1]) == -4.0  # clockwise: negative
    assert np.allclose(scratch.polygon_areas(np.stack([square, square + 5])), [4.0, 4.0])
    with pytest.raises(ValueError, match="shape"):
        scratch.polygon_areas(square[:2])


def test_cells_tile_the_square_and_a_linear_map_scales_them_by_its_determinant():
    cells = scratch.cell_outlines(-2, 2, 5, per_edge=3)
    assert cells.shape == (25, 12, 2)
    areas = scratch.polygon_areas(cells)
    assert np.allclose(areas, (4 / 5) ** 2) and np.isclose(areas.sum(), 16)
    A = np.array([[2.0, 0.5], [0.3, 1.5]])  # det 2.85
    assert np.allclose(scratch.polygon_areas(cells @ A.T) / areas, np.linalg.det(A))
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])  # det 1: areas kept
    assert np.allclose(scratch.polygon_areas(cells @ rotation.T), areas)


def test_grid_nodes_and_lines():
    nodes = scratch.square_grid(-1, 1, 3)
    assert nodes.shape == (9, 2) and np.allclose(nodes[0], [-1, -1]) and np.allclose(nodes[-1], [1, 1])
    lines = scratch.grid_lines(-1, 1, 4, n_points=10)
    assert lines.shape == (8, 10, 2)
    assert np.allclose(lines[0, :, 0], -1) and np.allclose(lines[4, :, 1], -1)  # a vertical, then a horizontal line
    for bad in (lambda: scratch.square_grid(1, -1, 3), lambda: scratch.grid_lines(0, 1, 1)):
        with pytest.raises(ValueError):
            bad()


def test_the_figures_draw():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    cells = scratch.cell_outlines(-1, 1, 3)
    square = scratch.cell_outlines(-1, 1, 1, per_edge=1)
    slices = [dict(x1=0.0, before=square, after=square * [2.0, 0.5], area=1.0)]
    fig = scratch.plot_coupling(
        rng.normal(size=(3, 5)), slices, cells, cells, np.ones(9), scratch.grid_lines(-1, 1, 4), title="t"
    )
    assert len(fig.axes) == 5  # four panels and the colour bar
    u = rng.integers(0, 5, 200)
    x2, z, w = rng.normal(size=(200, 2)), rng.normal(size=200), rng.normal(size=200)
    fig2 = scratch.plot_recovery(
        x2, ["a", "b"], u, [(z, w, "z_1"), (z, w, "z_2")], {"w": np.sort(rng.random(10))[::-1]}
    )
    assert len(fig2.axes) == 4
    fig3 = scratch.plot_samples(x2, u, x2, u, ["a", "b"])
    assert len(fig3.axes) == 2 and fig3.axes[1].get_title().startswith("(b)")
    plt.close("all")
