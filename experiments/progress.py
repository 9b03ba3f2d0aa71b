"""What a person sees of a training run as it goes: progress bars, and log lines that say which
job of a sweep they belong to.

The bars are one over epochs and one over the current epoch's batches. tqdm with
``disable=None`` shows them only when stderr is a terminal, so logs, CI output and sweep jobs
that write to files stay clean. While they are shown, log lines go through ``tqdm.write``
(``logging_redirect_tqdm``): a line logged during training is printed above the bars instead of
being glued to the end of a half-drawn bar.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from contextlib import ExitStack

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


class EpochProgress:
    def __init__(self, epochs: int, n_train: int, batch_size: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.n_batches = math.ceil(n_train / batch_size)
        self.disable = None if enabled else True
        self._epochs_bar = self._batches_bar = None
        self._seen = 0
        self._redirect = ExitStack()

    @property
    def shown(self) -> bool:
        """Whether the bars appear: enabled, and stderr (tqdm's stream) is a terminal."""
        isatty = getattr(sys.stderr, "isatty", None)
        return self.disable is None and callable(isatty) and isatty()

    def __enter__(self) -> "EpochProgress":
        if self.shown:
            # Hydra's console handler becomes one that writes through tqdm (same stream and
            # formatter), for as long as the bars live.
            self._redirect.enter_context(logging_redirect_tqdm(tqdm_class=tqdm))
        return self

    def __exit__(self, *exc) -> None:
        try:
            for bar in (self._batches_bar, self._epochs_bar):
                if bar is not None:
                    bar.close()
        finally:
            self._redirect.close()

    def start(self, done: int) -> None:
        self._epochs_bar = tqdm(total=self.epochs, initial=done, desc="epochs", unit="epoch", disable=self.disable)
        self._new_batch_bar()

    def _new_batch_bar(self) -> None:
        if self._batches_bar is not None:
            self._batches_bar.close()
        self._batches_bar = tqdm(total=self.n_batches, desc="batches", unit="batch", leave=False, disable=self.disable)
        self._seen = 0

    def batches(self, index: int) -> None:
        """Called by the training loop with the index of the current batch."""
        self._batches_bar.update(index + 1 - self._seen)
        self._seen = index + 1

    def epoch_done(self, record) -> None:
        self._epochs_bar.set_postfix(val_acc=f"{record.val_acc:.3f}", refresh=False)
        self._epochs_bar.update(1)
        self._new_batch_bar()


class JobFormatter(logging.Formatter):
    """Log lines that name the job of a sweep they come from: ``[job 3: optimizer.lr=0.01,trainer.seed=1]``
    where the format says ``%(job)s``, and nothing there in a single run.

    The jobs of a sweep run side by side and write into one terminal: two runs at
    ``optimizer.lr=0.01`` that differ in another key must be told apart from their lines alone.
    ``conf/config.yaml`` (``hydra.job_logging``) hands over Hydra's job number (null outside a
    sweep) and its override dirname, which is also the name of the job's run directory. A
    formatter rather than a logging filter, because ``logging_redirect_tqdm`` carries a
    handler's formatter over to the handler it puts in its place, but not its filters.
    """

    def __init__(self, fmt: str, job: int | None = None, overrides: str = "", datefmt: str | None = None) -> None:
        super().__init__(fmt.replace("%(job)s", job_tag(job, overrides).replace("%", "%%")), datefmt)
        self._untagged = logging.Formatter(fmt.replace("%(job)s", ""), datefmt)
        # The job trains in the thread that configures its logging. Another thread's lines are
        # not the job's: a sweeper's progress thread, when the launcher runs jobs in the
        # sweeper's own process (Hydra's basic launcher, joblib with n_jobs=1).
        self._job_thread = threading.get_ident()

    def format(self, record: logging.LogRecord) -> str:
        if record.thread != self._job_thread:
            return self._untagged.format(record)
        return super().format(record)


PER_EPOCH = {"per_epoch": True}  # ``extra=`` of a run's line per epoch


class SweepConsole(logging.Filter):
    """Keeps a sweep job's per-epoch lines (logged with ``extra=PER_EPOCH``) off the terminal; they go to
    the run's ``train.log``. A sweep trains several runs side by side: their epochs interleaved
    on one terminal (165 of the 207 lines of ``make sweep-lr``) hide what the sweep says, one line
    as each run ends and the sweep's progress line (``nnsweep.sweeps.progress``). A single run (no job
    number) shows its epochs. ``conf/config.yaml`` puts it on the console handler."""

    def __init__(self, job: int | None = None) -> None:
        super().__init__()
        self.in_sweep = job is not None

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.in_sweep and getattr(record, "per_epoch", False))


def job_tag(job: int | None, overrides: str = "") -> str:
    """``[job 3: a=1,b=2]`` for job 3 of a sweep, ``[job 3]`` without overrides, "" for a single run."""
    if job is None:
        return ""
    return f"[job {job}: {overrides}]" if overrides else f"[job {job}]"
