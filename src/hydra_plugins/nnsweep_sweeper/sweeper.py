"""nnsweep's sweeper for Hydra, under three names: one ask/tell loop (``nnsweep.sweeps.search``) with a
pluggable search engine and an optional pruner.

    hydra/sweeper=nnsweep  any engine: hydra.sweeper.engine=tpe|gp|rf|et|random|grid
    hydra/sweeper=skopt    the scikit-optimize engines, as existing sweeps name them
                           (hydra.sweeper.method=gp|rf|et|random)
    hydra/sweeper=grid     every combination of the listed values: the default of -m

A thin shell, as Hydra's own Optuna sweeper is: the configs are registered here, the work is in
``nnsweep.sweeps.search`` (imported only when a sweep starts, so scikit-optimize, scikit-learn and Optuna
never slow down Hydra's start-up or single runs).

    nnsweep train -m hydra/sweeper=nnsweep hydra.sweeper.engine=tpe \\
        'optimizer.lr=tag(log, interval(1e-3, 3))' 'optimizer.l2=interval(0, 10)' \\
        hydra.sweeper.n_trials=27 hydra.sweeper.batch_size=2 \\
        hydra.sweeper.pruner.method=asha hydra.sweeper.pruner.min_epochs=1 hydra.sweeper.pruner.reduction_factor=3
"""
# No `from __future__ import annotations` here: Hydra executes plugin modules outside
# sys.modules, where dataclasses cannot resolve string annotations.

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


# Closed choices are Enums, so Hydra refuses a bad value when it composes the config, before
# anything runs; the numbers' ranges are checked by nnsweep.sweeps.settings.SweeperSettings.
class Engine(str, Enum):
    """tpe (Optuna) | gp (Gaussian process) | rf (random forest) | et (extra trees) | random | grid.
    Not gbrt: scikit-optimize 0.10.2's gradient-boosted trees fail on scikit-learn >= 1.6 and NumPy 2."""

    tpe = "tpe"
    gp = "gp"
    rf = "rf"
    et = "et"
    random = "random"
    grid = "grid"


class Method(str, Enum):
    """The scikit-optimize engines: random | gp | rf | et."""

    random = "random"
    gp = "gp"
    rf = "rf"
    et = "et"


class AcqFunc(str, Enum):
    """Which acquisition function picks the next point of scikit-optimize's model-based search."""

    gp_hedge = "gp_hedge"  # a portfolio of EI, PI and LCB, chosen by their success so far
    EI = "EI"
    PI = "PI"
    LCB = "LCB"


class InitialPointGenerator(str, Enum):
    random = "random"
    sobol = "sobol"
    lhs = "lhs"
    halton = "halton"
    hammersly = "hammersly"  # skopt's spelling
    grid = "grid"


class Direction(str, Enum):
    maximize = "maximize"
    minimize = "minimize"


class PrunerMethod(str, Enum):
    none = "none"
    asha = "asha"  # successive halving, judged round by round (nnsweep.sweeps.pruning)


@dataclass
class PrunerConf:
    method: PrunerMethod = PrunerMethod.none
    min_epochs: int = 1  # the first rung: every trial trains this many epochs
    reduction_factor: int = 3  # eta: the top 1/eta at each rung continue; rungs at min_epochs * eta^k


@dataclass
class EverySweeperConf:
    """The settings of every nnsweep sweeper, grid included (listed after each one's own)."""

    pruner: PrunerConf = field(default_factory=PrunerConf)
    # seeds per point (repeat_key = 0 .. repeats-1; the engine is told their mean), or race (a grid: 2 seeds each,
    # more only where a configuration is still within seed noise of the leader, up to race_max_seeds)
    repeats: Any = 1
    race_max_seeds: int = 5
    repeat_key: str = "trainer.seed"
    live_report: bool = True  # report/index.html follows the sweep while it runs (NNSWEEP_LIVE_REPORT=0: off)


