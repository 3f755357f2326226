"""Tests of gin_core.book.atlas (PCA spectrum, knee table, atlas, variable sweeps, temperature
samples, effect sizes, prepare_atlas, the slider's decode_moved and slider_strip) and of the knee rules it relies on,
gin_core.metrics.count_informative and knee_prominence, with the arguments the book uses.

The sweeps are checked exactly (float64) on the Table 3 network at initialisation, which is a
fixed rearrangement of the pixels (its couplings start as the identity): decoding a code then
moves each latent variable to one known pixel.

The atlas figures are tested in test_book_plots.py, with every other figure.
"""

import numpy as np
import pytest
import torch

from gin_core.book.atlas import (
    DEFAULT_KNEE,
    TABLE_WRITTEN_FOR,
    Atlas,
    decode_moved,
    effect_sizes,
    knee_table,
    make_atlas,
    pca_spectrum,
    prepare_atlas,
    slider_strip,
    temperature_samples,
    variable_sweep,
)
from gin_core.distributions import ClassConditionalGaussian
from gin_core.flows import encode
from gin_core.metrics import count_informative, knee_prominence, latent_spectrum
from gin_core.networks import emnist_gin

from conftest import linear_atlas

# The knee rules the book used before they moved to count_informative (the old atlas.knee defaults).
TWO_LINES = dict(method="two_lines", max_k=200)
MAX_GAP = dict(method="max_gap", min_k=5, max_k=200)
PLATEAU = dict(method="plateau", factor=2.0)


def knee_spectrum(k=22, d=784):
    """A synthetic spectrum: k informative variables decaying from 1 to 0.2, then a flat-ish noise plateau."""
    return np.concatenate([np.geomspace(1.0, 0.2, k), np.geomspace(0.02, 0.012, d - k)])


@pytest.fixture(scope="module", name="linear_atlas")
def linear_atlas_fixture():
    return linear_atlas()


def pixel_of(atlas, variable):
    """The (row, col) pixel that the latent coordinate of ``variable`` decodes to."""
    w = torch.zeros(1, 784, dtype=torch.float64)
    w[0, atlas.latent_index(variable)] = 1.0
    x = atlas.net.inverse(w)[0, 0]
    ((r, c),) = torch.nonzero(x).tolist()
    return r, c


def mean_images(atlas):
    """The decoded class means, ``(C, 28, 28)``."""
    return atlas.net.inverse(atlas.prior.means)[:, 0].detach().numpy()


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
    with pytest.raises(ValueError, match="499 labels but x has 500"):
        pca_spectrum(x, u[:-1])


# --- knee rules: gin_core.metrics.count_informative with the book's settings --------------------


@pytest.mark.parametrize("k", [5, 22, 60])
def test_knee_rules_find_a_clear_knee(k):
    std = knee_spectrum(k)
    assert count_informative(std, **TWO_LINES) == k
    assert count_informative(std, **MAX_GAP) == k
    assert count_informative(std, **PLATEAU) == k
    assert count_informative(std, DEFAULT_KNEE[0], **DEFAULT_KNEE[1]) == k
    rows = knee_table(std)
    assert len(rows) == 8 and all(row["k"] == k for row in rows)


def test_default_knee_is_the_stated_plateau_rule():
    assert DEFAULT_KNEE == ("plateau", {"factor": 2.0})
    # a noise floor at 0.01 and variables at 3.5, 2.5 and 1.8 times it: factors 1.5, 2 and 3 disagree
    std = np.concatenate([[1.0, 0.5, 0.035, 0.025, 0.018], np.geomspace(0.0101, 0.0099, 100)])
    assert [count_informative(std, "plateau", factor=f) for f in (1.5, 2.0, 3.0)] == [5, 4, 3]
    assert count_informative(std, DEFAULT_KNEE[0], **DEFAULT_KNEE[1]) == 4


