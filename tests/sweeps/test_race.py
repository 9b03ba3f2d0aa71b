"""Seed racing: standings worked out by hand (paired t intervals in points, 500 validation digits:
one digit is 0.2 points), a race replayed from recorded values, the null sweep's false winners, and
the race run by the sweeper (the seeds it trains, its record, a kill and a rerun)."""

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.race import Entry, Standing, replay, standings
from nnsweep.sweeps.settings import SweeperSettings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from race_app import VALUES  # noqa: E402  (the table the sweeper test's app returns)


def entries(values: dict[str, list[float | None]], seeds: dict[str, int]) -> list[Entry]:
    return [Entry(name, {k: v[k] for k in range(seeds[name])}) for name, v in values.items()]


def test_after_two_seeds_a_rate_far_behind_is_let_go_and_one_within_noise_races_on_with_the_leader():
    """a - c: 15.0, 14.6 points: mean 14.8, sd 0.283, half-width t(1) 12.706 x 0.2 = 2.54: 12.26 to
    17.34, beyond a digit: separated. a - b: 0.2, 0.6: mean 0.4, the same half-width: -2.14 to
    2.94 holds 0: open, so b and the leader a get a third seed."""
    state = standings(entries(VALUES, {"a": 2, "b": 2, "c": 2}), max_seeds=4, val_size=500)
    assert state.leader == "a" and state.standings == {
        "a": Standing.LEADER,
        "b": Standing.OPEN,
        "c": Standing.SEPARATED,
    }
    d = state.comparisons["c"].difference
    assert (d.n, round(d.mean, 6), round(d.low, 2), round(d.high, 2)) == (2, 14.8, 12.26, 17.34)
    d = state.comparisons["b"].difference
    assert (round(d.mean, 6), round(d.low, 2), round(d.high, 2)) == (0.4, -2.14, 2.94)
    assert state.wanted == {"b": 3, "a": 3} and not state.decided and state.winner is None


def test_a_rate_still_within_noise_at_the_most_seeds_is_tied_and_no_winner_is_named():
    """Seeds 0-3 of a - b: 0.2, 0.6, 1.0, 0.0: mean 0.45, sd 0.4435, half-width t(3) 3.182 x 0.2217
    = 0.706: -0.26 to 1.16 holds 0 at the most seeds (4): tied."""
    state = standings(entries(VALUES, {"a": 4, "b": 4, "c": 2}), max_seeds=4, val_size=500)
    assert state.standings["b"] is Standing.TIED and state.decided and state.winner is None
    d = state.comparisons["b"].difference
    assert (round(d.mean, 6), round(d.low, 2), round(d.high, 2)) == (0.45, -0.26, 1.16)
    assert state.tied == ["b"] and sum(state.seeds.values()) == 10
    assert "no single winner. a leads, but b is still within seed noise of it after 4 seeds" in state.sentence()


def test_the_race_on_the_table_trains_ten_runs_where_four_seeds_everywhere_train_twelve():
    state = replay(VALUES, [0, 1, 2, 3, 4], max_seeds=4, val_size=500)
    assert state.seeds == {"a": 4, "b": 4, "c": 2} and state.tied == ["b"]
    everywhere = replay(VALUES, [0, 1, 2, 3, 4], max_seeds=4, val_size=500, start=4)
    assert (everywhere.leader, everywhere.tied, everywhere.winner) == ("a", ["b"], None)


