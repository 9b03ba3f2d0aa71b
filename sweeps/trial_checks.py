"""What a trial log (``nnsweep.sweeps.trials``) must hold to be read: each entry's types and ranges, and
rounds that replay (every trial asked once, in order; told once, after it was asked). The log's
reader calls these and turns a problem into one line that names the file and the fix; they take
the parsed JSON as it is, since a log is data a hand may have edited.
"""

from __future__ import annotations

import math
from typing import Any

from nnsweep.core.status import Status


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


STATUSES = {s.value for s in Status}


def trial_problem(trial: dict[str, Any], number: int) -> str | None:
    """What is wrong with one recorded trial, or None: its values are used as numbers and lists."""
    if trial["number"] != number:
        return f"number is {trial['number']!r}, expected {number}"
    if (
        trial["told"] is None
        and trial["status"] != Status.PAUSED.value
        or trial["told"] is not None
        and not is_number(trial["told"])
    ):
        return f"told value is {trial['told']!r}"
    if trial["objective"] is not None and not is_number(trial["objective"]):
        return f"objective is {trial['objective']!r}"
    if not isinstance(trial["point"], list) or not isinstance(trial["params"], dict):
        return "point or params is not a list and a mapping"
    if not all(isinstance(v, str) or is_number(v) or isinstance(v, bool) for v in trial["point"]):
        return f"point {trial['point']!r} holds a value that is not a number or a text"
    if not isinstance(trial["run_dir"], (str, type(None))) or not (
        trial["status"] is None or trial["status"] in STATUSES
    ):
        return f"run_dir is not text, or status {trial['status']!r} is not one of {', '.join(sorted(STATUSES))}"
    if not (trial["job"] is None or is_count(trial["job"])):
        return f"job is {trial['job']!r}, not a job number"
    if trial["epochs"] is not None and not is_count(trial["epochs"]) or not isinstance(trial["rungs"], list):
        return "epochs is not a count or rungs not a list"
    for rung in trial["rungs"]:
        if (
            not isinstance(rung, dict)
            or not is_count(rung.get("epochs"))
            or not isinstance(rung.get("kept"), bool)
            or rung.get("value") is not None
            and not is_number(rung.get("value"))
        ):
            return f"rung {rung!r} is not {{epochs, value, kept}}"
    repeats = trial.get("repeats", [])
    if not isinstance(repeats, list) or not all(seed_run_problem(r) is None for r in repeats):
        return f"repeats {repeats!r} is not a list of {{seed, job, run_dir, status, objective}}"
    seeds = [r["seed"] for r in repeats]
    if len(set(seeds)) != len(seeds):
        return f"repeats name a seed twice ({seeds})"
    return None


def seed_run_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"seed", "job", "run_dir", "status", "objective"}:
        return "not {seed, job, run_dir, status, objective}"
    if not all(entry[k] is None or is_count(entry[k]) for k in ("seed", "job")):
        return "seed or job is not a count"
    if not isinstance(entry["run_dir"], (str, type(None))) or entry["status"] not in STATUSES:
        return "run_dir or status"
    if entry["objective"] is not None and not is_number(entry["objective"]):
        return "objective"
    return None


def warm_problem(entry: Any, n_names: int) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"sweep", "run_dirs", "point", "objective", "told"}:
        return "keys"
    if not isinstance(entry["sweep"], str) or not (
        isinstance(entry["run_dirs"], list) and all(isinstance(r, str) for r in entry["run_dirs"])
    ):
        return "sweep or run_dirs"
    point = entry["point"]
    if (
        not isinstance(point, list)
        or len(point) != n_names
        or not all(isinstance(v, (str, bool)) or is_number(v) for v in point)
    ):
        return "point"
    return None if is_number(entry["objective"]) and is_number(entry["told"]) else "objective or told"


def replay_problem(rounds: list, trials: list) -> str | None:
    """What keeps the rounds from replaying, or None: every trial asked once, in number order;
    told once, after it was asked, and only if it has a told value; trained only once asked."""
    asked, told = 0, set()
    for i, round_ in enumerate(rounds):
        if round_.asked != list(range(asked, asked + len(round_.asked))):
            return f"round {i} asks trials {round_.asked}, expected the next ones from {asked}"
        asked += len(round_.asked)
        for number in round_.told:
            if number >= asked or number in told or trials[number].told is None:
                return f"round {i} tells trial {number}, which is not asked yet, told already, or has no told value"
            told.add(number)
        if any(number >= asked for number, _ in round_.trained):
            return f"round {i} trains a trial not asked yet"
    if asked != len(trials):
        return f"the rounds ask {asked} trials, the log holds {len(trials)}"
    untold = [t.number for t in trials if t.told is not None and t.number not in told]
    if untold:
        return f"trials {untold} have told values but no round told them"
    return None


def round_problem(round_: Any, n_trials: int) -> str | None:
    if not isinstance(round_, dict) or not all(isinstance(round_.get(k), list) for k in ("asked", "trained", "told")):
        return "is not {asked, trained, told}"
    numbers = round_["asked"] + round_["told"] + [j[0] for j in round_["trained"] if isinstance(j, list) and j]
    if not all(is_count(n) and n < n_trials for n in numbers) or not all(
        isinstance(j, list) and len(j) == 2 and (j[1] is None or is_count(j[1])) for j in round_["trained"]
    ):
        return "names trials that are not in the log"
    return None
