"""A trial log edited by hand does not outrank the runs: each trial's objective is read from its
run's summary.json, and entries the sweeper can rebuild (params, copy_of) are rebuilt with one
warning line, never a traceback."""
import json
import shutil

import pytest
import yaml

from runrecord import RunDir
from tests.experiments.conftest import run_module

SEARCH = ["-m", "hydra/sweeper=nnsweep", "optimizer.lr=interval(0.05, 0.5)", "net=mlp", "net.hidden=[16]",
          "data.train_limit=300", "trainer.progress=false", "trainer.epochs=1"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A real 3-trial TPE search of one epoch each (about 10 s), copied by each test."""
    root = tmp_path_factory.mktemp("search")
    result = run_module("experiments.train", *SEARCH, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={root / 's'}",
                        cwd=root)
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
    return run_module("experiments.train", *SEARCH, f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={sweep}",
                      cwd=sweep.parent)


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("nnsweep: warning:")]


def test_a_hand_raised_objective_does_not_choose_the_best(finished, tmp_path):
    """Trial 0's objective raised to 0.999: the results still name the run with the best
    recorded accuracy, and best_value is that run's best_val_acc."""
    sweep = edited(finished, tmp_path, lambda trials: trials[0].update(objective=0.999))
    result = rerun(sweep)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    recorded = {t["run_dir"]: RunDir(sweep / t["run_dir"]).read_summary().best_val_acc
                for t in json.loads((finished / "trials.json").read_text())["trials"]}
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(recorded.values()) == results["best_val_acc"]
    assert recorded[results["best_run_dir"]] == results["best_value"]
    [warning] = warnings(result.stderr)
    assert "trials.json disagrees with the runs' records (trial 0: 0.999 logged" in warning


@pytest.mark.parametrize("edit, fragment", [
    (lambda trials: trials[1].update(params={}), "params of trials [1] rebuilt from their points"),
    (lambda trials: trials[1].update(copy_of=99), "copy_of of trials 1 (copy_of 99) names no earlier trial"),
], ids=["empty-params", "dangling-copy-of"])
def test_malformed_trial_entries_are_one_warning_not_a_traceback(finished, tmp_path, edit, fragment):
    """The search continues past them (one more trial), and the report draws the trials."""
    sweep = edited(finished, tmp_path, edit)
    result = rerun(sweep, n_trials=4)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert [w for w in warnings(result.stderr) if fragment in w] and len(warnings(result.stderr)) == 1
    assert len(json.loads((sweep / "trials.json").read_text())["trials"]) == 4
    report = run_module("reports", str(sweep), "--force", cwd=tmp_path)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert (sweep / "report" / "trials_parallel.png").exists()
