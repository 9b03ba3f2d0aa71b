"""Train and evaluate one configuration: ``nnsweep train [overrides]``.

    nnsweep train net=nielsen optimizer.lr=3.0 trainer.epochs=30
    nnsweep train experiment=nielsen_ch3
    nnsweep train net=mlp net.hidden=[256,128] net.activation=relu optimizer=adam
    nnsweep train hydra.run.dir=outputs/my-run resume=true   # continue a run

Writes the run record (``runrecord``: config, metrics.csv, summary.json, model.npz, evaluation)
into Hydra's run directory and returns the validation objective (``objective=``) to Hydra, so
any sweeper can optimise it. Bad settings end the run before anything is written, with one line
on stderr.
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

from nnsweep.core.atomic import WriteError, refuse_link, write_error
from nnsweep.core.status import Status
from nnsweep.experiments.build import (
    ConfigError,
    build_augmenter,
    build_network,
    build_optimizer,
    build_schedule,
    build_targets,
    check_trainer,
    load_data,
)
from nnsweep.experiments.cli import Interrupted, exits_on_bad_input, run_command
from nnsweep.experiments.config import OBJECTIVES, register_configs
from nnsweep.experiments.continuing import check_can_train, earlier_wall_time
from nnsweep.experiments.lifeline import fall_silent_on_interrupt, follow_parent
from nnsweep.experiments.ownfiles import remove_created_run_dir
from nnsweep.experiments.progress import PER_EPOCH, EpochProgress
from nnsweep.nets.checkpoint import CheckpointError, load_checkpoint, restore_training, save_checkpoint
from nnsweep.nets.data.download import DownloadError
from nnsweep.nets.data.readers import DataFormatError
from nnsweep.nets.evaluation import evaluate_network, most_confident_errors
from nnsweep.nets.train import TrainState, fit
from nnsweep.runrecord import LockedError, RunDir, RunRecordError, Summary, TestErrors, environment
from nnsweep.runrecord.lock import HOLDER
from nnsweep.runrecord.names import METRICS, MODEL, SUMMARY

log = logging.getLogger("nnsweep.train")
register_configs()  # at import: @hydra.main composes against the schema, in this process and in sweep workers

# Exceptions that say the machine or its files failed under a run (no space, a worker out of
# memory, an I/O error, data that is missing or damaged), not that its settings do not work: a
# sweep stops and retries these on rerun instead of penalising them.
MACHINE_FAILURES = (OSError, MemoryError, DataFormatError, DownloadError)
# How long a sweep job waits for a run that another process still trains (a worker of a killed
# sweep stops within a second or two of its parent; see nnsweep.experiments.lifeline).
SWEEP_LOCK_WAIT_S = 120.0


def train_run(
    cfg: Any,
    run_dir: str | Path,
    resume: bool | None = None,
    overrides: list[str] = (),
    hydra_record: dict[str, Any] | None = None,
    wait: float = 2.0,
    bars: bool = True,
) -> Summary:
    """Train the configured network, writing its run record into ``run_dir``; returns the summary.

    With ``resume`` (default: ``cfg.resume``) a run that already finished is returned as it is,
    without touching its files, and an unfinished one continues from its checkpoint. Settings
    other than the recorded ones are refused (only ``trainer.epochs`` may grow) before anything
    is written. The run's lock is held throughout, so two processes never train one run.
    ``bars=False`` draws no progress bars whatever ``trainer.progress`` says (a sweep's jobs).
    """
    started = time.time()
    run = RunDir(run_dir)
    resume = cfg.resume if resume is None else resume
    check_trainer(cfg)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(run.path, err) from None
    with run.training(wait=wait):
        previous = check_can_train(run, cfg, resume)
        if previous is not None and previous.is_done(cfg.trainer.epochs, cfg.trainer.pause_after):
            done = "finished" if previous.status.is_finished() else f"at epoch {previous.epochs_completed}"
            log.info("%s already %s (%s); reusing it", run.path, done, previous.status)
            return previous
        return _train(cfg, run, resume, list(overrides), hydra_record, started, bars, previous)


# Long on purpose: one run from its data to its summary, in order (data, network, resume, fit, evaluation, records);
# each step hands the next its state.
def _train(
    cfg: Any,
    run: RunDir,
    resume: bool,
    overrides: list[str],
    hydra_record: dict[str, Any] | None,
    started: float,
    bars: bool,
    previous: Summary | None = None,
) -> Summary:
    data = load_data(cfg)
    rng = np.random.default_rng(cfg.trainer.seed)
    network = build_network(cfg, data, rng)
    optimizer = build_optimizer(cfg, len(data.train))
    schedule = build_schedule(cfg)
    augment = build_augmenter(cfg)
    targets = build_targets(cfg, network.output_size, network.dtype)

    # Where this invocation stops: trainer.epochs, or a pause before it (a pruning sweep's rung).
    # fit() gets the earlier epoch; the schedule was built for trainer.epochs either way.
    stop_at = min(cfg.trainer.epochs, cfg.trainer.pause_after or cfg.trainer.epochs)
    state: TrainState | None = None
    if resume and run.model_path.exists():
        try:
            state = restore_training(load_checkpoint(run.model_path), network, optimizer, schedule, rng)
        except CheckpointError as err:
            raise ConfigError(f"cannot resume: {err}") from None
        if state.status in (Status.OK, Status.PAUSED, Status.PRUNED) and state.epoch < stop_at:
            state.status = Status.RUNNING  # it stopped at its old epoch budget or a pause; this one is later
        run.rewrite_metrics(state.records)
        started -= earlier_wall_time(previous, state)  # the run's time counts every invocation's
        log.info("resuming %s after epoch %d (status %s)", run.path, state.epoch, state.status)
    else:
        # A sweep starts every job with resume=true, so a fresh start is the normal case: no news.
        log.debug("%s: no checkpoint to continue, training starts at epoch 1", run.path)
        run.clear_results()
    run.write_config(cfg, overrides, hydra_record)
    environment.record(run.path, environment.current(), fresh=state is None)
    if data.val_is_test:
        log.warning(
            "data.val_size=0: all %d training images train and the test set is scored in validation's place "
            "(the classic authors' protocol); a best epoch or a sweep's choice is then made on the test set",
            len(data.train),
        )
    run.write_mean_input(data.train.x.mean(axis=0))  # where reports' class portraits start

    base = dict(
        run_dir=str(run.path),
        data=data.name,
        train_size=len(data.train),
        val_size=len(data.val),
        val_is_test=data.val_is_test,
        test_size=len(data.test),
        classes=data.classes,
        n_params=network.n_params,
        epochs=cfg.trainer.epochs,
        objective=cfg.objective,
        objective_direction=OBJECTIVES[cfg.objective],
    )
    progress = EpochProgress(
        cfg.trainer.epochs, len(data.train), cfg.trainer.batch_size, enabled=bars and cfg.trainer.progress
    )

    def on_epoch_end(record, st: TrainState) -> None:
        # Checkpoint first: if the process dies after it, resume rewrites metrics.csv from it.
        save_checkpoint(run.model_path, network, optimizer=optimizer, schedule=schedule, state=st, rng=rng)
        run.append_metrics(record, history=st.records)
        run.write_summary(Summary(**base, **summarise(st), wall_time_s=time.time() - started))
        progress.epoch_done(record)
        log.info(
            "epoch %d/%d  lr %.4g  train loss %.4f acc %.4f  val loss %.4f acc %.4f  (%.1f s)",
            record.epoch,
            cfg.trainer.epochs,
            record.lr,
            record.train_loss,
            record.train_acc,
            record.val_loss,
            record.val_acc,
            record.seconds,
            extra=PER_EPOCH,
        )

    with progress:
        progress.start(state.epoch if state else 0)
        state = fit(
            network,
            optimizer,
            schedule,
            data.train,
            data.val,
            epochs=stop_at,
            batch_size=cfg.trainer.batch_size,
            rng=rng,
            targets=targets,
            patience=cfg.trainer.patience,
            augment=augment,
            state=state,
            on_epoch_end=on_epoch_end,
            on_batches=progress.batches,
            clip_norm=cfg.trainer.clip_grad_norm,
            shuffle=cfg.trainer.shuffle,
        )

    if state.status == Status.OK and state.epoch < cfg.trainer.epochs:
        state.status = Status.PAUSED  # at trainer.pause_after: no test evaluation until it is done
    save_checkpoint(run.model_path, network, optimizer=optimizer, schedule=schedule, state=state, rng=rng)
    summary = Summary(**base, **summarise(state))
    if state.status == Status.PAUSED:
        summary.wall_time_s = time.time() - started
        run.write_summary(summary)
        log.info(
            "paused after epoch %d of %d: best val acc %s (epoch %s); resume=true continues it -> %s",
            state.epoch,
            cfg.trainer.epochs,
            _fmt(summary.best_val_acc),
            summary.best_epoch,
            run.path,
        )
        return summary
    if cfg.trainer.restore_best and state.best_params is not None:
        network.set_params(state.best_params)
    if not (state.status == Status.DIVERGED and state.best_params is None):
        evaluation, outputs = evaluate_network(network, data.test, targets)
        summary.test_loss, summary.test_acc = evaluation["test_loss"], evaluation["test_acc"]
        source = f"{data.name} test split"
        run.write_evaluation(
            {
                "run_dir": str(run.path),
                "test_source": source,
                "weights": "best" if cfg.trainer.restore_best else "final",
                **evaluation,
            }
        )
        run.write_test_errors(TestErrors(**most_confident_errors(data.test, outputs), source=np.array(source)))
    summary.wall_time_s = time.time() - started
    run.write_summary(summary)
    log.info(
        "%s after %d epochs%s: best val acc %s (epoch %s), test acc %s -> %s",
        state.status,
        state.epoch,
        ", did not learn (at chance)" if summary.at_chance else "",
        _fmt(summary.best_val_acc),
        summary.best_epoch,
        _fmt(summary.test_acc),
        run.path,
    )
    return summary


def summarise(state: TrainState) -> dict[str, Any]:
    """The run-level numbers of a train state (``Summary`` fields)."""
    finite = [r for r in state.records if not math.isnan(r.val_loss)]
    return {
        "status": Status(state.status),
        "epochs_completed": state.epoch,
        "best_val_acc": state.best_val_acc,
        "best_epoch": state.best_epoch,
        "final_val_acc": state.records[-1].val_acc if state.records else None,
        "best_val_loss": min((r.val_loss for r in finite), default=None),
        "diverged_epoch": state.diverged_epoch,
    }


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def record_failure(
    run: RunDir, cfg: Any, err: BaseException, overrides: list[str] = (), hydra_record: dict[str, Any] | None = None
) -> Summary:
    """Mark a run that raised: ``failed`` for the trial's own error (penalised by a search),
    ``interrupted`` for a failure of the machine (retried by a rerun). Keeps what it had written;
    a run that failed before recording its config records it now, so a sweep lists it."""
    try:
        summary = run.read_summary() or Summary()
    except RunRecordError:
        summary = Summary()
    summary.status = Status.INTERRUPTED if isinstance(err, MACHINE_FAILURES) else Status.FAILED
    summary.error = " ".join(f"{type(err).__name__}: {err}".split())
    summary.run_dir, summary.objective = str(run.path), cfg.objective
    try:
        if not run.exists():
            run.write_config(cfg, list(overrides), hydra_record)
        run.write_summary(summary)
    except WriteError as write_err:  # the disk that failed the run may refuse this too
        log.error("%s", write_err)
    return summary


def _hydra_record(hydra_cfg) -> dict[str, Any]:
    """What the run record keeps of Hydra's job: its number, name and config-group choices."""
    return {
        "job": {
            "name": hydra_cfg.job.name,
            "num": hydra_cfg.job.get("num"),
            "override_dirname": hydra_cfg.job.override_dirname,
        },
        "runtime": {"choices": OmegaConf.to_container(hydra_cfg.runtime.choices)},
        "mode": str(hydra_cfg.mode),
    }


def remove_unused_run_dir(run: RunDir, job_name: str) -> None:
    """After a single run failed before it recorded anything: remove its directory (and parents)
    if this command created it, with only this command's files in it (Hydra's log, the lock's
    holder file); anything that was there before, or a run record, keeps it."""
    if run.exists() or any((run.path / name).exists() for name in (METRICS, SUMMARY, MODEL)) or run.is_live():
        return  # a record to keep, or another process works in it (it refused us)
    remove_created_run_dir(run.path, own_files=(f"{job_name}.log", HOLDER))


@hydra.main(version_base="1.3", config_path="pkg://nnsweep.conf", config_name="config")
@exits_on_bad_input
def hydra_main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    run = RunDir(hydra_cfg.runtime.output_dir)
    overrides, record = list(hydra_cfg.overrides.task), _hydra_record(hydra_cfg)
    if hydra_cfg.mode != RunMode.MULTIRUN:
        try:
            summary = train_run(cfg, run.path, overrides=overrides, hydra_record=record)
        except KeyboardInterrupt:
            remove_unused_run_dir(run, hydra_cfg.job.name)
            if not run.exists():
                raise Interrupted(
                    "interrupted before the run recorded anything: nothing had finished, nothing was "
                    "kept; rerun the same command to start it"
                ) from None
            raise Interrupted(f"interrupted; continue the run with: resume=true hydra.run.dir={run.path}") from None
        except BaseException:
            remove_unused_run_dir(run, hydra_cfg.job.name)
            raise
        value = summary.objective_value()
        return float("nan") if value is None else value
    follow_parent()  # a worker of a sweep ends with the sweep's process
    fall_silent_on_interrupt()  # and after Ctrl-C prints nothing below the sweep's "interrupted"
    refuse_link(run.path)  # a run folder of a sweep that is a link would train into its target
    # In a sweep every job resumes (its directory is named by its overrides, so rerunning the
    # sweep finds it again), and a failing job is recorded, not raised: Hydra's sweepers stop
    # at the first exception, and one bad point must not cost the rest of the grid.
    try:
        # No bars: parallel workers would draw theirs over each other on one terminal; the
        # sweep's own line (nnsweep.sweeps.progress) reports runs as they finish.
        summary = train_run(
            cfg, run.path, resume=True, overrides=overrides, hydra_record=record, wait=SWEEP_LOCK_WAIT_S, bars=False
        )
    except LockedError as err:
        log.error("%s", err)  # another process trains it: leave its record alone
        return float("nan")
    except Exception as err:
        log.error("run %s failed: %s: %s", run.path, type(err).__name__, err)
        summary = record_failure(run, cfg, err, overrides, record)
    value = summary.objective_value()
    return float("nan") if value is None else value


def main() -> None:
    follow_parent()
    run_command(hydra_main, hydra_config="config")


if __name__ == "__main__":
    main()
