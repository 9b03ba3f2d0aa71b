"""One sweep at a time per sweep directory: an exclusive lock on the sweep directory.

The lock is ``runrecord.exclusive_lock``, the one every run holds too: the kernel releases it when
its holder dies, even by ``kill -9``, so a crashed sweep never leaves a stale lock behind. Once
it holds the lock, a sweep removes the temporary files that a ``kill -9`` in the middle of an
atomic write left in its directory (``.trials.json.*.tmp``, ``.runs.csv.*.tmp`` ...): nobody
else can be writing them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nnsweep.core.atomic import remove_stale_temps
from nnsweep.experiments.cli import Interrupted
from nnsweep.experiments.ownfiles import missing_dirs, remove_created_dirs
from nnsweep.runrecord import exclusive_lock
from nnsweep.runrecord.lock import HOLDER

ANOTHER_DIRECTORY = (
    "wait for it to finish, or sweep into another directory (sweep=<name>; nnsweep sweep-lr: --sweep-dir)"
)


@contextmanager
def sweep_lock(
    sweep_dir: str | os.PathLike,
    advice: str = ANOTHER_DIRECTORY,
    own_files: tuple[str, ...] = (),
) -> Iterator[Path]:
    """Hold the sweep directory's lock; ``advice`` is the fix the refused command's user can apply.

    A sweep that ends by an exception (Ctrl-C before its first job wrote anything) in a
    directory it created, holding nothing but its lock's holder file and the files the sweep
    wrote there itself before any job (``own_files``: its ``multirun.yaml``), removes that
    directory (and the parents it created), while it still holds the lock: it leaves nothing
    behind, and Ctrl-C then says so."""
    created = missing_dirs(sweep_dir)
    with exclusive_lock(sweep_dir, f"sweep directory {sweep_dir}", advice=advice) as path:
        remove_stale_temps(sweep_dir)
        try:
            yield path
        except BaseException as err:
            if created:  # a Ctrl-C inside an atomic write may leave its temporary file: ours, we hold the lock
                remove_stale_temps(sweep_dir)
            if not (created and {p.name for p in created[0].iterdir()} <= {HOLDER, *own_files}):
                raise
            remove_created_dirs(created, own_files=(HOLDER, *own_files))
            if isinstance(err, KeyboardInterrupt) and not isinstance(err, Interrupted):
                raise Interrupted(
                    "interrupted before the sweep's first run started: nothing had finished, nothing "
                    "was kept; rerun the same command to start it"
                ) from None
            raise
