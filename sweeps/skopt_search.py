"""The scikit-optimize sweep behind ``hydra/sweeper=skopt`` (``hydra_plugins.nnsweep_skopt``).

Ask/tell with ``skopt.Optimizer``: each round asks ``batch_size`` points (constant liar), hands
them to Hydra's launcher together, and tells the results. What makes it safe to kill:

- A round is recorded in ``<sweep dir>/trials.json`` (atomically) only once every trial in it
  has finished. A rerun of the same command replays the recorded rounds as ask + tell, checking
  each asked point against the record, so the optimizer is exactly where it was and proposes the
  same points an uninterrupted sweep would (a warm start with x0/y0 would not: REFERENCES.md).
- Recorded trials are never launched again; a trial that finished after the last record (its
  round was cut short) is found in its run directory and reused, not retrained.
- Job numbers continue after the largest one on disk, so no directory is ever reused.
- Failed or diverged trials are told a finite penalty (skopt rejects NaN) and counted; past
  ``max_failure_rate`` the sweep stops with a clear message.
At the end: ``optimization_results.yaml``, skopt's convergence / objective / evaluations plots,
and the ``runs.csv`` / ``epochs.csv`` tables of ``sweeps.collect``.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from nets.atomic import atomic_write_text
from nets.errors import NnsweepError
from runrecord import RunDir, RunRecordError, find_runs, without_bookkeeping
from sweeps import trials as trial_log
from sweeps.collect import collect
from sweeps.lock import sweep_lock
from sweeps.search_space import SearchSpace, build_search_space
from sweeps.trials import TRIALS, TrialLog

log = logging.getLogger("nnsweep.skopt")
RESULTS = "optimization_results.yaml"
METHODS = {"random": "GP", "gp": "GP", "rf": "RF", "et": "ET"}
MIN_TRIALS_TO_JUDGE = 5  # the failure rate of fewer trials says little (two unlucky random draws)


class SweepError(NnsweepError, CompactHydraException):
    """A sweep that cannot go on: one line from ``experiments.cli.run_command`` (an
    ``NnsweepError``), and from Hydra itself its message alone, without a traceback."""


def _plain(value: Any) -> Any:
    """NumPy scalars -> Python scalars, for JSON/YAML and for comparisons."""
    return value.item() if hasattr(value, "item") else value


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


class SkoptSearch(Sweeper):
    def __init__(self, method: str = "gp", acq_func: str = "gp_hedge", n_trials: int = 20,
                 n_initial_points: int = 5, initial_point_generator: str = "random", seed: int = 0,
                 batch_size: int = 1, direction: str = "maximize", max_failure_rate: float = 0.5,
                 failure_objective: float | None = None, params: dict[str, str] | None = None) -> None:
        if method == "gbrt":
            raise SweepError("hydra.sweeper.method=gbrt is not available: scikit-optimize 0.10.2's gradient-boosted "
                             "trees fail on scikit-learn >= 1.6 and NumPy 2 (upstream is archived); use gp, rf or et")
        if method not in METHODS:
            raise SweepError(f"hydra.sweeper.method must be one of {', '.join(METHODS)}, got {method!r}")
        if direction not in ("maximize", "minimize"):
            raise SweepError(f"hydra.sweeper.direction must be maximize or minimize, got {direction!r}")
        for name, value, low in (("n_trials", n_trials, 1), ("batch_size", batch_size, 1), ("n_initial_points", n_initial_points, 1)):
            if value < low:
                raise SweepError(f"hydra.sweeper.{name} must be at least {low}, got {value}")
        if not 0 <= max_failure_rate <= 1:
            raise SweepError(f"hydra.sweeper.max_failure_rate must be in [0, 1], got {max_failure_rate}")
        self.method, self.acq_func, self.n_trials = method, acq_func, n_trials
        # Random search: every point is an "initial" point, drawn by the generator (REFERENCES.md:
        # skopt's "dummy" estimator is broken on our scikit-learn).
        self.n_initial_points = n_trials if method == "random" else n_initial_points
        self.initial_point_generator, self.seed, self.batch_size = initial_point_generator, seed, batch_size
        self.direction, self.max_failure_rate = direction, max_failure_rate
        self.failure_objective, self.params = failure_objective, dict(params or {})

    # ----- Hydra's sweeper interface ---------------------------------------------------------
    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        try:
            space = self._search_space(arguments)
            with sweep_lock(sweep_dir):
                OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
                self._run(space, sweep_dir)
        except SweepError:
            raise
        except NnsweepError as err:  # a bad space, a sweep in use, a damaged trial log
            raise SweepError(str(err)) from None

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
        record = self._load_record(sweep_dir, space)
        opt = self._optimizer(space)
        for round_ in record.rounds:  # replay: the optimizer ends up exactly where it was
            asked = opt.ask(n_points=len(round_)) if len(round_) > 1 else [opt.ask()]
            for point, trial in zip(asked, round_):
                if not same_point(point, trial["point"]):
                    raise SweepError(
                        f"{sweep_dir / TRIALS} does not replay: the optimizer proposes {point} where the record has "
                        f"{trial['point']}. The sweep was started with other settings or library versions; use a new "
                        "sweep=<name>")
            opt.tell([t["point"] for t in round_], [t["told"] for t in round_])
        trials = record.trials
        if trials:
            log.info("resuming %s: %d of %d trials already recorded", sweep_dir, len(trials), self.n_trials)
        next_job = self._next_job_number(sweep_dir)
        while len(trials) < self.n_trials:
            self._check_failures(trials, sweep_dir, space)
            k = min(self.batch_size, self.n_trials - len(trials))
            points = [[_plain(v) for v in p] for p in (opt.ask(n_points=k) if k > 1 else [opt.ask()])]
            results = self._evaluate(points, space, sweep_dir, next_job)
            next_job += sum(1 for r in results if r["launched"])
            round_ = []
            for point, result in zip(points, results):
                objective = result["objective"]
                ok = objective is not None and math.isfinite(objective)
                told = self._to_minimise(objective) if ok else self._penalty(trials + round_)
                round_.append({"job": result["job"], "run_dir": result["run_dir"], "point": point,
                               "params": dict(zip(space.names, point)), "objective": objective if ok else None,
                               "status": result["status"], "told": told})
            opt.tell([t["point"] for t in round_], [t["told"] for t in round_])
            trials.extend(round_)
            record.rounds.append(round_)
            trial_log.save(sweep_dir, record)
            best = self._best(trials)
            log.info("trial %d/%d done; best so far %s = %s", len(trials), self.n_trials,
                     best["params"] if best else "-", best["objective"] if best else "-")
        self._finish(sweep_dir, space, opt, trials)

    def _load_record(self, sweep_dir: Path, space: SearchSpace) -> TrialLog:
        settings = self._settings(space)
        record = trial_log.load(sweep_dir)
        if record is None:
            return TrialLog(settings)
        if record.settings != settings:
            changed = [k for k in settings if record.settings.get(k) != settings[k]]
            raise SweepError(f"{sweep_dir} holds a sweep with other settings ({', '.join(changed)} differ); "
                             "rerun with the same settings to continue it, or choose a new sweep=<name>")
        return record

    def _next_job_number(self, sweep_dir: Path) -> int:
        numbers = [n for n in (run.job_number() for run in find_runs(sweep_dir)) if n is not None]
        return max(numbers, default=-1) + 1

    def _finished_runs(self, sweep_dir: Path) -> dict[frozenset, RunDir]:
        """Run directories whose trial ended, keyed by their overrides (for cut-short rounds)."""
        found = {}
        for run in find_runs(sweep_dir):
            try:
                summary = run.read_summary()
            except RunRecordError:
                continue  # damaged: launch it again
            if summary is not None and summary.status.is_finished():
                found[frozenset(run.defining_overrides())] = run
        return found

    def _evaluate(self, points, space: SearchSpace, sweep_dir: Path, first_job: int) -> list[dict[str, Any]]:
        """Launch the points' trials (reusing any that already finished on disk) and read results."""
        finished = self._finished_runs(sweep_dir)
        results: list[dict[str, Any] | None] = [None] * len(points)
        batch, slots = [], []
        for i, point in enumerate(points):
            overrides = space.overrides(point)
            reuse = finished.get(frozenset(without_bookkeeping(overrides)))
            if reuse is not None:
                summary = reuse.read_summary()
                log.info("reusing finished trial %s", reuse.path)
                results[i] = {"job": None, "run_dir": str(reuse.path.relative_to(sweep_dir)), "launched": False,
                              "status": summary.status.value, "objective": summary.objective_value()}
            else:
                batch.append(overrides)
                slots.append(i)
        if batch:
            self.validate_batch_is_legal(batch)
            returns = self.launcher.launch(batch, initial_job_idx=first_job)
            for n, (i, ret) in enumerate(zip(slots, returns)):
                run_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir).resolve()
                summary = RunDir(run_dir).read_summary()
                if ret.status == JobStatus.COMPLETED:  # return_value re-raises a failed job's error
                    objective = _finite(ret.return_value)
                    status = summary.status.value if summary else ("ok" if objective is not None else "failed")
                else:
                    objective, status = None, "failed"
                    log.error("trial %d failed with an exception; see %s", first_job + n, run_dir)
                results[i] = {"job": first_job + n, "launched": True, "status": status, "objective": objective,
                              "run_dir": str(run_dir.relative_to(sweep_dir.resolve()))}
        return results  # type: ignore[return-value]

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

    def _check_failures(self, trials: list[dict[str, Any]], sweep_dir: Path, space: SearchSpace) -> None:
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
            row = runs[runs["run"] == best["run_dir"]]
            results.update({
                "best_params": {k: _plain(v) for k, v in best["params"].items()},
                "best_value": best["objective"],
                "best_run_dir": best["run_dir"],
                "best_val_acc": _finite(row["best_val_acc"].iloc[0]) if len(row) else None,
                "best_test_acc": _finite(row["test_acc"].iloc[0]) if len(row) else None,
            })
        atomic_write_text(sweep_dir / RESULTS, yaml.safe_dump(results, sort_keys=False))
        write_skopt_plots(opt, space, sweep_dir, self.direction)
        log.info("best %s = %s; results in %s", results["best_params"], results["best_value"], sweep_dir / RESULTS)


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
