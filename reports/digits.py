"""Figures that look inside a model: what it thinks each class looks like, the test images it got
wrong, its confusion matrix, and its first-layer weights.

Each figure is one image in one axes (a mosaic of tiles with blank gaps, titles written into the
gaps): a grid of a hundred small axes costs matplotlib seconds to lay out and draw, one axes a
tenth of that, with the same pixels and words. The portraits, mistakes and confusion matrix are
given as arrays: the caller queries the model (``nnsweep.nets.inverse``) or reads what training recorded
(``runrecord``), so nothing here loads a data set.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnsweep.nets.conv import Conv2D
from nnsweep.nets.layers import Dense
from nnsweep.nets.network import Network
from nnsweep.reports.style import plt, save
from nnsweep.runrecord import ClassLabels, TestErrors

TITLE_INCHES = 0.45  # above a mosaic, for its title
LINE_INCHES = 0.16  # one line of 9-point text


def stretch(images: np.ndarray) -> np.ndarray:
    """Each image ``(n, ...)`` scaled to 0..1 by its own darkest and brightest pixel: a portrait
    shows a shape, and its brightness depends on the method, not on the class."""
    axes = tuple(range(1, images.ndim))
    low, high = images.min(axis=axes, keepdims=True), images.max(axis=axes, keepdims=True)
    return (images - low) / np.where(high > low, high - low, 1.0)


def mosaic(tiles: np.ndarray, cols: int, gap: int = 1, top: int = 0, fill: float = np.nan) -> np.ndarray:
    """``tiles: (n, h, w)`` laid out ``cols`` to a row as one ``(rows * (top + h + gap) - gap,
    cols * (w + gap) - gap)`` image; gaps, the ``top`` rows above each tile (room for its title)
    and missing tiles are ``fill``."""
    n, h, w = tiles.shape
    rows = math.ceil(n / cols)
    out = np.full((rows * (top + h + gap) - gap, cols * (w + gap) - gap), fill, dtype=np.float64)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = r * (top + h + gap) + top, c * (w + gap)
        out[y : y + h, x : x + w] = tile
    return out


def portrait_strip(images: np.ndarray, scale: int = 2, separator: int = 1) -> np.ndarray:
    """``images: (classes, side * side)`` side by side as one ``uint8`` greyscale picture, each
    stretched to black..white, upscaled ``scale`` times (nearest) and parted by a white line
    ``separator * scale`` pixels wide: a run's portraits for one cell of the results table."""
    side = math.isqrt(images.shape[1])
    strip = mosaic(stretch(images.reshape(-1, side, side)), cols=len(images), gap=separator, fill=1.0)
    strip = np.repeat(np.repeat(strip, scale, axis=0), scale, axis=1)
    return np.round(strip * 255).astype(np.uint8)


def _tiled_figure(
    tiles: np.ndarray,
    titles: list[str] | None,
    cols: int,
    tile_inches: float,
    title: str,
    right_inches: float = 0.0,
    **imshow,
):
    """One figure, one axes: ``tiles: (n, h, w)`` as a mosaic ``cols`` wide, ``tile_inches`` from
    one tile to the next, each tile's title (lines of 9-point text) in the gap above it, and the
    figure's ``title`` on top; ``right_inches`` left free on the right (a colour bar). Laid out by
    hand, so the size in pixels is known: ``cols * tile_inches + right_inches`` inches wide.
    Returns the figure, its axes and the image."""
    n, h, w = tiles.shape
    lines = max((t.count("\n") + 1 for t in titles), default=0) if titles else 0
    gap = max(1, round(0.06 * w / tile_inches))  # about 0.06 inches between tiles
    per_pixel = tile_inches / (w + gap)  # inches per tile pixel
    top = math.ceil(lines * LINE_INCHES / per_pixel) + (1 if lines else 0)
    image = mosaic(tiles, cols, gap=gap, top=top)
    margin = gap * per_pixel / 2  # half a gap at each side: the tiles' pitch spans the figure
    width, height = image.shape[1] * per_pixel + 2 * margin, image.shape[0] * per_pixel
    full_width, full_height = width + right_inches, height + TITLE_INCHES
    fig = plt.figure(figsize=(full_width, full_height), layout="none")
    ax = fig.add_axes((margin / full_width, 0, (width - 2 * margin) / full_width, height / full_height))
    ax.axis("off")
    shown = ax.imshow(image, interpolation="nearest", aspect="auto", **imshow)
    for k, text in enumerate(titles or []):
        r, c = divmod(k, cols)
        ax.text(
            c * (w + gap) + w / 2,
            r * (top + h + gap) + top - 1,
            text,
            ha="center",
            va="bottom",
            fontsize=9,
            linespacing=1.0,
        )
    fig.text(0.5 * width / full_width, 1 - 0.08 / full_height, title, ha="center", va="top", fontsize=12)
    return fig, ax, shown


def _cmap(name: str, gaps: str):
    """Colour map ``name`` with the mosaic's gaps (NaN) drawn in ``gaps``."""
    return plt.get_cmap(name).with_extremes(bad=gaps)


