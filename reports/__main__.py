"""``nnsweep report <sweep dir>``: collect the sweep and write its figures and index.html into
<sweep dir>/report/, drawing only what changed (nothing at all if the sweep did not change).
``--watch`` keeps a running sweep's page live (the sweeper starts it: ``nnsweep.reports.live``)."""

from __future__ import annotations

import argparse
import time

from nnsweep.experiments.cli import run_command
from nnsweep.experiments.startup import program_name
from nnsweep.reports.live import nice, refresh, watch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.reports"),
        description="Collect a sweep (runs.csv, epochs.csv, configs.csv) and write its "
        "figures and index.html into <sweep dir>/report/; figures whose "
        "runs did not change are kept, and an unchanged sweep returns at once.",
    )
    parser.add_argument("sweep_dir", help="a sweep directory (e.g. results/sweep-lr/... or multirun/...)")
    parser.add_argument(
        "--shared-y",
        action="store_true",
        help="learning curves: one accuracy scale for every panel (default: each panel its own)",
    )
    parser.add_argument("--force", action="store_true", help="draw every figure again, even if nothing changed")
    parser.add_argument(
        "--watch",
        action="store_true",
        help="keep the report of a running sweep live until stdin says 'finished' or ends (the "
        "sweeper runs this itself)",
    )
    args = parser.parse_args(argv)
    if args.watch:
        nice()
        return watch(args.sweep_dir, shared_y=args.shared_y)
    started = time.time()
    index, built = refresh(args.sweep_dir, shared_y=args.shared_y, force=args.force)
    if built:
        print(f"report written in {time.time() - started:.1f} s: {index}")
    else:
        print(f"report up to date (the sweep has not changed): {index}")
    return 0


def command() -> None:
    """``nnsweep report``."""
    run_command(main)


if __name__ == "__main__":
    command()
