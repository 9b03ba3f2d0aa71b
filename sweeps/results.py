"""``optimization_results.yaml``: what a finished search found, written from its trial log and
``runs.csv`` (the best trial, its validation and test accuracy, how many trials failed or were
pruned and, for a pruned search, the epochs it trained against an unpruned one). With repeats
(``nnsweep.sweeps.repeats``) a trial's value is the mean of its seeds' runs, and so are its accuracies here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from nnsweep.core.atomic import atomic_write_text
from nnsweep.core.status import Status
from nnsweep.runrecord import finite_or_none
from nnsweep.sweeps.trial_runs import checked_against_runs
from nnsweep.sweeps.trials import Trial, WarmTrial

RESULTS = "optimization_results.yaml"


def best_trial(trials: list[Trial], direction: str) -> Trial | None:
    """The best trial trained to its end (a pruned one only if none was: its objective is at
    fewer epochs)."""
    good = [t for t in trials if t.objective is not None and t.status != Status.PRUNED]
    good = good or [t for t in trials if t.objective is not None]
    if not good:
        return None
    pick = max if direction == "maximize" else min
    return pick(good, key=lambda t: t.objective)


def write_results(
    sweep_dir: Path,
    trials: list[Trial],
    runs: pd.DataFrame,
    method: str,
    direction: str,
    max_epochs: int | None,
    warm: Sequence[WarmTrial] = (),
    names: Sequence[str] = (),
) -> dict[str, Any]:
    """Write ``<sweep dir>/optimization_results.yaml``; returns what it holds. ``max_epochs``:
    ``trainer.epochs`` of a pruned search (None for any other). Each trial's objective is its
    runs' (``nnsweep.sweeps.trial_runs.checked_against_runs``): a hand-edited log does not choose the best,
    and a trial whose run does not back it (a run_dir out of the sweep, a run gone, a run trained
    with other params) has no objective, so the best's params, run dir and value are one run's.
    ``warm``: the earlier sweeps' trials the engine was told first (``hydra.sweeper.warm_start``):
    counted and their best named apart, since their runs are another sweep's."""
    trials = checked_against_runs(sweep_dir, trials)
    best = best_trial(trials, direction)
    results: dict[str, Any] = {
        "name": "nnsweep search",
        "method": method,
        "direction": direction,
        "n_trials": len(trials),
        "n_failed": sum(1 for t in trials if t.objective is None),
        "n_pruned": sum(1 for t in trials if t.status == Status.PRUNED),
        "best_params": None,
        "best_value": None,
    }
    repeats = max((len(t.repeats) for t in trials), default=0) or 1
    if repeats > 1:
        results["repeats"] = repeats
    if max_epochs is not None:
        results["epochs_trained"] = sum((t.epochs or 0) * len(t.run_dirs()) for t in trials if t.copy_of is None)
        results["epochs_unpruned"] = len(trials) * max_epochs * repeats
    if best is not None:
        run_dirs = best.run_dirs()
        rows = runs[runs["run"].isin(run_dirs)] if "run" in runs else runs.iloc[:0]
        results.update(
            {
                "best_params": dict(best.params),
                "best_value": best.objective,
                "best_run_dir": best.run_dir,
                **({"best_run_dirs": run_dirs} if len(run_dirs) > 1 else {}),
                "best_val_acc": _mean(rows, "best_val_acc"),
                "best_test_acc": _mean(rows, "test_acc"),
            }
        )
    if warm:
        earlier = (max if direction == "maximize" else min)(warm, key=lambda w: w.objective)
        results["warm_start"] = {
            "sweeps": list(dict.fromkeys(w.sweep for w in warm)),
            "trials_told": len(warm),
            "best_params": dict(zip(names, earlier.point)),
            "best_value": earlier.objective,
            "best_run_dir": str(Path(earlier.sweep) / earlier.run_dirs[0]) if earlier.run_dirs else None,
        }
    atomic_write_text(sweep_dir / RESULTS, yaml.safe_dump(results, sort_keys=False))
    return results


def _mean(rows: pd.DataFrame, column: str) -> float | None:
    """The mean of a runs.csv column over a trial's runs (one run: its value), None if it has none."""
    return finite_or_none(rows[column].mean()) if len(rows) and column in rows else None
