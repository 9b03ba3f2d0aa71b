"""One sweep at a time per sweep directory: an exclusive lock on ``<sweep dir>/.lock``.

``flock`` locks belong to the open file, so the kernel releases them when the holder dies, even
by ``kill -9``: a crashed sweep never leaves a stale lock behind, and rerunning it just works.
"""
from __future__ import annotations

from nets.errors import NnsweepError
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class SweepLockedError(NnsweepError, RuntimeError):
    """Another process is sweeping into the same directory."""


@contextmanager
def sweep_lock(sweep_dir: str | os.PathLike) -> Iterator[Path]:
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise SweepLockedError(
                f"sweep directory {sweep_dir} is in use by process {holder}; wait for it to finish "
                "or choose another sweep name"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)
