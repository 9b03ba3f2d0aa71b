"""Successive halving: which trials of a search continue at each rung (``hydra.sweeper.pruner``).

A pruned search trains every trial to its first rung (``min_epochs``), judges it there, and
trains only the promising ones further: rungs at ``min_epochs * eta**k`` epochs below
``trainer.epochs`` (``eta``: ``reduction_factor``), then ``trainer.epochs``. Min 1, eta 3 and
27 epochs: rungs at 1, 3 and 9 epochs, then 27.

The rule. At the end of each round (``nnsweep.sweeps.search``: a batch of jobs, each training one trial
to its next rung), every trial that reached a rung in that round is judged: with ``n`` values
recorded at that rung so far (every trial that ever reached it, this round's included), it
continues when its value is at least the ``k``-th best, ``k = max(1, n // eta)``; otherwise it is
pruned. A value equal to the ``k``-th best continues. A trial without a value there (no
validation accuracy) is pruned and not counted.

Why this rule. It is the rule of Optuna's ``SuccessiveHalvingPruner`` (with
``min_early_stopping_rate=0``), which judges a trial at each rung against the values reported
there so far. Optuna and Ray (``AsyncHyperBandScheduler``: stop when below the ``1 - 1/eta``
quantile of the values recorded at the milestone) decide when each trial reports, so with
parallel workers their decisions depend on which job finished first, and a rerun of the same
search can prune other trials. Here a round's trials are judged together once all of them
finished, so decisions are a function of the sweep's record alone: the same command and seed
give the same pruned set, also after a ``kill -9`` and a rerun. With a whole grid in one round
it is synchronous successive halving (the top ``1/eta`` of all trials continue). Which trials
share a round is the sweeper's business (``nnsweep.sweeps.search``). Trials are never suspended for a later promotion
(the ASHA paper's variant): a trial's fate is known when it stops, so the search engine learns
from it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

METHODS = ("none", "asha")


class PruningError(ValueError):
    """Settings a pruner cannot work with (the message names the setting and the fix)."""


@dataclass(frozen=True)
class Pruner:
    method: str = "none"
    min_epochs: int = 1
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise PruningError(f"hydra.sweeper.pruner.method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.min_epochs < 1:
            raise PruningError(f"hydra.sweeper.pruner.min_epochs must be at least 1, got {self.min_epochs}")
        if self.reduction_factor < 2:
            raise PruningError(
                f"hydra.sweeper.pruner.reduction_factor must be at least 2 (keep the top 1/eta), "
                f"got {self.reduction_factor}"
            )

    @property
    def on(self) -> bool:
        return self.method != "none"

    def rungs(self, max_epochs: int) -> list[int]:
        """The epochs at which trials pause and are judged: every one below ``max_epochs``."""
        if not self.on:
            return []
        if self.min_epochs >= max_epochs:
            raise PruningError(
                f"hydra.sweeper.pruner.min_epochs={self.min_epochs} leaves nothing to prune with "
                f"trainer.epochs={max_epochs}: the first rung must come before the last epoch; lower "
                "min_epochs or raise trainer.epochs"
            )
        rungs, epochs = [], self.min_epochs
        while epochs < max_epochs:
            rungs.append(epochs)
            epochs *= self.reduction_factor
        return rungs

    def settings(self) -> dict[str, Any] | None:
        """As the trial log records it (None when off, so logs of unpruned searches stay as they were)."""
        if not self.on:
            return None
        return {"method": self.method, "min_epochs": self.min_epochs, "reduction_factor": self.reduction_factor}


def survivors(at_rung: dict[int, float | None], judged: Sequence[int], eta: int, maximize: bool = True) -> set[int]:
    """Which of ``judged`` (trial numbers) continue, given every value recorded at one rung
    (``at_rung``: trial number -> value, ``judged`` included)."""
    values = sorted((v for v in at_rung.values() if v is not None), reverse=maximize)
    if not values:
        return set()
    kth = values[max(1, len(values) // eta) - 1]
    keep = (lambda v: v >= kth) if maximize else (lambda v: v <= kth)
    return {n for n in judged if at_rung.get(n) is not None and keep(at_rung[n])}
