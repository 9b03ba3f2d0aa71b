"""Repeats: one point of a search trained with several seeds, the engine told their mean.

A single seed answers "is lr 0.877 better than 0.39?" inside the noise of the initialisation
and of the shuffling: on 500 validation digits two seeds of one setting differ by a few tenths
of a point. With ``hydra.sweeper.repeats=N`` every point the engine asks for is trained N times,
``trainer.seed`` (``repeat_key``) 0 .. N-1, each an ordinary run of the sweep; the trial is one
point of the search whose objective is the mean of its repeats. ``nnsweep.sweeps.collect`` then groups
the runs by everything but the seed (``configs.csv``: mean and 95% interval).

A trial is as good as its worst repeat's record: if one seed failed or diverged, the trial did
(an engine told the mean of the survivors would favour a rate that diverges one time in three);
a repeat the machine failed under makes the round fail, as any job does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from nnsweep.sweeps.outcomes import Outcome, relative_run_dir
from nnsweep.sweeps.trials import SeedRun

REPEAT_KEY = "trainer.seed"
MAX_REPEATS = (
    100  # seeds per point (hydra.sweeper.repeats, nnsweep sweep-lr --repeats); more is a typo, and each is a run
)


def seeds(repeats: int) -> list[int | None]:
    """The seeds each point is trained with: 0 .. repeats-1, or [None] (the task's own seed) for one."""
    return list(range(repeats)) if repeats > 1 else [None]


def with_seed(overrides: list[str], key: str, seed: int | None) -> list[str]:
    """A job's overrides for one repeat (unchanged without repeats)."""
    return overrides if seed is None else [*overrides, f"{key}={seed}"]


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """The outcomes of one trial's repeats (in seed order) as the trial's outcome: the mean
    objective when every repeat has one, else the first repeat that has none (the machine's
    failures first: they stop the round), with its status, error and epochs."""
    if len(outcomes) == 1:
        return outcomes[0]
    broken = next((o for o in outcomes if o.machine_failed), None) or next(
        (o for o in outcomes if o.objective is None), None
    )
    if broken is not None:
        return broken
    first = outcomes[0]
    short = next((o for o in outcomes if o.epochs != first.epochs), first)  # a repeat that stopped elsewhere
    mean = sum(o.objective for o in outcomes) / len(outcomes)  # type: ignore[misc]
    return dataclasses.replace(first, objective=mean, epochs=short.epochs)


def record(outcomes: Sequence[Outcome], seeds_: Sequence[int | None], sweep_dir: Path) -> list[SeedRun]:
    """The trial log's entry of a trial's repeats: each seed's job, run directory, status and objective."""
    return [
        SeedRun(seed, o.job, relative_run_dir(o.run_dir, sweep_dir), o.status, o.objective)
        for seed, o in zip(seeds_, outcomes)
    ]
