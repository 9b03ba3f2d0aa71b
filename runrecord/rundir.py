"""One run directory and everything in it (its file names and overrides: ``nnsweep.runrecord.names``;
its summary: ``nnsweep.runrecord.summary``; its model and evaluations: ``nnsweep.runrecord.results``).
The files, the contract every reader relies on:

    .hydra/config.yaml     the composed config the model is trained with (written by the run at
                           every start, after its settings were checked: a resume writes the
                           settings it continues with, e.g. a larger trainer.epochs)
    .hydra/overrides.yaml  the overrides that define the run
    .hydra/hydra.yaml      Hydra's record of the job (job number, config-group choices)
    metrics.csv            one row per finished epoch (``nnsweep.nets.train.EpochRecord``)
    summary.json           status, best and final validation accuracy, test accuracy, wall time
                           (rewritten atomically after every epoch and at the end)
    model.npz              checkpoint: weights, architecture, optimizer/RNG state, best weights
    evaluation.json        the model on its test split: accuracy, per-class accuracy, confusion
                           (the weights training evaluated: best, or final without restore_best)
    test_errors.npz        its most confident mistakes, with their images, for reports
    evaluation-<weights>-<test set>.json, test_errors-<weights>-<test set>.npz
                           the same for another evaluation (``evaluation_files``: other weights,
                           another test set), so none replaces the one the report and summary show
    mean_input.npy         the mean training input (784 values), where reports start to ask the
                           model what each class looks like (``nnsweep.nets.inverse``)
    .lock                  the process id of the one that trains the run, which holds a lock on
                           the directory (``running`` vs ``interrupted``; ``nnsweep.runrecord.lock``)

Every file is written atomically (or appended and flushed, for metrics.csv), so a reader sees a
whole file or the previous one. Readers check what they read and raise ``RunRecordError`` with
one line that names the file.
"""

from __future__ import annotations

import csv
import math
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import yaml
from omegaconf import DictConfig, OmegaConf

from nnsweep.core.atomic import (
    WriteError,
    atomic_write_text,
    open_no_follow,
    own_dir,
    refuse_link,
    remove_stale_temps,
    write_error,
)
from nnsweep.core.status import Status
from nnsweep.nets.train import EpochRecord
from nnsweep.runrecord.bounded import RecordFormatError, escape_interpolations, parse_yaml, read_record_text
from nnsweep.runrecord.lock import exclusive_lock, is_locked
from nnsweep.runrecord.names import (
    ADDED_KEYS,
    BOOKKEEPING_KEYS,
    CONFIG,
    CONFIG_DIR,
    EVALUATION,
    HYDRA,
    LABEL_KEYS,
    MAX_EPOCH_ROWS,
    MAX_METRICS_BYTES,
    MAX_YAML_BYTES,
    METRIC_COLUMNS,
    METRICS,
    OVERRIDES,
    RESUMABLE_KEYS,
    SUMMARY,
    TEST_ERRORS,
    RunRecordError,
    without_bookkeeping,
)
from nnsweep.runrecord.results import RunResults
from nnsweep.runrecord.summary import (
    ClassLabels,
    Summary,
)


