"""Is the best configuration better than the runner-up, or is the gap seed noise? One sentence.

Repeats of a sweep use the same seeds for every configuration (``sweeps.lr --repeats``,
``hydra.sweeper.repeats``), and a seed fixes the initial weights and the order of the examples.
Two configurations run with the same seed share that luck, so the comparison is made seed by
seed: the difference of their best validation accuracies for each seed both have, then the
mean difference and its 95% interval from Student's t with n - 1 degrees of freedom (the paired
t interval: Rice, *Mathematical Statistics and Data Analysis*, section 11.3). Pairing removes
the part of the noise the two share, which an interval of each mean alone would count twice.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.style import lr_label
from reports.tables import (config_keys, configuration_of, key_text, mean_interval, seed_column, setting_text,
                            varied_settings)

ONE_SEED = ("One seed per configuration: train repeats (sweeps.lr --repeats 3, or hydra.sweeper.repeats=3 in a "
            "search) to see whether the winner is real.")


def paired_difference(a: dict, b: dict) -> tuple[float, float, float, int]:
    """``a`` and ``b`` map seed -> value; over the seeds both have (finite), the mean of a - b
    and its 95% Student t interval (``tables.mean_interval``), and their number: ``(mean, low,
    high, n)``. The interval is NaN with fewer than two seeds, and the mean itself when every
    difference is the same."""
    common = sorted(s for s in a.keys() & b.keys() if np.isfinite(a[s]) and np.isfinite(b[s]))
    mean, low, high, n = mean_interval(np.array([[a[s] - b[s]] for s in common], dtype=float).reshape(-1, 1))
    return float(mean[0]), float(low[0]), float(high[0]), int(n[0])


def _names(first: pd.Series, second: pd.Series, configs: pd.DataFrame) -> tuple[str, str]:
    """Each configuration named by the settings in which the two differ (lr first)."""
    keys = [k for k in ("lr", *varied_settings(configs)) if k in configs]
    keys = [k for k in keys if _text(first[k]) != _text(second[k])] or \
        [k for k in config_keys(configs) if _text(first[k]) != _text(second[k])]

    def name(row: pd.Series) -> str:
        return ", ".join(f"lr {lr_label(float(row[k]))}" if k == "lr" else setting_text(k, row[k]) for k in keys)
    return name(first), name(second)


def _text(value) -> str:
    return key_text(pd.Series([value])).iloc[0]


def _points(x: float) -> str:
    """A difference in points to one decimal, never "-0.0"."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def best_vs_runner_up(runs: pd.DataFrame, configs: pd.DataFrame) -> str | None:
    """The best configuration against the runner-up (by mean best validation accuracy, the order
    of configs.csv), paired by seed: the difference in points, its 95% interval, the number of
    seeds and a plain verdict. When they share fewer than two seeds, a sentence saying so and
    what to do; None when there is no runner-up (fewer than two configurations with a value)."""
    ranked = configs[pd.to_numeric(configs["best_val_acc_mean"], errors="coerce").notna()]
    if len(ranked) < 2:
        return None
    first, second = ranked.iloc[0], ranked.iloc[1]
    positions = configuration_of(runs, configs)
    seed = seed_column(runs, configs)
    per_seed = []
    for config in (first, second):
        members = runs[positions == configs.index.get_loc(config.name)]
        seeds = members[seed] if seed else pd.Series(range(len(members)), index=members.index)
        values = pd.to_numeric(members["best_val_acc"], errors="coerce") * 100
        per_seed.append({s: v for s, v in zip(key_text(seeds), values)})
    a, b = _names(first, second, configs)
    mean, low, high, n = paired_difference(*per_seed)
    if n < 2:
        if max(len(per_seed[0]), len(per_seed[1])) < 2:
            return ONE_SEED
        return f"{a} and {b} share {n} seed{'s' if n != 1 else ''} with a value: too few to compare them seed by seed."
    if low <= 0 <= high:
        verdict = "the interval includes 0, so the difference may be noise."
    elif low > 0:
        verdict = "the interval lies above 0, so the difference is more than seed noise."
    else:
        verdict = f"the interval lies below 0: on the seeds both have, {b} is the better."
    lead = (f"{a} beats {b} by {_points(mean)}" if mean >= 0 else
            f"{a} has the best mean, but trails {b} by {_points(-mean)}")
    return (f"{lead} points of validation accuracy (95% interval {_points(low)} to {_points(high)}, paired over "
            f"{n} seeds): {verdict}")

