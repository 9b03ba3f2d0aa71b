"""The one base exception of nnsweep.

Every error a user can cause (a bad setting, a missing or corrupt file, a failed write) is an
``NnsweepError`` whose message is one line that names the problem and the fix. The command-line
wrapper (``nnsweep.experiments.cli.run_command``) prints it as ``nnsweep: error: <message>`` and exits
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class NnsweepError(Exception):
    """Bad input or an unusable environment; ``str(err)`` is the line the user reads."""

    exit_code = 2
