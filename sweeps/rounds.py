"""Which jobs a pruned search's round holds and what the pruner decides at its end: pure
functions of the trial log's trials (``nnsweep.sweeps.trials.Trial``), so that a rerun, which has
only the log, schedules and decides exactly as the killed run did. ``nnsweep.sweeps.search`` runs the
rounds; ``nnsweep.sweeps.pruning`` holds the rule.
"""

from __future__ import annotations

import logging
from typing import Callable

from nnsweep.core.status import Status
from nnsweep.sweeps.pruning import survivors
from nnsweep.sweeps.trials import Rung, Trial

log = logging.getLogger("nnsweep.search")


def paused(trials: list[Trial]) -> list[Trial]:
    """Trials the pruner kept, waiting to train to their next rung (in trial order)."""
    return [t for t in trials if t.status == Status.PAUSED and t.told is None and t.rungs]


def next_rung(trial: Trial, rungs: list[int], max_epochs: int | None) -> int | None:
    """The epoch a trial's next job trains it to: its next rung, or the last epoch."""
    done = trial.epochs or 0
    return next((r for r in rungs if r > done), max_epochs)


def new_per_round(kept: list[tuple[Trial, int]], rungs: list[int], batch_size: int) -> int:
    """How many new trials a round starts: ``batch_size``, or more while the trials the pruner
    kept train their longer rungs. A round lasts as long as its longest job; with
    ``batch_size`` workers, the epochs the kept jobs leave free are filled with new trials'
    first rungs (what asynchronous ASHA does with a free worker, decided here from the record
    alone, so that reruns decide the same)."""
    if not kept or not rungs:
        return batch_size
    lengths = [target - (t.epochs or 0) for t, target in kept]
    free = batch_size * max(max(lengths), rungs[0]) - sum(lengths)
    return max(batch_size, free // rungs[0])


def judge(epochs: int, judged: list[Trial], trials: list[Trial], eta: int, maximize: bool) -> list[Trial]:
    """Decide for the trials that reached the rung at ``epochs`` in this round (their
    ``objective`` is their value there), against every value recorded at that rung: append the
    rung to each and mark it paused (kept) or pruned; returns the pruned ones."""
    values = {t.number: r.value for t in trials for r in t.rungs if r.epochs == epochs}
    values.update({t.number: t.objective for t in judged})
    kept = survivors(values, [t.number for t in judged], eta, maximize=maximize)
    for trial in judged:
        trial.rungs.append(Rung(epochs, trial.objective, trial.number in kept))
        trial.status = Status.PAUSED if trial.number in kept else Status.PRUNED
    log.info(
        "rung at %d epochs: %d of %d trials continue (%s)",
        epochs,
        len(kept),
        len(judged),
        ", ".join(f"#{t.number} {_fmt(t.objective)}{'' if t.number in kept else ' pruned'}" for t in judged),
    )
    return [t for t in judged if t.number not in kept]


def mark_copies(new: list[Trial], trials: list[Trial], key: Callable[[Trial], str]) -> None:
    """A new point equal to an earlier trial's (``key``: what identifies a point; engines repeat
    points of small categorical spaces) is a copy: in a pruned search it would share the
    original's run directory at another rung, so it trains nothing and ends as the original
    ends (``settle_copies``)."""
    seen = {key(t): t.number for t in trials if t.copy_of is None}
    for trial in new:
        if key(trial) in seen:
            trial.copy_of = seen[key(trial)]
            log.info(
                "trial %d repeats trial %d: it ends as that one does, without training",
                trial.number,
                trial.copy_of,
            )
        else:
            seen[key(trial)] = trial.number


def settle_copies(trials: list[Trial]) -> list[Trial]:
    """Copies whose original has ended, given its result; returns them."""
    settled = []
    for trial in trials:
        original = trials[trial.copy_of] if trial.copy_of is not None else None
        if original is not None and trial.told is None and original.told is not None:
            for name in ("job", "run_dir", "objective", "status", "told", "epochs"):
                setattr(trial, name, getattr(original, name))
            settled.append(trial)
    return settled


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
