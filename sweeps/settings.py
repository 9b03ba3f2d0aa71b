"""The settings of nnsweep's sweeper (``hydra.sweeper``), checked once, as one typed record.

The plugin's config (``hydra_plugins.nnsweep_sweeper``) types each setting, and Hydra refuses a
choice outside its Enum when it composes the config; the ranges, the combinations and the
settings an engine would ignore are checked here, before anything runs, each as one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnsweep.runrecord import RunDir, RunRecordError, override_key
from nnsweep.sweeps.engines import ENGINES, SKOPT_ESTIMATORS
from nnsweep.sweeps.errors import SweepError
from nnsweep.sweeps.outcomes import Outcome
from nnsweep.sweeps.pruning import Pruner, PruningError
from nnsweep.sweeps.race import DEFAULT_MAX_SEEDS, RACE, START_SEEDS
from nnsweep.sweeps.repeats import MAX_REPEATS, REPEAT_KEY
from nnsweep.sweeps.search_space import SearchSpace
from nnsweep.sweeps.warm_start import WARM_ENGINES, sweep_dirs

ACQ_FUNCS = ("gp_hedge", "EI", "PI", "LCB")
GENERATORS = ("random", "sobol", "lhs", "halton", "hammersly", "grid")
MAX_SEED = 2**32 - 1  # NumPy's RandomState, which skopt seeds, takes 0 .. 2**32 - 1
# Settings added after sweeps were first recorded, at the plugin's defaults: a multirun.yaml without
# one ran as if it had the default (nnsweep diff reads old sweeps so).
ADDED_SWEEPER_SETTINGS = {"race_max_seeds": DEFAULT_MAX_SEEDS, "warm_start": None}


def _text(value: Any) -> str:
    """A setting as text: Hydra passes the config's Enum members, Python callers strings."""
    return value.name if isinstance(value, Enum) else str(value)


