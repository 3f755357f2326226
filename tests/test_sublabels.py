"""Tests of gin_core.sublabels: the sub-label rule (k-means on within-class PCA codes)."""

import pytest
import torch

from gin_core.sublabels import fit_sub_labels, kmeans


def clustered_images(n_per_cluster=30, n_classes=3, per_class=4, seed=0):
    """Images (N, 1, 4, 4) whose classes each hold ``per_class`` well separated clusters."""
    g = torch.Generator().manual_seed(seed)
    x, u, truth = [], [], []
    for c in range(n_classes):
        centres = 3.0 * torch.randn(per_class, 16, generator=g)
        for r in range(per_class):
            x.append(centres[r] + 0.05 * torch.randn(n_per_cluster, 16, generator=g))
            u.append(torch.full((n_per_cluster,), c))
            truth.append(torch.full((n_per_cluster,), c * per_class + r))
    perm = torch.randperm(n_classes * per_class * n_per_cluster, generator=g)
    return torch.cat(x)[perm].view(-1, 1, 4, 4), torch.cat(u)[perm], torch.cat(truth)[perm]


def test_kmeans_finds_separated_clusters():
    x, _, truth = clustered_images(n_classes=1)
    centroids, assignment, inertia = kmeans(x.flatten(1).double(), 4, seed=0)
    assert centroids.shape == (4, 16) and inertia > 0
    # the partition equals the true one up to renaming
    pairs = {(int(a), int(t)) for a, t in zip(assignment, truth)}
    assert len(pairs) == 4 and len({a for a, _ in pairs}) == 4


def test_rule_is_deterministic_nested_and_total():
    x, u, truth = clustered_images()
    rule = fit_sub_labels(x, u, per_class=4, n_components=3, seed=5, n_classes=3)
    again = fit_sub_labels(x, u, per_class=4, n_components=3, seed=5, n_classes=3)
    sub = rule.assign(x, u)
    assert torch.equal(sub, again.assign(x, u)) and torch.equal(rule.centroids, again.centroids)
    assert sub.shape == u.shape and sub.dtype == torch.long  # exactly one sub-label per image
    assert torch.equal(sub // 4, u)  # nested in the classes
    assert int(sub.min()) >= 0 and int(sub.max()) < rule.n_conditions == 12
    assert torch.equal(torch.bincount(sub, minlength=12).view(3, 4), rule.sizes)
    assert (rule.sizes[:, :-1] >= rule.sizes[:, 1:]).all()  # numbered by decreasing size
    # the separated clusters are found: each true cluster maps to one sub-label
    assert len({(int(s), int(t)) for s, t in zip(sub, truth)}) == 12
    # held-out images: the nearest centroid of their own class
    assert torch.equal(rule.assign(x[:7] + 1e-3, u[:7]), sub[:7])
    assert "4 sub-labels per class" in rule.describe() and "12 conditions" in rule.describe()


def test_bad_input_raises_clear_errors():
    x, u, _ = clustered_images()
    with pytest.raises(ValueError, match="class 2 has 0 images"):
        fit_sub_labels(x[u < 2], u[u < 2], per_class=4, n_components=3, n_classes=3)
    with pytest.raises(ValueError, match="positive"):
        fit_sub_labels(x, u, per_class=0, n_classes=3)
    rule = fit_sub_labels(x, u, per_class=2, n_components=3, n_classes=3)
    with pytest.raises(ValueError, match="25 pixels; the rule was fitted on 16"):
        rule.assign(torch.zeros(2, 1, 5, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="not finite|NaN"):
        rule.assign(torch.full((2, 1, 4, 4), float("nan")), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        rule.assign(x[:2], torch.tensor([0, 3]))  # label out of range
    with pytest.raises(ValueError, match="1 <= k <= N"):
        kmeans(torch.zeros(3, 2, dtype=torch.float64), 4, seed=0)


def test_codes_are_each_images_projection_on_its_own_class_basis():
    """Computed class by class; the same numbers as projecting every image on its class's basis one by one."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 1, 6, 6, generator=g)
    u = torch.arange(60) % 3
    rule = fit_sub_labels(x, u, per_class=2, n_components=4, n_classes=3)
    expected = torch.stack([rule.components[c] @ (x[i].reshape(-1).double() - rule.means[c]) for i, c in enumerate(u)])
    torch.testing.assert_close(rule.codes(x, u), expected, rtol=1e-12, atol=1e-12)
