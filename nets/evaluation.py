"""How well a trained network does on a labelled set: one confusion matrix, one list of mistakes.

Training ends by evaluating its model here, and ``nnsweep.experiments.evaluate`` does the same on another
test set, so the numbers a report shows are the numbers the run recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnsweep.nets.network import Network
from nnsweep.nets.train import LabelledData


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` counts: rows are the true class, columns the predicted one."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return confusion


def evaluate_network(network: Network, test: LabelledData, targets: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """Accuracy, loss, per-class accuracy, confusion matrix and misclassified indices (plain
    JSON data), and the output activations ``(n, classes)`` they came from."""
    classes = targets.shape[0]
    loss, acc = network.evaluate(test.x, test.labels, targets[test.labels])
    outputs = network.predict_proba(test.x)
    predicted = outputs.argmax(axis=1)
    confusion = confusion_matrix(test.labels, predicted, classes)
    totals = confusion.sum(axis=1)
    result = {
        "n_test": int(len(test)),
        "test_acc": acc,
        "test_loss": loss,
        "per_class_acc": [float(confusion[k, k] / totals[k]) if totals[k] else None for k in range(classes)],
        "confusion": confusion.tolist(),
        "misclassified": np.flatnonzero(predicted != test.labels).tolist(),
    }
    return result, outputs


def most_confident_errors(test: LabelledData, outputs: np.ndarray, count: int = 25) -> dict[str, np.ndarray]:
    """The ``count`` mistakes the model made most confidently, most confident first.

    Confidence is the wrong class's share of the outputs (a probability for softmax networks,
    a normalised activation for sigmoid ones). Returns ``images: (k, features)``, ``labels``,
    ``predicted`` and ``confidence``, each ``(k,)``."""
    predicted = outputs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != test.labels)
    confidence = outputs[wrong, predicted[wrong]] / np.maximum(outputs[wrong].sum(axis=1), 1e-12)
    keep = wrong[np.argsort(-confidence, kind="stable")[:count]]
    kept_confidence = outputs[keep, predicted[keep]] / np.maximum(outputs[keep].sum(axis=1), 1e-12)
    return {
        "images": test.x[keep].reshape(len(keep), -1).astype(np.float32),
        "labels": test.labels[keep].astype(np.int64),
        "predicted": predicted[keep].astype(np.int64),
        "confidence": kept_confidence.astype(np.float32),
    }


def chance_bar(classes: int, n: int) -> float:
    """The highest accuracy on ``n`` examples of ``classes`` classes that is still guessing.

    A network that has not learned (a learning rate so large that its units saturate: lr 10 on
    MNIST) answers one class, or at random, and scores about chance, 1 / ``classes``. About,
    because what it scores is the share of the class it answers in this set, and that share
    varies: over ``n`` examples its standard deviation is sqrt(p (1 - p) / n), p = 1 / classes
    (the binomial's). The bar is chance plus 5 of those: an accuracy below it is no evidence of
    learning. Five, not two: a run's best accuracy is the highest of its epochs' (several tries),
    and real sets are not balanced; MNIST's most frequent digit, 1, is 11.2% of its training
    digits, 4.4 standard deviations above 10% on 10,000 of them. On 500 validation digits the
    bar is 16.7%; on 10,000, 11.5%.
    """
    if classes < 2 or n < 1:
        raise ValueError(f"chance needs at least 2 classes and 1 example, got {classes} and {n}")
    p = 1.0 / classes
    return p + 5.0 * float(np.sqrt(p * (1.0 - p) / n))
