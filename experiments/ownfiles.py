"""What a command owns among the files it touches: it removes only what it created, and its log
never follows a symbolic link planted in a run directory.

Hydra creates a single run's directory, with every missing parent, and opens the job's log in it
before any of our code runs; a directory that held the user's files before (``hydra.run.dir=.``,
a folder of notes, a folder of finished runs) looks the same from inside the job as one Hydra
just made. ``NoteCreatedDirs`` is a Hydra callback that looks just before Hydra makes it
(``on_run_start``, configured in ``conf/config.yaml``) and notes which of the run directory and
its parents do not exist yet. A run that fails or is interrupted before it recorded anything
then removes the files it wrote there (Hydra's log, the lock's holder file; not those that were
there before) and exactly those directories, each only once it is empty: never a tree, and
nothing that was there before the command started. ``missing_dirs`` and ``remove_created_dirs``
do the same for a sweep's folder (``nnsweep.sweeps.lock``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.experimental.callback import Callback

from nnsweep.core.atomic import open_no_follow, refuse_link


@dataclass(frozen=True)
class CreatedDirs:
    """The run directory Hydra was about to make (absolute), those of it and its parents that
    did not exist then (deepest first), and the names in it then (if it existed)."""

    run_dir: Path
    missing: tuple[Path, ...]
    present: frozenset[str] = frozenset()


_noted: CreatedDirs | None = None  # one single run per process


def missing_dirs(directory: str | os.PathLike) -> tuple[Path, ...]:
    """Those of ``directory`` (absolute) and its parents that do not exist yet, deepest first:
    what a command that makes ``directory`` creates (a dangling link counts as existing: it is
    the user's)."""
    directory = Path(os.path.abspath(directory))
    missing = []
    for path in (directory, *directory.parents):
        if os.path.lexists(path):
            break
        missing.append(path)
    return tuple(missing)


def remove_created_dirs(missing: Sequence[Path], own_files: Sequence[str] = ()) -> list[Path]:
    """Remove the files named ``own_files`` from the deepest of ``missing`` (directories this
    command created, deepest first: ``missing_dirs`` before it made them), then each of those
    directories that is empty: never a tree, never a directory holding anything else."""
    removed: list[Path] = []
    if not missing:
        return removed
    for name in own_files:
        own = missing[0] / name
        if own.is_symlink() or own.is_file():
            own.unlink(missing_ok=True)
            removed.append(own)
    for directory in missing:  # deepest first; rmdir refuses a directory that is not empty
        try:
            directory.rmdir()
        except OSError:
            break
        removed.append(directory)
    return removed


def note_created_dirs(run_dir: str | os.PathLike) -> CreatedDirs:
    """Note which of ``run_dir`` and its parents do not exist yet (a dangling link counts as
    existing: it is the user's)."""
    global _noted
    run_dir = Path(os.path.abspath(run_dir))
    missing = missing_dirs(run_dir)
    try:
        present = frozenset(os.listdir(run_dir)) if not missing else frozenset()
    except OSError:
        present = frozenset()
    _noted = CreatedDirs(run_dir, tuple(missing), present)
    return _noted


def forget_created_dirs() -> None:
    global _noted
    _noted = None


class NoteCreatedDirs(Callback):
    """Hydra callback: ``on_run_start`` runs after the config is composed and before Hydra
    creates ``hydra.run.dir`` (the same config object, so ``${now:...}`` resolves to the same
    time as Hydra's)."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        note_created_dirs(str(config.hydra.run.dir))


def remove_created_run_dir(path: str | os.PathLike, own_files: Sequence[str]) -> list[Path]:
    """Remove the files named ``own_files`` that this command wrote in the run directory
    ``path`` (those not there before it started), then ``path`` and the parents this command
    created, each only if it is empty; returns the removed paths. A directory that existed
    before the command is kept, and so is everything when nothing was noted (the callback did
    not run, or Hydra made another directory than the one noted)."""
    path = Path(os.path.abspath(path))
    noted = _noted
    if noted is None or noted.run_dir != path:
        return []
    removed = []
    for name in own_files:
        own = path / name
        if name not in noted.present and (own.is_symlink() or own.is_file()):
            own.unlink(missing_ok=True)
            removed.append(own)
    return removed + remove_created_dirs(noted.missing)


def in_sweep_job() -> bool:
    """Whether this process runs a job of a ``-m`` sweep (Hydra's config says so)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


class NoFollowFileHandler(logging.FileHandler):
    """The job's log file (Hydra's ``<run dir>/<job name>.log``), opened without following a
    symbolic link: a link planted at that name would otherwise have every log line appended to
    its target. A link there is refused with one line (``nnsweep.core.atomic.open_no_follow``), and so
    is a sweep job's run directory that is a link (the run would train into its target): only
    a single run's directory, which the user names, may be one."""

    def _open(self):
        if in_sweep_job():
            refuse_link(Path(self.baseFilename).parent)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if "w" in self.mode else os.O_APPEND)
        fd = open_no_follow(Path(self.baseFilename), flags)
        return open(fd, "w" if "w" in self.mode else "a", encoding=self.encoding, errors=self.errors)
