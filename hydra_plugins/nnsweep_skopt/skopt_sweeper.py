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
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class SkoptSweeperConf:
    _target_: str = "hydra_plugins.nnsweep_skopt.skopt_sweeper.SkoptSweeper"
    method: str = "gp"  # random | gp (Gaussian process) | rf (random forest) | et (extra trees)
    acq_func: str = "gp_hedge"  # gp_hedge | EI | PI | LCB (model-based methods)
    n_trials: int = 20  # the total; a resumed sweep runs only what is missing
    n_initial_points: int = 5  # random points before the model is used
    initial_point_generator: str = "random"  # random | sobol | lhs | halton
    seed: int = 0
    batch_size: int = 1  # trials asked at once and launched together (parallel with joblib)
    direction: str = "maximize"  # of the task's return value (objective=...)
    max_failure_rate: float = 0.5  # stop once more than this fraction of trials failed or diverged
    failure_objective: Optional[float] = None  # told for failed trials; None: worst value seen so far
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
