"""Draw a figure only when what it shows changed.

Each figure of a report is keyed by a digest of its inputs (the table rows or the grid it is
drawn from, the model files it queries) and of the report code. ``report/figures.json`` keeps
the key each file was drawn with and what the page says about it; a figure whose key and files
are unchanged is not drawn again. An update of a live report after one more finished run then
redraws what that run changed, not the whole report.

The figures that must be drawn are drawn side by side in forked processes, one per core (two
here): each section writes its own files, and only what the page says about them comes back.
Ctrl-C is the report process's to answer: it ends the pool, whose SIGTERM a worker answers by
removing the temporary file it is writing and ending at once (SIGTERM's default ended it
mid-write and left ``.heatmap_gap.png.<random>.tmp`` in the report). Not by raising: an exception
raised wherever a worker happens to be, in the pool's own queue code when it is idle, can leave
a lock of the pool held, and the report waited forever.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from nnsweep.core.atomic import atomic_write_text, remove_temps_of
from nnsweep.runrecord.bounded import parse_json, read_record_text

CACHE = "figures.json"
_DRAWING: list[Callable[[], Any]] = []  # what the forked workers draw (inherited, never pickled)


@dataclass
class Section:
    """Figures drawn together: their name, the files they write, the inputs they are drawn from,
    and ``draw()``, which writes them and returns what the page says about them (JSON)."""

    name: str
    files: list[str]
    inputs: tuple
    draw: Callable[[], Any]


def _worker_signals() -> None:
    """Ctrl-C is the report process's to answer (one line from there, no worker traceback). The
    pool's SIGTERM keeps its default, ending a worker wherever it is: a handler of ours raising
    there (in the pool's own queue code, holding its lock) left the pool waiting forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _draw(index: int) -> Any:
    return _DRAWING[index]()


def draw_side_by_side(draws: list[Callable[[], Any]], directories: tuple = ()) -> list[Any]:
    """``[draw() for draw in draws]``, in forked worker processes when there are several and the
    machine has more than one core (where fork exists); in this process otherwise. When it is
    interrupted, the temporary files its workers were writing in ``directories`` are removed
    once the workers are gone (``nnsweep.core.atomic.remove_temps_of``)."""
    workers = min(len(draws), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [draw() for draw in draws]
    _DRAWING[:] = draws
    pids: list[int] = []
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals) as pool:
            pids = [p.pid for p in pool._pool]  # the workers, for their temporary files
            return pool.map(_draw, range(len(draws)), chunksize=1)
    except BaseException:
        remove_temps_of(directories, pids)  # the pool has ended them (its __exit__ joins them)
        raise
    finally:
        _DRAWING.clear()


def digest(*inputs: Any) -> str:
    """A stable fingerprint of figure inputs: tables by their values, arrays by their bytes,
    files by their size and modification time, anything else by its pickle."""
    h = hashlib.sha1()
    for item in inputs:
        if isinstance(item, pd.DataFrame):
            h.update(repr(list(item.columns)).encode())
            h.update(item.to_csv(index=False).encode())
        elif isinstance(item, np.ndarray):
            h.update(repr((item.dtype.str, item.shape)).encode() + np.ascontiguousarray(item).tobytes())
        elif isinstance(item, Path):
            try:
                s = item.stat()
                h.update(f"{item} {s.st_size} {s.st_mtime_ns}".encode())
            except OSError:
                h.update(f"{item} absent".encode())
        else:
            h.update(pickle.dumps(item, protocol=4))
    return h.hexdigest()


class FigureCache:
    """The figures already drawn in ``report_dir`` and the keys they were drawn with."""

    def __init__(self, report_dir: Path, code: str, forget: bool = False) -> None:
        """``forget``: draw everything again (``nnsweep report --force``)."""
        self.report_dir, self.code = report_dir, code
        try:
            entries = {} if forget else parse_json(read_record_text(report_dir / CACHE))  # data, read with limits
        except (OSError, ValueError):
            entries = {}
        # a damaged or hand-edited figures.json only means drawing again
        self.entries: dict[str, dict] = (
            {k: v for k, v in entries.items() if isinstance(v, dict)} if isinstance(entries, dict) else {}
        )
        self.used: dict[str, dict] = {}
        self.drawn: list[str] = []  # names drawn in this build (tests and the log read it)

    def get_all(self, sections: list[Section]) -> list[Any]:
        """Each section's ``draw()`` value (what the page says about its figures): the stored one
        if the code and the section's inputs are the ones its files were drawn with and they all
        exist; the stale sections are drawn now, side by side."""
        keys = [digest(self.code, s.name, *s.inputs) for s in sections]
        stale = [i for i, (s, key) in enumerate(zip(sections, keys)) if not self._fresh(s.name, key)]
        drawn = dict(
            zip(
                stale,
                draw_side_by_side([sections[i].draw for i in stale], (self.report_dir, self.report_dir / "portraits")),
            )
        )
        values = []
        for i, (s, key) in enumerate(zip(sections, keys)):
            if i in drawn:
                self.used[s.name] = {
                    "key": key,
                    "files": [f for f in s.files if (self.report_dir / f).is_file()],
                    "value": drawn[i],
                }
                self.drawn.append(s.name)
            values.append(self.used[s.name]["value"])
        return values

    def _fresh(self, name: str, key: str) -> bool:
        """``name`` was drawn from ``key`` and its files are all there (then it is kept)."""
        entry = self.entries.get(name)
        if entry is not None and entry["key"] == key and all((self.report_dir / f).is_file() for f in entry["files"]):
            self.used[name] = entry
            return True
        return False

    def save(self) -> None:
        """Keep the entries of this build only: a figure that no longer applies is forgotten."""
        atomic_write_text(self.report_dir / CACHE, json.dumps(self.used))
