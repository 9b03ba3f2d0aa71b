"""Whether a run may train into its directory, and how a run that continues counts what came
before: a directory holding someone else's files, a run whose checkpoint is gone, another run's
settings, or a budget that would take trained epochs back, each refused in one line; the wall
time of earlier invocations added to this one's.
"""

from __future__ import annotations

import logging
from typing import Any

from nnsweep.experiments.build import ConfigError, schedule_spans_trainer_epochs
from nnsweep.nets.train import TrainState
from nnsweep.runrecord import RunDir, RunRecordError, Summary
from nnsweep.runrecord.names import CONFIG, METRICS, MODEL, SUMMARY

log = logging.getLogger("nnsweep.train")


# Long on purpose: a list of refusals, each a condition and its one line, in the order a user meets them.
def check_can_train(run: RunDir, cfg: Any, resume: bool) -> Summary | None:
    """The run's summary so far, after checking that ``cfg`` may train into ``run``.

    A directory is trained into only if what it holds under a run's names is nnsweep's: a
    ``summary.json`` that is not a readable run summary is the user's file, and without a
    checkpoint to rewrite it from it is refused, not replaced. A run whose records show trained
    epochs but whose checkpoint is gone cannot continue: starting it again at epoch 1 would
    replace its records, so that is refused too (restore the checkpoint, or train elsewhere)."""
    try:
        summary = run.read_summary()
    except RunRecordError as err:
        if not run.model_path.exists():
            raise ConfigError(
                f"{run.path / SUMMARY} is not a run summary nnsweep can read, and there is no checkpoint "
                f"({MODEL}) to rewrite it from; move it out of {run.path}, or choose another run "
                "directory"
            ) from None
        log.warning("%s; it is rewritten from the checkpoint", err)
        summary = None
    has_results = summary is not None or run.model_path.exists() or run.has_metrics()
    if not has_results:
        return None
    trained = trained_epochs(run, summary) if resume and not run.model_path.exists() else 0
    if trained != 0:
        shown = f"{trained} epochs" if trained is not None else f"a {METRICS} it cannot read"
        raise ConfigError(
            f"{run.path} holds a run's records ({shown}) but no checkpoint ({MODEL}) to continue from; "
            f"restore {MODEL} to continue it, or train into a new run directory"
        )
    if not resume:
        state = f"{summary.status}, {summary.epochs_completed} epochs" if summary else "no summary"
        raise ConfigError(
            f"{run.path} already holds a run ({state}); add resume=true to continue it, or choose another run directory"
        )
    if not run.exists():
        raise ConfigError(
            f"{run.path} holds a run but no record of its settings ({CONFIG}); restore that file, "
            "or choose another run directory"
        )
    if summary is not None and cfg.trainer.epochs < summary.epochs_completed:
        raise ConfigError(
            f"{run.path} has trained {summary.epochs_completed} epochs; trainer.epochs={cfg.trainer.epochs} "
            f"would take them back: only trainer.epochs may grow when a run continues"
        )
    recorded = run.config_data()  # plain data: nothing in it is resolved
    recorded_epochs = (
        (recorded.get("trainer") or {}).get("epochs") if isinstance(recorded.get("trainer"), dict) else None
    )
    if (
        recorded_epochs != cfg.trainer.epochs
        and schedule_spans_trainer_epochs(cfg)
        and isinstance(recorded.get("schedule"), dict)
        and schedule_spans_trainer_epochs(recorded)
    ):
        raise ConfigError(
            f"{run.path} anneals its cosine schedule over trainer.epochs={recorded_epochs}: continued to "
            f"trainer.epochs={cfg.trainer.epochs} its first epochs would be on one curve and the rest on "
            f"another; train a new run with trainer.epochs={cfg.trainer.epochs} (another hydra.run.dir), "
            f"or continue this one with trainer.epochs={recorded_epochs}"
        )
    differ = run.settings_differ(cfg)
    if differ:
        shown = "; ".join(differ[:3]) + (f"; and {len(differ) - 3} more" if len(differ) > 3 else "")
        raise ConfigError(
            f"{run.path} holds a model trained with other settings ({shown}); only trainer.epochs "
            "may change when a run continues: use the recorded settings or another run directory"
        )
    return summary


def trained_epochs(run: RunDir, summary: Summary | None) -> int | None:
    """How many epochs the run's records say were trained (its summary, or metrics.csv's rows);
    None for a metrics.csv nnsweep cannot read, which is a record too: not ours to replace."""
    if summary is not None and summary.epochs_completed:
        return summary.epochs_completed
    try:
        return len(run.read_metrics())
    except RunRecordError:
        return None


def earlier_wall_time(previous: Summary | None, state: TrainState) -> float:
    """Seconds the invocations before this one spent on the run, for a run that continues from
    ``state`` (its checkpoint): what its summary recorded (every earlier invocation's, each one
    adding its own), plus the epochs the checkpoint holds beyond that summary (a process that
    died between writing the two). Without a readable summary, the checkpoint's epochs' times.
    So a pruned trial's time is every rung's, not its last rung's."""
    if previous is None or previous.wall_time_s is None:
        return sum(r.seconds for r in state.records)
    return previous.wall_time_s + sum(r.seconds for r in state.records[previous.epochs_completed :])
