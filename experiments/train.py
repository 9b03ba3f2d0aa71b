"""Train and evaluate one configuration: ``python -m experiments.train [overrides]``.

    python -m experiments.train net=nielsen optimizer.lr=3.0 trainer.epochs=30
    python -m experiments.train +experiment=nielsen_ch3
    python -m experiments.train net=mlp net.hidden=[256,128] net.activation=relu optimizer=adam
    python -m experiments.train hydra.run.dir=outputs/my-run resume=true   # continue a run

Writes ``metrics.csv``, ``summary.json`` and ``model.npz`` into Hydra's run directory (see
``experiments.rundir``) and returns the validation objective (``objective=``) to Hydra, so any
sweeper can optimise it. Bad settings end the run before training with one line on stderr.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments.config import register_configs
register_configs()  # @hydra.main below composes against the schema, so it must be registered first
from experiments.build import (OBJECTIVES, ConfigError, build_augmenter, build_network, build_optimizer,
                               build_schedule, build_targets, check_trainer, load_data)
from experiments.cli import fail, run_hydra_app
from experiments.progress import EpochProgress
from experiments.rundir import RunDir
from nets.atomic import WriteError, atomic_write_text, write_error
from nets.checkpoint import CheckpointError, load_checkpoint, restore_training, save_checkpoint
from nets.train import TrainState, fit

log = logging.getLogger("nnsweep.train")


def objective_value(summary: dict[str, Any], objective: str) -> float:
    """The number a sweeper optimises; NaN when the run produced none (e.g. diverged at once)."""
    value = summary.get(objective)
    return float(value) if value is not None else float("nan")


FINISHED = ("ok", "early_stopped", "diverged")


def finished_summary(run: RunDir, epochs: int) -> dict[str, Any] | None:
    """The summary of a run that already ended (and needs no more epochs), else None."""
    summary = run.read_summary()
    status = summary.get("status")
    if status in ("early_stopped", "diverged") or (status == "ok" and summary.get("epochs_completed", 0) >= epochs):
        return summary
    return None


def train_run(cfg: Any, run_dir: str | Path, resume: bool | None = None) -> dict[str, Any]:
    """Train the configured network, writing into ``run_dir``; returns the summary.

    With ``resume`` (default: ``cfg.resume``) a run that already finished is returned as it is,
    without touching its files, and an unfinished one continues from its checkpoint.
    """
    started = time.time()
    run = RunDir(run_dir)
    resume = cfg.resume if resume is None else resume
    if resume and (done := finished_summary(run, cfg.trainer.epochs)) is not None:
        log.info("%s already finished (%s); reusing it", run.path, done["status"])
        return done
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(run.path, err) from None
    if not run.config.exists():  # called outside Hydra: keep the run directory self-describing
        run.config.parent.mkdir(exist_ok=True)
        atomic_write_text(run.config, OmegaConf.to_yaml(cfg))
    check_trainer(cfg)
    data = load_data(cfg)
    rng = np.random.default_rng(cfg.trainer.seed)
    network = build_network(cfg, data, rng)
    optimizer = build_optimizer(cfg, len(data.train))
    schedule = build_schedule(cfg)
    augment = build_augmenter(cfg)
    targets = build_targets(cfg, network.output_size, network.dtype)

    state: TrainState | None = None
    if resume and run.model.exists():
        try:
            state = restore_training(load_checkpoint(run.model), network, optimizer, schedule, rng)
        except CheckpointError as err:
            raise ConfigError(f"cannot resume: {err}") from None
        if state.status == "ok" and state.epoch < cfg.trainer.epochs:
            state.status = "running"  # it stopped at its old epoch budget; the new one is larger
        run.rewrite_metrics(state.records)
        log.info("resuming %s after epoch %d (status %s)", run.path, state.epoch, state.status)
    elif resume:
        log.info("resume=true but %s has no checkpoint yet: starting from epoch 1", run.path)
    else:
        for stale in (run.metrics, run.summary):
            stale.unlink(missing_ok=True)

    base = {
        "run_dir": str(run.path), "data": data.name, "train_size": len(data.train), "val_size": len(data.val),
        "test_size": len(data.test), "n_params": network.n_params, "epochs": cfg.trainer.epochs,
        "objective": cfg.objective, "objective_direction": OBJECTIVES[cfg.objective],
    }
    progress = EpochProgress(cfg.trainer.epochs, len(data.train), cfg.trainer.batch_size, enabled=cfg.trainer.progress)

    def on_epoch_end(record, st: TrainState) -> None:
        # Checkpoint first: if the process dies after it, resume rewrites metrics.csv from it.
        save_checkpoint(run.model, network, optimizer=optimizer, schedule=schedule, state=st, rng=rng)
        run.append_metrics(record)
        run.write_summary({**base, **summarise(st), "wall_time_s": time.time() - started})
        progress.epoch_done(record)
        log.info("epoch %d/%d  lr %.4g  train loss %.4f acc %.4f  val loss %.4f acc %.4f  (%.1f s)",
                 record.epoch, cfg.trainer.epochs, record.lr, record.train_loss, record.train_acc,
                 record.val_loss, record.val_acc, record.seconds)

    with progress:
        progress.start(state.epoch if state else 0)
        state = fit(network, optimizer, schedule, data.train, data.val, epochs=cfg.trainer.epochs,
                    batch_size=cfg.trainer.batch_size, rng=rng, targets=targets, patience=cfg.trainer.patience,
                    augment=augment, state=state, on_epoch_end=on_epoch_end, on_batches=progress.batches,
                    clip_norm=cfg.trainer.clip_grad_norm)

    save_checkpoint(run.model, network, optimizer=optimizer, schedule=schedule, state=state, rng=rng)
    summary = {**base, **summarise(state)}
    if cfg.trainer.restore_best and state.best_params is not None:
        network.set_params(state.best_params)
    if state.status == "diverged" and state.best_params is None:
        summary["test_loss"] = summary["test_acc"] = None
    else:
        summary["test_loss"], summary["test_acc"] = network.evaluate(
            data.test.x, data.test.labels, targets[data.test.labels])
    summary["wall_time_s"] = time.time() - started
    run.write_summary(summary)
    log.info("%s after %d epochs: best val acc %s (epoch %s), test acc %s -> %s", state.status, state.epoch,
             _fmt(summary["best_val_acc"]), summary["best_epoch"], _fmt(summary["test_acc"]), run.path)
    return summary


def summarise(state: TrainState) -> dict[str, Any]:
    """The run-level numbers of a train state (``summary.json`` fields)."""
    finite = [r for r in state.records if not math.isnan(r.val_loss)]
    return {
        "status": state.status,
        "epochs_completed": state.epoch,
        "best_val_acc": state.best_val_acc,
        "best_epoch": state.best_epoch,
        "final_val_acc": state.records[-1].val_acc if state.records else None,
        "best_val_loss": min((r.val_loss for r in finite), default=None),
        "diverged_epoch": state.diverged_epoch,
    }


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def record_failure(run_dir: Path, cfg: Any, err: BaseException) -> dict[str, Any]:
    """Mark a run that raised as ``failed`` with its message, keeping what it had written."""
    run = RunDir(run_dir)
    run.path.mkdir(parents=True, exist_ok=True)
    summary = {**run.read_summary(), "run_dir": str(run.path), "status": "failed",
               "error": f"{type(err).__name__}: {err}", "objective": cfg.objective}
    run.write_summary(summary)
    return summary


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode != RunMode.MULTIRUN:
        try:
            summary = train_run(cfg, run_dir)
        except (ConfigError, WriteError) as err:
            fail(str(err))
        return objective_value(summary, cfg.objective)
    # In a sweep every job resumes (its directory is named by its overrides, so rerunning the
    # sweep finds it again), and a failing job is recorded, not raised: Hydra's sweepers stop
    # at the first exception, and one bad point must not cost the rest of the grid.
    try:
        summary = train_run(cfg, run_dir, resume=True)
    except Exception as err:
        log.error("run %s failed: %s: %s", run_dir, type(err).__name__, err)
        summary = record_failure(run_dir, cfg, err)
    return objective_value(summary, cfg.objective)


def main() -> None:
    run_hydra_app(hydra_main, "config")


if __name__ == "__main__":
    main()
