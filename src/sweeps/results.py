"""``optimization_results.yaml``: what a finished search found, written from its trial log and
``runs.csv`` (the best trial, its validation and test accuracy, how many trials failed or were
pruned and, for a pruned search, the epochs it trained against an unpruned one)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nets.atomic import atomic_write_text
from nets.status import Status
from runrecord import finite_or_none

RESULTS = "optimization_results.yaml"


def best_trial(trials: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    """The best trial trained to its end (a pruned one only if none was: its objective is at
    fewer epochs)."""
    good = [t for t in trials if t["objective"] is not None and t["status"] != Status.PRUNED.value]
    good = good or [t for t in trials if t["objective"] is not None]
    if not good:
        return None
    pick = max if direction == "maximize" else min
    return pick(good, key=lambda t: t["objective"])


def write_results(sweep_dir: Path, trials: list[dict[str, Any]], runs: pd.DataFrame, method: str, direction: str,
                  max_epochs: int | None) -> dict[str, Any]:
    """Write ``<sweep dir>/optimization_results.yaml``; returns what it holds. ``max_epochs``:
    ``trainer.epochs`` of a pruned search (None for any other)."""
    best = best_trial(trials, direction)
    results: dict[str, Any] = {
        "name": "nnsweep search", "method": method, "direction": direction,
        "n_trials": len(trials), "n_failed": sum(1 for t in trials if t["objective"] is None),
        "n_pruned": sum(1 for t in trials if t["status"] == Status.PRUNED.value),
        "best_params": None, "best_value": None,
    }
    if max_epochs is not None:
        results["epochs_trained"] = sum(t["epochs"] or 0 for t in trials if t.get("copy_of") is None)
        results["epochs_unpruned"] = len(trials) * max_epochs
    if best is not None:
        row = runs[runs["run"] == best["run_dir"]] if "run" in runs else runs.iloc[:0]
        results.update({
            "best_params": dict(best["params"]),
            "best_value": best["objective"],
            "best_run_dir": best["run_dir"],
            "best_val_acc": finite_or_none(row["best_val_acc"].iloc[0]) if len(row) else None,
            "best_test_acc": finite_or_none(row["test_acc"].iloc[0]) if len(row) else None,
        })
    atomic_write_text(sweep_dir / RESULTS, yaml.safe_dump(results, sort_keys=False))
    return results
