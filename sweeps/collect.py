"""Gather every run of a sweep into tidy tables (``nnsweep collect <sweep dir>``: ``nnsweep.sweeps.keeper``).

    runs.csv     one row per run: its directory, the overrides that define it (one column per
                 overridden key), the main settings (net, optimizer, lr, batch size, epochs,
                 seed, data), status, at_chance (it ended without learning: ``Summary.at_chance``),
                 best validation accuracy and its epoch, final validation
                 accuracy, test accuracy, epochs completed, wall time, validation size, error; in a pruned
                 search (``nnsweep.sweeps.pruning``) also ``rung``: the highest rung the run reached (0 is
                 the first; the last is ``trainer.epochs``), from the sweep's trial log
    epochs.csv   one row per run and epoch: the run's directory, overrides and settings (its
                 learning rate as ``base_lr``), and its metrics.csv row (``lr`` is that epoch's rate)
    configs.csv  one row per configuration, the runs that differ only in ``trainer.seed`` taken
                 together as repeats (a seed trained twice counts once): their number and seeds,
                 how many produced no result (failed_repeats), and the mean, standard deviation
                 and 95% confidence interval (Student's t, cut to 0-100%: ``nnsweep.sweeps.comparison``)
                 of the best and final validation accuracy and of the test accuracy; best mean
                 validation accuracy first, those whose every repeat produced a result before
                 the others

Runs are read through ``runrecord`` only. A run that a live process still trains is ``running``;
one whose process died is ``interrupted``; a damaged file is named on stderr and in the run's
``error`` column, and the other runs are still collected. A run whose settings are damaged
(``lr: abc``, ``optimizer.lr=${oc.env:HOME}``) is named on stderr and left out: runs.csv holds
only numbers where the report computes with them. Reports read these tables.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnsweep.core.atomic import atomic_write_text
from nnsweep.experiments.cli import warn
from nnsweep.runrecord import RunDir, RunRecordError, find_runs, finite_or_none, override_key
from nnsweep.runrecord.bounded import RecordFormatError, parse_yaml
from nnsweep.sweeps.comparison import ACCURACY, Candidate, mean_interval

RUNS, EPOCHS, CONFIGS = "runs.csv", "epochs.csv", "configs.csv"
SEED_KEYS = ("trainer.seed", "seed")  # what repeats of one configuration differ in
# runs.csv columns a configuration is named by besides its overrides (derived from its config)
SETTING_COLUMNS = ["net_name", "hidden", "optimizer_name", "lr", "l2", "batch_size", "epochs", "data_name"]
REPEATED_METRICS = ("best_val_acc", "final_val_acc", "test_acc")
SUMMARY_COLUMNS = [
    "status",
    "at_chance",
    "best_val_acc",
    "best_epoch",
    "final_val_acc",
    "best_val_loss",
    "test_acc",
    "epochs_completed",
    "diverged_epoch",
    "wall_time_s",
    "n_params",
    "val_size",
    "val_is_test",
    "error",
]


def parse_override_value(text: str) -> Any:
    """An override's value as YAML would read it (``0.1`` -> 0.1, ``[30]`` -> [30]), with the
    record limits (``nnsweep.runrecord.bounded``): a value nested 100,000 deep stays text."""
    try:
        return parse_yaml(text)
    except RecordFormatError:
        return text


def run_record(run: RunDir, sweep_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The runs.csv row and the epochs.csv rows of one run."""
    problems: list[str] = []
    try:
        config = run.config_data()
    except RunRecordError as err:
        config, problems = {}, problems + [str(err)]
    row: dict[str, Any] = {"run": str(run.path.relative_to(sweep_dir))}
    try:
        overrides, choices = run.defining_overrides(), run.config_choices()
    except RunRecordError as err:
        overrides, choices, problems = [], {}, problems + [str(err)]
    for item in overrides:
        row[override_key(item)] = parse_override_value(item.partition("=")[2])
    opt, trainer, data, net = (_node(config, k) for k in ("optimizer", "trainer", "data", "net"))
    derived = {
        "net_name": choices.get("net", net.get("arch")),
        "hidden": "-".join(map(str, net.get("hidden", [])))
        if net.get("arch") == "mlp" and isinstance(net.get("hidden", []), list)
        else "",
        "optimizer_name": opt.get("name"),
        "lr": opt.get("lr"),
        "l2": opt.get("l2"),
        "batch_size": trainer.get("batch_size"),
        "epochs": trainer.get("epochs"),
        "seed": trainer.get("seed"),
        "data_name": data.get("name"),
    }
    damage = _damaged_settings(derived, row, net)
    if damage:
        raise RunRecordError(
            f"{run.path} is left out: its recorded settings are damaged ({damage}); "
            "restore its .hydra records or train the run again"
        )
    # An override named like a derived column (a task whose seed is "seed") keeps its value.
    row.update({k: v for k, v in derived.items() if v is not None or k not in row})
    try:
        summary = run.read_summary()
    except RunRecordError as err:
        summary, problems = None, problems + [str(err)]
    for column in SUMMARY_COLUMNS:
        value = getattr(summary, column, None) if summary is not None else None
        row[column] = value.value if hasattr(value, "value") else value
    row["status"] = run.status().value
    try:
        records = run.read_metrics()
    except RunRecordError as err:
        records, problems = [], problems + [str(err)]
    for problem in problems:
        warn(problem)
    if problems:
        row["error"] = "; ".join(([row["error"]] if row.get("error") else []) + problems)
    # The run's learning rate is "base_lr" here: "lr" is each epoch's (scheduled) rate.
    keys = {("base_lr" if k == "lr" else k): v for k, v in row.items() if k not in SUMMARY_COLUMNS}
    epochs = [{**keys, **vars(rec)} for rec in records]
    return row, epochs


