"""How a sweep stops, each as one line (``SweepError``, an ``NnsweepError`` that Hydra also prints
without a traceback): bad settings (exit 2), the machine failing under its trials, no trial with a
result, or a launcher that could not run the jobs (exit 1: rerunning the same command continues).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from hydra.errors import CompactHydraException

from nnsweep.core.errors import NnsweepError
from nnsweep.runrecord import Status
from nnsweep.sweeps.outcomes import Outcome, relative_run_dir, trial_key


class SweepError(NnsweepError, CompactHydraException):
    """A sweep that cannot go on: one line from ``nnsweep.experiments.cli.run_command`` (an
    ``NnsweepError``), and from Hydra itself its message alone, without a traceback."""


class MachineFailureError(SweepError):
    """Trials ended by a failure of the machine (no space, an OS error): retried on rerun.
    Exit status 1, not 2: the settings are fine, and rerunning the same command continues."""

    exit_code = 1


def machine_failure(outcomes: Sequence[Outcome], sweep_dir: Path, noun: str, where: str) -> MachineFailureError:
    """The one line that stops a sweep whose trials the machine failed (``noun``: trial, run)."""
    failed = [o for o in outcomes if o.machine_failed]
    first, many = failed[0], len(failed) > 1
    at = relative_run_dir(first.run_dir, sweep_dir) or trial_key(first.overrides)
    reason = first.error or (
        "another process is training it" if first.status == Status.RUNNING else "its process stopped before it finished"
    )
    return MachineFailureError(
        f"{len(failed)} {noun}{'s' if many else ''} {where} {'were' if many else 'was'} stopped by a failure of the "
        f"machine, not by {'their' if many else 'its'} settings ({at}: {reason}); fix that and rerun the same command "
        f"to retry {'them' if many else 'it'} (finished {noun}s are kept)"
    )


class NoResultError(SweepError):
    """A sweep that ran to its end without one trial producing a result: exit status 1."""

    exit_code = 1


def no_result(sweep_dir: Path, n: int) -> NoResultError:
    return NoResultError(
        f"no trial of the sweep produced a result ({n} failed or diverged); see the status and error "
        f"columns of {sweep_dir / 'runs.csv'}"
    )


class LauncherError(SweepError):
    """The launcher itself failed (a job's own failure comes back as its JobReturn instead):
    a setting it refuses is bad input, exit 2; a cluster it cannot reach (an OSError) is the
    machine's failure, exit 1. The batch's finished runs stay on disk either way."""


def launcher_failure(launcher, err: BaseException) -> LauncherError:
    text = " ".join(str(err).split()) or "no message"
    failure = LauncherError(
        f"the launcher {type(launcher).__name__} could not run the jobs ({type(err).__name__}: "
        f"{text[:300]}); check its hydra.launcher settings (README, Clusters) and rerun the same "
        f"command: finished runs are kept"
    )
    failure.exit_code = 1 if isinstance(err, OSError) else 2
    return failure


# How a worker's traceback text ends when one of our errors stopped it: "nnsweep.<layer>.<module>.<Name>Error: <line>".
PROJECT_ERROR_LINE = r"^nnsweep\.[\w.]*Error: (.+)$"


def project_error_line(err: BaseException) -> str | None:
    """The line of an nnsweep error behind a launcher's exception, or None: raised in this
    process (the chain of causes), or in a worker, whose traceback loky passes on as text."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, NnsweepError):
            return str(err)
        if type(err).__name__ == "_RemoteTraceback":
            lines = re.findall(PROJECT_ERROR_LINE, str(err), re.M)
            if lines:
                return lines[0]
        err = err.__cause__ or err.__context__
    return None
