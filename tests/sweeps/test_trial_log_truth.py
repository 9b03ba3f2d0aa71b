"""A trial log edited by hand does not outrank the runs: each trial's objective is read from its
run's summary.json, and entries the sweeper can rebuild (params, copy_of) are rebuilt with one
warning line, never a traceback."""

import json
import shutil

import pytest
import yaml

from nnsweep.runrecord import RunDir
from tests.experiments.conftest import run_module

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

SEARCH = [
    "-m",
    "hydra/sweeper=nnsweep",
    "optimizer.lr=interval(0.05, 0.5)",
    "net=mlp",
    "net.hidden=[16]",
    "data.train_limit=300",
    "trainer.progress=false",
    "trainer.epochs=1",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A real 3-trial TPE search of one epoch each (about 10 s), copied by each test."""
    root = tmp_path_factory.mktemp("search")
    result = run_module(
        "nnsweep.experiments.train", *SEARCH, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={root / 's'}", cwd=root
    )
    assert result.returncode == 0, result.stderr
    return root / "s"


def edited(finished, tmp_path, edit):
    sweep = tmp_path / "s"
    shutil.copytree(finished, sweep)
    log = json.loads((sweep / "trials.json").read_text())
    edit(log["trials"])
    (sweep / "trials.json").write_text(json.dumps(log))
    return sweep


def rerun(sweep, n_trials=3):
    return run_module(
        "nnsweep.experiments.train",
        *SEARCH,
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweep.dir={sweep}",
        cwd=sweep.parent,
    )


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("nnsweep: warning:")]


def test_a_hand_raised_objective_does_not_choose_the_best(finished, tmp_path):
    """Trial 0's objective raised to 0.999: the results still name the run with the best
    recorded accuracy, and best_value is that run's best_val_acc."""
    sweep = edited(finished, tmp_path, lambda trials: trials[0].update(objective=0.999))
    result = rerun(sweep)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    recorded = {
        t["run_dir"]: RunDir(sweep / t["run_dir"]).read_summary().best_val_acc
        for t in json.loads((finished / "trials.json").read_text())["trials"]
    }
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(recorded.values()) == results["best_val_acc"]
    assert recorded[results["best_run_dir"]] == results["best_value"]
    [warning] = warnings(result.stderr)
    assert "trials.json disagrees with the runs' records (trial 0: 0.999 logged" in warning


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda trials: trials[1].update(params={}), "params of trials [1] rebuilt from their points"),
        (lambda trials: trials[1].update(copy_of=99), "copy_of of trials 1 (copy_of 99) names no earlier trial"),
    ],
    ids=["empty-params", "dangling-copy-of"],
)
def test_malformed_trial_entries_are_one_warning_not_a_traceback(finished, tmp_path, edit, fragment):
    """The search continues past them (one more trial), and the report draws the trials."""
    sweep = edited(finished, tmp_path, edit)
    result = rerun(sweep, n_trials=4)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert [w for w in warnings(result.stderr) if fragment in w] and len(warnings(result.stderr)) == 1
    assert len(json.loads((sweep / "trials.json").read_text())["trials"]) == 4
    report = run_module("nnsweep.reports", str(sweep), "--force", cwd=tmp_path)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert (sweep / "report" / "trials_parallel.png").exists()


RANDOM = [
    "-m",
    "hydra/sweeper=nnsweep",
    "hydra.sweeper.engine=random",
    "optimizer.lr=tag(log, interval(0.01, 3))",
    "net=mlp",
    "net.hidden=[16]",
    "data.train_limit=300",
    "trainer.progress=false",
    "trainer.epochs=1",
    "hydra.sweeper.n_trials=3",
    "hydra.sweeper.batch_size=1",
    "hydra.sweeper.live_report=false",
]


@pytest.fixture(scope="module")
def random_search(tmp_path_factory):
    """A real 3-trial random search, one trial a round (each trial told in its own round)."""
    root = tmp_path_factory.mktemp("random")
    result = run_module("nnsweep.experiments.train", *RANDOM, f"hydra.sweep.dir={root / 's'}", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "s"


def swap_run_dirs(a: dict, b: dict) -> None:
    a["run_dir"], b["run_dir"] = b["run_dir"], a["run_dir"]


def recorded_lr(run: RunDir) -> float:
    return float(next(o for o in run.defining_overrides() if o.startswith("optimizer.lr=")).partition("=")[2])


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (
            lambda sweep, trials: trials[2].update(run_dir="../../x", objective=0.999),
            "trial 2: run_dir '../../x' is not a path inside the sweep directory",
        ),
        (lambda sweep, trials: shutil.rmtree(sweep / trials[0]["run_dir"]), "trial 0: its run "),
        (lambda sweep, trials: swap_run_dirs(trials[0], trials[1]), "trial 0: its run "),
    ],
    ids=["run-dir-out-of-the-sweep", "run-deleted", "run-dirs-swapped"],
)
def test_a_trial_its_runs_do_not_back_counts_as_not_recorded(random_search, tmp_path, damage, fragment):
    """A run_dir out of the sweep with a raised objective gave best_value 0.999 and
    best_run_dir ../../x silently; a deleted run's logged value was trusted; two swapped run_dirs
    gave best_params of one run beside the run dir of another. Now one warning, the damaged
    trial is asked and trained again (finished runs reused), and the results' params, run dir and
    value all come from one run record."""
    sweep = tmp_path / "s"
    shutil.copytree(random_search, sweep)
    log = json.loads((sweep / "trials.json").read_text())
    original = {t["run_dir"]: t["point"][0] for t in log["trials"]}
    damage(sweep, log["trials"])
    (sweep / "trials.json").write_text(json.dumps(log))
    result = run_module("nnsweep.experiments.train", *RANDOM, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [warning] = warnings(result.stderr)
    assert fragment in warning and "count as not recorded" in warning, warning
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best = RunDir(sweep / results["best_run_dir"])
    assert results["best_run_dir"] in original and (sweep / results["best_run_dir"]).resolve().parent == sweep.resolve()
    assert results["best_value"] == best.read_summary().best_val_acc == results["best_val_acc"]
    assert results["best_params"]["optimizer.lr"] == pytest.approx(recorded_lr(best), rel=1e-9)
    repaired = json.loads((sweep / "trials.json").read_text())["trials"]
    assert {t["run_dir"]: t["point"][0] for t in repaired} == original  # the same points, each with its own run
    for trial in repaired:
        assert trial["objective"] == RunDir(sweep / trial["run_dir"]).read_summary().best_val_acc


def test_the_log_is_cut_before_a_damaged_trial_where_every_trial_asked_was_told():
    """A pruned trial asked in one round and told in a later one is not kept half-way: the cut
    falls where every trial asked so far was told, so the rounds kept replay as they were."""
    from nnsweep.sweeps.trial_runs import up_to_first_damage
    from nnsweep.sweeps.trials import Round, Trial, TrialLog

    trials = [Trial(n) for n in range(4)]
    rounds = [Round([0, 1], [(0, 1), (1, 1)], [1]), Round([2], [(0, 3), (2, 1)], [0, 2]), Round([3], [(3, 1)], [3])]
    log = TrialLog({"names": ["x"]}, trials, rounds, {"k": 1})
    late = up_to_first_damage(log, {3: "gone"})
    assert (late.trials, late.rounds, late.crashes) == (trials[:3], rounds[:2], {"k": 1})
    early = up_to_first_damage(log, {2: "gone"})  # round 0 left trial 0 paused: nothing is kept
    assert (early.trials, early.rounds) == ([], [])