def _one_of(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise SweepError(f"hydra.sweeper.{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def make_pruner(settings: Any) -> Pruner:
    """``hydra.sweeper.pruner`` (a mapping, or None: off) as a ``Pruner``."""
    settings = dict(settings or {})
    try:
        return Pruner(
            method=_text(settings.get("method", "none")),
            min_epochs=int(settings.get("min_epochs", 1)),
            reduction_factor=int(settings.get("reduction_factor", 3)),
        )
    except PruningError as err:
        raise SweepError(str(err)) from None


@dataclass(frozen=True)
class SweeperSettings:
    """``hydra.sweeper`` as the sweeper uses it: the engine's defaults filled in, every value checked."""

    method: str
    acq_func: str
    initial_point_generator: str
    direction: str
    n_trials: int
    batch_size: int | None  # None: the whole grid (a grid's size is known once its space is)
    seed: int
    n_initial_points: int
    max_failure_rate: float
    failure_objective: float | None
    params: dict[str, str]
    pruner: Pruner
    repeats: int
    repeat_key: str
    live_report: bool
    warm_start: tuple[str, ...] = ()  # earlier sweeps whose trials the engine is told first
    race: bool = False  # repeats=race: seeds spent where the answer is open (nnsweep.sweeps.race); repeats: the most

    @property
    def first_seeds(self) -> int:
        """The seeds every point is trained with in its first round (a race adds more later)."""
        return START_SEEDS if self.race else self.repeats

    # Long on purpose: a list of independent checks of hydra.sweeper, each a condition and its one line.
    @classmethod
    def checked(
        cls,
        engine: Any = "tpe",
        acq_func: Any = None,
        n_trials: int | None = None,
        n_initial_points: int | None = None,
        initial_point_generator: Any = None,
        seed: int = 0,
        batch_size: int | None = None,
        direction: Any = "maximize",
        max_failure_rate: float = 0.5,
        failure_objective: float | None = None,
        params: dict[str, str] | None = None,
        pruner: Any = None,
        repeats: Any = 1,
        repeat_key: str = REPEAT_KEY,
        live_report: bool = True,
        warm_start: Any = None,
        race_max_seeds: int = DEFAULT_MAX_SEEDS,
        setting: str = "engine",
    ) -> SweeperSettings:
        """The settings Hydra passes (``setting``: the engine's key, ``method`` for the skopt sweeper),
        or ``SweepError`` naming the first bad one and its fix."""
        method = _text(engine)
        if method == "gbrt":
            raise SweepError(
                f"hydra.sweeper.{setting}=gbrt is not available: scikit-optimize 0.10.2's gradient-"
                "boosted trees fail on scikit-learn >= 1.6 and NumPy 2 (upstream is archived); use gp, "
                "rf, et or tpe"
            )
        method = _one_of(setting, method, ENGINES)
        # A setting the engine would ignore is refused: a user who set it expects it to act.
        unused = {
            "acq_func": acq_func is not None and method not in ("gp", "rf", "et"),
            "initial_point_generator": initial_point_generator is not None and method not in SKOPT_ESTIMATORS,
            "n_initial_points": n_initial_points is not None and method == "grid",
            "n_trials": n_trials is not None and method == "grid",
        }
        for name in [n for n, refused in unused.items() if refused and setting == "engine"]:  # skopt's config sets all
            raise SweepError(
                f"hydra.sweeper.{name} does not apply to the {method} engine"
                f"{' (a grid runs every point)' if method == 'grid' else ''}; leave it out"
            )
        acq_func = _one_of("acq_func", _text(acq_func or "gp_hedge"), ACQ_FUNCS)
        initial_point_generator = _one_of(
            "initial_point_generator", _text(initial_point_generator or "random"), GENERATORS
        )
        n_trials = 20 if n_trials is None else n_trials
        n_initial_points = 5 if n_initial_points is None else n_initial_points
        direction = _one_of("direction", _text(direction), ("maximize", "minimize"))
        for name, value in (("n_trials", n_trials), ("batch_size", batch_size), ("n_initial_points", n_initial_points)):
            if value is not None and value < 1:
                raise SweepError(f"hydra.sweeper.{name} must be at least 1, got {value}")
        if not 0 <= seed <= MAX_SEED:
            raise SweepError(f"hydra.sweeper.seed must be between 0 and {MAX_SEED}, got {seed}")
        if not 0 <= max_failure_rate <= 1:  # also refuses nan
            raise SweepError(f"hydra.sweeper.max_failure_rate must be in [0, 1], got {max_failure_rate}")
        if failure_objective is not None and not math.isfinite(failure_objective):
            raise SweepError(
                f"hydra.sweeper.failure_objective must be a finite number (what failed trials are told), "
                f"got {failure_objective}; leave it null to tell the worst value seen so far"
            )
        # batch_size None: one trial a round for a search, the whole grid for a grid (_search_space)
        batch_size = batch_size or (None if method == "grid" else 1)
        # Random search: every point is an "initial" point, drawn by the generator (skopt's
        # "dummy" estimator is broken on scikit-learn >= 1.8).
        n_initial_points = n_trials if method == "random" else n_initial_points
        checked_pruner = make_pruner(pruner)
        race = _text(repeats).strip().lower() == RACE
        if race:
            if method != "grid" or direction != "maximize":
                raise SweepError(
                    "hydra.sweeper.repeats=race compares a fixed set of configurations by an accuracy: use it with a "
                    "grid (-m a,b,c; nnsweep sweep-lr --race) whose objective is maximised"
                )
            if not START_SEEDS < race_max_seeds <= MAX_REPEATS:
                raise SweepError(
                    f"hydra.sweeper.race_max_seeds must be between {START_SEEDS + 1} and {MAX_REPEATS} (a race starts "
                    f"every configuration with {START_SEEDS} seeds), got {race_max_seeds}"
                )
            repeats = race_max_seeds
        elif isinstance(repeats, bool) or not isinstance(repeats, int):
            raise SweepError(f"hydra.sweeper.repeats is a number of seeds per point or race, got {_text(repeats)!r}")
        if not 1 <= repeats <= MAX_REPEATS:
            raise SweepError(
                f"hydra.sweeper.repeats must be between 1 and {MAX_REPEATS} (seeds per point), got {repeats}"
            )
        if repeats > 1 and checked_pruner.on:
            # A rung's decision would need every seed at that rung; a seed that stops early
            # (patience, divergence) leaves the others paused. Not supported yet: say so.
            raise SweepError(
                "hydra.sweeper.repeats and hydra.sweeper.pruner cannot be combined yet: prune with one "
                "seed per point, then repeat the best points (repeats=N, or nnsweep sweep-lr --repeats)"
            )
        warm_dirs = sweep_dirs(warm_start)
        if warm_dirs and method not in WARM_ENGINES:
            raise SweepError(
                f"hydra.sweeper.warm_start tells a model-based engine ({', '.join(WARM_ENGINES)}) what earlier "
                f"sweeps found; the {method} engine learns nothing from told trials: leave warm_start out"
            )
        return cls(
            method,
            acq_func,
            initial_point_generator,
            direction,
            n_trials,
            batch_size,
            seed,
            n_initial_points,
            max_failure_rate,
            failure_objective,
            dict(params or {}),
            checked_pruner,
            repeats,
            str(repeat_key),
            bool(live_report),
            warm_dirs,
            race,
        )


# --- the settings against the task they search ------------------------------------------------


def check_repeat_key(settings: SweeperSettings, space: SearchSpace, composed: list[DictConfig]) -> None:
    """Repeats set ``repeat_key`` themselves: the search must not, and the task must have it."""
    key = settings.repeat_key
    if key in space.names or any(override_key(o) == key for o in space.fixed):
        raise SweepError(
            f"hydra.sweeper.repeats={settings.repeats} trains each point with {key}=0 .. "
            f"{settings.repeats - 1}: leave {key} out of the sweep's overrides (or set repeats=1)"
        )
    if not all(OmegaConf.select(c, key, default="absent") != "absent" for c in composed):
        raise SweepError(
            f"hydra.sweeper.repeats needs a seed to vary, but this task's config has no {key}; name "
            "its seed with hydra.sweeper.repeat_key=<key>"
        )


def check_direction(settings: SweeperSettings, outcome: Outcome) -> None:
    """A pruner compares objectives: the sweep must know which way is better."""
    try:
        summary = RunDir(outcome.run_dir).read_summary() if outcome.run_dir else None
    except RunRecordError:
        return
    if summary is not None and (summary.objective_direction == "min") != (settings.direction == "minimize"):
        raise SweepError(
            f"objective={summary.objective} is "
            f"{'minimised' if summary.objective_direction == 'min' else 'maximised'}"
            f" but hydra.sweeper.direction={settings.direction}: set hydra.sweeper.direction="
            f"{'minimize' if summary.objective_direction == 'min' else 'maximize'}"
        )


def pruned_max_epochs(settings: SweeperSettings, space: SearchSpace, composed: list[DictConfig]) -> int:
    """``trainer.epochs`` of the trials (``composed``: configs covering every searched value):
    the last rung, the same for every trial."""
    if "trainer.epochs" in space.names:
        raise SweepError(
            "a pruned sweep sets how far each trial trains; it cannot also search trainer.epochs: fix "
            "trainer.epochs, or set hydra.sweeper.pruner.method=none"
        )
    if not all(OmegaConf.select(c, "trainer.pause_after", default="absent") != "absent" for c in composed):
        raise SweepError(
            "hydra.sweeper.pruner needs runs that can pause (nnsweep.experiments.train: trainer.epochs and "
            "trainer.pause_after); this task has none, so set hydra.sweeper.pruner.method=none"
        )
    epochs = sorted({OmegaConf.select(c, "trainer.epochs") for c in composed})
    if len(epochs) != 1 or not isinstance(epochs[0], int):
        raise SweepError(
            f"the trials of this search train for different trainer.epochs ({', '.join(map(str, epochs))}"
            "): a pruned search needs one last epoch for all; set trainer.epochs on the command line"
        )
    try:
        settings.pruner.rungs(epochs[0])
    except PruningError as err:
        raise SweepError(str(err)) from None
    return epochs[0]
