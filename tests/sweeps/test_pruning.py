"""Pruned searches: the successive-halving rule worked by hand, a kill -9 mid-rung, the launchers.

Most tests use ``rung_app.py``, whose objective after 1, 3 and 9 epochs is a known table, so the
pruner's decisions can be checked against a hand-worked example in seconds; one trains real
networks through the joblib and submitit launchers.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnsweep.runrecord import RunDir, find_runs
from nnsweep.sweeps.pruning import Pruner, PruningError, survivors

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

REPO = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("rung_app.py")
BY_POINT = [
    "hydra.sweep.subdir=${hydra.job.override_dirname}",
    "hydra.job.config.override_dirname.exclude_keys=[trainer.pause_after]",
]
ASHA = [
    "hydra.sweeper.pruner.method=asha",
    "hydra.sweeper.pruner.min_epochs=1",
    "hydra.sweeper.pruner.reduction_factor=3",
]


def rung_sweep(sweep_dir: Path, *args: str, env: dict | None = None, background: bool = False):
    command = [sys.executable, str(APP), "-m", "hydra/launcher=basic", f"hydra.sweep.dir={sweep_dir}", *BY_POINT, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    if background:
        return subprocess.Popen(
            command,
            cwd=sweep_dir.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return subprocess.run(command, cwd=sweep_dir.parent, env=env, capture_output=True, text=True, timeout=300)


def trials(sweep_dir: Path) -> list[dict]:
    return json.loads((sweep_dir / "trials.json").read_text())["trials"]


def decisions(sweep_dir: Path) -> dict:
    """x -> (status, epochs reached, [(rung epochs, value, kept), ...])."""
    return {
        float(t["params"]["x"]): (t["status"], t["epochs"], [(r["epochs"], r["value"], r["kept"]) for r in t["rungs"]])
        for t in trials(sweep_dir)
    }


# ----- the rule ------------------------------------------------------------------------------
def test_rungs_are_min_epochs_times_powers_of_eta_below_the_last_epoch():
    assert Pruner("asha", 1, 3).rungs(27) == [1, 3, 9]
    assert Pruner("asha", 1, 3).rungs(10) == [1, 3, 9]
    assert Pruner("asha", 2, 2).rungs(16) == [2, 4, 8]
    assert Pruner().rungs(27) == [] and Pruner().settings() is None
    with pytest.raises(PruningError, match="min_epochs=5 leaves nothing to prune with trainer.epochs=5"):
        Pruner("asha", 5, 3).rungs(5)
    with pytest.raises(PruningError, match="reduction_factor must be at least 2"):
        Pruner("asha", 1, 1)


def test_the_top_max_1_n_over_eta_continue_ties_included():
    # n = 2 < eta: only the best; n = 6: the top 2; a tie with the 2nd best continues too.
    assert survivors({0: 0.5, 1: 0.8}, [0, 1], 3) == {1}
    assert survivors({0: 0.5, 1: 0.8, 2: 0.3, 3: 0.6, 4: 0.7, 5: 0.2}, [4, 5], 3) == {4}
    assert survivors({0: 0.5, 1: 0.8, 2: 0.7, 3: 0.6, 4: 0.7, 5: 0.2}, [2, 4], 3) == {2, 4}
    assert survivors({0: 0.5, 1: 0.8, 2: 0.3}, [0, 1, 2], 3, maximize=False) == {2}
    assert survivors({0: None, 1: 0.1}, [0, 1], 3) == {1}  # no value: pruned, not counted


# ----- a pruned grid, by hand ------------------------------------------------------------------
# rung_app.VALUES, the objective after 1 / 3 / 9 epochs:
#   x=0 .50 .60 .70   x=3 .60 .85 .88   x=6 .65 .90 .95
#   x=1 .80 .82 .83   x=4 .70 .75 .80   x=7 .10 .10 .10
#   x=2 .30 .70 .90   x=5 .20 .30 .40   x=8 .55 .58 .60
# max_batch_size=2: two new points a round, or more while kept trials train longer rungs (the
# epochs they leave free on 2 workers: 2 * longest - sum); rungs at 1 and 3 epochs, eta 3:
#   round 1: x=0, x=1 reach epoch 1; n=2 -> keep the best: 1 (0 pruned)
#   round 2: x=1 -> 3 epochs (2 epochs: 2*2-2 = 2 free, two new); alone at rung 3: kept;
#            x=2, x=3 at 1: n=4, top 1 is .8: pruned
#   round 3: x=1 -> 9 epochs (6: 2*6-6 = 6 free, the 5 points left); x=1 done, .83;
#            x=4..8 at 1: n=9, top 3 (.8, .7, .65): 4 and 6 kept, 5, 7, 8 pruned
#   round 4: x=4, x=6 -> 3 epochs: n=3 at rung 3 (.82, .75, .90), top 1: 6 kept, 4 pruned
#   round 5: x=6 -> 9 epochs: done, .95
# The slow starter x=6 survives because it was judged at rung 1 among 9, not among 2: with one new
# point a round (Optuna's order) it would have been pruned at .65 < .7.
BY_HAND_BATCH_2 = {
    0: ("pruned", 1, [(1, 0.5, False)]),
    1: ("ok", 9, [(1, 0.8, True), (3, 0.82, True)]),
    2: ("pruned", 1, [(1, 0.3, False)]),
    3: ("pruned", 1, [(1, 0.6, False)]),
    4: ("pruned", 3, [(1, 0.7, True), (3, 0.75, False)]),
    5: ("pruned", 1, [(1, 0.2, False)]),
    6: ("ok", 9, [(1, 0.65, True), (3, 0.9, True)]),
    7: ("pruned", 1, [(1, 0.1, False)]),
    8: ("pruned", 1, [(1, 0.55, False)]),
}


def test_a_pruned_grid_decides_as_worked_out_by_hand(tmp_path):
    log = tmp_path / "epochs.log"
    result = rung_sweep(
        tmp_path / "g",
        "hydra/sweeper=grid",
        "x=range(0,9)",
        "hydra.sweeper.max_batch_size=2",
        *ASHA,
        env={"RUNG_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert decisions(tmp_path / "g") == BY_HAND_BATCH_2
    assert len(log.read_text().splitlines()) == 2 + 4 + 11 + 4 + 6  # epochs trained, round by round
    rounds = json.loads((tmp_path / "g" / "trials.json").read_text())["rounds"]
    assert [r["trained"] for r in rounds] == [
        [[0, 1], [1, 1]],
        [[1, 3], [2, 1], [3, 1]],
        [[1, 9], [4, 1], [5, 1], [6, 1], [7, 1], [8, 1]],
        [[4, 3], [6, 3]],
        [[6, 9]],
    ]
    assert [r["told"] for r in rounds] == [[0], [2, 3], [1, 5, 7, 8], [4], [6]]
    runs = pd.read_csv(tmp_path / "g" / "runs.csv").set_index("x")
    assert runs.loc[6, "status"] == "ok" and runs.loc[6, "rung"] == 2 and runs.loc[6, "epochs_completed"] == 9
    assert runs.loc[4, "status"] == "pruned" and runs.loc[4, "rung"] == 1 and runs.loc[4, "epochs_completed"] == 3
    assert (runs.drop(index=[1, 4, 6])["rung"] == 0).all()
    statuses = {RunDir(r.path).read_summary().status.value for r in find_runs(tmp_path / "g")}
    assert statuses == {"ok", "pruned"}  # the runs' own records say so too


def test_a_whole_grid_in_one_round_is_synchronous_successive_halving(tmp_path):
    log = tmp_path / "epochs.log"
    result = rung_sweep(tmp_path / "g", "hydra/sweeper=grid", "x=range(0,9)", *ASHA, env={"RUNG_LOG": str(log)})
    assert result.returncode == 0, result.stderr[-3000:]
    got = decisions(tmp_path / "g")
    # Rung 1: the top 3 of 9 (.80, .70, .65); rung 3: the top 1 of those 3 (x=6, .90).
    assert {x for x, d in got.items() if d[2][0][2]} == {1, 4, 6}
    assert got[6] == ("ok", 9, [(1, 0.65, True), (3, 0.90, True)])
    assert got[1][:2] == got[4][:2] == ("pruned", 3)
    assert len(log.read_text().splitlines()) == 9 * 1 + 3 * 2 + 1 * 6


# ----- kill -9 in the middle of a rung -----------------------------------------------------------
@pytest.mark.parametrize("engine", ["grid", "tpe"])
def test_a_kill_9_mid_rung_and_a_rerun_give_the_same_pruned_set_and_points(tmp_path, engine):
    space = (
        ["hydra/sweeper=grid", "x=range(0,9)", "hydra.sweeper.max_batch_size=2"]
        if engine == "grid"
        else [
            "hydra/sweeper=nnsweep",
            "hydra.sweeper.engine=tpe",
            "x=interval(0, 1)",
            "hydra.sweeper.n_trials=9",
            "hydra.sweeper.n_initial_points=3",
            "hydra.sweeper.batch_size=2",
        ]
    )
    whole = rung_sweep(tmp_path / "whole", *space, *ASHA)
    assert whole.returncode == 0, whole.stderr[-3000:]
    log = tmp_path / "epochs.log"
    proc = rung_sweep(
        tmp_path / "cut", *space, *ASHA, env={"RUNG_LOG": str(log), "RUNG_SLEEP": "0.15"}, background=True
    )
    try:
        # Kill once two rounds are recorded and a job is between two epochs of its rung.
        deadline = time.time() + 120
        while time.time() < deadline:
            record = tmp_path / "cut" / "trials.json"
            rounds = json.loads(record.read_text())["rounds"] if record.exists() else []
            if len(rounds) >= 2 and mid_rung(tmp_path / "cut"):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the sweep never got into a rung of more than one epoch after two rounds")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert mid_rung(tmp_path / "cut", live=False)  # the kill left a run half-way to its rung
    again = rung_sweep(tmp_path / "cut", *space, *ASHA)
    assert again.returncode == 0, again.stderr[-3000:]
    strip = lambda ts: [(t["point"], t["status"], t["epochs"], t["rungs"], t["told"]) for t in ts]  # noqa: E731
    assert strip(trials(tmp_path / "cut")) == strip(trials(tmp_path / "whole"))
    if engine == "grid":
        assert decisions(tmp_path / "cut") == BY_HAND_BATCH_2


def mid_rung(sweep_dir: Path, live: bool = True) -> bool:
    """Whether a run of the sweep has trained some but not all epochs of its job."""
    for run in find_runs(sweep_dir):
        try:
            summary = run.read_summary()
        except Exception:
            continue
        if summary is not None and summary.status.value == "running" and (not live or run.is_live()):
            return True
    return False


# ----- clear refusals ----------------------------------------------------------------------------
def test_run_directories_named_by_job_number_are_refused(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(APP),
            "-m",
            "hydra/launcher=basic",
            "hydra/sweeper=grid",
            f"hydra.sweep.dir={tmp_path / 's'}",
            "x=0,1",
            *ASHA,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "hydra.sweep.subdir changes with the job number" in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["x=0,1", "hydra.sweeper.pruner.min_epochs=9"], "min_epochs=9 leaves nothing to prune with trainer.epochs=9"),
        (["x=0,1", "trainer.epochs=3,9"], "cannot also search trainer.epochs"),
        (["x=0,1", "hydra.sweeper.pruner.reduction_factor=1"], "reduction_factor must be at least 2"),
    ],
)
def test_settings_a_pruner_cannot_work_with_are_one_line(tmp_path, args, message):
    result = rung_sweep(tmp_path / "s", "hydra/sweeper=grid", *ASHA, *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_a_pruned_sweep_with_other_pruner_settings_is_refused_not_mixed(tmp_path):
    assert rung_sweep(tmp_path / "s", "hydra/sweeper=grid", "x=0,1", *ASHA).returncode == 0
    again = rung_sweep(tmp_path / "s", "hydra/sweeper=grid", "x=0,1", *ASHA, "hydra.sweeper.pruner.reduction_factor=2")
    assert again.returncode != 0 and "other settings (pruner differ)" in again.stderr


# ----- real training, through two launchers ------------------------------------------------------
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_real_runs_are_pruned_and_continued_from_their_checkpoints_through_a_launcher(tmp_path, launcher):
    """Pruned runs stop at epoch 1 and say so; the promoted ones are continued to epoch 3 by a
    later job and end exactly where a run trained straight to 3 epochs does."""
    if launcher == "submitit_local":
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from tests.experiments.conftest import run_module
    from tests.reliability.conftest import TINY

    sweep_dir = tmp_path / "s"
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        f"hydra/launcher={launcher}",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=random",
        "optimizer.lr=tag(log, interval(0.05, 5))",
        *TINY,
        "trainer.epochs=3",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.batch_size=2",
        *ASHA,
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["n_trials"] == 4 and 1 <= results["n_pruned"] <= 3
    assert results["epochs_trained"] < results["epochs_unpruned"] == 12
    runs = pd.read_csv(sweep_dir / "runs.csv")
    pruned, done = runs[runs["status"] == "pruned"], runs[runs["status"] == "ok"]
    assert len(pruned) == results["n_pruned"] and len(done) == 4 - len(pruned)
    assert (pruned["epochs_completed"] < 3).all() and pruned["test_acc"].isna().all()
    assert (done["epochs_completed"] == 3).all() and done["test_acc"].notna().all()
    best = done.iloc[0]
    straight = run_module(
        "nnsweep.experiments.train",
        *TINY,
        "trainer.epochs=3",
        f"optimizer.lr={best['optimizer.lr']}",
        f"hydra.run.dir={tmp_path / 'straight'}",
    )
    assert straight.returncode == 0, straight.stderr[-2000:]
    read = lambda d: pd.read_csv(d / "metrics.csv").drop(columns="seconds")  # noqa: E731
    pd.testing.assert_frame_equal(read(sweep_dir / best["run"]), read(tmp_path / "straight"))
    if launcher == "submitit_local":
        assert len(list(sweep_dir.glob(".submitit/*"))) >= 2  # submitit ran the rounds


# ----- every engine ------------------------------------------------------------------------------
def follows_the_rule(sweep_dir: Path, eta: int = 3) -> bool:
    """Recompute every recorded decision from the rounds: at the end of each round, the trials
    that reached a rung continue iff they are in the top max(1, n // eta) of all values there."""
    log = json.loads((sweep_dir / "trials.json").read_text())
    trials, seen = log["trials"], {}
    for round_ in log["rounds"]:
        reached = {}
        for number, target in round_["trained"]:
            rung = next((r for r in trials[number]["rungs"] if r["epochs"] == target), None)
            if rung is not None:
                reached.setdefault(target, []).append((number, rung))
        for target, judged in reached.items():
            values = {**seen.get(target, {}), **{n: r["value"] for n, r in judged}}
            kept = survivors(values, [n for n, _ in judged], eta)
            if any(r["kept"] != (n in kept) for n, r in judged):
                return False
            seen[target] = values
    return True


@pytest.mark.parametrize(
    "engine",
    [
        ["hydra.sweeper.engine=random", "hydra.sweeper.initial_point_generator=sobol"],
        ["hydra.sweeper.engine=gp"],
        ["hydra.sweeper.engine=et"],
        ["hydra.sweeper.engine=tpe"],
    ],
    ids=["random-sobol", "gp", "et", "tpe"],
)
def test_every_engine_prunes_by_the_rule_and_never_asks_a_pending_point_again(tmp_path, engine):
    """Points still training are pending: scikit-optimize is asked through a copy told the
    constant liar's value for them (without it, sobol's next point would repeat one)."""
    result = rung_sweep(
        tmp_path / "s",
        "hydra/sweeper=nnsweep",
        *engine,
        "x=interval(0, 1)",
        "hydra.sweeper.n_trials=10",
        "hydra.sweeper.n_initial_points=3",
        "hydra.sweeper.batch_size=2",
        *ASHA,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    points = [t["point"][0] for t in trials(tmp_path / "s")]
    assert len(points) == 10 and len(set(points)) == 10
    assert follows_the_rule(tmp_path / "s")
    assert {t["status"] for t in trials(tmp_path / "s")} <= {"ok", "pruned"}
    assert all(t["told"] == -t["objective"] for t in trials(tmp_path / "s"))  # a pruned trial: its value at its rung


# ----- defects found by a hostile review -----------------------------------------------------------
def test_a_repeated_point_trains_nothing_and_ends_as_its_original(tmp_path):
    """TPE repeats points of a three-value space; a repeat would share the original's run
    directory at another rung. It is a copy: no job, and the original's result when that ends."""
    log = tmp_path / "epochs.log"
    result = rung_sweep(
        tmp_path / "s",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=tpe",
        "x=choice(0,1,6)",
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.n_initial_points=3",
        "hydra.sweeper.batch_size=2",
        *ASHA,
        env={"RUNG_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = trials(tmp_path / "s")
    copies = [t for t in record if t.get("copy_of") is not None]
    assert copies and len({t["point"][0] for t in record}) <= 3
    for copy in copies:
        original = record[copy["copy_of"]]
        assert copy["point"] == original["point"] and original.get("copy_of") is None
        assert [copy[k] for k in ("status", "told", "epochs", "run_dir")] == [
            original[k] for k in ("status", "told", "epochs", "run_dir")
        ]
    assert {t["status"] for t in record} <= {"ok", "pruned"}
    originals = [t for t in record if t.get("copy_of") is None]
    assert len(log.read_text().splitlines()) == sum(t["epochs"] for t in originals)  # nothing trained twice
    assert follows_the_rule(tmp_path / "s")


def test_runs_further_along_than_the_record_are_refused_not_misjudged(tmp_path):
    """The advice for a damaged log is to move it away; a pruned search's runs then stand at
    rungs the new record has not reached: one line, not a quietly different search."""
    args = ["hydra/sweeper=grid", "x=range(0,9)", "hydra.sweeper.max_batch_size=2", *ASHA]
    assert rung_sweep(tmp_path / "g", *args).returncode == 0
    (tmp_path / "g" / "trials.json").rename(tmp_path / "moved.json")
    again = rung_sweep(tmp_path / "g", *args)
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "belongs to another pruned search" in again.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["hydra/sweeper=nnsweep", "x=interval(0, 1)", "trainer.pause_after=2"], "trainer.pause_after is the pruner's"),
        (
            ["hydra/sweeper=nnsweep", "hydra.sweeper.engine=grid", "x=0,1", "hydra.sweeper.n_trials=1"],
            "n_trials does not apply to the grid engine",
        ),
        (
            ["hydra/sweeper=nnsweep", "x=interval(0, 1)", "hydra.sweeper.acq_func=EI"],
            "acq_func does not apply to the tpe",
        ),
    ],
)
def test_settings_the_sweep_would_ignore_are_refused(tmp_path, args, message):
    result = rung_sweep(tmp_path / "s", *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_a_grid_through_nnsweep_is_one_round_as_through_minus_m(tmp_path):
    result = rung_sweep(tmp_path / "s", "hydra/sweeper=nnsweep", "hydra.sweeper.engine=grid", "x=range(0,9)", *ASHA)
    assert result.returncode == 0, result.stderr[-3000:]
    rounds = json.loads((tmp_path / "s" / "trials.json").read_text())["rounds"]
    assert len(rounds[0]["trained"]) == 9  # the whole grid at once: synchronous successive halving
    assert decisions(tmp_path / "s")[6][0] == "ok"


def test_a_run_that_ended_before_the_first_rung_has_no_rung(tmp_path):
    from nnsweep.core.status import Status
    from nnsweep.sweeps.collect import rungs_reached
    from nnsweep.sweeps.trials import Round, Trial, TrialLog, save

    base = {"job": 0, "point": [0], "params": {"x": 0}, "told": -0.1}
    log = TrialLog(
        {"names": ["x"], "pruner": {"rungs": [3, 9], "max_epochs": 27}},
        [
            Trial(0, **base, run_dir="a", objective=0.1, status=Status.DIVERGED, epochs=1),
            Trial(1, **base, run_dir="b", objective=0.5, status=Status.PRUNED, epochs=3),
            Trial(2, **base, run_dir="c", objective=0.9, status=Status.OK, epochs=27),
        ],
        [Round([0, 1, 2], [(0, 3), (1, 3), (2, 3)], [0, 1, 2])],
    )
    save(tmp_path, log)
    assert rungs_reached(tmp_path) == {"b": 0, "c": 2}
