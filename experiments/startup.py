"""Ctrl-C while a command starts: one line, before any of its heavy imports ran.

A command spends its first second importing NumPy, Hydra, pandas, matplotlib; Python's own
answer to Ctrl-C then is a KeyboardInterrupt traceback of 30 lines from inside some import. The
packages a command starts from (``nnsweep``, ``experiments``, ``sweeps``, ``reports``) call ``quiet_start``
first thing, so that until ``nnsweep.experiments.cli.run_command`` takes over (``started``), Ctrl-C
prints one line and exits 130: nothing has been written yet. Only a command is changed (``python
-m ...``, ``nnsweep <command>``); a notebook or a test importing the packages keeps Python's
KeyboardInterrupt. Standard library only: this runs before anything else is imported.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

EXIT_INTERRUPTED = 130  # the shell's code for a command ended by SIGINT
LINE = "nnsweep: interrupted while starting; nothing was written\n"
PARENT_ENV = "NNSWEEP_PARENT_PID"  # nnsweep.experiments.lifeline.ENV: set by the nnsweep process that started us


def _interrupted_while_starting(signum, frame) -> None:
    os.write(2, LINE.encode())
    os._exit(EXIT_INTERRUPTED)  # nothing to clean up: no file was written, no child started


def is_command() -> bool:
    """Whether this process is a command being started: ``python -m <module>`` (Python sets
    ``sys.argv[0]`` to "-m" while it imports the module's packages) or the ``nnsweep`` script."""
    return sys.argv[:1] == ["-m"] or os.path.basename(sys.argv[0] if sys.argv else "") == "nnsweep"


_invoked_as: str | None = None  # set by ``nnsweep <command>`` before it imports the command


def invoked_as(name: str) -> None:
    """Say how the command was started (``nnsweep train``), for its usage lines and help."""
    global _invoked_as
    _invoked_as = name


def program_name(module: str) -> str:
    """How this command was started, for its usage lines: ``nnsweep <command>``, or ``python -m
    <module>``."""
    return _invoked_as or f"python -m {module}"


_a_command = False  # set by quiet_start: this process is a command (not a notebook or a test)


def quiet_start() -> None:
    """Install the one-line answer to Ctrl-C while a command imports (see the module's text). A
    command started by another nnsweep process (a sweep's training process) ignores Ctrl-C
    instead: only the top process answers it (``nnsweep.experiments.lifeline``)."""
    global _a_command
    if not is_command() or threading.current_thread() is not threading.main_thread():
        return
    _a_command = True
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # someone chose already (a shell's SIG_IGN for a background job, or ours)
    child = os.environ.get(PARENT_ENV) == str(os.getppid())
    signal.signal(signal.SIGINT, signal.SIG_IGN if child else _interrupted_while_starting)


_ctrl_c_seen = False  # a Ctrl-C reached this command (``interrupted_before``)


def _keyboard_interrupt(signum, frame) -> None:
    """Python's own answer to Ctrl-C (a KeyboardInterrupt), remembered: a KeyboardInterrupt that
    lands inside a library's code (Hydra composing a config) can leave its state half-changed,
    and the command then fails with some other exception that is the Ctrl-C's doing."""
    global _ctrl_c_seen
    _ctrl_c_seen = True
    signal.default_int_handler(signum, frame)


def interrupted_before() -> bool:
    """Whether Ctrl-C reached this command: an error after it is the interrupt's, not the input's."""
    return _ctrl_c_seen


def started() -> None:
    """The command's own handling is in place: Ctrl-C is Python's KeyboardInterrupt again."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, _keyboard_interrupt)


def ended() -> None:
    """The command said its last line after Ctrl-C and exits with 130. Two things would turn
    that exit into Python's own death by SIGINT (status -2; seen in about 1 of 30 sweeps
    interrupted as they started):

    - a second Ctrl-C, or one not acted on yet: ignored from here;
    - CPython 3.11 remembers a KeyboardInterrupt raised inside ``exec`` of a string (as
      ``dataclasses`` does to build every dataclass: Ctrl-C during an import) as "unhandled"
      even when it was caught, and kills the process with SIGINT after its exit. That flag is
      cleared at the start of every such ``exec``: one empty ``exec`` clears it.

    Commands only: a notebook or a test keeps its KeyboardInterrupt."""
    if _a_command and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        exec("")  # noqa: S102 - clears CPython's unhandled-KeyboardInterrupt flag (see above)
