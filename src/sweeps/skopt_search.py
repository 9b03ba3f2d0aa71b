"""The scikit-optimize sweep behind ``hydra/sweeper=skopt`` (``hydra_plugins.nnsweep_skopt``).

Ask/tell with ``skopt.Optimizer``: each round asks ``batch_size`` points (constant liar), hands
them to Hydra's launcher together (``sweeps.launch``), and tells the results. What makes it safe
to kill:

- A round is recorded in the trial log (``sweeps.trials``, ``<sweep dir>/trials.json``) only
  once every trial in it has finished. A rerun of the same command replays the recorded rounds
  as ask + tell, checking each asked point against the record, so the optimizer is exactly where
  it was and proposes the same points an uninterrupted sweep would (a warm start with x0/y0
  would not: the optimizer's random state moved during the original asks). A sweep that already
  has its trials is answered from the record at once, without replaying.
- Recorded trials are never launched again; a trial that finished after the last record (its
  round was cut short) is found in its run directory and reused, not retrained.
- Job numbers continue after the largest one on disk, so no directory is ever reused.
- The trial's own failures (an exception in training, divergence, a worker killed twice) are
  told a finite penalty (skopt rejects NaN) and counted; past ``max_failure_rate`` the sweep
  stops with a clear message. Failures of the machine (no space, an OS error) are not the
  trial's: the sweep stops without recording that round, and a rerun retries it.
As trials finish, ``sweeps.progress`` prints how far the search is (done of ``n_trials``,
failed, best so far, ETA). At the end: ``optimization_results.yaml``, skopt's convergence /
objective / evaluations plots, and the ``runs.csv`` / ``epochs.csv`` tables of ``sweeps.collect``.
"""
from __future__ import annotations

import logging
import math
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from nets.atomic import atomic_write_text
from runrecord import RunRecordError, Status, find_runs, finite_or_none, without_bookkeeping
from sweeps import trials as trial_log
from sweeps.collect import collect
from sweeps.launch import (LaunchingSweeper, Outcome, SweepError, TrialLauncher, machine_failure, no_result,
                           relative_run_dir)
from sweeps.progress import SweepProgress
from sweeps.search_space import SearchSpace, build_search_space
from sweeps.trials import TRIALS, TrialLog

log = logging.getLogger("nnsweep.skopt")
RESULTS = "optimization_results.yaml"
METHODS = {"random": "GP", "gp": "GP", "rf": "RF", "et": "ET"}
ACQ_FUNCS = ("gp_hedge", "EI", "PI", "LCB")
GENERATORS = ("random", "sobol", "lhs", "halton", "hammersly", "grid")
MAX_SEED = 2**32 - 1  # NumPy's RandomState, which skopt seeds, takes 0 .. 2**32 - 1
MIN_TRIALS_TO_JUDGE = 5  # the failure rate of fewer trials says little (two unlucky random draws)

__all__ = ["SkoptSearch", "SweepError", "same_point"]


def _plain(value: Any) -> Any:
    """NumPy scalars -> Python scalars, for JSON/YAML and for comparisons."""
    return value.item() if hasattr(value, "item") else value


def _text(value: Any) -> str:
    """A setting as text: Hydra passes the config's Enum members, Python callers strings."""
    return value.name if isinstance(value, Enum) else str(value)