def test_knee_table_rows_and_settings():
    std = knee_spectrum(22)
    std[0] = 50.0  # a huge first variable: max_gap from variable 1 stops after it
    rows = knee_table(std)
    assert [(row["method"], row["setting"]) for row in rows] == [
        ("two_lines", "max_k=100"),
        ("two_lines", "max_k=200"),
        ("two_lines", "max_k=400"),
        ("max_gap", "min_k=1, max_k=200"),
        ("max_gap", "min_k=5, max_k=200"),
        ("plateau", "factor=1.5"),
        ("plateau", "factor=2.0"),
        ("plateau", "factor=3.0"),
    ]
    assert [row["k"] for row in rows] == [22, 22, 22, 1, 22, 22, 22, 22]
    custom = knee_table(std, [("threshold", {"threshold": 0.1}), ("max_gap", {"max_k": 10})])
    assert custom == [
        {"method": "threshold", "setting": "threshold=0.1", "k": 22},
        {"method": "max_gap", "setting": "max_k=10", "k": 1},
    ]


def test_knee_prominence_separates_knee_from_smooth_decay():
    assert knee_prominence(np.geomspace(2.0, 0.01, 784), 50) == pytest.approx(1.0, rel=1e-9)
    assert knee_prominence(knee_spectrum(22), 22) > 100
    assert knee_prominence(knee_spectrum(22), 22) > 20 * knee_prominence(
        knee_spectrum(22), 10
    )  # the knee's drop stands out
    with pytest.raises(ValueError, match="min_k"):
        knee_prominence(knee_spectrum(22), 3)


def test_max_gap_min_k_skips_a_top_gap():
    std = knee_spectrum(22)
    std[0] = 50.0  # a huge first variable
    assert count_informative(std, "max_gap", min_k=1, max_k=200) == 1
    assert count_informative(std, **MAX_GAP) == 22
    assert count_informative(std, **PLATEAU) == 22  # the stated default: plateau, twice the median
    assert count_informative(std, **TWO_LINES) == 22


def test_max_k_is_the_number_of_leading_variables_considered():
    std = knee_spectrum(22)
    assert count_informative(std, "max_gap", min_k=5, max_k=23) == 22  # the gap after variable 22 is inside
    assert count_informative(std, "max_gap", min_k=5, max_k=22) < 22  # ... and now outside
    assert count_informative(std, "two_lines", max_k=23) <= 22
    assert count_informative(std, "threshold", threshold=0.1) == 22


def test_knee_errors():
    with pytest.raises(ValueError, match="decreasing"):
        count_informative(np.array([1.0, 2.0, 0.5, 0.1]), **PLATEAU)
    with pytest.raises(ValueError, match="positive"):
        count_informative(np.array([1.0, 0.5, 0.1, 0.0]), **MAX_GAP)
    with pytest.raises(ValueError, match="unknown knee method 'elbow'"):
        count_informative(knee_spectrum(), "elbow")
    with pytest.raises(ValueError, match="factor"):
        count_informative(knee_spectrum(), "plateau", factor=0.5)
    with pytest.raises(ValueError, match="at least four"):
        count_informative(np.array([1.0, 0.5]), **TWO_LINES)
    with pytest.raises(ValueError, match="at least four"):
        count_informative(knee_spectrum(), "two_lines", max_k=3)
    with pytest.raises(ValueError, match="min_k"):
        count_informative(knee_spectrum(), "max_gap", min_k=5, max_k=5)
    with pytest.raises(ValueError, match="needs a threshold"):
        count_informative(knee_spectrum(), "threshold")


# --- the atlas -----------------------------------------------------------------------------