def test_a_winner_leads_its_closest_rival_over_three_seeds_at_least():
    """b - a: 1.0, 1.4 points after two seeds (-1.34 to 3.74: open), then 1.0, 1.4, 1.8: mean 1.4,
    half-width 4.303 x 0.2309 = 0.99: 0.41 to 2.39, above one digit: separated over 3 seeds: a wins.
    When every rival is behind after two seeds, the closest still gets its third."""
    values = {"a": [0.950, 0.952, 0.954], "b": [0.940, 0.938, 0.936], "c": [0.100, 0.104, 0.1]}
    state = replay(values, [0, 1, 2], max_seeds=3, val_size=500)
    assert state.winner == "a" and state.seeds == {"a": 3, "b": 3, "c": 2}
    d = state.comparisons["b"].difference
    assert (round(d.mean, 6), round(d.low, 2), round(d.high, 2), d.n) == (1.4, 0.41, 2.39, 3)
    assert (
        "a wins, separated from every other configuration; the closest, b, by 1.4 points (95% interval 0.4 to 2.4"
        in (state.sentence())
    )
    far = {"a": [0.950, 0.952, 0.954], "b": [0.900, 0.904, 0.902], "c": [0.100, 0.104, 0.1]}
    after_two = standings(entries(far, {"a": 2, "b": 2, "c": 2}), max_seeds=3, val_size=500)
    assert after_two.standings["b"] is Standing.OPEN and after_two.wanted == {"b": 3, "a": 3}  # 3.7 to 6.3, yet
    assert replay(far, [0, 1, 2], max_seeds=3, val_size=500).winner == "a"


def test_a_failed_seed_takes_its_configuration_out_and_seeds_of_no_spread_give_no_verdict():
    values = {"a": [0.95, 0.952], "b": [None, 0.96], "c": [0.9, 0.902]}  # a - c: 5.0, 5.0: no spread
    state = standings(entries(values, {"a": 2, "b": 2, "c": 2}), max_seeds=3, val_size=500)
    assert state.standings == {"a": Standing.LEADER, "b": Standing.FAILED, "c": Standing.OPEN}


def test_where_every_configuration_is_equal_the_race_names_a_false_winner_rarely():
    """The null sweep of make bench-race, smaller: 11 and 2 equal configurations, seed effects shared."""
    rng = np.random.default_rng(7)
    for configurations, races in ((11, 150), (2, 400)):
        winners = 0
        for _ in range(races):
            shared = rng.normal(0, 0.003, 5)
            values = {
                c: list(np.round((0.94 + shared + rng.normal(0, 0.004, 5)) * 500) / 500) for c in range(configurations)
            }
            winners += replay(values, range(5), max_seeds=5, val_size=500).winner is not None
        assert winners / races <= 0.05, (configurations, winners)


def test_repeats_race_is_for_grids_of_a_maximised_objective_and_takes_its_most_seeds():
    settings = SweeperSettings.checked(engine="grid", repeats="race", race_max_seeds=4)
    assert settings.race and settings.repeats == 4 and settings.first_seeds == 2
    with pytest.raises(SweepError, match="use it with a grid"):
        SweeperSettings.checked(engine="tpe", repeats="race")
    with pytest.raises(SweepError, match="race_max_seeds must be between 3 and"):
        SweeperSettings.checked(engine="grid", repeats="race", race_max_seeds=2)
    with pytest.raises(SweepError, match="a number of seeds per point or race, got 'fast'"):
        SweeperSettings.checked(engine="grid", repeats="fast")


def race_sweep(tmp_path, name, env=None):
    return subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("race_app.py")),
            "-m",
            "hydra/sweeper=grid",
            f"hydra.sweep.dir={tmp_path / name}",
            "hydra.sweep.subdir=${hydra.job.num}",
            "hydra.sweeper.live_report=false",
            "hydra.sweeper.repeats=race",
            "hydra.sweeper.race_max_seeds=4",
            "hydra.sweeper.repeat_key=seed",
            "name=a,b,c",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})},
    )


