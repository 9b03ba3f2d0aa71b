"""The page's sentence on the best configuration and the runner-up, from the sweep's tables.

Repeats of a sweep use the same seeds for every configuration (``nnsweep sweep-lr --repeats``,
``hydra.sweeper.repeats``), and a seed fixes the initial weights and the order of the examples.
Two configurations run with the same seed share that luck, so the comparison is made seed by
seed (the paired t interval: Rice, *Mathematical Statistics and Data Analysis*, section 11.3).
Here the configurations are found and named; what may be said of them (intervals, verdicts,
their wording) is ``nnsweep.sweeps.comparison``'s, the one home of such sentences.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnsweep.reports.style import lr_label
from nnsweep.reports.tables import config_keys, configuration_of, key_text, seed_column, setting_text, varied_settings
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.closing import no_run_learned
from nnsweep.sweeps.comparison import ONE_SEED, Candidate, best_statement, compare
from nnsweep.sweeps.race import entries_of, standings
from nnsweep.sweeps.trial_runs import check_against_runs
from nnsweep.sweeps.trials import TrialLogError

__all__ = ["ONE_SEED", "best_vs_runner_up", "candidates", "compare", "race_statement"]


def _names(first: pd.Series, second: pd.Series, configs: pd.DataFrame) -> tuple[str, str]:
    """Each configuration named by the settings in which the two differ (lr first)."""
    keys = [k for k in ("lr", *varied_settings(configs)) if k in configs]
    keys = [k for k in keys if _text(first[k]) != _text(second[k])] or [
        k for k in config_keys(configs) if _text(first[k]) != _text(second[k])
    ]
    return _name(first, keys), _name(second, keys)


def _name(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(f"lr {lr_label(float(row[k]))}" if k == "lr" else setting_text(k, row[k]) for k in keys) or "one"


def _text(value) -> str:
    return key_text(pd.Series([value])).iloc[0]


def candidates(runs: pd.DataFrame, configs: pd.DataFrame, top: int = 2) -> list[Candidate]:
    """The ``top`` configurations with a mean (the order of configs.csv: best mean first), each
    with its best validation accuracy per seed and its validation size (runs.csv's ``val_size``)."""
    ranked = configs[pd.to_numeric(configs["best_val_acc_mean"], errors="coerce").notna()].iloc[:top]
    positions = configuration_of(runs, configs)
    seed = seed_column(runs, configs)
    if len(ranked) >= 2:
        names = _names(ranked.iloc[0], ranked.iloc[1], configs)
    else:
        names = tuple(
            _name(row, [k for k in ("lr", *varied_settings(configs)) if k in configs]) for _, row in ranked.iterrows()
        )
    found = []
    for name, (_, config) in zip(names, ranked.iterrows()):
        members = runs[positions == configs.index.get_loc(config.name)]
        seeds = members[seed] if seed else pd.Series(range(len(members)), index=members.index)
        values = pd.to_numeric(members["best_val_acc"], errors="coerce")
        sizes = pd.to_numeric(members.get("val_size", pd.Series([], dtype=float)), errors="coerce")
        found.append(
            Candidate(name, dict(zip(key_text(seeds), values)), float(sizes.min()) if sizes.notna().any() else None)
        )
    return found


def best_vs_runner_up(runs: pd.DataFrame, configs: pd.DataFrame) -> str | None:
    """The page's comparison: the best configuration by its mean with its interval, and it
    against the runner-up paired by seed (``nnsweep.sweeps.comparison.best_statement``); the one-seed
    advice without repeats; None with fewer than two configurations and no repeats, or when
    every run ended at chance (``nnsweep.sweeps.closing.no_run_learned``)."""
    if configs is None or configs.empty or no_run_learned(runs):
        return None  # every run at chance: the page's summary says that no run learned, and names no best
    return best_statement(candidates(runs, configs))


def chosen_on(runs: pd.DataFrame) -> str:
    """What the page's choices were made on: the validation split, unless runs scored the test set
    in its place (data.val_size=0, the classic authors' protocol), which the page must then say."""
    on_test = (
        runs["val_is_test"].astype(str).str.lower().eq("true") if "val_is_test" in runs else pd.Series([], dtype=bool)
    )
    if not on_test.any():
        return "Runs are chosen on the validation split only."
    return (
        f"In {int(on_test.sum())} of {len(runs)} runs (data.val_size=0) every training image trained and the test set "
        'was scored in validation\'s place, as the classic authors did: there, "validation" means the test set, and '
        "choices made on it are made on the test set."
    )


def race_statement(sweep_dir: Path, runs: pd.DataFrame) -> str | None:
    """A raced sweep's decision (``hydra.sweeper.repeats=race``, ``nnsweep.sweeps.race``), from the
    seeds' values its trial log holds, the values the sweeper raced on (a trial whose runs do not
    back it, ``nnsweep.sweeps.trial_runs``, counts as failed); None for any other sweep."""
    try:
        log = trial_log.load(sweep_dir)
    except TrialLogError:
        return None
    repeats = log.settings.get("repeats") if log is not None else None
    if not isinstance(repeats, dict) or repeats.get("race") is not True or not isinstance(repeats.get("n"), int):
        return None
    entries = entries_of(log.trials, failed=check_against_runs(sweep_dir, log.trials))
    sizes = pd.to_numeric(runs.get("val_size", pd.Series([], dtype=float)), errors="coerce")
    return standings(entries, repeats["n"], float(sizes.min()) if sizes.notna().any() else None).sentence()
