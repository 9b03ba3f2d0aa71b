"""The state of a sweep's runs in one string: what a sweep's tables are made of. The tables' writer
(``nnsweep.sweeps.keeper``) collects them again when it changes; ``nnsweep report`` knows from it,
without reading a table (pandas is not even imported), that nothing changed since the last page.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from nnsweep.runrecord.rundir import find_runs

# The files a run writes as it starts or ends (not every epoch: collecting the tables, and
# drawing the report from them, at every epoch would take the cores the runs train on).
RUN_FILES = ("evaluation.json", "test_errors.npz", "mean_input.npy", ".hydra/config.yaml")


def runs_fingerprint(sweep_dir: str | os.PathLike) -> str:
    """Each run's status (running, ok, failed, pruned ...) and the sizes and times of the files
    it writes as it starts or ends."""
    parts = []
    for run in find_runs(sweep_dir):
        parts.append(f"{run.path.name} {run.status().value}")  # a run whose process died reads as interrupted
        parts += [file_state(run.path / name) for name in RUN_FILES]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def file_state(path: Path) -> str:
    """A file's path, size and modification time, or that it is absent."""
    try:
        s = path.stat()
    except OSError:
        return f"{path.name} -"
    return f"{path} {s.st_size} {s.st_mtime_ns}"
