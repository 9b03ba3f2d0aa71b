"""What a sweep says when it ends, in the report's words: how its runs ended, its best run or
configuration (with repeats: by its mean, with the interval where one can be had), and the best
against the runner-up (``nnsweep.sweeps.comparison``). Read from the tables ``nnsweep.sweeps.collect``
writes; the sweeper prints them, ``nnsweep collect`` too.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from nnsweep.runrecord import Status
from nnsweep.sweeps.collect import (
    REPEATED_METRICS,
    SEED_KEYS,
    SETTING_COLUMNS,
    collect,
    configurations,
    ranked_candidates,
    repeat_keys,
)
from nnsweep.sweeps.comparison import ONE_SEED, compare, describe_mean
from nnsweep.sweeps.engines import Engine, SkoptEngine
from nnsweep.sweeps.errors import SweepError, no_result
from nnsweep.sweeps.results import RESULTS, write_results
from nnsweep.sweeps.search_space import SearchSpace
from nnsweep.sweeps.settings import SweeperSettings
from nnsweep.sweeps.trials import TRIALS, Trial, TrialLog, WarmTrial

log = logging.getLogger("nnsweep.search")


def no_run_learned(runs: pd.DataFrame) -> bool:
    """Every run with a validation accuracy ended at chance (runs.csv's ``at_chance``): there is
    no best to name and nothing to compare, only that nothing learned."""
    if runs.empty or "at_chance" not in runs or "best_val_acc" not in runs:
        return False
    scored = runs[runs["best_val_acc"].notna()]
    stuck = scored["at_chance"].map({True: True, False: False, "True": True, "False": False}).fillna(False)
    return not scored.empty and bool(stuck.astype(bool).all())


NO_RUN_LEARNED = (
    "No run learned: every run ended at chance, so no best is named and no configuration is compared; "
    "check the learning rates (too large, or too small to move), the initialisation and the data."
)


def best_run_sentence(
    runs: pd.DataFrame, configs: pd.DataFrame | None = None, seed_keys: tuple[str, ...] = SEED_KEYS
) -> str | None:
    """The one sentence that names a sweep's best (the terminal and the report both say it), or
    None if no run has a validation accuracy. ``runs`` is runs.csv, best first; ``configs`` is
    configs.csv (``configurations``). With repeats (a configuration trained with several seeds),
    the best is the configuration with the best mean, configs.csv's first: the best single run
    may be the lucky seed of another one. When every run ended at chance, it says that no run
    learned (``NO_RUN_LEARNED``) instead of naming a best."""
    if no_run_learned(runs):
        return NO_RUN_LEARNED
    if (
        configs is not None
        and not configs.empty
        and "repeats" in configs
        and (pd.to_numeric(configs["repeats"], errors="coerce") > 1).any()
    ):
        return _best_configuration_sentence(configs, runs, seed_keys)
    ranked = runs.dropna(subset=["best_val_acc"]) if "best_val_acc" in runs else runs.iloc[:0]
    if ranked.empty:
        return None
    top = ranked.iloc[0]
    test = "" if pd.isna(top.get("test_acc")) else f", test accuracy {top['test_acc']:.2%}"
    # a task of the user's that keeps no epochs (any Hydra task can be swept) has no best epoch
    epoch = "" if pd.isna(top.get("best_epoch")) else f" at epoch {int(top['best_epoch'])}"
    return f"Best: {top['run']} with validation accuracy {top['best_val_acc']:.2%}{epoch}{test}."


def _best_configuration_sentence(configs: pd.DataFrame, runs: pd.DataFrame, seed_keys: tuple[str, ...]) -> str | None:
    """configs.csv's first configuration, its mean and interval in the page's words
    (``nnsweep.sweeps.comparison.describe_mean``: one home for when an interval is withheld)."""
    ranked = configs[pd.to_numeric(configs["best_val_acc_mean"], errors="coerce").notna()]
    candidates = ranked_candidates(runs, seed_keys, top=1)
    if ranked.empty or not candidates:
        return None
    top = ranked.iloc[0]
    test = "" if pd.isna(top.get("test_acc_mean")) else f", mean test accuracy {top['test_acc_mean']:.2%}"
    failed = int(top.get("failed_repeats") or 0)
    lost = f"; {failed} of its {int(top['repeats'])} seeds produced no result" if failed else ""
    return (
        f"Best: {configuration_name(top, configs)} with mean validation accuracy {describe_mean(candidates[0])}"
        f"{test}{lost}."
    )


def runner_up_sentence(runs: pd.DataFrame, seed_keys: tuple[str, ...] = SEED_KEYS) -> str | None:
    """The best configuration against the runner-up, paired by seed, in the page's words
    (``nnsweep.sweeps.comparison.Comparison.sentence``), for the terminal; with one seed each, the page's
    advice that no verdict can be had (``ONE_SEED``); None without a runner-up, or when no run
    learned (the Best line says so: there is no best to compare)."""
    ranked = ranked_candidates(runs, seed_keys)
    if len(ranked) < 2 or no_run_learned(runs):
        return None
    if max(sum(np.isfinite(v) for v in c.per_seed.values()) for c in ranked) < 2:
        return ONE_SEED
    return compare(ranked[0], ranked[1]).sentence()


def configuration_name(row: pd.Series, configs: pd.DataFrame) -> str:
    """A configuration of configs.csv named by the overrides in which the configurations differ
    (``optimizer.lr=0.5``), the settings derived from them if none does."""
    statistics = {"repeats", "seeds", "failed_repeats"} | {
        c for c in configs.columns if c.startswith(tuple(f"{m}_" for m in REPEATED_METRICS))
    }
    keys = [c for c in configs.columns if c not in statistics]
    varying = [k for k in keys if configs[k].astype(str).nunique(dropna=False) > 1]
    named = [k for k in varying if k not in SETTING_COLUMNS] or varying
    return ", ".join(f"{k}={row[k]}" for k in named) or "the only configuration"


def status_counts(runs: pd.DataFrame) -> str:
    """How runs.csv's runs ended, "10 ok, 1 did not learn (at chance)": a run that ended by itself
    without learning (``at_chance``) is counted apart, not among the "ok"."""
    stuck = runs["at_chance"].fillna(False).astype(bool) if "at_chance" in runs else pd.Series(False, runs.index)
    counts = runs.loc[~stuck, "status"].value_counts().to_dict()
    if stuck.any():
        counts["did not learn (at chance)"] = int(stuck.sum())
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def summary_lines(
    runs: pd.DataFrame, configs: pd.DataFrame | None = None, seed_keys: tuple[str, ...] = SEED_KEYS
) -> str:
    """A few lines about a collected sweep: how many runs ended how, and the best (a
    configuration, with repeats: ``best_run_sentence``). A run that ended by itself without
    learning (``at_chance``) is counted as "did not learn (at chance)", not among the "ok"."""
    if runs.empty:
        return "no runs found"
    lines = [f"{len(runs)} runs: {status_counts(runs)}."]
    best = best_run_sentence(runs, configs, seed_keys)
    if best is not None:
        lines.append(best)
    return "\n".join(lines)


# --- the end of a sweep -------------------------------------------------------------------


def say_the_best(sweep_dir: Path, runs: pd.DataFrame) -> None:
    """A grid's closing lines on the terminal: how its runs ended, the best configuration (by
    its mean, with repeats) and how it compares with the runner-up, in the report's words."""
    if runs.empty:
        return
    keys = repeat_keys(sweep_dir)
    print(summary_lines(runs, configurations(runs, keys), keys), flush=True)
    versus = runner_up_sentence(runs, keys)
    if versus is not None:
        print(versus, flush=True)


