"""The run record: what one training run leaves in its directory, and the only code that reads
or writes it. ``experiments`` writes runs, ``sweeps`` and ``reports`` read them, all through here.
"""

from nnsweep.core.status import Status
from nnsweep.runrecord.lock import LockedError, exclusive_lock, is_locked
from nnsweep.runrecord.names import (
    BOOKKEEPING_KEYS,
    CONFIG_DIR,
    EVALUATION,
    LABEL_KEYS,
    MEAN_INPUT,
    METRICS,
    MODEL,
    SUMMARY,
    TEST_ERRORS,
    RunRecordError,
    evaluation_files,
    override_key,
    without_bookkeeping,
)
from nnsweep.runrecord.results import TestErrors
from nnsweep.runrecord.rundir import (
    RunDir,
    find_runs,
)
from nnsweep.runrecord.summary import (
    ClassLabels,
    Summary,
    finite_or_none,
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
