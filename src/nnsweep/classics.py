"""``nnsweep classics``: train every classic setup on the full MNIST and write one page beside
the published numbers, ``results/classics/index.html``.

The runs are ``nnsweep.sweeps.classics_runner``'s (two at a time, longest first; finished ones
reused, interrupted ones continued), the page ``nnsweep.reports.classics``'s. This module sits
above both, with the other commands (``nnsweep.__main__``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core counts
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    from nnsweep.experiments.startup import program_name

    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.classics"),
        description="Train each classic setup (Rashid, Nielsen, the NumPy MLP table, the NumPy LeNet-5, Olin's "
        "QEA project) on the full MNIST, installing it first if needed (make data), and write OUT/index.html "
        "with the published numbers beside ours (and the draw page's model, which make draw trains, when it is "
        "there). Finished runs are reused: rerun after an interruption to continue. About 13 minutes on 2 cores.",
    )
    parser.add_argument(
        "--out", help="where the runs and the page go [results/classics; with --tiny, results/classics-tiny]"
    )
    parser.add_argument("--jobs", type=int, default=min(2, _cores()), help="runs at a time [2]")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="the test-size variant: at most 2 epochs on 600 training images each, 2 of the 24 runs of Olin's "
        "grid, no extra seeds and no true-gradient runs (checks the page, not the numbers)",
    )
    parser.add_argument("--data-root", help="a directory of the four MNIST IDX files to use instead of data/mnist")
    parser.add_argument("--page-only", action="store_true", help="train nothing; write the page from the runs there")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    from nnsweep.reports.classics import write_classics_page
    from nnsweep.sweeps.classics_runner import Budget, RunState, train_classics

    started = time.time()
    out = Path(args.out or ("results/classics-tiny" if args.tiny else "results/classics"))
    failed = []
    if not args.page_only:
        outcomes = train_classics(out, Budget(tiny=args.tiny, data_root=args.data_root), jobs=args.jobs)
        failed = [o for o in outcomes if o.state == RunState.failed]
    minutes = (time.time() - started) / 60
    note = "The test-size variant (--tiny): numbers from 600 images, not the classics'." if args.tiny else ""
    page = write_classics_page(out, note=note, tiny=args.tiny)
    print(f"classics: {len(failed)} runs failed; " if failed else "classics: ", end="")
    print(f"page written after {minutes:.1f} min of training: {page}")
    return 1 if failed else 0


def command() -> None:
    from nnsweep.experiments.cli import run_command

    run_command(main)


if __name__ == "__main__":
    command()