def test_make_atlas_statistics_and_order(linear_atlas):
    atlas, w, u = linear_atlas
    assert isinstance(atlas, Atlas) and isinstance(atlas.prior, ClassConditionalGaussian)
    assert atlas.k == 5 and atlas.classes == tuple("0123456789")
    assert atlas.prior.means.dtype == torch.float64 and atlas.prior.means.shape == (10, 784)
    per_class_mean = torch.stack([w[u == c].mean(0) for c in range(10)])
    per_class_std = torch.stack([w[u == c].std(0, unbiased=False) for c in range(10)])
    rms = per_class_std.pow(2).mean(0).sqrt()
    assert atlas.latent_index(1) == int(torch.argmax(rms))
    np.testing.assert_allclose(atlas.prior.means.numpy(), per_class_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(atlas.prior.stds.numpy(), per_class_std.numpy(), rtol=1e-12)
    np.testing.assert_allclose(atlas.spectrum.std, latent_spectrum(w, u).std, rtol=1e-12)
    with pytest.raises(ValueError, match="variable numbers run from 1"):
        atlas.latent_index(0)
    with pytest.raises(ValueError, match="variable numbers run from 1 to 784"):
        atlas.latent_index(785)


def test_make_atlas_default_k_uses_the_knee_rule():
    net = emnist_gin(seed=0).double()
    u = torch.arange(200) % 10
    scales = torch.cat([torch.full((7,), 1.0), torch.full((777,), 0.01)]).double()
    w = scales * torch.randn(200, 784, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    spectrum = latent_spectrum(w, u)
    assert make_atlas(net, w, u).k == count_informative(spectrum, **PLATEAU) == 7
    assert make_atlas(net, w, u, method="max_gap", min_k=1, max_k=200).k == 7
    assert make_atlas(net, w, u, method="threshold", threshold=10.0).k == 0  # kwargs reach the rule
    assert make_atlas(net, w, u, k=3).k == 3


def test_variable_sweep_moves_one_pixel_by_the_class_std(linear_atlas):
    atlas, _, _ = linear_atlas
    images, heat, offsets = variable_sweep(atlas, 3, steps=5)
    assert images.shape == (10, 5, 28, 28) and heat.shape == (10, 28, 28)
    np.testing.assert_allclose(offsets, [-2, -1, 0, 1, 2])
    r, c = pixel_of(atlas, 3)
    j = atlas.latent_index(3)
    stds = atlas.prior.stds[:, j].numpy()
    centre = images[:, 2]
    np.testing.assert_allclose(centre, mean_images(atlas), atol=1e-12)
    for s, offset in enumerate(offsets):
        diff = images[:, s] - centre
        np.testing.assert_allclose(diff[:, r, c], offset * stds, atol=1e-12)
        diff[:, r, c] = 0
        assert np.abs(diff).max() < 1e-12
    np.testing.assert_allclose(heat[:, r, c], 2 * stds, atol=1e-12)
    heat[:, r, c] = 0
    assert heat.max() < 1e-12
    _, _, wide = variable_sweep(atlas, 3, steps=3, span=3.0)
    np.testing.assert_allclose(wide, [-3, 0, 3])
    with pytest.raises(ValueError, match="odd"):
        variable_sweep(atlas, 1, steps=4)


def test_effect_sizes(linear_atlas):
    atlas, _, _ = linear_atlas
    effects = effect_sizes(atlas, [1, 2, 700])
    for e, variable in zip(effects, [1, 2, 700]):
        j = atlas.latent_index(variable)
        assert e == pytest.approx((2 * atlas.prior.stds[:, j]).mean().item() / 784, rel=1e-10)
    assert effects[0] > effects[2]


def test_effect_sizes_per_class(linear_atlas):
    atlas, _, _ = linear_atlas
    per_class = effect_sizes(atlas, [1, 2, 3], per_class=True)
    assert per_class.shape == (3, 10)
    np.testing.assert_allclose(per_class.mean(1), effect_sizes(atlas, [1, 2, 3]), rtol=1e-12)
    j = atlas.latent_index(2)
    np.testing.assert_allclose(per_class[1], 2 * atlas.prior.stds[:, j].numpy() / 784, rtol=1e-10)


def test_temperature_samples_share_the_code_across_classes(linear_atlas):
    atlas, _, _ = linear_atlas
    samples = temperature_samples(atlas, n_rows=4, temperature=0.8, seed=1)
    assert samples.shape == (4, 10, 28, 28)
    means = mean_images(atlas)
    changed = np.zeros((28, 28), dtype=bool)
    for variable in range(1, atlas.k + 1):
        r, c = pixel_of(atlas, variable)
        changed[r, c] = True
        j = atlas.latent_index(variable)
        z = (samples[:, :, r, c] - means[None, :, r, c]) / (0.8 * atlas.prior.stds[:, j].numpy())
        np.testing.assert_allclose(z, z[:, :1].repeat(10, 1), atol=1e-9)  # one whitened code per row
        assert np.abs(z).max() > 0
        assert np.abs(z[:, 0] - z[0, 0]).max() > 0  # ... that differs from row to row
    np.testing.assert_allclose(
        samples[:, :, ~changed], np.broadcast_to(means[None][:, :, ~changed], samples[:, :, ~changed].shape), atol=1e-12
    )
    cold = temperature_samples(atlas, n_rows=2, temperature=0.0)
    np.testing.assert_allclose(cold, np.broadcast_to(means, cold.shape), atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        temperature_samples(atlas, temperature=-1)


def test_temperature_samples_seed_and_number_of_sampled_variables(linear_atlas):
    atlas, _, _ = linear_atlas
    a = temperature_samples(atlas, n_rows=3, seed=2)
    np.testing.assert_array_equal(a, temperature_samples(atlas, n_rows=3, seed=2))
    assert np.abs(a - temperature_samples(atlas, n_rows=3, seed=3)).max() > 1e-6
    one = temperature_samples(atlas, n_rows=3, seed=2, n_sampled=1)
    diff = np.abs(one - mean_images(atlas)[None]).max(axis=(0, 1))
    r, c = pixel_of(atlas, 1)
    assert diff[r, c] > 0
    diff[r, c] = 0
    assert diff.max() < 1e-12  # only variable 1 was drawn


def test_prepare_atlas_encodes_with_noise():
    net = emnist_gin(seed=0).double()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(60, 1, 28, 28, generator=g, dtype=torch.float64)
    u = torch.arange(60) % 10
    atlas = prepare_atlas(net, x, u, noise=0.01, seed=4)
    w, _ = encode(net, x, batch_size=500, noise=0.01, seed=4)
    expected = make_atlas(net, w, u)
    np.testing.assert_allclose(atlas.spectrum.std, expected.spectrum.std, rtol=1e-12)
    np.testing.assert_allclose(atlas.prior.means.numpy(), expected.prior.means.numpy(), rtol=1e-12)
    assert atlas.k == expected.k == count_informative(expected.spectrum, **PLATEAU)
    clean = prepare_atlas(net, x, u, noise=0.0)
    assert np.abs(clean.spectrum.std - atlas.spectrum.std).max() > 1e-6  # the noise is applied
    assert prepare_atlas(net, x, u, k=7).k == 7
    by_gap = prepare_atlas(net, x, u, noise=0.01, seed=4, method="max_gap", min_k=1, max_k=200)
    assert by_gap.k == count_informative(expected.spectrum, "max_gap", min_k=1, max_k=200)


def test_decode_moved_is_one_image_of_the_sweep(linear_atlas):
    atlas, _, _ = linear_atlas
    images, _, offsets = variable_sweep(atlas, 2, steps=5)
    for digit in (0, 7):
        for column, t in enumerate(offsets):
            moved = decode_moved(atlas, 2, digit, t)
            assert moved.shape == (28, 28)
            np.testing.assert_allclose(moved, images[digit, column], atol=1e-12)
    # only the variable's own pixel moves, by t class standard deviations
    r, c = pixel_of(atlas, 2)
    j = atlas.latent_index(2)
    delta = decode_moved(atlas, 2, 3, 1.5) - decode_moved(atlas, 2, 3, 0.0)
    assert delta[r, c] == pytest.approx(1.5 * float(atlas.prior.stds[3, j]))
    assert np.count_nonzero(np.abs(delta) > 1e-12) == 1


def test_slider_strip_stacks_decode_moved(linear_atlas):
    atlas, _, _ = linear_atlas
    offsets = np.linspace(-2, 2, 7)
    strip = slider_strip(atlas, 1, digit=4, offsets=offsets)
    assert strip.shape == (7, 28, 28)
    for image, t in zip(strip, offsets):
        np.testing.assert_allclose(image, decode_moved(atlas, 1, 4, t), atol=1e-12)
    with pytest.raises(ValueError, match="digit"):
        slider_strip(atlas, 1, digit=10, offsets=offsets)
    with pytest.raises(ValueError, match="digit"):
        decode_moved(atlas, 1, -1, 0.0)
    with pytest.raises(ValueError, match="variable numbers"):
        decode_moved(atlas, 785, 0, 0.0)


def test_table_written_for_names_a_build():
    assert set(TABLE_WRITTEN_FOR) == {"sha256_prefix", "training_images", "k"}
    assert len(TABLE_WRITTEN_FOR["sha256_prefix"]) == 16
    int(TABLE_WRITTEN_FOR["sha256_prefix"], 16)  # hex digits of a SHA-256
