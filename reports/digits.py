"""Figures that look inside the best model: what it thinks each digit looks like, the test
digits it gets wrong, its confusion matrix, and its first-layer weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.inverse import digit_portraits
from nets.layers import Dense
from nets.conv import Conv2D
from nets.network import Network
from nets.train import LabelledData
from reports.style import plt, save


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


def render_misclassified(network: Network, test: LabelledData, path: Path, count: int = 25) -> Path:
    """The ``count`` test digits the model gets wrong most confidently, with true and predicted
    label and the model's confidence in its (wrong) answer."""
    probs = network.predict_proba(test.x)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != test.labels)
    confidence = probs[wrong, predicted[wrong]] / np.maximum(probs[wrong].sum(axis=1), 1e-12)
    order = np.argsort(-confidence, kind="stable")[:count]
    wrong, confidence = wrong[order], confidence[order]
    images = test.x[wrong].reshape(-1, 28, 28)
    titles = [f"true {t}, said {p}\n{c:.0%} sure" for t, p, c in zip(test.labels[wrong], predicted[wrong], confidence)]
    fig = _image_grid(images, titles, cols=5, size=1.7, cmap="gray_r")
    fig.suptitle(f"The {len(wrong)} most confident of the {int((predicted != test.labels).sum())} mistakes "
                 f"on {len(test)} test digits")
    return save(fig, path)


def render_confusion_matrix(network: Network, test: LabelledData, path: Path) -> Path:
    predicted = network.predict(test.x)
    classes = network.output_size
    confusion = np.zeros((classes, classes), dtype=int)
    np.add.at(confusion, (test.labels, predicted), 1)
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
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    ax.set_title(f"Confusion matrix on {len(test)} test digits (accuracy {accuracy:.1%})")
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
