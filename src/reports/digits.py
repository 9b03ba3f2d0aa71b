"""Figures that look inside the best model: what it thinks each digit looks like, the test
digits it got wrong, its confusion matrix, and its first-layer weights.

The network is loaded to query it (portraits, weights); the mistakes and the confusion matrix
are the ones training recorded in the run directory, so a report never loads a data set."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.inverse import digit_portraits
from nets.layers import Dense
from nets.conv import Conv2D
from nets.network import Network
from reports.style import plt, save
from runrecord import TestErrors


def _image_grid(images: np.ndarray, titles: list[str], cols: int, size: float = 1.6, cmap="gray"):
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.35) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(img, cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    return fig


def render_digit_portraits(network: Network, path: Path) -> Path:
    """One image per class: Rashid's back query for sigmoid MLPs, activation maximisation else."""
    images, method = digit_portraits(network)
    side = int(np.sqrt(images.shape[1]))
    fig = _image_grid(images.reshape(-1, side, side), [f"{k}" for k in range(len(images))], cols=5, size=1.8)
    fig.suptitle(f"What the network thinks each digit looks like ({method})")
    return save(fig, path)


def render_misclassified(errors: TestErrors, path: Path, mistakes: int | None = None,
                         n_test: int | None = None) -> Path:
    """The test digits a model got wrong most confidently (``runrecord.TestErrors``, written at the
    end of training), with true and predicted label and the model's confidence in its (wrong)
    answer; ``mistakes`` of ``n_test`` in all, when known, for the title."""
    side = int(np.sqrt(errors.images.shape[1]))
    titles = [f"true {t}, said {p}\n{c:.0%} sure"
              for t, p, c in zip(errors.labels, errors.predicted, errors.confidence)]
    fig = _image_grid(errors.images.reshape(-1, side, side), titles, cols=5, size=1.7, cmap="gray_r")
    total = f" of the {mistakes} mistakes" if mistakes is not None else " mistakes"
    on = f" on {n_test} test digits" if n_test is not None else ""
    fig.suptitle(f"The {len(errors.labels)} most confident{total}{on}")
    return save(fig, path)


def render_confusion_matrix(confusion: np.ndarray, path: Path, source: str | None = None) -> Path:
    """``confusion: (classes, classes)`` counts, rows the true digit (``nets.evaluation``)."""
    confusion = np.asarray(confusion)
    classes = len(confusion)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(confusion, cmap="Blues")
    for i in range(classes):
        for j in range(classes):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if confusion[i, j] > confusion.max() / 2 else "black")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    total = int(confusion.sum())
    accuracy = np.trace(confusion) / max(total, 1)
    ax.set_title(f"Confusion matrix on {total} test digits (accuracy {accuracy:.1%})"
                 + (f"\n{source}" if source else ""))
    fig.colorbar(image, ax=ax, label="number of test digits")
    return save(fig, path)


def render_first_layer(network: Network, path: Path, max_tiles: int = 100) -> Path:
    """First-layer weights as images: each hidden unit's 784 weights as a 28x28 tile (MLPs), or
    each first-convolution kernel (LeNet-5's six C1 kernels)."""
    first = next(layer for layer in network.layers if layer.params)
    if isinstance(first, Dense):
        W = first.params["W"]  # (784, units)
        tiles = W.T[:max_tiles].reshape(-1, 28, 28)
        what = f"first-layer weights of {min(W.shape[1], max_tiles)} of {W.shape[1]} hidden units"
    elif isinstance(first, Conv2D):
        W = first.params["W"]  # (filters, channels, k, k)
        tiles = W[:, 0]
        what = f"the {W.shape[0]} first-layer convolution kernels ({W.shape[2]}x{W.shape[3]})"
    else:
        raise ValueError(f"no picture for a first layer of type {first.kind}")
    span = float(np.abs(tiles).max()) or 1.0
    cols = min(10, len(tiles))
    rows = int(np.ceil(len(tiles) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1, 1.1 * rows + 0.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, tile in zip(axes.flat, tiles):
        image = ax.imshow(tile, cmap="RdBu_r", vmin=-span, vmax=span, interpolation="nearest")
    fig.colorbar(image, ax=axes, fraction=0.03, label="weight (red +, blue -)")
    fig.suptitle(what.capitalize())
    return save(fig, path)
