"""``nnsweep export-optuna``: every run of a sweep as a trial of an Optuna study, checked against
runs.csv and epochs.csv; a foreign study is never replaced; optuna-dashboard shows the study."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from nnsweep.export_optuna import export
from tests.browser import needs_browser, start_browser, wait_until
from tests.experiments.conftest import run_module

STATES = {
    "ok": optuna.trial.TrialState.COMPLETE,
    "diverged": optuna.trial.TrialState.COMPLETE,
    "pruned": optuna.trial.TrialState.PRUNED,
    "failed": optuna.trial.TrialState.FAIL,
    "running": optuna.trial.TrialState.RUNNING,
}


@pytest.fixture
def hand_sweep(tmp_path):
    """Five runs of an lr grid, one of each status, with their epochs (no trial log)."""
    sweep = tmp_path / "grid"
    sweep.mkdir()
    lrs = [0.01, 0.1, 1.0, 10.0, 0.03]
    statuses = ["ok", "pruned", "diverged", "failed", "running"]
    curves = [[0.5, 0.7, 0.8], [0.3, 0.25], [0.6, float("nan")], [], [0.4]]
    runs, epochs = [], []
    for lr, status, curve in zip(lrs, statuses, curves):
        name = f"optimizer.lr={lr}"
        best = np.nanmax(curve) if curve and status in ("ok", "diverged") else float("nan")
        runs.append(
            {
                "run": name,
                "optimizer.lr": lr,
                "lr": lr,
                "seed": 0,
                "status": status,
                "best_val_acc": best,
                "test_acc": 0.9 if status == "ok" else float("nan"),
                "epochs_completed": len(curve),
                "val_size": 500,
            }
        )
        epochs += [{"run": name, "epoch": e + 1, "val_acc": v} for e, v in enumerate(curve)]
    pd.DataFrame(runs).to_csv(sweep / "runs.csv", index=False)
    pd.DataFrame(epochs).to_csv(sweep / "epochs.csv", index=False)
    return sweep


def test_every_run_is_a_trial_as_its_tables_say(hand_sweep):
    storage, name, count = export(hand_sweep)
    assert (name, count) == ("grid", 5) and storage.endswith("grid/optuna.db")
    study = optuna.load_study(study_name=name, storage=storage)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    runs = pd.read_csv(hand_sweep / "runs.csv").set_index("run")
    for trial in study.trials:
        row = runs.loc[trial.user_attrs["run_dir"]]
        assert trial.state == STATES[row["status"]] and trial.user_attrs["status"] == row["status"]
        assert trial.params == {"optimizer.lr": row["optimizer.lr"]}
        lr = trial.distributions["optimizer.lr"]
        assert (lr.low, lr.high, lr.log) == (0.01, 10.0, True)  # the values tried span three decades
        assert trial.user_attrs["seed"] == 0
    by_status = {t.user_attrs["status"]: t for t in study.trials}
    assert by_status["ok"].value == 0.8 and by_status["ok"].intermediate_values == {1: 0.5, 2: 0.7, 3: 0.8}
    assert by_status["ok"].user_attrs["test_acc"] == 0.9
    # pruned: at its objective so far when it stopped (the best of 0.3, 0.25)
    assert by_status["pruned"].value == 0.3 and by_status["pruned"].intermediate_values == {1: 0.3, 2: 0.3}
    assert by_status["diverged"].value == 0.6 and by_status["diverged"].intermediate_values == {1: 0.6, 2: 0.6}
    assert by_status["failed"].value is None and by_status["running"].value is None


def test_a_second_export_replaces_its_own_study_and_never_another(hand_sweep, tmp_path):
    storage, name, _ = export(hand_sweep)
    export(hand_sweep)
    assert len(optuna.get_all_study_summaries(storage)) == 1
    other = tmp_path / "other.db"
    optuna.create_study(study_name="grid", storage=f"sqlite:///{other}")
    result = run_module("nnsweep", "export-optuna", str(hand_sweep), "--storage", f"sqlite:///{other}")
    assert result.returncode == 2 and "written by something other than" in result.stderr
    assert "left alone" in result.stderr and "Traceback" not in result.stderr
    assert optuna.load_study(study_name="grid", storage=f"sqlite:///{other}").trials == []


def test_a_link_at_the_default_database_is_refused(hand_sweep, tmp_path):
    victim = tmp_path / "victim.db"
    (hand_sweep / "optuna.db").symlink_to(victim)
    result = run_module("nnsweep", "export-optuna", str(hand_sweep))
    assert result.returncode == 2 and "symbolic link" in result.stderr and not victim.exists()


def test_a_search_exports_its_recorded_space():
    from nnsweep.export_optuna import recorded_bounds

    assert recorded_bounds("Real(low=0.01, high=10.0, prior='log-uniform', transform='identity')") == (0.01, 10.0)
    assert recorded_bounds("Integer(low=4, high=64, prior='uniform', transform='identity')") == (4.0, 64.0)
    assert recorded_bounds("real(0.01, 10.0, log)") == (0.01, 10.0)
    assert recorded_bounds("choice(['0.1', '1'])") is None


def test_a_sweep_without_tables_is_one_line(tmp_path):
    result = run_module("nnsweep", "export-optuna", str(tmp_path))
    assert result.returncode == 2 and "nnsweep collect" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_pruned_search_exported_matches_its_runs(tmp_path):
    from tests.reliability.conftest import TINY

    sweep = tmp_path / "search"
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=random",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.batch_size=2",
        "hydra.sweeper.live_report=false",
        "hydra.sweeper.pruner.method=asha",
        "optimizer.lr=tag(log, interval(0.01, 3.0))",
        "net.hidden.0=int(interval(4, 32))",
        *TINY,
        "trainer.epochs=4",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    storage, name, count = export(sweep)
    study = optuna.load_study(study_name=name, storage=storage)
    runs = pd.read_csv(sweep / "runs.csv").set_index("run")
    epochs = pd.read_csv(sweep / "epochs.csv")
    assert count == len(runs) == 6
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    for trial in study.trials:
        row = runs.loc[trial.user_attrs["run_dir"]]
        assert trial.params["optimizer.lr"] == pytest.approx(row["optimizer.lr"])
        assert trial.params["net.hidden.0"] == row["net.hidden.0"]
        lr, hidden = trial.distributions["optimizer.lr"], trial.distributions["net.hidden.0"]
        assert lr.log and (lr.low, lr.high) == (0.01, 3.0)  # the space searched, not only the values tried
        assert not hidden.log and (hidden.low, hidden.high) == (4, 32)
        mine = epochs[epochs["run"] == row.name]["val_acc"].cummax().tolist()
        assert list(trial.intermediate_values.values()) == pytest.approx(mine)
        assert trial.value == pytest.approx(mine[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@needs_browser
def test_optuna_dashboard_shows_the_exported_trials(hand_sweep):
    storage, name, _ = export(hand_sweep)
    port = free_port()
    server = subprocess.Popen(
        [
            Path(sys.executable).parent / "optuna-dashboard",
            storage,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = None
    try:
        url = f"http://127.0.0.1:{port}"

        def up():
            try:
                return urllib.request.urlopen(f"{url}/api/studies", timeout=1).status == 200
            except OSError:
                return False

        wait_until(up, 30, "optuna-dashboard to answer", every=0.2)
        browser = start_browser()
        browser.get(f"{url}/dashboard/studies/1/trials")
        text = wait_until(
            lambda: (lambda t: t if "optimizer.lr=0.01" in t else None)(browser.find_element("tag name", "body").text),
            30,
            "the trial list to show the runs",
            every=0.2,
        )
        assert name in text and "Trial 4" in text  # five trials, numbered 0 to 4
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=10)
        time.sleep(0)
