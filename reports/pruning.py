"""The rungs of a pruned search: every trial's objective at each rung, and who continued.

Successive halving (``nnsweep.sweeps.pruning``) judges each trial at a few epochs, its rungs: the top
``1/eta`` of the trials that reached a rung so far continue, the others are pruned. This figure
is the record of those decisions, read from the trial log (``nnsweep.sweeps.trials``) only: a line per
trial through the values it had at its rungs (the best validation accuracy so far, as the pruner
saw it), a dot where it was kept, a cross where it was pruned, and the trials that were trained
to the last epoch drawn in colour. Optuna's ``plot_intermediate_values`` draws the same lines;
here the decisions are on them too, which is what a reader needs to trust a pruned search.

The epoch axis is logarithmic: rungs are ``min_epochs * eta**k``, so they fall evenly spaced,
and a trial that ended between two of them (early stopping) is drawn where it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from nnsweep.reports.style import plt, save
from nnsweep.runrecord import Status
from nnsweep.sweeps.trials import Trial, TrialLog

KEPT = {"marker": "o", "color": "#2a7f3f"}
PRUNED = {"marker": "X", "color": "#b00020"}
ENDED = {"marker": "s", "color": "#707070"}  # ended before the last epoch, not by the pruner
STOPPED_COLOUR = "#a0a0a0"


@dataclass
class TrialPath:
    """One trial as the figure draws it. ``epochs`` and ``values`` are its rungs in order, then
    (if it went on past its last rung and ended) the epoch it ended at and its objective there;
    ``kept`` is True / False at a rung (continued / pruned there) and None at that end."""

    number: int
    epochs: list[int]
    values: list[float]  # NaN where the rung has no value (a trial without validation accuracy)
    kept: list[bool | None]
    reached_last: bool
    label: str


def is_pruned(log: TrialLog | None) -> bool:
    """True for the trial log of a search with a pruner (``TrialLog.rungs``)."""
    return log is not None and log.rungs is not None


def trial_label(trial: Trial, names: list[str]) -> str:
    """``trial 3 (optimizer.lr=0.0316, net.hidden=[32])``: its number and parameters, short."""
    params = [
        f"{n}={trial.params[n]:.3g}" if isinstance(trial.params.get(n), float) else f"{n}={trial.params.get(n)}"
        for n in names
    ]
    return f"trial {trial.number}" + (f" ({', '.join(params)})" if params else "")


def trial_paths(log: TrialLog) -> list[TrialPath]:
    """Every trial that reached a rung, as the figure draws it."""
    _, last = log.rungs
    paths = []
    for trial in log.trials:
        epochs = [r.epochs for r in trial.rungs]
        values = [np.nan if r.value is None else float(r.value) for r in trial.rungs]
        kept: list[bool | None] = [r.kept for r in trial.rungs]
        ended = trial.status != Status.PAUSED and trial.epochs is not None and trial.objective is not None
        if ended and trial.epochs > max(epochs, default=0):
            epochs.append(trial.epochs)
            values.append(float(trial.objective))
            kept.append(None)
        if epochs:
            reached_last = trial.epochs is not None and trial.epochs >= last and kept[-1] is None
            paths.append(TrialPath(trial.number, epochs, values, kept, reached_last, trial_label(trial, log.names)))
    return paths


def rung_counts(log: TrialLog) -> list[tuple[int, int]]:
    """(epochs, how many trials reached them) for each rung and the last epoch."""
    rungs, last = log.rungs
    counts = [(e, sum(any(r.epochs == e for r in t.rungs) for t in log.trials)) for e in rungs]
    return counts + [(last, sum(t.epochs is not None and t.epochs >= last for t in log.trials))]


def best_path(paths: list[TrialPath], maximize: bool) -> TrialPath | None:
    """The trial with the best objective among those trained to the last epoch."""
    finished = [p for p in paths if p.reached_last]
    if not finished:
        return None
    pick = max if maximize else min
    return pick(finished, key=lambda p: p.values[-1])


def decision_points(paths: list[TrialPath]) -> dict[str, list[tuple[int, float]]]:
    """(epochs, value) of every point with a value, by what happened there: "kept" and "pruned"
    at a rung, "last epoch" where a trial trained to the end ended, "ended" where one stopped on
    its own before that."""
    points: dict[str, list[tuple[int, float]]] = {"kept": [], "pruned": [], "last epoch": [], "ended": []}
    for p in paths:
        for epoch, value, kept in zip(p.epochs, p.values, p.kept):
            kind = ("kept" if kept else "pruned") if kept is not None else "last epoch" if p.reached_last else "ended"
            if np.isfinite(value):
                points[kind].append((epoch, value))
    return points


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def draw_rungs(ax, log: TrialLog) -> None:
    """Draw every trial's rung values on ``ax``. Each trial's line has ``gid`` ``"trial <n>"``;
    the kept, pruned and final points are one scatter each, with ``gid`` "kept", "pruned" and
    "last epoch" (and "ended" for trials that stopped on their own before the last epoch). The
    legend names the best trial trained to the last epoch."""
    rungs, last = log.rungs
    maximize = log.settings.get("direction", "maximize") != "minimize"
    paths = trial_paths(log)
    best = best_path(paths, maximize)
    finished = [p for p in paths if p.reached_last]
    colours = {p.number: f"C{k % 10}" for k, p in enumerate(sorted(finished, key=lambda p: p.number))}
    for p in sorted(paths, key=lambda p: p.reached_last):  # the trials trained to the end on top
        colour = colours.get(p.number, STOPPED_COLOUR)
        ax.plot(
            p.epochs,
            p.values,
            color=colour,
            linewidth=2.2 if p.reached_last else 1,
            gid=f"trial {p.number}",
            alpha=1.0 if p.reached_last else 0.7,
            zorder=3 if p.reached_last else 2,
        )
    points = decision_points(paths)
    styles = {
        "kept": dict(s=28, **KEPT),
        "pruned": dict(s=55, **PRUNED),
        "ended": dict(s=30, **ENDED),
        "last epoch": dict(s=170, marker="*", color=[colours[p.number] for p in finished if np.isfinite(p.values[-1])]),
    }
    for kind, xy in points.items():
        if xy:
            x, y = np.array(xy, dtype=float).T
            ax.scatter(
                x,
                y,
                zorder=4,
                edgecolors="black" if kind == "last epoch" else "none",
                linewidths=0.6,
                gid=kind,
                **styles[kind],
            )
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ticks = sorted(set(rungs) | {last})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(min(ticks) / 1.5, last * 1.5)
    for tick in ticks:
        ax.axvline(tick, color="#dddddd", linewidth=0.8, zorder=1)
    ax.set_xlabel("epochs (log scale): the rungs, then the last epoch")
    ax.set_ylabel(f"objective ({log.settings.get('direction', 'maximize')}d) at the rung")
    handles = [
        Line2D([], [], color=STOPPED_COLOUR, linewidth=1, label="a trial stopped before the last epoch"),
        Line2D([], [], color="C0", linewidth=2.2, label=f"trained to the last epoch ({len(finished)})"),
        Line2D([], [], linestyle="none", markersize=7, label="kept: continued to the next rung", **KEPT),
        Line2D([], [], linestyle="none", markersize=8, label="pruned at this rung", **PRUNED),
    ]
    if best is not None:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="*",
                markersize=13,
                color=colours[best.number],
                markeredgecolor="black",
                label=f"best: {best.label}, {best.values[-1]:.4g}",
            )
        )
    if points["ended"]:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                markersize=6,
                label="ended on its own (early stopped, diverged, failed)",
                **ENDED,
            )
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    pruner = log.settings["pruner"]
    counts = " \u2192 ".join(f"{n} reached epoch {e}" for e, n in rung_counts(log))
    ax.set_title(
        f"Successive halving ({pruner.get('method', 'pruner')}, eta {pruner.get('reduction_factor', '?')}): "
        f"each trial's objective at its rungs\n{counts}",
        loc="left",
    )


def render_rungs(log: TrialLog | None, path: Path) -> Path | None:
    """The rung figure of a pruned search; None when the search has no pruner (or no log)."""
    if not is_pruned(log):
        return None
    fig, ax = plt.subplots(figsize=(10, 5.2))
    draw_rungs(ax, log)
    return save(fig, path)
