"""The trial log's typed records (``Trial``, ``Round``, ``Rung``, ``SeedRun``): what the sweeper writes is
read back equal, field by field, and a record whose values the sweeper could not have written is one
line naming the trial, never a record with a wrong type inside."""

from __future__ import annotations

import json

import pytest

from nnsweep.core.status import Status
from nnsweep.sweeps.trials import TRIALS, Round, Rung, SeedRun, Trial, TrialLog, TrialLogError, load, save


def a_log() -> TrialLog:
    """Two trials of a pruned search with repeats: one kept at its rung and finished, one a copy."""
    seeds = [
        SeedRun(0, 0, "x=0.5,trainer.seed=0", Status.OK, 0.8),
        SeedRun(1, 1, "x=0.5,trainer.seed=1", Status.OK, 0.9),
    ]
    first = Trial(
        0, 0, "x=0.5,trainer.seed=0", [0.5], {"x": 0.5}, 0.85, Status.OK, -0.85, 3, [Rung(1, 0.6, True)], None, seeds
    )
    copy = Trial(1, 0, "x=0.5,trainer.seed=0", [0.5], {"x": 0.5}, 0.85, Status.OK, -0.85, 3, copy_of=0)
    rounds = [Round([0, 1], [(0, 1)], []), Round([], [(0, None)], [0, 1])]
    return TrialLog({"names": ["x"], "method": "random"}, [first, copy], rounds, {"x=0.5": 1})


def test_a_log_is_read_back_as_it_was_written(tmp_path):
    log = a_log()
    save(tmp_path, log)
    again = load(tmp_path)
    assert again == log
    assert isinstance(again.trials[0].status, Status) and isinstance(again.trials[0].repeats[1], SeedRun)
    assert again.trials[0].run_dirs() == ["x=0.5,trainer.seed=0", "x=0.5,trainer.seed=1"]
    assert again.trials[1].run_dirs() == ["x=0.5,trainer.seed=0"] and again.trials[1].ended
    record = json.loads((tmp_path / TRIALS).read_text())
    assert list(record["trials"][0]) == [
        "number", "job", "run_dir", "point", "params", "objective", "status", "told", "epochs", "rungs", "repeats"
    ]  # fmt: skip
    assert record["trials"][1]["copy_of"] == 0 and "repeats" not in record["trials"][1]
    assert record["rounds"][1] == {"asked": [], "trained": [[0, None]], "told": [0, 1]}


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda t: t.update(status="sleeping"), "status 'sleeping' is not one of"),
        (lambda t: t.update(job="7"), "job is '7', not a job number"),
        (lambda t: t["repeats"][0].update(status="maybe"), "repeats"),
        (lambda t: t["repeats"][1].pop("seed"), "repeats"),
        (lambda t: t["rungs"].append({"epochs": 3, "value": "high", "kept": True}), "rung"),
    ],
)
def test_a_record_the_sweeper_could_not_have_written_is_one_line(tmp_path, damage, named):
    save(tmp_path, a_log())
    record = json.loads((tmp_path / TRIALS).read_text())
    damage(record["trials"][0])
    (tmp_path / TRIALS).write_text(json.dumps(record))
    with pytest.raises(TrialLogError, match=named) as err:
        load(tmp_path)
    assert "trial 0" in str(err.value) and "\n" not in str(err.value)


def test_a_round_that_trains_to_no_count_is_refused(tmp_path):
    save(tmp_path, a_log())
    record = json.loads((tmp_path / TRIALS).read_text())
    record["rounds"][0]["trained"] = [[0, "one"]]
    (tmp_path / TRIALS).write_text(json.dumps(record))
    with pytest.raises(TrialLogError, match="a round names trials that are not in the log"):
        load(tmp_path)
