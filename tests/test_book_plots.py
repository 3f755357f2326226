import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from gin_core.artificial import make_artificial_data
from gin_core.experiments import evaluate, split_data
from gin_core.metrics import latent_spectrum
from gin_core.networks import artificial_gin
from gin_core.plots import plot_experiment, plot_latent, plot_projection, plot_recovered, plot_spectrum, plot_trajectory


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return make_artificial_data(5, 3000, seed=0)


def test_scatter_panels_subsample_and_colour_by_label(data):
    ax = plot_latent(data.z, data.u, max_points=1000)
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (1000, 2)
    colours = ax.collections[0].get_facecolors()
    assert len(np.unique(colours.round(3), axis=0)) == 5  # one colour per cluster
    ax = plot_projection(data.x, data.u, max_points=None)
    assert ax.collections[0].get_offsets().shape == (3000, 2)


def test_recovered_is_aligned_to_truth(data):
    w = np.c_[np.zeros((3000, 1)) + np.arange(3000)[:, None] % 7, -3 * data.z[:, 1:2].numpy() + 1, 2 * data.z[:, :1].numpy()]
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
    ev = evaluate(artificial_gin(seed=0), train)
    axes = plot_experiment(train, ev)
    assert len(axes) == 4 and axes[3].get_yscale() == "log"
    ax = plot_trajectory([[{"epoch": 1, "mcc": 0.5}, {"epoch": 2, "mcc": 0.9}]], labels=["seed 0"])
    assert list(ax.get_lines()[0].get_ydata()) == [0.5, 0.9]


def test_correlation_heatmap_shows_a_split_variable(data):
    from gin_core.plots import plot_correlations

    z = data.z[:, :2].numpy()
    rng = np.random.default_rng(0)
    # z_2 split over two estimated variables: each holds it for half of the points
    half = np.arange(len(z)) % 2 == 0
    w = np.c_[z[:, 0], np.where(half, z[:, 1], 0) + 0.01 * rng.normal(size=len(z)), np.where(half, 0, z[:, 1]), rng.normal(size=(len(z), 2))]
    ax = plot_correlations(z, w, order=[0, 1, 2, 3, 4], n_show=3)
    corr = np.asarray(ax.images[0].get_array())
    assert corr.shape == (2, 3)
    assert corr[0, 0] > 0.999 and 0.3 < corr[1, 1] < 0.9 and 0.3 < corr[1, 2] < 0.9
    with pytest.raises(ValueError, match="permutation"):
        plot_correlations(z, w, order=[0, 0, 1, 2, 3])


def test_marginal_histogram_matches_mixture_density(data):
    from gin_core.plots import plot_marginal

    ax = plot_marginal(data, 1)
    density = ax.get_lines()[0].get_ydata()
    grid = ax.get_lines()[0].get_xdata()
    assert abs(np.trapezoid(density, grid) - 1) < 0.02  # the mixture density integrates to ~1 over the data range
    with pytest.raises(ValueError, match="informative"):
        plot_marginal(data, 2)
