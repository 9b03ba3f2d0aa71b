"""Grid search as a Hydra sweeper: ``hydra/sweeper=grid``, made the default by ``conf/config.yaml``.

The values and batching of Hydra's basic sweeper, plus the sweep lock, worker crashes, machine
failures and the results tables: a thin shell, the work is in ``sweeps.grid`` (imported only
when a sweep starts).

    python -m experiments.train -m optimizer=sgd,adam optimizer.lr=0.01,0.1
"""
# No `from __future__ import annotations` here: Hydra executes plugin modules outside
# sys.modules, where dataclasses cannot resolve string annotations.

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.nnsweep_grid.grid_sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # jobs handed to the launcher at once; null: the whole grid
    params: Optional[Dict[str, str]] = None  # sweeps of a config file (key: a,b,c), before the command line's


ConfigStore.instance().store(group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="nnsweep")


class GridSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from sweeps.grid import GridSearch

        self.search = GridSearch(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> None:
        return self.search.sweep(arguments)
