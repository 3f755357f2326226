r"""Sub-labels: more conditions than classes, by splitting each class into clusters (§4.4.4).

With :math:`C` classes the theory of GIN (Theorem 1, via Khemakhem et al. 2020) identifies at
most :math:`n` informative Gaussian variables when there are :math:`2n + 1` distinct
conditions, so the 10 digit classes cover at most 4. The paper proposes splitting labels into
sub-labels. This module's rule, stated once and reproducible:

1. for each class :math:`c`, centre its training images and take their first ``n_components``
   principal components (the within-class PCA codes);
2. run k-means with ``per_class`` clusters on those codes (k-means++ start from a generator
   seeded with ``seed + c``, Lloyd iterations to convergence, the best of ``n_init`` starts by
   within-cluster sum of squares);
3. number the clusters of a class by decreasing size, and give image :math:`i` of class
   :math:`c` in cluster :math:`r` the sub-label :math:`c \cdot s + r` (``s = per_class``).

The sub-labels nest in the classes (``sub // s == class``). Held-out images get the sub-label of
the nearest centroid of their own class, in the PCA coordinates fitted on the training images.

References:
    Sorrenson et al. (2020), §4.4.4 (the proposal) and §3 / Theorem 1 (2n + 1 conditions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_finite, check_labels

__all__ = ["SubLabels", "fit_sub_labels", "kmeans"]


def kmeans(
    codes: torch.Tensor, k: int, seed: int, n_init: int = 4, max_iter: int = 300
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """k-means (Lloyd) with k-means++ starts, deterministic for a seed.

    Arguments:
        codes: points ``(N, m)`` (float64 recommended).
        k: number of clusters, ``1 <= k <= N``.
        seed: seeds the k-means++ starts.
        n_init: number of starts; the one with the smallest within-cluster sum of squares wins.
        max_iter: Lloyd iterations per start (stops earlier when the assignment is stable).

    Returns:
        ``(centroids, assignment, inertia)``: ``(k, m)``, ``(N,)`` and the sum of squares.
    """
    if codes.dim() != 2 or not 1 <= k <= codes.shape[0]:
        raise ValueError(f"kmeans needs points (N, m) and 1 <= k <= N; got shape {tuple(codes.shape)} and k={k}")
    generator = torch.Generator().manual_seed(int(seed))
    best = None
    for _ in range(n_init):
        centroids = _kmeans_pp(codes, k, generator)
        assignment = None
        for _ in range(max_iter):
            new = torch.cdist(codes, centroids).argmin(1)
            if assignment is not None and torch.equal(new, assignment):
                break
            assignment = new
            for j in range(k):
                members = codes[assignment == j]
                if len(members):  # an empty cluster keeps its centroid
                    centroids[j] = members.mean(0)
        inertia = float(((codes - centroids[assignment]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (centroids.clone(), assignment.clone(), inertia)
    return best


def _kmeans_pp(codes: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    first = int(torch.randint(codes.shape[0], (1,), generator=generator))
    chosen = [codes[first]]
    d2 = ((codes - chosen[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1.0 / len(d2))
        index = int(torch.multinomial(p, 1, generator=generator))
        chosen.append(codes[index])
        d2 = torch.minimum(d2, ((codes - codes[index]) ** 2).sum(1))
    return torch.stack(chosen).clone()


@dataclass
class SubLabels:
    """A fitted sub-label rule: per class, the PCA basis and the ordered k-means centroids.

    Attributes:
        per_class: s, sub-labels per class.
        n_components: m, PCA codes per class.
        seed: the k-means seed (class c uses ``seed + c``).
        means: ``(C, D)`` class means of the flattened training images.
        components: ``(C, m, D)`` principal axes per class.
        centroids: ``(C, s, m)`` centroids, ordered by decreasing training cluster size.
        sizes: ``(C, s)`` training images per sub-label.
    """

    per_class: int
    n_components: int
    seed: int
    means: torch.Tensor
    components: torch.Tensor
    centroids: torch.Tensor
    sizes: torch.Tensor

    @property
    def n_classes(self) -> int:
        return self.means.shape[0]

    @property
    def n_conditions(self) -> int:
        return self.n_classes * self.per_class

    def describe(self) -> str:
        return (
            f"{self.per_class} sub-labels per class (k-means seed {self.seed} on {self.n_components} "
            f"within-class PCA codes), {self.n_conditions} conditions"
        )

    def conditioning(self) -> str:
        """The note a run conditioned on these sub-labels adds to its data set's description (one part of it)."""
        return f"conditioned on {self.describe()}"

    def balancing(self) -> str:
        """The note a run with batches balanced over these sub-labels adds to its data set's description."""
        return f"batches balanced over {self.describe()}"

    def codes(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Within-class PCA codes ``(N, m)`` of images ``x`` of classes ``u`` (float64)."""
        flat = self._flat(x, u)
        out = torch.empty(
            len(flat), self.components.shape[1], dtype=torch.promote_types(flat.dtype, self.components.dtype)
        )
        for c in torch.unique(u).tolist():  # one class at a time: no per-image copy of its basis (6 GB for MNIST)
            rows = u == c
            out[rows] = (flat[rows] - self.means[c]) @ self.components[c].T
        return out

    def assign(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Sub-labels ``(N,)`` of images ``x`` of classes ``u``: the nearest centroid of their class.

        Arguments:
            x: images ``(N, ...)`` with as many pixels as the training images.
            u: their classes ``(N,)``.

        Returns:
            ``u * s + r`` with r the rank of the nearest centroid of class u.
        """
        codes = self.codes(x, u)
        distances = ((codes.unsqueeze(1) - self.centroids[u]) ** 2).sum(2)
        return u * self.per_class + distances.argmin(1)

    def _flat(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
            raise ValueError(f"images must be a floating point tensor (N, ...), got {getattr(x, 'shape', type(x))}")
        flat = x.reshape(x.shape[0], -1).double()
        if flat.shape[1] != self.means.shape[1]:
            raise ValueError(f"images have {flat.shape[1]} pixels; the rule was fitted on {self.means.shape[1]}")
        check_finite(flat, "images")
        check_labels(u, x.shape[0], self.n_classes)
        return flat


def fit_sub_labels(
    x: torch.Tensor, u: torch.Tensor, per_class: int = 4, n_components: int = 16, seed: int = 0, n_classes: int = 10
) -> SubLabels:
    """Fit the sub-label rule of this module on training images.

    Arguments:
        x: training images ``(N, ...)``.
        u: their classes ``(N,)`` in ``[0, n_classes)``; every class needs at least
            ``max(per_class, n_components + 1)`` images.
        per_class: s, sub-labels per class.
        n_components: m, within-class PCA codes clustered.
        seed: k-means seed (class c uses ``seed + c``).
        n_classes: number of classes C.

    Returns:
        The fitted :class:`SubLabels`; ``rule.assign(x, u)`` gives the training sub-labels.
    """
    if per_class < 1 or n_components < 1:
        raise ValueError(f"per_class and n_components must be positive, got {per_class} and {n_components}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise ValueError(f"images must be a floating point tensor (N, ...), got {getattr(x, 'shape', type(x))}")
    check_labels(u, x.shape[0], n_classes)
    flat = x.reshape(x.shape[0], -1).double()
    check_finite(flat, "images")
    means, components, centroids, sizes = [], [], [], []
    for c in range(n_classes):
        members = flat[u == c]
        if members.shape[0] < max(per_class, n_components + 1):
            raise ValueError(
                f"class {c} has {members.shape[0]} images; need at least {max(per_class, n_components + 1)} "
                f"for {per_class} sub-labels on {n_components} PCA codes"
            )
        mean = members.mean(0)
        _, _, vh = torch.linalg.svd(members - mean, full_matrices=False)
        basis = vh[:n_components]
        basis = basis * torch.sign(basis.sum(1, keepdim=True) + 1e-300)  # fix each axis's sign
        codes = (members - mean) @ basis.T
        centre, assignment, _ = kmeans(codes, per_class, seed=seed + c)
        counts = torch.bincount(assignment, minlength=per_class)
        order = sorted(range(per_class), key=lambda j: (-int(counts[j]), centre[j].tolist()))
        means.append(mean)
        components.append(basis)
        centroids.append(centre[order])
        sizes.append(counts[order])
    return SubLabels(
        per_class=int(per_class),
        n_components=int(n_components),
        seed=int(seed),
        means=torch.stack(means),
        components=torch.stack(components),
        centroids=torch.stack(centroids),
        sizes=torch.stack(sizes),
    )
