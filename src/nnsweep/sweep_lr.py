"""``nnsweep sweep-lr``: the learning-rate sweep, run by the training command in this process.

``nnsweep.sweeps.lr`` checks the flags and writes the training command's arguments (the
learning-rate search of ``conf/search/lr.yaml`` over the rates asked for); the training command
then runs it as every multirun runs: the one sweeper, its lock, its tables and report, its exit
status. This module sits above both, with the other commands (``nnsweep.__main__``).
"""

from __future__ import annotations

import sys


def main() -> None:
    from nnsweep.core.errors import NnsweepError
    from nnsweep.experiments.cli import fail
    from nnsweep.sweeps.lr import sweep

    try:
        sweep_dir, arguments, range_test = sweep(sys.argv[1:])
    except NnsweepError as err:
        fail(str(err), err.exit_code)
    if range_test is not None:
        run_range_test(sweep_dir, range_test)
    sys.argv[1:] = arguments
    from nnsweep.experiments import train

    train.main()


def run_range_test(sweep_dir, asked) -> None:
    """The range test of the sweep's runs (``nnsweep lr-find``), its record handed to the sweep,
    which writes it into its directory under its lock, where its report finds it and draws it; a
    test that cannot run is a warning: the sweep is what was asked for."""
    from nnsweep.core.errors import NnsweepError
    from nnsweep.experiments import lr_find
    from nnsweep.experiments.cli import warn
    from nnsweep.sweeps.launch import write_before_jobs

    try:
        record, test = lr_find.run_range_test(asked.overrides, asked.start, asked.end, None)
    except (NnsweepError, ValueError, OSError) as err:
        warn(f"no learning-rate range test: {err}")
        return
    write_before_jobs(lr_find.record_files(record, test))
    if not record.learned:
        warn(
            f"in the range test's {record.steps_taken} mini-batches the network did not learn (accuracy at most "
            f"{record.best_batch_accuracy:.0%}): its suggestion is noise (nnsweep lr-find --steps N tests longer)"
        )
    print(
        f"range test ({record.steps_taken} mini-batches, {record.seconds:.1f} s): suggests lr "
        f"{record.suggested_lr:.3g} ({record.rule}); lr_find.json in the sweep",
        flush=True,
    )


if __name__ == "__main__":
    main()
