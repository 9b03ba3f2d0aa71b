"""The run record's names: the files a run directory holds, the overrides that identify a run
(and those that do not), and the directory names of a sweep's runs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import fields
from pathlib import Path

from nnsweep.core.errors import NnsweepError
from nnsweep.nets.train import EpochRecord

CONFIG_DIR = ".hydra"
CONFIG, OVERRIDES, HYDRA = f"{CONFIG_DIR}/config.yaml", f"{CONFIG_DIR}/overrides.yaml", f"{CONFIG_DIR}/hydra.yaml"
METRICS, SUMMARY, MODEL = "metrics.csv", "summary.json", "model.npz"
EVALUATION, TEST_ERRORS, MEAN_INPUT = "evaluation.json", "test_errors.npz", "mean_input.npy"
METRIC_COLUMNS = [f.name for f in fields(EpochRecord)]
OWN_TEST_SET = "own"  # the run's own test split, in the names of other evaluations
MAX_YAML_BYTES = 1_000_000  # a recorded config is a few KB
MAX_EPOCH_ROWS = 100_000  # metrics.csv rows are about 150 bytes each
MAX_METRICS_BYTES = 200 * MAX_EPOCH_ROWS

# Overrides that change how a run is driven, not what it computes: they do not identify a run.
# conf/config.yaml leaves them out of run directory names (nnsweep.experiments.config registers them as
# the resolver ``nnsweep.bookkeeping_keys``).
BOOKKEEPING_KEYS = ("resume", "sweep", "trainer.progress", "trainer.pause_after")

# Settings a resumed run may change: the epoch budget can grow (a finished run continues), unless
# the schedule anneals over the whole budget (a cosine: nnsweep.experiments.continuing.check_can_train refuses).
RESUMABLE_KEYS = ("trainer.epochs",)

# Settings that only name what a report shows (the classes, the word for one image): a run
# continues whatever they say, and runs recorded before they existed continue too.
LABEL_KEYS = ("data.class_names", "data.noun")

# Settings added after runs were first recorded, with the value that does what the runs recorded
# before them did: a record without the key reads as having this value, so those runs continue.
ADDED_KEYS = {"trainer.flip": False, "net.init_gain": 1.0, "trainer.shuffle": True}


class RunRecordError(NnsweepError):
    """A run file that is missing or cannot be read; the message names the file."""


def override_key(override: str) -> str:
    """The key an override sets: ``+hydra.launcher.x=1`` -> ``hydra.launcher.x``, ``net=mlp`` -> ``net``."""
    return override.lstrip("+~").partition("=")[0]


def without_bookkeeping(overrides: list[str]) -> list[str]:
    """Overrides minus the bookkeeping ones: what identifies a run."""
    return [o for o in overrides if override_key(o) not in BOOKKEEPING_KEYS]


def evaluation_files(weights: str, test_set: str | None = None, trained: str = "best") -> tuple[str, str]:
    """The files (evaluation json, test mistakes npz) of an evaluation of ``weights`` (best,
    final) on ``test_set`` (an IDX test set's directory; None: the run's own test split).
    Training's evaluation (its own split, the ``trained`` weights) is ``evaluation.json`` and
    ``test_errors.npz``, the files the report reads beside the summary's test accuracy; any
    other is ``evaluation-<weights>-<test set>.json`` (test set: ``own``, or the directory's name
    in letters, digits and ``._-`` and 8 hex digits of its absolute path's SHA-256: two test sets
    in folders of the same name, ``a/own`` and ``b/own``, never share a file), so evaluating
    another never changes those."""
    if test_set is None and weights == trained:
        return EVALUATION, TEST_ERRORS
    if test_set is None:
        name = OWN_TEST_SET
    else:
        where = Path(test_set).resolve()
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", where.name).strip(".-")[:60] or "root"
        name = f"{readable}-{hashlib.sha256(str(where).encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    tag = f"{weights}-{name}"
    return f"evaluation-{tag}.json", f"test_errors-{tag}.npz"


NAME_MAX_BYTES = 255  # one file name's limit on Linux's and macOS's file systems
# The run directory of a sweep job whose overrides are all bookkeeping (``-m sweep=k2``): Hydra's
# override_dirname is empty, and the job would otherwise train in the sweep directory itself (and
# wait on the sweep's own lock). No override_dirname contains no "=", so no point is named so.
DEFAULTS_RUN_DIR = "defaults"


def run_dir_name(override_dirname: str) -> str:
    """A sweep job's run directory name from its overrides (Hydra's ``override_dirname``), as
    one name inside the sweep directory: a ``/`` in a value (a path) is written ``%2F``, so no
    value nests run directories or leads out of the sweep (``/../``, beyond its lock and
    runs.csv); a name longer than the file system allows keeps its start and ends with a hash
    of the whole, so each point still has its own directory and a rerun finds it again. Names
    that need neither are Hydra's own; no overrides at all (the config's defaults) is
    ``DEFAULTS_RUN_DIR``, never the sweep directory itself."""
    name = str(override_dirname).replace("/", "%2F") or DEFAULTS_RUN_DIR
    encoded = name.encode("utf-8")
    if len(encoded) <= NAME_MAX_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    head = encoded[: NAME_MAX_BYTES - len(digest) - 1].decode("utf-8", errors="ignore")
    return f"{head}~{digest}"
