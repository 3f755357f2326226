"""Tests of gin_core.book.conditions: the crossbar detector on drawn strokes, the rare-condition count,
the class mixture of sub-labels, variable matching, the sub-label NLL, sampling, and the chapter's helpers
(the pair for a scale, its NLL, the comparison with the logged measurement, the crossed-seven reading)."""

import math

import numpy as np
import pytest
import torch

from gin_core import GIN, emnist_gin, heldout_nll
from gin_core.book.conditions import (
    class_mixture_weights,
    compare_crossed,
    crossbar,
    crossed_fraction,
    match_variables,
    pair_for_scale,
    pair_nll,
    rare_condition_share,
    record_differences,
    sample_conditions,
    sublabel_nll,
    wilson_interval,
)
from gin_core.sublabels import fit_sub_labels


def seven(bar_row=None, top_thickness=2, stem_width=2):
    """A 28x28 seven drawn with strokes: top bar, diagonal stem, optional crossbar at ``bar_row``."""
    image = np.zeros((28, 28))
    image[5 : 5 + top_thickness, 8:21] = 1.0
    for row in range(5 + top_thickness, 24):  # the stem runs from column 19 at the top to 11 at the bottom
        col = round(19 - 8 * (row - 5 - top_thickness) / (23 - 5 - top_thickness))
        image[row, col : col + stem_width] = 1.0
    if bar_row is not None:
        image[bar_row : bar_row + 2, 9:21] = 1.0
    return image


def test_crossbar_on_drawn_strokes():
    plain, crossed = seven(), seven(bar_row=14)
    thick_top = seven(top_thickness=6)  # a heavy top bar reaching into the band is not a crossbar
    one = np.zeros((28, 28))
    one[4:24, 13:15] = 1.0
    empty = np.zeros((28, 28))
    low_bar = seven(bar_row=21)  # a foot near the bottom, inside the band: still a bar crossing the stem
    hits = crossbar(np.stack([plain, crossed, thick_top, one, empty, low_bar]))
    assert hits.tolist() == [False, True, False, False, False, True]
    assert crossbar(torch.tensor(np.stack([crossed, plain]))[:, None]).tolist() == [True, False]  # (N, 1, H, W)
    result = crossed_fraction(np.stack([plain, crossed, crossed, plain]))
    assert (result["crossed"], result["n"], result["fraction"]) == (2, 4, 0.5)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        crossbar(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="band"):
        crossbar(np.stack([plain]), band=(0.8, 0.2))


def test_wilson_interval():
    low, high = wilson_interval(0, 1000)
    assert low == 0.0 and 0.003 < high < 0.004  # about 3.8 / n for no hits
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_rare_condition_share_matches_the_binomial():
    labels = torch.arange(40).repeat(1500)  # 40 equal conditions, 60,000 samples
    share = rare_condition_share(labels, 40, batch_size=240, epochs=4, seed=0)
    # a condition is alone in a batch with probability ~ Binomial(240, 1/40) = 1, i.e. 240 p (1-p)^239
    p = 1 / 40
    expected = 40 * 240 * p * (1 - p) ** 239 / 240
    assert share["excluded_share"] == pytest.approx(expected, rel=0.15)
    assert share["mean_per_condition"] == 6 and 0 < share["batches_affected_share"] < 1


