"""A sweep's report kept up to date: while the sweep runs (a live page), and when it is asked for.

``update(sweep_dir)`` builds the report from the tables the lock's holder wrote (it never writes
them: ``nnsweep.sweeps.keeper``), and only when they changed since the report was last built: a
fingerprint of the tables, the trial log, scikit-optimize's plots, the runs they were collected
from and the report code is kept in ``report/state.json``, so ``nnsweep report`` on an unchanged
sweep returns at once. Inside a build
only the figures whose inputs changed are drawn again (``nnsweep.reports.build.FigureCache``).

``watch(sweep_dir)`` is the live view (``nnsweep report --watch``, started by the sweeper,
``nnsweep.sweeps.live``). It updates the report whenever a run starts or ends, with
``<body data-live>``: the page reloads itself every few seconds (its script, ``nnsweep.reports.html``)
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
import select
import signal
import sys
import threading
import time
from pathlib import Path

from nnsweep.core.atomic import atomic_write_text, own_dir, remove_stale_temps
from nnsweep.reports.fingerprint import code_digest
from nnsweep.runrecord import exclusive_lock, find_runs
from nnsweep.runrecord.bounded import parse_json, read_record_text
from nnsweep.runrecord.fingerprint import file_state, runs_fingerprint

log = logging.getLogger("nnsweep.reports")
STATE, LIVE_JS = "state.json", "live.js"
POLL_S = 2.0  # how often the watcher looks at the runs, and the page reloads
LOCK_WAIT_S = 600  # the final page of a large sweep may take minutes
BUSY_SHARE = 3  # after a build of t seconds the next waits until 3 t after its start ...
MAX_QUIET_S = 10  # ... or 10 s: on a loaded machine (long builds) the page still follows the runs
STALE_S = 30  # a live page whose heartbeat is older than this stops reloading
# Temporary files of a build cut short (Ctrl-C, kill -9) are removed by the next build, under the
# report's lock; only those older than this: the watcher writes live.js without the lock.
STALE_TEMP_S = 30
TABLES = ("runs.csv", "epochs.csv", "configs.csv")
SWEEP_FILES = ("trials.json", "skopt_convergence.png", "skopt_objective.png", "skopt_evaluations.png")


def tables_fingerprint(sweep_dir: Path) -> str:
    """What the report is drawn from: the sweep's tables (``nnsweep.sweeps.collect`` writes them;
    the report only reads them) and its search's files (trial log, plots)."""
    parts = [file_state(sweep_dir / name) for name in (*TABLES, *SWEEP_FILES)]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def page_state(sweep_dir: Path, live: bool = False, shared_y: bool = False, note: str = "") -> dict:
    """What a page was drawn from and how: the tables, the runs they were collected from, the
    code, and its options. A page is redrawn when its tables, code or options changed; a user's
    ``nnsweep report`` also collects the tables again when the runs changed (``up_to_date``)."""
    return {
        "sweep": tables_fingerprint(sweep_dir),
        "runs": runs_fingerprint(sweep_dir),
        "code": code_digest(),
        "live": live,
        "shared_y": shared_y,
        "note": note,
    }


def _page_is_current(report_dir: Path, state: dict, ignore: tuple[str, ...] = ()) -> bool:
    """The page in ``report_dir`` was drawn from ``state`` (but for the keys ``ignore``) and every
    figure it drew is still there."""
    drawn = {k: v for k, v in _read_state(report_dir).items() if k not in ignore}
    now = {k: v for k, v in state.items() if k not in ignore}
    return (report_dir / "index.html").is_file() and drawn == now and _figures_there(report_dir)


def up_to_date(sweep_dir: str | Path, shared_y: bool = False) -> bool:
    """The report of ``sweep_dir`` was drawn from its runs and tables as they are now, with this
    code: ``nnsweep report`` has nothing to collect or draw. Reads no table."""
    sweep_dir = Path(sweep_dir)
    return _page_is_current(sweep_dir / "report", page_state(sweep_dir, shared_y=shared_y))


