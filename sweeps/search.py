"""nnsweep's sweeper: one ask/tell loop for every search engine, with an optional pruner.

``hydra/sweeper=nnsweep`` (any engine of ``nnsweep.sweeps.engines``), ``hydra/sweeper=skopt`` (the same,
as existing sweeps name it) and ``hydra/sweeper=grid`` (the default of ``-m``) all run here
(``hydra_plugins.nnsweep_sweeper`` holds their configs). Each round asks the engine for points,
hands the round's jobs to Hydra's launcher together (``nnsweep.sweeps.launch``), reads the runs, and
tells the engine the trials that ended. What makes it safe to kill:

- A round is recorded in the trial log (``nnsweep.sweeps.trials``, ``<sweep dir>/trials.json``) only
  once every job in it finished. A rerun of the same command replays the recorded rounds (the
  same asks, checked against the record, and the same tells), so the engine is exactly where it
  was and proposes the same points an uninterrupted sweep would. A sweep that already has its
  trials is answered from the record at once.
- Recorded trials are never launched again; a job that finished after the last record (its
  round was cut short) is found in its run directory and reused, not retrained.
- Job numbers continue after the largest one on disk, so no directory is ever reused.
- A trial's own failures (an exception in training, divergence, a worker killed twice) are
  told a finite penalty and counted; past ``max_failure_rate`` the sweep stops with a clear
  message. Failures of the machine (no space, an OS error) are not the trial's: the sweep stops
  without recording that round, and a rerun retries it.

With ``pruner.method=asha`` (``nnsweep.sweeps.pruning``) a trial's job trains it to its next rung only
(``trainer.pause_after``: the run pauses with its checkpoint); at the end of the round the
pruner judges every trial that reached a rung, the kept ones continue from their checkpoints
in the next round (beside new points: ``batch_size``, or more while the kept ones train longer
rungs, see ``nnsweep.sweeps.rounds``), and the others are marked ``pruned`` in their run record and
told to the engine at the value they reached. The decisions depend only on the
record, so a rerun after ``kill -9`` makes the same ones.

At the end: ``runs.csv`` / ``epochs.csv`` (``nnsweep.sweeps.collect``), and for a search
``optimization_results.yaml`` and, for scikit-optimize's engines, its plots.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from nnsweep.experiments.cli import every_value_checked
from nnsweep.runrecord import RunDir, RunRecordError, Status, Summary, find_runs, override_key, without_bookkeeping
from nnsweep.sweeps import racing as racing_rounds
from nnsweep.sweeps import repeats as repeat_runs
from nnsweep.sweeps import rounds, warm_start
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.closing import answer_from_record, finish, say_where_the_report_is
from nnsweep.sweeps.collect import collect
from nnsweep.sweeps.engines import (
    Engine,
    make_engine,
    same_point,
)
from nnsweep.sweeps.errors import SweepError, machine_failure
from nnsweep.sweeps.launch import LaunchingSweeper, TrialLauncher
from nnsweep.sweeps.live import enabled as live_enabled
from nnsweep.sweeps.live import live_report
from nnsweep.sweeps.outcomes import Outcome, mark_run, relative_run_dir, run_outcome, trial_key
from nnsweep.sweeps.progress import SweepProgress
from nnsweep.sweeps.resume import check_versions, load_record, replay
from nnsweep.sweeps.search_space import SearchSpace, build_search_space, covering_points, grid_space
from nnsweep.sweeps.settings import SweeperSettings, check_direction, check_repeat_key, pruned_max_epochs
from nnsweep.sweeps.trials import TRIALS, Round, SeedRun, Trial

log = logging.getLogger("nnsweep.search")
MIN_TRIALS_TO_JUDGE = 5  # the failure rate of fewer trials says little (two unlucky random draws)
PAUSE_KEY = "trainer.pause_after"

__all__ = ["SearchSweep", "SweepError", "same_point"]


class SearchSweep(LaunchingSweeper):
    def __init__(self, setting: str = "engine", **settings: Any) -> None:
        """``settings``: ``hydra.sweeper``'s, checked once (``SweeperSettings.checked``); ``setting``
        names the engine's key in messages (``method`` for hydra/sweeper=skopt)."""
        self.settings = SweeperSettings.checked(setting=setting, **settings)
        self.grid: list[list[str]] = []
        self._on_disk: dict[frozenset, tuple[RunDir, Summary]] | None = None  # runs found at the start (_evaluate)

    @property
    def is_grid(self) -> bool:
        return self.settings.method == "grid"

    # ----- Hydra's sweeper interface (setup: LaunchingSweeper) -------------------------------
    def sweep(self, arguments: list[str]) -> None:
        def run(sweep_dir: Path) -> None:
            space = self._search_space(arguments)
            with live_report(sweep_dir, self.settings.live_report):  # the page follows the runs (nnsweep.sweeps.live)
                self._run(space, sweep_dir)
            say_where_the_report_is(sweep_dir, live_enabled(self.settings.live_report))

        self.run_locked(run)

    def _search_space(self, arguments: list[str]) -> SearchSpace:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.settings.params.items()] + list(arguments))
        if not self.is_grid:
            return build_search_space(overrides)
        space, self.grid = grid_space(overrides)
        self.settings = dataclasses.replace(
            self.settings, n_trials=len(self.grid), batch_size=self.settings.batch_size or len(self.grid)
        )
        return space

    def _engine(self, space: SearchSpace) -> Engine:
        try:
            return make_engine(
                space,
                self.settings.method,
                n_initial_points=self.settings.n_initial_points,
                seed=self.settings.seed,
                direction=self.settings.direction,
                acq_func=self.settings.acq_func,
                initial_point_generator=self.settings.initial_point_generator,
                grid=self.grid,
            )
        except ValueError as err:  # a space the engine cannot search (e.g. a log scale it refuses)
            raise SweepError(f"the {self.settings.method} engine cannot search this space: {err}") from None

    # ----- the search ------------------------------------------------------------------------
    # Long on purpose: the ask/tell loop: each round's steps (rungs, asks, launch, settle, tell, record) share the
    # round's trials, and their order is the replay's contract.
    def _run(self, space: SearchSpace, sweep_dir: Path) -> None:
        if PAUSE_KEY in space.names or any(override_key(o) == PAUSE_KEY for o in space.fixed):
            raise SweepError(
                f"{PAUSE_KEY} is the pruner's to set (hydra.sweeper.pruner.method=asha): leave it out of "
                "a sweep's overrides"
            )
        # Every value the search can propose is composed once, before any job starts: checking
        # each job's overrides instead would compose each trial twice (its worker composes it
        # too), a few tenths of a second a trial in this process, between rounds. A grid whose
        # every value the command's precheck checked is not composed again (1,000 values took
        # minutes), unless the configs themselves are needed (repeats, a pruner).
        needed = self.settings.repeats > 1 or self.settings.pruner.on or not (self.is_grid and every_value_checked())
        composed = (
            [
                self.hydra_context.config_loader.load_sweep_config(self.config, space.overrides(p))
                for p in covering_points(space)
            ]
            if needed
            else []
        )
        if self.settings.repeats > 1:
            check_repeat_key(self.settings, space, composed)
        max_epochs = pruned_max_epochs(self.settings, space, composed) if self.settings.pruner.on else None
        record, space = load_record(self.settings, sweep_dir, space, max_epochs)
        rungs = self.settings.pruner.rungs(max_epochs) if self.settings.pruner.on else []
        trials = record.trials
        open_race = racing_rounds.race_open(self.settings, trials, sweep_dir)  # a rerun goes on racing
        if len(trials) >= self.settings.n_trials and not rounds.paused(trials) and not open_race:
            answer_from_record(self.settings, sweep_dir, space, self._engine(space), record, max_epochs)
            return
        if self.settings.warm_start and not record.rounds and not record.warm:
            record.warm = warm_start.gather(
                self.settings.warm_start, sweep_dir, space, record.settings, self._compose, self._to_minimise
            )
            trial_log.save(sweep_dir, record)
        check_versions(self.settings, record, sweep_dir)
        engine = self._engine(space)
        if trials:
            log.info(
                "resuming %s: %d of %d trials already recorded; replaying their %d rounds",
                sweep_dir,
                len(trials),
                self.settings.n_trials,
                len(record.rounds),
            )
        replay(self.settings, engine, record, sweep_dir)
        launcher = TrialLauncher(self, record.crashes, on_crash=lambda: trial_log.save(sweep_dir, record))
        if self.settings.pruner.on:
            self._check_run_dirs_name_points(space)
        next_job = self._next_job_number(sweep_dir)
        # With repeats the progress line counts runs (each seed of each point), as the launcher sees them.
        progress = SweepProgress(
            sweep_dir,
            self.settings.n_trials * self.settings.first_seeds,
            swept=space.names,
            direction=self.settings.direction,
        )
        if self.is_grid:
            progress.expect(self._runs_of([space.overrides(p) for p in self.grid[len(trials) :]]))
        progress.settle(
            [o for t in trials if t.told is not None for o in self._recorded_outcomes(t, space)], before=True
        )
        with progress.watching():
            while True:
                self._check_failures(trials, sweep_dir)
                jobs = [(t, rounds.next_rung(t, rungs, max_epochs)) for t in rounds.paused(trials)]
                k = min(
                    rounds.new_per_round(jobs, rungs, self.settings.batch_size), self.settings.n_trials - len(trials)
                )
                new = [self._new_trial(len(trials) + i, p, space) for i, p in enumerate(engine.ask(k))] if k > 0 else []
                if self.settings.pruner.on:
                    rounds.mark_copies(new, trials, lambda t: trial_key(space.overrides(t.point)))
                jobs += [(t, rungs[0] if rungs else max_epochs) for t in new if t.copy_of is None]
                if not jobs and not new:
                    break
                if not self.is_grid:
                    progress.expect(self._runs_of([space.overrides(t.point) for t in new]))
                outcomes, next_job = self._evaluate(jobs, space, sweep_dir, launcher, next_job, max_epochs)
                every_run = [o for per_seed in outcomes for o in per_seed]
                if any(o.machine_failed for o in every_run):
                    collect(sweep_dir)  # the round is not recorded: a rerun retries it
                    raise machine_failure(
                        every_run, sweep_dir, "run" if self.settings.repeats > 1 else "trial", "of this round"
                    )
                told = self._settle_round(jobs, outcomes, trials + new, sweep_dir, max_epochs)
                told = sorted(told + rounds.settle_copies(trials + new), key=lambda t: t.number)
                engine.tell(told)
                progress.settle([o for t in told for o in self._recorded_outcomes(t, space, sweep_dir)])
                trials.extend(new)
                record.rounds.append(
                    Round(
                        asked=[t.number for t in new],
                        trained=[(t.number, target) for t, target in jobs],
                        told=[t.number for t in told],
                    )
                )
                trial_log.save(sweep_dir, record)
            if self.settings.race:
                racing_rounds.race(self, space, sweep_dir, launcher, next_job, record, progress)
        finish(self.settings, sweep_dir, space, engine, trials, max_epochs, record.warm)

    def _compose(self, overrides: list[str]) -> dict[str, Any]:
        """The task's config for these overrides as its runs record it (unresolved, without hydra)."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        task = OmegaConf.to_container(config, resolve=False)
        task.pop("hydra", None)  # type: ignore[union-attr]
        return task  # type: ignore[return-value]

    def _new_trial(self, number: int, point: list[Any], space: SearchSpace) -> Trial:
        return Trial(number, point=point, params=dict(zip(space.names, point)))

    def _job_overrides(self, trial: Trial, target: int | None, space: SearchSpace, max_epochs: int | None) -> list[str]:
        overrides = space.overrides(trial.point)
        if target is not None and max_epochs is not None and target < max_epochs:
            overrides.append(f"{PAUSE_KEY}={target}")
        return overrides

    def _runs_of(self, trials_overrides: list[list[str]]) -> list[list[str]]:
        """The overrides of every run the trials train: each trial's, once per seed."""
        return [
            repeat_runs.with_seed(o, self.settings.repeat_key, seed)
            for o in trials_overrides
            for seed in repeat_runs.seeds(self.settings.first_seeds)
        ]

    def _evaluate(
        self,
        jobs,
        space: SearchSpace,
        sweep_dir: Path,
        launcher: TrialLauncher,
        first_job: int,
        max_epochs: int | None,
        seeds_of=None,
    ) -> tuple[list[list[Outcome]], int]:
        """Launch the round's jobs, each once per seed (``seeds_of(trial)``: a race's next seeds;
        else the first round's), reusing any run that already got there on disk, and read
        results: per job, its repeats' outcomes in seed order."""
        if self._on_disk is None:  # what an earlier invocation left (what this one trains, it knows)
            self._on_disk = self._runs_on_disk(sweep_dir)
        seeds_of = seeds_of or (lambda trial: repeat_runs.seeds(self.settings.first_seeds))
        outcomes: list[list[Outcome | None]] = [[None] * len(seeds_of(trial)) for trial, _ in jobs]
        batch, slots = [], []
        for i, (trial, target) in enumerate(jobs):
            before = {r.seed: r.job for r in trial.repeats}
            for k, seed in enumerate(seeds_of(trial)):
                overrides = repeat_runs.with_seed(
                    self._job_overrides(trial, target, space, max_epochs), self.settings.repeat_key, seed
                )
                found = self._on_disk.get(frozenset(without_bookkeeping(overrides)))
                if found is not None and found[1].is_done(max_epochs, target):  # target: its rung, or max_epochs
                    job = (
                        before[seed]
                        if seed in before
                        else (trial.job if not before and k == 0 else found[0].job_number())
                    )
                    outcome = run_outcome(found[0], found[1], overrides, job)
                    log.info(
                        "reusing %s trial %s",
                        "finished" if outcome.status.is_finished() else outcome.status.value,
                        outcome.run_dir,
                    )
                    outcomes[i][k] = outcome
                else:
                    batch.append(overrides)
                    slots.append((i, k))
        next_job = first_job
        if batch:
            launched, next_job = launcher.run(batch, first_job)
            for (i, k), outcome in zip(slots, launched):
                outcomes[i][k] = outcome
        return outcomes, next_job  # type: ignore[return-value]

    def _settle_round(
        self, jobs, outcomes: list[list[Outcome]], trials: list[Trial], sweep_dir: Path, max_epochs: int | None
    ) -> list[Trial]:
        """Update the round's trials from their outcomes (a trial's repeats combined: the mean),
        judge those that reached a rung, mark the pruned ones in their runs; returns the trials
        that ended, in trial order."""
        ended, reached = [], {}
        for (trial, target), per_seed in zip(jobs, outcomes):
            outcome = repeat_runs.combine(per_seed)
            if self.settings.repeats > 1:
                trial.repeats = repeat_runs.record(per_seed, repeat_runs.seeds(self.settings.first_seeds), sweep_dir)
                first = per_seed[0]
                outcome = dataclasses.replace(outcome, job=first.job, run_dir=first.run_dir)
            trial.job = outcome.job if outcome.job is not None else trial.job
            trial.run_dir = relative_run_dir(outcome.run_dir, sweep_dir) or trial.run_dir
            trial.objective, trial.epochs = outcome.objective, outcome.epochs
            at_rung = (
                max_epochs is not None
                and target is not None
                and target < max_epochs
                and outcome.status in (Status.PAUSED, Status.PRUNED)
            )
            if at_rung and outcome.epochs != target:
                raise SweepError(
                    f"{outcome.run_dir} has trained {outcome.epochs} epochs where this search's trial "
                    f"{trial.number} is at its rung of {target}: it belongs to another pruned search "
                    f"(whose {TRIALS} was moved away?); move its run directories away too, or choose a "
                    "new sweep=<name>"
                )
            if at_rung:
                check_direction(self.settings, outcome)
                reached.setdefault(target, []).append(trial)
            else:
                trial.status = outcome.status
                ended.append(trial)
        for epochs, judged in reached.items():
            pruned = rounds.judge(
                epochs, judged, trials, self.settings.pruner.reduction_factor, self.settings.direction == "maximize"
            )
            for trial in pruned:
                for run_dir in trial.run_dirs():
                    mark_run(RunDir(sweep_dir / run_dir), Status.PRUNED)
            ended.extend(pruned)
        ended.sort(key=lambda t: t.number)
        for trial in ended:  # in trial order: a failure is told the worst value told before it
            objective = trial.objective
            trial.told = self._to_minimise(objective) if objective is not None else self._penalty(trials)
        return ended

    def _recorded_outcomes(self, trial: Trial, space: SearchSpace, sweep_dir: Path | None = None) -> list[Outcome]:
        """A recorded trial as the outcomes of its runs (one per repeat), for the progress line."""
        overrides = space.overrides(trial.point)
        if self.settings.repeats == 1 or not trial.repeats:
            return [_recorded_outcome(trial, overrides, sweep_dir)]
        return [
            _recorded_outcome(r, repeat_runs.with_seed(overrides, self.settings.repeat_key, r.seed), sweep_dir)
            for r in trial.repeats
        ]

    def _check_run_dirs_name_points(self, space: SearchSpace) -> None:
        """A pruned trial continues in its run directory, so the directory must follow from the
        point, not from the job number (``hydra.sweep.subdir``)."""
        launcher = TrialLauncher(self)
        point = space.overrides(covering_points(space)[0])
        if launcher.job_dir(point, 0)[0] != launcher.job_dir(point, 1)[0]:
            raise SweepError(
                "a pruned trial continues in its own run directory, but hydra.sweep.subdir changes with "
                "the job number; keep the default subdir (${nnsweep.run_dir_name:${hydra.job.override_dirname}})"
            )

    def _next_job_number(self, sweep_dir: Path) -> int:
        numbers = [n for n in (run.job_number() for run in find_runs(sweep_dir)) if n is not None]
        return max(numbers, default=-1) + 1

    def _runs_on_disk(self, sweep_dir: Path) -> dict[frozenset, tuple[RunDir, Summary]]:
        """The runs on disk that have a summary, keyed by their overrides (a round cut short may
        have finished some of its jobs)."""
        found = {}
        for run in find_runs(sweep_dir):
            try:
                summary = run.read_summary()
            except RunRecordError:
                continue  # damaged: launch it again
            if summary is not None:
                found[frozenset(run.defining_overrides())] = (run, summary)
        return found

    def _to_minimise(self, objective: float) -> float:
        return -objective if self.settings.direction == "maximize" else objective

    def _penalty(self, trials: list[Trial]) -> float:
        """A finite value for a failed trial: the configured one, else the worst told so far."""
        if self.settings.failure_objective is not None:
            return self._to_minimise(self.settings.failure_objective)
        told = [t.told for t in trials if t.told is not None and t.objective is not None]
        if told:
            return max(told)
        return 0.0 if self.settings.direction == "maximize" else 10.0

    def _check_failures(self, trials: list[Trial], sweep_dir: Path) -> None:
        ended = [t for t in trials if t.told is not None]
        bad = sum(1 for t in ended if t.objective is None)
        if len(ended) >= MIN_TRIALS_TO_JUDGE and bad / len(ended) > self.settings.max_failure_rate:
            collect(sweep_dir)
            raise SweepError(
                f"stopping the sweep: {bad} of {len(ended)} trials failed or diverged, more than "
                f"max_failure_rate={self.settings.max_failure_rate}; see the status and error columns of "
                f"{sweep_dir / 'runs.csv'}"
            )


def _recorded_outcome(record: Trial | SeedRun, overrides: list[str], sweep_dir: Path | None = None) -> Outcome:
    """A trial of the log, or one of its repeats, as the outcome it had, for the progress line
    (a trial without a status is read from whether it produced an objective)."""
    status = record.status or (Status.OK if record.objective is not None else Status.FAILED)
    run_dir = (sweep_dir / record.run_dir) if sweep_dir is not None and record.run_dir else None
    return Outcome(overrides, record.job, run_dir, status, record.objective)
