"""A stand-in for nnsweep.experiments.train whose validation accuracy per epoch is a known table, for
checking a pruned sweep's decisions by hand (and quickly).

It keeps the run record as nnsweep.experiments.train does (``runrecord``: config, overrides and a
summary with ``epochs_completed``; status ``paused`` at ``trainer.pause_after``) and resumes
from it. ``x`` picks a row of ``VALUES`` (the objective after 1, 3 and 9 epochs) or, for a real
number, a smooth curve. Every epoch trained appends ``x epoch`` to $RUNG_LOG; $RUNG_SLEEP
seconds per epoch give a test time to kill the sweep mid-rung.
"""

import os
import time
from dataclasses import dataclass, field
from typing import Optional

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig

from nnsweep.runrecord import RunDir, Status, Summary

# x -> the objective after 1, 3 and 9 epochs (best validation accuracy: never decreasing)
VALUES = {
    0: (0.50, 0.60, 0.70),
    1: (0.80, 0.82, 0.83),
    2: (0.30, 0.70, 0.90),
    3: (0.60, 0.85, 0.88),
    4: (0.70, 0.75, 0.80),
    5: (0.20, 0.30, 0.40),
    6: (0.65, 0.90, 0.95),
    7: (0.10, 0.10, 0.10),
    8: (0.55, 0.58, 0.60),
}


def value(x: float, epoch: int) -> float:
    if float(x).is_integer() and int(x) in VALUES:
        table = VALUES[int(x)]
        return table[0] if epoch < 3 else table[1] if epoch < 9 else table[2]
    return round(1 - (x - 0.3) ** 2 - 0.5 / epoch * x, 6)  # larger x: slower start, better end near 0.3


@dataclass
class Trainer:
    epochs: int = 9
    pause_after: Optional[int] = None


@dataclass
class Config:
    x: float = 0.0
    trainer: Trainer = field(default_factory=Trainer)


ConfigStore.instance().store(name="rung", node=Config)


@hydra.main(version_base="1.3", config_path=None, config_name="rung")
def main(cfg: Config) -> float:
    hydra_cfg = HydraConfig.get()
    run = RunDir(hydra_cfg.runtime.output_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    with run.training(wait=60):
        summary = run.read_summary()
        done = summary.epochs_completed if summary is not None else 0
        stop = min(cfg.trainer.epochs, cfg.trainer.pause_after or cfg.trainer.epochs)
        if summary is not None and summary.status == Status.PRUNED:
            return summary.best_val_acc
        run.write_config(cfg, list(hydra_cfg.overrides.task), {"job": {"num": hydra_cfg.job.num}})
        for epoch in range(done + 1, stop + 1):
            time.sleep(float(os.environ.get("RUNG_SLEEP", "0")))
            if os.environ.get("RUNG_LOG"):
                with open(os.environ["RUNG_LOG"], "a") as f:
                    f.write(f"{cfg.x} {epoch}\n")
            status = Status.OK if epoch == cfg.trainer.epochs else Status.PAUSED if epoch == stop else Status.RUNNING
            summary = Summary(
                status=status,
                epochs=cfg.trainer.epochs,
                epochs_completed=epoch,
                best_val_acc=value(cfg.x, epoch),
                final_val_acc=value(cfg.x, epoch),
            )
            run.write_summary(summary)
    return summary.best_val_acc


if __name__ == "__main__":
    main()
