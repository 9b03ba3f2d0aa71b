"""Exclusive locks on run and sweep directories, held for as long as a process works in them.

The lock is a ``flock`` on the directory itself, not on a file in it: a lock file can be deleted
(it looks like a stale one) while its holder runs, and the next process would then lock a new
file and work beside the first. ``flock`` locks belong to the open descriptor, so the kernel
releases them when the holder dies, even by ``kill -9``: a crashed run or sweep never leaves a
stale lock behind, and whether a lock is held tells a live run (``running``) from a dead one
(``interrupted``). The holder writes its process id into ``<dir>/.lock``, for the message a
second process gets; that file is information only, and never written through a symbolic link.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nnsweep.core.atomic import open_no_follow, write_error
from nnsweep.core.errors import NnsweepError

POLL_SECONDS = 0.05
HOLDER = ".lock"  # the holder's process id


class LockedError(NnsweepError):
    """Another process holds the lock (the message names it and what to do)."""


def holder(directory: str | os.PathLike) -> str:
    """The process id the lock's holder wrote, or "another process"."""
    try:
        return (Path(directory) / HOLDER).read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def exclusive_lock(directory: str | os.PathLike, what: str, wait: float = 0.0, advice: str = "") -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (created if missing) inside the ``with`` block.

    Waits up to ``wait`` seconds (``float("inf")``: until it is free), then raises
    ``LockedError``: "<what> is in use by process N; <advice>".
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise write_error(directory, err) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"{what} is in use by process {holder(directory)}; {advice or 'wait for it to finish'}"
                    ) from None
                time.sleep(POLL_SECONDS)
        write_holder(directory / HOLDER)
        yield directory
    finally:
        os.close(fd)  # releases the lock


def write_holder(path: Path) -> None:
    """Write this process's id into ``path``; a symbolic link planted there is refused, not
    followed (its target is never overwritten)."""
    fd = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, str(os.getpid()).encode())
    except OSError as err:
        raise write_error(path, err) from None
    finally:
        os.close(fd)


def is_locked(directory: str | os.PathLike) -> bool:
    """Whether a live process holds the lock on ``directory``.

    Probes with a shared lock, which never blocks another prober and is dropped at once; a
    holder-to-be that meets the probe retries (``exclusive_lock``'s ``wait``)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
