"""Gather every run of a sweep into two tidy tables: ``python -m sweeps.collect <sweep dir>``.

    runs.csv     one row per run: its directory, the overrides that define it (one column per
                 overridden key), the main settings (net, optimizer, lr, batch size, epochs,
                 seed, data), status, best validation accuracy and its epoch, final validation
                 accuracy, test accuracy, epochs completed, wall time, error; in a pruned
                 search (``sweeps.pruning``) also ``rung``: the highest rung the run reached (0 is
                 the first; the last is ``trainer.epochs``), from the sweep's trial log
    epochs.csv   one row per run and epoch: the run's directory, overrides and settings (its
                 learning rate as ``base_lr``), and its metrics.csv row (``lr`` is that epoch's rate)
    configs.csv  one row per configuration, the runs that differ only in ``trainer.seed`` taken
                 together as repeats (a seed trained twice counts once): their number and seeds,
                 how many produced no result (failed_repeats), and the mean, standard deviation
                 and 95% confidence interval (Student's t) of the best and final validation
                 accuracy and of the test accuracy; best mean validation accuracy first, those
                 whose every repeat produced a result before the others

Runs are read through ``runrecord`` only. A run that a live process still trains is ``running``;
one whose process died is ``interrupted``; a damaged file is named on stderr and in the run's
``error`` column, and the other runs are still collected. Reports read these tables.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.cli import warn
from nets.atomic import atomic_write_text
from runrecord import RunDir, RunRecordError, find_runs, override_key
from runrecord.bounded import RecordFormatError, parse_yaml

RUNS, EPOCHS, CONFIGS = "runs.csv", "epochs.csv", "configs.csv"
SEED_KEYS = ("trainer.seed", "seed")  # what repeats of one configuration differ in
# runs.csv columns a configuration is named by besides its overrides (derived from its config)
SETTING_COLUMNS = ["net_name", "hidden", "optimizer_name", "lr", "l2", "batch_size", "epochs", "data_name"]
REPEATED_METRICS = ("best_val_acc", "final_val_acc", "test_acc")
SUMMARY_COLUMNS = ["status", "best_val_acc", "best_epoch", "final_val_acc", "best_val_loss", "test_acc",
                   "epochs_completed", "diverged_epoch", "wall_time_s", "n_params", "error"]


def parse_override_value(text: str) -> Any:
    """An override's value as YAML would read it (``0.1`` -> 0.1, ``[30]`` -> [30]), with the
    record limits (``runrecord.bounded``): a value nested 100,000 deep stays text."""
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
        "hidden": "-".join(map(str, net.get("hidden", []))) if net.get("arch") == "mlp" else "",
        "optimizer_name": opt.get("name"),
        "lr": opt.get("lr"),
        "l2": opt.get("l2"),
        "batch_size": trainer.get("batch_size"),
        "epochs": trainer.get("epochs"),
        "seed": trainer.get("seed"),
        "data_name": data.get("name"),
    }
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


def _node(config: Any, key: str) -> dict[str, Any]:
    """One group of a run's config as a dict ({} if the config lacks it or it is not a mapping)."""
    node = config.get(key) if isinstance(config, dict) else None
    return node if isinstance(node, dict) else {}


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``runs.csv`` and ``epochs.csv`` into ``sweep_dir`` and return them.

    Runs are sorted best first (by best validation accuracy; runs without one last).
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise RunRecordError(f"sweep directory {sweep_dir} does not exist; check the path")
    rows, epoch_rows = [], []
    for run in find_runs(sweep_dir):
        row, epochs = run_record(run, sweep_dir)
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
    atomic_write_text(sweep_dir / RUNS, runs.to_csv(index=False))
    atomic_write_text(sweep_dir / EPOCHS, epochs.to_csv(index=False))
    atomic_write_text(sweep_dir / CONFIGS, configurations(runs, keys).to_csv(index=False))
    return runs, epochs


