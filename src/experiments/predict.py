"""Classify photos or drawings of digits with a trained run:
``python -m experiments.predict run=<run dir> image=<png/jpg>`` (several: ``image=[a.png,b.png]``).

Each image is prepared the way MNIST was made (``nets.data.digit_image``): grey levels,
inverted if dark-on-light, cropped to the digit, scaled into a 20x20 box, centred by centre of
mass in 28x28. Prints the top three classes with their probabilities (softmax networks) or
output activations (sigmoid networks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig

from experiments.cli import exits_on_bad_input, program_name, run_command
from experiments.build import ConfigError, reading_recorded_config
from experiments.evaluate import QUIET_LOGGING, quiet_hydra
from nets.data.datasets import scale_inputs
from nets.data.digit_image import load_digit
from runrecord import RunDir
from runrecord.rundir import CONFIG


@dataclass
class PredictConfig:
    defaults: List[Any] = field(default_factory=lambda: list(QUIET_LOGGING))
    run: str = MISSING  # a training run directory
    image: Any = MISSING  # one image file, or a list of them
    top: int = 3
    hydra: Any = field(default_factory=lambda: quiet_hydra(
        program_name("experiments.predict"),
        program_name("experiments.predict") + " run=<run dir> image=<png/jpg> (several: image=[a.png,b.png]) [top=3]\n"
        "Prepares each image the way MNIST was made and prints the run's top classes for it.\n"))


ConfigStore.instance().store(name="predict", node=PredictConfig)


def predict_images(run_dir: str | Path, images: list[str], top: int = 3) -> list[list[tuple[int, float]]]:
    """For each image, the ``top`` (class, probability or activation) pairs, best first."""
    run = RunDir(run_dir)
    cfg = run.config()
    network = run.load_model()
    if not images:
        raise ConfigError("image=[] names no image; give image=<file> or image=[a.png,b.png]")
    if not 1 <= top <= network.output_size:
        raise ConfigError(f"top must be 1 to {network.output_size} (the classes), got {top}")
    digits = np.stack([load_digit(p) for p in images])
    with reading_recorded_config(run.file(CONFIG)):
        x = scale_inputs(np.round(digits * 255).astype(np.uint8), cfg.data.scaling)
    outputs = network.predict_proba(x)
    return [[(int(k), float(row[k])) for k in np.argsort(-row)[:top]] for row in outputs]


def output_kind(run_dir: str | Path) -> str:
    """What a run's outputs are: "p" (softmax probabilities) or "output" (sigmoid activations)."""
    run = RunDir(run_dir)
    with reading_recorded_config(run.file(CONFIG)):
        return "p" if run.config().net.loss == "softmax_cross_entropy" else "output"


@hydra.main(version_base="1.3", config_path=None, config_name="predict")
@exits_on_bad_input
def hydra_main(cfg: DictConfig) -> None:
    images = [str(i) for i in cfg.image] if isinstance(cfg.image, ListConfig) else [str(cfg.image)]
    results, what = predict_images(cfg.run, images, cfg.top), output_kind(cfg.run)
    for image, best in zip(images, results):
        print(f"{image}: " + ", ".join(f"{k} ({what}={v:.3f})" for k, v in best))


def main() -> None:
    run_command(hydra_main, hydra_config="predict")


if __name__ == "__main__":
    main()
