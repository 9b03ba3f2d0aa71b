"""The learning-rate x epoch grid of a sweep (``LrEpochGrid``): one row per configuration ordered by
learning rate, one column per epoch, each cell the configuration's mean over its seeds, with
what the heatmaps, animations and curves say about each row (how it ended, its best epoch).
Read from the tables ``nnsweep.reports.tables`` loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnsweep.reports.search import category_order
from nnsweep.reports.style import lr_label
from nnsweep.reports.tables import (
    MAX_BUDGET_EPOCHS,
    SweepTables,
    configuration_of,
    describe_group,
    describe_settings,
    grid_runs,
    key_text,
    never_learned,
    run_matrix,
    seed_column,
    setting_text,
    table_configs,
    varied_settings,
    varying_settings,
)
from nnsweep.runrecord import Status
from nnsweep.sweeps.comparison import mean_interval, metric_bounds


def is_log_spaced(lrs: np.ndarray) -> bool:
    """Three or more distinct positive rates, each the same factor above the one before (within
    5%: rates are written to three significant digits)."""
    rates = np.unique(np.asarray(lrs, dtype=float))
    if rates.size < 3 or rates[0] <= 0:
        return False
    ratios = rates[1:] / rates[:-1]
    return bool(np.all(np.abs(ratios / ratios.mean() - 1) < 0.05))


@dataclass
class LrEpochGrid:
    """A metric over configuration x epoch, one row per configuration ordered by learning rate:
    for an lr sweep one row per rate.

    ``values: (n_rows, n_epochs)`` is the mean over the row's seeds (one seed: its value), NaN
    where no run has that epoch; ``low``/``high`` its 95% Student t interval (NaN with one value)
    and ``n`` the runs per cell. ``status`` per row is its runs' status when they agree, else the
    worst of them; ``rows`` holds one line per row: lr, label, status, dead ("", "diverged",
    "never learned"), note (e.g. "1 of 3 diverged"), runs, seeds, best (each run's best
    validation accuracy), best_mean / best_low / best_high (configs.csv), last_val_acc (mean of
    each run's last recorded validation accuracy), reached (epochs recorded), pruned, group (the
    settings the row shares with others at other rates, when ``groups``; else "") and group_parts
    (its settings one by one, "optimizer adam", "net mlp").
    """

    lrs: np.ndarray
    epochs: np.ndarray
    values: np.ndarray
    status: list[str]
    diverged_epoch: list[float]
    group: str  # what the rows share, for titles: settings, slice, seeds
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray
    labels: list[str]  # one per row: its rate, or (rows that differ in more) its settings
    axis_label: str
    rows: pd.DataFrame
    lr_only: bool  # the rows differ in their rate only: one configuration's response to the rate
    repeats: int  # most seeds in a row (1: no repeats)

    @property
    def dead(self) -> list[str]:
        return self.rows["dead"].tolist()

    @property
    def groups(self) -> list[str]:
        """The groups of rows that share every setting but the rate ("optimizer adam, net mlp"),
        in row order, when each holds two rates or more (a grid over the rate and other
        settings: a line each on accuracy vs lr); else none."""
        return list(dict.fromkeys(self.rows["group"])) if self.rows["group"].astype(bool).all() else []

    def best_cell(self) -> tuple[int, int] | None:
        """The highest mean cell among the rows that learned (row, epoch index)."""
        values = np.where(self.rows["dead"].to_numpy(dtype=str)[:, None] == "", self.values, np.nan)
        if np.all(np.isnan(values)):
            return None
        flat = int(np.nanargmax(values))
        return divmod(flat, values.shape[1])


SEVERITY = [
    s.value
    for s in (
        Status.FAILED,
        Status.DIVERGED,
        Status.INTERRUPTED,
        Status.RUNNING,
        Status.PAUSED,
        Status.PRUNED,
        Status.EARLY_STOPPED,
        Status.OK,
    )
]


def _row_status(statuses: list[str]) -> tuple[str, str]:
    """A row's status and, when its runs disagree, a note ("1 of 3 diverged")."""
    if len(set(statuses)) == 1:
        return statuses[0], ""
    worst = min(statuses, key=lambda s: SEVERITY.index(s) if s in SEVERITY else -1)
    return worst, f"{statuses.count(worst)} of {len(statuses)} {worst}"


def _dead(diverged: np.ndarray, stuck: np.ndarray) -> str:
    if not (diverged | stuck).all():
        return ""
    return "diverged" if diverged.all() else "never learned" if stuck.all() else "diverged or never learned"


