"""The trial log of a search (``<sweep dir>/trials.json``): its one reader and writer.

The sweeper (``nnsweep.sweeps.search``) saves it after every round, once every job of the round
finished: which points were asked, which trials were trained to which epoch, and which ended
and were told to the engine, in that order. A rerun replays the rounds to put the engine back
exactly where it was. Reports and ``nnsweep.sweeps.collect`` read the same log through ``load``.

    {"format": "nnsweep-trials", "version": 2,
     "settings": {... what must match for a rerun to continue: "method", "names", "pruner" ...,
                  "engine": {"name", "versions": {library: version}}: a rerun replays only under them},
     "trials": [{"number", "job", "run_dir", "point", "params", "objective", "status", "told",
                 "epochs", "rungs": [{"epochs", "value", "kept"}, ...]}, ...],
     "rounds": [{"asked": [trial numbers], "trained": [[trial number, epochs], ...],
                 "told": [trial numbers]}, ...],
     "crashes": {"<trial overrides>": <times its worker died>}}

A trial that a pruner continues is ``paused`` with ``told: null``; a trial that ended has its
final status (``ok``, ``pruned``, ``failed`` ...) and ``told``, the finite number the engine was
told (to minimise). ``objective`` is its value at the last epoch it reached (null: none).
``rungs`` lists its value at each rung it reached and whether it was kept there.
Version 1 logs (scikit-optimize sweeps before the pruner: rounds of trials, each asked and told
together) are read as version 2. JSON has no NaN: a missing number is ``null``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnsweep.core.atomic import atomic_write_text
from nnsweep.core.errors import NnsweepError
from nnsweep.core.status import Status
from nnsweep.runrecord.bounded import parse_json, read_record_text
from nnsweep.sweeps.trial_checks import is_count, replay_problem, round_problem, trial_problem, warm_problem

TRIALS = "trials.json"
FORMAT, VERSION = "nnsweep-trials", 2
V1_FORMAT = "nnsweep-skopt-trials"
TRIAL_FIELDS = ("number", "job", "run_dir", "point", "params", "objective", "status", "told", "epochs", "rungs")
V1_FIELDS = ("job", "run_dir", "point", "params", "objective", "status", "told")


class TrialLogError(NnsweepError):
    """A trial log that cannot be continued (the message names the file and the fix)."""


@dataclass
class Rung:
    """A pruned search's judgement of a trial at one rung: its value there, and whether it was kept."""

    epochs: int
    value: float | None
    kept: bool


@dataclass
class SeedRun:
    """One repeat of a trial (``hydra.sweeper.repeats``): the run of one seed."""

    seed: int | None
    job: int | None
    run_dir: str | None
    status: Status
    objective: float | None


@dataclass
class Trial:
    """One point of a search, as the sweeper asked, trained and told it (Optuna's ``FrozenTrial``,
    keras-tuner's ``Trial``). ``told`` is None while it goes on (``paused``, a pruner's kept trial)."""

    number: int
    job: int | None = None
    run_dir: str | None = None  # relative to the sweep directory
    point: list[Any] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    objective: float | None = None  # its value at the last epoch it reached
    status: Status | None = Status.PAUSED
    told: float | None = None  # the finite number the engine was told (to minimise)
    epochs: int | None = None
    rungs: list[Rung] = field(default_factory=list)
    copy_of: int | None = None  # a pruned search's repeat of an earlier trial's point: ends as that one does
    repeats: list[SeedRun] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.told is not None

    def run_dirs(self) -> list[str | None]:
        """Its runs' directories: one per seed with repeats, else its own."""
        return [r.run_dir for r in self.repeats] or [self.run_dir]

    def as_record(self) -> dict[str, Any]:
        record = {
            "number": self.number,
            "job": self.job,
            "run_dir": self.run_dir,
            "point": self.point,
            "params": self.params,
            "objective": self.objective,
            "status": None if self.status is None else self.status.value,
            "told": self.told,
            "epochs": self.epochs,
            "rungs": [dataclasses.asdict(r) for r in self.rungs],
        }
        if self.copy_of is not None:
            record["copy_of"] = self.copy_of
        if self.repeats:
            record["repeats"] = [{**dataclasses.asdict(r), "status": r.status.value} for r in self.repeats]
        return record


