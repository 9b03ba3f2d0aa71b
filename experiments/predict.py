"""Classify photos or drawings of digits with a trained run:
``nnsweep predict <run dir> <image>...`` (png, jpg, ...).

Each image is prepared the way MNIST was made (``nnsweep.nets.data.digit_image``): grey levels,
inverted if dark-on-light, cropped to the digit, scaled into a 20x20 box, centred by centre of
mass in 28x28. Prints the top three classes with their probabilities (softmax networks) or
output activations (sigmoid networks).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig

from nnsweep.experiments.arguments import PlainPaths
from nnsweep.experiments.build import ConfigError, reading_recorded_config
from nnsweep.experiments.cli import exits_on_bad_input, run_command
from nnsweep.experiments.evaluate import NO_CONFIG_DIR, QUIET_LOGGING, quiet_hydra
from nnsweep.experiments.startup import program_name
from nnsweep.nets.data.datasets import scale_inputs
from nnsweep.nets.data.digit_image import load_digit, mnist_style
from nnsweep.runrecord import RunDir
from nnsweep.runrecord.names import CONFIG


@dataclass
class PredictConfig:
    defaults: List[Any] = field(default_factory=lambda: list(QUIET_LOGGING))
    run: str = MISSING  # a training run directory
    image: Any = MISSING  # one image file, or a list of them
    top: int = 3
    hydra: Any = field(
        default_factory=lambda: quiet_hydra(
            program_name("nnsweep.experiments.predict"),
            program_name("nnsweep.experiments.predict")
            + " <run dir> <image>... [top=3]   (png, jpg, ...; also run=<run dir> image=[a.png,b.png])\n"
            "Prepares each image the way MNIST was made and prints the run's top classes for it.\n",
        )
    )


ConfigStore.instance().store(name="predict", node=PredictConfig)


class Classifier:
    """A trained run, ready to answer: its network, the input scaling it was trained with and the
    names of its classes. Every way nnsweep classifies a drawing (this command, the draw page)
    prepares it here, the way MNIST was made (``nnsweep.nets.data.digit_image.mnist_style``).

    Safe to share between threads: a network keeps each layer's activations for its backward
    pass, so one forward pass runs at a time."""

    def __init__(self, run_dir: str | Path, use_best: bool = True) -> None:
        self.run = RunDir(run_dir)
        cfg = self.run.config()
        self.network = self.run.load_model(use_best)
        with reading_recorded_config(self.run.file(CONFIG)):
            self.scaling = str(cfg.data.scaling)
            scale_inputs(np.zeros(1, np.uint8), self.scaling)  # an unknown scaling: one line, now
            self.kind = "p" if cfg.net.loss == "softmax_cross_entropy" else "output"
        self.classes = int(self.network.output_size)
        self.labels = self.run.class_labels(self.classes)
        self._lock = threading.Lock()

    @staticmethod
    def prepare(grey: np.ndarray, source: str = "image", min_extent: float = 0.0) -> np.ndarray:
        """Grey levels ``(h, w)`` in [0, 1] of one drawing -> the ``(784,)`` ink the network sees
        (``min_extent``: see ``mnist_style``)."""
        return mnist_style(grey, source, min_extent)

    def outputs(self, ink: np.ndarray) -> np.ndarray:
        """``ink: (n, 784)`` in [0, 1], 0 = background -> ``(n, classes)`` probabilities (softmax
        networks) or output activations (sigmoid networks)."""
        x = scale_inputs(np.round(np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8), self.scaling)
        with self._lock:
            return self.network.predict_proba(x)

    def check_top(self, top: int) -> int:
        if not 1 <= top <= self.classes:
            raise ConfigError(f"top must be 1 to {self.classes} (the classes), got {top}")
        return top

    @staticmethod
    def best(row: np.ndarray, top: int) -> list[tuple[int, float]]:
        """The ``top`` (class, value) pairs of one output row, best first."""
        return [(int(k), float(row[k])) for k in np.argsort(-row, kind="stable")[:top]]


def predict_images(run_dir: str | Path, images: list[str], top: int = 3) -> list[list[tuple[int, float]]]:
    """For each image, the ``top`` (class, probability or activation) pairs, best first."""
    return classify_files(Classifier(run_dir), images, top)


def classify_files(classifier: Classifier, images: list[str], top: int) -> list[list[tuple[int, float]]]:
    if not images:
        raise ConfigError("image=[] names no image; give image=<file> or image=[a.png,b.png]")
    classifier.check_top(top)
    outputs = classifier.outputs(np.stack([load_digit(p) for p in images]))
    return [classifier.best(row, top) for row in outputs]


@hydra.main(version_base="1.3", config_path=NO_CONFIG_DIR, config_name="predict")
@exits_on_bad_input
def hydra_main(cfg: DictConfig) -> None:
    images = [str(i) for i in cfg.image] if isinstance(cfg.image, ListConfig) else [str(cfg.image)]
    classifier = Classifier(cfg.run)
    results, what = classify_files(classifier, images, cfg.top), classifier.kind
    for image, best in zip(images, results):
        print(f"{image}: " + ", ".join(f"{k} ({what}={v:.3f})" for k, v in best))


def main() -> None:
    run_command(hydra_main, hydra_config="predict", plain_paths=PlainPaths("run", "image"))


if __name__ == "__main__":
    main()