# The settings collect derives, and the overrides that set them: numbers (whole ones for
# counts) and names, which the tables, the report and the terminal's sentences compute with.
NUMBER_SETTINGS = {"lr": "optimizer.lr", "l2": "optimizer.l2"}
COUNT_SETTINGS = {"batch_size": "trainer.batch_size", "epochs": "trainer.epochs", "seed": "trainer.seed"}
NAME_SETTINGS = ("net_name", "optimizer_name", "data_name")


def _damaged_settings(derived: dict[str, Any], row: dict[str, Any], net: dict[str, Any]) -> str | None:
    """What in a run's settings no training records (``lr: 'abc'``, a date for ``epochs``, an
    override ``optimizer.lr=${oc.env:HOME}``), or None: such a run is left out with a warning
    rather than written into runs.csv, where the report refuses the whole table for it."""

    def number(value: Any, whole: bool) -> bool:
        if isinstance(value, bool):
            return False
        if whole:
            return isinstance(value, int)
        return finite_or_none(value) is not None and not isinstance(value, (list, dict))

    for setting, override in {**NUMBER_SETTINGS, **COUNT_SETTINGS}.items():
        whole = setting in COUNT_SETTINGS
        if derived.get(setting) is not None and not number(derived[setting], whole):
            return f"{setting} is {str(derived[setting])[:40]!r}, not a {'whole ' if whole else ''}number"
        if override in row and not number(row[override], False):
            return f"the override {override}={str(row[override])[:40]} is not a number"
    for setting in NAME_SETTINGS:
        if derived.get(setting) is not None and not isinstance(derived[setting], str):
            return f"{setting} is {str(derived[setting])[:40]!r}, not a name"
    hidden = net.get("hidden", [])
    if not (isinstance(hidden, list) and all(number(h, True) for h in hidden)):
        return f"net.hidden is {str(hidden)[:40]!r}, not a list of layer sizes"
    return None


def _node(config: Any, key: str) -> dict[str, Any]:
    """One group of a run's config as a dict ({} if the config lacks it or it is not a mapping)."""
    node = config.get(key) if isinstance(config, dict) else None
    return node if isinstance(node, dict) else {}


# The tables' one writer: the process that holds the sweep directory's lock (a sweep while it runs,
# ``nnsweep collect`` or ``nnsweep report`` otherwise: ``nnsweep.sweeps.keeper``), one thread at a time.
_writing = threading.Lock()


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``runs.csv``, ``epochs.csv`` and ``configs.csv`` into ``sweep_dir`` and return the
    first two. Runs are sorted best first (by best validation accuracy; runs without one last).
    Callers hold the sweep's lock (``nnsweep.sweeps.keeper``); threads of one process take turns.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise RunRecordError(f"sweep directory {sweep_dir} does not exist; check the path")
    with _writing:
        return _collect(sweep_dir)


