"""How one job of a sweep ended (``Outcome``), read from its run directory through ``runrecord``,
and what a sweep writes back into a run's record (``mark_run``: failed after its worker died,
pruned). The launcher (``nnsweep.sweeps.launch``) makes outcomes; the sweeper, its repeats and its
progress line read them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from nnsweep.core.errors import NnsweepError
from nnsweep.runrecord import RunDir, RunRecordError, Status, Summary, without_bookkeeping

log = logging.getLogger("nnsweep.sweep")


@dataclass
class Outcome:
    """How one job of a batch ended."""

    overrides: list[str]
    job: int | None  # the job number it was launched as (None: not launched)
    run_dir: Path | None
    status: Status
    objective: float | None  # None unless the trial produced a finite objective
    error: str | None = None
    worker_died: bool = False  # failed because its worker was killed MAX_CRASHES times
    epochs: int | None = None  # epochs the run completed (None: no run record)

    @property
    def machine_failed(self) -> bool:
        """The run did not finish (nor pause, as asked) although its job returned: the machine
        failed under it."""
        return not (self.status.is_finished() or self.status == Status.PAUSED)


def relative_run_dir(run_dir: Path | None, sweep_dir: Path) -> str | None:
    """A run directory as the trial log and runs.csv name it: relative to the sweep."""
    if run_dir is None:
        return None
    try:
        return str(run_dir.resolve().relative_to(Path(sweep_dir).resolve()))
    except ValueError:  # a hydra.sweep.subdir outside the sweep directory
        return str(run_dir)


def trial_key(overrides: Sequence[str]) -> str:
    """What identifies a trial whatever the order of its overrides: ``a=1 b=2``."""
    return " ".join(sorted(without_bookkeeping(list(overrides))))


def run_outcome(run: RunDir, summary: Summary, overrides: list[str], number: int | None) -> Outcome:
    """How a run with a summary stands, as a job's outcome: its objective once it ended, or
    paused where it was asked to (a pruning search judges it there)."""
    status = run.status()
    objective = summary.objective_value() if status.is_finished() or status == Status.PAUSED else None
    return Outcome(
        overrides, number, run.path.resolve(), status, objective, summary.error, epochs=summary.epochs_completed
    )


def mark_run(run: RunDir, status: Status, error: str | None = None) -> None:
    """Record how a sweep ended a run (``failed`` after its worker died, ``pruned``) in the
    run's own record, so collect shows it and a rerun reuses it."""
    try:
        with run.training(wait=10.0):
            try:
                summary = run.read_summary() or Summary(run_dir=str(run.path))
            except RunRecordError:
                summary = Summary(run_dir=str(run.path))
            summary.status, summary.error = status, error if error is not None else summary.error
            run.write_summary(summary)
    except NnsweepError as err:  # it is in use, or cannot be written: the sweep's own record stands
        log.warning("could not record %s as %s: %s", run.path, status.value, err)