# Long on purpose: the grid's rows, their order, statuses and titles come from the same groups of runs in one pass.
def lr_epoch_grid(tables: SweepTables, metric: str, group: pd.DataFrame | None = None) -> LrEpochGrid:
    """``metric`` (a metrics.csv column, or "gap" = train_acc - val_acc) per configuration and
    epoch, averaged over seeds, for the runs ``grid_runs`` chooses (or ``group``)."""
    group = grid_runs(tables) if group is None else group
    group = group.dropna(subset=["lr"])
    configs = table_configs(tables)
    positions = configuration_of(group, configs)
    shown = configs.iloc[sorted(set(positions[positions >= 0]))]
    differ = [k for k in varied_settings(configs) if key_text(shown[k]).nunique(dropna=False) > 1]
    lr_only = not [k for k in varying_settings(configs) if key_text(shown[k]).nunique(dropna=False) > 1]
    ep = tables.epochs[tables.epochs["run"].isin(set(group["run"]))] if not tables.epochs.empty else tables.epochs
    recorded = int(ep["epoch"].max()) if len(ep) else 0
    budget = pd.to_numeric(group["epochs"], errors="coerce").max() if "epochs" in group else 0
    max_epoch = max(recorded, int(min(budget, MAX_BUDGET_EPOCHS)) if budget > 0 else 0)
    column = (lambda rows: rows["train_acc"] - rows["val_acc"]) if metric == "gap" else metric
    seed, stuck = seed_column(tables.runs, configs), never_learned(group)

    lines, cells = [], []
    for p in set(positions):
        runs = group[positions == p]
        config = configs.iloc[p] if p >= 0 else runs.iloc[0]
        lr = float(runs["lr"].iloc[0])
        label = lr_label(lr) if lr_only else ", ".join([f"lr {lr_label(lr)}", describe_settings(config, differ)])
        val = run_matrix(ep, runs["run"], "val_acc", max_epoch)
        lines.append(_grid_row(runs, config, lr, label, seed, stuck[runs.index], val))
        lines[-1]["group_parts"] = tuple(setting_text(k, config[k]) for k in differ)
        lines[-1]["group"] = (
            ", ".join(lines[-1]["group_parts"]),
            tuple(category_order(str(config[k])) for k in differ),
        )  # [16] before [100]
        cells.append(mean_interval(run_matrix(ep, runs["run"], column, max_epoch), metric_bounds(metric)))
    rates = pd.Series([line["lr"] for line in lines]).groupby([line["group"][0] for line in lines]).nunique()
    grouped = bool(differ) and len(rates) > 0 and (rates >= 2).all()
    for line in lines:  # grouped: blocks of rows by group, each in rate order, the group first in the label
        key, line["group"] = line["group"][1], line["group"][0] if grouped else ""
        line["order"] = (key, line["lr"]) if grouped else (line["lr"], line["label"])
        if grouped:
            line["label"] = f"{line['group']}, lr {lr_label(line['lr'])}"
        else:
            line["group_parts"] = ()
    order = sorted(range(len(lines)), key=lambda i: lines[i]["order"])
    rows = pd.DataFrame([lines[i] for i in order], columns=GRID_ROW_COLUMNS)
    mean, low, high, n = (np.array([cells[i][k] for i in order]).reshape(len(order), max_epoch) for k in range(4))
    repeats = max(map(len, rows["runs"]), default=1)
    axis = (
        ("learning rate (log-spaced)" if is_log_spaced(rows["lr"]) else "learning rate")
        if lr_only
        else "configuration, by group and learning rate"
        if grouped
        else "configuration, by learning rate"
    )
    return LrEpochGrid(
        rows["lr"].to_numpy(dtype=float),
        np.arange(1, max_epoch + 1),
        mean,
        rows["status"].tolist(),
        rows["diverged_epoch"].tolist(),
        _grid_title(group, configs, shown, rows, lr_only),
        low,
        high,
        n.astype(int),
        rows["label"].tolist(),
        axis,
        rows,
        lr_only,
        repeats,
    )


GRID_ROW_COLUMNS = [
    "lr",
    "label",
    "status",
    "note",
    "dead",
    "runs",
    "seeds",
    "best",
    "best_mean",
    "best_low",
    "best_high",
    "last_val_acc",
    "reached",
    "pruned",
    "diverged_epoch",
    "group",
    "group_parts",
]


def _grid_row(
    runs: pd.DataFrame, config: pd.Series, lr: float, label: str, seed: str | None, stuck: pd.Series, val: np.ndarray
) -> dict:
    """One row of ``LrEpochGrid.rows``: a configuration's runs summed up (``val``: their
    validation accuracy per epoch)."""
    status, note = _row_status(runs["status"].astype(str).tolist())
    last = [row[np.isfinite(row)][-1] for row in val if np.isfinite(row).any()]
    recorded = np.flatnonzero(np.isfinite(val).any(axis=0))
    return {
        "lr": lr,
        "label": label,
        "status": status,
        "note": note,
        "dead": _dead((runs["status"] == Status.DIVERGED.value).to_numpy(), stuck.to_numpy()),
        "runs": runs["run"].tolist(),
        "seeds": runs[seed].tolist() if seed else [None] * len(runs),
        "best": runs["best_val_acc"].to_numpy(dtype=float),
        **{
            f"best_{k}": float(config.get(f"best_val_acc_{c}", np.nan))
            for k, c in (("mean", "mean"), ("low", "ci_low"), ("high", "ci_high"))
        },
        "last_val_acc": float(np.mean(last)) if last else np.nan,
        "reached": int(recorded[-1] + 1) if recorded.size else 0,
        "pruned": status == Status.PRUNED.value and not note,
        "diverged_epoch": pd.to_numeric(runs["diverged_epoch"], errors="coerce").min()
        if "diverged_epoch" in runs
        else np.nan,
    }


def _grid_title(
    group: pd.DataFrame, configs: pd.DataFrame, shown: pd.DataFrame, rows: pd.DataFrame, lr_only: bool
) -> str:
    """What the rows share: the settings, the slice (the fixed values of every other setting the
    sweep varies), or that the rows are every configuration; and the seeds averaged."""
    title = [describe_group(group)]
    fixed = [k for k in varied_settings(configs) if key_text(shown[k]).nunique(dropna=False) == 1]
    if lr_only and fixed and len(shown):
        title.append("slice at " + describe_settings(shown.iloc[0], fixed))
    if not lr_only:
        total = int(configs["lr"].notna().sum()) if "lr" in configs else len(configs)
        title.append(
            "every configuration" if len(shown) >= total else f"the best {len(shown)} of {total} configurations"
        )
    most, fewest = max(map(len, rows["runs"]), default=1), min(map(len, rows["runs"]), default=1)
    if most > 1:
        title.append(f"mean of {most if fewest == most else f'{fewest}-{most}'} seeds")
    return "; ".join(t for t in title if t)
