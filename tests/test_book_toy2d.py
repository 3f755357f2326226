"""Tests of gin_core.book.toy2d: the 2-D toy flow trained in snapshots, and the playground.

* the toy's mixing and the flow keep areas (autograd's determinant is 1 in float64), the flow's
  inverse undoes it, and it starts as the identity;
* training lowers the loss towards that of the true latent and raises the MCC above that of the raw
  data, with snapshots before and after training, and the trained flow still keeps areas;
* the playground trains, scores and draws a run in seconds, and finds the two informative variables.
"""

import matplotlib
import numpy as np
import pytest
import torch

import gin_core
from gin_core.book import toy2d

matplotlib.use("Agg")
pytestmark = pytest.mark.unit


def test_toy_data_is_seeded_and_its_mixing_keeps_areas():
    a, b = toy2d.make_toy2d(300, seed=3), toy2d.make_toy2d(300, seed=3)
    assert a.x.shape == (300, 2) and a.n_classes == 5 and torch.equal(a.x, b.x)
    assert not torch.equal(a.x, toy2d.make_toy2d(300, seed=4).x)
    z = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    dets = toy2d.jacobian_dets(toy2d.bend, z)
    assert np.abs(dets - 1).max() < 1e-12
    assert (toy2d.bend(z) - z).abs().max() > 0.5  # it does move the points
    with pytest.raises(ValueError):
        toy2d.make_toy2d(1)


def test_flow_is_invertible_volume_preserving_and_starts_as_identity():
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(1)) * 3
    assert torch.allclose(toy2d.make_toy2d_flow(seed=0)(x), x, atol=1e-5)  # the identity, up to float32 rotations
    flow = toy2d.make_toy2d_flow(n_blocks=3, seed=2, start_as_identity=False)
    with torch.no_grad():
        w = flow(x)
        assert (w - x).abs().max() > 0.1, "a random flow should move the points"
        assert (flow.inverse(w) - x).abs().max() < 1e-4
    dets = toy2d.jacobian_dets(flow, x[:8])
    assert np.abs(dets - 1).max() < 1e-12, dets


@pytest.fixture(scope="module")
def toy_run():
    return toy2d.train_toy2d(toy2d.make_toy2d(800, seed=0), n_steps=200, n_snapshots=5)


def test_training_lowers_the_loss_and_raises_the_mcc(toy_run):
    snaps = toy_run.snapshots
    assert [s.step for s in snaps][0] == 0 and snaps[-1].step == 200 and len(snaps) == 5
    assert all(a.step < b.step for a, b in zip(snaps, snaps[1:]))
    data = toy_run.data
    loss_z = gin_core.class_conditional_nll(data.z, data.u, data.n_classes).item()
    assert snaps[-1].loss < snaps[0].loss - 0.03, "the loss should fall"
    assert snaps[-1].loss < loss_z + 0.02, "and come close to the loss of the true latent"
    assert snaps[0].mcc == pytest.approx(toy_run.mcc_x, abs=1e-6)  # the flow starts as the identity
    assert snaps[-1].mcc > toy_run.mcc_x + 0.03
    assert snaps[0].grid.shape == snaps[-1].grid.shape and snaps[0].w.shape == (800, 2)


def test_trained_flow_still_keeps_areas_and_the_figure_has_a_panel_per_snapshot(toy_run):
    dets = toy2d.jacobian_dets(toy_run.flow, toy_run.data.x[:6])
    assert np.abs(dets - 1).max() < 1e-12
    fig = toy2d.plot_toy2d(toy_run, "test")
    assert sum(ax.axison for ax in fig.axes) == len(toy_run.snapshots)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_playground_finds_the_two_variables_and_draws_them():
    result = toy2d.playground_run(n_points=2000, n_val=1000, n_epochs=4)
    assert len(result.spectrum) == 10 and np.all(np.diff(result.spectrum) <= 0)
    assert result.n_informative == 2 and result.mcc > 0.9 and 0 <= result.mcc_x <= 1
    assert result.losses[-1] < result.losses[0]
    assert len(result.figure.axes) == 2 and result.settings["n_epochs"] == 4
    import matplotlib.pyplot as plt

    plt.close(result.figure)
    quiet = toy2d.playground_run(n_clusters=3, variances="shared", n_points=1000, n_val=500, n_epochs=1, figure=False)
    assert quiet.figure is None and quiet.settings["variances"] == "shared"
    with pytest.raises(ValueError):
        toy2d.playground_run(variances="equal", figure=False)


def test_the_chapters_playground_cell_trains_when_its_button_is_pressed(capsys):
    """The widget cell of book/artificial_exp1.ipynb (skipped by the book's build), run here with its button clicked."""
    import json
    from pathlib import Path

    import matplotlib.pyplot as plt

    notebook = json.loads((Path(__file__).resolve().parents[1] / "book" / "artificial_exp1.ipynb").read_text())
    (cell,) = [c for c in notebook["cells"] if c.get("id") == "exp1-playground"]
    assert "skip-execution" in cell["metadata"]["tags"]
    namespace = {"plt": plt, "playground_run": toy2d.playground_run}
    exec("".join(cell["source"]), namespace)
    namespace["clusters"].value = 3
    namespace["button"].click()
    printed = capsys.readouterr().out  # outside a kernel the Output widget lets the lines through
    assert "MCC " in printed and "variables above twice the median" in printed, printed
    assert not plt.get_fignums(), "the cell closes the figure it displays"
