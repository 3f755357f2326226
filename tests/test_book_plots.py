"""Tests of gin_core.book.plots, every figure of the book.

* the artificial experiments: scatter panels, recovered latent, spectrum, the four-panel figure,
  trajectories, correlation heatmap, marginal histogram;
* the digits: the loss curve, the image mosaic, the spectrum comparison, variable sweeps, effect
  sizes and temperature samples (on the Table 3 network at initialisation, a pixel rearrangement);
* the theory chapter: generative model, rotation invariance, rank of L, unmixing, spectra.

Figures are drawn with the Agg backend and closed after each test.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from gin_core import History
from gin_core.artificial import make_artificial_data
from gin_core.book.atlas import effect_sizes, temperature_samples, variable_sweep
from gin_core.book.experiments import evaluate_run, split_data
from gin_core.book.plots import (
    mosaic,
    plot_correlations,
    plot_effects,
    plot_experiment,
    plot_generative_model,
    plot_latent,
    plot_loss_curve,
    plot_marginal,
    plot_projection,
    plot_rank_of_L,
    plot_recovered,
    plot_rotation_invariance,
    plot_samples,
    plot_spectrum,
    plot_spectrum_comparison,
    plot_sweeps,
    plot_theory_spectra,
    plot_trajectory,
    plot_unmixing,
)
from gin_core.metrics import latent_spectrum
from gin_core.networks import artificial_gin

from conftest import linear_atlas


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(5, 3000, seed=0)


@pytest.fixture(scope="module")
def atlas():
    """An atlas of the Table 3 network at initialisation, with 5 informative variables."""
    return linear_atlas()[0]


# --- artificial experiments ------------------------------------------------------------------


def test_scatter_panels_subsample_and_colour_by_label(data):
    ax = plot_latent(data.z, data.u, max_points=1000)
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (1000, 2)
    colours = ax.collections[0].get_facecolors()
    assert len(np.unique(colours.round(3), axis=0)) == 5  # one colour per cluster
    ax = plot_projection(data.x, data.u, max_points=None)
    assert ax.collections[0].get_offsets().shape == (3000, 2)


def test_recovered_is_aligned_to_truth(data):
    w = np.c_[
        np.zeros((3000, 1)) + np.arange(3000)[:, None] % 7, -3 * data.z[:, 1:2].numpy() + 1, 2 * data.z[:, :1].numpy()
    ]
    ax = plot_recovered(data.z, w, data.u, max_points=None)
    points = np.asarray(ax.collections[0].get_offsets())
    assert np.allclose(points, data.z[:, :2].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="two w variables"):
        plot_recovered(data.z, w, data.u, columns=[0])


def test_spectrum_black_model_gray_truth_log_scale(data):
    ax = plot_spectrum(latent_spectrum(data.z * 2, data.u), latent_spectrum(data.z, data.u))
    assert ax.get_yscale() == "log"
    truth_line, model_line = ax.get_lines()
    assert model_line.get_color() == "black" and truth_line.get_color() == "0.6"
    assert np.allclose(model_line.get_ydata(), 2 * truth_line.get_ydata())
    with pytest.raises(ValueError, match="positive"):
        plot_spectrum(np.array([1.0, 0.0]))


def test_bad_inputs_raise_clear_errors(data):
    with pytest.raises(ValueError, match="labels"):
        plot_latent(data.z, data.u[:10])
    with pytest.raises(ValueError, match="at least two"):
        plot_latent(data.z[:, :1], data.u)
    with pytest.raises(ValueError, match="four axes"):
        plot_experiment(data, None, axes=[None])
    with pytest.raises(ValueError, match="empty"):
        plot_trajectory([[]])
    with pytest.raises(KeyError, match="mcc"):
        plot_trajectory([[{"epoch": 1}]])


def test_experiment_figure_and_trajectory():
    train, _ = split_data(5, 1000, data_seed=0, n_val=0)
    ev = evaluate_run(artificial_gin(seed=0), train)
    axes = plot_experiment(train, ev)
    assert len(axes) == 4 and axes[3].get_yscale() == "log"
    ax = plot_trajectory([[{"epoch": 1, "mcc": 0.5}, {"epoch": 2, "mcc": 0.9}]], labels=["seed 0"])
    assert list(ax.get_lines()[0].get_ydata()) == [0.5, 0.9]


def test_correlation_heatmap_shows_a_split_variable(data):
    z = data.z[:, :2].numpy()
    rng = np.random.default_rng(0)
    # z_2 split over two estimated variables: each holds it for half of the points
    half = np.arange(len(z)) % 2 == 0
    w = np.c_[
        z[:, 0],
        np.where(half, z[:, 1], 0) + 0.01 * rng.normal(size=len(z)),
        np.where(half, 0, z[:, 1]),
        rng.normal(size=(len(z), 2)),
    ]
    ax = plot_correlations(z, w, order=[0, 1, 2, 3, 4], n_show=3)
    corr = np.asarray(ax.images[0].get_array())
    assert corr.shape == (2, 3)
    assert corr[0, 0] > 0.999 and 0.3 < corr[1, 1] < 0.9 and 0.3 < corr[1, 2] < 0.9
    with pytest.raises(ValueError, match="permutation"):
        plot_correlations(z, w, order=[0, 0, 1, 2, 3])


def test_marginal_histogram_matches_mixture_density(data):
    ax = plot_marginal(data, 1)
    density = ax.get_lines()[0].get_ydata()
    grid = ax.get_lines()[0].get_xdata()
    assert abs(np.trapezoid(density, grid) - 1) < 0.02  # the mixture density integrates to ~1 over the data range
    with pytest.raises(ValueError, match="informative"):
        plot_marginal(data, 2)


# --- digits: loss curve, spectra, atlas ------------------------------------------------------


def test_plot_loss_curve():
    ax = plot_loss_curve({"loss": [-1.0, -1.5, -1.7], "lr": [1e-3, 1e-3, 1e-4]}, title="t")
    assert ax.get_title() == "t" and len(ax.figure.axes) == 2  # loss and learning-rate axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [-1.0, -1.5, -1.7])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])  # epochs count from 1
    twin = ax.figure.axes[1]
    assert twin.get_yscale() == "log"
    np.testing.assert_allclose(twin.lines[0].get_ydata(), [1e-3, 1e-3, 1e-4])
    history = History(loss=[0.5, 0.25], lr=[1e-2, 1e-2], seconds=[1.0, 1.0])
    ax = plot_loss_curve(history.as_dict())
    assert len(ax.figure.axes) == 2
    ax = plot_loss_curve({"loss": [0.5, 0.25]})  # no learning rates: no second axis
    assert len(ax.figure.axes) == 1
    with pytest.raises(ValueError, match="no epochs"):
        plot_loss_curve({"loss": []})


def test_mosaic_layout():
    images = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    m = mosaic(images, pad=1, value=-1)  # torchvision's make_grid: padding between and around the tiles
    assert m.shape == (7, 10)
    np.testing.assert_array_equal(m[1:3, 1:3], images[0, 0])
    np.testing.assert_array_equal(m[4:6, 7:9], images[1, 2])
    assert m[0, 0] == -1 and m[3, 1] == -1 and m[1, 3] == -1
    with pytest.raises(ValueError, match="rows, cols"):
        mosaic(np.zeros((3, 2, 2)))


def test_spectrum_comparison_panels_and_cut_offs(atlas):
    fig = plot_spectrum_comparison(
        atlas.spectrum.std, np.geomspace(1, 0.01, 784), {"two lines": 5, "gap": 7}, zoom=30, title="T"
    )
    assert len(fig.axes) == 3
    assert fig.axes[1].get_title() == "GIN: first 30 variables"
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), atlas.spectrum.std[:30])
    assert [text.get_text() for text in fig.axes[1].get_legend().get_texts()] == ["two lines: 5", "gap: 7"]
    assert fig.axes[0].lines[1].get_xdata()[0] == 5.5  # a cut after variable k
    assert len(plot_spectrum_comparison(atlas.spectrum.std).axes) == 2  # no PCA panel


def test_plot_sweeps_and_samples(atlas):
    fig = plot_sweeps(atlas, [1, 2, 6], steps=5, title="t", labels={1: "first"})
    assert len(fig.axes) == 6 and fig.axes[0].get_title(loc="left") == "variable 1: first"
    assert fig.axes[2].get_title(loc="left") == "variable 2"
    assert fig.axes[4].get_title(loc="left") == "variable 6 (after cut-off)"
    images, heat, _ = variable_sweep(atlas, 1, steps=5)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), mosaic(np.clip(images, 0, 1)))
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), mosaic(heat[:, None], value=0.0))
    samples = temperature_samples(atlas, 2)
    fig3 = plot_samples(samples, atlas.classes, "T=1")
    assert len(fig3.axes) == 1 and fig3.axes[0].get_title() == "T=1"
    assert [t.get_text() for t in fig3.axes[0].get_xticklabels()] == list(atlas.classes)
    with pytest.raises(ValueError, match="no variables"):
        plot_sweeps(atlas, [])


def test_plot_effects(atlas):
    per_class = effect_sizes(atlas, [1, 2, 3], per_class=True)
    fig = plot_effects(per_class, k=2)
    assert len(fig.axes) == 3  # curve, heatmap, colour bar
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), per_class.mean(1))
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), per_class)
    with pytest.raises(ValueError, match="variables, classes"):
        plot_effects(per_class[0], k=2)


# --- theory chapter --------------------------------------------------------------------------


def test_theory_plots_return_figures():
    rng = np.random.default_rng(8)
    z, x, u = rng.normal(size=(50, 10)), rng.normal(size=(50, 10)), rng.integers(0, 3, 50)
    figures = [
        (plot_generative_model(z, x, u), 2),
        (plot_rotation_invariance(z, z, z, z, u), 4),
        (plot_rank_of_L({(2, 2): [1, 2, 3]}, [2, 3, 4]), 1),
        (plot_unmixing({"a": np.eye(2, 4), "b": np.ones((2, 4))}), 4),  # two maps and two colour bars
        (plot_theory_spectra({"s": np.array([3.0, 1.0, 0.1])}), 1),
    ]
    for fig, n_axes in figures:
        assert len(fig.axes) == n_axes


def test_theory_plots_show_their_data():
    rng = np.random.default_rng(9)
    z, x, u = rng.normal(size=(40, 10)), rng.normal(size=(40, 10)), rng.integers(0, 3, 40)
    fig = plot_generative_model(z, x, u)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), z[:, :2])
    np.testing.assert_allclose(fig.axes[1].collections[0].get_offsets(), x[:, :2])
    fig = plot_theory_spectra({"a": np.array([3.0, 1.0, 0.1]), "b": np.array([2.0, 0.5])})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and [line.get_label() for line in ax.lines] == ["a", "b"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [2.0, 0.5])
    fig = plot_unmixing({"A1": np.array([[0.0, -2.0], [0.5, 0.0]])})
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.0, 2.0], [0.5, 0.0]])  # |A1|
    fig = plot_rank_of_L({(1, 2): [1, 2, 2]}, [2, 3, 4])
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1, 2, 2])
