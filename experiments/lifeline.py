"""Processes of a sweep die with the process that started them.

A sweep is a tree: ``nnsweep train -m`` (and ``nnsweep sweep-lr``, the same process) starts one
worker per core through its launcher, and each sweep with a live report a watcher process.
Killing only the top process (``kill PID``, ``kill -9``) used to leave the workers training, and
a rerun then trained the same runs at the same time.

Each nnsweep process that starts others puts its process id into ``NNSWEEP_PARENT_PID``; a
child that finds its own parent there watches it and ends itself (SIGKILL, which a run survives
by design: it resumes from its last checkpoint) within a second of the parent's death. A process
started by anything else (a shell, ``nohup``, a cluster scheduler) is left alone. Such children
also ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and only the top
process should answer it, with one line (``nnsweep.experiments.cli.run_command``) that stays the last one:
a sweep's job falls silent on the terminal from then on (``fall_silent_on_interrupt``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

ENV = "NNSWEEP_PARENT_PID"
POLL_SECONDS = 0.5
RESOURCE_TRACKERS = ("multiprocessing.resource_tracker", "joblib.externals.loky.backend.resource_tracker")
_watching = False


def follow_parent() -> None:
    """Watch the parent if it is the nnsweep process that started us; then let our own
    children follow us. Safe to call more than once."""
    global _watching
    parent = os.getppid()
    if not _watching and os.environ.get(ENV, str(parent)) != str(parent) and not _alive(os.environ[ENV]):
        # A worker given its job after the nnsweep process that started it ended (Ctrl-C, kill):
        # the lifeline would have stopped it; it stops before it trains or prints anything.
        os.kill(os.getpid(), signal.SIGKILL)
    if not _watching and os.environ.get(ENV) == str(parent):
        _watching = True
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the workers it starts, from their first line
        threading.Thread(target=_watch, args=(parent,), name="nnsweep-lifeline", daemon=True).start()
    os.environ[ENV] = str(os.getpid())
    # The launchers' resource trackers clean up after workers that were stopped this way (or by
    # Ctrl-C) and warn about "leaked" semaphores while they do: noise, once per object.
    quiet = [f"ignore::UserWarning:{m}" for m in RESOURCE_TRACKERS]
    os.environ["PYTHONWARNINGS"] = ",".join([w for w in os.environ.get("PYTHONWARNINGS", "").split(",") if w] + quiet)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def fall_silent_on_interrupt() -> None:
    """For a sweep's job in a worker process started by an nnsweep process: at Ctrl-C, print
    nothing more to the terminal (``_fall_silent``) instead of ignoring it unseen."""
    if (
        os.environ.get(ENV)
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        signal.signal(signal.SIGINT, _fall_silent)


def _fall_silent(signum, frame) -> None:
    """Ctrl-C reaches the whole process group; only the top process answers it, with one line
    that must be the last on the terminal. A child goes on until its parent stops it (a run
    resumes from its checkpoint), writing its own logs, but prints nothing more to the
    terminal: no finished job's line, no lifeline warning after "interrupted"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    finally:
        os.close(devnull)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    logging.getLogger("nnsweep.lifeline").warning(
        "the sweep process %d is gone; stopping this worker (rerun the sweep to continue)", parent
    )
    os.kill(os.getpid(), signal.SIGKILL)
