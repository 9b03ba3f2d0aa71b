"""Learning-rate schedules: the rate for each epoch, and (for plateau halving) when to stop.

Interface: ``lr(epoch)`` gives the rate for a 0-based epoch before it starts; ``observe(epoch,
val_acc)`` is told the validation accuracy after it ends and returns True to stop training.
``state_dict()`` holds whatever must survive a checkpoint (plain JSON values).
"""

from __future__ import annotations

import math
from typing import Any


class Schedule:
    name = "schedule"

    def __init__(self, base_lr: float) -> None:
        if not math.isfinite(base_lr) or base_lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got {base_lr}")
        self.base_lr = float(base_lr)

    def lr(self, epoch: int) -> float:
        raise NotImplementedError

    def observe(self, epoch: int, val_acc: float) -> bool:
        return False

    def hyperparameters(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in {"base_lr": self.base_lr, **self.hyperparameters()}.items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same rate every epoch (Rashid; Nielsen ch. 1)."""

    name = "constant"

    def lr(self, epoch):
        return self.base_lr


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    name = "step"

    def __init__(self, base_lr: float, step_size: int = 10, gamma: float = 0.5) -> None:
        super().__init__(base_lr)
        if step_size < 1 or not 0 < gamma <= 1:
            raise ValueError(f"step schedule needs step_size >= 1 and 0 < gamma <= 1, got {step_size}, {gamma}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def hyperparameters(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """``base_lr * gamma^epoch``."""

    name = "exponential"

    def __init__(self, base_lr: float, gamma: float = 0.95) -> None:
        super().__init__(base_lr)
        if not 0 < gamma <= 1:
            raise ValueError(f"exponential schedule needs 0 < gamma <= 1, got {gamma}")
        self.gamma = float(gamma)

    def lr(self, epoch):
        return self.base_lr * self.gamma**epoch

    def hyperparameters(self):
        return {"gamma": self.gamma}


class Cosine(Schedule):
    """Cosine annealing from ``base_lr`` towards ``min_lr`` over ``total_epochs`` (Loshchilov &
    Hutter 2017, SGDR, eq. 5), in PyTorch's ``CosineAnnealingLR(T_max=total_epochs)`` convention:

        lr_e = min_lr + (base_lr - min_lr) * (1 + cos(pi * e / total_epochs)) / 2,  e = 0 .. T-1

    so the last epoch still trains at a rate above ``min_lr``. (Reaching ``min_lr`` at the last
    epoch, with its default of 0, would make that epoch a pass that moves no weight at all.)

    Checkpoints written before this convention hold no schedule state: such a run, resumed,
    keeps the curve its first epochs were trained on, ``pi * e / (T - 1)``, which ends at
    ``min_lr`` (``ends_at_min``), so a resume never changes a run's schedule half-way.
    """

    name = "cosine"

    def __init__(self, base_lr: float, total_epochs: int, min_lr: float = 0.0) -> None:
        super().__init__(base_lr)
        if total_epochs < 1 or min_lr < 0:
            raise ValueError(f"cosine schedule needs total_epochs >= 1 and min_lr >= 0, got {total_epochs}, {min_lr}")
        self.total_epochs, self.min_lr = int(total_epochs), float(min_lr)
        self.ends_at_min = False  # True only for a run recorded before the convention above

    def lr(self, epoch):
        if self.ends_at_min:
            progress = min(epoch, self.total_epochs - 1) / max(self.total_epochs - 1, 1)
        else:
            progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))

    def hyperparameters(self):
        return {"total_epochs": self.total_epochs, "min_lr": self.min_lr}

    def state_dict(self):
        return {"ends_at_min": self.ends_at_min}

    def load_state_dict(self, state):
        # No key: a checkpoint from before the state existed, whose epochs ended at min_lr.
        self.ends_at_min = bool(state.get("ends_at_min", True))


class PlateauHalving(Schedule):
    """Nielsen's learning-rate schedule (ch. 3, "Variable learning rate" and problem):
    multiply the rate by ``factor`` (a half) whenever validation accuracy has not improved for
    ``patience`` epochs, and stop once it has fallen to ``min_fraction`` (1/128) of the start.
    """

    name = "plateau"

    def __init__(self, base_lr: float, patience: int = 10, factor: float = 0.5, min_fraction: float = 1 / 128) -> None:
        super().__init__(base_lr)
        if patience < 1 or not 0 < factor < 1 or not 0 < min_fraction <= 1:
            raise ValueError(
                f"plateau schedule needs patience >= 1, 0 < factor < 1, 0 < min_fraction <= 1; "
                f"got {patience}, {factor}, {min_fraction}"
            )
        self.patience, self.factor, self.min_fraction = int(patience), float(factor), float(min_fraction)
        self.current = self.base_lr
        self.best = -math.inf
        self.since_best = 0

    def lr(self, epoch):
        return self.current

    def observe(self, epoch, val_acc):
        if val_acc > self.best:
            self.best, self.since_best = val_acc, 0
            return False
        self.since_best += 1
        if self.since_best >= self.patience:
            self.current *= self.factor
            self.since_best = 0
        return self.current < self.base_lr * self.min_fraction * (1 + 1e-9)

    def hyperparameters(self):
        return {"patience": self.patience, "factor": self.factor, "min_fraction": self.min_fraction}

    def state_dict(self):
        return {"current": self.current, "best": self.best, "since_best": self.since_best}

    def load_state_dict(self, state):
        self.current, self.best, self.since_best = state["current"], state["best"], state["since_best"]


SCHEDULES = {cls.name: cls for cls in (Constant, StepDecay, ExponentialDecay, Cosine, PlateauHalving)}


def make_schedule(name: str, base_lr: float, **kwargs) -> Schedule:
    """A schedule by name, with an error that lists the valid names."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(sorted(SCHEDULES))}")
    return SCHEDULES[name](base_lr, **kwargs)
