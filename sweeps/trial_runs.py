"""A trial log against its runs: the runs' records are the truth, a log edited by hand is not.

``nnsweep.sweeps.trials`` reads and writes the log; here each ended trial is checked against the run it
names (its ``summary.json``, its recorded overrides): the sweeper before it continues a search
(``up_to_first_damage``), ``optimization_results.yaml`` and the report before they name a best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnsweep.core.status import Status
from nnsweep.runrecord import RunDir, RunRecordError, override_key
from nnsweep.runrecord.bounded import RecordFormatError, parse_yaml
from nnsweep.runrecord.names import CONFIG
from nnsweep.sweeps.trials import TRIALS, Round, Trial, TrialLog, warn_once


def checked_against_runs(sweep_dir: str | Path, trials: list[Trial]) -> list[Trial]:
    """``trials`` after ``check_against_runs`` (for readers that only need the values)."""
    check_against_runs(sweep_dir, trials)
    return trials


def check_against_runs(sweep_dir: str | Path, trials: list[Trial]) -> dict[int, str]:
    """Each ended trial's ``objective`` as its runs record it (``summary.json``: the mean over
    its repeats), and the trials the runs do not back, by number, with why. The runs are the
    truth, a log edited by hand is not:

    - a trial's ``run_dir`` must be one relative path inside the sweep directory (no ``..``, not
      absolute, no link out of it), its run must have a readable record, and that run must have
      been trained with the trial's ``params`` (its recorded overrides, else its config);
    - a trial that fails any of these is *damaged*: its objective is dropped (it names no best)
      and it counts as not recorded (``nnsweep.sweeps.search`` cuts the log before it: a resume trains it
      again, reusing the runs that exist);
    - a logged objective that differs from its run's is replaced by the run's.

    One warning line names the damaged trials, one the replaced values. The trials are updated
    in place (so the log saved next agrees with its runs)."""
    root = Path(sweep_dir).resolve()
    mismatched, damaged = [], {}
    for trial in trials:
        if trial.status == Status.PAUSED or trial.told is None:
            continue
        run_dirs = trial.run_dirs()
        if run_dirs == [None] and trial.objective is None:
            continue  # ended without a run (its worker died twice): nothing to check, no value to trust
        values = []
        for run_dir in run_dirs:
            value = _recorded_objective(root, run_dir, trial.params)
            if isinstance(value, _Damage):
                damaged[trial.number] = value.reason
                break
            values.append(value)
        if trial.number in damaged:
            trial.objective = None
            continue
        if any(v is _KEEP for v in values):
            continue  # a task that writes no summary: the value it returned is the log's
        value = None if any(v is None for v in values) else sum(values) / len(values)
        logged = trial.objective
        if (
            (value is None) != (logged is None)
            or value is not None
            and not math.isclose(value, logged, rel_tol=1e-9, abs_tol=1e-12)
        ):
            mismatched.append(f"trial {trial.number}: {logged} logged, {value} in its run")
            trial.objective = value
    path = Path(sweep_dir) / TRIALS
    if damaged:
        shown = _first_three([f"trial {n}: {why}" for n, why in damaged.items()])
        warn_once(
            f"{path} names trials its runs do not back ({shown}); they count as not recorded: no objective, "
            "and a resume of the search trains them again (finished runs are reused)"
        )
    if mismatched:
        warn_once(f"{path} disagrees with the runs' records ({_first_three(mismatched)}); the runs' values are used")
    return damaged


def _first_three(items: list[str]) -> str:
    return "; ".join(items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")


@dataclass(frozen=True)
class _Damage:
    """Why a trial's run does not back it."""

    reason: str


def _recorded_objective(root: Path, run_dir: Any, params: dict[str, Any]) -> Any:
    """A run's objective from its summary (None: it produced none); ``_KEEP`` for a run of a
    task that writes no summary (any Hydra task can be searched: the log holds what it returned);
    ``_Damage`` when the log names no run directory inside the sweep, the run is gone or its
    record unreadable, or the run was trained with other values than ``params``."""
    if not isinstance(run_dir, str) or not run_dir:
        return _Damage("no run directory")
    relative = Path(run_dir)
    if relative.is_absolute() or ".." in relative.parts or relative == Path("."):
        return _Damage(f"run_dir {run_dir!r} is not a path inside the sweep directory")
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        return _Damage(f"run_dir {run_dir!r} leads out of the sweep directory")
    if not path.is_dir():
        return _Damage(f"its run {run_dir} is gone")
    run = RunDir(path)
    try:
        summary = run.read_summary()
        status = run.status()
        mismatch = _params_mismatch(run, params)
    except (RunRecordError, OSError) as err:
        return _Damage(f"its run {run_dir} has no readable record ({err})")
    if mismatch:
        return _Damage(f"its run {run_dir} was trained with {mismatch}")
    if summary is None:
        return _KEEP
    # as the sweeper read it (nnsweep.sweeps.outcomes.run_outcome): a run that did not end has no objective
    return summary.objective_value() if status.is_finished() or status == Status.PAUSED else None


_KEEP = object()


def _params_mismatch(run: RunDir, params: dict[str, Any]) -> str | None:
    """The first of ``params`` the run was trained with another value of, "key=recorded, not
    logged", or None: read from its recorded overrides, else its recorded config (a run that
    records neither, of a task that keeps no record, is not checked)."""
    recorded = {override_key(o): o.partition("=")[2] for o in run.defining_overrides()}
    has_config = (run.path / CONFIG).is_file()
    if not recorded and not has_config:
        return None
    config: Any = None
    for key, logged in params.items():
        if key in recorded:
            try:
                value = parse_yaml(recorded[key])
            except RecordFormatError:
                value = recorded[key]
        elif has_config:
            config = run.config_data() if config is None else config
            value = config
            for part in key.split("."):
                value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
        else:
            value = _ABSENT
        if value is _ABSENT or not _same_value(value, logged):
            return f"{key}={'(not recorded)' if value is _ABSENT else value}, not {logged}"
    return None


_ABSENT = object()


def _same_value(recorded: Any, logged: Any) -> bool:
    numbers = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in (recorded, logged)]
    if all(numbers):
        return math.isclose(float(recorded), float(logged), rel_tol=1e-6, abs_tol=1e-12)
    return str(recorded) == str(logged)


def up_to_first_damage(log: TrialLog, damaged: dict[int, str]) -> TrialLog:
    """The log cut before the first round that asks, trains or tells a damaged trial, at a round
    where every trial asked so far was also told (a pruned trial's later rungs are not kept
    without them): the rounds kept replay as they were, the rest is asked again (the engine is
    deterministic, so it proposes the same points, and their finished runs are reused)."""

    def touches(round_: Round) -> bool:
        return bool((set(round_.asked) | set(round_.told) | {number for number, _ in round_.trained}) & set(damaged))

    first = next((i for i, r in enumerate(log.rounds) if touches(r)), len(log.rounds))
    cut = 0
    asked, told = 0, set()
    for i, round_ in enumerate(log.rounds[:first]):
        asked += len(round_.asked)
        told.update(round_.told)
        if told >= set(range(asked)):
            cut = i + 1
    kept = sum(len(r.asked) for r in log.rounds[:cut])
    return TrialLog(log.settings, log.trials[:kept], log.rounds[:cut], log.crashes)
