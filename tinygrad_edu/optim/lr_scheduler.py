"""Learning-rate schedules: each sets the optimizer's learning rate from a closed form of the epoch.

Call ``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls.
Constructing a scheduler sets epoch 0's rate (the optimizer's own ``lr`` is the base).
The closed forms are the classic from-scratch recipes:

    StepLR             lr_0 * gamma ** (epoch // step_size)                 (step decay)
    ExponentialLR      lr_0 * gamma ** epoch                                (exponential decay)
    CosineAnnealingLR  eta_min + (lr_0 - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

Computed from the epoch directly (not by updating the previous rate), they never drift.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import events
from .optimizer import Optimizer


class LRScheduler:
    """Base: ``step()`` advances ``last_epoch`` and writes ``lr_at(base_lr, epoch)`` into every group."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        last_epoch = _epoch(type(self).__name__, last_epoch)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:  # pragma: no cover - abstract
        """The learning rate of ``epoch`` (0 first) for a group whose initial rate is ``base_lr``."""
        raise NotImplementedError

    @events.replayed
    def step(self) -> None:
        """Move to the next epoch and set its learning rate."""
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = float(self.lr_at(base_lr, self.last_epoch))
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The learning rate of each parameter group, as set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The schedule's settings and position (everything but the optimizer), for a checkpoint."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned, so the schedule continues where it stopped.

        The names must be this schedule's own: another schedule's state raises a
        ``ValueError`` and changes nothing.
        """
        own = self.state_dict()
        if not isinstance(state_dict, dict) or set(state_dict) != set(own):
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected the entries {sorted(own)}, got {got}")
        self.__dict__.update(state_dict)


def _whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _positive_int(owner: str, name: str, value) -> int:
    """``value`` as an int (a NumPy integer is welcome), once it is a whole number > 0."""
    if not _whole(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _positive(owner: str, name: str, value) -> float:
    """``value`` as a float, once it is a finite number > 0."""
    if not _real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _epoch(owner: str, value) -> int:
    if not _whole(value) or value < -1:
        raise ValueError(f"{owner}: last_epoch must be a whole number >= -1 (-1: not started), got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: lr_0 * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = _positive("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: lr_0 * gamma ** epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _positive("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr_0 down to ``eta_min`` over ``T_max`` epochs (then back up, periodically)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        if not _real(eta_min) or not math.isfinite(eta_min) or eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be a finite number >= 0, got {eta_min!r}")
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
