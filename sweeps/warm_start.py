"""Warm start: a new search told what earlier sweeps found, before it asks anything
(``hydra.sweeper.warm_start=<sweep dir>[,<sweep dir>...]``; Optuna's ``enqueue``/``add_trials`` and
scikit-optimize's ``tell`` of old points do the same by hand).

An earlier trial is told when it is a point of the new search and was trained the same way:

- it ended with a value, trained to its end (not pruned, not failed), and its runs still back it
  (``nnsweep.sweeps.trial_runs``: the runs' summaries are the truth, not the log);
- its run's resolved config gives every searched setting a value inside the new space (a
  setting the earlier sweep fixed counts: l2 fixed at 0 is a point of l2 in [0, 10]);
- every other setting of its run's config equals the new search's for that point, composed as
  the new search would compose it (another optimizer, epoch budget, data set or objective is
  another experiment, whose value would mislead the engine); only bookkeeping keys and, with
  repeats, the seed key are left out;
- with repeats, it was trained with the same seeds per point (its value is their mean).

The engine is told these as finished trials: scikit-optimize's ``tell`` (which also counts them
among its initial points, so the model is used sooner), Optuna's ``add_trial`` of complete trials.
Their runs are reused, not retrained: the new search only names them in its trial log
(``TrialLog.warm``) and ``optimization_results.yaml``. The log keeps what was told, so a rerun
tells the same values even if the earlier sweep has since grown or gone.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from nnsweep.core.status import Status
from nnsweep.runrecord import RunDir, RunRecordError
from nnsweep.runrecord.names import ADDED_KEYS
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.diff import IGNORED, value_text
from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.search_space import Dimension, SearchSpace
from nnsweep.sweeps.trial_runs import check_against_runs
from nnsweep.sweeps.trials import TRIALS, TrialLogError, WarmTrial

log = logging.getLogger("nnsweep.search")
WARM_ENGINES = ("tpe", "gp", "rf", "et")  # the engines a told trial teaches (a grid or random draws ignore it)
ENDED_WITH_VALUE = (Status.OK, Status.EARLY_STOPPED)
Compose = Callable[[list[str]], dict[str, Any]]  # a point's overrides -> the task's config, unresolved


def sweep_dirs(value: Any) -> tuple[str, ...]:
    """``hydra.sweeper.warm_start`` as a tuple of directories: a list of texts, or one text with commas."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise SweepError(
            f"hydra.sweeper.warm_start takes a sweep directory or a list of them (warm_start=[a,b]), got {value!r}"
        )
    dirs = tuple(item.strip() for item in items if item.strip())
    if not dirs:
        raise SweepError("hydra.sweeper.warm_start names no sweep directory; give one or more: warm_start=[a,b]")
    return dirs


def resolved(text: str) -> Path:
    """A warm-start directory as an absolute path, or one line saying why it has none."""
    try:
        return Path(text).expanduser().resolve()
    except (OSError, RuntimeError) as err:  # a loop of symbolic links
        raise SweepError(f"hydra.sweeper.warm_start: {text} cannot be followed ({err})") from None


def lookup(config: Any, name: str) -> Any:
    """The value at an override's key in a config (``net.hidden.0``: an item of a list), or None."""
    for part in name.split("."):
        if isinstance(config, dict):
            config = config.get(part)
        elif isinstance(config, list) and part.isdigit() and int(part) < len(config):
            config = config[int(part)]
        else:
            return None
    return config


def check_points(warm: Sequence[WarmTrial], space: SearchSpace, path: Path) -> None:
    """The recorded warm-start points all lie in the space (a hand may have edited them), or one
    line naming the first that does not."""
    for number, trial in enumerate(warm):
        if len(trial.point) != len(space.dimensions) or any(
            in_dimension(d, v) is None for d, v in zip(space.dimensions, trial.point)
        ):
            raise SweepError(
                f"{path}'s warm_start entry {number} holds {trial.point}, not a point of this search's space; move "
                f"{path.name} away to start the search afresh (finished runs are reused)"
            )


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """A config as dotted keys to leaves (list items by index: ``net.hidden.0``)."""
    if isinstance(config, dict):
        items = config.items()
    elif isinstance(config, list):
        items = enumerate(config)
    else:
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat if flat or not prefix else {prefix: config}  # an empty mapping or list is a value too


