"""How a training run stands: one enum for the whole project.

Modelled on Optuna's ``TrialState``: a run is *finished* when rerunning it would change nothing
(it ended by itself, or a search ended it); ``running``, ``interrupted`` and ``paused`` are not,
so a rerun continues them. The training loop sets ``running``, ``ok``, ``early_stopped`` and
``diverged``; the harness adds ``failed`` (the trial's own exception), ``interrupted`` (the process
was killed, or the machine failed under it), ``paused`` (it stopped where it was asked to,
``trainer.pause_after``, with its checkpoint: a pruning search judges it there and may continue
it) and ``pruned`` (a search judged it there and stopped it for good).
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    RUNNING = "running"
    OK = "ok"
    EARLY_STOPPED = "early_stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"
    PAUSED = "paused"

    def is_finished(self) -> bool:
        """True when the run has ended for good (a rerun reuses it as it is).

        ``ok`` is finished for the epochs it was asked for; whether a larger epoch budget
        continues it is the run record's question (``Summary.is_done``)."""
        return self in (Status.OK, Status.EARLY_STOPPED, Status.DIVERGED, Status.FAILED, Status.PRUNED)

    def __str__(self) -> str:
        return self.value
