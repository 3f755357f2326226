"""Tests of the book's figures and the computations that feed them, topic by topic.

* the artificial experiments (gin_core.book.recovery): the PCA projection, the four panels' data,
  the correlation matrix and the marginal density, and the scatter panels, recovered latent,
  spectrum, the four-panel figure, trajectories, correlation heatmap, marginal histogram;
* the digits (gin_core.book.trained, gin_core.book.atlas): the loss curve, the image mosaic, the
  spectrum comparison, variable sweeps, effect sizes and temperature samples (on the Table 3 network
  at initialisation, a pixel rearrangement);
* the theory chapters (gin_core.book.theory_figures): generative model, rotation invariance, rank
  of L, unmixing, spectra;
* more conditions than classes (gin_core.book.conditions_figures): sub-label examples, the pair's
  spectra, the crossbar detector's verdicts.

Every figure function returns the Matplotlib Figure it drew on. Figures are drawn with the Agg
backend and closed after each test.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from gin_core import History
from gin_core.artificial import make_artificial_data
from gin_core.book.atlas import (
    effect_sizes,
    mosaic,
    plot_samples,
    plot_sweeps,
    sweep_panels,
    temperature_samples,
    variable_sweep,
)
from gin_core.book.conditions import crossbar
from gin_core.book.conditions_figures import (
    detect_crossed,
    plot_crossbar_examples,
    plot_pair_spectra,
    plot_sampled_sevens,
    plot_sublabel_examples,
)
from gin_core.book.recovery import (
    correlation_matrix,
    experiment_panels,
    marginal_density,
    pca_projection,
    plot_correlations,
    plot_experiment,
    plot_latent,
    plot_marginal,
    plot_projection,
    plot_recovered,
    plot_spectrum,
    plot_trajectory,
)
from gin_core.book.runs import evaluate_run, split_data
from gin_core.book.theory_figures import (
    plot_generative_model,
    plot_rank_of_L,
    plot_rotation_invariance,
    plot_theory_spectra,
    plot_unmixing,
)
from gin_core.book.trained import plot_effects, plot_loss_curve, plot_spectrum_comparison
from gin_core.metrics import align_to, latent_spectrum
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
    fig = plot_latent(data.z, data.u, max_points=1000)
    ax = fig.axes[0]
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (1000, 2)
    colours = ax.collections[0].get_facecolors()
    assert len(np.unique(colours.round(3), axis=0)) == 5  # one colour per cluster
    projection = pca_projection(data.x)
    fig = plot_projection(projection, data.u, max_points=None)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), projection)


def test_pca_projection_finds_the_data_plane():
    rng = np.random.default_rng(3)
    plane = rng.normal(size=(500, 2)) * [5.0, 2.0]
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0][:, :2]
    x = plane @ basis.T + 3.0 + 1e-6 * rng.normal(size=(500, 6))
    projection = pca_projection(x)
    assert projection.shape == (500, 2) and np.allclose(projection.mean(0), 0, atol=1e-9)
    centred = plane - plane.mean(0)
    rotation = np.linalg.lstsq(projection, centred, rcond=None)[0]  # the projection is the plane, rotated
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(2), atol=1e-6)
    np.testing.assert_allclose(projection @ rotation, centred, atol=1e-5)
    assert projection[:, 0].var() > projection[:, 1].var()  # the first component has the larger variance
    with pytest.raises(ValueError, match="two data dimensions"):
        pca_projection(x[:, :1])


def test_recovered_is_aligned_to_truth(data):
    w = np.c_[
        np.zeros((3000, 1)) + np.arange(3000)[:, None] % 7, -3 * data.z[:, 1:2].numpy() + 1, 2 * data.z[:, :1].numpy()
    ]
    aligned = align_to(data.z[:, :2], w)
    fig = plot_recovered(aligned, data.u, max_points=None)
    points = np.asarray(fig.axes[0].collections[0].get_offsets())
    assert np.allclose(points, data.z[:, :2].numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="two matched w"):
        plot_recovered(w, data.u)


def test_spectrum_black_model_gray_truth_log_scale(data):
    ax = plot_spectrum(latent_spectrum(data.z * 2, data.u), latent_spectrum(data.z, data.u)).axes[0]
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
        plot_experiment({}, axes=[None])
    with pytest.raises(ValueError, match="empty"):
        plot_trajectory([[]])
    with pytest.raises(KeyError, match="mcc"):
        plot_trajectory([[{"epoch": 1}]])


def test_experiment_figure_and_trajectory():
    train, _ = split_data(5, 1000, data_seed=0, n_val=0)
    ev = evaluate_run(artificial_gin(seed=0), train)
    panels = experiment_panels(train, ev)
    np.testing.assert_allclose(panels["z"], train.z[:, :2].numpy())
    np.testing.assert_allclose(panels["recovered"], align_to(train.z[:, :2], ev.w, ev.columns))
    np.testing.assert_allclose(panels["truth"].std, latent_spectrum(train.z, train.u).std)
    fig = plot_experiment(panels, max_points=None)
    axes = fig.axes
    assert len(axes) == 4 and axes[3].get_yscale() == "log"
    np.testing.assert_allclose(axes[1].collections[0].get_offsets(), pca_projection(train.x))
    np.testing.assert_allclose(axes[3].get_lines()[1].get_ydata(), ev.spectrum.std)
    ax = plot_trajectory([[{"epoch": 1, "mcc": 0.5}, {"epoch": 2, "mcc": 0.9}]], labels=["seed 0"]).axes[0]
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
    corr = correlation_matrix(z, w, order=[0, 1, 2, 3, 4], n_show=3)
    assert corr.shape == (2, 3)
    assert corr[0, 0] > 0.999 and 0.3 < corr[1, 1] < 0.9 and 0.3 < corr[1, 2] < 0.9
    np.testing.assert_allclose(correlation_matrix(z, w, order=[2, 1, 0, 3, 4])[:, 0], corr[:, 2])
    fig = plot_correlations(corr)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), corr)
    with pytest.raises(ValueError, match="permutation"):
        correlation_matrix(z, w, order=[0, 0, 1, 2, 3])


def test_marginal_histogram_matches_mixture_density(data):
    marginal = marginal_density(data, 1)
    density, grid = marginal["density"], marginal["grid"]
    assert abs(np.trapezoid(density, grid) - 1) < 0.02  # the mixture density integrates to ~1 over the data range
    counts, edges = np.histogram(marginal["values"], bins=40, density=True)  # and it is the data's density
    centres = (edges[1:] + edges[:-1]) / 2
    assert np.abs(np.interp(centres, grid, density) - counts).max() < 0.25 * counts.max()
    ax = plot_marginal(marginal).axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), density)
    with pytest.raises(ValueError, match="informative"):
        marginal_density(data, 2)


# --- digits: loss curve, spectra, atlas ------------------------------------------------------


def test_plot_loss_curve():
    ax = plot_loss_curve({"loss": [-1.0, -1.5, -1.7], "lr": [1e-3, 1e-3, 1e-4]}, title="t").axes[0]
    assert ax.get_title() == "t" and len(ax.figure.axes) == 2  # loss and learning-rate axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [-1.0, -1.5, -1.7])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])  # epochs count from 1
    twin = ax.figure.axes[1]
    assert twin.get_yscale() == "log"
    np.testing.assert_allclose(twin.lines[0].get_ydata(), [1e-3, 1e-3, 1e-4])
    history = History(loss=[0.5, 0.25], lr=[1e-2, 1e-2], seconds=[1.0, 1.0])
    assert len(plot_loss_curve(history.as_dict()).axes) == 2
    assert len(plot_loss_curve({"loss": [0.5, 0.25]}).axes) == 1  # no learning rates: no second axis
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
    panels = sweep_panels(atlas, [1, 2, 6], steps=5)
    assert panels["variables"] == [1, 2, 6] and panels["k"] == atlas.k and len(panels["sweeps"]) == 3
    fig = plot_sweeps(panels, title="t", labels={1: "first"})
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
        sweep_panels(atlas, [])


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


# --- more conditions than classes ------------------------------------------------------------


def _sevens(n: int = 12, seed: int = 0) -> np.ndarray:
    """Images of 28x28 with a vertical stroke; every other one with a horizontal bar across its middle."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, 28, 28))
    images[:, 0, 4:24, 14:16] = 1.0
    images[::2, 0, 13:15, 9:21] = 1.0
    return images + 0.05 * rng.random(images.shape)


