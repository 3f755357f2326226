"""The training step contract, and the eager step.

A **step** takes one optimisation step on one batch: it adds the augmentation noise, evaluates
the model's loss (:meth:`gin_core.model.GIN.loss_terms`, i.e. :func:`gin_core.loss.nll_terms`),
back-propagates and steps Adam, and returns the loss. :class:`Step` does all of that except the
loss evaluation, which a subclass provides: :class:`EagerStep` here, the compiled step in
:mod:`gin_core.training.compiled`. The training loop calls ``step(x, u, noise, generator)``
without asking which kind it holds.

References:
    Sorrenson et al. (2020), §4.3.1, §4.4.1 and Appendix D.1.
"""

from __future__ import annotations

import torch

from ..loss import NO_PAIR_MESSAGE
from ..model import GIN
from .optim import add_noise, make_optimizer

__all__ = ["Step", "EagerStep"]


class Step:
    """The contract of a training step; subclasses implement :meth:`loss_terms`.

    Arguments:
        model: the :class:`~gin_core.model.GIN` being trained.
        lr: learning rate of the step's Adam (:func:`~gin_core.training.optim.make_optimizer`,
            over :meth:`parameters`).

    Attributes:
        mode: ``"eager"``, ``"compiled"`` or ``"channels_last"``: what the step runs (recorded in
            checkpoints, whose optimiser state has the layout of the step that wrote them).
        optimizer: the step's Adam.
        n_excluded: samples left out of the loss so far (classes with fewer than two samples in a
            batch, batch statistics).
        compile_seconds: time of the first compiled call (0 where nothing was compiled).
    """

    mode = "eager"

    def __init__(self, model: GIN, lr: float):
        if not isinstance(model, GIN):
            raise TypeError(f"a training step trains a gin_core.GIN model, got {type(model).__name__}")
        self.model = model
        self.n_excluded = 0
        self.compile_seconds = 0.0
        self.optimizer = make_optimizer(self.parameters(), lr)

    def parameters(self) -> list[torch.Tensor]:
        """What the optimiser updates: the flow's and (learned statistics) the base's parameters."""
        return list(self.model.parameters())

    def loss_terms(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, n_used)`` of a noisy batch; see :func:`gin_core.loss.nll_terms`."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, u: torch.Tensor, noise: float = 0.01, generator=None) -> float:
        """One step on the batch ``(x, u)``; returns the loss as a float (may be NaN: the loop checks)."""
        loss, n_used = self.loss_terms(add_noise(x, noise, generator), u)
        used = int(n_used)
        if used == 0:
            raise ValueError(NO_PAIR_MESSAGE)
        self.n_excluded += x.shape[0] - used
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class EagerStep(Step):
    """The step in plain PyTorch: :meth:`gin_core.model.GIN.loss_terms` on the model's own parameters.

    Arguments:
        model, lr: as :class:`Step`.
        check_values: check that each batch is finite (a pass over the data). :func:`~gin_core.training.train`
            checks its whole data set once and steps without it.
    """

    def __init__(self, model: GIN, lr: float, check_values: bool = False):
        super().__init__(model, lr)
        self.check_values = bool(check_values)

    def loss_terms(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.loss_terms(x, u, check_values=self.check_values)
