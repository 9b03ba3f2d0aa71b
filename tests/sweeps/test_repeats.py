"""Repeats on the search sweeper: each point trained with N seeds, the engine told their mean,
configs.csv grouping them, failures of one seed failing the point, and resume after kill -9."""

import pandas as pd
import pytest
import yaml

from tests.experiments.conftest import run_module
from tests.reliability.conftest import TINY, finished_runs, kill_minus_9, snapshot, start_module, wait_for
from tests.sweeps.quadratic_app import objective
from tests.sweeps.test_skopt_sweeper import record, sweep

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

REPEATS = ["hydra.sweeper.repeats=3", "hydra.sweeper.repeat_key=seed"]


def runs_of(tmp_path, name):
    return pd.read_csv(tmp_path / name / "runs.csv")


@pytest.mark.parametrize("engine", ["gp", "random"])
def test_each_point_is_trained_with_every_seed_and_the_engine_is_told_the_mean(tmp_path, engine):
    result = sweep(
        tmp_path,
        "r",
        f"hydra.sweeper.method={engine}",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_initial_points=2",
        "hydra.sweeper.batch_size=2",
        *REPEATS,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trials = record(tmp_path, "r")
    assert len(trials) == 4
    for t in trials:
        assert [r["seed"] for r in t["repeats"]] == [0, 1, 2]
        p = t["params"]
        values = [objective(p["x"], p["y"], p["name"], seed) for seed in (0, 1, 2)]
        if p["x"] > 0.9:  # seed 1 diverges there: the point failed, whatever the other seeds said
            assert t["objective"] is None and t["status"] == "failed"
            continue
        assert [r["objective"] for r in t["repeats"]] == pytest.approx(values)
        assert t["objective"] == pytest.approx(sum(values) / 3)  # mean: base value + 0.01
        assert t["told"] == pytest.approx(-t["objective"])  # what the engine was told
    runs = runs_of(tmp_path, "r")
    assert len(runs) == 12 and sorted(runs["seed"].value_counts().tolist()) == [4, 4, 4]
    configs = pd.read_csv(tmp_path / "r" / "configs.csv")
    assert len(configs) == 4 and configs["repeats"].tolist() == [3, 3, 3, 3]
    assert set(configs["seeds"]) == {"0 1 2"}
    results = yaml.safe_load((tmp_path / "r" / "optimization_results.yaml").read_text())
    best = max((t for t in trials if t["objective"] is not None), key=lambda t: t["objective"])
    assert results["repeats"] == 3 and results["best_value"] == pytest.approx(best["objective"])
    assert len(results["best_run_dirs"]) == 3


def test_a_killed_sweep_with_repeats_resumes_to_the_same_trials(tmp_path):
    common = [
        "hydra.sweeper.method=gp",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_initial_points=2",
        "hydra.sweeper.batch_size=2",
        *REPEATS,
    ]
    full = sweep(tmp_path, "full", *common, env={"QUADRATIC_LOG": str(tmp_path / "full.log")})
    assert full.returncode == 0, full.stderr[-2000:]
    log = tmp_path / "cut.log"
    # 6 runs a round (2 points x 3 seeds): die as the 10th run starts, in the middle of round 2.
    killed = sweep(tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(log), "QUADRATIC_DIE_AT": "10"})
    assert killed.returncode == 137
    assert len(record(tmp_path, "cut")) == 2  # only the first round was recorded
    before = log.read_text().splitlines()
    resumed = sweep(tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(log)})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = log.read_text().splitlines()[len(before) :]
    assert not set(before[:6]) & set(again)  # the recorded round's runs were not trained again
    assert len(again) == 6  # round 2 again (this app leaves no run record to reuse: see the test below)
    strip = lambda trials: [(t["point"], t["told"], [r["objective"] for r in t["repeats"]]) for t in trials]
    assert strip(record(tmp_path, "cut")) == strip(record(tmp_path, "full"))


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["trainer.seed=3"], "leave trainer.seed out of the sweep's overrides"),
        (["trainer.seed=choice(1,2)"], "leave trainer.seed out of the sweep's overrides"),
        (["hydra.sweeper.repeat_key=trainer.sed"], "this task's config has no trainer.sed"),
        (["hydra.sweeper.repeats=0"], "hydra.sweeper.repeats must be between 1 and 100"),
        (
            ["hydra.sweeper.pruner.method=asha", "trainer.epochs=3"],
            "repeats and hydra.sweeper.pruner cannot be combined",
        ),
    ],
)
def test_repeat_settings_that_cannot_work_are_one_line(tmp_path, extra, fragment):
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=nnsweep",
        "optimizer.lr=interval(0.05, 0.5)",
        *TINY,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.repeats=2",
        *extra,
        f"hydra.sweep.dir={tmp_path / 'bad'}",
    )
    assert result.returncode == 2 and fragment in result.stderr, result.stderr[-1500:]
    assert "Traceback" not in result.stderr and not (tmp_path / "bad" / "trials.json").exists()