def _collect(sweep_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, epoch_rows = [], []
    for run in find_runs(sweep_dir):
        try:
            row, epochs = run_record(run, sweep_dir)
        except RunRecordError as err:  # its settings are damaged: no row the report could read
            warn(err)
            continue
        rows.append(row)
        epoch_rows.extend(epochs)
    runs = pd.DataFrame(rows)
    rungs = rungs_reached(sweep_dir)
    if rungs and not runs.empty:
        runs.insert(runs.columns.get_loc("status") + 1, "rung", [rungs.get(r) for r in runs["run"]])
        runs["rung"] = runs["rung"].astype("Int64")
    keys = repeat_keys(sweep_dir)
    if not runs.empty:
        # "seed" is the seed each run had: its config's trainer.seed, else the seed its search repeated.
        for key in keys:
            if key in runs and key != "seed":
                runs["seed"] = runs["seed"].where(runs["seed"].notna(), runs[key]) if "seed" in runs else runs[key]
        runs = runs.sort_values("best_val_acc", ascending=False, na_position="last", kind="stable")
    epochs = pd.DataFrame(epoch_rows)
    for name, table in ((RUNS, runs), (EPOCHS, epochs), (CONFIGS, configurations(runs, keys))):
        _write_if_changed(sweep_dir / name, table.to_csv(index=False))
    return runs, epochs


def _write_if_changed(path: Path, text: str) -> None:
    """A table is rewritten only when it changed: its readers (the report) redraw what changed."""
    try:
        if path.is_file() and not path.is_symlink() and path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass  # unreadable: written anew
    atomic_write_text(path, text)


def configurations(runs: pd.DataFrame, seed_keys: tuple[str, ...] = SEED_KEYS) -> pd.DataFrame:
    """runs.csv's runs grouped into configurations (all settings but the seed): one row each
    with ``repeats``, ``seeds`` and, for each of ``REPEATED_METRICS``, its ``_mean``, ``_std``
    (n - 1 in the denominator) and the 95% interval of the mean ``_ci_low``/``_ci_high`` from
    Student's t, cut to [0, 1] (none with fewer than two values; ``nnsweep.sweeps.comparison``). Best mean
    validation accuracy first."""
    if runs.empty:
        return pd.DataFrame()
    keys, seed_column, groups = _configuration_groups(runs, seed_keys)
    rows = []
    for group in groups:
        row = {k: group[k].iloc[0] for k in keys}
        seeds = group[seed_column].dropna().astype(int).tolist() if seed_column in group else []
        row.update({"repeats": len(group), "seeds": " ".join(map(str, sorted(seeds)))})
        for metric in REPEATED_METRICS:
            values = group[metric].dropna().to_numpy(dtype=float) if metric in group else np.empty(0)
            mean, low, high, _ = (float(v[0]) for v in mean_interval(values.reshape(-1, 1), ACCURACY))
            std = float(values.std(ddof=1)) if len(values) >= 2 else None
            row.update(
                {
                    f"{metric}_mean": mean if len(values) else None,
                    f"{metric}_std": std,
                    f"{metric}_ci_low": low if len(values) >= 2 else None,
                    f"{metric}_ci_high": high if len(values) >= 2 else None,
                    f"{metric}_n": len(values),
                }
            )
        # A configuration whose seeds did not all produce a result ranks after those whose did:
        # the mean of the survivors of a rate that diverges one time in three flatters it.
        row["failed_repeats"] = row["repeats"] - row["best_val_acc_n"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table["_complete"] = table["failed_repeats"] == 0
    table = table.sort_values(["_complete", "best_val_acc_mean"], ascending=False, na_position="last", kind="stable")
    return table.drop(columns="_complete")


def _configuration_groups(runs: pd.DataFrame, seed_keys: tuple[str, ...]) -> tuple[list[str], str, list[pd.DataFrame]]:
    """The columns that name a configuration, the column its repeats differ in, and its runs
    per configuration (a seed trained twice, a one-seed run beside seed 0 of a repeat, once)."""
    named = {"run", "seed", "rung", *SUMMARY_COLUMNS, *SETTING_COLUMNS}
    keys = [c for c in runs.columns if c not in named and c not in seed_keys] + [
        c for c in SETTING_COLUMNS if c in runs.columns
    ]
    seed_column = (
        "seed"
        if "seed" in runs and runs["seed"].notna().any()
        else next((k for k in seed_keys if k in runs.columns), "seed")
    )
    text = runs[keys].astype(str)  # list values (net.hidden=[16]) and NaN group as their text
    groups = []
    for _, group in runs.groupby([text[k] for k in keys], sort=False, dropna=False):
        if seed_column in group:
            group = group.sort_values("run", kind="stable").drop_duplicates(seed_column, keep="first")
        groups.append(group)
    return keys, seed_column, groups


def ranked_candidates(runs: pd.DataFrame, seed_keys: tuple[str, ...] = SEED_KEYS, top: int = 2) -> list[Candidate]:
    """The ``top`` best configurations of runs.csv (the ranking of configs.csv: complete ones
    first, then by mean best validation accuracy), each named by the settings in which the first
    two differ, for ``nnsweep.sweeps.comparison.best_statement``: the terminal's sentence on the best
    configuration is the report's (``seed_keys``: ``repeat_keys(sweep_dir)``)."""
    if runs.empty or "best_val_acc" not in runs:
        return []
    keys, seed_column, groups = _configuration_groups(runs, seed_keys)
    scored = [(g["best_val_acc"].notna().all(), g["best_val_acc"].mean(), g) for g in groups]
    ranked = [g for done, mean, g in sorted(scored, key=lambda x: (x[0], x[1]), reverse=True) if pd.notna(mean)][:top]
    differ = [k for k in keys if len({str(g[k].iloc[0]) for g in ranked}) > 1]
    shown = (
        [k for k in differ if k in ("optimizer.lr", "lr")][:1]
        + [k for k in differ if k not in SETTING_COLUMNS and k != "optimizer.lr"]
    ) or differ

    def name(group: pd.DataFrame) -> str:
        return (
            ", ".join(
                f"lr {float(group[k].iloc[0]):.3g}"
                if k in ("optimizer.lr", "lr")
                else f"{k.rsplit('.', 1)[-1]} {group[k].iloc[0]}"
                for k in shown
            )
            or "one"
        )

    return [
        Candidate(
            name(g),
            dict(
                zip(
                    g[seed_column].astype(str) if seed_column in g else map(str, range(len(g))),
                    pd.to_numeric(g["best_val_acc"], errors="coerce"),
                )
            ),
            float(g["val_size"].min()) if "val_size" in g and g["val_size"].notna().any() else None,
        )
        for g in ranked
    ]


def repeat_keys(sweep_dir: Path) -> tuple[str, ...]:
    """What repeats of a configuration differ in: ``SEED_KEYS``, and the seed a search with
    ``hydra.sweeper.repeats`` varies (its trial log's ``repeat_key``), if it names another."""
    from nnsweep.sweeps.trials import TrialLogError, load

    try:
        log = load(sweep_dir)
    except TrialLogError:
        return SEED_KEYS  # rungs_reached names the damage
    key = (log.settings.get("repeats") or {}).get("key") if log is not None else None
    return SEED_KEYS if key in (None, *SEED_KEYS) else (key, *SEED_KEYS)


def rungs_reached(sweep_dir: Path) -> dict[str, int]:
    """Run directory (relative to the sweep) -> the highest rung it reached, for a pruned
    search (a run that ended before the first rung has none); {} for any other sweep, or when
    its trial log cannot be read (named on stderr)."""
    from nnsweep.sweeps.trials import TrialLogError, load

    try:
        log = load(sweep_dir)
    except TrialLogError as err:
        warn(err)
        return {}
    if log is None or log.rungs is None:
        return {}
    rungs, last = log.rungs
    stops = [*rungs, last]
    reached = {}
    for trial in log.trials:
        if trial.run_dir is not None and trial.epochs is not None:
            reached[trial.run_dir] = sum(1 for stop in stops if trial.epochs >= stop) - 1
    return {run: rung for run, rung in reached.items() if rung >= 0}  # none: it ended before the first rung
