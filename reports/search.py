"""Views of a sweep's trial log: every trial as a line across the parameter axes (a grid's too),
a search's optimisation history, the rungs of a pruned search (``search_figures``: the report's
section), and the name of the engine that ran it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import cm, colors
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nnsweep.reports.html import Figure
from nnsweep.reports.pruning import render_rungs
from nnsweep.reports.style import CMAP_ACCURACY, plt, save
from nnsweep.runrecord import Status
from nnsweep.runrecord.bounded import RecordFormatError, parse_yaml
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.trial_runs import checked_against_runs
from nnsweep.sweeps.trials import TrialLog

# A trial a pruner stopped (or has paused) has its objective at fewer epochs than the others.
STOPPED_SHORT = (Status.PRUNED, Status.PAUSED)


def _axis_positions(values: list) -> tuple[np.ndarray, list[str], list[float]]:
    """Values scaled to 0..1 for one parameter axis (log scale for positive numbers spanning
    more than 20x, category index for text); with tick labels."""
    if _numeric(values):
        x = np.asarray(values, dtype=float)
        lo, hi = float(x.min()), float(x.max())
        if lo > 0 and hi / lo > 20:
            y = (np.log(x) - np.log(lo)) / max(np.log(hi) - np.log(lo), 1e-12)
        else:
            y = (x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5)
        return y, [f"{lo:.3g}", f"{hi:.3g}"], [0.0, 1.0]
    cats = sorted({str(v) for v in values}, key=category_order)
    index = {c: i for i, c in enumerate(cats)}
    y = np.array([index[str(v)] for v in values], dtype=float) / max(len(cats) - 1, 1)
    ticks = [i / max(len(cats) - 1, 1) for i in range(len(cats))]
    return y, cats, ticks


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _fan_out(y: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """A categorical axis's positions spread a little about each category, in order of the
    objective (the best on top), so that the lines through one category stay apart: a grid puts
    a dozen runs through each."""
    categories = np.unique(y)
    width = 0.16 * (np.diff(categories).min() if categories.size > 1 else 1.0)
    spread = y.copy()
    for c in categories:
        members = np.flatnonzero(y == c)
        if members.size > 1:
            rank = np.argsort(np.argsort(np.nan_to_num(objective[members], nan=-np.inf), kind="stable"), kind="stable")
            spread[members] = c + width * (rank / (members.size - 1) - 0.5)
    return spread


def category_order(text: str) -> tuple:
    """How a category sorts: numbers and lists of numbers (``[10]`` < ``[30]`` < ``[100]``, not
    as text) by value, before any other text, which sorts as text."""
    try:
        value = parse_yaml(text)  # with the record limits: a value is data
    except RecordFormatError:
        value = text
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return (0, tuple(float(v) for v in items), text)
    return (1, (), text)


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def render_parallel_coordinates(log: TrialLog | None, path: Path) -> Path | None:
    """One line per trial through its parameter values, coloured by its objective; pruned
    trials thin and dashed (their objective is at fewer epochs), failed trials dashed grey. None
    when the sweep has no trial log (not a search) or it holds no trial yet. Each line has
    ``gid`` ``"trial <n>"``."""
    if log is None or not log.trials:
        return None
    names, trials = log.names, log.trials
    objective = np.array([np.nan if t.objective is None else t.objective for t in trials], dtype=float)
    short = np.array([t.status in STOPPED_SHORT for t in trials])
    columns = [_axis_positions([t.params[n] for t in trials]) for n in names]
    n_axes = len(names) + 1
    ok = np.isfinite(objective)
    columns = [
        (y if _numeric([t.params[n] for t in trials]) else _fan_out(y, objective), labels, ticks)
        for n, (y, labels, ticks) in zip(names, columns)
    ]
    lo, hi = (float(objective[ok].min()), float(objective[ok].max())) if ok.any() else (0.0, 1.0)
    obj_pos = (objective - lo) / (hi - lo) if hi > lo else np.full_like(objective, 0.5)
    norm = colors.Normalize(lo, hi if hi > lo else lo + 1e-9)
    cmap = plt.get_cmap(CMAP_ACCURACY)
    fig, ax = plt.subplots(figsize=(2.2 * n_axes + 2, 4.8))
    order = np.lexsort((np.where(ok, objective, -np.inf), ~short))  # pruned first, then best drawn last, on top
    for i in order:
        ys = [c[0][i] for c in columns] + [obj_pos[i] if ok[i] else 0.0]
        if not ok[i]:
            style = {"color": "grey", "linestyle": "--", "alpha": 0.7, "linewidth": 1}
        elif short[i]:
            style = {"color": cmap(norm(objective[i])), "linestyle": "--", "alpha": 0.75, "linewidth": 0.9}
        else:
            style = {"color": cmap(norm(objective[i])), "alpha": 0.85, "linewidth": 1.6}
        ax.plot(range(n_axes), ys, gid=f"trial {trials[i].number}", **style)
    for k, (_, labels, ticks) in enumerate(columns):
        ax.axvline(k, color="black", linewidth=0.8)
        for label, tick in zip(labels, ticks):
            ax.text(k + 0.03, tick, label, fontsize=8, va="center")
    ax.axvline(n_axes - 1, color="black", linewidth=0.8)
    ax.text(n_axes - 1 + 0.03, 0, f"{lo:.3g}", fontsize=8, va="center")
    ax.text(n_axes - 1 + 0.03, 1, f"{hi:.3g}", fontsize=8, va="center")
    ax.set_xticks(range(n_axes), names + ["objective"], rotation=15)
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    ax.set_xlim(-0.1, n_axes - 0.6)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="objective (validation)")
    failed = int((~ok).sum())
    grid = log.settings.get("method") == "grid"
    ax.set_title(
        (
            f"{len(trials)} runs of the grid, each a line through its settings"
            if grid
            else f"{len(trials)} trials, each a line through its parameters"
        )
        + (f"; {failed} failed or diverged (grey, dashed)" if failed else "")
    )
    if (short & ok).any():
        paused = any(t.status == Status.PAUSED for t in trials)
        handles = [
            Line2D([], [], color="black", linewidth=1.6, label="trained to its end"),
            Line2D(
                [],
                [],
                color="black",
                linestyle="--",
                linewidth=0.9,
                label=f"pruned{' or paused' if paused else ''}: objective at fewer epochs",
            ),
        ]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.08), ncols=2, frameon=False, fontsize=8)
    return save(fig, path)


# What each engine of ``nnsweep.sweeps.engines`` is called on the page (the trial log's ``method``).
ENGINE_NAMES = {
    "grid": "Grid",
    "random": "Random search",
    "gp": "Bayesian search (scikit-optimize, a Gaussian process)",
    "rf": "Bayesian search (scikit-optimize, a random forest)",
    "et": "Bayesian search (scikit-optimize, extra trees)",
    "tpe": "TPE search (Optuna)",
}


def engine_name(log: TrialLog | None) -> str:
    """ "Random search", "TPE search (Optuna)" ...: what ran the sweep, from its trial log;
    "Search" when there is none, or it names an engine this version does not know."""
    method = log.settings.get("method") if log is not None else None
    return ENGINE_NAMES.get(method, f"Search ({method})" if isinstance(method, str) and method else "Search")


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def render_optimisation_history(log: TrialLog | None, path: Path) -> Path | None:
    """Each trial's objective in the order the trials were asked (dots; hollow: pruned, at fewer
    epochs; crosses on the axis: failed, no objective), and the best objective of the finished
    trials so far as a step line, the way it was optimised (maximised or minimised): Optuna's
    ``plot_optimization_history``, for searches scikit-optimize's convergence plot does not
    cover. None without a search log (a grid is not optimised). Artists have gids:
    "objective", "pruned", "failed", "best so far"."""
    if log is None or not log.trials or log.settings.get("method") == "grid":
        return None
    trials = sorted(log.trials, key=lambda t: t.number)
    maximise = log.settings.get("direction", "maximize") != "minimize"
    number = np.array([t.number for t in trials])
    objective = np.array([np.nan if t.objective is None else t.objective for t in trials], dtype=float)
    short = np.array([t.status in STOPPED_SHORT for t in trials])
    ok = np.isfinite(objective)
    finished = ok & ~short
    best, so_far = np.full(len(trials), np.nan), np.nan
    for i in range(len(trials)):
        if finished[i] and not (objective[i] <= so_far if maximise else objective[i] >= so_far):
            so_far = objective[i]
        best[i] = so_far
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.plot(
        number[finished], objective[finished], "o", color="C0", alpha=0.8, gid="objective", label="objective of a trial"
    )
    if (ok & short).any():
        ax.plot(
            number[ok & short],
            objective[ok & short],
            "o",
            markerfacecolor="none",
            color="C0",
            alpha=0.8,
            gid="pruned",
            label="pruned: objective at fewer epochs",
        )
    ax.plot(
        number,
        best,
        drawstyle="steps-post",
        color="C3",
        linewidth=2,
        gid="best so far",
        label=f"best so far ({'highest' if maximise else 'lowest'} of the finished trials)",
    )
    if (~ok).any():
        ax.plot(
            number[~ok],
            np.full((~ok).sum(), 0.03),
            "x",
            color="#b00020",
            markersize=8,
            transform=ax.get_xaxis_transform(),
            gid="failed",
            label="failed or diverged: no objective",
        )
    ax.set_xlabel("trial, in the order asked")
    ax.set_ylabel(f"objective (validation, {'maximised' if maximise else 'minimised'})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{engine_name(log)}: optimisation history, {len(trials)} trials")
    return save(fig, path)


def search_figures(sweep_dir: Path, out: Path, notes: list[str]) -> list[Figure]:
    """The figures of a sweep's trial log: every trial (a grid's every run, when it varies more
    than one setting) across the parameters, a search's optimisation history (unless skopt drew
    its convergence), and the rungs of a pruned search. No log: none; a damaged one: a note."""
    try:
        log = trial_log.load(sweep_dir)
    except trial_log.TrialLogError as err:
        notes.append(f"No view of the search's trials: {err}")
        return []
    if log is not None:
        checked_against_runs(sweep_dir, log.trials)  # each trial's objective as its runs record it
    figures = []
    # A grid over one setting (the rate) is its accuracy vs lr figure already; over more, a line per run shows them all.
    grid = log is not None and log.settings.get("method") == "grid"
    drawn = log is not None and (not grid or len(log.names) >= 2)
    if drawn and render_parallel_coordinates(log, out / "trials_parallel.png") is not None:
        pruned = (
            " Dashed thin lines: trials the pruner stopped, whose objective is at fewer epochs."
            if any(t.status == Status.PRUNED for t in log.trials)
            else ""
        )
        figures.append(
            Figure(
                "trials_parallel.png",
                "Every run of the grid as a line through its settings, coloured by its validation objective."
                if grid
                else "Every trial of the search as a line "
                "through its parameter values, coloured by its validation objective." + pruned,
            )
        )
    # scikit-optimize's convergence plot is this view of its searches (drawn when they end)
    if (
        not (sweep_dir / "skopt_convergence.png").exists()
        and render_optimisation_history(log, out / "optimisation_history.png") is not None
    ):
        figures.append(
            Figure(
                "optimisation_history.png",
                f"{engine_name(log)}: the objective of each trial in the "
                "order the trials were asked, and the best of the finished trials so far (the step "
                "line)."
                + (" Hollow: pruned, at fewer epochs." if any(t.status in STOPPED_SHORT for t in log.trials) else ""),
            )
        )
    if render_rungs(log, out / "rungs.png") is not None:
        eta = log.settings["pruner"].get("reduction_factor", "eta")
        figures.append(
            Figure(
                "rungs.png",
                "Successive halving, rung by rung: each trial's objective (objective=, "
                "by default the best validation accuracy so far) at each rung it reached (dots: "
                "continued, crosses: pruned; in colour: the "
                f"trials trained to the last epoch). The rule: at each rung the top 1/{eta} of the "
                "trials that have reached it so far (at least one) continue, the others are pruned.",
            )
        )
    return figures