def _read_state(report_dir: Path) -> dict:
    try:
        state = parse_json(read_record_text(report_dir / STATE))  # a file is data, read with limits
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def refresh(sweep_dir: str | Path, shared_y: bool = False, force: bool = False) -> tuple[Path, bool]:
    """What ``nnsweep report`` does: collect the sweep's tables if its runs changed (unless a running
    sweep keeps them: the tables are its own), then ``update`` its report; the page and whether it
    was built."""
    if force or not up_to_date(sweep_dir, shared_y=shared_y):
        from nnsweep.sweeps.keeper import collect_if_free  # only when there is something to collect

        collect_if_free(sweep_dir)
    return update(sweep_dir, shared_y=shared_y, force=force)


def update(
    sweep_dir: str | Path, live: bool = False, shared_y: bool = False, force: bool = False, note: str = ""
) -> tuple[Path, bool]:
    """Build the sweep's report from its tables if they changed (or ``force``); returns the page
    and whether it was built (``force``: every figure drawn again). ``note``: a line for the top of
    the page. The tables are read, never written: ``nnsweep report`` collects them first
    (``nnsweep.sweeps.keeper``), a running sweep keeps them itself."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        from nnsweep.reports.tables import ReportError

        raise ReportError(f"sweep directory {sweep_dir} does not exist")
    if not (sweep_dir / TABLES[0]).is_file():  # no page without tables: and no empty report/ left behind
        from nnsweep.reports.tables import ReportError

        raise ReportError(f"{sweep_dir} has no {TABLES[0]}; collect it first: nnsweep collect {sweep_dir}")
    report_dir = sweep_dir / "report"
    index = report_dir / "index.html"
    state = page_state(sweep_dir, live, shared_y, note)
    own_dir(report_dir)  # a link planted at report/ would take the whole page (and its lock) to its target
    # One writer of the page at a time (the watcher's final page and a user's nnsweep report meet
    # here); the second finds the report up to date.
    with exclusive_lock(
        report_dir,
        f"report {report_dir}",
        wait=LOCK_WAIT_S,
        advice="another process is writing it; try again when it is done",
    ):
        remove_build_leftovers(report_dir)
        # The page follows the tables: the runs they will be collected from next do not matter here.
        if not force and _page_is_current(report_dir, state, ignore=("runs",)):
            return index, False
        from nnsweep.reports.build import build_report  # matplotlib and pandas: only when there is something to draw

        (report_dir / STATE).unlink(missing_ok=True)  # a build cut short is not up to date
        index = build_report(sweep_dir, live=live, shared_y=shared_y, note=note, redraw=force)
        atomic_write_text(report_dir / STATE, json.dumps(state))
    return index, True


def remove_build_leftovers(report_dir: Path) -> list[Path]:
    """The temporary files an interrupted build left in the report and its folders (portraits)."""
    folders = [report_dir, *(d for d in report_dir.iterdir() if d.is_dir() and not d.is_symlink())]
    return [tmp for folder in folders for tmp in remove_stale_temps(folder, older_than_s=STALE_TEMP_S)]


def _figures_there(report_dir: Path) -> bool:
    """Every file the last build drew is still there (a deleted figure is drawn again)."""
    from nnsweep.reports.cache import CACHE

    try:
        entries = parse_json(read_record_text(report_dir / CACHE))
        return all((report_dir / f).is_file() for entry in entries.values() for f in entry["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def live_js_text(state: str, message: str = "") -> str:
    status = {"state": state, "heartbeat": time.time(), "message": message, "stale_after": STALE_S}
    return f"window.nnsweepLive = {json.dumps(status)};\n"


def write_live_js(report_dir: Path, state: str, message: str = "") -> None:
    """``live.js``: what the sweep is doing (running, finished, stopped) and when this was last
    said; the page reads it on every reload."""
    own_dir(report_dir)
    atomic_write_text(report_dir / LIVE_JS, live_js_text(state, message))


class Heartbeat:
    """Says "running" in ``live.js`` every ``interval`` seconds from a thread of its own, however
    long a build takes: a build on a loaded machine can outlast ``STALE_S`` (the first one imports
    matplotlib and draws every figure), and a heartbeat written only between builds made the page
    take a slow watcher for a dead one and stop following the sweep.

    The watcher forks its drawing workers while this thread runs, so the thread takes no lock a
    forked child could inherit held: plain system calls (``os.open`` with ``O_NOFOLLOW``, write,
    rename), no ``tempfile``, no logging. Its temporary file is named like ``nnsweep.core.atomic``'s, with
    this process's id, so an interrupted report's clean-up knows it."""

    def __init__(self, report_dir: Path, interval: float = POLL_S):
        own_dir(report_dir)
        self.path = report_dir / LIVE_JS
        self.tmp = report_dir / f".{LIVE_JS}.p{os.getpid()}.heartbeat.tmp"
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="live.js heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stopped.is_set():
            try:
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
                try:
                    os.write(fd, live_js_text("running").encode())
                finally:
                    os.close(fd)
                os.replace(self.tmp, self.path)
            except OSError:  # a full disk or a vanished folder: the page says so when it goes stale
                pass
            self.stopped.wait(self.interval)

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def stop(self) -> None:
        """No heartbeat after this returns (the final ``live.js`` is not overwritten)."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        try:
            self.tmp.unlink()
        except OSError:
            pass

    def __exit__(self, *exc) -> None:
        self.stop()


