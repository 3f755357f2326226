"""gin_core: General Incompressible-flow Networks (Sorrenson, Rother, Köthe, ICLR 2020).

The core, one module per concept:

* **model**: :mod:`gin_core.model`, :class:`GIN`: a flow paired with its class-conditional base
  (``log_prob``, ``sample``, ``encode``, ``decode``, ``fit_base``, ``loss``);
* **flows**: :mod:`gin_core.flows` (the transform contract, permutations, downsampling,
  :class:`InvertibleSequential`), :mod:`gin_core.couplings` (GIN and GLOW-style couplings) and
  :mod:`gin_core.networks` (the paper's networks, Tables 2 and 3);
* **distributions and loss**: :mod:`gin_core.distributions` (the class-conditional Gaussian,
  eq. 7) and :mod:`gin_core.loss` (the one NLL that every training step calls);
* **data**: :mod:`gin_core.artificial` (§4.3), :mod:`gin_core.digits` (EMNIST/MNIST, §4.4) and
  :mod:`gin_core.sublabels` (more conditions than classes);
* **training**: :mod:`gin_core.training` (steps, loop, checkpoints of runs, command line) and
  :mod:`gin_core.checkpoints`;
* **metrics**: :mod:`gin_core.metrics` (spectrum, knee, MCC, affine fit) and
  :mod:`gin_core.likelihood` (held-out NLL);
* **weights**: :mod:`gin_core.weights` (trained weights with provenance and a verified checksum).

The teaching book's helpers live apart, in :mod:`gin_core.book`; importing :mod:`gin_core`
does not import them.
"""

__version__ = "0.3.0"

from .artificial import ArtificialData, make_artificial_data, mixing_network
from .checkpoints import CheckpointError, load_checkpoint, load_network, save_checkpoint
from .couplings import AffineCoupling
from .digits import load_digits
from .distributions import ClassConditionalGaussian
from .flows import DiagonalScaling, Downsample, Flatten, InvertibleSequential, Permutation, encode, inversion_error
from .likelihood import NLLResult, bits_per_dim, heldout_nll, noise_floor
from .loss import class_conditional_nll, nll_terms
from .metrics import AffineFit, Spectrum, affine_fit, align_to, count_informative, latent_spectrum, mcc
from .model import GIN
from .networks import artificial_gin, build_network, count_parameters, coupling_flow, emnist_gin
from .sublabels import SubLabels, fit_sub_labels
from .training import History, TrainSettings, default_device, train
from .weights import load_weights, save_weights

__all__ = [
    "__version__",
    # model
    "GIN",
    # flows and the paper's networks
    "AffineCoupling",
    "Permutation",
    "DiagonalScaling",
    "Downsample",
    "Flatten",
    "InvertibleSequential",
    "artificial_gin",
    "emnist_gin",
    "coupling_flow",
    "build_network",
    "count_parameters",
    "encode",
    "inversion_error",
    # distributions and the loss
    "ClassConditionalGaussian",
    "class_conditional_nll",
    "nll_terms",
    # data
    "ArtificialData",
    "make_artificial_data",
    "mixing_network",
    "load_digits",
    "SubLabels",
    "fit_sub_labels",
    # training and checkpoints
    "train",
    "History",
    "TrainSettings",
    "default_device",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_network",
    # metrics and likelihood
    "Spectrum",
    "latent_spectrum",
    "count_informative",
    "mcc",
    "AffineFit",
    "affine_fit",
    "align_to",
    "NLLResult",
    "heldout_nll",
    "bits_per_dim",
    "noise_floor",
    # weights
    "save_weights",
    "load_weights",
]
