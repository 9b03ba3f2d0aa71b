"""Reading a sweep's tables (written by ``sweeps.collect``) and shaping them for figures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nets.errors import NnsweepError

SETTING_COLUMNS = ("net_name", "hidden", "optimizer_name", "l2", "batch_size", "epochs", "seed", "data_name")
# Columns a grid spans beyond the last recorded epoch, to show the epoch budget: an absurd budget
# ("train until early stopping": trainer.epochs=100000000) must not make the grid absurd.
MAX_BUDGET_EPOCHS = 10_000


class ReportError(NnsweepError, ValueError):
    """A sweep directory that cannot be reported on (the message says what to do)."""


@dataclass
class SweepTables:
    sweep_dir: Path
    runs: pd.DataFrame  # one row per run, best first
    epochs: pd.DataFrame  # one row per run and epoch


# Columns the figures read as numbers, in runs.csv and in epochs.csv (where present).
RUN_NUMBERS = ("best_val_acc", "best_epoch", "final_val_acc", "test_acc", "lr", "epochs", "epochs_completed")
EPOCH_NUMBERS = ("epoch", "lr", "base_lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def _read_table(path: Path, required: bool) -> pd.DataFrame:
    """A results table; a missing optional one is empty, anything unreadable is one line."""
    collect_again = f"collect the sweep again: python -m sweeps.collect {path.parent}"
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        if required:
            raise ReportError(f"{path.parent} has no {path.name}; collect it first: "
                              f"python -m sweeps.collect {path.parent}") from None
        return pd.DataFrame()
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        reason = " ".join(str(err).split())[:160]
        raise ReportError(f"{path} is unreadable ({reason}); {collect_again}") from None


def _check_numbers(table: pd.DataFrame, columns: tuple[str, ...], path: Path, required: tuple[str, ...] = ()) -> None:
    """The columns figures compute with hold numbers (or nothing), as ``sweeps.collect`` writes them."""
    collect_again = f"collect the sweep again: python -m sweeps.collect {path.parent}"
    for column in required:
        if column not in table:
            raise ReportError(f"{path} is damaged (no {column} column); {collect_again}")
    for column in columns:
        if column in table:
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = numbers.isna() & table[column].notna()
            if bad.any():
                raise ReportError(f"{path} is damaged ({column} holds {table[column][bad].iloc[0]!r}, not a "
                                  f"number); {collect_again}")
            table[column] = numbers


def load_tables(sweep_dir: str | Path) -> SweepTables:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ReportError(f"sweep directory {sweep_dir} does not exist")
    runs = _read_table(sweep_dir / "runs.csv", required=True)
    epochs = _read_table(sweep_dir / "epochs.csv", required=False)
    if runs.empty:
        raise ReportError(f"{sweep_dir} has no runs to report on")
    _check_numbers(runs, RUN_NUMBERS, sweep_dir / "runs.csv", required=("run", "status", "best_val_acc"))
    check_epochs(epochs, sweep_dir / "epochs.csv")
    _check_numbers(epochs, EPOCH_NUMBERS, sweep_dir / "epochs.csv")
    return SweepTables(sweep_dir, runs, epochs)


def check_epochs(epochs: pd.DataFrame, path: Path) -> None:
    """Each run's rows of epochs.csv are its epochs 1, 2, 3 ... in order, as ``sweeps.collect``
    writes them from checked metrics.csv files. Figures allocate by epoch number, so one damaged
    number (99999999) would otherwise ask for gigabytes."""
    if epochs.empty:
        return
    collect_again = f"collect the sweep again: python -m sweeps.collect {path.parent}"
    for column in ("run", "epoch"):
        if column not in epochs:
            raise ReportError(f"{path} is damaged (no {column} column); {collect_again}")
    numbers = pd.to_numeric(epochs["epoch"], errors="coerce")
    expected = epochs.groupby("run", sort=False, dropna=False).cumcount() + 1
    bad = np.flatnonzero((numbers != expected).to_numpy())
    if bad.size:
        i = int(bad[0])
        value = epochs["epoch"].iloc[i]
        shown = "no epoch" if pd.isna(value) else f"epoch {value}"
        raise ReportError(f"{path} is damaged (line {i + 2}: run {epochs['run'].iloc[i]} has {shown} where epoch "
                          f"{expected.iloc[i]} belongs); {collect_again}")


@dataclass
class LrEpochGrid:
    """A metric over learning rate x epoch, for one group of runs that differ only in lr.

    ``values: (n_lrs, n_epochs)`` with NaN where a run has no such epoch; ``status`` per lr
    (ok / early_stopped / diverged / failed / interrupted) and ``diverged_epoch`` per lr.
    """

    lrs: np.ndarray
    epochs: np.ndarray
    values: np.ndarray
    status: list[str]
    diverged_epoch: list[float]
    group: str  # what the other settings of these runs are, for titles

    def best_cell(self) -> tuple[int, int] | None:
        if np.all(np.isnan(self.values)):
            return None
        flat = int(np.nanargmax(self.values))
        return divmod(flat, self.values.shape[1])


def best_group(tables: SweepTables) -> pd.DataFrame:
    """The runs that share every setting but the learning rate with the best run (all runs of an
    lr sweep; one slice of a larger grid)."""
    runs = tables.runs
    varying = [c for c in SETTING_COLUMNS if c in runs and runs[c].astype(str).nunique() > 1]
    varying += [c for c in runs.columns if "." in c and c != "optimizer.lr" and runs[c].astype(str).nunique() > 1]
    ranked = runs.dropna(subset=["best_val_acc"])
    best = ranked.iloc[0] if not ranked.empty else runs.iloc[0]
    mask = np.ones(len(runs), dtype=bool)
    for c in varying:
        mask &= (runs[c].astype(str) == str(best[c])).to_numpy()
    return runs[mask]


def describe_group(group: pd.DataFrame) -> str:
    first = group.iloc[0]
    parts = [str(first.get("net_name", "")), str(first.get("optimizer_name", "")),
             f"batch {first.get('batch_size')}" if "batch_size" in group else "", str(first.get("data_name", ""))]
    return ", ".join(p for p in parts if p and p != "nan")


def lr_epoch_grid(tables: SweepTables, metric: str, group: pd.DataFrame | None = None) -> LrEpochGrid:
    """``metric`` (a metrics.csv column, or "gap" = train_acc - val_acc) per lr and epoch."""
    group = best_group(tables) if group is None else group
    group = group.dropna(subset=["lr"]).sort_values("lr")
    runs_by_name = set(group["run"])
    ep = tables.epochs[tables.epochs["run"].isin(runs_by_name)] if not tables.epochs.empty else tables.epochs
    recorded = int(ep["epoch"].max()) if len(ep) else 0
    budget = pd.to_numeric(group["epochs"], errors="coerce").max() if "epochs" in group else 0
    max_epoch = max(recorded, int(min(budget, MAX_BUDGET_EPOCHS)) if budget > 0 else 0)
    lrs = group["lr"].to_numpy(dtype=float)
    values = np.full((len(group), max_epoch), np.nan)
    for i, run in enumerate(group["run"]):
        rows = ep[ep["run"] == run]
        if rows.empty:
            continue
        series = rows["train_acc"] - rows["val_acc"] if metric == "gap" else rows[metric]
        values[i, rows["epoch"].to_numpy(dtype=int) - 1] = series.to_numpy(dtype=float)
    return LrEpochGrid(lrs, np.arange(1, max_epoch + 1), values, group["status"].astype(str).tolist(),
                       group.get("diverged_epoch", pd.Series([np.nan] * len(group))).tolist(), describe_group(group))
