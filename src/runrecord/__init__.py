"""The run record: what one training run leaves in its directory, and the only code that reads
or writes it. ``experiments`` writes runs, ``sweeps`` and ``reports`` read them, all through here.
"""

from core.status import Status
from runrecord.lock import LockedError, exclusive_lock, is_locked
from runrecord.rundir import (
    BOOKKEEPING_KEYS,
    CONFIG_DIR,
    EVALUATION,
    LABEL_KEYS,
    MEAN_INPUT,
    METRICS,
    MODEL,
    SUMMARY,
    TEST_ERRORS,
    ClassLabels,
    RunDir,
    RunRecordError,
    Summary,
    TestErrors,
    evaluation_files,
    find_runs,
    finite_or_none,
    override_key,
    without_bookkeeping,
)

__all__ = [
    "BOOKKEEPING_KEYS",
    "CONFIG_DIR",
    "ClassLabels",
    "EVALUATION",
    "LABEL_KEYS",
    "MEAN_INPUT",
    "METRICS",
    "MODEL",
    "SUMMARY",
    "TEST_ERRORS",
    "LockedError",
    "RunDir",
    "RunRecordError",
    "Status",
    "Summary",
    "TestErrors",
    "evaluation_files",
    "exclusive_lock",
    "find_runs",
    "finite_or_none",
    "is_locked",
    "override_key",
    "without_bookkeeping",
]
