"""The trial log of a search (``<sweep dir>/trials.json``): its one reader and writer.

The sweeper appends a round once every trial in it has finished; a rerun replays the rounds to
put the optimizer back exactly where it was. Reports read the same log through ``load``.

    {"format": "nnsweep-skopt-trials", "version": 1,
     "settings": {... what must match for a rerun to continue, "names": [parameter names] ...},
     "rounds": [[{"job", "run_dir", "point", "params", "objective", "status", "told"}, ...], ...],
     "crashes": {"<trial overrides>": <times its worker died>}}

JSON has no NaN: a trial without a result has ``objective: null``, and ``told`` (what the
optimizer was told) is always a finite number.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nets.atomic import atomic_write_text
from nets.errors import NnsweepError

TRIALS = "trials.json"
FORMAT, VERSION = "nnsweep-skopt-trials", 1
TRIAL_FIELDS = ("job", "run_dir", "point", "params", "objective", "status", "told")


class TrialLogError(NnsweepError):
    """A trial log that cannot be continued (the message names the file and the fix)."""


@dataclass
class TrialLog:
    settings: dict[str, Any]
    rounds: list[list[dict[str, Any]]] = field(default_factory=list)
    crashes: dict[str, int] = field(default_factory=dict)

    @property
    def trials(self) -> list[dict[str, Any]]:
        return [t for r in self.rounds for t in r]

    @property
    def names(self) -> list[str]:
        return list(self.settings.get("names", []))

    def to_json(self) -> str:
        data = {"format": FORMAT, "version": VERSION, "settings": self.settings, "rounds": self.rounds,
                "crashes": self.crashes}
        return json.dumps(data, indent=1, allow_nan=False) + "\n"


def load(sweep_dir: str | Path) -> TrialLog | None:
    """The sweep's trial log, or None if it has none (not a search, or nothing recorded yet)."""
    path = Path(sweep_dir) / TRIALS
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise TrialLogError(f"cannot read {path}: {err}") from None
    damaged = f"{path} is damaged"
    advice = "move it away to start the search afresh (finished runs are reused)"
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as err:
        raise TrialLogError(f"{damaged} ({err}); {advice}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TrialLogError(f"{path} is not an nnsweep trial log; {advice}")
    if data.get("version") != VERSION:
        raise TrialLogError(f"{path} has version {data.get('version')!r}, this nnsweep reads {VERSION}; {advice}")
    settings, rounds, crashes = data.get("settings"), data.get("rounds"), data.get("crashes", {})
    if not isinstance(settings, dict) or not isinstance(rounds, list) or not isinstance(crashes, dict):
        raise TrialLogError(f"{damaged} (settings, rounds or crashes missing); {advice}")
    for round_ in rounds:
        if not isinstance(round_, list) or not round_:
            raise TrialLogError(f"{damaged} (a round that is not a list of trials); {advice}")
        for trial in round_:
            missing = [k for k in TRIAL_FIELDS if not isinstance(trial, dict) or k not in trial]
            if missing:
                raise TrialLogError(f"{damaged} (a trial lacks {', '.join(missing)}); {advice}")
            problem = _trial_problem(trial)
            if problem:
                raise TrialLogError(f"{damaged} (a trial's {problem}); {advice}")
    names = settings.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TrialLogError(f"{damaged} (settings.names is {names!r}, not a list of parameter names); {advice}")
    if not all(_is_count(v) for v in crashes.values()):
        raise TrialLogError(f"{damaged} (crash counts must be whole numbers); {advice}")
    return TrialLog(settings, rounds, {str(k): int(v) for k, v in crashes.items()})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _trial_problem(trial: dict[str, Any]) -> str | None:
    """What is wrong with one recorded trial, or None: its values are used as numbers and lists."""
    if not _is_number(trial["told"]):
        return f"told value is {trial['told']!r}"
    if trial["objective"] is not None and not _is_number(trial["objective"]):
        return f"objective is {trial['objective']!r}"
    if not isinstance(trial["point"], list) or not isinstance(trial["params"], dict):
        return "point or params is not a list and a mapping"
    if not isinstance(trial["run_dir"], (str, type(None))) or not isinstance(trial["status"], (str, type(None))):
        return "run_dir or status is not text"
    return None


def save(sweep_dir: str | Path, log: TrialLog) -> None:
    """Write the log atomically; a non-finite number is refused rather than written."""
    try:
        text = log.to_json()
    except ValueError as err:
        raise TrialLogError(f"refusing to write a non-finite value to {Path(sweep_dir) / TRIALS} ({err})") from None
    atomic_write_text(Path(sweep_dir) / TRIALS, text)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")
