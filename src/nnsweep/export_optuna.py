"""``nnsweep export-optuna <sweep dir> [--storage URL]``: a sweep as an Optuna study, so that
``optuna-dashboard`` (and anything else that reads Optuna's storages) can show it: importance,
parallel coordinates, intermediate values, and several sweeps side by side. It reads what the
sweeps and reports layers read (the checked tables, the trial log) and sits above both.

Written with Optuna core only, from the sweep's tables (``runs.csv``, ``epochs.csv``) and trial log:

- one trial per run (a configuration's seeds are trials of their own, with ``seed`` among their
  user attributes), in the order the sweep asked them (without a trial log: runs.csv's order,
  best first);
- its parameters: the searched settings, each with a distribution spanning the search space as
  the trial log records it (a grid's, or a sweep without a log: the values tried), log-scaled
  where the search was, or where a grid's positive values span a decade or more; integers as
  integers; anything else categorical;
- its value: the run's objective (``best_val_acc`` unless the sweep chose another), and an
  intermediate value per epoch: the objective so far, as the pruner judged it;
- its state: ``ok``, ``early_stopped`` and ``diverged`` runs with a value are COMPLETE (a
  diverged run keeps the best it reached before), ``pruned`` runs PRUNED at their last value,
  ``running`` and ``paused`` ones RUNNING, the others FAIL;
- user attributes: ``run_dir``, ``status``, ``seed``, ``test_acc``, ``epochs``.

The default storage is ``sqlite:///<sweep dir>/optuna.db``, the study named after the sweep
directory. A study of that name already in the storage is replaced only if an earlier export of
this same sweep wrote it (its ``nnsweep_sweep`` user attribute); any other is left alone.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import pandas as pd

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.cli import run_command
from nnsweep.experiments.startup import program_name
from nnsweep.reports.importance import searched_settings
from nnsweep.reports.tables import load_tables
from nnsweep.runrecord import finite_or_none
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.audit import objective_curve, sweep_objective, sweep_settings
from nnsweep.sweeps.collect import EPOCHS, RUNS
from nnsweep.sweeps.importance import spans_a_decade

COMPLETE = ("ok", "early_stopped", "diverged")
RUNNING = ("running", "paused")
MARK = "nnsweep_sweep"  # the study's user attribute naming the sweep it was exported from


class ExportError(NnsweepError):
    """A sweep or storage that cannot be exported to (the message says why and what to do)."""


def recorded_bounds(dimension: str) -> tuple[float, float] | None:
    """A searched dimension's bounds as the trial log records it: scikit-optimize's
    ``Real(low=0.01, high=10.0, ...)`` or nnsweep's ``real(0.01, 10.0, log)``; None for a choice."""
    found = re.search(r"low=([^,]+), high=([^,)]+)", dimension) or re.match(
        r"(?:real|int)\(([^,]+), ([^,)]+)", dimension
    )
    try:
        return (float(found.group(1)), float(found.group(2))) if found else None
    except ValueError:
        return None


