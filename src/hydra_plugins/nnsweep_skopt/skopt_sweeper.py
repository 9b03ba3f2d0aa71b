"""Random and Bayesian search with scikit-optimize as a Hydra sweeper: ``hydra/sweeper=skopt``.

A thin shell, as Hydra's own Optuna sweeper is: the config is registered here, the work is in
``sweeps.skopt_search`` (imported only when a sweep starts, so scikit-optimize and
scikit-learn never slow down Hydra's start-up or single runs).

    python -m experiments.train -m hydra/sweeper=skopt \\
        'optimizer.lr=tag(log, interval(1e-3, 3))' 'optimizer.l2=interval(0, 10)' \\
        hydra.sweeper.n_trials=20 hydra.sweeper.batch_size=2
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
# anything runs; the numbers' ranges are checked by sweeps.skopt_search.SkoptSearch.
class Method(str, Enum):
    """random | gp (Gaussian process) | rf (random forest) | et (extra trees). Not gbrt:
    scikit-optimize 0.10.2's gradient-boosted trees fail on scikit-learn >= 1.6 and NumPy 2."""

    random = "random"
    gp = "gp"
    rf = "rf"
    et = "et"


class AcqFunc(str, Enum):
    """Which acquisition function picks the next point of a model-based search."""

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


@dataclass
class SkoptSweeperConf:
    _target_: str = "hydra_plugins.nnsweep_skopt.skopt_sweeper.SkoptSweeper"
    method: Method = Method.gp
    acq_func: AcqFunc = AcqFunc.gp_hedge  # model-based methods only
    n_trials: int = 20  # the total; a resumed sweep runs only what is missing
    n_initial_points: int = 5  # random points before the model is used
    initial_point_generator: InitialPointGenerator = InitialPointGenerator.random
    seed: int = 0  # 0 .. 2**32 - 1
    batch_size: int = 1  # trials asked at once and launched together (parallel with joblib)
    direction: Direction = Direction.maximize  # of the task's return value (objective=...)
    max_failure_rate: float = 0.5  # stop once more than this fraction of trials failed or diverged
    failure_objective: Optional[float] = None  # told for failed trials (finite); None: worst value seen so far
    params: Dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="skopt", node=SkoptSweeperConf, provider="nnsweep")


class SkoptSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from sweeps.skopt_search import SkoptSearch

        self.search = SkoptSearch(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> None:
        return self.search.sweep(arguments)
