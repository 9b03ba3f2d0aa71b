"""Views of a random or Bayesian search: every trial as a line across the parameter axes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import cm, colors
from matplotlib.lines import Line2D

from reports.style import CMAP_ACCURACY, plt, save
from runrecord import Status
from runrecord.bounded import RecordFormatError, parse_yaml
from sweeps.trials import TrialLog

# A trial a pruner stopped (or has paused) has its objective at fewer epochs than the others.
STOPPED_SHORT = (Status.PRUNED.value, Status.PAUSED.value)


def _axis_positions(values: list) -> tuple[np.ndarray, list[str], list[float]]:
    """Values scaled to 0..1 for one parameter axis (log scale for positive numbers spanning
    more than 20x, category index for text); with tick labels."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        x = np.asarray(values, dtype=float)
        lo, hi = float(x.min()), float(x.max())
        if lo > 0 and hi / lo > 20:
            y = (np.log(x) - np.log(lo)) / max(np.log(hi) - np.log(lo), 1e-12)
        else:
            y = (x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5)
        return y, [f"{lo:.3g}", f"{hi:.3g}"], [0.0, 1.0]
    cats = sorted({str(v) for v in values}, key=_in_order)
    index = {c: i for i, c in enumerate(cats)}
    y = np.array([index[str(v)] for v in values], dtype=float) / max(len(cats) - 1, 1)
    ticks = [i / max(len(cats) - 1, 1) for i in range(len(cats))]
    return y, cats, ticks


def _in_order(text: str) -> tuple:
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


def render_parallel_coordinates(log: TrialLog | None, path: Path) -> Path | None:
    """One line per trial through its parameter values, coloured by its objective; pruned
    trials thin and dashed (their objective is at fewer epochs), failed trials dashed grey. None
    when the sweep has no trial log (not a search) or it holds no trial yet. Each line has
    ``gid`` ``"trial <n>"``."""
    if log is None or not log.trials:
        return None
    names, trials = log.names, log.trials
    objective = np.array([np.nan if t["objective"] is None else t["objective"] for t in trials], dtype=float)
    short = np.array([t["status"] in STOPPED_SHORT for t in trials])
    columns = [_axis_positions([t["params"][n] for t in trials]) for n in names]
    n_axes = len(names) + 1
    ok = np.isfinite(objective)
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
        ax.plot(range(n_axes), ys, gid=f"trial {trials[i]['number']}", **style)
    for k, (_, labels, ticks) in enumerate(columns):
        ax.axvline(k, color="black", linewidth=0.8)
        for label, tick in zip(labels, ticks):
            ax.text(k + 0.03, tick, label, fontsize=8, va="center")
    ax.axvline(n_axes - 1, color="black", linewidth=0.8)
    ax.text(n_axes - 1 + 0.03, 0, f"{lo:.3g}", fontsize=8, va="center")
    ax.text(n_axes - 1 + 0.03, 1, f"{hi:.3g}", fontsize=8, va="center")
    ax.set_xticks(range(n_axes), names + ["objective"], rotation=15)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.1, n_axes - 0.6)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="objective (validation)")
    failed = int((~ok).sum())
    ax.set_title(f"{len(trials)} trials, each a line through its parameters"
                 + (f"; {failed} failed or diverged (grey, dashed)" if failed else ""))
    if (short & ok).any():
        paused = any(t["status"] == "paused" for t in trials)
        handles = [Line2D([], [], color="black", linewidth=1.6, label="trained to its end"),
                   Line2D([], [], color="black", linestyle="--", linewidth=0.9,
                          label=f"pruned{' or paused' if paused else ''}: objective at fewer epochs")]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.08), ncols=2, frameon=False, fontsize=8)
    return save(fig, path)