def configurations(runs: pd.DataFrame, seed_keys: tuple[str, ...] = SEED_KEYS) -> pd.DataFrame:
    """runs.csv's runs grouped into configurations (all settings but the seed): one row each
    with ``repeats``, ``seeds`` and, for each of ``REPEATED_METRICS``, its ``_mean``, ``_std``
    (n - 1 in the denominator) and the 95% interval of the mean ``_ci_low``/``_ci_high`` from
    Student's t (none with fewer than two values). Best mean validation accuracy first."""
    if runs.empty:
        return pd.DataFrame()
    named = {"run", "seed", "rung", *SUMMARY_COLUMNS, *SETTING_COLUMNS}
    keys = [c for c in runs.columns if c not in named and c not in seed_keys] + \
        [c for c in SETTING_COLUMNS if c in runs.columns]
    seed_column = "seed" if "seed" in runs and runs["seed"].notna().any() else next(
        (k for k in seed_keys if k in runs.columns), "seed")
    text = runs[keys].astype(str)  # list values (net.hidden=[16]) and NaN group as their text
    rows = []
    for _, group in runs.groupby([text[k] for k in keys], sort=False, dropna=False):
        if seed_column in group:  # a seed trained twice (a one-seed run beside seed 0 of a repeat) counts once
            group = group.sort_values("run", kind="stable").drop_duplicates(seed_column, keep="first")
        row = {k: group[k].iloc[0] for k in keys}
        seeds = group[seed_column].dropna().astype(int).tolist() if seed_column in group else []
        row.update({"repeats": len(group), "seeds": " ".join(map(str, sorted(seeds)))})
        for metric in REPEATED_METRICS:
            values = group[metric].dropna().to_numpy(dtype=float) if metric in group else np.empty(0)
            mean, low, high, _ = (float(v[0]) for v in mean_interval(values.reshape(-1, 1)))
            std = float(values.std(ddof=1)) if len(values) >= 2 else None
            row.update({f"{metric}_mean": mean if len(values) else None, f"{metric}_std": std,
                        f"{metric}_ci_low": low if len(values) >= 2 else None,
                        f"{metric}_ci_high": high if len(values) >= 2 else None, f"{metric}_n": len(values)})
        # A configuration whose seeds did not all produce a result ranks after those whose did:
        # the mean of the survivors of a rate that diverges one time in three flatters it.
        row["failed_repeats"] = row["repeats"] - row["best_val_acc_n"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table["_complete"] = table["failed_repeats"] == 0
    table = table.sort_values(["_complete", "best_val_acc_mean"], ascending=False, na_position="last", kind="stable")
    return table.drop(columns="_complete")


def mean_interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean of ``samples: (n_runs, n_cols)`` (NaN where a run has no value), the 95%
    interval of that mean from Student's t with n - 1 degrees of freedom (mean +- t * s / sqrt(n);
    NaN with fewer than two values; the mean itself when every value is the same), and n per
    column: ``(mean, low, high, n)``, each (n_cols,). configs.csv, the report's bands and its
    paired comparison all take their intervals from here."""
    finite = np.isfinite(samples)
    n = finite.sum(axis=0)
    total = np.where(finite, samples, 0.0).sum(axis=0)
    mean = np.divide(total, n, out=np.full(n.shape, np.nan), where=n > 0)
    squares = np.where(finite, (samples - mean) ** 2, 0.0).sum(axis=0)
    sd = np.sqrt(np.divide(squares, n - 1, out=np.full(n.shape, np.nan), where=n > 1))
    from scipy import stats

    half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
    return mean, mean - half, mean + half, n


def repeat_keys(sweep_dir: Path) -> tuple[str, ...]:
    """What repeats of a configuration differ in: ``SEED_KEYS``, and the seed a search with
    ``hydra.sweeper.repeats`` varies (its trial log's ``repeat_key``), if it names another."""
    from sweeps.trials import TrialLogError, load

    try:
        log = load(sweep_dir)
    except TrialLogError:
        return SEED_KEYS  # rungs_reached names the damage
    key = ((log.settings.get("repeats") or {}).get("key") if log is not None else None)
    return SEED_KEYS if key in (None, *SEED_KEYS) else (key, *SEED_KEYS)


def rungs_reached(sweep_dir: Path) -> dict[str, int]:
    """Run directory (relative to the sweep) -> the highest rung it reached, for a pruned
    search (a run that ended before the first rung has none); {} for any other sweep, or when
    its trial log cannot be read (named on stderr)."""
    from sweeps.trials import TrialLogError, load

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
        epochs = trial["epochs"]
        if trial["run_dir"] is not None and epochs is not None:
            reached[trial["run_dir"]] = sum(1 for stop in stops if epochs >= stop) - 1
    return {run: rung for run, rung in reached.items() if rung >= 0}  # none: it ended before the first rung


def best_run_sentence(runs: pd.DataFrame) -> str | None:
    """The one sentence that names a sweep's best run (the terminal and the report both say it),
    or None if no run has a validation accuracy. ``runs`` is runs.csv, best first."""
    ranked = runs.dropna(subset=["best_val_acc"]) if "best_val_acc" in runs else runs.iloc[:0]
    if ranked.empty:
        return None
    top = ranked.iloc[0]
    test = "" if pd.isna(top.get("test_acc")) else f", test accuracy {top['test_acc']:.2%}"
    return (f"Best: {top['run']} with validation accuracy {top['best_val_acc']:.2%} at epoch "
            f"{int(top['best_epoch'])}{test}.")


def describe(runs: pd.DataFrame) -> str:
    """A few lines about a collected sweep: how many runs ended how, and the best one."""
    if runs.empty:
        return "no runs found"
    counts = runs["status"].value_counts().to_dict()
    lines = [f"{len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "."]
    best = best_run_sentence(runs)
    if best is not None:
        lines.append(best)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from experiments.cli import program_name

    parser = argparse.ArgumentParser(prog=program_name("sweeps.collect"),
                                     description="Collect a sweep's runs into runs.csv and epochs.csv.")
    parser.add_argument("sweep_dir", help="a sweep directory, e.g. multirun/default or results/sweep-lr/...")
    args = parser.parse_args(argv)
    runs, _ = collect(args.sweep_dir)
    print(describe(runs))
    print(f"tables: {Path(args.sweep_dir) / RUNS}, {Path(args.sweep_dir) / EPOCHS}")
    return 0


def command() -> None:
    """The ``nnsweep-collect`` console script."""
    from experiments.cli import run_command

    run_command(main)


if __name__ == "__main__":
    command()
