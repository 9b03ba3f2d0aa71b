"""The live report of a running sweep, from the sweeper's side.

The sweeper starts ``python -m nnsweep.reports --watch <sweep dir>`` (``nnsweep.reports.live``) beside its
runs and holds the watcher's stdin; the watcher draws from the tables, which the sweeper keeps
current meanwhile (``nnsweep.sweeps.keeper.TablesKeeper``). At the end of the sweep it says ``finished``: the watcher
draws the final page (with the animations) and exits, and the sweeper waits for it, so the
report is complete when the sweep command returns. If the sweeper dies (Ctrl-C, ``kill -9``)
its end of the pipe closes and the watcher writes a page that says the sweep stopped. If the
final page cannot be written (a full disk), the sweep says so in one warning line and keeps its
exit status: its runs and tables are complete, and ``nnsweep report`` draws the page later.

``hydra.sweeper.live_report=false`` turns it off; so does ``NNSWEEP_LIVE_REPORT=0`` in the
environment (the test suite sets it: its hundreds of tiny sweeps need no page, except the tests
of this one).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger("nnsweep.search")
ENV = "NNSWEEP_LIVE_REPORT"
FINAL_TIMEOUT_S = 600  # the final page of a very large sweep takes a while; never hang for ever


def enabled(setting: bool) -> bool:
    return bool(setting) and os.environ.get(ENV, "1") != "0"


@contextmanager
def live_report(sweep_dir: Path, on: bool = True) -> Iterator[None]:
    """Keep ``sweep_dir/report/index.html`` live while the body runs; the final page after it.

    The final page is drawn whether the body ended well or with an error (a sweep stopped for
    too many failures still gets its report); on Ctrl-C the watcher is left to write the
    stopped page itself, and the sweeper does not wait for it."""
    if not enabled(on):
        yield
        return
    from nnsweep.sweeps.keeper import TablesKeeper
    from nnsweep.sweeps.launch import collect_on_interrupt

    watcher = subprocess.Popen(
        [sys.executable, "-m", "nnsweep.reports", "--watch", str(sweep_dir)], stdin=subprocess.PIPE, text=True
    )
    log.info(
        "live report (refreshes itself while the sweep runs): %s", Path(sweep_dir).resolve() / "report" / "index.html"
    )
    try:
        with TablesKeeper(sweep_dir):  # the watcher reads the tables; this process writes them
            yield
    except KeyboardInterrupt:
        collect_on_interrupt(sweep_dir)  # the stopped page shows every run that finished
        _close(watcher)
        raise
    except BaseException:
        _finish(watcher, sweep_dir)
        raise
    _finish(watcher, sweep_dir)


def _finish(watcher: subprocess.Popen, sweep_dir: Path) -> None:
    """Tell the watcher the sweep finished and wait for its final page."""
    if watcher.poll() is not None:  # it died (killed on its own): say so, the sweep's results stand
        log.warning(
            "the live report stopped during the sweep (exit %s); nnsweep report <this sweep> draws it",
            watcher.returncode,
        )
        return
    try:
        watcher.stdin.write("finished\n")
        watcher.stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # it died: its last page stands
    _close(watcher)
    try:
        watcher.wait(FINAL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning(
            "the final report took longer than %d s; stopping it (nnsweep report <sweep dir> draws it)", FINAL_TIMEOUT_S
        )
        watcher.kill()
        return
    if watcher.returncode != 0:  # a full disk, say: the runs and tables stand, the page does not
        log.warning(
            "the final report page was not written (the report process ended with exit %s; its error is "
            "above); the runs and runs.csv are complete: fix that and draw it with nnsweep report %s",
            watcher.returncode,
            sweep_dir,
        )


def _close(watcher: subprocess.Popen) -> None:
    try:
        watcher.stdin.close()
    except (BrokenPipeError, OSError):
        pass