def finish(
    settings: SweeperSettings,
    sweep_dir: Path,
    space: SearchSpace,
    engine: Engine,
    trials: list[Trial],
    max_epochs: int | None,
    warm: Sequence[WarmTrial] = (),
) -> None:
    """The sweep's end: its tables collected, and a grid's closing lines, or a search's results
    (``optimization_results.yaml``, scikit-optimize's plots) and its best; ``NoResultError``
    when no trial produced a result."""
    runs, _ = collect(sweep_dir)
    counts = Counter(t.status for t in trials)
    if settings.method == "grid":
        ended = status_counts(runs) if not runs.empty else ", ".join(f"{n} {s}" for s, n in counts.items())
        log.info("grid of %d points in %s: %s; tables in %s", len(trials), sweep_dir, ended, sweep_dir / "runs.csv")
        for t in trials:
            if t.status == Status.FAILED:
                log.warning("failed: %s", " ".join(space.overrides(t.point)))
        if trials and all(t.objective is None for t in trials):
            raise no_result(sweep_dir, len(trials))
        say_the_best(sweep_dir, runs)
        return
    results = write_results(sweep_dir, trials, runs, settings.method, settings.direction, max_epochs, warm, space.names)
    if engine.fitted() is not None:
        from nnsweep.sweeps.skopt_plots import write_skopt_plots

        write_skopt_plots(engine.fitted(), space, sweep_dir, settings.direction)
    log.info("best %s = %s; results in %s", results["best_params"], results["best_value"], sweep_dir / RESULTS)
    if results["best_value"] is None:
        raise no_result(sweep_dir, len(trials))


def answer_from_record(
    settings: SweeperSettings,
    sweep_dir: Path,
    space: SearchSpace,
    engine: Engine,
    record: TrialLog,
    max_epochs: int | None,
) -> None:
    """The record already holds the trials asked for: write the results from it, no replay."""
    trials = record.trials
    if len(trials) > settings.n_trials:
        log.info(
            "%s already has %d trials, more than n_trials=%d: nothing to run; reporting the best of the %d "
            "recorded (raise n_trials to continue the search)",
            sweep_dir,
            len(trials),
            settings.n_trials,
            len(trials),
        )
    else:
        log.info(
            "%s already has its %d trials: nothing to run; writing the results from the record", sweep_dir, len(trials)
        )
    if isinstance(engine, SkoptEngine):
        try:
            engine.tell_all([t.point for t in trials], [t.told for t in trials])  # one fit, for the plots
        except (ValueError, TypeError) as err:  # skopt checks each point against the space
            raise SweepError(
                f"{sweep_dir / TRIALS} holds points outside this search space ({err}); move it away "
                "to start the search afresh (finished runs are reused)"
            ) from None
    finish(settings, sweep_dir, space, engine, trials, max_epochs, record.warm)


def say_where_the_report_is(sweep_dir: Path, drawn: bool) -> None:
    """The sweep's last line, as every sweep ends: where its report is, or the command that draws
    it when the live report was off or its final page is missing."""
    index = Path(sweep_dir).resolve() / "report" / "index.html"
    if drawn and index.is_file():
        log.info("report: %s", index)
    else:
        log.info("no report page%s: nnsweep report %s draws it", "" if drawn else " (live report off)", sweep_dir)
