"""Warm start (hydra.sweeper.warm_start): which earlier trials an engine is told, what it is told,
that their runs are not trained again, and that a resumed warm search replays exactly."""

import json
from pathlib import Path

import pytest
import yaml

from nnsweep.runrecord.names import LABEL_KEYS
from nnsweep.sweeps.engines import make_engine
from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.search_space import Dimension, SearchSpace
from nnsweep.sweeps.settings import SweeperSettings
from nnsweep.sweeps.trials import WarmTrial
from nnsweep.sweeps.warm_start import check_points, flatten, in_dimension, resolved, sweep_dirs
from tests.sweeps.test_skopt_sweeper import SPACE
from tests.sweeps.test_skopt_sweeper import sweep as quadratic_sweep

REPO = Path(__file__).resolve().parents[2]
QUADRATIC = SearchSpace(
    ["x", "y", "name"],
    [Dimension("x", "real", 0.0, 1.0), Dimension("y", "int", 0, 3), Dimension("name", "choice", choices=("a", "b"))],
    [],
)
EARLIER = [[0.1, 1, "a"], [0.5, 2, "b"], [0.3, 0, "a"], [0.9, 3, "b"], [0.25, 1, "b"], [0.7, 2, "a"]]
TOLD = [0.05, 1.54, 1.0, 4.36, 0.5025, 1.16]  # -(objective): -((x-0.3)^2 + (y-1)^2 + 0.5 [name b])


def sweep(tmp_path, name, *extra, env=None, space=SPACE):
    """A search of the quadratic app (``tests.sweeps.test_skopt_sweeper``) with nnsweep's sweeper."""
    return quadratic_sweep(
        tmp_path, name, "hydra.sweeper.live_report=false", *extra, env=env, sweeper="nnsweep", space=space
    )


def log_of(tmp_path, name):
    return json.loads((tmp_path / name / "trials.json").read_text())


def test_a_list_or_a_comma_text_names_the_sweeps_and_only_model_based_engines_take_them():
    assert sweep_dirs(None) == () and sweep_dirs("a, b") == ("a", "b") and sweep_dirs(["a", "b/c"]) == ("a", "b/c")
    assert SweeperSettings.checked(engine="gp", warm_start="a").warm_start == ("a",)
    for engine in ("random", "grid"):
        with pytest.raises(SweepError, match=f"the {engine} engine learns nothing from told trials"):
            SweeperSettings.checked(engine=engine, warm_start=["a"])


def test_a_recorded_value_belongs_to_a_dimension_only_inside_it():
    real, integer, choice = QUADRATIC.dimensions
    assert in_dimension(real, 0) == 0.0 and in_dimension(real, 1.0) == 1.0 and in_dimension(real, 1.01) is None
    assert in_dimension(integer, 2.0) == 2 and isinstance(in_dimension(integer, 2.0), int)
    assert in_dimension(integer, 2.5) is None and in_dimension(integer, True) is None
    assert in_dimension(choice, "b") == "b" and in_dimension(choice, "c") is None
    assert flatten({"net": {"hidden": [100, 10], "arch": "mlp"}, "seed": 0}) == {
        "net.hidden.0": 100,
        "net.hidden.1": 10,
        "net.arch": "mlp",
        "seed": 0,
    }


@pytest.mark.parametrize("method", ["gp", "tpe"])
def test_the_engine_is_told_the_earlier_points_and_counts_them_among_its_initial_ones(method):
    """Told 6 earlier trials with n_initial_points=5, the engine has no random points left: its first
    ask is the model's. Told the same, two engines propose the same points (a resume replays)."""

    def engine():
        made = make_engine(QUADRATIC, method, n_initial_points=5, seed=3, direction="maximize")
        made.tell_earlier([list(p) for p in EARLIER], TOLD)
        return made

    first, second = engine(), engine()
    if method == "gp":
        assert first.opt.Xi == EARLIER and first.opt.yi == TOLD and first.opt._n_initial_points == -1
        assert first.opt.models, "the Gaussian process is fitted on the told points before the first ask"
    else:
        trials = first.study.trials
        assert [t.state.name for t in trials] == ["COMPLETE"] * 6 and [t.value for t in trials] == TOLD
        assert [[t.params[n] for n in QUADRATIC.names] for t in trials] == EARLIER
    assert first.ask(3) == second.ask(3)
    assert first.pending == [0, 1, 2]  # asked points are numbered from 0: the earlier ones are not this search's


