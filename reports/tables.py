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
from nnsweep.reports.search import category_order
from nnsweep.reports.style import lr_label
from nnsweep.runrecord import Status
from nnsweep.sweeps.collect import REPEATED_METRICS, SUMMARY_COLUMNS, configurations
from nnsweep.sweeps.collect import SETTING_COLUMNS as DERIVED_COLUMNS
from nnsweep.sweeps.comparison import mean_interval, metric_bounds

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
        raise ReportError(f"sweep directory {sweep_dir} does not exist")
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
