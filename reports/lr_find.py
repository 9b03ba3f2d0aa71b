"""The learning-rate range test's figure (``lr_find.png``: the loss against the rate, with the
suggested rate) and the record it is drawn from, read as data (``nnsweep.experiments.lr_find``
writes it). A learning-rate sweep's report draws the figure of the test run before the sweep,
and the suggestion on its accuracy-vs-rate plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.reports.style import log_axis, plt, save
from nnsweep.runrecord.bounded import RecordFormatError, parse_json, read_record_text

RECORD, CURVE, FIGURE = "lr_find.json", "lr_find.csv", "lr_find.png"


@dataclass(frozen=True)
class RangeTestResult:
    suggested_lr: float
    lowest_lr: float
    steepest_lr: float
    rule: str
    label: str  # what was tested: "rashid on mnist5k, sgd, mini-batch 1"
    learned: bool = True  # the network learned in the test, so the suggestion means something (older records: assumed)


def read_result(directory: Path) -> RangeTestResult | None:
    """The record in ``directory``, or None if there is none or it is not one (a report goes on without it)."""
    try:
        data = parse_json(read_record_text(directory / RECORD))
        numbers = [float(data[k]) for k in ("suggested_lr", "lowest_lr", "steepest_lr")]
        if not all(np.isfinite(numbers)) or min(numbers) <= 0:
            return None
        label = f"{data['net']} on {data['data']}, {data['optimizer']}, mini-batch {int(data['batch_size'])}"
        return RangeTestResult(*numbers, str(data["rule"]), label, data.get("learned") is not False)
    except (OSError, RecordFormatError, KeyError, TypeError, ValueError):
        return None


def render(directory: Path, path: Path | None = None) -> Path:
    """The figure of the range test recorded in ``directory``, saved as ``path`` (default: beside it)."""
    result = read_result(directory)
    if result is None:
        raise RecordFormatError(f"{directory / RECORD} is missing or damaged; run nnsweep lr-find again")
    curve = pd.read_csv(directory / CURVE)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curve["lr"], curve["loss"], color="#b0b0b0", linewidth=0.8, label="loss of each mini-batch")
    ax.plot(curve["lr"], curve["smoothed"], color="#4477aa", linewidth=2, label="smoothed")
    for lr, style, name in (
        (result.suggested_lr, "-", f"suggested {result.suggested_lr:.3g}"),
        (result.lowest_lr, ":", f"lowest loss {result.lowest_lr:.3g}"),
        (result.steepest_lr, "--", f"steepest descent {result.steepest_lr:.3g}"),
    ):
        ax.axvline(lr, color="#b00020" if style == "-" else "#707070", linestyle=style, label=name)
    smoothed = curve["smoothed"].to_numpy(dtype=float)
    finite = smoothed[np.isfinite(smoothed)]
    if finite.size:  # from the lowest loss to where the test started (an explosion above is cut)
        ax.set_ylim(0.9 * finite.min(), 1.05 * finite[: max(1, finite.size // 20)].max())
    log_axis(ax, "x")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(
        f"Learning-rate range test: {result.label}"
        + ("" if result.learned else "\n(the network did not learn in the test: no suggestion)")
    )
    ax.legend(loc="upper left", fontsize=8)
    return save(fig, path or directory / FIGURE)
