"""Evaluate a trained run on its test set: ``nnsweep evaluate <run dir> [test=<dir>]``.

Writes an evaluation (test accuracy and loss, per-class accuracy, the confusion matrix with rows
for the true class, the indices of misclassified images) and the most confident mistakes into the
run directory, the same record training leaves for its own test split: ``evaluation.json`` and
``test_errors.npz`` for the weights and test split training evaluated, and for any other weights
or test set ``evaluation-<weights>-<test set>.json`` and ``test_errors-<...>.npz``
(``runrecord.evaluation_files``), so the record the report shows beside the run's summary is
never replaced by another evaluation. When the test set is the official 10,000 MNIST test
images, also the accuracy on their first and last 5,000 (the first half was written by Census
Bureau employees and is easier, the second by students; the LeNet-5 project's "easy" and "hard"
halves). ``test=<dir>`` evaluates on another IDX test set, e.g. the official MNIST test set for
a model trained on ``mnist5k``.
The model is the best-validation weights unless ``weights=final``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from nnsweep.experiments.arguments import PlainPaths
from nnsweep.experiments.build import build_targets, load_data, reading_recorded_config
from nnsweep.experiments.cli import exits_on_bad_input, run_command
from nnsweep.experiments.startup import program_name
from nnsweep.nets.data.datasets import load_test_dir
from nnsweep.nets.evaluation import evaluate_network, most_confident_errors
from nnsweep.nets.train import LabelledData
from nnsweep.runrecord import RunDir, TestErrors, evaluation_files
from nnsweep.runrecord.names import CONFIG

# SHA-256 of the 10,000 official MNIST test labels as bytes: recognises that test set wherever it lives.
MNIST_TEST_LABELS_SHA256 = "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"


def quiet_hydra(app_name: str, header: str) -> dict[str, Any]:
    """Hydra settings for a tool that reads a run and writes only into it: no output folder,
    no log file, no ``.hydra/`` record of its own."""
    return {
        "run": {"dir": "."},
        "output_subdir": None,
        "job": {"chdir": False},
        "help": {"app_name": app_name, "header": header},
    }


# The config directory of a tool whose config is a structured one (evaluate, predict, serve). With
# config_path=None, Hydra 1.3 searches the calling module's package when the tool is started as a
# command (nnsweep evaluate), and tab completion offered experiments/'s folders (conf, web)
# as config groups; Hydra's own config package adds nothing Hydra does not search already.
NO_CONFIG_DIR = "pkg://hydra.conf"

QUIET_LOGGING = ["_self_", {"override hydra/job_logging": "none"}, {"override hydra/hydra_logging": "none"}]


class Weights(str, Enum):
    best = "best"
    final = "final"


@dataclass
class EvaluateConfig:
    defaults: List[Any] = field(default_factory=lambda: list(QUIET_LOGGING))
    run: str = MISSING  # a training run directory
    test: Optional[str] = None  # an IDX test set directory (t10k-* files) instead of the run's own test split
    weights: Weights = Weights.best
    hydra: Any = field(
        default_factory=lambda: quiet_hydra(
            program_name("nnsweep.experiments.evaluate"),
            program_name("nnsweep.experiments.evaluate") + " <run dir> [test=<IDX test dir>] [weights=best|final]\n"
            "Evaluates a trained run on its test split (or another IDX test set) and writes evaluation.json and\n"
            "test_errors.npz into the run directory (the weights and split training evaluated), or for other\n"
            "weights or another test set evaluation-<weights>-<test set>.json and test_errors-<...>.npz.\n",
        )
    )


ConfigStore.instance().store(name="evaluate", node=EvaluateConfig)


def is_official_mnist_test(labels: np.ndarray) -> bool:
    return (
        len(labels) == 10_000
        and hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest() == MNIST_TEST_LABELS_SHA256
    )


def load_run_test_set(run: RunDir, test_dir: str | Path | None = None) -> tuple[LabelledData, str]:
    """The test images a run is judged on (its own test split, or ``test_dir``), scaled as it was
    trained; and a description of where they came from."""
    cfg = run.config()
    with reading_recorded_config(run.file(CONFIG)):
        if test_dir is not None:
            return load_test_dir(test_dir, cfg.data.scaling), str(test_dir)
        return load_data(cfg).test, f"{cfg.data.name} test split"


def evaluate_run(run_dir: str | Path, test_dir: str | Path | None = None, use_best: bool = True) -> dict[str, Any]:
    """Evaluate the run's model, record the result in the run directory (under its own name,
    ``runrecord.evaluation_files``; the result's ``file``) and return it."""
    run = RunDir(run_dir)
    cfg = run.config()
    trained = "best" if cfg.get("trainer", {}).get("restore_best", True) else "final"
    weights = "best" if use_best else "final"
    record, mistakes = evaluation_files(weights, None if test_dir is None else str(test_dir), trained)
    network = run.load_model(use_best)
    test, source = load_run_test_set(run, test_dir)
    with reading_recorded_config(run.file(CONFIG)):
        targets = build_targets(cfg, network.output_size, network.dtype)
    evaluation, outputs = evaluate_network(network, test, targets)
    result = {"run_dir": str(run.path), "test_source": source, "weights": weights, **evaluation}
    if is_official_mnist_test(test.labels):
        right = outputs.argmax(axis=1) == test.labels
        result["mnist_first_5000_acc"] = float(right[:5000].mean())
        result["mnist_last_5000_acc"] = float(right[5000:].mean())
    run.write_evaluation(result, record)
    run.write_test_errors(TestErrors(**most_confident_errors(test, outputs), source=np.array(source)), mistakes)
    return {**result, "file": str(run.file(record))}


@hydra.main(version_base="1.3", config_path=NO_CONFIG_DIR, config_name="evaluate")
@exits_on_bad_input
def hydra_main(cfg: DictConfig) -> None:
    r = evaluate_run(cfg.run, cfg.test, cfg.weights == Weights.best)
    print(
        f"test accuracy {r['test_acc']:.4f} on {r['n_test']} images ({r['test_source']}); "
        f"{len(r['misclassified'])} misclassified"
    )
    if "mnist_first_5000_acc" in r:
        print(
            f"official MNIST test set: first 5,000 {r['mnist_first_5000_acc']:.4f}, "
            f"last 5,000 {r['mnist_last_5000_acc']:.4f}"
        )
    print("per-class accuracy: " + " ".join(f"{k}:{a:.3f}" for k, a in enumerate(r["per_class_acc"]) if a is not None))
    print(f"written to {r['file']}")


def main() -> None:
    run_command(hydra_main, hydra_config="evaluate", plain_paths=PlainPaths("run"))


if __name__ == "__main__":
    main()