@pytest.mark.slow
def test_a_warm_search_is_told_the_earlier_trials_in_its_space_and_trains_only_new_points(tmp_path):
    earlier = sweep(tmp_path, "earlier", "hydra.sweeper.engine=gp", "hydra.sweeper.n_trials=8", "hydra.sweeper.seed=1")
    assert earlier.returncode == 0, earlier.stderr[-2000:]
    before = log_of(tmp_path, "earlier")["trials"]
    narrower = ["x=interval(0, 0.5)", "y=int(interval(0, 3))", "name=choice(a, b)"]
    log = tmp_path / "warm.log"
    common = ["hydra.sweeper.engine=gp", "hydra.sweeper.n_trials=4", f"hydra.sweeper.warm_start={tmp_path / 'earlier'}"]
    warm = sweep(tmp_path, "warm", *common, env={"QUADRATIC_LOG": str(log)}, space=narrower)
    assert warm.returncode == 0, warm.stderr[-2000:]
    inside = [t for t in before if t["point"][0] <= 0.5]
    assert 0 < len(inside) < 8, "the test needs earlier trials on both sides of x = 0.5"
    recorded = log_of(tmp_path, "warm")
    assert [(w["point"], w["told"], w["run_dirs"]) for w in recorded["warm_start"]] == [
        (t["point"], t["told"], [t["run_dir"]]) for t in inside
    ]
    assert recorded["settings"]["warm_start"] == [str((tmp_path / "earlier").resolve())]
    said = warm.stdout + warm.stderr
    failed = sum(t["status"] == "failed" for t in before)  # x > 0.95: the task's divergence
    assert f"{len(inside)} of 8 trials told (" in said and f"{failed} not: it did not end with a value" in said
    assert f"{8 - len(inside) - failed} not: its x lies outside this search's space" in said
    assert len(log.read_text().splitlines()) == 4 and len(recorded["trials"]) == 4  # the earlier runs not retrained
    results = yaml.safe_load((tmp_path / "warm" / "optimization_results.yaml").read_text())
    best = max(inside, key=lambda t: t["objective"])
    assert results["n_trials"] == 4 and results["warm_start"]["trials_told"] == len(inside)
    assert results["warm_start"]["best_value"] == best["objective"]
    assert results["warm_start"]["best_run_dir"] == str((tmp_path / "earlier" / best["run_dir"]).resolve())

    # Killed after its first new trial and run again, it tells the same earlier trials (from its log)
    # and proposes the same points as the uninterrupted search.
    cut_log = tmp_path / "cut.log"
    killed = sweep(
        tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(cut_log), "QUADRATIC_DIE_AT": "3"}, space=narrower
    )
    assert killed.returncode == 137
    resumed = sweep(tmp_path, "cut", *common, env={"QUADRATIC_LOG": str(cut_log)}, space=narrower)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    strip = lambda log: [(t["point"], t["told"]) for t in log["trials"]]
    assert strip(log_of(tmp_path, "cut")) == strip(recorded)
    assert log_of(tmp_path, "cut")["warm_start"] == recorded["warm_start"]

    # A setting outside the space that differs (the seed) makes every earlier trial another experiment.
    other = sweep(tmp_path, "other", *common[:2], f"hydra.sweeper.warm_start={tmp_path / 'earlier'}", "seed=1")
    assert other.returncode == 0, other.stderr[-2000:]
    said = other.stdout + other.stderr
    assert f"0 of 8 trials told ({8 - failed} not: it was trained otherwise (seed is 0 there, 1 here)" in said
    assert "warm_start" not in log_of(tmp_path, "other")

    # Another warm start in the same directory is another sweep.
    again = sweep(tmp_path, "warm", "hydra.sweeper.engine=gp", "hydra.sweeper.n_trials=5", space=narrower)
    assert again.returncode != 0 and "other settings (warm_start differ)" in again.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "source, fragment",
    [
        ("missing", "holds no search's trial log (trials.json)"),
        ("self", "names this sweep itself"),
    ],
)
def test_a_warm_start_from_what_is_not_an_earlier_search_is_one_line(tmp_path, source, fragment):
    target = tmp_path / ("s" if source == "self" else "nowhere")
    result = sweep(
        tmp_path, "s", "hydra.sweeper.engine=tpe", "hydra.sweeper.n_trials=2", f"hydra.sweeper.warm_start={target}"
    )
    assert result.returncode != 0 and fragment in result.stderr, result.stderr[-2000:]  # nnsweep train: 2
    assert "Traceback" not in result.stderr


def test_older_runs_lists_and_whole_numbers_are_read_as_the_points_they_are(tmp_path):
    """An earlier run recorded before trainer.flip existed (it ran as flip=false), with another
    label for its images, a rate 1 written 1.0 and a choice of lists: a point of this search,
    trained the same way."""
    from nnsweep.runrecord import RunDir
    from nnsweep.sweeps.warm_start import _Reader

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    recorded = {"optimizer": {"lr": 1.0}, "net": {"hidden": [30], "arch": "mlp"}, "data": {"noun": "digit"}}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(recorded))
    space = SearchSpace(
        ["optimizer.lr", "net.hidden"],
        [
            Dimension("optimizer.lr", "choice", choices=(1, 0.1)),
            Dimension("net.hidden", "choice", choices=([10], [30])),
        ],
        [],
    )
    composed = {"optimizer": {"lr": 1}, "net": {"hidden": [30], "arch": "mlp"}, "data": {"noun": "image"}}
    reader = _Reader(space, lambda overrides: {**composed, "trainer": {"flip": False}}, set(LABEL_KEYS))
    point = reader.point(RunDir(run), recorded)
    assert point == [1, [30]] and reader.difference(recorded, point) is None
    composed["optimizer"]["momentum"] = 0.9  # another optimizer's setting: another experiment
    reader = _Reader(space, lambda overrides: composed, set(LABEL_KEYS))
    assert reader.difference(recorded, point) == "optimizer.momentum is (absent) there, 0.9 here"


def test_bad_warm_start_values_and_records_are_one_line(tmp_path):
    with pytest.raises(SweepError, match=r"takes a sweep directory or a list of them \(warm_start=\[a,b\]\), got 5"):
        sweep_dirs(5)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SweepError, match="cannot be followed"):
        resolved(str(loop / "x"))
    told = WarmTrial(str(tmp_path), ["0"], [5.0, 1, "a"], 0.5, -0.5)  # x = 5 lies outside [0, 1]
    with pytest.raises(SweepError, match=r"warm_start entry 0 holds \[5.0, 1, 'a'\], not a point of this search"):
        check_points([told], QUADRATIC, tmp_path / "trials.json")
    check_points([WarmTrial(str(tmp_path), ["0"], [0.5, 1, "a"], 0.5, -0.5)], QUADRATIC, tmp_path / "trials.json")
