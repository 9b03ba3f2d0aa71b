"""``python -m reports <sweep dir>``: write the sweep's figures and index.html into <sweep dir>/report/."""
from __future__ import annotations

import argparse
import time

from experiments.cli import program_name, run_command
from reports.build import build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=program_name("reports"),
                                     description="Write a sweep's figures and index.html into <sweep dir>/report/.")
    parser.add_argument("sweep_dir", help="a collected sweep directory (with runs.csv and epochs.csv)")
    args = parser.parse_args(argv)
    started = time.time()
    index = build_report(args.sweep_dir)
    print(f"report written in {time.time() - started:.1f} s: {index}")
    return 0


def command() -> None:
    """The ``nnsweep-report`` console script."""
    run_command(main)


if __name__ == "__main__":
    command()
