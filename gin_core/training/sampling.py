"""The order of an epoch's samples: plain shuffling, or balanced batches over strata.

References:
    Sorrenson et al. (2020), §4.4.4 (more conditions than classes needs every condition in every batch).
"""

from __future__ import annotations

import torch

__all__ = ["epoch_order", "stratified_permutation"]


def stratified_permutation(strata: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An epoch's order in which every stratum is spread evenly: balanced batches.

    Each stratum's samples are shuffled, then placed at evenly spaced positions of the epoch
    (keys ``(rank + offset_k) / n_k`` with one random offset per stratum, then sorted), so that any
    run of B consecutive samples holds close to ``B n_k / N`` samples of stratum k (systematic
    stratified sampling). Drawn from ``generator`` on the strata's device.

    Arguments:
        strata: integer stratum of each sample ``(N,)``.
        generator: the run's random generator.

    Returns:
        A permutation of ``range(N)``.
    """
    n = strata.shape[0]
    perm = torch.randperm(n, generator=generator, device=strata.device)
    s = strata[perm]
    counts = torch.bincount(s)
    grouped = torch.argsort(s, stable=True)  # stratum by stratum, in the random order
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(s)
    rank[grouped] = torch.arange(n, device=s.device) - starts[s[grouped]]
    offset = torch.rand(counts.shape[0], generator=generator, device=s.device, dtype=torch.float64)
    key = (rank.double() + offset[s]) / counts[s].double()
    return perm[torch.argsort(key, stable=True)]


def epoch_order(n: int, strata: torch.Tensor | None, generator: torch.Generator, device) -> torch.Tensor:
    """A random order of ``n`` samples: :func:`stratified_permutation` over ``strata``, or a plain permutation."""
    if strata is None:
        return torch.randperm(n, generator=generator, device=device)
    return stratified_permutation(strata, generator)
