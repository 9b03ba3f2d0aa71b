"""Exclusive locks on run and sweep directories, held for as long as a process works in them.

``flock`` locks belong to the open file, so the kernel releases them when the holder dies, even
by ``kill -9``: a crashed run or sweep never leaves a stale lock behind, and whether a lock is
held tells a live run (``running``) from a dead one (``interrupted``). The holder's process id is
written into the lock file, for the message a second process gets.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nets.atomic import write_error
from nets.errors import NnsweepError

POLL_SECONDS = 0.05


class LockedError(NnsweepError):
    """Another process holds the lock (the message names it and what to do)."""


def _holder(fd: int) -> str:
    return os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"


@contextmanager
def exclusive_lock(path: str | os.PathLike, what: str, wait: float = 0.0, advice: str = "") -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if missing) inside the ``with`` block.

    Waits up to ``wait`` seconds (``float("inf")``: until it is free), then raises
    ``LockedError``: "<what> is in use by process N; <advice>".
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(f"{what} is in use by process {_holder(fd)}; {advice or 'wait for it to finish'}") \
                        from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def is_locked(path: str | os.PathLike) -> bool:
    """Whether a live process holds the lock on ``path``.

    Probes with a shared lock, which never blocks another prober and is dropped at once; a
    holder-to-be that meets the probe retries (``exclusive_lock``'s ``wait``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
