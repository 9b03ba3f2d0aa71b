"""Which searched setting mattered: the share of the objective's variance each setting's main
effect explains (fANOVA: Hutter, Hoos and Leyton-Brown, ICML 2014), with a 95% interval.

The estimate is Optuna's ``FanovaImportanceEvaluator`` on an in-memory study built from the
sweep's runs (one trial per run, so repeats of a configuration weigh as the seeds they are), not
a forest of our own. A setting searched on a log scale (``tag(log, ...)``, or a grid whose values
span a decade or more) enters as its log10: fANOVA averages over the space uniformly, and the
learning rate was searched uniformly in its exponent, not in its value.

The interval is a bootstrap (``BOOTSTRAPS`` resamples, percentile): configurations drawn with
replacement, and within each the seeds drawn with replacement, the importance computed on each
resample. With fewer configurations than ``min_configurations`` it states that instead of numbers:
a forest on a handful of points gives any answer. Each share is the setting's own main effect;
they need not sum to 1 (the rest is interactions and noise).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnsweep.core.objectives import OBJECTIVE_NAMES

BOOTSTRAPS = 100
N_TREES = 32
SEED = 0
CONFIDENCE = 0.95
NONE = 0.01  # a lower bound below 1% of the variance: the setting is not told apart from one that does nothing
FINISHED = ("ok", "early_stopped", "diverged")  # a pruned run's objective is at fewer epochs: left out


@dataclass(frozen=True)
class SettingImportance:
    setting: str
    share: float  # of the objective's variance its main effect explains, on every run
    low: float
    high: float
    log_scale: bool


@dataclass(frozen=True)
class Importances:
    objective: str
    settings: list[SettingImportance]  # most important first; empty when not estimated
    configurations: int
    runs: int
    why_not: str | None = None  # why there are no numbers
    varied: int = 0  # the searched settings that took more than one value

    @property
    def objective_name(self) -> str:
        return OBJECTIVE_NAMES.get(self.objective, self.objective)

    def sentence(self) -> str:
        """ "optimizer.lr explains 71% (58-83%) of the variance of the best val acc; net.hidden.0 12% (4-22%)"."""
        if self.why_not:
            return f"Importance: not estimated: {self.why_not}."

        def share(s: SettingImportance) -> str:
            weak = " (not told apart from none)" if s.low < NONE else ""
            return f"{s.share:.0%} ({s.low:.0%}-{s.high:.0%}){weak}"

        first, *rest = self.settings
        return (
            f"Importance (fANOVA, 95% bootstrap intervals over {self.configurations} configurations and {self.runs} "
            f"runs): {first.setting} explains {share(first)} of the variance of the {self.objective_name}"
            + "".join(f"; {s.setting} {share(s)}" for s in rest)
            + "."
        )


def min_configurations(settings: int) -> int:
    """Configurations a forest needs before its importances mean something: 10, and 5 per setting."""
    return max(10, 5 * settings)


def numeric(values: pd.Series) -> pd.Series | None:
    found = pd.to_numeric(values, errors="coerce")
    return found if found.notna().all() else None


def spans_a_decade(low: float, high: float) -> bool:
    """Whether values from ``low`` to ``high`` are read on a log scale when the record does not say
    how they were searched (a grid's rates): positive, and a decade apart or more."""
    return bool(low > 0 and high / low >= 10)


def design(runs: pd.DataFrame, names: list[str], log_names: set[str] | None) -> tuple[pd.DataFrame, dict[str, bool]]:
    """The settings as the forest sees them: numbers (log10 where searched on a log scale),
    categories as text; and which were taken on a log scale. ``log_names`` None: the record does
    not say (a grid's values), so positive values spanning a decade or more are taken as log."""
    table, logged = pd.DataFrame(index=runs.index), {}
    for name in names:
        values = numeric(runs[name])
        if values is None:
            table[name], logged[name] = runs[name].astype(str), False
            continue
        logged[name] = name in log_names if log_names is not None else spans_a_decade(values.min(), values.max())
        table[name] = np.log10(values) if logged[name] else values.astype(float)
    return table, logged


def fanova(table: pd.DataFrame, y: np.ndarray, maximize: bool, seed: int) -> dict[str, float]:
    """Optuna's fANOVA on a study of these rows (one trial each)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.importance import FanovaImportanceEvaluator

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {}
    for name in table:
        column = table[name]
        if column.dtype == object:
            distributions[name] = CategoricalDistribution(sorted(column.unique()))
        else:
            distributions[name] = FloatDistribution(float(column.min()), float(column.max()))
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    rows = table.to_dict("records")
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={k: (v if isinstance(v, str) else float(v)) for k, v in row.items()},
                distributions=distributions,
                value=float(value),
            )
            for row, value in zip(rows, y)
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = FanovaImportanceEvaluator(n_trees=N_TREES, seed=seed).evaluate(study)
    return {name: float(found.get(name, 0.0)) for name in table}


def importances(
    runs: pd.DataFrame,
    names: list[str],
    objective: str = "best_val_acc",
    maximize: bool = True,
    log_names: set[str] | None = None,
    bootstraps: int = BOOTSTRAPS,
) -> Importances:
    """The importance of each of ``names`` (runs.csv columns) for ``objective``, over the
    finished runs of ``runs``, with bootstrap intervals (seeded: the same table gives the same
    numbers)."""
    names = [n for n in names if n in runs]
    usable = runs[runs["status"].isin(FINISHED)] if "status" in runs else runs
    scored = pd.to_numeric(usable[objective], errors="coerce").notna() if objective in usable else False
    usable = usable[scored] if objective in usable else usable[:0]
    varied = [n for n in names if usable[n].astype(str).nunique() > 1]
    configs = usable[varied].astype(str).agg("|".join, axis=1) if varied else pd.Series([], dtype=str)
    n_configs = configs.nunique() if varied else 0
    if len(varied) < 2:
        why = "one setting varies: all the variance the settings explain is its own" if varied else "no setting varies"
        return Importances(objective, [], n_configs, len(usable), why, len(varied))
    need = min_configurations(len(varied))
    if n_configs < need:
        why = f"{len(varied)} settings need at least {need} finished configurations, this sweep has {n_configs}"
        return Importances(objective, [], n_configs, len(usable), why, len(varied))
    table, logged = design(usable[varied], varied, log_names)
    y = pd.to_numeric(usable[objective]).to_numpy(dtype=float)
    point = fanova(table, y, maximize, SEED)
    groups = [np.flatnonzero((configs == c).to_numpy()) for c in configs.unique()]
    rng = np.random.default_rng(SEED)
    draws = {name: [] for name in varied}
    for b in range(bootstraps):
        picked = [groups[i] for i in rng.integers(0, len(groups), len(groups))]
        rows = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in picked])
        if all(table[n].iloc[rows].nunique() > 1 for n in varied):
            found = fanova(table.iloc[rows].reset_index(drop=True), y[rows], maximize, SEED + 1 + b)
            for name in varied:
                draws[name].append(found[name])
    tail = 100 * (1 - CONFIDENCE) / 2
    settings = [
        SettingImportance(
            name,
            point[name],
            float(np.percentile(draws[name], tail)) if draws[name] else math.nan,
            float(np.percentile(draws[name], 100 - tail)) if draws[name] else math.nan,
            logged[name],
        )
        for name in varied
    ]
    settings.sort(key=lambda s: -s.share)
    return Importances(objective, settings, n_configs, len(usable), None, len(varied))
