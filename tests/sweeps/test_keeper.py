"""The tables of a sweep have one writer, the process holding the sweep directory's lock
(``nnsweep.sweeps.keeper``); reports only read them."""

from __future__ import annotations

import threading
import time

import pytest

from nnsweep.reports.live import update
from nnsweep.reports.tables import ReportError
from nnsweep.runrecord import LockedError, exclusive_lock
from nnsweep.sweeps import collect as collect_module
from nnsweep.sweeps.collect import collect
from nnsweep.sweeps.keeper import TablesKeeper, collect_if_free, collect_owned
from tests.experiments.conftest import run_module
from tests.reliability.conftest import TINY


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A grid of two tiny runs, its tables collected."""
    where = tmp_path_factory.mktemp("grid") / "g"
    result = run_module(
        "nnsweep.experiments.train", "-m", "optimizer.lr=0.1,1", *TINY, "trainer.epochs=1", f"hydra.sweep.dir={where}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return where


def test_a_report_draws_from_the_tables_and_never_writes_them(sweep, tmp_path):
    """It collected the sweep itself before drawing: a second writer beside the sweeper."""
    (sweep / "runs.csv").rename(tmp_path / "runs.csv")
    try:
        with pytest.raises(ReportError, match="collect it first"):
            update(sweep)
        assert not (sweep / "runs.csv").exists()
    finally:
        (tmp_path / "runs.csv").rename(sweep / "runs.csv")


def test_nnsweep_report_collects_only_what_no_running_sweep_keeps(sweep):
    stamp = (sweep / "epochs.csv").stat().st_mtime_ns
    (sweep / "epochs.csv").write_text((sweep / "epochs.csv").read_text() + "\n")  # stale: differs from the runs
    with exclusive_lock(sweep, "a sweep"):  # as a running sweep holds it
        assert collect_if_free(sweep) is False
        result = run_module("nnsweep.reports", str(sweep))
        assert result.returncode == 0, result.stderr[-2000:]
        assert (sweep / "epochs.csv").read_text().endswith("\n\n")  # the running sweep's to write, not the report's
        refused = run_module("nnsweep.sweeps.keeper", str(sweep))
        assert refused.returncode == 2 and "another nnsweep process holds it" in refused.stderr
    assert collect_if_free(sweep) is True and not (sweep / "epochs.csv").read_text().endswith("\n\n")
    again = (sweep / "epochs.csv").stat().st_mtime_ns
    collect_owned(sweep)  # nothing changed: the tables are not rewritten, so the report is not redrawn
    assert (sweep / "epochs.csv").stat().st_mtime_ns == again != stamp


def test_threads_of_one_process_write_the_tables_one_at_a_time(sweep, monkeypatch):
    inside, overlaps = [], []
    real = collect_module._collect

    def slow(sweep_dir):
        overlaps.append(len(inside))
        inside.append(1)
        time.sleep(0.2)
        try:
            return real(sweep_dir)
        finally:
            inside.pop()

    monkeypatch.setattr(collect_module, "_collect", slow)
    threads = [threading.Thread(target=collect, args=(sweep,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [0, 0, 0]


def test_the_keeper_collects_when_a_run_ends_and_only_then(sweep, monkeypatch):
    calls = []
    monkeypatch.setattr("nnsweep.sweeps.keeper.collect", lambda d: calls.append(d))
    with TablesKeeper(sweep, interval=0.05):
        time.sleep(0.4)
        assert len(calls) == 1  # the runs as they stand, once
        (next(p for p in sweep.iterdir() if p.is_dir() and "lr=0.1" in p.name) / "evaluation.json").touch()
        time.sleep(0.4)
    assert len(calls) == 2


def test_collecting_a_sweep_a_sweep_is_running_in_is_one_line(sweep):
    with exclusive_lock(sweep, "a sweep"), pytest.raises(LockedError, match="another nnsweep process holds it"):
        collect_owned(sweep)


def test_collect_of_tables_without_their_runs_keeps_them_and_says_so(tmp_path):
    """Tables copied without their runs are the sweep: nnsweep collect emptied them."""
    (tmp_path / "runs.csv").write_text("run,best_val_acc\na,0.9\n")
    result = run_module("nnsweep.sweeps.keeper", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "holds no runs" in result.stderr
    assert (tmp_path / "runs.csv").read_text() == "run,best_val_acc\na,0.9\n"


def test_a_report_of_a_folder_without_tables_is_one_line_and_leaves_no_report_folder(tmp_path):
    result = run_module("nnsweep.reports", str(tmp_path))
    assert result.returncode == 2 and "has no runs.csv; collect it first" in result.stderr
    assert not (tmp_path / "report").exists()


def test_the_keeper_says_once_what_kept_it_from_collecting_and_goes_on(sweep, monkeypatch, caplog):
    calls = []

    def broken(sweep_dir):
        calls.append(sweep_dir)
        raise ValueError("a table pandas cannot write")

    monkeypatch.setattr("nnsweep.sweeps.keeper.collect", broken)
    monkeypatch.setattr("nnsweep.sweeps.keeper.runs_fingerprint", lambda d: str(len(calls)))  # changes each time
    with caplog.at_level("WARNING", logger="nnsweep.sweep"), TablesKeeper(sweep, interval=0.05) as keeper:
        time.sleep(0.4)
        assert keeper.thread.is_alive()
    said = [r.message for r in caplog.records if "live tables were not collected" in r.message]
    assert len(calls) >= 3 and len(said) == 1, (calls, said)
