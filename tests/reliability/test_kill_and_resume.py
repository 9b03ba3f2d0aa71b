"""Cases 1-3: kill -9 in the middle of a sweep or a run; rerunning loses nothing and redoes nothing."""

import csv

import pytest

from tests.experiments.conftest import run_module
from tests.reliability.conftest import (
    TINY,
    TINY_LR,
    finished_runs,
    kill_minus_9,
    recorded_trials,
    snapshot,
    start_module,
    wait_for,
)

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

SKOPT = [
    "-m",
    "hydra/sweeper=skopt",
    "optimizer.lr=tag(log, interval(0.01, 3))",
    "net.hidden=choice([16],[32])",
    "net=mlp",
    "data.train_limit=300",
    "trainer.epochs=2",
    "trainer.progress=false",
    "hydra.sweeper.n_trials=6",
    "hydra.sweeper.batch_size=2",
    "hydra.sweeper.n_initial_points=3",
]


def test_1_killed_skopt_sweep_reuses_every_finished_trial(tmp_path):
    whole = run_module("nnsweep.experiments.train", *SKOPT, f"hydra.sweep.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-2000:]
    cut = tmp_path / "cut"
    proc = start_module("nnsweep.experiments.train", *SKOPT, f"hydra.sweep.dir={cut}", log=tmp_path / "cut.log")
    wait_for(lambda: len(recorded_trials(cut)) >= 3, what="3 recorded trials")  # often mid-batch (batches of 2)
    kill_minus_9(proc)
    before = recorded_trials(cut)
    finished_before = [cut / t["run_dir"] for t in before]
    stamps = snapshot(finished_before)
    again = run_module("nnsweep.experiments.train", *SKOPT, f"hydra.sweep.dir={cut}")
    assert again.returncode == 0, again.stderr[-2000:]
    after = recorded_trials(cut)
    assert len(after) == 6 and after[: len(before)] == before  # 0 trials lost, none redone
    assert snapshot(finished_before) == stamps  # their run directories untouched
    assert [(t["point"], t["told"]) for t in after] == [
        (t["point"], t["told"]) for t in recorded_trials(tmp_path / "whole")
    ]
    assert "already recorded" in again.stderr + again.stdout


def kill_after_two_runs_then_rerun(tmp_path, module, args, sweep):
    """Start a 4-run sweep, kill -9 it once two runs finished, rerun the same command; returns
    the rerun's output and how many runs had finished. Asserts those were left untouched."""
    proc = start_module(module, *args, log=tmp_path / "first.log")
    wait_for(lambda: len(finished_runs(sweep)) >= 2, what="2 finished runs")
    kill_minus_9(proc)
    done = finished_runs(sweep)
    stamps = snapshot(done)
    again = run_module(module, *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(finished_runs(sweep)) == 4 and snapshot(done) == stamps
    return again.stdout + again.stderr, len(done)


def test_2a_killed_lr_sweep_finishes_only_the_missing_runs(tmp_path):
    sweep = tmp_path / "lr"
    args = [
        "--lrs",
        "0.01,0.05,0.2,1",
        "--epochs",
        "3",
        "--batch",
        "10",
        "--jobs",
        "1",
        "--no-report",
        "--sweep-dir",
        str(sweep),
        *TINY_LR,
    ]
    output, done = kill_after_two_runs_then_rerun(tmp_path, "nnsweep.sweep_lr", args, sweep)
    assert output.count("reusing finished trial") == done, output


def test_2b_killed_grid_multirun_finishes_only_the_missing_runs(tmp_path):
    sweep = tmp_path / "grid"
    args = [
        "-m",
        "optimizer=sgd,adam",
        "optimizer.lr=0.01,0.1",
        *TINY,
        "trainer.epochs=3",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
    ]
    output, done = kill_after_two_runs_then_rerun(tmp_path, "nnsweep.experiments.train", args, sweep)
    assert output.count("reusing finished trial") >= done  # found on disk, not launched again


def read_metrics(path):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(open(path))]


def test_3_killed_run_resumes_to_the_same_numbers(tmp_path):
    args = ["net=rashid", "trainer.batch_size=1", "trainer.epochs=4", "optimizer.lr=0.3", "trainer.progress=false"]
    whole = run_module("nnsweep.experiments.train", *args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-2000:]
    run = tmp_path / "cut"
    proc = start_module("nnsweep.experiments.train", *args, f"hydra.run.dir={run}", log=tmp_path / "cut.log")
    metrics = run / "metrics.csv"
    wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 3, what="two epochs")
    kill_minus_9(proc)  # somewhere inside epoch 3
    assert len(read_metrics(metrics)) in (2, 3)
    resumed = run_module("nnsweep.experiments.train", *args, "resume=true", f"hydra.run.dir={run}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_metrics(metrics) == read_metrics(tmp_path / "whole" / "metrics.csv")
    assert not list(run.glob(".*.tmp"))  # no half-written checkpoint left behind
