"""Reading a sweep's tables (written by ``nnsweep.sweeps.collect``) and shaping them for figures.

Runs that differ only in their seed are repeats of one configuration (``configs.csv``; a sweep
collected before that table existed gets it computed here, by the same function). Figures show
configurations: a grid cell or a curve point is the mean over the configuration's seeds, with
the 95% Student t interval of that mean (cut to what the metric can be: ``nnsweep.sweeps.comparison``);
without repeats the mean is the one run's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.core.errors import NnsweepError
from nnsweep.runrecord import Status
from nnsweep.sweeps.collect import REPEATED_METRICS, SUMMARY_COLUMNS, configurations
from nnsweep.sweeps.collect import SETTING_COLUMNS as DERIVED_COLUMNS

# Columns a grid spans beyond the last recorded epoch, to show the epoch budget: an absurd budget
# ("train until early stopping": trainer.epochs=100000000) must not make the grid absurd.
MAX_BUDGET_EPOCHS = 10_000
LR_KEYS = ("lr", "optimizer.lr")
STAT_SUFFIXES = ("_mean", "_std", "_ci_low", "_ci_high", "_n")
# MNIST and Fashion-MNIST, the data sets nnsweep names, have ten classes; runs.csv does not record
# the count (``never_learned(classes=...)`` for another data set).
CLASSES = 10
CHANCE_MARGIN = 0.02  # "never learned" in tables collected before runs.csv had at_chance: at most 2 points above chance
MAX_GRID_ROWS = 30  # a search's every-configuration grid shows its best 30, ordered by rate
MAX_GROUPED_ROWS = 60  # a grid over the rate and other settings: every configuration up to 60


class ReportError(NnsweepError, ValueError):
    """A sweep directory that cannot be reported on (the message says what to do)."""


@dataclass
class SweepTables:
    sweep_dir: Path
    runs: pd.DataFrame  # one row per run, best first
    epochs: pd.DataFrame  # one row per run and epoch
    configs: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per configuration, best mean first


# Columns the figures read as numbers, in runs.csv and in epochs.csv (where present).
RUN_NUMBERS = ("best_val_acc", "best_epoch", "final_val_acc", "test_acc", "lr", "epochs", "epochs_completed")
EPOCH_NUMBERS = ("epoch", "lr", "base_lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")
CONFIG_NUMBERS = tuple(m + s for m in REPEATED_METRICS for s in STAT_SUFFIXES) + ("repeats", "failed_repeats")


def _read_table(path: Path, required: bool) -> pd.DataFrame:
    """A results table; a missing optional one is empty, anything unreadable is one line."""
    collect_again = f"collect the sweep again: nnsweep collect {path.parent}"
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        if required:
            raise ReportError(
                f"{path.parent} has no {path.name}; collect it first: nnsweep collect {path.parent}"
            ) from None
        return pd.DataFrame()
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        reason = " ".join(str(err).split())[:160]
        raise ReportError(f"{path} is unreadable ({reason}); {collect_again}") from None


def _check_numbers(table: pd.DataFrame, columns: tuple[str, ...], path: Path, required: tuple[str, ...] = ()) -> None:
    """The columns figures compute with hold numbers (or nothing), as ``nnsweep.sweeps.collect`` writes them."""
    collect_again = f"collect the sweep again: nnsweep collect {path.parent}"
    for column in required:
        if column not in table:
            raise ReportError(f"{path} is damaged (no {column} column); {collect_again}")
    for column in columns:
        if column in table:
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = numbers.isna() & table[column].notna()
            if bad.any():
                raise ReportError(
                    f"{path} is damaged ({column} holds {table[column][bad].iloc[0]!r}, not a number); {collect_again}"
                )
            table[column] = numbers


def load_tables(sweep_dir: str | Path) -> SweepTables:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        there = "is not a directory" if sweep_dir.exists() else "does not exist"
        raise ReportError(f"sweep directory {sweep_dir} {there}")
    runs = _read_table(sweep_dir / "runs.csv", required=True)
    epochs = _read_table(sweep_dir / "epochs.csv", required=False)
    configs = _read_table(sweep_dir / "configs.csv", required=False)
    if runs.empty:
        raise ReportError(f"{sweep_dir} has no runs to report on")
    _check_numbers(runs, RUN_NUMBERS, sweep_dir / "runs.csv", required=("run", "status", "best_val_acc"))
    check_epochs(epochs, sweep_dir / "epochs.csv")
    _check_numbers(epochs, EPOCH_NUMBERS, sweep_dir / "epochs.csv")
    if configs.empty:
        configs = configurations_of(runs)
    else:
        _check_numbers(configs, CONFIG_NUMBERS, sweep_dir / "configs.csv", required=("best_val_acc_mean",))
        if (configuration_of(runs, configs) < 0).any():
            raise ReportError(
                f"{sweep_dir / 'configs.csv'} does not match runs.csv (a run has no configuration); "
                f"collect the sweep again: nnsweep collect {sweep_dir}"
            )
    return SweepTables(sweep_dir, runs, epochs, configs)


def check_epochs(epochs: pd.DataFrame, path: Path) -> None:
    """Each run's rows of epochs.csv are its epochs 1, 2, 3 ... in order, as ``nnsweep.sweeps.collect``
    writes them from checked metrics.csv files. Figures allocate by epoch number, so one damaged
    number (99999999) would otherwise ask for gigabytes."""
    if epochs.empty:
        return
    collect_again = f"collect the sweep again: nnsweep collect {path.parent}"
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
        raise ReportError(
            f"{path} is damaged (line {i + 2}: run {epochs['run'].iloc[i]} has {shown} where epoch "
            f"{expected.iloc[i]} belongs); {collect_again}"
        )


# --- configurations: runs that differ only in the seed ---------------------------------------


def configurations_of(runs: pd.DataFrame) -> pd.DataFrame:
    """configs.csv as ``nnsweep.sweeps.collect`` would write it, for a sweep collected without one. A
    runs table with no setting columns at all: each run its own configuration."""
    try:
        table = configurations(runs)
    except (ValueError, KeyError):  # nothing to group by
        table = runs[["run", "best_val_acc"]].rename(columns={"best_val_acc": "best_val_acc_mean"})
        table = table.assign(repeats=1, best_val_acc_n=table["best_val_acc_mean"].notna().astype(int))
    for column in CONFIG_NUMBERS:  # as read back from configs.csv: numbers, NaN for none
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce")
    return table.reset_index(drop=True)


def config_keys(configs: pd.DataFrame) -> list[str]:
    """The columns of configs.csv that name a configuration (the others are its statistics)."""
    stat = {m + s for m in REPEATED_METRICS for s in STAT_SUFFIXES} | {"repeats", "seeds", "failed_repeats"}
    return [c for c in configs.columns if c not in stat]


def key_text(column: pd.Series) -> pd.Series:
    """A setting's values as comparable text: numbers by value (15 == 15.0, as CSV columns with
    a gap read back as floats), anything else (``[16]``, ``sgd``) as written."""
    numbers = pd.to_numeric(column, errors="coerce")
    return column.astype(str).where(numbers.isna(), numbers.map(lambda v: f"{v:.12g}"))


def _keys(table: pd.DataFrame, keys: list[str]) -> list[tuple]:
    return list(zip(*(key_text(table[k]) for k in keys))) if keys else [()] * len(table)


def configuration_of(runs: pd.DataFrame, configs: pd.DataFrame) -> np.ndarray:
    """Each run's configuration as its row position in ``configs`` (-1: none matches)."""
    keys = config_keys(configs)
    if any(k not in runs for k in keys):
        return np.full(len(runs), -1)
    position: dict[tuple, int] = {}
    for i, key in enumerate(_keys(configs, keys)):
        position.setdefault(key, i)
    return np.array([position.get(key, -1) for key in _keys(runs, keys)], dtype=int)


