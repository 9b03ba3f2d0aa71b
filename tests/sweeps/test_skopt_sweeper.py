"""The skopt sweeper as Hydra runs it: discovery, search, failures, kill-and-resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

REPO = Path(__file__).resolve().parents[2]
SPACE = ["x=interval(0, 1)", "y=int(interval(0, 3))", "name=choice(a, b)"]


def sweep(tmp_path, name, *extra, env=None, launcher="basic", sweeper="skopt", space=SPACE):
    args = [
        sys.executable,
        str(Path(__file__).with_name("quadratic_app.py")),
        "-m",
        f"hydra/sweeper={sweeper}",
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={tmp_path / name}",
        "hydra.sweep.subdir=${hydra.job.num}",
        *space,
        *extra,
    ]
    return subprocess.run(
        args,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})},
    )


def record(tmp_path, name):
    return json.loads((tmp_path / name / "trials.json").read_text())["trials"]


def test_plugin_is_discovered():
    assert "SkoptSweeper" in [p.__name__ for p in Plugins.instance().discover(Sweeper)]


def test_finds_the_best_point_and_writes_results_and_plots(tmp_path):
    result = sweep(tmp_path, "s", "hydra.sweeper.n_trials=15", "hydra.sweeper.n_initial_points=6")
    assert result.returncode == 0, result.stderr[-2000:]
    res = yaml.safe_load((tmp_path / "s" / "optimization_results.yaml").read_text())
    assert res["n_trials"] == 15 and res["best_params"]["y"] == 1 and res["best_params"]["name"] == "a"
    assert abs(res["best_params"]["x"] - 0.3) < 0.15 and res["best_value"] > -0.03
    for plot in ("skopt_convergence.png", "skopt_objective.png", "skopt_evaluations.png"):
        assert (tmp_path / "s" / plot).stat().st_size > 10_000
    assert (tmp_path / "s" / "multirun.yaml").exists()
    assert len(record(tmp_path, "s")) == 15


def test_random_search_and_a_diverging_trial_is_told_a_finite_penalty(tmp_path):
    result = sweep(
        tmp_path,
        "r",
        "hydra.sweeper.method=random",
        "hydra.sweeper.n_trials=12",
        "x=interval(0.8, 1)",
        "hydra.sweeper.max_failure_rate=0.9",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trials = record(tmp_path, "r")
    diverged = [t for t in trials if t["params"]["x"] > 0.95]
    assert diverged, "the seeded random draw should hit x > 0.95"
    for t in diverged:
        assert t["objective"] is None and t["status"] == "failed"
        earlier = [u["told"] for u in trials[: trials.index(t)] if u["objective"] is not None]
        assert t["told"] == (max(earlier) if earlier else 0.0)  # the worst value seen so far


def test_too_many_failures_stop_the_sweep_with_a_clear_message(tmp_path):
    result = sweep(
        tmp_path, "f", "x=interval(0.96, 1)", "hydra.sweeper.n_trials=10", "hydra.sweeper.max_failure_rate=0.5"
    )
    assert result.returncode != 0
    assert "stopping the sweep: 5 of 5 trials failed or diverged" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("engine", [["hydra.sweeper.method=gp"], ["hydra.sweeper.engine=tpe"]], ids=["gp", "tpe"])
def test_killed_sweep_resumes_without_retraining_and_ends_with_the_same_points(tmp_path, engine):
    """scikit-optimize's GP (hydra/sweeper=skopt) and Optuna's TPE (hydra/sweeper=nnsweep) alike."""
    which = "skopt" if "method" in engine[0] else "nnsweep"
    common = ["hydra.sweeper.n_trials=8", "hydra.sweeper.batch_size=2", "hydra.sweeper.n_initial_points=3", *engine]
    full = sweep(tmp_path, "full", *common, env={"QUADRATIC_LOG": str(tmp_path / "full.log")}, sweeper=which)
    assert full.returncode == 0, full.stderr[-2000:]
    log = tmp_path / "cut.log"
    killed = sweep(tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(log), "QUADRATIC_DIE_AT": "6"}, sweeper=which)
    assert killed.returncode == 137
    assert len(record(tmp_path, "cut")) == 4  # two complete rounds were recorded
    before = log.read_text().splitlines()
    resumed = sweep(tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(log)}, sweeper=which)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    executed = log.read_text().splitlines()
    assert executed[:6] == before and len(executed) == 6 + 4  # only the last two rounds ran again
    assert not set(before[:4]) & set(executed[6:])  # recorded trials were not run again
    strip = lambda trials: [(t["point"], t["told"]) for t in trials]
    assert strip(record(tmp_path, "cut")) == strip(record(tmp_path, "full"))
    jobs = sorted(int(p.name) for p in (tmp_path / "cut").iterdir() if p.name.isdigit())
    assert jobs == list(range(len(jobs))) and len(jobs) == 10  # numbering continued: nothing overwritten


def test_changed_settings_are_refused_not_mixed(tmp_path):
    assert sweep(tmp_path, "c", "hydra.sweeper.n_trials=2").returncode == 0
    again = sweep(tmp_path, "c", "hydra.sweeper.n_trials=3", "hydra.sweeper.seed=5")
    assert again.returncode != 0 and "other settings (seed differ)" in again.stderr


def test_unknown_sweeper_option_and_gbrt_are_clear_errors(tmp_path):
    bad = sweep(tmp_path, "u", "hydra.sweeper.n_trails=3")
    assert bad.returncode != 0 and "n_trails" in bad.stderr
    gbrt = sweep(tmp_path, "g", "hydra.sweeper.method=gbrt")
    assert gbrt.returncode != 0 and "Invalid value 'gbrt', expected one of [random, gp, rf, et]" in gbrt.stderr


def test_other_hydra_launchers_work_submitit_for_slurm(tmp_path):
    """submitit_local runs the submitit launcher's SLURM code path without a cluster."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from tests.experiments.conftest import run_module

    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/launcher=submitit_local",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 0.5)",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.epochs=1",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.batch_size=2",
        f"hydra.sweep.dir={tmp_path / 's'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert yaml.safe_load((tmp_path / "s" / "optimization_results.yaml").read_text())["n_trials"] == 2
    assert len(list((tmp_path / "s").glob(".submitit/*"))) >= 1  # submitit really ran the jobs


