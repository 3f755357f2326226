"""gin_core: General Incompressible-flow Networks (Sorrenson, Rother, Köthe, ICLR 2020).

The core, one module per concept:

* :mod:`gin_core.flows`: GIN and GLOW-style coupling blocks (fully connected and
  convolutional), permutations, downsampling, and batch-wise encoding;
* :mod:`gin_core.networks`: the paper's two networks (Tables 2 and 3);
* :mod:`gin_core.distributions`: the class-conditional Gaussian latent distribution (eq. 7);
* :mod:`gin_core.loss`: the training objective built on it;
* :mod:`gin_core.artificial` and :mod:`gin_core.digits`: the artificial data (§4.3) and the
  EMNIST/MNIST digits (§4.4);
* :mod:`gin_core.training` and :mod:`gin_core.checkpoints`: training with safe, resumable checkpoints;
* :mod:`gin_core.metrics` and :mod:`gin_core.likelihood`: spectrum, knee, MCC, affine fit, held-out NLL;
* :mod:`gin_core.weights`: trained weights with provenance and a verified checksum.

The teaching book's helpers (experiments, atlas, plots, theory, settings) live apart, in
:mod:`gin_core.book`; importing :mod:`gin_core` does not import them.
"""

__version__ = "0.2.0"

from .artificial import ArtificialData, make_artificial_data, mixing_network
from .checkpoints import CheckpointError, load_checkpoint, load_network, save_checkpoint
from .distributions import ClassConditionalGaussian
from .flows import (
    AffineCoupling,
    DiagonalScaling,
    Downsample,
    Flatten,
    InvertibleSequential,
    Permutation,
    encode,
    inversion_error,
)
from .likelihood import NLLResult, bits_per_dim, heldout_nll, noise_floor
from .loss import GaussianMixtureNLL
from .metrics import AffineFit, Spectrum, affine_fit, align_to, count_informative, latent_spectrum, mcc
from .networks import artificial_gin, build_network, count_parameters, coupling_flow, emnist_gin
from .training import History, default_device, train, train_step
from .weights import load_weights, save_weights

__all__ = [
    "__version__",
    "AffineCoupling",
    "AffineFit",
    "ArtificialData",
    "CheckpointError",
    "ClassConditionalGaussian",
    "Downsample",
    "Flatten",
    "GaussianMixtureNLL",
    "History",
    "InvertibleSequential",
    "NLLResult",
    "Permutation",
    "DiagonalScaling",
    "Spectrum",
    "affine_fit",
    "align_to",
    "artificial_gin",
    "bits_per_dim",
    "build_network",
    "count_informative",
    "count_parameters",
    "coupling_flow",
    "default_device",
    "emnist_gin",
    "encode",
    "heldout_nll",
    "inversion_error",
    "latent_spectrum",
    "load_checkpoint",
    "load_network",
    "load_weights",
    "make_artificial_data",
    "mcc",
    "mixing_network",
    "noise_floor",
    "save_checkpoint",
    "save_weights",
    "train",
    "train_step",
]
