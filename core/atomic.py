"""Atomic file writes: readers see the old file or the new one, never half of one.

A crash, a kill -9 or a full disk in the middle of a write leaves the previous version intact:
the new content goes to a temporary file in the same directory, is flushed to disk, and only
then renamed over the target (rename is atomic within one file system). The rename replaces a
symbolic link planted at the target rather than writing through it; the files that are written
in place (appended logs, a lock's holder file) are opened with ``open_no_follow``, which refuses
a link, so no write leaves a run, sweep or report directory through one. The directories nnsweep
writes into inside those (a run's ``.hydra/``, a sweep's run folders, ``report/`` and its
``portraits/``) are made or found with ``own_dir``, which refuses a link there too.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nnsweep.core.errors import NnsweepError


class WriteError(NnsweepError, OSError):
    """An output file could not be written (disk full, no permission, a file where a directory
    should be); the message names the path and what to do."""


def write_error(path: Path, err: OSError) -> WriteError:
    reason = err.strerror or str(err)
    hint = (
        "free some space"
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        else "check the path and its permissions, or choose another output directory"
    )
    error = WriteError(f"cannot write {path}: {reason}; {hint}")
    error.errno = err.errno
    return error


def open_no_follow(path: str | os.PathLike, flags: int, mode: int = 0o666) -> int:
    """``os.open(path, flags)`` for writing a file in a run, sweep or report directory, refusing
    anything but a regular file there: a symbolic link planted at ``path`` would send the write
    to its target (``O_NOFOLLOW``), and a FIFO would block the writer (``O_NONBLOCK``: no hang).
    Returns the descriptor (blocking again); failures raise ``WriteError`` with one line."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise not_followed(path) from None
        raise write_error(path, err) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WriteError(f"cannot write {path}: it is not a regular file; remove it and rerun")
    os.set_blocking(fd, True)
    return fd


def not_followed(path: Path) -> WriteError:
    """The refusal to write through a symbolic link in a directory nnsweep writes."""
    error = WriteError(
        f"{path} is a symbolic link; nnsweep does not write through links in its run, sweep and "
        "report directories: remove it and rerun"
    )
    error.errno = errno.ELOOP
    return error


def own_dir(path: str | os.PathLike) -> Path:
    """Make the directory ``path`` (and its missing parents) or find it there, for nnsweep to write
    into, refusing a symbolic link at ``path`` whatever it points to (``not_followed``): a link
    planted inside a run, sweep or report directory would send every file written below it to
    its target. ``path`` itself may lie below a link the user gave (``hydra.run.dir=<a link>``):
    only this last component is checked. Returns ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    except FileExistsError:
        pass
    except OSError as err:
        raise write_error(path, err) from None
    try:
        mode = os.lstat(path).st_mode
    except OSError as err:
        raise write_error(path, err) from None
    if stat.S_ISLNK(mode):
        raise not_followed(path)
    if not stat.S_ISDIR(mode):
        raise WriteError(f"cannot write into {path}: it is not a directory; remove it and rerun")
    return path


def refuse_link(path: str | os.PathLike) -> None:
    """Refuse (``not_followed``) a symbolic link at ``path``, a directory nnsweep is about to
    write into inside a run, sweep or report directory; a missing ``path`` is fine."""
    if os.path.islink(path):
        raise not_followed(Path(path))


def remove_stale_temps(directory: str | os.PathLike, older_than_s: float = 0.0) -> list[Path]:
    """Remove the temporary files (``.<name>.*.tmp``) that a ``kill -9`` or Ctrl-C in the middle
    of an atomic write left in ``directory``; only those older than ``older_than_s`` seconds (a
    writer that does not hold the directory's lock may be writing a young one). Call it while
    holding the directory's lock. Returns the removed paths."""
    removed = []
    cutoff = time.time() - older_than_s
    for tmp in Path(directory).glob(".*.tmp"):
        try:
            if older_than_s and tmp.lstat().st_mtime > cutoff:
                continue
            tmp.unlink()
        except OSError:
            continue
        removed.append(tmp)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_temps_of(directories, pids) -> list[Path]:
    """Remove the temporary files that the processes ``pids`` left in ``directories`` (a
    temporary file's name carries its writer's process id, ``.<name>.p<pid>.<random>.tmp``):
    for a process whose workers were ended in the middle of a write (SIGTERM), once they are
    gone. Returns the removed paths."""
    removed = []
    for directory in directories:
        for pid in pids:
            for tmp in Path(directory).glob(f".*.p{pid}.*.tmp"):
                try:
                    tmp.unlink()
                except OSError:
                    continue
                removed.append(tmp)
    return removed


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it over
    ``path``. Readers see the old file or the new one, never a partial one. Failures raise
    ``WriteError`` and leave no temporary file behind."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.p{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    try:  # from here on, anything (Ctrl-C too) removes the temporary file
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results should read like any file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise write_error(path, err) from None
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """``atomic_write`` for a writer that opens the file by name (an ffmpeg process): yields a
    temporary path beside ``path``, renamed over it when the block ends, removed if it raises."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.p{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise write_error(path, err) from None
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """``atomic_write`` for a text file (UTF-8)."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
