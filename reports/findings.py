"""The findings at the top of a learning-rate sweep's report, each a number read from the tables
(``epochs.csv`` through the lr x epoch grids, ``runs.csv``) with what it rests on:

- the usable rates at a few epoch budgets: those whose validation accuracy within the budget
  (the best epoch up to it, mean over seeds) is within ``WINDOW_POINTS`` of the budget's best;
- the divergence boundary: the smallest rate from which, at every larger rate too, most runs
  diverged or never learned, with the count at each of those rates;
- where overfitting starts: for the best rate, the epoch of its best validation accuracy, if its
  train-validation gap grows after it by more than ``WINDOW_POINTS`` (and one validation digit).

With one seed a finding is one run's; the sentence says how many seeds each number averages
(a window's edges move by a validation digit or two between seeds).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from nnsweep.reports.grid import LrEpochGrid
from nnsweep.reports.tables import never_learned

WINDOW_POINTS = 1.0  # percentage points of validation accuracy


def budgets(epochs: int) -> list[int]:
    """A few epoch budgets to read the window at: 1, a quarter, half and all of the epochs."""
    return sorted({1, max(1, round(epochs / 4)), max(1, round(epochs / 2)), epochs})


def _rate(lr: float) -> str:
    return f"{lr:.3g}"


def seeds_text(grid: LrEpochGrid) -> str:
    return "one seed per rate" if grid.repeats <= 1 else f"means over up to {grid.repeats} seeds"


def usable_window(grid: LrEpochGrid) -> str | None:
    """The rates within ``WINDOW_POINTS`` of the best at each budget, or None (fewer than 3 rates)."""
    learned = grid.rows["dead"].to_numpy(dtype=str) == ""
    if len(grid.lrs) < 3 or not learned.any():
        return None
    values = np.where(learned[:, None], grid.values, np.nan) * 100
    parts = []
    for budget in budgets(len(grid.epochs)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a rate with no value yet: NaN, as meant
            within = np.nanmax(values[:, :budget], axis=1)
        if np.all(np.isnan(within)):
            continue
        best = int(np.nanargmax(within))
        usable = np.flatnonzero(within >= within[best] - WINDOW_POINTS)
        rates = grid.lrs[usable]
        span = _rate(rates.min()) if len(rates) == 1 else f"{_rate(rates.min())} to {_rate(rates.max())}"
        parts.append(
            f"{budget} epoch{'s' if budget > 1 else ''}: {span} ({len(rates)} of {len(grid.lrs)} rates; best "
            f"{within[best]:.1f}% at {_rate(grid.lrs[best])})"
        )
    if not parts:
        return None
    return (
        f"Usable learning rates (validation accuracy within {WINDOW_POINTS:g} point of the best, by epoch budget; "
        f"{seeds_text(grid)}): " + "; ".join(parts) + "."
    )


def _failure(counts) -> str:
    """What the failed runs of one rate did: "diverged", "never learned", or both ("3 diverged, 1 never learned")."""
    if counts.diverged == counts.bad:
        return "diverged"
    if counts.diverged == 0:
        return "never learned"
    return f"{int(counts.diverged)} diverged, {int(counts.bad - counts.diverged)} never learned"


def divergence_boundary(runs: pd.DataFrame) -> str | None:
    """From which rate up most runs diverged or never learned, with the counts."""
    if "lr" not in runs or runs["lr"].nunique() < 3:
        return None
    table = runs.assign(
        lr=pd.to_numeric(runs["lr"], errors="coerce"),
        bad=(runs["status"] == "diverged") | never_learned(runs),
        diverged=runs["status"] == "diverged",
    ).dropna(subset=["lr"])
    by_rate = table.groupby("lr").agg(n=("bad", "size"), bad=("bad", "sum"), diverged=("diverged", "sum"))
    failing = (by_rate["bad"] * 2 > by_rate["n"]).to_numpy()
    if not failing[-1]:
        return f"No divergence boundary: at the largest rate, {_rate(by_rate.index[-1])}, most runs learned."
    start = len(failing) - 1
    while start > 0 and failing[start - 1]:
        start -= 1
    counts = [f"{_rate(lr)}: {int(r.bad)} of {int(r.n)} ({_failure(r)})" for lr, r in by_rate.iloc[start:].iterrows()]
    below = f"; at {_rate(by_rate.index[start - 1])} most learned" if start > 0 else ""
    return (
        f"Divergence boundary: from lr {_rate(by_rate.index[start])} up, most runs diverged or never learned ("
        + "; ".join(counts)
        + f"){below}."
    )


def overfitting_start(gap: LrEpochGrid, accuracy: LrEpochGrid, val_size: int | None) -> str | None:
    """For the best rate: whether its validation accuracy stopped improving before the last epoch
    while the train-validation gap went on growing. The gap alone is no sign: training accuracy is
    measured during each epoch, while the weights still change, so the gap is smallest at epoch 1
    and grows in the first epochs whether or not the network overfits. So the start is the epoch of
    the best validation accuracy, and overfitting is claimed only if the gap grew after it by more
    than ``WINDOW_POINTS`` (and more than one validation digit)."""
    cell = accuracy.best_cell()
    if cell is None or len(gap.epochs) < 3:
        return None
    row = cell[0]
    val = accuracy.values[row] * 100
    values = gap.values[row] * 100
    recorded = np.flatnonzero(np.isfinite(values) & np.isfinite(val))
    if len(recorded) < 3:
        return None
    last = int(recorded[-1])
    best = int(recorded[np.argmax(val[recorded])])
    growth = values[last] - values[best]
    digit = 100 / val_size if val_size else 0.0
    name = f"the best rate, {_rate(accuracy.lrs[row])}"
    if best == last:
        return (
            f"No overfitting within {last + 1} epochs at {name}: its validation accuracy is still at its best at the "
            f"last epoch ({val[last]:.1f}%; {seeds_text(gap)})."
        )
    if growth <= max(WINDOW_POINTS, digit):
        return (
            f"No clear overfitting within {last + 1} epochs at {name}: its validation accuracy peaked at epoch "
            f"{best + 1} ({val[best]:.1f}%, {val[last]:.1f}% at the end), and its train-validation gap grew by "
            f"{growth:+.1f} points after it, within {WINDOW_POINTS:g} point ({seeds_text(gap)})."
        )
    interval = ""
    if np.isfinite(gap.low[row, last]) and np.isfinite(gap.high[row, last]):
        interval = f" (95% interval {gap.low[row, last] * 100:+.1f} to {gap.high[row, last] * 100:+.1f})"
    return (
        f"Overfitting starts after epoch {best + 1} at {name}: its validation accuracy peaks there "
        f"({val[best]:.1f}%; {val[last]:.1f}% at epoch {last + 1}) while its train-validation gap grows from "
        f"{values[best]:+.1f} points to {values[last]:+.1f}{interval} ({seeds_text(gap)})."
    )


def lr_findings(grids: dict[str, LrEpochGrid], runs: pd.DataFrame) -> list[str]:
    """The findings of a sweep over the rate of one configuration (none for other sweeps)."""
    accuracy = grids.get("val_acc")
    if accuracy is None or not accuracy.lr_only or len(accuracy.lrs) < 3:
        return []
    sizes = pd.to_numeric(runs.get("val_size", pd.Series(dtype=float)), errors="coerce").dropna()
    val_size = int(sizes.min()) if len(sizes) else None
    found = [usable_window(accuracy), divergence_boundary(runs)]
    if "gap" in grids:
        found.append(overfitting_start(grids["gap"], accuracy, val_size))
    return [f for f in found if f]
