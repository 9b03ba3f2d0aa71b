"""What a training run leaves in its directory, and how it is written.

    metrics.csv    one row per finished epoch (appended and flushed as each epoch ends)
    summary.json   status, best validation accuracy and epoch, test accuracy, wall time,
                   parameter count (rewritten atomically after every epoch and at the end)
    model.npz      checkpoint: weights, architecture, optimizer/RNG state, best weights
    .hydra/        the composed config (config.yaml) and the overrides of the run

``sweeps.collect`` and ``reports`` read these files; their names and columns are the contract.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from nets.atomic import atomic_write_text, write_error
from nets.train import EpochRecord

METRICS, SUMMARY, MODEL, CONFIG = "metrics.csv", "summary.json", "model.npz", ".hydra/config.yaml"
METRIC_COLUMNS = [f.name for f in fields(EpochRecord)]


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunDir:
    """The files of one run, in ``path``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def config(self) -> Path:
        """The composed config of the run (Hydra writes it; ``train_run`` does outside Hydra)."""
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def model(self) -> Path:
        return self.path / MODEL

    def rewrite_metrics(self, records: list[EpochRecord]) -> None:
        """Replace metrics.csv with exactly these rows (used on resume, so the file matches the
        checkpoint even if the previous process died between the two writes)."""
        lines = [",".join(METRIC_COLUMNS)] + [_row(r) for r in records]
        atomic_write_text(self.metrics, "\n".join(lines) + "\n")

    def append_metrics(self, record: EpochRecord) -> None:
        new = not self.metrics.exists()
        try:
            with open(self.metrics, "a", encoding="utf-8") as f:
                if new:
                    f.write(",".join(METRIC_COLUMNS) + "\n")
                f.write(_row(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise write_error(self.metrics, err) from None

    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics.exists():
            return []
        with open(self.metrics, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.summary, json.dumps({k: _clean(v) for k, v in summary.items()}, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any]:
        try:
            return json.loads(self.summary.read_text())
        except (OSError, json.JSONDecodeError):
            return {}


def _row(record: EpochRecord) -> str:
    return ",".join(repr(v) if isinstance(v, float) else str(v) for v in asdict(record).values())
