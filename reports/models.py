"""The figures of a sweep's saved models: what a model thinks each class looks like (for every run,
as a strip in the results table; for the best run, as a figure), and the best model's first-layer
weights, confusion matrix and most confident mistakes.

The model is loaded to query it, never to train it; the mistakes and the confusion matrix are the
ones training recorded in the run directory (``runrecord``), and the portraits start from the
mean training image it recorded, so no data set is loaded. Classes and images are called what
the run's data config calls them (``data.class_names``, ``data.noun``: Fashion-MNIST's "Coat",
"item"), or digits 0-9 for runs that do not say.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from nnsweep.core.atomic import atomic_write
from nnsweep.nets.inverse import class_portraits
from nnsweep.nets.network import Network
from nnsweep.reports.digits import (
    portrait_strip,
    render_class_portraits,
    render_confusion_matrix,
    render_first_layer,
    render_misclassified,
)
from nnsweep.reports.html import Figure
from nnsweep.runrecord import RunDir, RunRecordError

# What model_figures writes (when it can: a run without an evaluation has no confusion matrix).
MODEL_FIGURES = ("digit_portraits.png", "first_layer.png", "confusion_matrix.png", "misclassified.png")


def best_finished_run(runs: pd.DataFrame, sweep_dir: Path) -> RunDir | None:
    """The best run (``runs`` is best first) that left a saved model."""
    for _, row in runs.dropna(subset=["best_val_acc"]).iterrows():
        run = RunDir(sweep_dir / row["run"])
        if run.model_path.is_file():
            return run
    return None


def run_portraits(run: RunDir, network: Network) -> tuple[np.ndarray, str, bool]:
    """The run's portraits ``(classes, n_inputs)``, the method's name, and whether activation
    maximisation started from the run's recorded mean training image (runs recorded before it
    was, or whose file is damaged, start from a neutral blob)."""
    try:
        mean = run.read_mean_input()
    except RunRecordError:
        mean = None
    if mean is not None and mean.size != int(np.prod(network.input_shape)):
        mean = None
    images, method = class_portraits(network, start=mean)
    return images, method, mean is not None


def render_run_portraits(run: RunDir, path: Path) -> Path | None:
    """A strip of the run's portraits, one per class side by side (``digits.portrait_strip``), as
    a PNG at ``path``; None when the run has no model that loads (none saved, or diverged)."""
    try:
        network = run.load_model(use_best=True)
    except RunRecordError:
        return None
    images, _, _ = run_portraits(run, network)
    strip = Image.fromarray(portrait_strip(images))  # uint8 (h, w): greyscale
    atomic_write(path, lambda f: strip.save(f, format="PNG"))
    return path


# Long on purpose: each model figure is a few lines over the same loaded network and test mistakes.
def model_figures(run: RunDir, out: Path, notes: list[str]) -> list[Figure]:
    """The best model's figures: portraits and first-layer weights from its saved model, its
    mistakes and confusion matrix from the evaluation training recorded. What cannot be drawn
    is a note."""
    figures: list[Figure] = []
    name = run.path.name
    try:
        network = run.load_model(use_best=True)
    except RunRecordError as err:
        notes.append(f"No portraits or first-layer weights: {err}")
        labels = run.class_labels()
    else:
        labels = run.class_labels(network.output_size)
        images, method, from_mean = run_portraits(run, network)
        render_class_portraits(images, method, labels, out / "digit_portraits.png")
        start = (
            ""
            if method == "back query"
            else " (regularised, from the mean training image)"
            if from_mean
            else f" (regularised, from a neutral blob: {name} recorded no mean training image)"
        )
        figures.append(
            Figure(
                "digit_portraits.png",
                f"What the best model ({name}) thinks each {labels.noun} looks "
                f"like: Rashid's back query for sigmoid networks, activation maximisation otherwise"
                f"{start}. Each image is stretched from black to white.",
            )
        )
        render_first_layer(network, out / "first_layer.png")
        figures.append(
            Figure(
                "first_layer.png",
                "The best model's first-layer weights (each hidden unit's weights "
                "on the input pixels, or the convolution kernels).",
            )
        )
    evaluate = f"nnsweep evaluate {shlex.quote(str(run.path))} records it"
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
        # Which weights on which test set: the numbers are the run's summary's only for these.
        weights = evaluation.get("weights") if evaluation.get("weights") in ("best", "final") else None
        source = (f"{weights} weights, " if weights else "") + str(evaluation.get("test_source") or "test set")
        if len(labels.names) != len(confusion):
            labels = run.class_labels(len(confusion))
        render_confusion_matrix(confusion, out / "confusion_matrix.png", source=source, labels=labels)
        figures.append(Figure("confusion_matrix.png", f"Which {labels.plural} the best model confuses ({source})."))
    if errors is None:
        notes.append(f"No misclassified {labels.plural}: {name} has no test_errors.npz; {evaluate}.")
    elif len(errors.labels) == 0:
        notes.append(f"No misclassified {labels.plural}: the best model made no mistake on its test set.")
    else:
        mistakes = len(evaluation["misclassified"]) if evaluation and "misclassified" in evaluation else None
        render_misclassified(errors, out / "misclassified.png", mistakes, (evaluation or {}).get("n_test"), labels)
        figures.append(
            Figure(
                "misclassified.png",
                f"The best model's most confident mistakes on the {str(errors.source)}"
                + (
                    f" ({evaluation['weights']} weights)."
                    if evaluation and evaluation.get("weights") in ("best", "final")
                    else "."
                ),
            )
        )
    return figures
