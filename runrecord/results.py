"""A run's results, the files training and evaluation leave beside its record: the trained model
(``model.npz``), its evaluations and most confident test mistakes, and the mean training input
reports start from. Each is read back checked: ``RunRecordError`` names the file and the fix.
``RunDir`` (``nnsweep.runrecord.rundir``) is a ``RunResults``; the run's own record is there.
"""

from __future__ import annotations

import json
import shlex
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from nnsweep.core.atomic import atomic_write, atomic_write_text
from nnsweep.runrecord.bounded import parse_json, read_record_text
from nnsweep.runrecord.names import EVALUATION, MEAN_INPUT, MODEL, TEST_ERRORS, RunRecordError


@dataclass
class TestErrors:
    """A model's most confident mistakes on its test split, kept so reports need no data set.

    ``images: (n, 784)`` float32 in [0, 1]; ``labels``, ``predicted``: ``(n,)`` ints;
    ``confidence: (n,)`` the output given to the wrong class; most confident first."""

    images: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    source: np.ndarray = field(default_factory=lambda: np.array(""))  # where the test images came from


class RunResults:
    """The results of the run in ``path`` (``model_path``: its checkpoint)."""

    path: Path

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    def load_model(self, use_best: bool = True):
        """The run's network; a diverged model is refused rather than used with NaN weights."""
        from nnsweep.nets.checkpoint import CheckpointError, load_network

        if not self.model_path.is_file():
            raise RunRecordError(f"{self.path} holds no model ({MODEL}); train the run first")
        try:
            network = load_network(self.model_path, use_best=use_best)
        except CheckpointError as err:
            raise RunRecordError(str(err)) from None
        if not network.params_finite():
            raise RunRecordError(
                f"the model in {self.path} has non-finite weights (the run diverged); "
                "retrain it with a smaller learning rate"
            )
        return network

    def write_evaluation(self, result: dict[str, Any], name: str = EVALUATION) -> None:
        atomic_write_text(self.path / name, json.dumps(result, indent=1) + "\n")

    def read_evaluation(self, name: str = EVALUATION) -> dict[str, Any] | None:
        path = self.path / name
        if not path.is_file():
            return None
        try:
            value = parse_json(read_record_text(path), allow_nan=True)  # json.dumps writes a NaN loss as NaN
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise RunRecordError(f"{path} is unreadable ({err}); evaluate the run again") from None
        confusion = value.get("confusion") if isinstance(value, dict) else None
        try:
            matrix = np.array(confusion, dtype=np.int64)
            ok = matrix.ndim == 2 and matrix.shape[0] == matrix.shape[1] >= 2 and (matrix >= 0).all()
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok or not isinstance(value.get("test_source", ""), str):
            raise RunRecordError(
                f"{path} does not hold an evaluation (a square confusion matrix of counts); "
                f"evaluate the run again: nnsweep evaluate {shlex.quote(str(self.path))}"
            )
        return value

    def write_test_errors(self, errors: TestErrors, name: str = TEST_ERRORS) -> None:
        atomic_write(self.path / name, lambda f: np.savez_compressed(f, **asdict(errors)))

    def read_test_errors(self, name: str = TEST_ERRORS) -> TestErrors | None:
        path = self.path / name
        if not path.is_file():
            return None
        again = f"evaluate the run again: nnsweep evaluate {shlex.quote(str(self.path))}"
        try:
            with np.load(path, allow_pickle=False) as data:
                errors = TestErrors(**{f.name: data[f.name] for f in fields(TestErrors)})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise RunRecordError(f"{path} is unreadable ({' '.join(str(err).split())}); {again}") from None
        shapes_ok = (
            errors.images.ndim == 2
            and errors.images.shape[1] in (784,)
            and errors.source.ndim == 0
            and all(
                a.ndim == 1 and len(a) == len(errors.images)
                for a in (errors.labels, errors.predicted, errors.confidence)
            )
        )
        kinds_ok = (
            shapes_ok
            and all(
                np.issubdtype(a.dtype, k)
                for a, k in (
                    (errors.images, np.floating),
                    (errors.labels, np.integer),
                    (errors.predicted, np.integer),
                    (errors.confidence, np.floating),
                )
            )
            and errors.source.dtype.kind == "U"
        )
        if not kinds_ok or not (np.isfinite(errors.images).all() and np.isfinite(errors.confidence).all()):
            raise RunRecordError(
                f"{path} does not hold test mistakes (images (n, 784), labels, predicted, confidence); {again}"
            )
        return errors

    def write_mean_input(self, mean: np.ndarray) -> None:
        """Record ``mean: (n_inputs,)``, the training inputs' mean as the network saw them (scaled)."""
        mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        atomic_write(self.path / MEAN_INPUT, lambda f: np.save(f, mean, allow_pickle=False))

    def read_mean_input(self) -> np.ndarray | None:
        """The mean training input ``(n_inputs,)`` float32, or None for a run that did not record
        one (runs trained before it was recorded)."""
        path = self.path / MEAN_INPUT
        if not path.is_file():
            return None
        again = "delete it (reports then start from a neutral image) or train the run again"
        try:
            mean = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise RunRecordError(f"{path} is unreadable ({' '.join(str(err).split())}); {again}") from None
        if not (
            isinstance(mean, np.ndarray)
            and mean.ndim == 1
            and mean.size
            and np.issubdtype(mean.dtype, np.floating)
            and np.isfinite(mean).all()
        ):
            raise RunRecordError(f"{path} does not hold a mean image (finite numbers, one per input); {again}")
        return mean