def distribution(values: pd.Series, log: bool | None, bounds: tuple[float, float] | None = None):
    """An Optuna distribution spanning the search space's ``bounds`` (and every value tried), or
    the values tried (``log`` None: decide from the values)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return CategoricalDistribution(sorted(values.astype(str).unique()))
    low, high = float(numbers.min()), float(numbers.max())
    if bounds is not None:
        low, high = min(low, bounds[0]), max(high, bounds[1])
    log = spans_a_decade(low, high) if log is None else bool(log and low > 0)
    if (numbers == numbers.round()).all() and not log:
        return IntDistribution(int(low), int(high))
    return FloatDistribution(low, high, log=log)


def param_value(value, dist):
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return str(value)
    return int(value) if isinstance(dist, IntDistribution) else float(value)


def state_of(status: str, value: float | None):
    from optuna.trial import TrialState

    if status in COMPLETE and value is not None:
        return TrialState.COMPLETE
    if status == "pruned":
        return TrialState.PRUNED
    return TrialState.RUNNING if status in RUNNING else TrialState.FAIL


def study_trials(sweep_dir: Path):
    """The sweep's runs as Optuna trials, the direction and the objective's name."""
    import optuna

    tables = load_tables(sweep_dir)
    runs, epochs = tables.runs, tables.epochs
    log = trial_log.load(sweep_dir)
    objective, maximize = sweep_objective(sweep_settings(sweep_dir), log)
    searched, logged = searched_settings(tables)  # logged None: a grid's values, or no log
    names = [n for n in searched if n in runs]
    bounds = {}
    if log is not None and logged is not None:  # a search: the space as its log records it
        bounds = {n: recorded_bounds(str(d)) for n, d in zip(log.names, log.settings.get("dimensions") or [])}
    distributions = {n: distribution(runs[n], None if logged is None else n in logged, bounds.get(n)) for n in names}
    order = {t.run_dir: t.number for t in log.trials} if log is not None else {}
    runs = runs.assign(_order=[order.get(r, len(order) + i) for i, r in enumerate(runs["run"])]).sort_values("_order")
    by_run = dict(tuple(epochs.groupby("run", sort=False))) if not epochs.empty else {}
    trials = []
    for row in runs.to_dict("records"):
        status = str(row["status"])
        value = finite_or_none(row.get(objective))
        curve = objective_curve(by_run[row["run"]], objective) if row["run"] in by_run else ()
        intermediate = {step: v for step, v in enumerate(curve, 1) if v is not None}
        state = state_of(status, value)
        if state == optuna.trial.TrialState.PRUNED and intermediate:
            value = intermediate[max(intermediate)]
        attrs = {"run_dir": str(row["run"]), "status": status}
        for key, name in (("seed", "seed"), ("test_acc", "test_acc"), ("epochs_completed", "epochs")):
            got = finite_or_none(row.get(key))
            if got is not None:
                attrs[name] = int(got) if key != "test_acc" else got
        trials.append(
            optuna.trial.create_trial(
                state=state,
                value=value if state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) else None,
                params={n: param_value(row[n], distributions[n]) for n in names if not _missing(row[n])},
                distributions={n: distributions[n] for n in names if not _missing(row[n])},
                user_attrs=attrs,
                intermediate_values=intermediate,
            )
        )
    return trials, "maximize" if maximize else "minimize", objective


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def default_storage(sweep_dir: Path) -> str:
    """``sqlite:///<sweep dir>/optuna.db``, refusing a link planted at that name (SQLite would write
    through it, out of the sweep directory) and a path that a URL would read otherwise."""
    path = sweep_dir.absolute() / "optuna.db"
    if path.is_symlink():
        raise ExportError(f"{path} is a symbolic link; nnsweep does not write through it: remove it, or give --storage")
    if any(c in str(path) for c in "?#%"):
        raise ExportError(
            f"the path {path} holds a character a storage URL reads as its own (? # %); give --storage "
            "sqlite:///<a path without them>"
        )
    return f"sqlite:///{path}"


def export(sweep_dir: str | Path, storage: str | None = None, study_name: str | None = None) -> tuple[str, str, int]:
    """Write the sweep as a study; returns (storage, study name, trials)."""
    import optuna

    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / RUNS).is_file() or not (sweep_dir / EPOCHS).is_file():
        raise ExportError(f"{sweep_dir} has no {RUNS} and {EPOCHS}; collect it first: nnsweep collect {sweep_dir}")
    storage = storage or default_storage(sweep_dir)
    study_name = study_name or sweep_dir.resolve().name
    trials, direction, objective = study_trials(sweep_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
        if study_name in existing:
            wrote = existing[study_name].user_attrs.get(MARK)
            if wrote != str(sweep_dir.resolve()):
                by = f"an export of {wrote}" if isinstance(wrote, str) else "something other than nnsweep export-optuna"
                raise ExportError(
                    f"{storage} already holds a study named {study_name!r}, written by {by}, not of {sweep_dir}; "
                    "it is left alone: give another --study-name or --storage"
                )
            optuna.delete_study(study_name=study_name, storage=storage)
        study = optuna.create_study(storage=storage, study_name=study_name, direction=direction)
        study.set_user_attr(MARK, str(sweep_dir.resolve()))
        study.set_user_attr("objective", objective)
        study.add_trials(trials)
    except ExportError:
        raise
    except Exception as err:  # noqa: BLE001 (a storage URL Optuna cannot open, a locked or damaged database)
        raise ExportError(f"cannot write the study to {storage}: {' '.join(str(err).split())[:200]}") from None
    return storage, study_name, len(trials)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.export_optuna"),
        description="Write a sweep as an Optuna study (one trial per run, with its parameters, value, every "
        "epoch as an intermediate value, its state and run directory), to open in optuna-dashboard.",
    )
    parser.add_argument("sweep_dir", help="a collected sweep directory")
    parser.add_argument("--storage", help="an Optuna storage URL (default: sqlite:///<sweep dir>/optuna.db)")
    parser.add_argument("--study-name", help="default: the sweep directory's name")
    args = parser.parse_args(argv)
    storage, name, count = export(args.sweep_dir, args.storage, args.study_name)
    print(f"study {name!r}: {count} trials in {storage}")
    print(f"look at it with: optuna-dashboard {storage}   (pip install optuna-dashboard, or nnsweep[dashboard])")
    return 0


def command() -> None:
    """``nnsweep export-optuna``."""
    run_command(main)


if __name__ == "__main__":
    command()
