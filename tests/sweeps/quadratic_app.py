"""A cheap objective behind a real Hydra app, for testing the sweepers' logic quickly.

Objective (maximised): -(x - 0.3)^2 - (y - 1)^2 + seed / 100 with y an integer; NaN (a
"diverged" trial) when x > 0.95, or x > 0.9 with seed 1 (one repeat of a point diverges). Every
execution appends its overrides to $QUADRATIC_LOG; with $QUADRATIC_DIE_AT=n the process kills
itself (like kill -9) when it starts its n-th execution;
with $QUADRATIC_CRASH=<name> every execution of that name SIGKILLs its own process, as the
kernel's out-of-memory killer would kill a worker.
"""

import os
import signal
from dataclasses import dataclass

import hydra
from hydra.core.config_store import ConfigStore

try:
    from app_log import note_execution  # run as a script: its folder is on the path
except ImportError:
    from tests.sweeps.app_log import note_execution


@dataclass
class Point:
    x: float = 0.0
    y: int = 0
    name: str = "a"
    seed: int = 0


ConfigStore.instance().store(name="quadratic", node=Point)


@hydra.main(version_base="1.3", config_path=None, config_name="quadratic")
def main(cfg: Point) -> float:
    note_execution("QUADRATIC")
    if cfg.name == os.environ.get("QUADRATIC_CRASH"):
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.x > 0.95 or (cfg.seed == 1 and cfg.x > 0.9):
        return float("nan")
    return objective(cfg.x, cfg.y, cfg.name, cfg.seed)


def objective(x: float, y: int, name: str, seed: int = 0) -> float:
    return -((x - 0.3) ** 2) - (y - 1) ** 2 - (0.0 if name == "a" else 0.5) + seed / 100


if __name__ == "__main__":
    main()
