"""Who writes a sweep's tables (``runs.csv``, ``epochs.csv``, ``configs.csv``): the process that holds
the sweep directory's lock, and nobody else; reports only read them.

- While a sweep runs, the sweeper holds the lock. With its live report on, ``TablesKeeper`` (a
  thread of the sweeper) collects the runs again whenever one starts, ends or is marked, so the
  report's watcher, a process that only reads the tables, follows them. At its end, and at
  Ctrl-C, the sweeper collects once more itself; ``nnsweep.sweeps.collect`` lets one thread write
  at a time.
- Otherwise ``nnsweep collect`` and ``nnsweep report`` take the lock to collect
  (``collect_owned``, ``collect_if_free``). While a sweep holds it, ``nnsweep report`` draws from
  the tables the sweep keeps, and ``nnsweep collect`` is refused with one line.
"""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

import pandas as pd

from nnsweep.core.errors import NnsweepError
from nnsweep.runrecord import LockedError, RunRecordError, find_runs
from nnsweep.runrecord.fingerprint import runs_fingerprint
from nnsweep.runrecord.names import CONFIG
from nnsweep.sweeps.closing import runner_up_sentence, summary_lines
from nnsweep.sweeps.collect import EPOCHS, RUNS, collect, configurations, repeat_keys
from nnsweep.sweeps.lock import sweep_lock

log = logging.getLogger("nnsweep.sweep")
POLL_S = 2.0  # how often the keeper looks at the runs (the report's watcher looks as often)
IN_USE = (
    "another nnsweep process holds it (a running sweep, which keeps its tables itself, or a collect or "
    "report of it); try again when it is done"
)


def collect_owned(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect the sweep under its lock; ``LockedError`` (one line) while a sweep holds it."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return collect(sweep_dir)  # its one line: the directory does not exist
    if not find_runs(sweep_dir):  # tables copied without their runs are the sweep: never emptied
        raise NnsweepError(
            f"{sweep_dir} holds no runs (no run directory with {CONFIG}); nothing to collect, and its "
            "tables, if any, are kept as they are"
        )
    with sweep_lock(sweep_dir, advice=IN_USE):
        return collect(sweep_dir)


def collect_if_free(sweep_dir: str | Path) -> bool:
    """Collect the sweep unless a sweep holds its lock (then its tables are the sweep's own, kept
    current while it runs), or it has no runs (tables copied without their runs are the sweep);
    whether this process collected it."""
    if not Path(sweep_dir).is_dir() or not find_runs(sweep_dir):
        return False
    try:
        collect_owned(sweep_dir)
    except LockedError:
        return False
    return True


class TablesKeeper:
    """The sweeper's thread that keeps the tables current while the sweep runs (see the module's
    text); ``with TablesKeeper(sweep_dir):`` around the sweep. A failure to collect is a courtesy
    missed, not the sweep's: it is logged, and the sweep's own last collect still writes them."""

    def __init__(self, sweep_dir: str | Path, interval: float = POLL_S) -> None:
        self.sweep_dir, self.interval = Path(sweep_dir), interval
        self.stopped = threading.Event()
        self.said: set[str] = set()  # each failure is said once
        self.thread = threading.Thread(target=self._keep, name="sweep-tables", daemon=True)

    def __enter__(self) -> TablesKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)

    def _keep(self) -> None:
        last = None
        while not self.stopped.wait(self.interval):
            try:
                now = runs_fingerprint(self.sweep_dir)
                if now != last and find_runs(self.sweep_dir):
                    collect(self.sweep_dir)
                    last = now
            except (RunRecordError, OSError) as err:  # a run being replaced right now: next time
                log.debug("tables not collected: %s", err)
            except Exception as err:  # noqa: BLE001 - the live tables are a courtesy; the sweep's end collects
                if str(err) not in self.said:
                    self.said.add(str(err))
                    log.warning(
                        "the live tables were not collected (%s: %s); the sweep collects them at its end",
                        type(err).__name__,
                        " ".join(str(err).split())[:300],
                    )


def main(argv: list[str] | None = None) -> int:
    from nnsweep.experiments.startup import program_name

    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.sweeps.keeper"),
        description="Collect a sweep's runs into runs.csv, epochs.csv and configs.csv.",
    )
    parser.add_argument("sweep_dir", help="a sweep directory, e.g. multirun/default or results/sweep-lr/...")
    args = parser.parse_args(argv)
    runs, _ = collect_owned(args.sweep_dir)
    keys = repeat_keys(Path(args.sweep_dir))
    print(summary_lines(runs, configurations(runs, keys), keys))
    if (versus := runner_up_sentence(runs, keys)) is not None:
        print(versus)
    print(f"tables: {Path(args.sweep_dir) / RUNS}, {Path(args.sweep_dir) / EPOCHS}")
    return 0


def command() -> None:
    """``nnsweep collect``."""
    from nnsweep.experiments.cli import run_command

    run_command(main)


if __name__ == "__main__":
    command()