def in_dimension(dimension: Dimension, value: Any) -> Any:
    """``value`` as a value of ``dimension`` (an int for an int range, the matching choice: 1.0 is the
    choice 1, [10] the choice [10]), or None when it lies outside."""
    if dimension.kind == "choice":
        return next((c for c in dimension.choices if value_text(c) == value_text(value)), None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if dimension.kind == "int" and float(value) != int(value):
        return None
    tolerance = 1e-9 * max(abs(dimension.low), abs(dimension.high), 1.0)
    if not dimension.low - tolerance <= value <= dimension.high + tolerance:
        return None
    return int(value) if dimension.kind == "int" else float(value)


class _Reader:
    """The earlier trials of one sweep, each told or skipped with a reason (counted for one line)."""

    def __init__(self, space: SearchSpace, compose: Compose, ignored: set[str]) -> None:
        self.space, self.compose, self.ignored = space, compose, ignored
        self.composed: dict[tuple, dict[str, Any]] = {}  # by the point's choices: ranges change no other key

    def point(self, run: RunDir, config: dict[str, Any]) -> list[Any] | str:
        """The run's point in the new space (``config``: its recorded config), or why it has none."""
        choices = run.hydra_record().get("runtime", {}).get("choices", {})
        point = []
        for name, dimension in zip(self.space.names, self.space.dimensions):
            recorded = lookup(config, name)
            if recorded is None and isinstance(choices, dict):  # a config group's choice: net=mlp
                recorded = choices.get(name)
            value = in_dimension(dimension, recorded)
            if value is None:
                return f"its {name} lies outside this search's space"
            point.append(value)
        return point

    def difference(self, config: dict[str, Any], point: list[Any]) -> str | None:
        """The first setting outside the space in which a run (its recorded ``config``) differs from
        this search, or None."""
        key = tuple(value_text(v) for v, d in zip(point, self.space.dimensions) if d.kind == "choice")
        if key not in self.composed:
            self.composed[key] = flatten(self.compose(self.space.overrides(point)))
        ours = {**ADDED_KEYS, **self.composed[key]}
        ranged = {n for n, d in zip(self.space.names, self.space.dimensions) if d.kind != "choice"}
        theirs = {**ADDED_KEYS, **flatten(config)}  # a key added since: the value runs had before
        for name in sorted(ours.keys() | theirs.keys()):
            if name in self.ignored or name in ranged:
                continue
            if name not in theirs or name not in ours or value_text(theirs[name]) != value_text(ours[name]):
                return f"{name} is {theirs.get(name, '(absent)')} there, {ours.get(name, '(absent)')} here"
        return None


def gather(
    dirs: tuple[str, ...],
    sweep_dir: Path,
    space: SearchSpace,
    settings: dict[str, Any],
    compose: Compose,
    to_minimise: Callable[[float], float],
) -> list[WarmTrial]:
    """The trials of the sweeps ``dirs`` that this search (``space``, its recorded ``settings``:
    direction, repeats) can be told, in the order given; one log line per sweep says how many
    were told and why the others were not. A directory that is not a search's, this sweep itself,
    or a search of the other direction stops the sweep with one line."""
    ignored = set(IGNORED)  # what a run only names, not what it computes (as nnsweep diff ignores it)
    repeats = settings.get("repeats")
    if isinstance(repeats, dict):
        ignored.add(str(repeats.get("key")))
    reader = _Reader(space, compose, ignored)
    told: list[WarmTrial] = []
    for text in dirs:
        earlier = resolved(text)
        if earlier == Path(sweep_dir).resolve():
            raise SweepError(
                f"hydra.sweeper.warm_start names this sweep itself ({text}): a rerun continues it as it is"
            )
        try:
            record = trial_log.load(earlier) if earlier.is_dir() else None
        except TrialLogError as err:
            raise SweepError(f"hydra.sweeper.warm_start: {err}") from None
        if record is None:
            raise SweepError(
                f"hydra.sweeper.warm_start: {text} holds no search's trial log ({TRIALS}); name the directory "
                "of a finished search (hydra/sweeper=nnsweep or skopt)"
            )
        if record.settings.get("direction", settings["direction"]) != settings["direction"]:
            raise SweepError(
                f"hydra.sweeper.warm_start: {text} was a search to {record.settings.get('direction')}, this one "
                f"is to {settings['direction']}: its values would teach the engine the opposite"
            )
        skipped: Counter[str] = Counter()
        if record.settings.get("repeats") != repeats:
            skipped["it trained another number of seeds per point"] = len(record.trials)
        else:
            check_against_runs(earlier, record.trials)  # the runs' objectives, not a hand's
            for trial in record.trials:
                why = _why_not(trial, earlier, reader)
                if isinstance(why, str):
                    skipped[why] += 1
                else:
                    value = float(trial.objective)  # type: ignore[arg-type]
                    told.append(WarmTrial(str(earlier), list(trial.run_dirs()), why, value, to_minimise(value)))
        n_told = len(record.trials) - sum(skipped.values())
        said = f"warm start from {earlier}: {n_told} of {len(record.trials)} trials told"
        reasons = "; ".join(f"{n} not: {why}" for why, n in skipped.most_common(3))
        log.info("%s%s", said, f" ({reasons})" if reasons else "")
    return told


def _why_not(trial: trial_log.Trial, earlier: Path, reader: _Reader) -> list[Any] | str:
    """The trial's point in the new space, or why it is not told."""
    if trial.status not in ENDED_WITH_VALUE or trial.objective is None or trial.copy_of is not None:
        return "it did not end with a value (pruned, failed or still paused)"
    runs = [r for r in trial.run_dirs() if r]
    if not runs:
        return "it names no run"
    try:
        run = RunDir(earlier / runs[0])
        config = run.config_data()
        point = reader.point(run, config)
        if isinstance(point, str):
            return point
        difference = reader.difference(config, point)
    except (RunRecordError, OSError) as err:
        return f"its run is unreadable ({' '.join(str(err).split())[:120]})"
    return f"it was trained otherwise ({difference})" if difference else point
