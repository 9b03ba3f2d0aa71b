"""The seed race's rounds in the sweeper (``hydra.sweeper.repeats=race``): after the grid's first
round (every point with ``START_SEEDS`` seeds), each round trains one more seed of the configurations
still within seed noise of the leader, and of the leader, until the race is decided
(``nnsweep.sweeps.race`` decides; here its rounds are launched and recorded).

A race round is recorded in the trial log like any round (it asks nothing and tells nothing, its
``trained`` names the trials that got seeds), and each trial's ``repeats`` grows by the seeds it got:
the log holds every seed's value, so a rerun after a kill recomputes the same standings and goes on
where the race was (finished runs on disk are reused, not retrained).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnsweep.runrecord import RunDir, RunRecordError
from nnsweep.sweeps import repeats as repeat_runs
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.collect import collect
from nnsweep.sweeps.errors import SweepError, machine_failure
from nnsweep.sweeps.race import RaceState, configuration_name, entries_of, standings
from nnsweep.sweeps.search_space import SearchSpace
from nnsweep.sweeps.settings import SweeperSettings
from nnsweep.sweeps.trials import TRIALS, Round, Trial, TrialLog

if TYPE_CHECKING:
    from nnsweep.sweeps.launch import TrialLauncher
    from nnsweep.sweeps.progress import SweepProgress

log = logging.getLogger("nnsweep.search")


def race_open(settings: SweeperSettings, trials: list[Trial], sweep_dir: Path) -> bool:
    """A race whose recorded seeds leave it undecided (a rerun after a kill goes on racing)."""
    return settings.race and not standings(entries_of(trials), settings.repeats, _val_size(trials, sweep_dir)).decided


def _val_size(trials: list[Trial], sweep_dir: Path) -> float | None:
    """The validation digits the runs were scored on (the smallest: one digit is the coarsest)."""
    sizes = []
    for trial in trials:
        for run_dir in trial.run_dirs()[:1]:
            try:
                summary = RunDir(sweep_dir / run_dir).read_summary() if run_dir else None
            except RunRecordError:
                summary = None
            if summary is not None and summary.val_size:
                sizes.append(float(summary.val_size))
    return min(sizes) if sizes else None


def race(
    sweeper: Any,  # the SearchSweep running the race (it launches and reads the runs)
    space: SearchSpace,
    sweep_dir: Path,
    launcher: TrialLauncher,
    next_job: int,
    record: TrialLog,
    progress: SweepProgress,
) -> RaceState:
    """Race rounds until the race is decided; each recorded once its runs finished."""
    settings = sweeper.settings
    trials = record.trials
    progress.total += sum(max(0, len(t.repeats) - settings.first_seeds) for t in trials)  # raced before a rerun
    val_size = _val_size(trials, sweep_dir)  # the same for every round
    while True:
        state = standings(entries_of(trials), settings.repeats, val_size)
        if state.decided:
            log.info("%s", state.sentence())
            return state
        by_name = {configuration_name(t.params): t for t in trials}
        wanted = {by_name[name].number: count for name, count in state.wanted.items()}
        racing = [t for t in trials if t.number in wanted]
        new_seeds = {t.number: _next_seeds(t, wanted[t.number]) for t in racing}
        if not any(new_seeds.values()):  # a log edited by hand (a seed twice): never loop on it
            raise SweepError(
                f"{sweep_dir / TRIALS} names the same seed twice in a trial's repeats, so the race cannot go on; "
                "move it away to start the race afresh (finished runs are reused)"
            )
        progress.total += sum(len(s) for s in new_seeds.values())
        progress.expect(
            [
                repeat_runs.with_seed(space.overrides(t.point), settings.repeat_key, seed)
                for t in racing
                for seed in new_seeds[t.number]
            ]
        )
        jobs = [(t, None) for t in racing]
        outcomes, next_job = sweeper._evaluate(
            jobs, space, sweep_dir, launcher, next_job, None, seeds_of=lambda t, seeds=new_seeds: seeds[t.number]
        )
        every_run = [o for per_seed in outcomes for o in per_seed]
        if any(o.machine_failed for o in every_run):
            collect(sweep_dir)  # the round is not recorded: a rerun retries it
            raise machine_failure(every_run, sweep_dir, "run", "of this round")
        for trial, per_seed in zip(racing, outcomes):
            trial.repeats = [*trial.repeats, *repeat_runs.record(per_seed, new_seeds[trial.number], sweep_dir)]
            _settle(trial, sweeper)
        progress.settle(every_run)
        record.rounds.append(Round(asked=[], trained=[(t.number, None) for t in racing], told=[]))
        trial_log.save(sweep_dir, record)


def _next_seeds(trial: Trial, count: int) -> list[int]:
    """The seeds a trial trains next to have ``count``: the smallest it has not had."""
    had = {r.seed for r in trial.repeats}
    free = (seed for seed in range(count + len(had)) if seed not in had)
    return [next(free) for _ in range(count - len(had))]


def _settle(trial: Trial, sweeper: Any) -> None:
    """A raced trial's value: the mean of its seeds, or none once one of them has none."""
    broken = next((r for r in trial.repeats if r.objective is None), None)
    if broken is not None:
        trial.objective, trial.status = None, broken.status
    else:
        trial.objective = sum(r.objective for r in trial.repeats) / len(trial.repeats)  # type: ignore[misc]
    trial.told = sweeper._to_minimise(trial.objective) if trial.objective is not None else trial.told