def seed_column(runs: pd.DataFrame, configs: pd.DataFrame) -> str | None:
    """The column repeats of a configuration differ in: the override configs.csv leaves out of a
    configuration's name (``trainer.seed``, or a search's own repeat key), else the run's seed."""
    if "seed" in runs and runs["seed"].notna().all():  # the seed each run had (nnsweep.sweeps.collect)
        return "seed"
    named = {"run", "seed", "rung", *SUMMARY_COLUMNS, *DERIVED_COLUMNS}
    left_out = [c for c in runs.columns if c not in named and c not in configs.columns]
    return left_out[0] if left_out else ("seed" if "seed" in runs else None)


def varying_settings(configs: pd.DataFrame) -> list[str]:
    """Every configuration column (override or derived) with more than one value, lr excluded."""
    return [k for k in config_keys(configs) if k not in LR_KEYS and key_text(configs[k]).nunique(dropna=False) > 1]


def varied_settings(configs: pd.DataFrame) -> list[str]:
    """What to name configurations by, besides their rate: the overrides the sweep varies (the
    derived columns such as ``hidden`` repeat them), or the derived ones if no override varies."""
    keys = varying_settings(configs)
    return [k for k in keys if k not in DERIVED_COLUMNS and k != "seed"] or keys


def setting_text(key: str, value) -> str:
    """``optimizer.l2``, 0.0 -> "l2 0"; ``lr``, 0.8771 -> "lr 0.877"."""
    short = "lr" if key in LR_KEYS else key.rsplit(".", 1)[-1]
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and not pd.isna(value):
        return f"{short} {float(value):.3g}"
    return f"{short} {value}"


