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

from nets.atomic import remove_stale_temps
from runrecord import exclusive_lock


@contextmanager
def sweep_lock(sweep_dir: str | os.PathLike, advice: str = "wait for it to finish, or sweep into another "
                                                            "directory") -> Iterator[Path]:
    """Hold the sweep directory's lock; ``advice`` is the fix the refused command's user can apply."""
    with exclusive_lock(sweep_dir, f"sweep directory {sweep_dir}", advice=advice) as path:
        remove_stale_temps(sweep_dir)
        yield path
