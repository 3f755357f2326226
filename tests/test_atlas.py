"""Tests of gin_core.atlas: PCA spectrum, knee criteria, sweeps, temperature samples, effect sizes, plots.

The sweeps are checked exactly (float64) on the Table 3 network at initialisation, which is a
fixed rearrangement of the pixels (its couplings start as the identity): decoding a code then
moves each latent variable to one known pixel.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from gin_core.atlas import (
    effect_sizes,
    knee,
    knee_prominence,
    knee_table,
    make_atlas,
    mosaic,
    pca_spectrum,
    plot_samples,
    plot_spectra,
    plot_sweeps,
    sweep,
    temperature_samples,
)
from gin_core.networks import emnist_gin


def knee_spectrum(k=22, d=784):
    """A synthetic spectrum: k informative variables decaying from 1 to 0.2, then a flat-ish noise plateau."""
    return np.concatenate([np.geomspace(1.0, 0.2, k), np.geomspace(0.02, 0.012, d - k)])


@pytest.fixture(scope="module")
def linear_atlas():
    net = emnist_gin(seed=0).double().eval()
    g = torch.Generator().manual_seed(0)
    u = torch.arange(400) % 10
    scales = torch.rand(784, generator=g, dtype=torch.float64) * 0.2 + 0.01
    w = 0.5 + scales * torch.randn(400, 784, generator=g, dtype=torch.float64) + 0.01 * u[:, None]
    return make_atlas(net, w, u, k=5), w, u


def pixel_of(atlas, variable):
    """The (row, col) pixel that the latent coordinate of ``variable`` decodes to."""
    w = torch.zeros(1, 784, dtype=torch.float64)
    w[0, atlas.latent_index(variable)] = 1.0
    x = atlas.net.inverse(w)[0, 0]
    (r, c), = torch.nonzero(x).tolist()
    return r, c


def test_initial_network_is_a_pixel_rearrangement(linear_atlas):
    atlas, _, _ = linear_atlas
    w = torch.randn(3, 784, dtype=torch.float64)
    x = atlas.net.inverse(w)
    assert torch.equal(torch.sort(x.flatten(1), 1).values, torch.sort(w, 1).values)


def test_pca_spectrum_matches_svd():
    g = np.random.default_rng(0)
    x = g.standard_normal((500, 6)) @ np.diag([3, 2, 1, 0.5, 0.2, 0.1]) @ np.linalg.qr(g.standard_normal((6, 6)))[0]
    expected = np.linalg.svd(x - x.mean(0), compute_uv=False) / np.sqrt(len(x) - 1)
    np.testing.assert_allclose(pca_spectrum(x), expected, rtol=1e-10)
    np.testing.assert_allclose(pca_spectrum(torch.from_numpy(x).reshape(500, 1, 2, 3)), expected, rtol=1e-10)
    u = np.arange(500) % 2
    shifted = x + 10.0 * u[:, None]  # class offsets: all of the spread between classes
    within = np.sqrt(np.linalg.eigvalsh(np.mean([np.cov(x[u == c], rowvar=False, bias=True) for c in (0, 1)], 0))[::-1])
    np.testing.assert_allclose(pca_spectrum(shifted, u), within, rtol=1e-10)
    assert pca_spectrum(shifted)[0] > 3 * pca_spectrum(shifted, u)[0]  # between-class spread 5 * sqrt(6)


@pytest.mark.parametrize("k", [5, 22, 60])
def test_knee_methods_find_a_clear_knee(k):
    std = knee_spectrum(k)
    assert knee(std, "two_lines") == k
    assert knee(std, "max_gap") == k
    assert knee(std, "plateau", factor=2.0) == k
    assert all(row["k"] == k for row in knee_table(std) if row["method"] != "two_lines" or k < 90)


def test_knee_prominence_separates_knee_from_smooth_decay():
    assert knee_prominence(np.geomspace(2.0, 0.01, 784), 50) == pytest.approx(1.0, rel=1e-9)
    assert knee_prominence(knee_spectrum(22), 22) > 100
    with pytest.raises(ValueError, match="min_k"):
        knee_prominence(knee_spectrum(22), 3)


def test_max_gap_min_k_skips_a_top_gap():
    std = knee_spectrum(22)
    std[0] = 50.0  # a huge first variable
    assert knee(std, "max_gap", min_k=1) == 1
    assert knee(std, "max_gap", min_k=5) == 22
    assert knee(std) == 22  # the stated default: plateau, twice the median
    assert knee(std, "two_lines") == 22


def test_knee_errors():
    with pytest.raises(ValueError, match="decreasing"):
        knee(np.array([1.0, 2.0, 0.5, 0.1]))
    with pytest.raises(ValueError, match="positive"):
        knee(np.array([1.0, 0.5, 0.1, 0.0]))
    with pytest.raises(ValueError, match="unknown knee method"):
        knee(knee_spectrum(), "elbow")
    with pytest.raises(ValueError, match="factor"):
        knee(knee_spectrum(), "plateau", factor=0.5)
    with pytest.raises(ValueError, match="at least four"):
        knee(np.array([1.0, 0.5]))


def test_make_atlas_statistics_and_order(linear_atlas):
    atlas, w, u = linear_atlas
    assert atlas.k == 5 and atlas.classes == tuple("0123456789")
    per_class_std = torch.stack([w[u == c].std(0, unbiased=False) for c in range(10)])
    rms = per_class_std.pow(2).mean(0).sqrt()
    assert atlas.latent_index(1) == int(torch.argmax(rms))
    np.testing.assert_allclose(atlas.stats.stds.numpy(), per_class_std.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="variable numbers run from 1"):
        atlas.latent_index(0)


def test_sweep_moves_one_pixel_by_the_class_std(linear_atlas):
    atlas, _, _ = linear_atlas
    images, heat, offsets = sweep(atlas, 3, steps=5)
    assert images.shape == (10, 5, 28, 28) and heat.shape == (10, 28, 28)
    np.testing.assert_allclose(offsets, [-2, -1, 0, 1, 2])
    r, c = pixel_of(atlas, 3)
    j = atlas.latent_index(3)
    stds = atlas.stats.stds[:, j].numpy()
    centre = images[:, 2]
    mean_images = atlas.net.inverse(atlas.stats.means)[:, 0].detach().numpy()
    np.testing.assert_allclose(centre, mean_images, atol=1e-12)
    for s, offset in enumerate(offsets):
        diff = images[:, s] - centre
        np.testing.assert_allclose(diff[:, r, c], offset * stds, atol=1e-12)
        diff[:, r, c] = 0
        assert np.abs(diff).max() < 1e-12
    np.testing.assert_allclose(heat[:, r, c], 2 * stds, atol=1e-12)
    heat[:, r, c] = 0
    assert heat.max() < 1e-12
    with pytest.raises(ValueError, match="odd"):
        sweep(atlas, 1, steps=4)


def test_effect_sizes(linear_atlas):
    atlas, _, _ = linear_atlas
    effects = effect_sizes(atlas, [1, 2, 700])
    for e, variable in zip(effects, [1, 2, 700]):
        j = atlas.latent_index(variable)
        assert e == pytest.approx((2 * atlas.stats.stds[:, j]).mean().item() / 784, rel=1e-10)
    assert effects[0] > effects[2]


def test_temperature_samples_share_the_code_across_classes(linear_atlas):
    atlas, _, _ = linear_atlas
    samples = temperature_samples(atlas, n_rows=4, temperature=0.8, seed=1)
    assert samples.shape == (4, 10, 28, 28)
    mean_images = atlas.net.inverse(atlas.stats.means)[:, 0].detach().numpy()
    changed = np.zeros((28, 28), dtype=bool)
    for variable in range(1, atlas.k + 1):
        r, c = pixel_of(atlas, variable)
        changed[r, c] = True
        j = atlas.latent_index(variable)
        z = (samples[:, :, r, c] - mean_images[None, :, r, c]) / (0.8 * atlas.stats.stds[:, j].numpy())
        np.testing.assert_allclose(z, z[:, :1].repeat(10, 1), atol=1e-9)  # one whitened code per row
        assert np.abs(z).max() > 0
    np.testing.assert_allclose(samples[:, :, ~changed], np.broadcast_to(mean_images[None][:, :, ~changed], samples[:, :, ~changed].shape), atol=1e-12)
    cold = temperature_samples(atlas, n_rows=2, temperature=0.0)
    np.testing.assert_allclose(cold, np.broadcast_to(mean_images, cold.shape), atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        temperature_samples(atlas, temperature=-1)


def test_mosaic_layout():
    images = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    m = mosaic(images, pad=1, value=-1)
    assert m.shape == (5, 8)
    np.testing.assert_array_equal(m[3:5, 6:8], images[1, 2])
    assert m[2, 0] == -1
    with pytest.raises(ValueError, match="rows, cols"):
        mosaic(np.zeros((3, 2, 2)))


def test_plots_build(linear_atlas):
    import matplotlib.pyplot as plt

    atlas, _, _ = linear_atlas
    fig = plot_sweeps(atlas, [1, 2, 6], steps=5, title="t", labels={1: "first"})
    assert len(fig.axes) == 6 and fig.axes[0].get_title(loc="left") == "variable 1: first"
    assert fig.axes[4].get_title(loc="left") == "variable 6 (after cut-off)"
    fig2 = plot_spectra(atlas.spectrum.std, np.geomspace(1, 0.01, 784), {"two lines": 5}, zoom=30)
    assert len(fig2.axes) == 3
    fig3 = plot_samples(temperature_samples(atlas, 2), atlas.classes, "T=1")
    assert len(fig3.axes) == 1
    with pytest.raises(ValueError, match="no variables"):
        plot_sweeps(atlas, [])
    plt.close("all")


def test_effect_sizes_per_class_and_plot(linear_atlas):
    import matplotlib.pyplot as plt

    from gin_core.atlas import plot_effects

    atlas, _, _ = linear_atlas
    per_class = effect_sizes(atlas, [1, 2, 3], per_class=True)
    assert per_class.shape == (3, 10)
    np.testing.assert_allclose(per_class.mean(1), effect_sizes(atlas, [1, 2, 3]), rtol=1e-12)
    j = atlas.latent_index(2)
    np.testing.assert_allclose(per_class[1], 2 * atlas.stats.stds[:, j].numpy() / 784, rtol=1e-10)
    fig = plot_effects(per_class, k=2)
    assert len(fig.axes) == 3  # curve, heatmap, colour bar
    with pytest.raises(ValueError, match="variables, classes"):
        plot_effects(per_class[0], k=2)
    plt.close("all")


def test_prepare_atlas_encodes_with_noise():
    from gin_core.atlas import prepare_atlas
    from gin_core.evaluate import encode_noisy

    net = emnist_gin(seed=0).double()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(60, 1, 28, 28, generator=g, dtype=torch.float64)
    u = torch.arange(60) % 10
    atlas = prepare_atlas(net, x, u, noise=0.01, seed=4)
    w, _ = encode_noisy(net, x, noise=0.01, seed=4)
    expected = make_atlas(net, w, u)
    np.testing.assert_allclose(atlas.spectrum.std, expected.spectrum.std, rtol=1e-12)
    assert atlas.k == knee(expected.spectrum)
    assert prepare_atlas(net, x, u, k=7).k == 7