def render_class_portraits(images: np.ndarray, method: str, labels: ClassLabels, path: Path) -> Path:
    """``images: (classes, side * side)``, one per class (``nnsweep.nets.inverse.class_portraits``), five
    to a row, each stretched to black..white and titled with its class's name."""
    side = math.isqrt(images.shape[1])
    fig, _, _ = _tiled_figure(
        stretch(images.reshape(-1, side, side)),
        [labels[k] for k in range(len(images))],
        cols=5,
        tile_inches=1.8,
        cmap=_cmap("gray", "white"),
        vmin=0,
        vmax=1,
        title=f"What the network thinks each {labels.noun} looks like ({method})",
    )
    return save(fig, path)


def _mistake_title(true: str, said: str, confidence: float) -> str:
    pair = f"true {true}, said {said}"
    pair = pair if len(pair) <= 24 else f"true {true}\nsaid {said}"  # long class names take two lines
    return f"{pair}\n{confidence:.0%} sure"


def render_misclassified(
    errors: TestErrors,
    path: Path,
    mistakes: int | None = None,
    n_test: int | None = None,
    labels: ClassLabels | None = None,
) -> Path:
    """The test images a model got wrong most confidently (``runrecord.TestErrors``, written at
    the end of training), with true and predicted class and the model's confidence in its (wrong)
    answer; ``mistakes`` of ``n_test`` in all, when known, for the title."""
    labels = labels or ClassLabels.numbered()
    side = math.isqrt(errors.images.shape[1])
    titles = [
        _mistake_title(labels[int(t)], labels[int(p)], float(c))
        for t, p, c in zip(errors.labels, errors.predicted, errors.confidence)
    ]
    total = f" of the {mistakes} mistakes" if mistakes is not None else " mistakes"
    on = f" on {n_test} test {labels.plural}" if n_test is not None else ""
    fig, _, _ = _tiled_figure(
        errors.images.reshape(-1, side, side),
        titles,
        cols=5,
        tile_inches=1.7,
        cmap=_cmap("gray_r", "white"),
        vmin=0,
        vmax=1,
        title=f"The {len(errors.labels)} most confident{total}{on}",
    )
    return save(fig, path)


def render_confusion_matrix(
    confusion: np.ndarray, path: Path, source: str | None = None, labels: ClassLabels | None = None
) -> Path:
    """``confusion: (classes, classes)`` counts, rows the true class (``nnsweep.nets.evaluation``)."""
    confusion = np.asarray(confusion)
    classes = len(confusion)
    labels = labels or ClassLabels.numbered(classes)
    names = [labels[k] for k in range(classes)]
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(confusion, cmap="Blues")
    for i, j in zip(*np.nonzero(confusion)):
        ax.text(
            j,
            i,
            str(confusion[i, j]),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if confusion[i, j] > confusion.max() / 2 else "black",
        )
    long_names = max(len(n) for n in names) > 2
    ax.set_xticks(
        range(classes),
        names,
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
        fontsize=9 if long_names else None,
    )
    ax.set_yticks(range(classes), names, fontsize=9 if long_names else None)
    ax.set_xlabel(f"predicted {labels.noun}")
    ax.set_ylabel(f"true {labels.noun}")
    total = int(confusion.sum())
    accuracy = np.trace(confusion) / max(total, 1)
    ax.set_title(
        f"Confusion matrix on {total} test {labels.plural} (accuracy {accuracy:.1%})"
        + (f"\n{source}" if source else "")
    )
    fig.colorbar(image, ax=ax, label=f"number of test {labels.plural}")
    return save(fig, path)


def render_first_layer(network: Network, path: Path, max_tiles: int = 100) -> Path:
    """First-layer weights as images: each hidden unit's input weights as a square tile (MLPs),
    or each first-convolution kernel (LeNet-5's six C1 kernels), on one colour scale centred on
    zero."""
    first = next(layer for layer in network.layers if layer.params)
    if isinstance(first, Dense):
        W = first.params["W"]  # (n_inputs, units)
        side = math.isqrt(W.shape[0])
        tiles = W.T[:max_tiles].reshape(-1, side, side)
        what = f"first-layer weights of {min(W.shape[1], max_tiles)} of {W.shape[1]} hidden units"
        tile_inches = 0.7
    elif isinstance(first, Conv2D):
        W = first.params["W"]  # (filters, channels, k, k)
        tiles = W[:, 0]
        what = f"the {W.shape[0]} first-layer convolution kernels ({W.shape[2]}x{W.shape[3]})"
        tile_inches = 1.0
    else:
        raise ValueError(f"no picture for a first layer of type {first.kind}")
    span = float(np.abs(tiles).max()) or 1.0
    fig, ax, image = _tiled_figure(
        tiles.astype(np.float64),
        None,
        cols=min(10, len(tiles)),
        tile_inches=tile_inches,
        right_inches=1.2,
        title=f"{what.capitalize()} (red +, blue -)",
        cmap=_cmap("RdBu_r", "#808080"),
        vmin=-span,
        vmax=span,
    )
    box = ax.get_position()
    fig.colorbar(
        image,
        cax=fig.add_axes(
            (box.x1 + 0.15 * (1 - box.x1), box.y0 + 0.05 * box.height, 0.12 * (1 - box.x1), 0.9 * box.height)
        ),
        label="weight",
    )
    return save(fig, path)
