"""A sweep's report kept up to date: while the sweep runs (a live page), and when it is asked for.

``update(sweep_dir)`` collects the sweep (unless only its tables are there, copied without their
runs) and rebuilds its report only when the sweep changed
since the report was last built: a fingerprint of the run records (each run's summary and model
files, the trial log, scikit-optimize's plots) and of the report code is kept in
``report/state.json``, so ``make report`` on an unchanged sweep returns at once. Inside a build
only the figures whose inputs changed are drawn again (``reports.build.FigureCache``).

``watch(sweep_dir)`` is the live view (``python -m reports --watch``, started by the sweeper,
``sweeps.live``). It updates the report whenever a run starts or ends, with
``<body data-live>``: the page reloads itself every few seconds (its script, ``reports.html``)
and shows which runs are running, done, failed or pruned. Every poll it also writes
``report/live.js`` (the sweep's state and a heartbeat), which the page loads on each reload:
once the sweep is over, or its heartbeat stops (the sweeper and this process were killed), the
page stops reloading. The sweeper holds this process's stdin: it writes ``finished`` at the end
(the final page, with its animations, is built, then this process exits); end of input without
it means the sweeper died (the page is rebuilt as a finished page that says so).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

from nets.atomic import atomic_write_text
from runrecord import find_runs

log = logging.getLogger("nnsweep.reports")
STATE, LIVE_JS = "state.json", "live.js"
POLL_S = 2.0  # how often the watcher looks at the runs, and the page reloads
STALE_S = 30  # a live page whose heartbeat is older than this stops reloading
RUN_FILES = ("summary.json", "model.npz", "evaluation.json", "test_errors.npz", "metrics.csv")
TABLES = ("runs.csv", "epochs.csv", "configs.csv")
SWEEP_FILES = ("trials.json", "skopt_convergence.png", "skopt_objective.png", "skopt_evaluations.png")


def code_digest() -> str:
    """The report code's own fingerprint: a new version of nnsweep redraws every figure."""
    digest = hashlib.sha1()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def sweep_fingerprint(sweep_dir: Path) -> str:
    """What the tables and figures are made of, as sizes and modification times (no file is
    read): any run that starts, trains an epoch, ends or is marked changes it."""
    parts = []
    runs = find_runs(sweep_dir)
    if not runs:  # tables without their runs (copied elsewhere): the tables are the sweep
        parts += [_stat(sweep_dir / name) for name in TABLES]
    for run in runs:
        for name in RUN_FILES:
            parts.append(_stat(run.path / name))
        parts.append(str(run.is_live()))  # a run whose process died reads as interrupted
    parts += [_stat(sweep_dir / name) for name in SWEEP_FILES]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _stat(path: Path) -> str:
    try:
        s = path.stat()
    except OSError:
        return f"{path.name} -"
    return f"{path} {s.st_size} {s.st_mtime_ns}"


def _read_state(report_dir: Path) -> dict:
    try:
        return json.loads((report_dir / STATE).read_text())
    except (OSError, ValueError):
        return {}


def update(sweep_dir: str | Path, live: bool = False, shared_y: bool = False, force: bool = False,
           note: str = "") -> tuple[Path, bool]:
    """Collect the sweep and build its report if it changed (or ``force``); returns the page and
    whether it was built. ``note``: a line for the top of the page."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        from reports.tables import ReportError

        raise ReportError(f"sweep directory {sweep_dir} does not exist")
    report_dir = sweep_dir / "report"
    index = report_dir / "index.html"
    state = {"sweep": sweep_fingerprint(sweep_dir), "code": code_digest(), "live": live, "shared_y": shared_y}
    if not force and index.is_file() and _read_state(report_dir) == state:
        return index, False
    from reports.build import build_report  # matplotlib and pandas: only when there is something to draw
    from sweeps.collect import collect

    if find_runs(sweep_dir):
        collect(sweep_dir)
    index = build_report(sweep_dir, live=live, shared_y=shared_y, note=note)
    atomic_write_text(report_dir / STATE, json.dumps(state))
    return index, True


def write_live_js(report_dir: Path, state: str, message: str = "") -> None:
    """``live.js``: what the sweep is doing (running, finished, stopped) and when this was last
    said; the page reads it on every reload."""
    report_dir.mkdir(parents=True, exist_ok=True)
    status = {"state": state, "heartbeat": time.time(), "message": message, "stale_after": STALE_S}
    atomic_write_text(report_dir / LIVE_JS, f"window.nnsweepLive = {json.dumps(status)};\n")


def watch(sweep_dir: str | Path, interval: float = POLL_S, shared_y: bool = False, stdin=None) -> int:
    """Keep ``sweep_dir``'s live report up to date until the sweeper says ``finished`` on stdin
    (final build) or stdin ends (the sweeper died: a final page that says so)."""
    sweep_dir = Path(sweep_dir)
    report_dir = sweep_dir / "report"
    said: list[str] = []
    ended = threading.Event()

    def listen() -> None:
        for line in stdin or sys.stdin:
            said.append(line.strip())
            if line.strip() == "finished":
                break
        ended.set()

    threading.Thread(target=listen, name="nnsweep-report-listener", daemon=True).start()
    write_live_js(report_dir, "running")
    while not ended.is_set():
        started = time.monotonic()
        try:
            index, built = update(sweep_dir, live=True, shared_y=shared_y)
            if built:
                log.info("live report updated in %.1f s: %s", time.monotonic() - started, index)
        except Exception as err:  # noqa: BLE001 - a live view must outlive a half-written run
            if find_runs(sweep_dir):
                log.warning("live report not updated: %s", " ".join(str(err).split())[:300])
        write_live_js(report_dir, "running")
        ended.wait(max(0.0, interval - (time.monotonic() - started)))
    finished = "finished" in said
    if not find_runs(sweep_dir):  # the sweep stopped before any run started (bad settings): no page
        (report_dir / LIVE_JS).unlink(missing_ok=True)
        if report_dir.is_dir() and not any(report_dir.iterdir()):
            report_dir.rmdir()
        return 0
    message = "" if finished else ("the sweep stopped before it finished (interrupted or killed); rerun the same "
                                   "command to continue it")
    try:
        update(sweep_dir, live=False, shared_y=shared_y, force=True, note=message)
    finally:
        write_live_js(report_dir, "finished" if finished else "stopped", message)
    return 0


def watcher_command(sweep_dir: Path) -> list[str]:
    """The command the sweeper starts for a live report of ``sweep_dir``."""
    return [sys.executable, "-m", "reports", "--watch", str(sweep_dir)]


def nice() -> None:
    """Drawing a figure must not slow down the training it reports on."""
    try:
        os.nice(10)
    except OSError:
        pass
