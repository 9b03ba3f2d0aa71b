"""How long a report takes: ``make bench-report`` (``python -m bench.report``).

On the sweep of ``make sweep-lr`` (11 learning rates x 15 epochs, Rashid's network; run first if
it is missing), copied to a scratch directory so the user's own report is left alone:

1. The full report, as a user runs it: ``nnsweep report <sweep> --force`` (a fresh process:
   start-up, collect, every figure and both animations). Goal: at most 10 s on 2 cores.
2. An update of the live page after one more run finished, as the sweep's watcher does it (a
   process that is already running: ``nnsweep.reports.live.update(..., live=True)``): the report is
   built without that run, the run is put back, and the update is timed. Once for a run that is
   not the best (its row, curves and portrait are new) and once for the best run (the model
   figures change too). Goal: at most 3 s.
3. ``nnsweep report`` on the unchanged sweep: "at once".

Each is repeated (``--repeats``, default 3) and the median printed, with every time measured.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

SWEEP = Path("results/sweep-lr/rashid-mnist5k-e15-b1")


def command_seconds(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nnsweep", "report", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def update_seconds(sweep: Path, run: str) -> float:
    """Build the live report of ``sweep`` without ``run``, put the run back, time the update."""
    from nnsweep.reports.live import update
    from nnsweep.sweeps.collect import collect

    away = sweep.parent / "away"
    shutil.move(str(sweep / run), away)
    collect(sweep)  # as the sweep's keeper collects its tables; the watcher only reads them
    update(sweep, live=True)
    shutil.move(str(away), sweep / run)
    collect(sweep)
    started = time.perf_counter()
    _, built = update(sweep, live=True)
    assert built
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=SWEEP, help=f"a collected sweep (default {SWEEP})")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.sweep / "runs.csv").is_file():
        if args.sweep != SWEEP:
            print(f"nnsweep: error: {args.sweep} has no runs.csv; pass a collected sweep", file=sys.stderr)
            return 2
        subprocess.run([sys.executable, "-m", "nnsweep", "sweep-lr", "--no-report"], check=True)
    runs = pd.read_csv(args.sweep / "runs.csv")
    best, other = runs["run"].iloc[0], runs["run"].iloc[len(runs) // 2]
    times: dict[str, list[float]] = {
        "full report (nnsweep report --force)": [],
        "live update after a run that is not the best": [],
        "live update after the best run": [],
        "nnsweep report on an unchanged sweep": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        sweep = Path(scratch) / "sweep"
        shutil.copytree(args.sweep, sweep, ignore=shutil.ignore_patterns("report", ".lock"))
        command_seconds(str(sweep))  # fonts and caches, once
        for _ in range(args.repeats):
            times["full report (nnsweep report --force)"].append(command_seconds(str(sweep), "--force"))
            times["live update after a run that is not the best"].append(update_seconds(sweep, other))
            times["live update after the best run"].append(update_seconds(sweep, best))
            command_seconds(str(sweep))  # the final page again, so that the next one is unchanged
            times["nnsweep report on an unchanged sweep"].append(command_seconds(str(sweep)))
    print(f"| {args.sweep.name}: {len(runs)} runs | median | each |\n|---|---|---|")
    for what, seconds in times.items():
        print(f"| {what} | {statistics.median(seconds):.1f} s | {', '.join(f'{s:.1f}' for s in seconds)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