@dataclass
class Round:
    """One round of a search: the trials it asked, the jobs it trained (trial, to epoch; None: to
    the end) and the trials it told, each in order."""

    asked: list[int] = field(default_factory=list)
    trained: list[tuple[int, int | None]] = field(default_factory=list)
    told: list[int] = field(default_factory=list)

    def as_record(self) -> dict[str, list]:
        return {"asked": self.asked, "trained": [list(job) for job in self.trained], "told": self.told}


@dataclass(frozen=True)
class WarmTrial:
    """A trial of an earlier sweep, told to the engine before it asked anything
    (``hydra.sweeper.warm_start``: ``nnsweep.sweeps.warm_start``). Recorded, so a rerun tells the
    same whatever became of that sweep since."""

    sweep: str  # the earlier sweep's directory, absolute
    run_dirs: list[str]  # its runs (one per seed), relative to that sweep
    point: list[Any]  # in this search's order of names
    objective: float
    told: float  # to minimise, as this search tells

    def as_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrialLog:
    settings: dict[str, Any]
    trials: list[Trial] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    crashes: dict[str, int] = field(default_factory=dict)
    warm: list[WarmTrial] = field(default_factory=list)  # told before the first round

    @property
    def names(self) -> list[str]:
        return list(self.settings.get("names", []))

    @property
    def rungs(self) -> tuple[list[int], int] | None:
        """A pruned search's rungs and last epoch (``settings["pruner"]``, as the sweeper records
        them); None for any other search, or settings that do not say."""
        pruner = self.settings.get("pruner")
        if (
            not isinstance(pruner, dict)
            or not isinstance(pruner.get("rungs"), list)
            or not isinstance(pruner.get("max_epochs"), int)
        ):
            return None
        return [int(r) for r in pruner["rungs"]], pruner["max_epochs"]

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "settings": self.settings,
            "trials": [t.as_record() for t in self.trials],
            "rounds": [r.as_record() for r in self.rounds],
            "crashes": self.crashes,
            **({"warm_start": [w.as_record() for w in self.warm]} if self.warm else {}),
        }
        return json.dumps(data, indent=1, allow_nan=False) + "\n"


def load(sweep_dir: str | Path) -> TrialLog | None:
    """The sweep's trial log, or None if it has none (not a search, or nothing recorded yet)."""
    path = Path(sweep_dir) / TRIALS
    damaged = f"{path} is damaged"
    advice = "move it away to start the search afresh (finished runs are reused)"
    try:  # with limits (depth, digits, size): a record is data (nnsweep.runrecord.bounded)
        data = parse_json(read_record_text(path))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise TrialLogError(f"cannot read {path}: {err}") from None
    except ValueError as err:
        raise TrialLogError(f"{damaged} ({err}); {advice}") from None
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, V1_FORMAT):
        raise TrialLogError(f"{path} is not an nnsweep trial log; {advice}")
    expected = 1 if data.get("format") == V1_FORMAT else VERSION
    if data.get("version") != expected:
        raise TrialLogError(f"{path} has version {data.get('version')!r}, this nnsweep reads {expected}; {advice}")
    if expected == 1:
        data = _from_version_1(data, damaged, advice)
    settings, trials, rounds, crashes = (
        data.get("settings"),
        data.get("trials"),
        data.get("rounds"),
        data.get("crashes", {}),
    )
    if not all(isinstance(v, t) for v, t in ((settings, dict), (trials, list), (rounds, list), (crashes, dict))):
        raise TrialLogError(f"{damaged} (settings, trials, rounds or crashes missing); {advice}")
    for number, trial in enumerate(trials):
        missing = [k for k in TRIAL_FIELDS if not isinstance(trial, dict) or k not in trial]
        if missing:
            raise TrialLogError(f"{damaged} (a trial lacks {', '.join(missing)}); {advice}")
        problem = trial_problem(trial, number)
        if problem:
            raise TrialLogError(f"{damaged} (trial {number}: {problem}); {advice}")
    for round_ in rounds:
        problem = round_problem(round_, len(trials))
        if problem:
            raise TrialLogError(f"{damaged} (a round {problem}); {advice}")
    trials = [_typed_trial(trial) for trial in trials]
    rounds = [Round(r["asked"], [(number, epochs) for number, epochs in r["trained"]], r["told"]) for r in rounds]
    problem = replay_problem(rounds, trials)
    if problem:
        raise TrialLogError(f"{damaged} ({problem}); {advice}")
    names = settings.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TrialLogError(f"{damaged} (settings.names is {names!r}, not a list of parameter names); {advice}")
    if not all(is_count(v) for v in crashes.values()):
        raise TrialLogError(f"{damaged} (crash counts must be whole numbers); {advice}")
    problem = _repair(trials, names, path)
    if problem:
        raise TrialLogError(f"{damaged} ({problem}); {advice}")
    warm = data.get("warm_start", [])
    if not isinstance(warm, list) or not all(warm_problem(w, len(names)) is None for w in warm):
        raise TrialLogError(
            f"{damaged} (warm_start is not a list of {{sweep, run_dirs, point, objective, told}}); {advice}"
        )
    return TrialLog(
        settings, trials, rounds, {str(k): int(v) for k, v in crashes.items()}, [WarmTrial(**w) for w in warm]
    )


