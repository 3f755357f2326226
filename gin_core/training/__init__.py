"""Training GIN: Adam, a 10x learning-rate drop, noise augmentation, safe checkpoints and exact resume.

One direction of imports, module by module:

* :mod:`~gin_core.training.optim`: the optimiser, the noise, the learning-rate schedule and the device;
* :mod:`~gin_core.training.sampling`: the order of an epoch (shuffled, or balanced over strata);
* :mod:`~gin_core.training.steps`: the step contract (:class:`Step`) and :class:`EagerStep`;
* :mod:`~gin_core.training.auto`: the auto rule (compile or not) and the registry of compiled steps;
* :mod:`~gin_core.training.compiled`: :class:`CompiledStep` (``torch.compile``) and :func:`make_step`;
* :mod:`~gin_core.training.state`: :class:`TrainSettings` (the checkpoint schema), the run state, the history;
* :mod:`~gin_core.training.lock`: the run lock of a run folder (:func:`run_lock`, :func:`hold_lock`,
  :func:`lock_holder`, :class:`LockedError`);
* :mod:`~gin_core.training.loop`: :func:`train`;
* :mod:`~gin_core.training.ensemble`: :class:`EnsembleStep` (N networks of one architecture in one vmapped
  step) and its auto rule (:func:`choose_ensemble_mode`, :data:`ENSEMBLE_AUTO_RULE`);
* :mod:`~gin_core.training.ensemble_loop`: :func:`train_ensemble` (whole-ensemble checkpoints, exact resume);
* :mod:`~gin_core.training.cli`: ``python -m gin_core.training`` (not imported here).

References:
    Sorrenson et al. (2020), §4.3.1, §4.4.1 and Appendix D.1.
"""

from .compiled import CompiledStep, make_step
from .ensemble import ENSEMBLE_AUTO_RULE, EnsembleStep, choose_ensemble_mode
from .ensemble_loop import train_ensemble
from .lock import LockedError, hold_lock, lock_holder, run_lock
from .loop import train
from .optim import add_noise, default_device, lr_at, make_optimizer
from .sampling import epoch_order, stratified_permutation
from .state import History, RunState, TrainSettings, network_record
from .steps import EagerStep, Step

__all__ = [
    "train",
    "History",
    "TrainSettings",
    "RunState",
    "network_record",
    "Step",
    "EagerStep",
    "CompiledStep",
    "make_step",
    "make_optimizer",
    "add_noise",
    "lr_at",
    "default_device",
    "epoch_order",
    "stratified_permutation",
    "EnsembleStep",
    "train_ensemble",
    "choose_ensemble_mode",
    "ENSEMBLE_AUTO_RULE",
    "run_lock",
    "hold_lock",
    "lock_holder",
    "LockedError",
]
