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
        _, arguments = sweep(sys.argv[1:])
    except NnsweepError as err:
        fail(str(err), err.exit_code)
    sys.argv[1:] = arguments
    from nnsweep.experiments import train

    train.main()


if __name__ == "__main__":
    main()
