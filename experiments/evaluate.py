"""Evaluate a trained run on its test set: ``python -m experiments.evaluate run=<run dir> [test=<dir>]``.

Writes ``evaluation.json`` into the run directory: test accuracy and loss, per-class accuracy,
the confusion matrix (rows: true digit, columns: predicted), the indices of misclassified test
images, and, when the test set is the official 10,000 MNIST test images, the accuracy on their
first and last 5,000 (the first half was written by Census Bureau employees and is easier, the
second by students; the LeNet-5 project's "easy" and "hard" halves). ``test=<dir>`` evaluates on
another IDX test set instead, e.g. ``test=../shared/data/mnist-t10k`` for a model trained on
``mnist5k``. The model is the best-validation weights unless ``weights=final``.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from experiments.build import ConfigError, build_targets, load_data
from experiments.cli import fail, parse_key_values
from experiments.rundir import RunDir
from nets.atomic import WriteError, atomic_write_text
from nets.checkpoint import CheckpointError, load_network
from nets.data.datasets import load_test_dir
from nets.data.readers import DataFormatError
from nets.network import Network
from nets.train import LabelledData

EVALUATION = "evaluation.json"
# SHA-256 of the 10,000 official MNIST test labels as bytes: recognises that test set wherever it lives.
MNIST_TEST_LABELS_SHA256 = "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"


def run_config(run_dir: Path):
    path = RunDir(run_dir).config
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a training run directory (no .hydra/config.yaml); pass run=<dir of a run>")
    return OmegaConf.load(path)


def load_run_model(run_dir: Path, use_best: bool = True) -> Network:
    """The run's network; a diverged model is refused rather than used with NaN weights."""
    try:
        network = load_network(RunDir(run_dir).model, use_best=use_best)
    except CheckpointError as err:
        raise ConfigError(str(err)) from None
    if not network.params_finite():
        raise ConfigError(f"the model in {run_dir} has non-finite weights (the run diverged); "
                          "retrain it with a smaller learning rate")
    return network


def is_official_mnist_test(labels: np.ndarray) -> bool:
    return len(labels) == 10_000 and hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest() == MNIST_TEST_LABELS_SHA256


def evaluate(network: Network, test: LabelledData, targets: np.ndarray) -> dict[str, Any]:
    """Accuracy, loss, per-class accuracy, confusion matrix and misclassified indices."""
    classes = targets.shape[0]
    loss, acc = network.evaluate(test.x, test.labels, targets[test.labels])
    predicted = network.predict(test.x)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (test.labels, predicted), 1)
    totals = confusion.sum(axis=1)
    result = {
        "n_test": int(len(test)),
        "test_acc": acc,
        "test_loss": loss,
        "per_class_acc": [float(confusion[k, k] / totals[k]) if totals[k] else None for k in range(classes)],
        "confusion": confusion.tolist(),
        "misclassified": np.flatnonzero(predicted != test.labels).tolist(),
    }
    if is_official_mnist_test(test.labels):
        right = predicted == test.labels
        result["mnist_first_5000_acc"] = float(right[:5000].mean())
        result["mnist_last_5000_acc"] = float(right[5000:].mean())
    return result


def load_run_test_set(run_dir: str | Path, test_dir: str | Path | None = None) -> tuple[LabelledData, str]:
    """The test images a run is judged on (its own test split, or ``test_dir``), scaled as it was
    trained; and a description of where they came from."""
    cfg = run_config(Path(run_dir))
    try:
        if test_dir is not None:
            return load_test_dir(test_dir, cfg.data.scaling), str(test_dir)
        return load_data(cfg).test, f"{cfg.data.name} test split"
    except DataFormatError as err:
        raise ConfigError(str(err)) from None


def evaluate_run(run_dir: str | Path, test_dir: str | Path | None = None, use_best: bool = True) -> dict[str, Any]:
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    network = load_run_model(run_dir, use_best)
    test, source = load_run_test_set(run_dir, test_dir)
    result = {"run_dir": str(run_dir), "test_source": source, "weights": "best" if use_best else "final",
              **evaluate(network, test, build_targets(cfg, network.output_size, network.dtype))}
    atomic_write_text(run_dir / EVALUATION, json.dumps(result, indent=1) + "\n")
    return result


USAGE = __doc__.split("\n\n")[0] + "\n\n  run=<dir>      a training run directory (required)\n" \
    "  test=<dir>     an IDX test set directory (t10k-* files) instead of the run's own test split\n" \
    "  weights=best   best (default) or final"


def main(argv: list[str] | None = None) -> None:
    args = parse_key_values(sys.argv[1:] if argv is None else argv, USAGE,
                            {"run": False, "test": False, "weights": False}, ("run",))
    if args.get("weights", "best") not in ("best", "final"):
        fail(f"weights must be best or final, got {args['weights']!r}")
    try:
        r = evaluate_run(args["run"], args.get("test"), args.get("weights", "best") == "best")
    except (ConfigError, WriteError) as err:
        fail(str(err))
    print(f"test accuracy {r['test_acc']:.4f} on {r['n_test']} images ({r['test_source']}); "
          f"{len(r['misclassified'])} misclassified")
    if "mnist_first_5000_acc" in r:
        print(f"official MNIST test set: first 5,000 {r['mnist_first_5000_acc']:.4f}, "
              f"last 5,000 {r['mnist_last_5000_acc']:.4f}")
    print("per-class accuracy: " + " ".join(f"{k}:{a:.3f}" for k, a in enumerate(r["per_class_acc"]) if a is not None))
    print(f"written to {Path(args['run']) / EVALUATION}")


if __name__ == "__main__":
    main()
