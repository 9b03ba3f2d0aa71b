"""Launching a sweep's jobs through Hydra's launcher, and what the sweepers share around it.

nnsweep's sweeper (``nnsweep.sweeps.search``: the grid of ``-m``, ``hydra/sweeper=nnsweep`` and
``hydra/sweeper=skopt``) hands its batches to ``TrialLauncher``, which turns what the launcher
returns into one ``Outcome`` per job, read from the job's run directory through ``runrecord``:

- Identical points in one batch (a ``choice`` with few options, a skopt batch asked with
  constant liar) are launched once; each copy gets the same outcome. Two jobs never train one
  run directory at once.
- A worker that dies (the kernel's out-of-memory killer sends SIGKILL) makes joblib's launcher
  raise out of the whole batch, and kills the batch's other workers too. The trials that
  finished are read from their run directories and kept; the others are counted as crashed
  and retried one at a time, so a second death belongs to one trial. A trial whose worker died
  ``MAX_CRASHES`` times is recorded as failed: a rerun cannot loop forever on it.
- A run whose job returned but which did not finish (``interrupted``: no space, an OS error,
  out of memory inside the job) failed because of the machine, not its settings. The outcome
  says so; the sweeper stops without penalising it, and a rerun retries it.

The sweep holds the lock of ``nnsweep.sweeps.lock`` for its whole run; the sweep's
own stale temporary files (a ``kill -9`` during an atomic write) are removed once it is held.
"""

from __future__ import annotations

import logging
import re
import socket
from concurrent.futures import BrokenExecutor
from pathlib import Path
from typing import Callable, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import ConfigCompositionException
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf, open_dict

from nnsweep.core.atomic import atomic_write, atomic_write_text
from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.arguments import hydra_quoted
from nnsweep.runrecord import RunDir, RunRecordError, Status, find_runs, finite_or_none
from nnsweep.sweeps.errors import LauncherError, SweepError, launcher_failure, project_error_line
from nnsweep.sweeps.lock import sweep_lock
from nnsweep.sweeps.outcomes import Outcome, mark_run, run_outcome, trial_key

log = logging.getLogger("nnsweep.sweep")
MAX_CRASHES = 2  # deaths of a trial's worker before the trial is recorded as failed
# Launchers other than joblib's report a dead worker with these (submitit, Ray).
WORKER_DEATHS = ("UncompletedJobError", "WorkerCrashedError")


class LaunchingSweeper(Sweeper):
    """What nnsweep's sweepers share of Hydra's interface: ``setup`` keeps the context and the
    configured launcher (``self.launcher``); each sweeper writes its own ``sweep``."""

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        make_sweep_dir_absolute(config)
        check_cluster_answers(config)
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def run_locked(self, body: Callable[[Path], None]) -> None:
        """``body(sweep_dir)`` under the sweep lock, after saving ``multirun.yaml``; Ctrl-C still
        writes the sweep's tables, and a project error leaves as a ``SweepError`` (one line from
        Hydra too)."""
        sweep_dir = Path(self.config.hydra.sweep.dir)
        try:
            own = (MULTIRUN_RECORD, *_files_before_jobs)
            with sweep_lock(sweep_dir, own_files=own):  # and removes its stale temporary files
                # Atomically: a symbolic link planted at the name is replaced, never written through.
                atomic_write_text(sweep_dir / MULTIRUN_RECORD, OmegaConf.to_yaml(self.config))
                for name, data in _files_before_jobs.items():
                    atomic_write(sweep_dir / name, lambda f, data=data: f.write(data))
                try:
                    body(sweep_dir)
                except KeyboardInterrupt:
                    collect_on_interrupt(sweep_dir)
                    raise
        except SweepError:
            raise
        except NnsweepError as err:  # a bad space, a sweep in use, a damaged trial log, a table not written
            raise SweepError(str(err)) from None


def check_cluster_answers(config: DictConfig, timeout_s: float = 5.0) -> None:
    """Refuse a Ray cluster address where nothing answers, before any job: Ray retries such an
    address without end and ignores Ctrl-C while it does. Exit status 1: the settings may be
    right and the cluster down; rerun once it answers."""
    launcher = config.hydra.get("launcher") or {}
    if not str(launcher.get("_target_", "")).endswith(".RayLauncher"):
        return
    address = OmegaConf.select(launcher, "ray.init.address", default=None)
    host, _, port = str(address or "").rpartition(":")
    if not host or not port.isdigit():
        return  # no address (Ray starts here), "auto", or a ray:// client address: Ray's own business
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        failure = LauncherError(
            f"no Ray cluster answers at {address} ({err.strerror or err}); start it (ray start "
            f"--head --port={port}) or correct +hydra.launcher.ray.init.address, then rerun"
        )
        failure.exit_code = 1
        raise failure from None