def test_class_mixture_weights_and_sublabel_nll():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 28, 28, generator=g)
    u = torch.arange(300) % 10
    rule = fit_sub_labels(x, u, per_class=2, n_components=3)
    weights = class_mixture_weights(u[:20], rule)
    assert torch.allclose(weights.sum(1), torch.ones(20, dtype=torch.float64))
    assert ((weights > 0).nonzero()[:, 1] // 2 == u[:20].repeat_interleave(2)).all()  # only the class's sub-labels
    # with one sub-label per class, both NLLs are the 10-class NLL of gin_core.heldout_nll
    net = emnist_gin(seed=0).eval()
    single = fit_sub_labels(x, u, per_class=1, n_components=3)
    result = sublabel_nll(net, single, x[:200], u[:200], x[200:], u[200:], noise=0.01, seed=0)
    reference = heldout_nll(net, x[:200], u[:200], x[200:], u[200:], n_classes=10, noise=0.01, seed=0)
    assert result["sublabel"]["nats_per_dim"] == pytest.approx(reference.nats_per_dim, abs=1e-9)
    assert result["class_mixture"]["nats_per_dim"] == pytest.approx(reference.nats_per_dim, abs=1e-9)
    assert result["sublabel"]["bits_per_dim"] == pytest.approx(
        (reference.nats_per_dim + math.log(255)) / math.log(2), abs=1e-9
    )
    # two sub-labels per class: both scores are finite, and they differ
    two = sublabel_nll(net, rule, x[:200], u[:200], x[200:], u[200:])
    assert all(math.isfinite(v["nats_per_dim"]) for v in two.values())
    assert two["sublabel"]["nats_per_dim"] != two["class_mixture"]["nats_per_dim"]


def test_match_variables_finds_a_permuted_copy():
    g = torch.Generator().manual_seed(0)
    u = torch.arange(500) % 5
    w = torch.randn(500, 6, generator=g, dtype=torch.float64) + u.unsqueeze(1)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    w_new = -2 * w[:, perm] + 1  # the same variables, permuted, flipped and rescaled
    w_new[:, 5] = torch.randn(500, generator=g, dtype=torch.float64)  # ... except one replaced by noise
    rows, new_only, corr = match_variables(w.numpy(), np.arange(6), 4, w_new.numpy(), np.arange(6), 6, u)
    assert corr.shape == (4, 6)
    partner = {r["variable"]: r["partner"] for r in rows}
    assert (partner[1], partner[2], partner[4]) == (2, 4, 1)  # variable 3 has no copy: matched to a leftover
    assert [r["survives"] for r in rows] == [True, True, False, True]  # variable 3 went to the noise column
    assert rows[0]["r"] == pytest.approx(1.0, abs=1e-12)
    assert new_only == [3, 5, 6]  # column 3 (old 6th), column 5 (old 5th) and the noise are not among the first 4


def test_sample_conditions_decodes_the_base():
    net = emnist_gin(seed=0).eval()
    model = GIN(net, 10)
    x = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    model.fit_base(x, torch.arange(100) % 10)
    images = sample_conditions(model, torch.full((7,), 7), temperature=0.0)
    mean_image = net.inverse(model.base.means[7:8].float()).double()
    assert images.shape == (7, 1, 28, 28) and torch.allclose(images[0], mean_image[0], atol=1e-5)
    again = sample_conditions(model, torch.full((3,), 7), temperature=1.0, seed=4)
    assert torch.equal(again, sample_conditions(model, torch.full((3,), 7), temperature=1.0, seed=4))


def measurement(k10=12, k40=15, rows=None, crossed=(5, 1, 2)):
    """A measurement of the pair with the fields record_differences compares."""
    rows = rows or [{"variable": 1, "partner": 2, "r": 0.9, "survives": True}]
    return {
        "labels": {"k": k10},
        "sublabels": {"k": k40},
        "matching": {"rows": [dict(r) for r in rows]},
        "crossed": {key: {"crossed": n} for key, n in zip(("train", "labels", "sublabels"), crossed)},
    }


def test_record_differences_names_each_difference():
    recorded = measurement()
    assert record_differences(measurement(), recorded) == []
    assert record_differences(measurement(k40=16), recorded) == ["sublabels: k = 16, recorded 15"]
    moved = measurement(rows=[{"variable": 1, "partner": 2, "r": 0.9 + 1e-3, "survives": True}])
    assert len(record_differences(moved, recorded)) == 1
    assert (
        record_differences(
            measurement(rows=[{"variable": 1, "partner": 2, "r": 0.9 + 1e-9, "survives": True}]), recorded
        )
        == []
    )
    assert record_differences(measurement(crossed=(5, 1, 3)), recorded) == ["crossed sublabels: 3, recorded 2"]
    longer = measurement(
        rows=[*recorded["matching"]["rows"], {"variable": 2, "partner": 1, "r": 0.8, "survives": True}]
    )
    assert "2 matched variables, recorded 1" in record_differences(longer, recorded)


def interval(fraction, low, high):
    return {"fraction": fraction, "low": low, "high": high}


def test_compare_crossed_readings():
    real = interval(0.10, 0.09, 0.11)
    far = compare_crossed(
        {"train": real, "labels": interval(0.01, 0.0, 0.02), "sublabels": interval(0.015, 0.005, 0.03)}
    )
    assert "overlap: no difference" in far["between"] and far["versus_real"].startswith("both lie far below")
    assert far["labels_hold"] and far["sublabels_hold"]
    apart = compare_crossed(
        {"train": real, "labels": interval(0.01, 0.0, 0.02), "sublabels": interval(0.06, 0.05, 0.07)}
    )
    assert "do not overlap" in apart["between"] and "makes more" in apart["between"]
    assert apart["labels_hold"] and not apart["sublabels_hold"]
    assert apart["versus_real"].startswith("at least one comes close")
    fewer = compare_crossed(
        {"train": real, "labels": interval(0.06, 0.05, 0.07), "sublabels": interval(0.01, 0.0, 0.02)}
    )
    assert "makes fewer" in fewer["between"] and not fewer["labels_hold"]


def test_pair_nll_reads_the_provenance():
    provenance = {
        "labels": {"test_nll": {"bits_per_dim": 3.9}},
        "sublabels": {
            "test_nll_sub_labels": {"sublabel": {"bits_per_dim": 3.8}, "class_mixture": {"bits_per_dim": 3.85}}
        },
    }
    nll = pair_nll({"provenance": provenance, "nets": {}}, None, None, None, None, None)
    assert nll == {"labels": 3.9, "class_mixture": 3.85, "sublabel": 3.8}


def test_pair_nll_measures_without_provenance():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 28, 28, generator=g)
    u = torch.arange(300) % 10
    single = fit_sub_labels(x, u, per_class=1, n_components=3)
    net = emnist_gin(seed=0).eval()
    nll = pair_nll(
        {"provenance": None, "nets": {"labels": net, "sublabels": net}}, single, x[:200], u[:200], x[200:], u[200:]
    )
    reference = heldout_nll(net, x[:200], u[:200], x[200:], u[200:], n_classes=10, noise=0.01)
    # one sub-label per class and the same network: all three are the 10-class NLL
    assert nll["labels"] == pytest.approx(reference.bits_per_dim, abs=1e-9)
    assert nll["class_mixture"] == pytest.approx(reference.bits_per_dim, abs=1e-9)
    assert nll["sublabel"] == pytest.approx(reference.bits_per_dim, abs=1e-9)


def test_pair_for_scale_loads_the_shipped_pair():
    pair = pair_for_scale("cpu", "mnist", None, None, runs="unused")
    assert set(pair["nets"]) == set(pair["histories"]) == set(pair["provenance"]) == {"labels", "sublabels"}
    assert pair["excluded"] == pair["provenance"]["sublabels"]["samples_excluded"]
    assert pair["drop"] == pair["provenance"]["labels"]["lr_drops"][0]
    assert len(pair["histories"]["labels"]["loss"]) == pair["provenance"]["labels"]["epochs_done"]
