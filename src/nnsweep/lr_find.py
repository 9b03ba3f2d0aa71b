"""``nnsweep lr-find [overrides]``: the learning-rate range test of a training config, its record
(``nnsweep.experiments.lr_find``) and its figure (``nnsweep.reports.lr_find``). It sits above both
layers, as the other commands that train and draw do."""

from __future__ import annotations

import sys
from pathlib import Path


def test_and_draw(overrides: list[str], out: Path, start: float, end: float, steps: int | None = None):
    """Run the range test of ``overrides``, write its record into ``out`` and draw its figure;
    returns the record, the test and the figure's path."""
    from nnsweep.experiments import lr_find
    from nnsweep.reports.lr_find import render

    record, test = lr_find.run_range_test(overrides, start, end, steps)
    lr_find.write(out, record, test)
    return record, test, render(out)


def main() -> int:
    from nnsweep.experiments import lr_find

    parser = lr_find.make_parser()
    args = parser.parse_args(sys.argv[1:])
    options = [a for a in args.overrides if a.startswith("-")]
    if options:
        parser.error(f"unknown option {options[0]}")
    if not 0 < args.start < args.end < float("inf"):
        parser.error(f"need 0 < --start < --end, got --start {args.start:g} --end {args.end:g}")
    if args.steps is not None and not 10 <= args.steps <= 1_000_000:
        parser.error(f"--steps must be between 10 and 1,000,000, got {args.steps}")
    out = args.out or lr_find.default_out(args.overrides)
    record, test, figure = test_and_draw(args.overrides, out, args.start, args.end, args.steps)
    ended = "the loss exploded" if record.stopped_early else "the last rate"
    print(
        f"{record.net} on {record.data}, {record.optimizer}, mini-batch {record.batch_size}: {record.steps_taken} "
        f"steps from {record.start:g} to {test.lrs[-1]:.3g} ({ended}), {record.seconds:.2f} s"
    )
    print(f"suggested learning rate: {record.suggested_lr:.3g}  (rule: {record.rule})")
    print(f"lowest smoothed loss at {record.lowest_lr:.3g}; steepest descent at {record.steepest_lr:.3g}")
    if not test.learned:
        print(
            f"the mini-batches' accuracy never passed {test.best_accuracy:.0%}: the network did not learn in these "
            "steps, so the suggestion is noise; give more --steps"
        )
    elif test.still_falling:
        print(
            f"the loss still fell at the last rate: the suggestion is a lower bound; raise --end above {record.end:g}"
        )
    print(f"figure: {figure}")
    return 0


def command() -> None:
    from nnsweep.experiments.cli import run_command

    run_command(main)


if __name__ == "__main__":
    command()
