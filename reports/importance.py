"""The report's importance section: which searched setting mattered (``nnsweep.sweeps.importance``),
as a bar chart with 95% intervals, ``importance.csv``, one sentence, and the marginal effect of
the two most important settings (each run's objective against the setting, with a random
forest's partial dependence: scikit-learn's ``partial_dependence``, the others averaged out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.core.atomic import atomic_write_text
from nnsweep.reports.html import Figure
from nnsweep.reports.style import log_axis, plt, save
from nnsweep.reports.tables import SweepTables, table_configs, varied_settings
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.audit import sweep_objective, sweep_settings
from nnsweep.sweeps.importance import FINISHED, Importances, design, importances

IMPORTANCE_CSV = "importance.csv"
IMPORTANCE_SENTENCE = "Importance"  # how the section's sentence starts: the page lists it among the findings


def searched_settings(tables: SweepTables) -> tuple[list[str], set[str] | None]:
    """The settings the sweep searched (its trial log's, else the settings its runs vary) and
    those searched on a log scale (None: the record does not say, as for a grid's values)."""
    try:
        log = trial_log.load(tables.sweep_dir)
    except trial_log.TrialLogError:
        log = None
    if log is not None and log.names:
        if log.settings.get("method") == "grid":
            return log.names, None
        dimensions = log.settings.get("dimensions") or []
        return log.names, {n for n, d in zip(log.names, dimensions) if "log" in str(d)}
    names = varied_settings(table_configs(tables))
    lr = next((k for k in ("optimizer.lr", "lr") if k in tables.runs and tables.runs[k].nunique() > 1), None)
    return ([lr] if lr else []) + [n for n in names if n != lr], None


def sweep_importances(tables: SweepTables) -> Importances:
    names, logged = searched_settings(tables)
    try:
        log = trial_log.load(tables.sweep_dir)
    except trial_log.TrialLogError:
        log = None
    objective, maximize = sweep_objective(sweep_settings(tables.sweep_dir), log)
    return importances(tables.runs, names, objective, maximize, logged)


def write_table(found: Importances, path: Path) -> None:
    rows = [
        {
            "setting": s.setting,
            "objective": found.objective,
            "variance_share": s.share,
            "low_95": s.low,
            "high_95": s.high,
            "log10_scale": s.log_scale,
            "configurations": found.configurations,
            "runs": found.runs,
        }
        for s in found.settings
    ]
    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))


def render_bars(found: Importances, path: Path) -> Path:
    settings = found.settings[::-1]  # most important at the top
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(settings)))
    shares = np.array([100 * s.share for s in settings])
    errors = np.array([[100 * (s.share - s.low), 100 * (s.high - s.share)] for s in settings]).T
    ax.barh(range(len(settings)), shares, xerr=np.clip(errors, 0, None), color="#4477aa", capsize=4)
    ax.set_yticks(range(len(settings)), [s.setting + (" (log10)" if s.log_scale else "") for s in settings])
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of the variance of the {found.objective_name} (main effect)")
    ax.set_title("Which setting mattered (fANOVA, 95% bootstrap intervals)")
    return save(fig, path)


def render_marginal(tables: SweepTables, found: Importances, setting: str, path: Path) -> Path:
    """Each finished run's objective against ``setting``; for a number, the forest's partial
    dependence on it (the other settings averaged over the runs)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import partial_dependence

    runs = tables.runs[tables.runs["status"].isin(FINISHED)]
    runs = runs[pd.to_numeric(runs[found.objective], errors="coerce").notna()]
    names = [s.setting for s in found.settings]
    logged = {s.setting for s in found.settings if s.log_scale}
    table, _ = design(runs[names], names, logged)
    encoded = pd.get_dummies(table, dtype=float)
    y = pd.to_numeric(runs[found.objective]).to_numpy(dtype=float)
    scale = 100 if found.objective.endswith("acc") else 1
    fig, ax = plt.subplots(figsize=(7, 4))
    if table[setting].dtype == object:
        categories = sorted(table[setting].unique())
        for i, c in enumerate(categories):
            values = scale * y[(table[setting] == c).to_numpy()]
            ax.scatter(np.full(len(values), i), values, alpha=0.6, color="#4477aa")
            ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color="black")
        ax.set_xticks(range(len(categories)), categories)
    else:
        x = table[setting].to_numpy(dtype=float)
        shown = 10**x if setting in logged else x
        ax.scatter(shown, scale * y, alpha=0.6, color="#4477aa", label="runs")
        forest = RandomForestRegressor(n_estimators=64, random_state=0, min_samples_leaf=2).fit(encoded, y)
        column = list(encoded.columns).index(setting)
        pd_result = partial_dependence(forest, encoded, [column], grid_resolution=50, kind="average")
        grid = pd_result["grid_values"][0]
        ax.plot(10**grid if setting in logged else grid, scale * pd_result["average"][0], color="black", label="forest")
        if setting in logged:
            log_axis(ax, "x")
        ax.legend(loc="best")
    ax.set_xlabel(setting)
    ax.set_ylabel(found.objective_name + (" (%)" if scale == 100 else ""))
    ax.set_title(f"Marginal effect of {setting}")
    return save(fig, path)


def importance_figures(tables: SweepTables, out: Path, notes: list[str]) -> list[Figure]:
    found = sweep_importances(tables)
    if found.varied < 2:
        return []  # one setting (an lr sweep): all the variance the settings explain is its own; nothing to say
    notes.append(found.sentence())
    if not found.settings:
        return []
    write_table(found, out / IMPORTANCE_CSV)
    figures = [
        Figure(
            render_bars(found, out / "importance.png").name,
            f"The share of the variance of the {found.objective_name} each searched setting explains by itself "
            f"(fANOVA, Optuna's evaluator, on {found.runs} runs), with 95% bootstrap intervals over configurations "
            f"and seeds; the numbers are in {IMPORTANCE_CSV}.",
        )
    ]
    for rank, s in enumerate(found.settings[:2], 1):
        name = f"marginal_{rank}.png"
        render_marginal(tables, found, s.setting, out / name)
        figures.append(
            Figure(
                name,
                f"Marginal effect of {s.setting}: each run's {found.objective_name}, and (a number) a random "
                "forest's partial dependence on it with the other settings averaged over the runs.",
            )
        )
    return figures
