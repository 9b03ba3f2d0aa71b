"""Faults under both sweepers (the grid default of ``-m`` and ``hydra/sweeper=skopt``): a second
sweep into the same directory, identical points in one batch, a full disk, a worker killed by
the system, stale temporary files."""

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.experiments.conftest import REPO, run_module
from tests.reliability.conftest import kill_minus_9, start_module, wait_for

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

APP = str(Path(__file__).with_name("quadratic_app.py"))
TINY = ["net=mlp", "net.hidden=[16]", "data.train_limit=300", "trainer.progress=false"]


def quadratic(tmp_path, name, *args, sweeper="skopt", launcher="basic", env=None):
    """The quadratic test app under a sweeper; one job directory per job number."""
    command = [
        sys.executable,
        APP,
        "-m",
        f"hydra/sweeper={sweeper}",
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={tmp_path / name}",
        "hydra.sweep.subdir=${hydra.job.num}",
        *args,
    ]
    return subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def trials(sweep_dir):
    return json.loads((sweep_dir / "trials.json").read_text())["trials"]


def executions(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


# ----- 5 and 19: the grid sweeper holds the sweep lock and collects ----------------------------
def test_a_second_identical_grid_is_refused(tmp_path):
    sweep = tmp_path / "grid"
    args = [
        "-m",
        "optimizer.lr=0.01,0.02,0.05,0.1,0.2,0.5",
        *TINY,
        "trainer.epochs=50",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
    ]
    first = start_module("nnsweep.experiments.train", *args, log=tmp_path / "first.log")
    try:
        wait_for(
            lambda: (sweep / ".lock").exists() and (sweep / ".lock").read_text().strip() == str(first.pid),
            what="the first grid's sweep lock",
        )
        second = run_module("nnsweep.experiments.train", *args)
        assert first.poll() is None, "the first grid should still be running"
    finally:
        kill_minus_9(first)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"is in use by process {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert "Launching" not in second.stdout + second.stderr


def test_a_grid_collects_its_tables_at_the_end(tmp_path):
    sweep = tmp_path / "grid"
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.05,0.1",
        *TINY,
        "trainer.epochs=1",
        "hydra/launcher=basic",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = pd.read_csv(sweep / "runs.csv")
    assert sorted(runs["optimizer.lr"]) == [0.05, 0.1] and set(runs["status"]) == {"ok"}
    assert len(pd.read_csv(sweep / "epochs.csv")) == 2


# ----- 6: identical points in one batch train once --------------------------------------------
def test_identical_points_in_one_skopt_batch_train_once_and_count_for_each_copy(tmp_path):
    log = tmp_path / "runs.log"
    result = quadratic(
        tmp_path,
        "dup",
        "name=choice(a,b)",
        "hydra.sweeper.method=random",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.batch_size=3",
        env={"QUADRATIC_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    recorded = trials(tmp_path / "dup")
    assert len(recorded) == 3  # three copies told, though at most two distinct points exist
    points = {t["params"]["name"] for t in recorded}
    assert sorted(executions(log)) == sorted(f"name={p}" for p in points)  # each distinct point ran once
    for t in recorded:
        assert t["objective"] == -0.09 - 1 - (0.0 if t["params"]["name"] == "a" else 0.5)  # x=0, y=0


# ----- 7: a full disk is a machine failure: not told, retried on rerun ----------------------
def limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_stops_the_search_without_recording_and_the_rerun_retries(tmp_path):
    sweep = tmp_path / "full"
    args = [
        "-m",
        "hydra/sweeper=skopt",
        "hydra/launcher=basic",
        "optimizer.lr=interval(0.05, 0.5)",
        *TINY,
        "trainer.epochs=1",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={sweep}",
    ]
    # A file-size limit stands in for a full disk: the checkpoint no longer fits.
    proc = start_module("nnsweep.experiments.train", *args, log=tmp_path / "full.log", preexec=limit_file_size(30_000))
    assert proc.wait(300) == 1, (tmp_path / "full.log").read_text()[-2000:]
    lines = (tmp_path / "full.log").read_text().strip().splitlines()
    assert lines[-1].startswith("nnsweep: error:") and "File too large" in lines[-1] and "rerun" in lines[-1]
    assert "Traceback" not in "\n".join(lines)
    assert not (sweep / "trials.json").exists() or trials(sweep) == []  # nothing told, nothing penalised
    again = run_module("nnsweep.experiments.train", *args)
    assert again.returncode == 0, again.stderr[-2000:]
    recorded = trials(sweep)
    assert len(recorded) == 2 and all(t["status"] == "ok" and t["objective"] is not None for t in recorded)


# ----- 8: a worker killed by the system ------------------------------------------------------
def test_a_killed_worker_in_a_skopt_batch_is_retried_then_failed_and_its_companion_kept(tmp_path):
    log = tmp_path / "runs.log"
    env = {"QUADRATIC_LOG": str(log), "QUADRATIC_CRASH": "c"}
    args = [
        "x=0.3",
        "y=1",
        "name=choice(a,c)",
        "hydra.sweeper.method=random",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.batch_size=2",
        "hydra.sweeper.max_failure_rate=1.0",
        "hydra.launcher.n_jobs=2",
    ]
    result = quadratic(tmp_path, "crash", *args, launcher="joblib", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TerminatedWorkerError" not in result.stderr and "Traceback" not in result.stderr
    recorded = trials(tmp_path / "crash")
    assert len(recorded) == 4
    crashed = [t for t in recorded if t["params"]["name"] == "c"]
    healthy = [t for t in recorded if t["params"]["name"] == "a"]
    assert crashed and healthy, "the seeded draws should hold both names"
    assert all(t["status"] == "failed" and t["objective"] is None for t in crashed)
    assert all(t["status"] == "ok" and t["objective"] == 0.0 for t in healthy)
    assert json.loads((tmp_path / "crash" / "trials.json").read_text())["crashes"] == {"name=c x=0.3 y=1": 2}
    assert executions(log).count("x=0.3 y=1 name=c") == 2  # two tries, then recorded as failed
    more = [a.replace("n_trials=4", "n_trials=8") for a in args]
    again = quadratic(tmp_path, "crash", *more, launcher="joblib", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert executions(log).count("x=0.3 y=1 name=c") == 2  # a point that crashed twice is not tried again


def test_a_killed_worker_in_a_grid_is_retried_then_recorded_and_the_grid_goes_on(tmp_path):
    log = tmp_path / "runs.log"
    result = quadratic(
        tmp_path,
        "grid",
        "x=0.3",
        "y=1",
        "name=a,c,b",
        "hydra.launcher.n_jobs=2",
        sweeper="grid",
        launcher="joblib",
        env={"QUADRATIC_LOG": str(log), "QUADRATIC_CRASH": "c"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TerminatedWorkerError" not in result.stderr and "Traceback" not in result.stderr
    out = result.stdout + result.stderr
    assert "name=c" in out and "died" in out  # said which point, and why
    ran = executions(log)
    assert ran.count("x=0.3 y=1 name=c") == 2 and {"x=0.3 y=1 name=a", "x=0.3 y=1 name=b"} <= set(ran)
    runs = pd.read_csv(tmp_path / "grid" / "runs.csv")
    assert runs.loc[runs["name"] == "c", "status"].tolist() == ["failed"]


# ----- 15: stale temporary files of the sweep ---------------------------------------------
def test_a_sweep_removes_its_own_stale_temporary_files(tmp_path):
    for name, sweeper, extra in (
        ("s", "skopt", ["x=interval(0, 1)", "hydra.sweeper.n_trials=1"]),
        ("g", "grid", ["x=0.1,0.2"]),
    ):
        stale = [tmp_path / name / ".trials.json.k9xq.tmp", tmp_path / name / ".runs.csv.a1b2.tmp"]
        stale[0].parent.mkdir()
        for path in stale:
            path.write_text("half")
        result = quadratic(tmp_path, name, *extra, sweeper=sweeper)
        assert result.returncode == 0, result.stderr[-2000:]
        assert not any(p.exists() for p in stale), name


def test_a_run_killed_in_a_grid_resumes_and_its_finished_companion_is_kept(tmp_path):
    """The kernel kills the worker of one real run in the middle of training; the run that
    had finished in the same batch is read from its directory, the killed one resumes."""
    sweep = tmp_path / "grid"
    args = ["-m", "trainer.epochs=1,60", *TINY, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"]
    proc = start_module("nnsweep.experiments.train", *args, log=tmp_path / "grid.log")
    try:
        long_run = sweep / "data.train_limit=300,net.hidden=[16],net=mlp,trainer.epochs=60"
        short_run = sweep / "data.train_limit=300,net.hidden=[16],net=mlp,trainer.epochs=1"
        metrics = long_run / "metrics.csv"
        wait_for(
            lambda: (
                (short_run / "evaluation.json").exists()
                and metrics.exists()
                and len(metrics.read_text().splitlines()) >= 3
            ),
            what="one run finished, the other training",
        )
        os.kill(int((long_run / ".lock").read_text()), signal.SIGKILL)  # its worker, as the OOM killer would
        assert proc.wait(300) == 0, (tmp_path / "grid.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            kill_minus_9(proc)
    log = (tmp_path / "grid.log").read_text()
    assert "Traceback" not in log and "finished before its worker's batch broke: kept" in log
    runs = pd.read_csv(sweep / "runs.csv")
    assert sorted(runs["epochs_completed"]) == [1, 60] and set(runs["status"]) == {"ok"}
    assert "resuming" in log  # the killed run continued from its checkpoint


@pytest.mark.parametrize(
    "edit",
    [
        lambda log: log["rounds"][0][0].update(objective="abc"),
        lambda log: log["rounds"][0][0].update(objective=1e999),
        lambda log: log["rounds"][0][0].update(point=None),
        lambda log: log["rounds"][0][0].update(told=True),
        lambda log: log.update(crashes={"x": "abc"}),
        lambda log: log["settings"].update(names=5),
    ],
    ids=["objective-text", "objective-inf", "point-null", "told-bool", "crash-text", "names-int"],
)
def test_a_hand_damaged_trial_log_is_one_line(tmp_path, edit):
    from nnsweep.sweeps.trials import TrialLogError, load

    log = {
        "format": "nnsweep-skopt-trials",
        "version": 1,
        "settings": {"names": ["optimizer.lr"]},
        "crashes": {},
        "rounds": [
            [
                {
                    "job": 0,
                    "run_dir": "a",
                    "point": [0.1],
                    "params": {"optimizer.lr": 0.1},
                    "objective": 0.5,
                    "status": "ok",
                    "told": -0.5,
                }
            ]
        ],
    }
    assert load_ok(tmp_path, log, load)
    edit(log)
    (tmp_path / "trials.json").write_text(json.dumps(log).replace("Infinity", "1e999"))
    with pytest.raises(TrialLogError, match="is damaged"):
        load(tmp_path)


def load_ok(tmp_path, log, load) -> bool:
    (tmp_path / "trials.json").write_text(json.dumps(log))
    return load(tmp_path).trials[0].objective == 0.5


def test_sweeping_the_sweep_name_and_bad_values_in_a_search_file_are_refused_before_training(tmp_path):
    conf = tmp_path / "conf" / "search"
    conf.mkdir(parents=True)
    (conf / "bad.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /hydra/sweeper: skopt\n"
        "hydra:\n  sweeper:\n    n_trials: 4\n    params:\n"
        '      optimizer.lr: "choice(0.1,abc,0.5)"\n'
    )
    for args, fragment in (
        (["sweep=a,b", "optimizer.lr=0.1"], "sweep cannot be swept"),
        ([f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "search=bad"], "optimizer.lr=abc"),
        (["trainer.seed=range(5,1)"], "has no values to sweep"),
    ):
        result = run_module("nnsweep.experiments.train", "-m", *TINY, "trainer.epochs=1", *args, cwd=tmp_path)
        assert result.returncode == 2 and fragment in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "multirun").exists()


def test_a_grid_where_every_point_fails_exits_1_and_ctrl_c_still_writes_the_tables(tmp_path):
    # A CSV's size is known only once it is read (mnist5k's 3,500 digits are checked before any
    # job starts): every point fails in its job, with a batch larger than the 20 training rows.
    rows = "".join(f"{i % 10}," + ",".join(["0"] * 784) + "\n" for i in range(40))
    (tmp_path / "tiny.csv").write_text(rows)
    failing = run_module(
        "nnsweep.experiments.train",
        "-m",
        *TINY,
        "trainer.epochs=1",
        "trainer.batch_size=400,500",
        "data=csv",
        f"data.train_csv={tmp_path / 'tiny.csv'}",
        "data.val_size=10",
        "data.test_size=10",
        f"hydra.sweep.dir={tmp_path / 'f'}",
        cwd=tmp_path,
    )
    assert failing.returncode == 1 and "no trial of the sweep produced a result" in failing.stderr
    assert (tmp_path / "f" / "runs.csv").read_text().count("\n") == 3
    sweep = tmp_path / "c"
    proc = start_module(
        "nnsweep.experiments.train",
        "-m",
        *TINY,
        "trainer.epochs=40",
        "optimizer.lr=0.01,0.1",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        log=tmp_path / "c.log",
    )
    wait_for(
        lambda: sum(1 for m in sweep.glob("*/metrics.csv") if len(m.read_text().splitlines()) > 2) == 2,
        what="both runs training",
    )
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 130
    runs = pd.read_csv(sweep / "runs.csv")
    assert sorted(runs["status"]) == ["interrupted", "interrupted"]


def _v2_log() -> dict:
    trial = {
        "job": 0,
        "run_dir": "a",
        "params": {"optimizer.lr": 0.1},
        "objective": 0.5,
        "status": "ok",
        "told": -0.5,
        "epochs": 3,
        "rungs": [],
    }
    return {
        "format": "nnsweep-trials",
        "version": 2,
        "settings": {"names": ["optimizer.lr"]},
        "crashes": {},
        "trials": [{**trial, "number": 0, "point": [0.1]}, {**trial, "number": 1, "point": [0.2]}],
        "rounds": [{"asked": [0], "trained": [[0, 3]], "told": [0]}, {"asked": [1], "trained": [[1, 3]], "told": [1]}],
    }


@pytest.mark.parametrize(
    "edit",
    [
        lambda log: log["trials"][0].update(point=["abc"]) or log["trials"][0].update(point=[None]),
        lambda log: log["trials"][1].update(point=[[1]]),
        lambda log: log["rounds"].pop(0),
        lambda log: log["rounds"][1].update(told=[0, 1]),
        lambda log: log["trials"][1].update(status="paused", told=None),
        lambda log: log["rounds"][0].update(asked=[1]),
    ],
    ids=["point-null", "point-list", "round-missing", "told-twice", "told-without-value", "asked-out-of-order"],
)
def test_a_trial_log_whose_rounds_cannot_replay_is_one_line(tmp_path, edit):
    """Edits the per-trial checks let through would crash the replay with a raw traceback."""
    from nnsweep.sweeps.trials import TrialLogError, load

    log = _v2_log()
    assert load_ok(tmp_path, log, load)
    edit(log)
    (tmp_path / "trials.json").write_text(json.dumps(log))
    with pytest.raises(TrialLogError, match="is damaged"):
        load(tmp_path)


# ----- issue 22: run directories stay inside the sweep; no write through a planted link ------
def test_a_slash_in_a_value_names_one_run_directory_inside_the_sweep(tmp_path):
    """``/`` in a value nested run directories, and ``/../`` trained runs outside the sweep (its
    lock and runs.csv); a 300-byte value was a name the file system refused (exit 1, "the launcher")."""
    sweep = tmp_path / "grid"
    long = "x" * 300
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "data.noun=a/../../escape,b/c," + long,
        *TINY,
        "trainer.epochs=1",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = sorted(p.parent.parent for p in tmp_path.glob("**/.hydra/config.yaml"))
    assert len(runs) == 3 and all(r.parent == sweep for r in runs)  # each one name, directly in the sweep
    names = sorted(r.name for r in runs)
    assert names[0].startswith("data.noun=a%2F..%2F..%2Fescape,") and names[1].startswith("data.noun=b%2Fc,")
    assert len(names[2].encode()) == 255 and names[2].startswith("data.noun=xxx")
    assert pd.read_csv(sweep / "runs.csv")["status"].tolist() == ["ok"] * 3
    again = run_module(
        "nnsweep.experiments.train",
        "-m",
        "data.noun=a/../../escape,b/c," + long,
        *TINY,
        "trainer.epochs=1",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert again.returncode == 0 and len(list(sweep.glob("*/.hydra/config.yaml"))) == 3  # the rerun finds them


@pytest.mark.parametrize("name", ["multirun.yaml", ".lock", "job"])
def test_a_link_planted_in_a_sweep_directory_is_never_written_through(tmp_path, name):
    sweep = tmp_path / "grid"
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    link = sweep / name if name != "job" else sweep / "optimizer.lr=0.1" / "train.log"  # a job's own log
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.1",
        *TINY,
        "trainer.epochs=1",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        "hydra.job.config.override_dirname."
        "exclude_keys=[net,net.hidden,data.train_limit,trainer.progress,trainer.epochs,hydra.launcher."
        "n_jobs]",
        cwd=tmp_path,
    )
    assert target.read_text() == "precious"
    if name == "multirun.yaml":  # written atomically: the link is replaced by the file
        assert result.returncode == 0, result.stderr[-2000:]
        assert not link.is_symlink() and "sweeper" in link.read_text()
    else:
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and lines[-1] == (
            f"nnsweep: error: {link} is a symbolic link; nnsweep does not "
            "write through links in its run, sweep and report directories: "
            "remove it and rerun"
        ), result.stderr[-2000:]