class RunDir(RunResults):
    """The files of one run, in ``path`` (its results: ``RunResults``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def exists(self) -> bool:
        """A run directory is one whose config was recorded."""
        return (self.path / CONFIG).is_file()

    # ----- liveness ----------------------------------------------------------------------
    @contextmanager
    def training(self, wait: float = 2.0) -> Iterator[None]:
        """Hold the run's lock while training it: two processes never train one run.

        The run's own stale temporary files (left by a ``kill -9`` during an atomic write) are
        removed once the lock is held, when nobody can be writing them. A link planted at
        ``.hydra/`` is refused before anything is written (the record would land in its target)."""
        with exclusive_lock(
            self.path,
            f"run directory {self.path}",
            wait=wait,
            advice="wait for it to finish, or choose another run directory",
        ):
            refuse_link(self.path / CONFIG_DIR)
            self.remove_stale_temps()
            yield

    def is_live(self) -> bool:
        return is_locked(self.path)

    def remove_stale_temps(self) -> list[Path]:
        removed = remove_stale_temps(self.path)
        if (self.path / CONFIG_DIR).is_dir() and not (self.path / CONFIG_DIR).is_symlink():
            removed += remove_stale_temps(self.path / CONFIG_DIR)
        return removed

    # ----- summary -----------------------------------------------------------------------
    def read_summary(self) -> Summary | None:
        """The run's summary, or None before its first one was written."""
        try:
            text = read_record_text(self.path / SUMMARY)
        except FileNotFoundError:
            return None
        except RecordFormatError as err:
            raise RunRecordError(
                f"{self.path / SUMMARY} is unreadable ({err}); rerun the sweep or run to rewrite it"
            ) from None
        except (OSError, UnicodeDecodeError) as err:
            raise RunRecordError(f"cannot read {self.path / SUMMARY}: {err}") from None
        summary = Summary.from_json(text, self.path / SUMMARY)
        rows = self._metrics_rows()
        if rows is not None and summary.epochs_completed > rows:  # metrics.csv is written before it
            raise RunRecordError(
                f"{self.path / SUMMARY} is unreadable (epochs_completed is {summary.epochs_completed}, "
                f"more than the {rows} epochs of {METRICS}); rerun the sweep or run to rewrite it"
            )
        return summary

    def _metrics_rows(self) -> int | None:
        """How many whole epochs metrics.csv holds (its lines after the header), or None when
        it is missing, too large or unreadable (``read_metrics`` names that)."""
        try:
            data = read_record_text(self.path / METRICS, MAX_METRICS_BYTES)
        except (OSError, UnicodeDecodeError, RecordFormatError):
            return None
        return max(data.count("\n") - 1, 0)

    def summary_if_readable(self) -> Summary | None:
        """The run's summary, or None when there is none or it cannot be read (for what only
        shows a run, and must go on when one run's record is damaged)."""
        try:
            return self.read_summary()
        except RunRecordError:
            return None

    def status(self) -> Status:
        """The run's status, telling a live run from one whose process died."""
        summary = self.summary_if_readable()
        if summary is not None and summary.status != Status.RUNNING:
            return summary.status
        return Status.RUNNING if self.is_live() else Status.INTERRUPTED

    def write_summary(self, summary: Summary) -> None:
        atomic_write_text(self.path / SUMMARY, summary.to_json())

    # ----- config ------------------------------------------------------------------------
    def config(self) -> DictConfig:
        """The composed config the model was trained with, as recorded: its strings are data, so
        a ``${...}`` in them stays those characters (``escape_interpolations``), never resolved."""
        return OmegaConf.create(escape_interpolations(self.config_data()))

    def config_data(self) -> dict[str, Any]:
        """The recorded config as plain data (dicts, lists, strings, numbers), as written."""
        path = self.path / CONFIG
        if not path.is_file():
            raise RunRecordError(
                f"{self.path} is not a training run directory (no {CONFIG}); pass the directory of a run"
            )
        cfg = _load_yaml(path)
        if not isinstance(cfg, dict):
            raise RunRecordError(f"{path} does not hold a config; restore it or retrain the run")
        return cfg

    def class_labels(self, classes: int = 10) -> ClassLabels:
        """The names of the run's ``classes`` classes and its word for one image, from its config
        (``data.class_names``, ``data.noun``); the labels 0, 1, 2 ... and "digit" where the config
        does not say (runs recorded before it could) or names another number of classes."""
        try:
            data = self.config_data().get("data")
        except RunRecordError:
            data = {}
        data = data if isinstance(data, dict) else {}
        noun = data.get("noun") if isinstance(data.get("noun"), str) and data.get("noun") else "digit"
        names = data.get("class_names")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, (str, int)) for n in names)):
            raise RunRecordError(
                f"{self.path / CONFIG} is damaged (data.class_names is {str(names)[:60]!r}, not a "
                "list of names); restore it, or set data.class_names: null"
            )
        if names is not None and len(names) == classes:
            return ClassLabels(tuple(str(n) for n in names), noun)
        return ClassLabels.numbered(classes, noun)

    def overrides(self) -> list[str]:
        """The overrides that define the run, bookkeeping ones included."""
        path = self.path / OVERRIDES
        if not path.is_file():
            return []
        value = _load_yaml(path)
        return [str(o) for o in value] if isinstance(value, list) else []

    def defining_overrides(self) -> list[str]:
        return without_bookkeeping(self.overrides())

    def hydra_record(self) -> dict[str, Any]:
        """Hydra's record of the job (``job.num``, ``runtime.choices``), or {} if there is none."""
        path = self.path / HYDRA
        if not path.is_file():
            return {}
        value = _load_yaml(path)
        record = value.get("hydra") if isinstance(value, dict) else None
        return record if isinstance(record, dict) else {}

    def job_number(self) -> int | None:
        """Hydra's number of the job, or None where it is unrecorded or no whole number of 0 or
        more (a damaged record: ``2.5``, ``"x"``)."""
        try:
            number = self.hydra_record()["job"]["num"]
        except (KeyError, TypeError, RunRecordError):
            return None
        return number if isinstance(number, int) and not isinstance(number, bool) and number >= 0 else None

    def config_choices(self) -> dict[str, str]:
        """Which file of each config group the run used (``net: rashid``); {} if unrecorded."""
        runtime = self.hydra_record().get("runtime")
        choices = runtime.get("choices") if isinstance(runtime, dict) else None
        return {str(k): str(v) for k, v in choices.items()} if isinstance(choices, dict) else {}

    def write_config(self, cfg: Any, overrides: list[str], hydra_record: dict[str, Any] | None = None) -> None:
        """Record the run's config once its settings were checked (never before: a refused
        resume must leave the record describing the model that is there)."""
        own_dir(self.path / CONFIG_DIR)
        atomic_write_text(self.path / CONFIG, OmegaConf.to_yaml(cfg))
        atomic_write_text(self.path / OVERRIDES, yaml.safe_dump([str(o) for o in overrides]))
        if hydra_record is not None:
            atomic_write_text(self.path / HYDRA, OmegaConf.to_yaml({"hydra": hydra_record}))

    def settings_differ(self, cfg: Any) -> list[str]:
        """Settings of ``cfg`` that differ from the recorded config, ``key: recorded -> asked``
        (bookkeeping keys, the epoch budget and the names of the classes aside)."""
        as_data = lambda c: _flatten(OmegaConf.to_container(c, resolve=True, enum_to_str=True))  # noqa: E731
        old = {**ADDED_KEYS, **as_data(self.config())}
        new = {**ADDED_KEYS, **as_data(cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg))}
        ignored = set(BOOKKEEPING_KEYS) | set(RESUMABLE_KEYS) | set(LABEL_KEYS)
        keys = sorted((set(old) | set(new)) - ignored)
        return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]

    # ----- metrics -----------------------------------------------------------------------
    def has_metrics(self) -> bool:
        return (self.path / METRICS).exists()

    def read_metrics(self) -> list[EpochRecord]:
        """The run's epochs, checked: the expected columns, epochs 1, 2, 3 ... in order, numbers;
        at most ``MAX_METRICS_BYTES``, and no more rows than the summary's epochs (one more while
        it trains or after it failed: the row is written before the summary), so a file of
        400,000 rows beside a summary of one epoch is damage, found at its second row."""
        path = self.path / METRICS
        if not path.exists():
            return []
        summary = self.summary_if_readable()
        most = (
            None
            if summary is None
            else summary.epochs_completed
            + (1 if summary.status in (Status.RUNNING, Status.FAILED, Status.INTERRUPTED) else 0)
        )
        try:
            if path.stat().st_size > MAX_METRICS_BYTES:
                raise ValueError(f"it is over {MAX_METRICS_BYTES:,} bytes, far more than {MAX_EPOCH_ROWS:,} epochs")
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header is None:
                    return []
                if header != METRIC_COLUMNS:
                    raise ValueError(f"columns {header}, expected {METRIC_COLUMNS}")
                records = []
                for i, row in enumerate(reader, start=1):
                    if most is not None and i > most:
                        raise ValueError(f"it holds more epochs than the {summary.epochs_completed} of {SUMMARY}")
                    if len(row) != len(METRIC_COLUMNS):
                        raise ValueError(f"row {i} has {len(row)} values")
                    epoch = int(row[0])
                    if epoch != i:
                        raise ValueError(f"row {i} is epoch {row[0]}")
                    records.append(_checked_epoch(EpochRecord(epoch, *(float(v) for v in row[1:])), i))
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as err:
            raise RunRecordError(f"{path} is damaged ({err}); delete the run directory to retrain it") from None
        return records

    def append_metrics(self, record: EpochRecord, history: list[EpochRecord] = ()) -> None:
        """Append one epoch; ``history`` (every epoch so far, this one last) rewrites the file
        whole if it went missing during the run, so it never starts at a later epoch."""
        path = self.path / METRICS
        new = not path.exists()
        if new and record.epoch > 1 and history:
            self.rewrite_metrics(list(history))
            return
        try:
            with open(open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a", encoding="utf-8") as f:
                if new:
                    f.write(",".join(METRIC_COLUMNS) + "\n")
                f.write(_metrics_row(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except WriteError:
            raise
        except OSError as err:
            raise write_error(path, err) from None

    def rewrite_metrics(self, records: list[EpochRecord]) -> None:
        """Replace metrics.csv with exactly these rows (on resume, so the file matches the
        checkpoint even if the previous process died between the two writes)."""
        lines = [",".join(METRIC_COLUMNS)] + [_metrics_row(r) for r in records]
        atomic_write_text(self.path / METRICS, "\n".join(lines) + "\n")

    def other_evaluations(self) -> list[str]:
        """The names of the evaluation files (``evaluation*.json``) that are nnsweep's evaluation
        records of this run (their ``run_dir`` is this directory); a file of another name, or
        one that is not such a record, is the user's."""
        names = []
        for path in sorted(self.path.glob("evaluation*.json")):
            try:
                record = self.read_evaluation(path.name)
            except RunRecordError:
                continue
            if record is not None and record.get("run_dir") == str(self.path):
                names.append(path.name)
        return names

    def clear_results(self) -> None:
        """Remove what a previous attempt of this run wrote (metrics, summary, evaluations), so a
        run that starts from epoch 1 never continues an old metrics.csv nor shows an old model's
        numbers. Only nnsweep's own records go (``continuing.check_can_train`` refused a summary or
        metrics.csv it cannot read): an evaluation only if it is one of this run
        (``other_evaluations``), with the mistakes of the same name; anything else is kept."""
        for name in self.other_evaluations():
            mistakes = (
                TEST_ERRORS if name == EVALUATION else "test_errors" + name[len("evaluation") : -len(".json")] + ".npz"
            )
            (self.path / name).unlink(missing_ok=True)
            (self.path / mistakes).unlink(missing_ok=True)
        for name in (METRICS, SUMMARY):
            (self.path / name).unlink(missing_ok=True)


def find_runs(sweep_dir: str | os.PathLike) -> list[RunDir]:
    """The run directories below ``sweep_dir`` (those with a recorded config), sorted."""
    sweep_dir = Path(sweep_dir)
    return [
        RunDir(p)
        for p in sorted(c.parent.parent for c in sweep_dir.glob(f"**/{CONFIG}") if c.parent.parent != sweep_dir)
    ]


def _load_yaml(path: Path) -> Any:
    """A YAML record as plain data, read with limits (``nnsweep.runrecord.bounded``)."""
    try:
        return parse_yaml(read_record_text(path, MAX_YAML_BYTES))
    except (OSError, UnicodeDecodeError, RecordFormatError) as err:
        reason = " ".join(str(err).split())[:200]
        raise RunRecordError(f"{path} is unreadable ({reason}); restore it or retrain the run") from None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat.update(_flatten(v, f"{prefix}{k}."))
        return flat
    return {prefix[:-1]: value}


# What an epoch's row may hold besides finite numbers (``nnsweep.nets.train.fit``): a diverged epoch
# records its loss as it was (NaN or +inf) and no validation (NaN); an epoch without a
# validation split has NaN there too. The rate, training accuracy and time are always finite.
NON_FINITE_ALLOWED = {"train_loss": "nan or inf", "val_loss": "nan or inf", "val_acc": "nan"}
FRACTIONS = ("train_acc", "val_acc")


def _checked_epoch(record: EpochRecord, row: int) -> EpochRecord:
    """``record`` if its numbers are ones training writes, else ``ValueError`` naming the value."""
    for name, value in asdict(record).items():
        if name == "epoch":
            continue
        allowed = NON_FINITE_ALLOWED.get(name, "")
        if math.isnan(value) or math.isinf(value):
            if ("nan" if math.isnan(value) else "inf" if value > 0 else "-inf") not in allowed.split(" or "):
                raise ValueError(f"row {row}: {name} is {value}, which training never writes there")
        elif name in FRACTIONS and not 0.0 <= value <= 1.0:
            raise ValueError(f"row {row}: {name} is {value}, not a fraction in 0..1")
    return record


def _metrics_row(record: EpochRecord) -> str:
    return ",".join(repr(v) if isinstance(v, float) else str(v) for v in asdict(record).values())