@dataclass
class NnsweepSweeperConf(EverySweeperConf):
    _target_: str = "hydra_plugins.nnsweep_sweeper.sweeper.NnsweepSweeper"
    engine: Engine = Engine.tpe
    # null: the engine's default; a setting the chosen engine does not use is refused, not ignored
    acq_func: Optional[AcqFunc] = None  # gp, rf, et: gp_hedge
    n_trials: Optional[int] = None  # the total (20); a resumed sweep runs only what is missing; not for a grid
    n_initial_points: Optional[int] = None  # random points before the model is used (5; tpe: its startup trials)
    initial_point_generator: Optional[InitialPointGenerator] = None  # scikit-optimize's engines: random
    seed: int = 0  # 0 .. 2**32 - 1
    # new trials launched together (parallel with joblib; null: 1, a grid: all); a pruner's kept trials join them
    batch_size: Optional[int] = None
    direction: Direction = Direction.maximize  # of the task's return value (objective=...)
    max_failure_rate: float = 0.5  # stop once more than this fraction of trials failed or diverged
    failure_objective: Optional[float] = None  # told for failed trials (finite); None: worst value seen so far
    params: Dict[str, str] = field(default_factory=dict)
    # earlier sweeps ([dir, ...] or one dir) whose trials in this space the engine is told first (tpe, gp, rf, et)
    warm_start: Any = None


@dataclass
class SkoptSweeperConf(EverySweeperConf):
    _target_: str = "hydra_plugins.nnsweep_sweeper.sweeper.SkoptSweeper"
    method: Method = Method.gp
    acq_func: AcqFunc = AcqFunc.gp_hedge  # model-based methods only
    n_trials: int = 20
    n_initial_points: int = 5
    initial_point_generator: InitialPointGenerator = InitialPointGenerator.random
    seed: int = 0
    batch_size: int = 1
    direction: Direction = Direction.maximize
    max_failure_rate: float = 0.5
    failure_objective: Optional[float] = None
    params: Dict[str, str] = field(default_factory=dict)
    warm_start: Any = None  # as hydra/sweeper=nnsweep's


@dataclass
class GridSweeperConf(EverySweeperConf):
    _target_: str = "hydra_plugins.nnsweep_sweeper.sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # jobs handed to the launcher at once; null: the whole grid
    params: Optional[Dict[str, str]] = None  # sweeps of a config file (key: a,b,c), before the command line's
    direction: Direction = Direction.maximize  # which way the pruner ranks the objective


store = ConfigStore.instance()
store.store(group="hydra/sweeper", name="nnsweep", node=NnsweepSweeperConf, provider="nnsweep")
store.store(group="hydra/sweeper", name="skopt", node=SkoptSweeperConf, provider="nnsweep")
store.store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="nnsweep")


class NnsweepSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from nnsweep.sweeps.search import SearchSweep

        self.search = SearchSweep(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> None:
        return self.search.sweep(arguments)


class SkoptSweeper(NnsweepSweeper):
    def __init__(self, method: Any = "gp", **settings: Any) -> None:
        super().__init__(engine=method, setting="method", **settings)


class GridSweeper(NnsweepSweeper):
    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        params: Optional[Dict[str, str]] = None,
        direction: Any = "maximize",
        pruner: Any = None,
        repeats: Any = 1,
        repeat_key: str = "trainer.seed",
        live_report: bool = True,
        race_max_seeds: int = 5,
    ) -> None:
        if max_batch_size is not None and max_batch_size < 1:
            from nnsweep.sweeps.errors import SweepError

            raise SweepError(
                f"hydra.sweeper.max_batch_size must be at least 1 (or null: one batch), got {max_batch_size}"
            )
        # A grid never stops for failures: each point is asked for, whatever the others did.
        super().__init__(
            engine="grid",
            batch_size=max_batch_size,
            params=params,
            direction=direction,
            pruner=pruner,
            repeats=repeats,
            repeat_key=repeat_key,
            live_report=live_report,
            race_max_seeds=race_max_seeds,
            max_failure_rate=1.0,
        )
