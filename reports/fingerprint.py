"""The fingerprint of the code a report is drawn with: a figure drawn by other code is drawn
again (``nnsweep.reports.cache.FigureCache``), and a report built by other code is not up to date
(``nnsweep.reports.live.update``). Standard library only: ``make report`` on an unchanged sweep reads it
without importing pandas or matplotlib."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """The fingerprint of the code figures are drawn with (the reports, and the networks they
    query for portraits): a new version of nnsweep redraws every figure. Read once per process:
    a process keeps running the code it started with."""
    digest = hashlib.sha1()
    src = Path(__file__).resolve().parents[1]
    for path in sorted(
        [*src.joinpath("reports").glob("*.py"), *src.joinpath("nets").glob("*.py"), *src.joinpath("core").glob("*.py")]
    ):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()
