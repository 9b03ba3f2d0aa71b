"""``nnsweep diff``'s logic (``nnsweep.sweeps.diff``) on sweeps written by hand: which
configurations are matched, the intervals of their differences (worked out by hand below), the
verdicts, identical runs told apart by one ulp of one weight, and the environment named first."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from nnsweep.diff import load_side
from nnsweep.nets.architectures import mlp
from nnsweep.nets.checkpoint import save_checkpoint
from nnsweep.nets.network import Network
from nnsweep.nets.train import EpochRecord
from nnsweep.runrecord import RunDir, Status, Summary
from nnsweep.runrecord import environment as run_environment
from nnsweep.runrecord.environment import Blas, Environment
from nnsweep.sweeps.comparison import Candidate, Verdict, compare_unpaired
from nnsweep.sweeps.diff import DiffError, DiffVerdict, EnvironmentChange, SettingChange, diff

T_2 = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom (tables: 4.303)
VAL_SIZE = 500  # one validation digit: 0.2 points


def environment(numpy: str) -> Environment:
    return Environment(
        "3.11.7", "linux x86_64", "Test CPU", {"numpy": numpy}, [Blas("openblas", "0.3.27", "Haswell", None)]
    )


def write_run(
    sweep: Path,
    lr: float,
    seed: int,
    val: list[float],
    optimizer: str = "sgd",
    numpy: str | None = "2.4.0",
    nudge: bool = False,
    seconds: float = 0.1,
) -> dict:
    """One run's record as training leaves it: config, metrics.csv, summary.json, model.npz (a
    4-unit MLP drawn from ``seed``; ``nudge``: its first weight one ulp up) and environment.json
    (``numpy``: its NumPy version; None: a run from before the record). Returns its runs.csv row."""
    name = f"optimizer.lr={lr},trainer.seed={seed}"
    run = RunDir(sweep / name)
    run.path.mkdir(parents=True)
    momentum = {"momentum": 0.9} if optimizer == "momentum" else {}
    config = {
        "net": {"arch": "mlp", "hidden": [4]},
        "optimizer": {"name": optimizer, "lr": lr, **momentum},
        "trainer": {"epochs": len(val), "seed": seed, "progress": False},
        "data": {"name": "mnist5k", "val_size": VAL_SIZE},
        "resume": False,
        "sweep": sweep.name,  # bookkeeping: differs between the sweeps, never reported
    }
    run.write_config(config, [f"optimizer.lr={lr}", f"trainer.seed={seed}"])
    run.rewrite_metrics([EpochRecord(e, lr, 1 / e, v, 1 / e, v, seconds * e) for e, v in enumerate(val, start=1)])
    best, test = max(val), max(val) - 0.01
    summary = Summary(Status.OK, epochs=len(val), epochs_completed=len(val), best_val_acc=best, best_epoch=len(val))
    run.write_summary(Summary(**{**vars(summary), "final_val_acc": val[-1], "test_acc": test, "val_size": VAL_SIZE}))
    network = Network(mlp([4], "sigmoid", loss="quadratic"), np.random.default_rng(seed))
    if nudge:
        weights = network.layers[0].params["W"]
        weights[0, 0] = np.nextafter(weights[0, 0], np.inf, dtype=weights.dtype)
    save_checkpoint(run.model_path, network)
    if numpy is not None:
        run_environment.record(run.path, environment(numpy), fresh=True)
    return {
        "run": name,
        "optimizer.lr": lr,
        "trainer.seed": seed,
        "optimizer_name": optimizer,
        "lr": lr,
        "seed": seed,
        "status": "ok",
        "best_val_acc": best,
        "test_acc": test,
        "val_size": VAL_SIZE,
    }


def write_sweep(sweep: Path, runs: list[dict], task: list[str] | None = None) -> Path:
    """A collected sweep of ``runs`` (``write_run``'s arguments each), with a multirun.yaml of
    ``task`` overrides when given."""
    rows = [write_run(sweep, **spec) for spec in runs]
    pd.DataFrame(rows).sort_values("best_val_acc", ascending=False).to_csv(sweep / "runs.csv", index=False)
    if task is not None:
        record = {"hydra": {"overrides": {"task": task}, "sweeper": {"repeats": 1, "live_report": True}}}
        (sweep / "multirun.yaml").write_text(yaml.safe_dump(record))
    return sweep


def curve(best: float, epochs: int = 2) -> list[float]:
    """A learning curve that ends at its best, ``best``."""
    return [round(best - 0.1 * (epochs - e), 6) for e in range(1, epochs + 1)]


def sides(tmp_path: Path, a: list[dict], b: list[dict], match=None, **task):
    first = write_sweep(tmp_path / "a", a, task.get("task_a"))
    second = write_sweep(tmp_path / "b", b, task.get("task_b"))
    return diff(load_side(first, "A"), load_side(second, "B"), match)


def per_seed(lr: float, values: dict[int, float], **more) -> list[dict]:
    return [{"lr": lr, "seed": s, "val": curve(v), **more} for s, v in values.items()]


def test_the_same_sweep_with_momentum_matches_each_rate_and_names_what_changed(tmp_path):
    a = per_seed(0.1, {0: 0.90}) + per_seed(1.0, {0: 0.80})
    b = per_seed(0.1, {0: 0.92}, optimizer="momentum") + per_seed(1.0, {0: 0.70}, optimizer="momentum")
    found = sides(
        tmp_path, a, b, task_a=["optimizer.lr=0.1,1.0"], task_b=["optimizer=momentum", "optimizer.lr=0.1,1.0"]
    )
    assert found.match_keys == ("optimizer.lr",) and not found.keys_given
    assert [p.a.settings[0].value for p in found.pairs] == ["0.1", "1"]  # in numeric order
    assert [round(p.val.points, 6) for p in found.pairs] == [2.0, -10.0]
    assert found.settings == (
        SettingChange("override", "optimizer", "(not set)", "momentum"),
        SettingChange("config", "optimizer.momentum", "(not set)", "0.9"),
        SettingChange("config", "optimizer.name", "sgd", "momentum"),
    )  # the sweep's name (bookkeeping) and the sweeper's live_report (how it was shown) are not settings
    assert not found.only_a and not found.only_b


def test_match_names_settings_by_their_last_part_and_refuses_what_it_cannot_pair(tmp_path):
    a = per_seed(0.1, {0: 0.9}) + per_seed(1.0, {0: 0.8})
    first, second = write_sweep(tmp_path / "a", a), write_sweep(tmp_path / "b", a)
    sweep_a, sweep_b = load_side(first, "A"), load_side(second, "B")
    found = diff(sweep_a, sweep_b, ["lr"])
    assert found.match_keys == ("optimizer.lr",) and found.keys_given and len(found.pairs) == 2
    with pytest.raises(DiffError, match=r"--match nothing is no setting of either; .*vary: optimizer.lr"):
        diff(sweep_a, sweep_b, ["nothing"])
    with pytest.raises(DiffError, match="could be"):
        diff(sweep_a, sweep_b, ["name"])  # data.name or optimizer.name
    with pytest.raises(DiffError, match="differ in optimizer.lr; add it to --match"):
        diff(sweep_a, sweep_b, ["epochs"])  # both rates have 2 epochs: which is whose counterpart?


def test_a_paired_interval_worked_by_hand_includes_zero(tmp_path):
    """B - A on seeds 0, 1, 2: 1.0, 2.0 and 3.0 points. Mean 2.0, s = 1, so the 95% interval is
    2.0 +- 4.303 * 1 / sqrt(3) = 2.0 +- 2.484: it includes 0, the difference may be noise."""
    a = per_seed(0.1, {0: 0.900, 1: 0.910, 2: 0.920})
    b = per_seed(0.1, {0: 0.910, 1: 0.930, 2: 0.950})
    (pair,) = sides(tmp_path, a, b).pairs
    d = pair.val.comparison.difference
    assert (d.mean, d.n, d.sd) == (pytest.approx(2.0), 3, pytest.approx(1.0))
    assert (d.low, d.high) == pytest.approx((2.0 - 2.484, 2.0 + 2.484), abs=1e-3)
    assert T_2 / math.sqrt(3) == pytest.approx(2.484, abs=1e-3)
    assert pair.verdict is DiffVerdict.SAME and pair.reason == Verdict.NOISE.value
    assert (pair.val.a.mean, pair.val.b.mean) == pytest.approx((0.91, 0.93))


def test_an_interval_beyond_a_digit_is_different_and_one_within_it_is_same(tmp_path):
    """Differences 2.0, 2.2, 1.8 points: 2.0 +- 4.303 * 0.2 / sqrt(3) = 1.50 to 2.50, beyond one
    digit of 500 (0.2 points) with a mean of two or more: different. Differences 0.2, 0.4, 0.2:
    mean 0.27 +- 0.29, which includes 0: same within noise."""
    a = per_seed(0.1, {0: 0.900, 1: 0.910, 2: 0.920}) + per_seed(1.0, {0: 0.800, 1: 0.810, 2: 0.820})
    b = per_seed(0.1, {0: 0.920, 1: 0.932, 2: 0.938}) + per_seed(1.0, {0: 0.802, 1: 0.814, 2: 0.822})
    better, same = sides(tmp_path, a, b).pairs
    d = better.val.comparison.difference
    assert (d.low, d.high) == pytest.approx((2.0 - T_2 * 0.2 / math.sqrt(3), 2.0 + T_2 * 0.2 / math.sqrt(3)))
    assert better.verdict is DiffVerdict.DIFFERENT and better.reason == Verdict.BETTER.value
    assert same.verdict is DiffVerdict.SAME and same.val.comparison.difference.low < 0


def test_too_few_seeds_is_no_verdict_whatever_the_difference(tmp_path):
    """One seed each, 0.4 points apart; two paired seeds, 1.0 and 3.0 points apart (t = 12.7):
    neither is called the same or different."""
    a = per_seed(0.1, {0: 0.900}) + per_seed(1.0, {0: 0.900, 1: 0.900})
    b = per_seed(0.1, {0: 0.904}) + per_seed(1.0, {0: 0.910, 1: 0.930})
    one, two = sides(tmp_path, a, b).pairs
    assert one.val.comparison is None and one.verdict is DiffVerdict.UNDECIDED
    assert one.val.points == pytest.approx(0.4) and one.reason == Verdict.TOO_FEW_SEEDS.value
    assert two.verdict is DiffVerdict.UNDECIDED and two.val.comparison.verdict is Verdict.TOO_FEW_SEEDS


def test_identical_means_the_same_curves_and_weights_bit_for_bit(tmp_path):
    """The wall time of an epoch differs between identical runs and is ignored; one weight one
    ulp higher is a different run, even with every accuracy the same."""
    a = per_seed(0.1, {0: 0.9, 1: 0.9}) + per_seed(1.0, {0: 0.8})
    b = per_seed(0.1, {0: 0.9, 1: 0.9}, seconds=0.7) + per_seed(1.0, {0: 0.8}, nudge=True)
    same, nudged = sides(tmp_path, a, b).pairs
    assert same.identical and same.verdict is DiffVerdict.IDENTICAL
    assert not nudged.identical and nudged.val.points == 0 and nudged.verdict is DiffVerdict.UNDECIDED


def test_different_seeds_are_not_identical_and_are_compared_unpaired(tmp_path):
    """A has seeds 0-2 (90, 91, 92 points), B seeds 3-5 (93, 95, 97): Welch's t. Difference of
    the means 4.0; standard error sqrt(1/3 + 4/3) = 1.291; degrees of freedom
    (5/3)² / ((1/3)² / 2 + (4/3)² / 2) = 50/17 = 2.94, t = 3.216: 4.0 +- 4.155, which includes 0 but
    reaches 8.2 points: no verdict either way."""
    a = per_seed(0.1, {0: 0.90, 1: 0.91, 2: 0.92})
    b = per_seed(0.1, {3: 0.93, 4: 0.95, 5: 0.97})
    (pair,) = sides(tmp_path, a, b).pairs
    c = pair.val.comparison
    half = stats.t.ppf(0.975, 50 / 17) * math.sqrt(5 / 3)
    assert c.unpaired == (3, 3) and (c.difference.mean, c.difference.sd) == pytest.approx((4.0, 1.2910), abs=1e-4)
    assert (c.difference.low, c.difference.high) == pytest.approx((4.0 - half, 4.0 + half))
    assert half == pytest.approx(4.155, abs=1e-3) and not pair.identical and pair.verdict is DiffVerdict.UNDECIDED
    assert "unpaired, Welch's t over 3 and 3 seeds" in c.sentence()


def test_welch_gives_no_verdict_without_spread_or_seeds():
    spread = Candidate("x", {0: 0.90, 1: 0.92, 2: 0.94}, VAL_SIZE)
    flat = Candidate("y", {3: 0.90, 4: 0.90, 5: 0.90}, VAL_SIZE)
    few = Candidate("z", {3: 0.90, 4: 0.92}, VAL_SIZE)
    assert compare_unpaired(spread, flat).verdict is Verdict.NO_SPREAD
    assert compare_unpaired(spread, few).verdict is Verdict.TOO_FEW_SEEDS


def test_the_environment_difference_is_found_and_a_missing_one_is_not_recorded(tmp_path):
    a = per_seed(0.1, {0: 0.9}, numpy="2.3.0")
    b = per_seed(0.1, {0: 0.9}, numpy="2.4.0")
    found = sides(tmp_path, a, b)
    assert found.environment.changes == (EnvironmentChange("numpy", "2.3.0", "2.4.0"),)
    assert found.environment.comparable and found.pairs[0].verdict is DiffVerdict.IDENTICAL
    old = sides(tmp_path / "old", per_seed(0.1, {0: 0.9}, numpy=None), per_seed(0.1, {0: 0.9}, numpy=None))
    assert old.environment.changes == () and old.environment.unrecorded == (1, 1) and not old.environment.comparable


def test_configurations_on_one_side_only_are_listed(tmp_path):
    a = per_seed(0.1, {0: 0.9}) + per_seed(1.0, {0: 0.8})
    b = per_seed(0.1, {0: 0.9}) + per_seed(10.0, {0: 0.1})
    found = sides(tmp_path, a, b)
    assert [p.a.settings[0].value for p in found.pairs] == ["0.1"]
    assert [c.settings[0].value for c in found.only_a] == ["1"] and [c.settings[0].value for c in found.only_b] == [
        "10"
    ]
    assert found.count(DiffVerdict.IDENTICAL) == 1


def test_two_runs_are_two_sweeps_of_one_run(tmp_path):
    sweep = write_sweep(tmp_path / "s", per_seed(0.1, {0: 0.9}) + per_seed(1.0, {0: 0.8}))
    first, second = (
        load_side(sweep / f"optimizer.lr={lr},trainer.seed=0", label) for lr, label in ((0.1, "A"), (1.0, "B"))
    )
    assert first.is_run and len(first.runs) == 1 and first.runs[0].best_val_acc == pytest.approx(0.9)
    found = diff(first, second)
    assert found.match_keys == () and len(found.pairs) == 1 and found.pairs[0].val.points == pytest.approx(-10.0)
    assert SettingChange("override", "optimizer.lr", "0.1", "1.0") in found.settings


def test_a_swept_value_in_the_sweepers_params_and_a_setting_added_since_at_its_default_are_no_difference(tmp_path):
    """An older sweep-lr gave its rates on the command line and had no race_max_seeds; a newer one
    has them in hydra.sweeper.params too, and race_max_seeds: 5 (the default). The same sweep."""
    runs = per_seed(0.1, {0: 0.9}) + per_seed(1.0, {0: 0.8})
    older, newer = write_sweep(tmp_path / "a", runs), write_sweep(tmp_path / "b", runs)
    task = ["optimizer.lr=0.1,1.0"]
    record = {"overrides": {"task": task}, "sweeper": {"repeats": 1, "params": None}}
    (older / "multirun.yaml").write_text(yaml.safe_dump({"hydra": record}))
    sweeper = {"repeats": 1, "race_max_seeds": 5, "params": {"optimizer.lr": "0.1,1.0"}}
    (newer / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {**record, "sweeper": sweeper}}))
    assert diff(load_side(older, "A"), load_side(newer, "B")).settings == ()
    sweeper["race_max_seeds"] = 4
    (newer / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {**record, "sweeper": sweeper}}))
    assert diff(load_side(older, "A"), load_side(newer, "B")).settings == (
        SettingChange("sweeper", "race_max_seeds", "5", "4"),
    )


def test_an_interval_that_holds_zero_but_spans_tens_of_points_is_no_sameness(tmp_path):
    """B diverged on two of three seeds: B - A is -84.0, 0.0, -86.0 points, mean -56.67, s = 49.08,
    half-width 4.303 x 49.08 / sqrt(3) = 121.9: -100 (cut) to 65.3 holds 0, yet says nothing of sameness."""
    a = per_seed(0.5, {0: 0.94, 1: 0.95, 2: 0.96})
    b = per_seed(0.5, {0: 0.10, 1: 0.95, 2: 0.10})
    (pair,) = sides(tmp_path, a, b).pairs
    d = pair.val.comparison.difference
    assert (d.low, d.high) == pytest.approx((-100.0, -56.667 + 121.93), abs=0.01)
    assert pair.verdict is DiffVerdict.UNDECIDED and "could hide a large difference" in pair.reason


def test_runs_without_weights_are_never_identical(tmp_path):
    """'identical' promises every weight the same bits: with no model.npz on either side it cannot."""
    a = per_seed(0.1, {0: 0.9, 1: 0.91, 2: 0.92})
    first, second = write_sweep(tmp_path / "a", a), write_sweep(tmp_path / "b", a)
    for model in [*first.glob("*/model.npz"), *second.glob("*/model.npz")]:
        model.unlink()
    (pair,) = diff(load_side(first, "A"), load_side(second, "B")).pairs
    assert not pair.identical and pair.verdict is not DiffVerdict.IDENTICAL
