"""Classify photos or drawings of digits with a trained run:
``python -m experiments.predict run=<run dir> image=<png/jpg> [image=...]``.

Each image is prepared the way MNIST was made (``nets.data.digit_image``): grey levels,
inverted if dark-on-light, cropped to the digit, scaled into a 20x20 box, centred by centre of
mass in 28x28. Prints the top three classes with their probabilities (softmax networks) or
output activations (sigmoid networks).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from experiments.build import ConfigError
from experiments.cli import fail, parse_key_values
from experiments.evaluate import load_run_model, run_config
from nets.data.datasets import scale_inputs
from nets.data.digit_image import load_digit
from nets.data.readers import DataFormatError

USAGE = __doc__.split("\n\n")[0] + "\n\n  run=<dir>          a training run directory (required)\n" \
    "  image=<file>       one or more images (repeat image=, or image=[a.png,b.png])"


def predict_images(run_dir: str | Path, images: list[str], top: int = 3) -> list[list[tuple[int, float]]]:
    """For each image, the ``top`` (class, probability or activation) pairs, best first."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    network = load_run_model(run_dir)
    digits = np.stack([load_digit(p) for p in images])
    x = scale_inputs(np.round(digits * 255).astype(np.uint8), cfg.data.scaling)
    outputs = network.predict_proba(x)
    return [[(int(k), float(row[k])) for k in np.argsort(-row)[:top]] for row in outputs]


def main(argv: list[str] | None = None) -> None:
    args = parse_key_values(sys.argv[1:] if argv is None else argv, USAGE, {"run": False, "image": True},
                            ("run", "image"))
    try:
        results = predict_images(args["run"], args["image"])
    except (ConfigError, DataFormatError) as err:
        fail(str(err))
    what = "p" if run_config(Path(args["run"])).net.loss == "softmax_cross_entropy" else "output"
    for image, best in zip(args["image"], results):
        print(f"{image}: " + ", ".join(f"{k} ({what}={v:.3f})" for k, v in best))


if __name__ == "__main__":
    main()
