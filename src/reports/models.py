"""The figures of a sweep's saved models: what the best model thinks each class looks like, its
first-layer weights, its confusion matrix and its most confident mistakes.

The model is loaded to query it, never to train it; the mistakes and the confusion matrix are the
ones training recorded in the run directory (``runrecord``), so no data set is loaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.digits import render_confusion_matrix, render_digit_portraits, render_first_layer, render_misclassified
from reports.html import Figure
from runrecord import RunDir, RunRecordError


def best_finished_run(runs: pd.DataFrame, sweep_dir: Path) -> RunDir | None:
    """The best run (``runs`` is best first) that left a saved model."""
    for _, row in runs.dropna(subset=["best_val_acc"]).iterrows():
        run = RunDir(sweep_dir / row["run"])
        if run.model_path.is_file():
            return run
    return None


def model_figures(run: RunDir, out: Path, notes: list[str]) -> list[Figure]:
    """The best model's figures: portraits and first-layer weights from its saved model, its
    mistakes and confusion matrix from the evaluation training recorded. What cannot be drawn
    is a note."""
    figures: list[Figure] = []
    name = run.path.name
    try:
        network = run.load_model(use_best=True)
    except RunRecordError as err:
        notes.append(f"No digit portraits or first-layer weights: {err}")
    else:
        render_digit_portraits(network, out / "digit_portraits.png")
        figures.append(Figure("digit_portraits.png", f"What the best model ({name}) thinks each digit looks like: "
                              "Rashid's back query for sigmoid networks, activation maximisation otherwise."))
        render_first_layer(network, out / "first_layer.png")
        figures.append(Figure("first_layer.png", "The best model's first-layer weights (hidden units' 28x28 input "
                              "weights, or convolution kernels)."))
    evaluate = f"python -m experiments.evaluate run={run.path} records it"
    try:
        evaluation, errors = run.read_evaluation(), run.read_test_errors()
    except RunRecordError as err:
        notes.append(f"No confusion matrix or mistakes: {err}")
        return figures
    confusion = np.asarray((evaluation or {}).get("confusion", []))
    if evaluation is None:
        notes.append(f"No confusion matrix: {name} has no evaluation.json; {evaluate}.")
    elif confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.size == 0:
        notes.append(f"No confusion matrix: {run.file('evaluation.json')} holds none; {evaluate}.")
    else:
        source = evaluation.get("test_source") or "test set"
        render_confusion_matrix(confusion, out / "confusion_matrix.png", source=source)
        figures.append(Figure("confusion_matrix.png", f"Which digits the best model confuses ({source})."))
    if errors is None:
        notes.append(f"No misclassified digits: {name} has no test_errors.npz; {evaluate}.")
    elif len(errors.labels) == 0:
        notes.append("No misclassified digits: the best model made no mistake on its test set.")
    else:
        mistakes = len(evaluation["misclassified"]) if evaluation and "misclassified" in evaluation else None
        render_misclassified(errors, out / "misclassified.png", mistakes, (evaluation or {}).get("n_test"))
        figures.append(Figure("misclassified.png",
                              f"The best model's most confident mistakes on the {str(errors.source)}."))
    return figures