def watch(sweep_dir: str | Path, interval: float = POLL_S, shared_y: bool = False, stdin=None) -> int:
    """Keep ``sweep_dir``'s live report up to date until the sweeper says ``finished`` on stdin
    (final build) or stdin ends (the sweeper died: a final page that says so). Ctrl-C is for the
    sweeper: this process learns of it when the sweeper's end of the pipe closes.

    No thread waits on stdin: figures are drawn in forked processes (``nnsweep.reports.cache``), and a
    fork taken while another thread holds a lock can leave the child waiting on it for ever (the
    one thread, ``Heartbeat``, takes none)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sweep_dir = Path(sweep_dir)
    report_dir = sweep_dir / "report"
    write_live_js(report_dir, "running")
    if not (report_dir / "index.html").is_file():  # the page exists from the start, before any figure
        from nnsweep.reports.html import write_waiting_page

        write_waiting_page(report_dir, sweep_dir.name, POLL_S)
    with Heartbeat(report_dir, interval) as heartbeat:
        finished = _follow(sweep_dir, interval, shared_y, (stdin or sys.stdin).fileno())
        if find_runs(sweep_dir):
            message = (
                ""
                if finished
                else (
                    "the sweep stopped before it finished (interrupted or killed); rerun "
                    "the same command to continue it"
                )
            )
            try:  # the final page, with its animations: the heartbeat goes on while it is drawn
                update(sweep_dir, live=False, shared_y=shared_y, note=message)
            finally:
                heartbeat.stop()
                write_live_js(report_dir, "finished" if finished else "stopped", message)
            return 0
    # The sweep stopped before any run started (bad settings): no page.
    (report_dir / LIVE_JS).unlink(missing_ok=True)
    if report_dir.is_dir() and not any(report_dir.iterdir()):
        report_dir.rmdir()
    return 0


def _follow(sweep_dir: Path, interval: float, shared_y: bool, fd: int) -> bool:
    """Rebuild the live page as runs start and end, until the sweeper says ``finished`` on ``fd``
    (True) or closes it (False: it died or was interrupted)."""
    pending = b""
    next_build = 0.0
    while True:
        started = time.monotonic()
        try:
            if started >= next_build and (sweep_dir / TABLES[0]).is_file():  # the sweeper collected its runs
                index, built = update(sweep_dir, live=True, shared_y=shared_y)
                if built:
                    took = time.monotonic() - started
                    log.info("live report updated in %.1f s: %s", took, index)
                    # At most a third of the time drawing while builds are quick: the cores are the
                    # runs' (and this process is niced, so a loaded machine trains first).
                    next_build = started + min(BUSY_SHARE * took, MAX_QUIET_S)
        except Exception as err:  # noqa: BLE001 - a live view must outlive a half-written run
            if find_runs(sweep_dir):
                log.warning("live report not updated: %s", " ".join(str(err).split())[:300])
        readable, _, _ = select.select([fd], [], [], max(0.0, interval - (time.monotonic() - started)))
        if readable:
            chunk = os.read(fd, 4096)
            pending += chunk
            if b"finished" in pending:
                return True
            if not chunk:  # end of input: the sweeper is gone
                return False


def nice() -> None:
    """Drawing a figure must not slow down the training it reports on much; but not so low a
    priority that on a busy machine the page misses the sweep (at 10, with two other processes
    busy, the first page took 35 s: longer than a small sweep)."""
    try:
        os.nice(5)
    except OSError:
        pass