@pytest.mark.slow
def test_the_sweeper_trains_the_seeds_the_race_asks_for_and_a_killed_race_goes_on_where_it_was(tmp_path):
    log = tmp_path / "race.log"
    result = race_sweep(tmp_path, "race", env={"RACE_LOG": str(log)})
    assert result.returncode == 0, result.stderr[-2000:]
    trials = json.loads((tmp_path / "race" / "trials.json").read_text())["trials"]
    assert [[r["seed"] for r in t["repeats"]] for t in trials] == [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1]]
    assert [r["objective"] for r in trials[1]["repeats"]] == VALUES["b"][:4]
    assert len(log.read_text().splitlines()) == 10  # 6 + 2 + 2, where 4 seeds everywhere train 12
    assert "Seed race (10 runs): no single winner. name=a leads, but name=b is still within" in result.stdout

    cut = tmp_path / "cut.log"
    killed = race_sweep(tmp_path, "cut", env={"RACE_LOG": str(cut), "RACE_DIE_AT": "8"})  # in the second round
    assert killed.returncode != 0
    resumed = race_sweep(tmp_path, "cut", env={"RACE_LOG": str(cut)})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = json.loads((tmp_path / "cut" / "trials.json").read_text())["trials"]
    values = lambda log: [[(r["seed"], r["status"], r["objective"]) for r in t["repeats"]] for t in log]
    assert values(again) == values(trials)  # the same seeds and values; the killed run's job number moved on
    executed = cut.read_text().splitlines()
    # A hand that copies a seed's entry gets one line, not a race that never ends.
    edited = json.loads((tmp_path / "race" / "trials.json").read_text())
    edited["trials"][1]["repeats"][3] = dict(edited["trials"][1]["repeats"][2])
    (tmp_path / "race" / "trials.json").write_text(json.dumps(edited))
    refused = race_sweep(tmp_path, "race")
    assert refused.returncode != 0 and "repeats name a seed twice ([0, 1, 2, 2])" in refused.stderr
    assert "Traceback" not in refused.stderr
    # The killed round ran again (this app writes no run record to reuse); the first round did not.
    assert len(set(executed)) == 10 and executed[8:] == [
        "name=a seed=2",
        "name=b seed=2",
        "name=a seed=3",
        "name=b seed=3",
    ]


@pytest.mark.slow
def test_a_raced_lr_sweep_trains_at_least_two_seeds_a_rate_and_its_report_states_the_decision(tmp_path):
    from nnsweep.reports.build import build_report
    from tests.experiments.conftest import run_module

    args = ["--lrs", "0.05,0.5,3", "--epochs", "2", "--batch", "10", "--race", "--repeats", "3", "--no-lr-find"]
    args += ["--sweep-dir", str(tmp_path / "r"), "--net", "mlp", "data.train_limit=300", "net.hidden=[16]"]
    first = run_module("nnsweep.sweep_lr", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "seeds raced: 2 each, up to 3" in first.stdout
    log = json.loads((tmp_path / "r" / "trials.json").read_text())
    assert log["settings"]["repeats"] == {"n": 3, "key": "trainer.seed", "race": True}
    seeds = [len(t["repeats"]) for t in log["trials"]]
    assert all(2 <= n <= 3 for n in seeds) and len(seeds) == 3
    assert len(pd.read_csv(tmp_path / "r" / "runs.csv")) == sum(seeds)  # every run of the race, only those
    said = next(line for line in first.stdout.splitlines() if "Seed race (" in line)
    sentence = said[said.index("Seed race (") :]
    page = build_report(tmp_path / "r").read_text()
    assert html.escape(sentence) in page  # the report states the sweep's decision
    again = run_module("nnsweep.sweep_lr", *args)
    assert again.returncode == 0 and "nothing to run" in again.stdout  # a decided race is answered from its record


def test_a_leader_with_fewer_seeds_than_its_rivals_gets_theirs_before_any_is_called_tied():
    """C is let go after two seeds (A - C: 1.0, 0.9 points), then A and B lose their lead on seed 2:
    C leads on the mean with two seeds where A and B have three. Before, A and B were "tied" with a
    two-seed leader though A was ahead of it on the seeds both had; now C gets its third seed first."""
    values = {"A": [0.960, 0.958, 0.900], "B": [0.955, 0.960, 0.900], "C": [0.950, 0.949, 0.949]}
    after_three = standings(entries(values, {"A": 3, "B": 3, "C": 2}), max_seeds=3, val_size=500)
    assert after_three.leader == "C" and after_three.wanted == {"C": 3} and not after_three.decided
    assert after_three.standings == {"A": Standing.OPEN, "B": Standing.OPEN, "C": Standing.LEADER}
    state = replay(values, [0, 1, 2], max_seeds=3, val_size=500)
    assert state.seeds == {"A": 3, "B": 3, "C": 3} and state.leader == "C" and state.tied == ["A", "B"]