def test_a_killed_search_with_repeats_reuses_every_finished_run(tmp_path):
    """Real training: kill -9 once some runs finished (some rounds not recorded yet); the rerun
    trains only the missing runs and ends with the trials of an uninterrupted search."""
    args = [
        "-m",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=tpe",
        "optimizer.lr=tag(log, interval(0.01, 3))",
        *TINY,
        "trainer.epochs=2",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_initial_points=2",
        "hydra.sweeper.repeats=2",
        "hydra.launcher.n_jobs=1",
    ]
    whole = run_module("nnsweep.experiments.train", *args, f"hydra.sweep.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-2000:]
    cut = tmp_path / "cut"
    proc = start_module("nnsweep.experiments.train", *args, f"hydra.sweep.dir={cut}", log=tmp_path / "cut.log")
    wait_for(lambda: len(finished_runs(cut)) >= 3, what="3 finished runs")  # round 2 half done
    kill_minus_9(proc)
    done = finished_runs(cut)
    stamps = snapshot(done)
    again = run_module("nnsweep.experiments.train", *args, f"hydra.sweep.dir={cut}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert snapshot(done) == stamps and len(finished_runs(cut)) == 6  # none retrained, none missing
    strip = lambda trials: [(t["point"], t["told"], [r["objective"] for r in t["repeats"]]) for t in trials]
    assert strip(record(tmp_path, "cut")) == strip(record(tmp_path, "whole"))
    configs = pd.read_csv(cut / "configs.csv")
    assert configs["repeats"].tolist() == [2, 2, 2] and set(configs["seeds"]) == {"0 1"}


def test_a_seed_trained_twice_counts_once_and_failed_repeats_rank_last():
    """configs.csv by hand: lr 0.1 has a one-seed run (seed 0 from its config) beside seeds 0, 1
    of a repeat; lr 1 has the best mean of the values it has, but one of its seeds failed."""
    from nnsweep.reports.compare import best_vs_runner_up
    from nnsweep.sweeps.collect import configurations

    runs = pd.DataFrame(
        {
            "run": ["a", "r0", "r1", "b0", "b1"],
            "optimizer.lr": [0.1, 0.1, 0.1, 1.0, 1.0],
            "lr": [0.1, 0.1, 0.1, 1.0, 1.0],
            "trainer.seed": [None, 0, 1, 0, 1],
            "seed": [0, 0, 1, 0, 1],
            "status": ["ok", "ok", "ok", "ok", "diverged"],
            "best_val_acc": [0.90, 0.92, 0.94, 0.99, None],
            "final_val_acc": [0.9, 0.9, 0.9, 0.9, None],
            "test_acc": [0.9, 0.9, 0.9, 0.9, None],
        }
    )
    configs = configurations(runs)
    assert configs["lr"].tolist() == [0.1, 1.0]  # complete first, though 0.99 > its mean
    first = configs.iloc[0]
    assert first["repeats"] == 2 and first["seeds"] == "0 1"  # "a" and "r0" are both seed 0: the first by name
    assert first["best_val_acc_mean"] == pytest.approx((0.90 + 0.94) / 2)
    assert configs.iloc[1]["failed_repeats"] == 1
    sentence = best_vs_runner_up(runs, configs)  # mixed seed columns (NaN and numbers) compare, no TypeError
    assert sentence and "lr 0.1" in sentence
