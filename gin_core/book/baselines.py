"""Linear baselines on the artificial data: PCA and FastICA, scored exactly like GIN.

:func:`linear_baseline` fits one of them (scikit-learn) to the observed data and measures what
:func:`~gin_core.book.runs.evaluate_run` measures for GIN: the class-conditional spectrum of the
components, the dimension read off it, and the MCC of the true informative variables. The mixing
benchmark's baselines (untrained GIN, joint diagonalisation, ...) are in :mod:`gin_core.book.benchmark`.

References:
    Sorrenson et al. (2020), §4.3 (PCA and ICA as linear references); Hyvärinen & Oja (2000) (FastICA).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..artificial import ArtificialData
from ..metrics import Spectrum, count_informative, latent_spectrum, mcc
from .atlas import DEFAULT_KNEE

__all__ = ["LinearBaseline", "linear_baseline"]


@dataclass
class LinearBaseline:
    """A linear method's estimate of the latent and how it scores.

    Attributes:
        name: ``"PCA"`` or ``"FastICA"``.
        w: its components of the data, ``(N, 10)``.
        spectrum: class-conditional spectrum of ``w`` (as for GIN).
        n_informative: dimension read off the spectrum.
        mcc: MCC of the two true informative variables against ``w``.
        seconds: fit time.
    """

    name: str
    w: np.ndarray
    spectrum: Spectrum
    n_informative: int
    mcc: float
    seconds: float


def linear_baseline(name: str, data: ArtificialData, seed: int = 0) -> LinearBaseline:
    """Fit PCA or FastICA (scikit-learn) to the observed data and score it like GIN.

    Arguments:
        name: ``"PCA"`` or ``"FastICA"``.
        data: the artificial data.
        seed: random state of FastICA.

    Returns:
        A :class:`LinearBaseline`.
    """
    from sklearn.decomposition import PCA, FastICA

    if name == "PCA":
        model = PCA(n_components=data.x.shape[1])
    elif name == "FastICA":
        model = FastICA(n_components=data.x.shape[1], random_state=seed, max_iter=1000, whiten="unit-variance")
    else:
        raise ValueError(f"unknown baseline {name!r}; expected 'PCA' or 'FastICA'")
    t0 = time.perf_counter()
    w = model.fit_transform(data.x.double().numpy())
    seconds = time.perf_counter() - t0
    spectrum = latent_spectrum(w, data.u)
    k = count_informative(spectrum, DEFAULT_KNEE[0], **DEFAULT_KNEE[1])
    return LinearBaseline(name, w, spectrum, k, mcc(data.z[:, : data.n_informative].numpy(), w), seconds)
