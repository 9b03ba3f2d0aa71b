"""Continuing a sweep from its trial log (``nnsweep.sweeps.trials``): what must stay the same for a
rerun to continue it (``recorded_settings``), the log checked against its runs and those settings
(``load_record``), the versions of the engine's libraries it was recorded under
(``check_versions``), and the recorded rounds asked and told again (``replay``), so the engine is
exactly where it was and proposes what an uninterrupted sweep would.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from nnsweep.sweeps import trial_runs, warm_start
from nnsweep.sweeps import trials as trial_log
from nnsweep.sweeps.engines import SKOPT_ESTIMATORS, Engine, engine_record, recorded_engine_problem, same_point
from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.search_space import SearchSpace
from nnsweep.sweeps.settings import SweeperSettings
from nnsweep.sweeps.trials import TRIALS, TrialLog

log = logging.getLogger("nnsweep.search")
OLD_RANDOM_ENGINE = "skopt.Optimizer (initial points only)"  # random search before RandomEngine
ENGINE_KEY = "engine"  # the trial log's record of the engine: its name and its libraries' versions


def recorded_settings(settings: SweeperSettings, space: SearchSpace, max_epochs: int | None) -> dict[str, Any]:
    """What must be the same for a rerun to continue this sweep (the keys of scikit-optimize
    searches are those their logs always had, so they continue)."""
    record: dict[str, Any] = {"method": settings.method}
    if settings.method in SKOPT_ESTIMATORS:
        record.update(
            {
                "acq_func": settings.acq_func,
                "n_initial_points": settings.n_initial_points,
                "initial_point_generator": settings.initial_point_generator,
                "seed": settings.seed,
            }
        )
        dimensions = [repr(d.to_skopt()) for d in space.dimensions]
    else:
        if settings.method == "tpe":
            record.update({"n_initial_points": settings.n_initial_points, "seed": settings.seed})
        dimensions = [d.recorded_form() for d in space.dimensions]
    record.update(
        {"direction": settings.direction, "names": space.names, "dimensions": dimensions, "fixed": space.fixed}
    )
    if settings.repeats > 1:  # absent with one seed, so sweeps recorded before repeats existed continue
        record["repeats"] = {"n": settings.repeats, "key": settings.repeat_key}
        if settings.race:
            record["repeats"]["race"] = True
    if settings.pruner.on:
        record["pruner"] = {
            **settings.pruner.settings(),
            "rungs": settings.pruner.rungs(max_epochs),
            "max_epochs": max_epochs,
        }
    if settings.warm_start:  # absent without, so sweeps recorded before warm starts continue
        record["warm_start"] = [str(warm_start.resolved(d)) for d in settings.warm_start]
    # compared on its own (check_versions)
    record[ENGINE_KEY] = engine_record(settings.method, settings.initial_point_generator)
    return record


def load_record(
    settings: SweeperSettings, sweep_dir: Path, space: SearchSpace, max_epochs: int | None
) -> tuple[TrialLog, SearchSpace]:
    """The sweep's trial log (a new one if it has none), and the space in the log's order of
    dimensions: the same arguments in another order continue the same sweep."""
    record = trial_log.load(sweep_dir)
    if record is None:
        return TrialLog(recorded_settings(settings, space, max_epochs)), space
    damaged = trial_runs.check_against_runs(sweep_dir, record.trials)  # the runs' objectives, not a hand's
    if damaged:  # trials the runs do not back count as not recorded: asked and trained again
        record = trial_runs.up_to_first_damage(record, damaged)
        log.info("%s: continuing from its first %d trials, which its runs back", sweep_dir / TRIALS, len(record.trials))
    recorded = record.settings
    if sorted(recorded.get("names", [])) == sorted(space.names) and settings.method != "grid":
        space = space.reordered(recorded["names"])
    now = recorded_settings(settings, space, max_epochs)
    changed = [
        k
        for k in dict.fromkeys([*now, *recorded])
        if k != ENGINE_KEY and _comparable(k, recorded.get(k)) != _comparable(k, now.get(k))
    ]
    if changed == ["n_initial_points"] and settings.method == "random" and settings.initial_point_generator == "random":
        changed = []  # independent random draws: a random search with more trials continues the same draws
    if changed and settings.method == "grid" and not settings.pruner.on and "pruner" not in recorded:
        # A grid keeps no state worth replaying: another grid in the same directory starts a
        # new log (its finished runs are still reused).
        log.info("%s holds the log of another grid (%s differ); starting a new one", sweep_dir, ", ".join(changed))
        return TrialLog(now), space
    if changed:
        raise SweepError(
            f"{sweep_dir} holds a sweep with other settings ({', '.join(changed)} differ); "
            "rerun with the same settings to continue it, or choose a new sweep directory "
            "(sweep=<name>; nnsweep sweep-lr: --sweep-dir)"
        )
    return record, space


def check_versions(settings: SweeperSettings, record: TrialLog, sweep_dir: Path) -> None:
    """Before any replay: a log recorded under other versions of the engine's libraries
    cannot be replayed (another release may propose other points from the same seed), so
    say so at once, with both versions and the fix, rather than after rounds of replay. A log
    that does not say which engine and versions made it (no engine record, a version missing
    or null, another engine's name: written by hand or by an nnsweep before versions were
    recorded) is refused the same way: nothing vouches for its replay
    (``engines.recorded_engine_problem``)."""
    if not record.rounds:
        return
    problem = recorded_engine_problem(
        record.settings.get(ENGINE_KEY), settings.method, settings.initial_point_generator
    )
    if problem is None:
        return
    path = sweep_dir / TRIALS
    recorded = record.settings.get(ENGINE_KEY)
    if settings.method == "random" and isinstance(recorded, dict) and recorded.get("name") == OLD_RANDOM_ENGINE:
        raise SweepError(
            f"{path} is a random search of an earlier nnsweep, whose points depended on how the trials were "
            "batched; this nnsweep draws each point from the seed and its number alone, so it cannot continue "
            "those draws. Start a new sweep=<name> (this one's runs and tables stay as they are)"
        )
    if problem.startswith("was recorded with") and "uv pip install" in problem:
        raise SweepError(f"{path} {problem}, or start a new sweep=<name> (finished runs are reused)")
    raise SweepError(
        f"{path} {problem}, so its rounds cannot be replayed as they were; move {path.name} away to "
        f"start the search afresh in {sweep_dir} (finished runs of the same points are reused), or "
        "start a new sweep=<name>"
    )


def replay(settings: SweeperSettings, engine: Engine, record: TrialLog, sweep_dir: Path) -> None:
    """Tell the earlier sweeps' trials (``hydra.sweeper.warm_start``, as recorded), then ask and
    tell what the recorded rounds did: the engine ends up exactly where it was."""
    if record.warm:
        warm_start.check_points(record.warm, engine.space, sweep_dir / TRIALS)
        engine.tell_earlier([w.point for w in record.warm], [w.told for w in record.warm])
    for round_ in record.rounds:
        asked = engine.ask(len(round_.asked)) if round_.asked else []
        for number, point in zip(round_.asked, asked):
            if not same_point(point, record.trials[number].point):
                raise SweepError(
                    f"{sweep_dir / TRIALS} does not replay: the {settings.method} engine proposes {point} "
                    f"where the record has {record.trials[number].point}. The sweep was started with other "
                    "settings or library versions; use a new sweep=<name>"
                )
        engine.tell([record.trials[n] for n in round_.told])


def _comparable(key: str, value: Any) -> Any:
    """A setting as compared between runs: the order of fixed overrides does not matter."""
    return sorted(value) if key == "fixed" and isinstance(value, list) else value