def make_sweep_dir_absolute(config: DictConfig) -> None:
    """Pin a relative ``hydra.sweep.dir`` to the directory the sweep was started in.

    A launcher's workers may run in another working directory than the sweep (a Ray cluster
    started elsewhere, a SLURM job's directory); a relative sweep directory would put each run
    where its worker happens to be, out of the sweeper's sight. Launchers compose every job's
    config again from ``hydra.overrides.hydra``, so the absolute path goes there too."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    if sweep_dir.is_absolute():
        return
    absolute = str(Path(str(config.hydra.runtime.cwd)) / sweep_dir)
    with open_dict(config):
        config.hydra.sweep.dir = absolute
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir={hydra_quoted(absolute)}")


MULTIRUN_RECORD = "multirun.yaml"  # Hydra's record of the sweep's config, written before any job
_files_before_jobs: dict[str, bytes] = {}


def write_before_jobs(files: dict[str, bytes]) -> None:
    """Files that the command running a sweep in this process (``nnsweep sweep-lr``: its range
    test) hands to the sweep, to be written into the sweep directory under its lock, before any
    job, beside ``multirun.yaml``: the sweep's own files, so a Ctrl-C before the first run removes
    them with the directory it created, and a sweep refused by the lock writes nothing."""
    _files_before_jobs.update(files)


def collect_on_interrupt(sweep_dir: Path) -> None:
    """Ctrl-C of a sweep: write runs.csv and epochs.csv of what exists before leaving, so the
    tables never lag behind the runs (a second Ctrl-C skips it). Before its first run there is
    nothing to tabulate, and a sweep folder this command created is then removed whole
    (``nnsweep.sweeps.lock.sweep_lock``)."""
    from nnsweep.sweeps.collect import collect

    try:
        if not find_runs(sweep_dir):
            return
        collect(sweep_dir)
    except (NnsweepError, KeyboardInterrupt):
        pass


def is_worker_death(err: BaseException) -> bool:
    return isinstance(err, BrokenExecutor) or type(err).__name__ in WORKER_DEATHS


class TrialLauncher:
    """Runs batches of jobs through a sweeper's Hydra launcher (see the module docstring).

    ``crashes`` maps ``trial_key`` to the deaths of that trial's worker so far; it is updated in
    place and ``on_crash`` is called after each death, so a sweeper can persist it."""

    def __init__(
        self, sweeper, crashes: dict[str, int] | None = None, on_crash: Callable[[], None] = lambda: None
    ) -> None:
        self.sweeper = sweeper
        self.crashes = crashes if crashes is not None else {}
        self.on_crash = on_crash

    def run(self, batch: Sequence[Sequence[str]], first_job: int) -> tuple[list[Outcome], int]:
        """Launch ``batch`` as jobs ``first_job, first_job + 1, ...``; returns one outcome per
        entry of ``batch`` (copies share theirs) and the next free job number."""
        unique: dict[str, list[str]] = {}
        for overrides in batch:
            unique.setdefault(trial_key(overrides), list(overrides))
        outcomes: dict[str, Outcome] = {}
        numbers: dict[str, int] = {}
        for key, overrides in unique.items():
            if self.crashes.get(key, 0) >= MAX_CRASHES:
                outcomes[key] = self._crash_failed(overrides, None)
            else:
                numbers[key] = first_job + len(numbers)
        copies = len(batch) - len(unique)
        if copies:
            log.info(
                "%d of the %d points of this batch are copies of others: each distinct point is trained once",
                copies,
                len(batch),
            )
        pending = list(numbers)
        together = True
        while pending:
            group = pending if together else pending[:1]
            try:
                returns = self._launch([unique[k] for k in group], [numbers[k] for k in group])
            except NnsweepError:
                raise
            except Exception as err:
                if isinstance(err, ConfigCompositionException):  # composed by the launcher, per job
                    raise SweepError(
                        f"a point of the sweep cannot be composed: {' '.join(str(err).split())[:300]}; "
                        "change the search space or the grid (finished runs are kept)"
                    ) from None
                known = project_error_line(err)  # a job refused before its task ran (a link at train.log)
                if known is not None:
                    raise SweepError(known) from None
                if not is_worker_death(err):
                    raise launcher_failure(self.sweeper.launcher, err) from err
                self._after_death(err, group, unique, numbers, outcomes)
                together = False  # from now on one at a time: a death names its trial
            else:
                for key, ret in zip(group, returns):
                    outcomes[key] = self._outcome(unique[key], numbers[key], ret)
                    self.crashes.pop(key, None)
            pending = [k for k in pending if k not in outcomes]
        return [outcomes[trial_key(o)] for o in batch], first_job + len(numbers)

    # ----- launching -----------------------------------------------------------------------
    def _launch(self, jobs: list[list[str]], numbers: list[int]) -> Sequence[JobReturn]:
        """Hydra numbers a batch's jobs consecutively; a retried job keeps its own number."""
        from hydra.core.utils import configure_log

        if len(jobs) > 1:
            assert numbers == list(range(numbers[0], numbers[0] + len(jobs)))
        try:
            return self.sweeper.launcher.launch(jobs, initial_job_idx=numbers[0])
        finally:
            # A launcher that runs jobs in this process (joblib with n_jobs=1) leaves the last
            # job's logging in place: the sweep's own lines would read as that job's. Hydra's
            # basic launcher restores it the same way after each job.
            hydra = self.sweeper.config.hydra
            configure_log(hydra.hydra_logging, hydra.verbose)

    def _after_death(
        self,
        err: BaseException,
        group: list[str],
        unique: dict[str, list[str]],
        numbers: dict[str, int],
        outcomes: dict[str, Outcome],
    ) -> None:
        reason = _death_reason(err)
        for key in group:
            run_dir, cfg = self.job_dir(unique[key], numbers[key])
            finished = self._finished_on_disk(unique[key], numbers[key], run_dir, cfg)
            if finished is not None:
                outcomes[key] = finished
                continue
            self.crashes[key] = self.crashes.get(key, 0) + 1
            if len(group) == 1:
                log.warning("the worker of %s died (%s; try %d of %d)", key, reason, self.crashes[key], MAX_CRASHES)
            if self.crashes[key] >= MAX_CRASHES:
                outcomes[key] = self._crash_failed(unique[key], numbers[key])
        if len(group) > 1:
            log.warning(
                "a worker died while it ran this batch (%s); its unfinished trials are retried one at a time", reason
            )
        self.on_crash()

    # ----- reading outcomes ----------------------------------------------------------------
    def _outcome(self, overrides: list[str], number: int, ret: JobReturn) -> Outcome:
        run_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir).resolve()
        if ret.status != JobStatus.COMPLETED:  # return_value would re-raise the job's exception
            err = getattr(ret, "_return_value", None)
            log.error("trial %d failed with an exception (%s); see %s", number, err, run_dir)
            return Outcome(overrides, number, run_dir, Status.FAILED, None, f"{type(err).__name__}: {err}")
        run = RunDir(run_dir)
        try:
            summary = run.read_summary()
        except RunRecordError as err:
            return Outcome(overrides, number, run_dir, Status.FAILED, None, str(err))
        if summary is None:
            # A task without a run record (not nnsweep.experiments.train): its return value is the result.
            objective = finite_or_none(ret.return_value)
            return Outcome(overrides, number, run_dir, Status.OK if objective is not None else Status.FAILED, objective)
        return run_outcome(run, summary, overrides, number)

    def job_dir(self, overrides: list[str], number: int) -> tuple[Path, DictConfig]:
        """Where Hydra runs job ``number`` with ``overrides`` (its own config says)."""
        from hydra.core.hydra_config import HydraConfig

        cfg = self.sweeper.hydra_context.config_loader.load_sweep_config(self.sweeper.config, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.num = number
            cfg.hydra.job.id = f"{cfg.hydra.job.name}_{number}"
        hydra_config = HydraConfig.instance()
        saved = hydra_config.cfg
        try:
            hydra_config.set_config(cfg)  # for ${hydra:...} in the directory's pattern
            path = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        finally:
            hydra_config.cfg = saved
        return path.resolve(), cfg

    def _finished_on_disk(self, overrides: list[str], number: int, run_dir: Path, cfg: DictConfig) -> Outcome | None:
        """The outcome of a trial whose run finished before its batch broke, or None."""
        run = RunDir(run_dir)
        try:
            summary = run.read_summary()
        except RunRecordError:
            return None
        # nnsweep.experiments.train's epoch budget: an ok run that was asked for fewer epochs is not done,
        # and a run asked to pause is done once it paused there.
        epochs = OmegaConf.select(cfg, "trainer.epochs", default=None)
        pause = OmegaConf.select(cfg, "trainer.pause_after", default=None)
        if summary is None or not summary.is_done(epochs, pause):
            return None
        log.info("%s finished before its worker's batch broke: kept", run_dir)
        return run_outcome(run, summary, overrides, number)

    def _crash_failed(self, overrides: list[str], number: int | None) -> Outcome:
        """A trial whose worker died ``MAX_CRASHES`` times: failed, and its run says why."""
        key = trial_key(overrides)
        error = (
            f"its worker died {self.crashes.get(key, MAX_CRASHES)} times (killed by the system: out of "
            "memory?); not tried again"
        )
        log.error("%s: %s", key, error)
        if number is None:  # not launched this time: its directory may depend on a job number
            return Outcome(overrides, None, None, Status.FAILED, None, error, worker_died=True)
        run_dir, _ = self.job_dir(overrides, number)
        if run_dir.is_dir():
            mark_run(RunDir(run_dir), Status.FAILED, error)
        return Outcome(overrides, number, run_dir, Status.FAILED, None, error, worker_died=True)


def _death_reason(err: BaseException) -> str:
    """How the worker ended, in a few words (loky's message is a paragraph ending with the
    workers' exit codes, e.g. ``{SIGKILL(-9)}``)."""
    text = " ".join(str(err).split())
    codes = re.search(r"exit codes of the workers are (\{.*?\})", text)
    if codes:
        return f"killed: exit code {codes.group(1)}"
    return text if len(text) <= 160 else text[:157] + "..."
