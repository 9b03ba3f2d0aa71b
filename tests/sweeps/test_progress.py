"""The sweep-level progress line (``nnsweep.sweeps.progress``): its content from hand-made run records,
the thread that reads them while a sweep runs, and the lines of real sweeps under both sweepers."""

import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from nnsweep.runrecord import RunDir, Status, Summary
from nnsweep.sweeps.outcomes import Outcome
from nnsweep.sweeps.progress import SweepProgress, clock_time, eta_seconds
from tests.experiments.conftest import REPO, run_module

APP = str(Path(__file__).with_name("quadratic_app.py"))
TINY = ["net=mlp", "net.hidden=[16]", "data.train_limit=300", "trainer.progress=false", "trainer.epochs=1"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_run(
    sweep_dir: Path,
    overrides: list[str],
    status: Status | None,
    best_val_acc: float | None = None,
    objective: str = "best_val_acc",
    direction: str = "max",
) -> RunDir:
    """A run directory as nnsweep.experiments.train leaves it: its config record, and a summary unless
    ``status`` is None (a run that has not written one yet)."""
    run = RunDir(sweep_dir / ",".join(overrides))
    run.path.mkdir(parents=True)
    run.write_config({"optimizer": {"lr": 0.1}}, overrides)
    if status is not None:
        run.write_summary(
            Summary(
                status=status,
                best_val_acc=best_val_acc,
                best_val_loss=best_val_acc,
                objective=objective,
                objective_direction=direction,
            )
        )
    return run


GRID = [
    ["net=mlp", "optimizer.lr=0.01", "trainer.seed=0"],
    ["net=mlp", "optimizer.lr=0.01", "trainer.seed=1"],
    ["net=mlp", "optimizer.lr=0.1", "trainer.seed=0"],
    ["net=mlp", "optimizer.lr=0.1", "trainer.seed=1"],
]


@pytest.fixture
def lines(caplog):
    """The progress lines printed so far."""
    caplog.set_level(logging.INFO, logger="nnsweep.sweep")
    return lambda: [r.getMessage() for r in caplog.records if r.getMessage().startswith("sweep ")]


# ----- the arithmetic ---------------------------------------------------------------------------
def test_eta_is_the_pace_of_this_invocation_times_what_remains():
    assert eta_seconds(elapsed=60.0, finished_now=2, remaining=3) == 90.0
    assert eta_seconds(elapsed=10.0, finished_now=4, remaining=1) == 2.5
    assert eta_seconds(elapsed=60.0, finished_now=0, remaining=3) is None  # no pace yet
    assert eta_seconds(elapsed=60.0, finished_now=5, remaining=0) == 0.0


def test_clock_time_is_minutes_and_seconds_then_hours():
    assert [clock_time(s) for s in (0, 5.4, 62, 3599, 3600, 7384)] == [
        "0:00",
        "0:05",
        "1:02",
        "59:59",
        "1:00:00",
        "2:03:04",
    ]


# ----- the line, from hand-made run records -------------------------------------------------
def test_the_line_counts_done_failed_and_diverged_and_names_the_best_point(tmp_path):
    clock = Clock()
    progress = SweepProgress(tmp_path, total=4, clock=clock)
    progress.expect(GRID)
    assert progress.counts() == (0, 0, 0, 0)  # nothing has finished
    make_run(tmp_path, GRID[0], Status.OK, 0.91)
    make_run(tmp_path, GRID[1], Status.FAILED)
    make_run(tmp_path, GRID[2], Status.RUNNING, 0.5)  # still training: not done
    clock.now += 30
    progress._poll(before=False)
    done, failed, diverged, now = progress.counts()
    assert (done, failed, diverged, now) == (2, 1, 0, 2)
    # 2 finished in 30 s: 2 more take another 30 s. Only the swept keys name the point; its seeds
    # are repeats of one configuration, ranked by their mean.
    assert progress.line() == (
        f"sweep {tmp_path}: 2/4 done, 1 failed, 1 training; best so far: best_val_acc 0.91 at "
        "optimizer.lr=0.01 (mean of 1 seed); elapsed 0:30, ETA 0:30"
    )
    make_run(tmp_path, GRID[3], Status.DIVERGED, 0.95)
    clock.now += 30
    progress._poll(before=False)
    assert progress.line() == (
        f"sweep {tmp_path}: 3/4 done, 1 failed, 1 diverged, 1 training; best so far: best_val_acc 0.95 at "
        f"optimizer.lr=0.1 (mean of 1 seed); elapsed 1:00, ETA 0:20"
    )


def test_runs_finished_before_the_sweep_count_as_done_but_not_in_the_eta(tmp_path, lines):
    for overrides in GRID[:2]:
        make_run(tmp_path, overrides, Status.OK, 0.8)
    clock = Clock()
    progress = SweepProgress(tmp_path, total=4, clock=clock)
    progress.expect(GRID)
    assert lines() == [
        f"sweep {tmp_path}: 2/4 done (2 reused); best so far: best_val_acc 0.8 at optimizer.lr=0.01 "
        "(mean of 2 seeds); elapsed 0:00, ETA unknown"
    ]
    clock.now += 100
    make_run(tmp_path, GRID[2], Status.OK, 0.7)
    progress._poll(before=False)
    progress._report()
    # One run trained by this invocation in 100 s, one left: 100 s more (not 100/3 s).
    assert lines()[-1] == (
        f"sweep {tmp_path}: 3/4 done (2 reused); best so far: best_val_acc 0.8 at optimizer.lr=0.01 "
        "(mean of 2 seeds); elapsed 1:40, ETA 1:40"
    )


def test_a_minimised_objective_picks_the_smallest_and_other_runs_in_the_directory_do_not_count(tmp_path):
    make_run(tmp_path, ["net=mlp", "optimizer.lr=5"], Status.OK, 0.01, "best_val_loss", "min")  # another sweep's
    progress = SweepProgress(tmp_path, total=2)
    progress.expect([GRID[0], GRID[2]])
    make_run(tmp_path, GRID[0], Status.OK, 0.3, "best_val_loss", "min")
    make_run(tmp_path, GRID[2], Status.OK, 0.2, "best_val_loss", "min")
    progress._poll(before=False)
    assert progress.counts()[0] == 2
    assert progress.best() == ("optimizer.lr=0.1", 0.2)
    assert "2/2 done; best so far: best_val_loss 0.2 at optimizer.lr=0.1; elapsed" in progress.line()
    assert "ETA" not in progress.line()  # nothing remains


def test_with_repeats_the_best_is_the_configuration_with_the_best_mean_not_the_luckiest_seed(tmp_path):
    progress = SweepProgress(tmp_path, total=4)
    progress.expect(GRID)
    for overrides, acc in zip(GRID, (0.95, 0.50, 0.90, 0.90)):  # lr 0.01 holds the best seed, lr 0.1 the best mean
        make_run(tmp_path, overrides, Status.OK, acc)
    progress._poll(before=False)
    assert progress.best() == ("optimizer.lr=0.1 (mean of 2 seeds)", pytest.approx(0.9))


def test_a_run_that_ended_at_chance_is_counted_as_not_learning(tmp_path):
    """lr 10 ends "ok" at 10% on 500 validation digits: no better than guessing one class
    (chance_bar(10, 500) = 16.7%); 0.20 is better than that."""
    progress = SweepProgress(tmp_path, total=2)
    progress.expect([GRID[0], GRID[2]])
    for overrides, acc in ((GRID[0], 0.104), (GRID[2], 0.20)):
        run = make_run(tmp_path, overrides, None)
        run.write_summary(Summary(status=Status.OK, best_val_acc=acc, val_size=500, classes=10))
    progress._poll(before=False)
    assert (
        "2/2 done, 1 did not learn (at chance); best so far: best_val_acc 0.2 at optimizer.lr=0.1;" in progress.line()
    )


def test_a_sweep_whose_runs_are_long_says_how_far_they_are_every_15_seconds(tmp_path, lines):
    """Per-epoch lines go to each run's train.log, so without news the line comes again after
    HEARTBEAT_S with the training runs' epochs; never half a minute of silence."""
    clock = Clock()
    progress = SweepProgress(tmp_path, total=4, clock=clock)
    progress.expect(GRID)
    for overrides, epochs in ((GRID[0], 2), (GRID[1], 3)):
        run = make_run(tmp_path, overrides, None)
        run.write_summary(Summary(status=Status.RUNNING, epochs=5, epochs_completed=epochs))
    clock.now += 5
    progress._poll(before=False)
    progress._report()
    assert lines() == []  # news comes with a finished run; 5 s of quiet is fine
    clock.now += 10
    progress._poll(before=False)
    progress._report()
    assert lines() == [f"sweep {tmp_path}: 0/4 done, 2 training (epochs 5 of 10); elapsed 0:15, ETA unknown"]
    clock.now += 1
    progress._report()
    assert len(lines()) == 1


def test_a_run_asked_for_more_epochs_is_not_done_until_it_finishes_again(tmp_path):
    run = make_run(tmp_path, GRID[0], Status.OK, 0.8)
    progress = SweepProgress(tmp_path, total=1)
    progress.expect(GRID[:1])
    assert progress.counts() == (1, 0, 0, 0)
    run.write_summary(Summary(status=Status.RUNNING, best_val_acc=0.8))
    progress._poll(before=False)
    assert progress.counts() == (0, 0, 0, 0)
    run.write_summary(Summary(status=Status.OK, best_val_acc=0.85))
    progress._poll(before=False)
    assert progress.counts() == (1, 0, 0, 1)  # trained by this invocation: it sets the pace


def test_what_the_launcher_returns_settles_trials_without_run_records(tmp_path, lines):
    """Any Hydra app can be swept: its return value is the result, one batch at a time."""
    clock = Clock()
    progress = SweepProgress(tmp_path, total=3, swept=["x"], direction="minimize", clock=clock)
    progress.settle([Outcome(["x=1"], 0, None, Status.OK, 4.0)], before=True)  # a search's trial log
    progress.expect([["x=2"], ["x=3"]])
    clock.now += 20
    progress.settle([Outcome(["x=2"], 1, None, Status.OK, 1.5), Outcome(["x=3"], 2, None, Status.INTERRUPTED, None)])
    assert lines() == [
        f"sweep {tmp_path}: 1/3 done (1 reused); best so far: 4 at x=1; elapsed 0:00, ETA unknown",
        f"sweep {tmp_path}: 2/3 done (1 reused); best so far: 1.5 at x=2; elapsed 0:20, ETA 0:20",
    ]


def test_one_line_per_change_only(tmp_path, lines):
    progress = SweepProgress(tmp_path, total=4)
    progress.expect(GRID)
    make_run(tmp_path, GRID[0], Status.OK, 0.5)
    for _ in range(3):
        progress._poll(before=False)
        progress._report()
    progress.settle([Outcome(GRID[0], 0, tmp_path / ",".join(GRID[0]), Status.OK, 0.5)])
    assert len(lines()) == 1 and lines()[0].startswith(f"sweep {tmp_path}: 1/4 done;")


# ----- the thread -----------------------------------------------------------------------------
def test_the_thread_reports_runs_as_they_finish_and_ends_with_the_sweep(tmp_path, lines):
    progress = SweepProgress(tmp_path, total=4)
    progress.expect(GRID)
    with progress.watching(interval=0.05):
        for i, overrides in enumerate(GRID):
            make_run(tmp_path, overrides, Status.OK, 0.5 + i / 10)
            deadline = time.time() + 10
            while not any(line.startswith(f"sweep {tmp_path}: {i + 1}/4 done") for line in lines()):
                assert time.time() < deadline, f"no line for run {i + 1}: {lines()}"
                time.sleep(0.02)
    assert [re.search(r"(\d)/4 done", line).group(1) for line in lines()] == ["1", "2", "3", "4"]
    assert "best so far: best_val_acc 0.75 at optimizer.lr=0.1 (mean of 2 seeds)" in lines()[-1]
    assert not [t for t in threading.enumerate() if t.name == "sweep-progress"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_the_thread_stops_on_ctrl_c_and_errors(tmp_path, error):
    progress = SweepProgress(tmp_path, total=1)
    with pytest.raises(error):
        with progress.watching(interval=0.05):
            assert [t for t in threading.enumerate() if t.name == "sweep-progress"]
            raise error()
    assert not [t for t in threading.enumerate() if t.name == "sweep-progress"]


# ----- real sweeps ------------------------------------------------------------------------------
def progress_lines(output: str) -> list[str]:
    """The progress lines of a sweep's output, from ``sweep <dir>:`` on (the logging prefix
    differs: Hydra's, or the sweep's logger while jobs run in its process)."""
    return [
        line[line.index("sweep /") :] for line in output.splitlines() if re.search(r"\bsweep /\S+: \d+/\d+ done", line)
    ]


def test_a_real_grid_prints_a_line_as_each_run_finishes_and_a_rerun_counts_reused_runs(tmp_path):
    sweep = tmp_path / "grid"
    common = [*TINY, "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep}"]
    first = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.01,0.1",
        "trainer.seed=0,1",
        "hydra.sweeper.max_batch_size=1",
        *common,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    lines = progress_lines(first.stdout + first.stderr)
    assert [re.search(r": (\d/\d) done", line).group(1) for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    # a best is named once a run learned (while every run so far is at chance, none is)
    assert (
        all(
            ("best so far: best_val_acc " in line or "did not learn (at chance)" in line) and "elapsed " in line
            for line in lines
        )
        and "best so far: best_val_acc " in lines[-1]
    )
    assert all("ETA " in line for line in lines[:3]) and "ETA" not in lines[3] and "reused" not in lines[0]
    rerun = run_module("nnsweep.experiments.train", "-m", "optimizer.lr=0.01,0.1,1", "trainer.seed=0,1", *common)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    lines = progress_lines(rerun.stdout + rerun.stderr)
    assert lines[0].startswith(f"sweep {sweep}: 4/6 done (4 reused)") and "; best so far: best_val_acc " in lines[0]
    assert lines[0].endswith("ETA unknown") and lines[-1].startswith(f"sweep {sweep}: 6/6 done (4 reused)")


def test_a_real_grid_shows_one_line_per_run_and_the_progress_line_and_ends_with_its_report(tmp_path):
    """Two jobs side by side: their per-epoch lines go to each run's train.log, not the terminal;
    the terminal has one line per finished run, the progress line, the grid's summary (a run at
    chance counted apart, as runs.csv says), its closing lines, and last, where the report is (here the command
    that draws it: the suite turns the live report off); not the launcher's line per job."""
    sweep = tmp_path / "grid"
    out = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.01,0.1,1000",
        *TINY[:-1],
        "trainer.epochs=3",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert not [line for line in lines if re.search(r"\bepoch \d+/\d+ ", line)]
    assert len([line for line in lines if re.search(r"\bok after 3 epochs\b.*: best val acc", line)]) == 3
    assert not [line for line in lines if re.search(r"#\d+ : |Launching jobs", line)], lines
    assert 1 <= len(progress_lines(out.stdout)) <= 3
    closing = [line for line in lines if line.startswith(("3 runs: ", "Best: ", "One seed per configuration"))]
    assert closing and closing[0].startswith("3 runs: "), lines  # how the runs ended, as the report says
    assert len(lines) <= 3 + 3 + 2 + len(closing), lines  # runs, progress lines, grid, closing lines and report
    stuck = pd.read_csv(sweep / "runs.csv")["at_chance"].sum()
    (summary,) = [line for line in lines if "grid of 3 points" in line]
    assert stuck >= 1 and f": {3 - stuck} ok, {stuck} did not learn (at chance);" in summary, summary
    assert out.stdout.splitlines()[-1].endswith(f"no report page (live report off): nnsweep report {sweep} draws it")
    for log in sweep.glob("*/train.log"):
        assert "epoch 3/3 " in log.read_text()
    assert len(list(sweep.glob("*/train.log"))) == 3


def test_a_real_search_counts_its_budget_and_a_resumed_one_its_recorded_trials(tmp_path):
    def search(n_trials):
        return subprocess.run(
            [
                sys.executable,
                APP,
                "-m",
                "hydra/sweeper=skopt",
                "hydra/launcher=basic",
                "hydra.sweeper.method=random",
                f"hydra.sweep.dir={tmp_path / 's'}",
                "hydra.sweep.subdir=${hydra.job.num}",
                "x=interval(0, 0.9)",
                "y=int(interval(0, 3))",
                f"hydra.sweeper.n_trials={n_trials}",
                "hydra.sweeper.batch_size=2",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )

    first = search(4)
    assert first.returncode == 0, first.stderr[-2000:]
    lines = progress_lines(first.stdout + first.stderr)
    assert [re.search(r": (\d/\d) done", line).group(1) for line in lines] == ["2/4", "4/4"]
    assert re.search(r"best so far: -?[\d.e-]+ at x=[\d.e-]+ y=\d", lines[-1]), lines[-1]
    more = search(6)
    assert more.returncode == 0, more.stderr[-2000:]
    lines = progress_lines(more.stdout + more.stderr)
    assert [re.search(r": (\d/\d) done", line).group(1) for line in lines] == ["4/6", "6/6"]
    assert "(4 reused)" in lines[0] and "ETA unknown" in lines[0] and "(4 reused)" in lines[1]
    assert more.stdout.splitlines()[-1].endswith(
        f"no report page (live report off): nnsweep report {tmp_path / 's'} draws it"
    )


def test_when_every_run_ended_at_chance_the_line_names_no_best(tmp_path):
    """net.init=zeros: every run at 10%. The line said "best so far: best_val_acc 0.1 at
    optimizer.lr=1.0 (mean of 3 seeds)" of runs that learned nothing."""
    progress = SweepProgress(tmp_path, total=2)
    progress.expect([GRID[0], GRID[2]])
    for overrides in (GRID[0], GRID[2]):
        run = make_run(tmp_path, overrides, None)
        run.write_summary(Summary(status=Status.OK, best_val_acc=0.1, val_size=500, classes=10))
    progress._poll(before=False)
    assert progress.best() is None
    assert "2/2 done, 2 did not learn (at chance); elapsed" in progress.line() and "best so far" not in progress.line()