def test_a_trial_that_finished_after_the_last_record_is_reused_not_relaunched(tmp_path):
    """Simulate a round cut short after one of its trials finished: drop the last round from
    the record; the rerun must find that trial's run on disk instead of launching it again."""
    from tests.experiments.conftest import run_module

    args = [
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.05, 0.5)",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.epochs=1",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.batch_size=2",
        f"hydra.sweep.dir={tmp_path / 's'}",
    ]
    assert run_module("nnsweep.experiments.train", *args).returncode == 0
    record_path = tmp_path / "s" / "trials.json"
    record = json.loads(record_path.read_text())
    cut = record["rounds"].pop()["asked"]
    record["trials"] = record["trials"][: cut[0]]
    record_path.write_text(json.dumps(record))
    again = run_module("nnsweep.experiments.train", *args)
    assert again.returncode == 0, again.stderr[-2000:]
    log = again.stdout + again.stderr
    assert log.count("reusing finished trial") == len(cut) and "Launching" not in log
    assert json.loads(record_path.read_text())["rounds"][-1] != []


ONE_DIM = [
    "-m",
    "hydra/sweeper=skopt",
    "optimizer.lr=interval(0.05, 0.5)",
    "net=mlp",
    "net.hidden=[16]",
    "data.train_limit=300",
    "trainer.epochs=1",
    "trainer.progress=false",
]


@pytest.mark.parametrize(
    "args,fragment,trials_json",
    [
        (["hydra.sweeper.acq_func=EX"], "acq_func", None),
        (["hydra.sweeper.initial_point_generator=sobel"], "initial_point_generator", None),
        (["hydra.sweeper.method=gbrt"], "gbrt", None),
        (["hydra.sweeper.seed=-1"], "hydra.sweeper.seed", None),
        (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials must be at least 1", None),
        (["hydra.sweeper.failure_objective=nan"], "hydra.sweeper.failure_objective", None),
        ([], "trials.json is not an nnsweep trial log", "[]"),
        ([], "trials.json is damaged", '{"format": "nnsweep-skopt-trials", "version": 1, "settings": {}}'),
    ],
    ids=["acq_func", "generator", "gbrt", "seed", "n_trials", "nan-penalty", "log-list", "log-fields"],
)
def test_bad_sweeper_settings_are_one_line_before_anything_trains(tmp_path, args, fragment, trials_json):
    from tests.experiments.conftest import run_module

    sweep_dir = tmp_path / "s"
    if trials_json is not None:
        sweep_dir.mkdir()
        (sweep_dir / "trials.json").write_text(trials_json)
    result = run_module("nnsweep.experiments.train", *ONE_DIM, *args, f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnsweep: error:") and fragment in lines[0], result.stderr[-2000:]
    assert not list(tmp_path.glob("**/model.npz"))
    if trials_json is not None:
        assert (sweep_dir / "trials.json").read_text() == trials_json  # left for the user to look at


def test_the_same_arguments_in_another_order_continue_the_sweep(tmp_path):
    assert sweep(tmp_path, "o", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_initial_points=2").returncode == 0
    assert sweep(tmp_path, "whole", "hydra.sweeper.n_trials=5", "hydra.sweeper.n_initial_points=2").returncode == 0
    args = [
        sys.executable,
        str(Path(__file__).with_name("quadratic_app.py")),
        "-m",
        "hydra.sweeper.n_initial_points=2",
        "hydra.sweeper.n_trials=5",
        *reversed(SPACE),
        f"hydra.sweep.dir={tmp_path / 'o'}",
        "hydra/launcher=basic",
        "hydra.sweep.subdir=${hydra.job.num}",
        "hydra/sweeper=skopt",
    ]
    again = subprocess.run(
        args,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert again.returncode == 0, again.stderr[-2000:]
    strip = lambda trials: [(t["point"], t["told"]) for t in trials]
    assert strip(record(tmp_path, "o")) == strip(record(tmp_path, "whole"))


def test_a_complete_sweep_answers_from_its_record_without_replaying(tmp_path):
    assert sweep(tmp_path, "d", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_initial_points=2").returncode == 0
    results = tmp_path / "d" / "optimization_results.yaml"
    before = yaml.safe_load(results.read_text())
    results.unlink()
    # A replay would notice that a recorded point is not what the optimizer proposes; answering
    # from the record does not replay at all.
    path = tmp_path / "d" / "trials.json"
    log = json.loads(path.read_text())
    log["trials"][-1]["point"][0] = log["trials"][-1]["point"][0] * 0.999
    path.write_text(json.dumps(log))
    for n in (4, 3):
        again = sweep(tmp_path, "d", f"hydra.sweeper.n_trials={n}", "hydra.sweeper.n_initial_points=2")
        assert again.returncode == 0, again.stderr[-2000:]
        out = again.stdout + again.stderr
        assert "Launching" not in out and "does not replay" not in out
        assert (f"already has 4 trials, more than n_trials={n}" if n < 4 else "already has its 4 trials") in out
        assert yaml.safe_load(results.read_text())["best_value"] == before["best_value"]
