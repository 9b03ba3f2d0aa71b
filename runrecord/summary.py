"""A run's ``summary.json`` (``Summary``, checked as it is read) and its class labels."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from nnsweep.core.status import Status
from nnsweep.nets.evaluation import chance_bar
from nnsweep.runrecord.bounded import parse_json
from nnsweep.runrecord.names import (
    RunRecordError,
)


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float if it is a finite number, else None (JSON and sweepers have no NaN)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass
class Summary:
    """``summary.json``: how a run stands and its run-level numbers (None where there is none)."""

    status: Status = Status.RUNNING
    epochs: int | None = None  # the epoch budget it was asked for
    epochs_completed: int = 0
    best_val_acc: float | None = None
    best_epoch: int | None = None
    final_val_acc: float | None = None
    best_val_loss: float | None = None
    diverged_epoch: int | None = None
    test_acc: float | None = None
    test_loss: float | None = None
    wall_time_s: float | None = None  # training time, every invocation's (a resumed run's too)
    n_params: int | None = None
    data: str | None = None
    train_size: int | None = None
    val_size: int | None = None
    val_is_test: bool = False  # data.val_size=0: the test set was scored in validation's place
    test_size: int | None = None
    classes: int | None = None  # of its data set; None in records from before it was recorded
    objective: str = "best_val_acc"
    objective_direction: str = "max"
    error: str | None = None
    run_dir: str | None = None

    def objective_value(self) -> float | None:
        """The number a sweeper optimises (``objective`` names the field), or None if the run
        produced none: it failed (whatever it reached before its error: a search tells a failed
        trial its penalty and counts it), or diverged before its first validation."""
        if self.status == Status.FAILED:
            return None
        return finite_or_none(getattr(self, self.objective, None))

    @property
    def at_chance(self) -> bool:
        """Whether the run ended by itself (ok, early stopped) without learning: its best
        validation accuracy is no better than guessing (``nnsweep.nets.evaluation.chance_bar``, from its
        classes and validation size; 10 classes in records from before they were recorded, as
        every data set then had). Such a run is no result, whatever its status says. Pruned and
        paused runs are not judged: they were stopped before they could learn."""
        if self.status not in (Status.OK, Status.EARLY_STOPPED) or not self.val_size:
            return False
        best = finite_or_none(self.best_val_acc)
        return best is not None and best <= chance_bar(self.classes or 10, self.val_size)

    def is_done(self, epochs: int | None, pause_after: int | None = None) -> bool:
        """Whether a run asked for ``epochs`` epochs (pausing after ``pause_after``) needs no more
        training: it trained them (up to the pause), or it ended by itself. A pruned run asked
        for more epochs than it has continues: a search stopped it, not its training. With no
        epoch budget known (``None``: a task that is not nnsweep.experiments.train), once it finished."""
        if epochs is None:
            return self.status.is_finished()
        if self.status in (Status.OK, Status.PAUSED, Status.PRUNED):
            return self.epochs_completed >= min(epochs, pause_after or epochs)
        return self.status.is_finished()

    def check_possible(self) -> None:
        """``ValueError`` naming the first number no training writes: an accuracy outside 0..1,
        a negative count, loss or time, more epochs completed than the run was asked for. An
        edited or damaged summary is then a damaged record (left out of a sweep's tables and its
        page, rewritten by a resume) instead of a "Best: ... inf%" or a run that never resumes."""
        for name in ACCURACIES:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is {value!r}, not a fraction in 0..1")
        for name in NON_NEGATIVE:
            value = getattr(self, name)
            if value is not None and not 0 <= value < math.inf:
                raise ValueError(f"{name} is {value!r}, not a number of 0 or more")
        if self.epochs is not None and self.epochs_completed > self.epochs:
            raise ValueError(
                f"epochs_completed is {self.epochs_completed}, more than the {self.epochs} epochs the run was asked for"
            )
        for name in ("best_epoch", "diverged_epoch"):
            value = getattr(self, name)
            if value is not None and value > max(self.epochs_completed, 1):
                raise ValueError(f"{name} is {value}, after the {self.epochs_completed} epochs completed")

    def to_json(self) -> str:
        data = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}
        data["status"] = self.status.value
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: Path) -> "Summary":
        try:
            data = parse_json(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            types = {f.name: f.type for f in fields(cls)}
            for key, value in data.items():
                if key in types and not _of_type(value, types[key]):
                    raise ValueError(f"{key} is {value!r}, expected {types[key]}")
            summary = cls(**{k: v for k, v in data.items() if k in types})
            summary.status = Status(summary.status)
            summary.check_possible()
        except (ValueError, TypeError) as err:
            raise RunRecordError(f"{source} is unreadable ({err}); rerun the sweep or run to rewrite it") from None
        return summary


# Summary fields that are fractions, and those no run makes negative (``Summary.check_possible``).
ACCURACIES = ("best_val_acc", "final_val_acc", "test_acc")
NON_NEGATIVE = (
    "epochs",
    "epochs_completed",
    "best_epoch",
    "diverged_epoch",
    "best_val_loss",
    "test_loss",
    "wall_time_s",
    "n_params",
    "train_size",
    "val_size",
    "test_size",
    "classes",
)


def _of_type(value: Any, annotation: str) -> bool:
    """Whether a JSON value fits a ``Summary`` field's annotation (``int | None`` ...)."""
    if value is None:
        return "None" in annotation
    if isinstance(value, bool) or annotation.startswith("bool"):
        return isinstance(value, bool) and annotation.startswith("bool")
    if annotation.startswith("int"):
        return isinstance(value, int)
    if annotation.startswith("float"):
        return isinstance(value, (int, float))
    return isinstance(value, str)  # str, Status


@dataclass(frozen=True)
class ClassLabels:
    """What a run's data set calls its classes (``names[k]`` for label k) and one image."""

    names: tuple[str, ...]
    noun: str = "digit"

    @classmethod
    def numbered(cls, classes: int = 10, noun: str = "digit") -> "ClassLabels":
        """The labels themselves, 0, 1, 2 ...: digits, or any set whose classes have no names."""
        return cls(tuple(str(k) for k in range(classes)), noun)

    @property
    def plural(self) -> str:
        return self.noun + "s"

    def __getitem__(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else str(label)
