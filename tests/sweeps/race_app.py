"""A Hydra app whose objective is a table of accuracies per configuration and seed, for testing the
seed race in the sweeper with values worked out by hand (tests/sweeps/test_race.py). Every
execution appends its overrides to $RACE_LOG; with $RACE_DIE_AT=n the process kills itself (like
kill -9) when it starts its n-th execution."""

from dataclasses import dataclass

import hydra
from app_log import note_execution  # a script: its folder is on the path (test_race.py adds it too)
from hydra.core.config_store import ConfigStore

VALUES = {  # best validation accuracy on 500 digits, by configuration and seed 0 .. 4
    "a": [0.950, 0.952, 0.954, 0.950, 0.952],
    "b": [0.948, 0.946, 0.944, 0.950, 0.946],
    "c": [0.800, 0.806, 0.790, 0.810, 0.800],
}


@dataclass
class Config:
    name: str = "a"
    seed: int = 0


ConfigStore.instance().store(name="race", node=Config)


@hydra.main(version_base="1.3", config_path=None, config_name="race")
def main(cfg: Config) -> float:
    note_execution("RACE")
    return VALUES[cfg.name][cfg.seed]


if __name__ == "__main__":
    main()