def test_detect_crossed_runs_the_detector_once_on_what_is_drawn():
    images = _sevens(12) * 1.5  # above 1: the detector sees them clipped, as the figure shows them
    detected = detect_crossed({"a": images, "b": images[:4]}, n=10)
    shown, hits = detected["a"]
    assert shown.shape == (10, 28, 28) and shown.max() <= 1.0
    np.testing.assert_array_equal(hits, crossbar(np.clip(images[:10, 0], 0, 1)))
    assert len(detected["b"][1]) == 4
    fig = plot_sampled_sevens(detected, title="t")
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title() == f"a: {int(hits.sum())} of 10 shown called crossed"
    assert len(fig.axes[0].patches) == int(hits.sum())  # one red frame per crossed seven


def test_conditions_figures_draw_what_they_are_given():
    images = _sevens(12)
    hits = np.arange(12) % 3 == 0
    fig = plot_crossbar_examples(images, hits, n=40, title="t")
    assert fig.axes[0].get_title() == "detector: crossed (first 4)"
    assert fig.axes[1].get_title() == "detector: not crossed (first 8)"
    sub = np.repeat(np.arange(8), 3)  # classes 0 and 1, 4 sub-labels each, 3 images per sub-label
    fig = plot_sublabel_examples(_sevens(24)[:, 0], sub, per_class=4, classes=(0, 1), n=2)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["1.0", "1.1", "1.2", "1.3"]
    std = np.geomspace(3, 0.01, 50)
    result = {
        "labels": {"std": std, "k": 5},
        "sublabels": {"std": std * 2, "k": 7, "std_by_class": std, "k_by_class": 6},
    }
    fig = plot_pair_spectra(result, zoom=20)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), std * 2)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][0].endswith("k = 5")