def same_point(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = _plain(x), _plain(y)
        if isinstance(x, float) or isinstance(y, float):
            if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def _one_of(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise SweepError(f"hydra.sweeper.{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


class SkoptSearch(LaunchingSweeper):
    def __init__(self, method: Any = "gp", acq_func: Any = "gp_hedge", n_trials: int = 20,
                 n_initial_points: int = 5, initial_point_generator: Any = "random", seed: int = 0,
                 batch_size: int = 1, direction: Any = "maximize", max_failure_rate: float = 0.5,
                 failure_objective: float | None = None, params: dict[str, str] | None = None) -> None:
        method = _text(method)
        if method == "gbrt":
            raise SweepError("hydra.sweeper.method=gbrt is not available: scikit-optimize 0.10.2's gradient-boosted "
                             "trees fail on scikit-learn >= 1.6 and NumPy 2 (upstream is archived); use gp, rf or et")
        self.method = _one_of("method", method, METHODS)
        self.acq_func = _one_of("acq_func", _text(acq_func), ACQ_FUNCS)
        self.initial_point_generator = _one_of("initial_point_generator", _text(initial_point_generator), GENERATORS)
        self.direction = _one_of("direction", _text(direction), ("maximize", "minimize"))
        for name, value in (("n_trials", n_trials), ("batch_size", batch_size), ("n_initial_points", n_initial_points)):
            if value < 1:
                raise SweepError(f"hydra.sweeper.{name} must be at least 1, got {value}")
        if not 0 <= seed <= MAX_SEED:
            raise SweepError(f"hydra.sweeper.seed must be between 0 and {MAX_SEED}, got {seed}")
        if not 0 <= max_failure_rate <= 1:  # also refuses nan
            raise SweepError(f"hydra.sweeper.max_failure_rate must be in [0, 1], got {max_failure_rate}")
        if failure_objective is not None and not math.isfinite(failure_objective):
            raise SweepError(f"hydra.sweeper.failure_objective must be a finite number (what failed trials are told), "
                             f"got {failure_objective}; leave it null to tell the worst value seen so far")
        self.n_trials, self.batch_size, self.seed = n_trials, batch_size, seed
        # Random search: every point is an "initial" point, drawn by the generator (skopt's
        # "dummy" estimator is broken on scikit-learn >= 1.8).
        self.n_initial_points = n_trials if method == "random" else n_initial_points
        self.max_failure_rate, self.failure_objective = max_failure_rate, failure_objective
        self.params = dict(params or {})

    # ----- Hydra's sweeper interface (setup: LaunchingSweeper) -------------------------------
    def sweep(self, arguments: list[str]) -> None:
        self.run_locked(lambda sweep_dir: self._run(self._search_space(arguments), sweep_dir))

    # ----- the search ------------------------------------------------------------------------
    def _search_space(self, arguments: list[str]) -> SearchSpace:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        return build_search_space(overrides)

    def _optimizer(self, space: SearchSpace):
        from skopt import Optimizer

        return Optimizer(space.dimensions, base_estimator=METHODS[self.method], acq_func=self.acq_func,
                         n_initial_points=self.n_initial_points,
                         initial_point_generator=self.initial_point_generator, random_state=self.seed)

    def _settings(self, space: SearchSpace) -> dict[str, Any]:
        """What must be the same for a rerun to continue this sweep."""
        return {"method": self.method, "acq_func": self.acq_func, "n_initial_points": self.n_initial_points,
                "initial_point_generator": self.initial_point_generator, "seed": self.seed,
                "direction": self.direction, "names": space.names,
                "dimensions": [repr(d) for d in space.dimensions], "fixed": space.fixed}

    def _run(self, space: SearchSpace, sweep_dir: Path) -> None:
        record, space = self._load_record(sweep_dir, space)
        trials = record.trials
        if len(trials) >= self.n_trials:
            self._answer_from_record(sweep_dir, space, trials)
            return
        opt = self._optimizer(space)
        if trials:
            log.info("resuming %s: %d of %d trials already recorded; replaying their %d rounds", sweep_dir,
                     len(trials), self.n_trials, len(record.rounds))
        for round_ in record.rounds:  # replay: the optimizer ends up exactly where it was
            asked = opt.ask(n_points=len(round_)) if len(round_) > 1 else [opt.ask()]
            for point, trial in zip(asked, round_):
                if not same_point(point, trial["point"]):
                    raise SweepError(
                        f"{sweep_dir / TRIALS} does not replay: the optimizer proposes {point} where the record has "
                        f"{trial['point']}. The sweep was started with other settings or library versions; use a new "
                        "sweep=<name>")
            opt.tell([t["point"] for t in round_], [t["told"] for t in round_])
        launcher = TrialLauncher(self, record.crashes, on_crash=lambda: trial_log.save(sweep_dir, record))
        next_job = self._next_job_number(sweep_dir)
        progress = SweepProgress(sweep_dir, self.n_trials, swept=space.names, direction=self.direction)
        progress.settle([_recorded_outcome(t, space) for t in trials], before=True)
        with progress.watching():
            while len(trials) < self.n_trials:
                self._check_failures(trials, sweep_dir)
                k = min(self.batch_size, self.n_trials - len(trials))
                points = [[_plain(v) for v in p] for p in (opt.ask(n_points=k) if k > 1 else [opt.ask()])]
                progress.expect([space.overrides(p) for p in points])
                outcomes, next_job = self._evaluate(points, space, sweep_dir, launcher, next_job)
                progress.settle(outcomes)
                if any(o.machine_failed for o in outcomes):
                    collect(sweep_dir)  # the round is not recorded: a rerun retries it
                    raise machine_failure(outcomes, sweep_dir, "trial", "of this round")
                round_ = []
                for point, outcome in zip(points, outcomes):
                    objective = outcome.objective
                    told = self._to_minimise(objective) if objective is not None else self._penalty(trials + round_)
                    round_.append({"job": outcome.job, "point": point, "params": dict(zip(space.names, point)),
                                   "run_dir": relative_run_dir(outcome.run_dir, sweep_dir),
                                   "objective": objective, "status": outcome.status.value, "told": told})
                opt.tell([t["point"] for t in round_], [t["told"] for t in round_])
                trials.extend(round_)
                record.rounds.append(round_)
                trial_log.save(sweep_dir, record)
        self._finish(sweep_dir, space, opt, trials)

    def _answer_from_record(self, sweep_dir: Path, space: SearchSpace, trials: list[dict[str, Any]]) -> None:
        """The record already holds the trials asked for: write the results from it, no replay."""
        if len(trials) > self.n_trials:
            log.info("%s already has %d trials, more than n_trials=%d: nothing to run; reporting the best of the %d "
                     "recorded (raise n_trials to continue the search)", sweep_dir, len(trials), self.n_trials,
                     len(trials))
        else:
            log.info("%s already has its %d trials: nothing to run; writing the results from the record", sweep_dir,
                     len(trials))
        opt = self._optimizer(space)
        try:
            opt.tell([t["point"] for t in trials], [t["told"] for t in trials])  # one fit, for the plots
        except ValueError as err:  # skopt checks each point against the space
            raise SweepError(f"{sweep_dir / TRIALS} holds points outside this search space ({err}); move it away to "
                             "start the search afresh (finished runs are reused)") from None
        self._finish(sweep_dir, space, opt, trials)

    def _load_record(self, sweep_dir: Path, space: SearchSpace) -> tuple[TrialLog, SearchSpace]:
        """The sweep's trial log (a new one if it has none), and the space in the log's order of
        dimensions: the same arguments in another order continue the same sweep."""
        settings = self._settings(space)
        record = trial_log.load(sweep_dir)
        if record is None:
            return TrialLog(settings), space
        recorded = record.settings
        if sorted(recorded.get("names", [])) == sorted(space.names):
            where = {name: i for i, name in enumerate(space.names)}
            order = [where[name] for name in recorded["names"]]
            space = SearchSpace([space.names[i] for i in order], [space.dimensions[i] for i in order], space.fixed)
            settings = self._settings(space)
        changed = [k for k in settings if _comparable(k, recorded.get(k)) != _comparable(k, settings[k])]
        if changed == ["n_initial_points"] and self.method == "random" and self.initial_point_generator == "random":
            changed = []  # independent random draws: a random search with more trials continues the same draws
        if changed:
            raise SweepError(f"{sweep_dir} holds a sweep with other settings ({', '.join(changed)} differ); "
                             "rerun with the same settings to continue it, or choose a new sweep=<name>")
        return record, space

    def _next_job_number(self, sweep_dir: Path) -> int:
        numbers = [n for n in (run.job_number() for run in find_runs(sweep_dir)) if n is not None]
        return max(numbers, default=-1) + 1

    def _finished_runs(self, sweep_dir: Path) -> dict[frozenset, Outcome]:
        """Outcomes of the runs on disk whose trial ended, keyed by their overrides (a round cut
        short may have finished some of its trials)."""
        found = {}
        for run in find_runs(sweep_dir):
            try:
                summary = run.read_summary()
            except RunRecordError:
                continue  # damaged: launch it again
            if summary is not None and summary.status.is_finished():
                found[frozenset(run.defining_overrides())] = Outcome(
                    run.overrides(), None, run.path.resolve(), summary.status, summary.objective_value(), summary.error)
        return found

    def _evaluate(self, points, space: SearchSpace, sweep_dir: Path, launcher: TrialLauncher,
                  first_job: int) -> tuple[list[Outcome], int]:
        """Launch the points' trials (reusing any that already finished on disk) and read results."""
        finished = self._finished_runs(sweep_dir)
        outcomes: list[Outcome | None] = [None] * len(points)
        batch, slots = [], []
        for i, point in enumerate(points):
            overrides = space.overrides(point)
            reuse = finished.get(frozenset(without_bookkeeping(overrides)))
            if reuse is not None:
                log.info("reusing finished trial %s", reuse.run_dir)
                outcomes[i] = reuse
            else:
                batch.append(overrides)
                slots.append(i)
        next_job = first_job
        if batch:
            self.validate_batch_is_legal(batch)
            launched, next_job = launcher.run(batch, first_job)
            for i, outcome in zip(slots, launched):
                outcomes[i] = outcome
        return outcomes, next_job  # type: ignore[return-value]

    def _to_minimise(self, objective: float) -> float:
        return -objective if self.direction == "maximize" else objective

    def _penalty(self, trials: list[dict[str, Any]]) -> float:
        """A finite value for a failed trial: the configured one, else the worst told so far."""
        if self.failure_objective is not None:
            return self._to_minimise(self.failure_objective)
        told = [t["told"] for t in trials if t["objective"] is not None]
        if told:
            return max(told)
        return 0.0 if self.direction == "maximize" else 10.0

    def _best(self, trials: list[dict[str, Any]]) -> dict[str, Any] | None:
        good = [t for t in trials if t["objective"] is not None]
        if not good:
            return None
        return max(good, key=lambda t: t["objective"]) if self.direction == "maximize" else min(good, key=lambda t: t["objective"])

    def _check_failures(self, trials: list[dict[str, Any]], sweep_dir: Path) -> None:
        bad = sum(1 for t in trials if t["objective"] is None)
        if len(trials) >= MIN_TRIALS_TO_JUDGE and bad / len(trials) > self.max_failure_rate:
            collect(sweep_dir)
            raise SweepError(
                f"stopping the sweep: {bad} of {len(trials)} trials failed or diverged, more than "
                f"max_failure_rate={self.max_failure_rate}; see the status and error columns of {sweep_dir / 'runs.csv'}")

    def _finish(self, sweep_dir: Path, space: SearchSpace, opt, trials: list[dict[str, Any]]) -> None:
        from sweeps.skopt_plots import write_skopt_plots

        runs, _ = collect(sweep_dir)
        best = self._best(trials)
        results: dict[str, Any] = {
            "name": "nnsweep skopt sweep", "method": self.method, "direction": self.direction,
            "n_trials": len(trials), "n_failed": sum(1 for t in trials if t["objective"] is None),
            "best_params": None, "best_value": None,
        }
        if best is not None:
            row = runs[runs["run"] == best["run_dir"]] if "run" in runs else runs.iloc[:0]
            results.update({
                "best_params": {k: _plain(v) for k, v in best["params"].items()},
                "best_value": best["objective"],
                "best_run_dir": best["run_dir"],
                "best_val_acc": finite_or_none(row["best_val_acc"].iloc[0]) if len(row) else None,
                "best_test_acc": finite_or_none(row["test_acc"].iloc[0]) if len(row) else None,
            })
        atomic_write_text(sweep_dir / RESULTS, yaml.safe_dump(results, sort_keys=False))
        write_skopt_plots(opt, space, sweep_dir, self.direction)
        log.info("best %s = %s; results in %s", results["best_params"], results["best_value"], sweep_dir / RESULTS)
        if best is None:
            raise no_result(sweep_dir, len(trials))


def _recorded_outcome(trial: dict[str, Any], space: SearchSpace) -> Outcome:
    """A trial of the log as the outcome it had, for the progress line (a status the log does
    not know is read from whether it produced an objective)."""
    try:
        status = Status(trial["status"])
    except ValueError:
        status = Status.OK if trial["objective"] is not None else Status.FAILED
    return Outcome(space.overrides(trial["point"]), trial["job"], None, status, trial["objective"])


def _comparable(key: str, value: Any) -> Any:
    """A setting as compared between runs: the order of fixed overrides does not matter."""
    return sorted(value) if key == "fixed" and isinstance(value, list) else value