def describe_settings(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(setting_text(k, row[k]) for k in keys if k in row)


def never_learned(runs: pd.DataFrame, classes: int = CLASSES) -> pd.Series:
    """Runs that ended by themselves (ok, early stopped) with a best validation accuracy no more
    than ``CHANCE_MARGIN`` above chance (1 / ``classes``): a network stuck at guessing (lr 10
    stays at 10% on MNIST) has not learned, whatever its status says. Pruned runs are not
    judged: the search stopped them before they could. Where runs.csv has its ``at_chance``
    column (the run record's judgement, ``Summary.at_chance``: from the run's classes and
    validation size, the terminal's too), that decides; the fixed margin only for rows without it
    (tables collected before it existed, or runs that did not record their validation size)."""
    ended = runs["status"].astype(str).isin([Status.OK.value, Status.EARLY_STOPPED.value])
    best = pd.to_numeric(runs["best_val_acc"], errors="coerce")
    by_margin = ended & (best <= 1.0 / classes + CHANCE_MARGIN + 1e-9)
    if "at_chance" not in runs:
        return by_margin
    recorded = runs["at_chance"].map({True: True, False: False, "True": True, "False": False})
    known = recorded.notna() & (
        pd.to_numeric(runs.get("val_size"), errors="coerce").notna() if "val_size" in runs else recorded.notna()
    )
    return by_margin.where(~known, recorded.where(known, False).astype(bool))


def run_matrix(epochs: pd.DataFrame, names, column, width: int) -> np.ndarray:
    """``(len(names), width)``: each run's ``column`` per epoch (a callable: computed from its rows)."""
    matrix = np.full((len(names), width), np.nan)
    for i, name in enumerate(names):
        rows = epochs[epochs["run"] == name]
        if len(rows):
            values = column(rows) if callable(column) else rows[column]
            matrix[i, rows["epoch"].to_numpy(dtype=int) - 1] = values.to_numpy(dtype=float)
    return matrix


def table_configs(tables: SweepTables) -> pd.DataFrame:
    """The sweep's configurations (a ``SweepTables`` made by hand may have none: computed)."""
    return tables.configs if not tables.configs.empty else configurations_of(tables.runs)


def best_group(tables: SweepTables) -> pd.DataFrame:
    """The runs (every seed) that share every setting but the learning rate with the best
    configuration, best by mean best validation accuracy over its seeds: all runs of an lr sweep;
    one slice of a larger grid. The single best run may lie elsewhere: one lucky seed does not
    choose the slice."""
    runs, configs = tables.runs, table_configs(tables)
    ranked = configs.dropna(subset=["best_val_acc_mean"])
    best = ranked.iloc[0] if not ranked.empty else configs.iloc[0]
    mask = np.ones(len(runs), dtype=bool)
    for key in varying_settings(configs):
        if key in runs:
            mask &= (key_text(runs[key]) == key_text(pd.Series([best[key]])).iloc[0]).to_numpy()
    return runs[mask]


def grid_runs(tables: SweepTables) -> pd.DataFrame:
    """The runs a learning rate x epoch grid shows. Every run when the sweep is a grid over the
    rate (the best configuration's slice, ``best_group``, holds at least two rates and every run's
    rate is one of them: the other settings were tried at the same rates), so that each group of
    the other settings is drawn (beyond ``MAX_GROUPED_ROWS`` configurations, the best groups,
    whole); otherwise (a random or Bayesian search, whose slices hold a rate or two) every
    configuration, at most ``MAX_GRID_ROWS`` of the best, each its own row."""
    configs = table_configs(tables)
    positions = configuration_of(tables.runs, configs)
    group = best_group(tables)
    rates = set(key_text(group["lr"].dropna()))
    if len(rates) >= 2 and set(key_text(tables.runs["lr"].dropna())) <= rates:
        if len(configs) <= MAX_GROUPED_ROWS:
            return tables.runs
        keys = varied_settings(configs)  # whole groups, best (by their best configuration) first
        names = pd.Series(_keys(configs, keys)).map(str)
        kept = names.isin(names.drop_duplicates().iloc[: MAX_GROUPED_ROWS // len(rates)]).to_numpy()
        return tables.runs[kept[positions]]
    return tables.runs[positions < MAX_GRID_ROWS]


def describe_group(group: pd.DataFrame) -> str:
    """What the runs share, for titles: net, optimizer, batch size and data set, each if shared."""
    parts = []
    for column, prefix in (("net_name", ""), ("optimizer_name", ""), ("batch_size", "batch "), ("data_name", "")):
        if column in group and key_text(group[column]).nunique(dropna=False) == 1 and pd.notna(group[column].iloc[0]):
            value = group[column].iloc[0]
            parts.append(f"{prefix}{int(value) if isinstance(value, float) and value.is_integer() else value}")
    return ", ".join(p for p in parts if p)
