"""gin_core: General Incompressible-flow Networks (Sorrenson, Rother, Köthe, ICLR 2020).

Flows (:mod:`gin_core.flows`), the paper's networks (:mod:`gin_core.networks`), the loss
(:mod:`gin_core.loss`), the artificial data (:mod:`gin_core.artificial`), training
(:mod:`gin_core.train`), metrics (:mod:`gin_core.metrics`) and the book's run settings
(:mod:`gin_core.config`).
"""

from .artificial import ArtificialData, make_artificial_data, mixing_network
from .config import RunConfig, run_config
from .flows import AffineCoupling, Downsample, Flatten, InvertibleSequential, Permutation
from .loss import GaussianMixtureNLL
from .metrics import AffineFit, Spectrum, affine_fit, align_to, count_informative, latent_spectrum, mcc
from .networks import artificial_gin, count_parameters, coupling_flow, emnist_gin
from .train import History, default_device, encode, load_checkpoint, save_checkpoint, train

__version__ = "0.1.0"