# --- what a hand may have changed: the entries a log can do without (the runs' values: trial_runs)

_warned: set[str] = set()  # a log is read several times a command (collect, report, sweeper): warn once


def warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        from nnsweep.experiments.cli import warn

        warn(message)


def _repair(trials: list[Trial], names: list[str], path: Path) -> str | None:
    """Entries the sweeper can rebuild, rebuilt with one warning line: ``params`` is the point
    named by ``settings.names`` (a hand-emptied ``params: {}``), and a ``copy_of`` that names no
    earlier original is dropped (the trial is then trained as its own). Returns what cannot be
    rebuilt (a point of another length than the names), or None."""
    rebuilt, dropped = [], []
    for trial in trials:
        if names and len(trial.point) != len(names):
            return f"trial {trial.number}: point {trial.point!r} has {len(trial.point)} values for {len(names)} names"
        params = dict(zip(names, trial.point))
        if names and trial.params != params:
            trial.params = params
            rebuilt.append(trial.number)
        copy_of = trial.copy_of
        if copy_of is not None and not (
            is_count(copy_of) and copy_of < trial.number and trials[copy_of].copy_of is None
        ):
            trial.copy_of = None
            dropped.append(f"{trial.number} (copy_of {copy_of!r})")
    fixes = ([f"params of trials {rebuilt} rebuilt from their points"] if rebuilt else []) + (
        [f"copy_of of trials {', '.join(dropped)} names no earlier trial: dropped"] if dropped else []
    )
    if fixes:
        warn_once(f"{path} was edited by hand: {'; '.join(fixes)}")
    return None


def _from_version_1(data: dict[str, Any], damaged: str, advice: str) -> dict[str, Any]:
    """A version 1 log (rounds of trials, each asked and told in its round) as version 2."""
    rounds = data.get("rounds")
    if not isinstance(rounds, list):
        raise TrialLogError(f"{damaged} (settings, rounds or crashes missing); {advice}")
    trials, new_rounds = [], []
    for round_ in rounds:
        if not isinstance(round_, list) or not round_:
            raise TrialLogError(f"{damaged} (a round that is not a list of trials); {advice}")
        numbers = []
        for trial in round_:
            missing = [k for k in V1_FIELDS if not isinstance(trial, dict) or k not in trial]
            if missing:
                raise TrialLogError(f"{damaged} (a trial lacks {', '.join(missing)}); {advice}")
            numbers.append(len(trials))
            trials.append({"number": len(trials), **{k: trial[k] for k in V1_FIELDS}, "epochs": None, "rungs": []})
        new_rounds.append({"asked": numbers, "trained": [[n, None] for n in numbers], "told": numbers})
    return {**data, "trials": trials, "rounds": new_rounds}


def _typed_trial(record: dict[str, Any]) -> Trial:
    """A checked record (``_trial_problem``) as a ``Trial``."""
    return Trial(
        number=record["number"],
        job=record["job"],
        run_dir=record["run_dir"],
        point=record["point"],
        params=record["params"],
        objective=record["objective"],
        status=None if record["status"] is None else Status(record["status"]),
        told=record["told"],
        epochs=record["epochs"],
        rungs=[Rung(r["epochs"], r.get("value"), r["kept"]) for r in record["rungs"]],
        copy_of=record.get("copy_of"),
        repeats=[
            SeedRun(r["seed"], r["job"], r["run_dir"], Status(r["status"]), r["objective"])
            for r in record.get("repeats", [])
        ],
    )


def save(sweep_dir: str | Path, log: TrialLog) -> None:
    """Write the log atomically; a non-finite number is refused rather than written."""
    try:
        text = log.to_json()
    except ValueError as err:
        raise TrialLogError(f"refusing to write a non-finite value to {Path(sweep_dir) / TRIALS} ({err})") from None
    atomic_write_text(Path(sweep_dir) / TRIALS, text)
