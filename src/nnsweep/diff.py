"""``nnsweep diff A B [--match KEYS] [--out DIR]``: two sweeps (or two runs) compared: what differs
in their environments and settings, and, for each configuration matched across the two, the
difference of its mean validation and test accuracy with its 95% interval and a verdict
(identical, same within noise, different, or cannot tell: ``nnsweep.sweeps.diff``).

It reads what the sweeps and reports layers read (a sweep's checked tables, its runs' records)
and sits above both, as ``nnsweep export-optuna`` does. The summary is printed and written, with
a page and its figure, into an output folder this command owns: by default ``diff-<B>`` inside
sweep A (beside its ``report/``), or ``diff-<A>-vs-<B>`` beside run A; never inside B, never a
folder that holds files it did not write, never through a symbolic link.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from nnsweep.core.atomic import atomic_write_text, not_followed, own_dir
from nnsweep.experiments.cli import run_command, warn
from nnsweep.experiments.startup import program_name
from nnsweep.reports.diff import diff_text, write_page
from nnsweep.reports.tables import load_tables, seed_column
from nnsweep.runrecord import RunDir, RunRecordError, finite_or_none, override_key, without_bookkeeping
from nnsweep.runrecord import environment as run_environment
from nnsweep.runrecord.bounded import RecordFormatError, parse_yaml, read_record_text
from nnsweep.runrecord.names import CONFIG, run_dir_name
from nnsweep.sweeps.collect import RUNS, SEED_KEYS, repeat_keys
from nnsweep.sweeps.diff import DiffError, RunEntry, Side, diff, flat_settings, value_text
from nnsweep.sweeps.launch import MULTIRUN_RECORD
from nnsweep.sweeps.settings import ADDED_SWEEPER_SETTINGS

MARK = ".nnsweep-diff"  # the output folder's claim: this command wrote it, and may write it again
HOW_RAN = ("live_report",)  # sweeper settings that change how a sweep is shown, not what it computes


def read_run(sweep_dir: Path, name: str, seed: str | None, best: object, test: object, val_size: object) -> RunEntry:
    """One run's record as the diff needs it: its resolved config, its curve and environments
    (a damaged one is named on stderr and counts as unreadable); ``best``, ``test`` and
    ``val_size`` from runs.csv (or its summary, for a run given alone)."""
    run = RunDir(sweep_dir / name)
    settings = flat_settings(run.config_data())
    try:
        curve = tuple(run.read_metrics())
    except RunRecordError as err:
        warn(err)
        curve = None
    try:
        environments = run_environment.read(run.path)
    except RunRecordError as err:
        warn(err)
        environments = None
    return RunEntry(
        name,
        run.path,
        seed if seed is not None else settings.get("trainer.seed"),
        settings,
        _number(best),
        _number(test),
        finite_or_none(val_size),
        curve,
        tuple(environments) if environments is not None else None,
    )


def _number(value: object) -> float:
    """A runs.csv or summary number as a float: NaN for none (a failed run's accuracy)."""
    found = finite_or_none(value)
    return math.nan if found is None else found


def sweep_record(sweep_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The task's overrides (bookkeeping left out) and the sweeper's settings, from the sweep's
    ``multirun.yaml``; none for a sweep without one."""
    path = sweep_dir / MULTIRUN_RECORD
    if not path.is_file():
        return {}, {}
    try:
        config = parse_yaml(read_record_text(path))
    except (OSError, UnicodeDecodeError, RecordFormatError) as err:
        raise DiffError(f"{path} is damaged ({' '.join(str(err).split())[:120]}); rerun the sweep's command") from None
    hydra = config.get("hydra") if isinstance(config, dict) else None
    overrides = (hydra.get("overrides") or {}).get("task") if isinstance(hydra, dict) else None
    sweeper = hydra.get("sweeper") if isinstance(hydra, dict) else None
    if not isinstance(overrides, list) or not isinstance(sweeper, dict):
        raise DiffError(f"{path} is damaged (no task overrides or sweeper); rerun the sweep's command")
    # A swept value is a task override whichever way it came (the sweeper's params first, then the
    # command line's, as Hydra merges them); a sweeper setting added since a sweep was recorded
    # reads as its default.
    params = sweeper.get("params") if isinstance(sweeper.get("params"), dict) else {}
    swept = {str(k): value_text(v) for k, v in params.items()}
    settings = flat_settings({k: v for k, v in sweeper.items() if k != "params"}, added=ADDED_SWEEPER_SETTINGS)
    return (
        {**swept, **{override_key(o): o.partition("=")[2] for o in without_bookkeeping([str(o) for o in overrides])}},
        {k: v for k, v in settings.items() if k not in HOW_RAN},
    )


def load_side(path: Path, label: str) -> Side:
    """A (or B): a run directory (a sweep of one run), or a collected sweep."""
    if not path.is_dir():
        there = "is not a directory" if path.exists() else "does not exist"
        raise DiffError(f"{label}: {path} {there}; give a sweep directory (with {RUNS}) or a run directory")
    run = RunDir(path)
    if run.exists():
        summary = run.read_summary()
        numbers = [getattr(summary, k, None) for k in ("best_val_acc", "test_acc", "val_size")]
        overrides = {override_key(o): o.partition("=")[2] for o in run.defining_overrides()}
        return Side(label, path, True, (read_run(path.parent, path.name, None, *numbers),), overrides, {}, SEED_KEYS)
    if not (path / RUNS).is_file() and not any((child / CONFIG).is_file() for child in path.iterdir()):
        raise DiffError(
            f"{label}: {path} is neither a sweep (no {RUNS}) nor a run directory (no {CONFIG}); give one of them"
        )
    tables = load_tables(path)  # no runs.csv: "collect it first: nnsweep collect <dir>"
    column = seed_column(tables.runs, tables.configs)
    entries = []
    for row in tables.runs.to_dict("records"):
        name = str(row["run"])
        if Path(name).is_absolute() or ".." in Path(name).parts or not (path / name / CONFIG).is_file():
            warn(f"{path / RUNS} names run {name!r}, which has no run record there; left out (nnsweep collect {path})")
            continue
        seed = row.get(column) if column else None
        seed = value_text(seed) if seed is not None and finite_or_none(seed) is not None else None
        entries.append(read_run(path, name, seed, row.get("best_val_acc"), row.get("test_acc"), row.get("val_size")))
    overrides, sweeper = sweep_record(path)
    keys = tuple(dict.fromkeys([*repeat_keys(path), *([column] if column and column != "seed" else [])]))
    return Side(label, path, False, tuple(entries), overrides, sweeper, keys)


def output_dir(given: str | None, a: Side, b: Side) -> Path:
    """The folder the page goes to (made and claimed): ``--out``, or by default ``diff-<B>`` in
    sweep A (``diff-<A>-vs-<B>`` beside run A). Never A's or B's own folder, never inside B,
    never a folder of someone else's files, never a symbolic link."""
    if given:
        out = Path(given)
    elif a.is_run:
        out = a.path.parent / run_dir_name(f"diff-{a.path.resolve().name}-vs-{b.path.resolve().name}")
    else:
        out = a.path / run_dir_name(f"diff-{b.path.resolve().name}")
    where = Path(os.path.abspath(out))
    if a.path.resolve() == b.path.resolve():
        raise DiffError(f"A and B are the same directory ({a.path}): give two sweeps or two runs to compare")
    inside_a = (
        where.resolve().relative_to(a.path.resolve()).parts if where.resolve().is_relative_to(a.path.resolve()) else ()
    )
    if not a.is_run and inside_a and not inside_a[0].startswith("diff-"):  # A's report, runs and tables are A's
        raise DiffError(
            f"the page would be written among A's own files ({out}); use A/diff-<name> or --out DIR elsewhere"
        )
    for side in (a, b):
        if where.resolve() == side.path.resolve() or (side is b and where.resolve().is_relative_to(b.path.resolve())):
            raise DiffError(f"the page would be written into {side.label} ({out}); give another folder: --out DIR")
    if os.path.islink(out):
        raise not_followed(where)
    mark = out / MARK
    if out.is_dir() and any(out.iterdir()) and (mark.is_symlink() or not mark.is_file()):
        raise DiffError(f"{out} holds files nnsweep diff did not write; give another folder: --out DIR")
    own_dir(out)
    atomic_write_text(mark, "written by nnsweep diff: index.html, curves.png, diff.txt\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.diff"),
        description="Compare two sweeps (or two runs): what differs in their environments and settings, and "
        "each configuration matched across them (by the settings the sweeps vary, or --match) with the "
        "difference of its mean validation and test accuracy, its 95% interval (paired by seed) and a verdict: "
        "identical (the same bits), same within noise, different, or cannot tell. Prints a summary and writes "
        "it with a page (index.html, curves.png).",
    )
    parser.add_argument("a", help="sweep A: a collected sweep directory (runs.csv), or a run directory")
    parser.add_argument("b", help="sweep B, compared with A (differences are B - A)")
    parser.add_argument(
        "--match",
        metavar="KEYS",
        help="comma-separated settings to match configurations by (dotted keys, or their last part: lr, hidden); "
        "default: every setting either sweep varies",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="folder for index.html, curves.png, diff.txt (default: A/diff-<name of B>)"
    )
    args = parser.parse_args(argv)
    match = [k.strip() for k in args.match.split(",") if k.strip()] if args.match else None
    a, b = load_side(Path(args.a), "A"), load_side(Path(args.b), "B")
    found = diff(a, b, match)
    text = diff_text(found)
    out = output_dir(args.out, a, b)
    atomic_write_text(out / "diff.txt", text)
    page = write_page(found, out)
    print(text + f"\nPage: {page}")
    return 0


def command() -> None:
    """``nnsweep diff``."""
    run_command(main)


if __name__ == "__main__":
    command()
