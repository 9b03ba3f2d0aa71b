"""Learning-rate x epoch heatmaps: where learning is too slow, just right, too fast, overfitting.

A run that a pruning search stopped (status ``pruned``) has no values after the epoch it reached.
Its row ends there with a black bar, and the cells after it are hatched white: the search chose
not to train them. That is neither the grey of a value that is missing (a run that failed or
diverged) nor a colour of the scale (white is a gap of 0 in the overfitting map).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colors, transforms
from matplotlib.lines import Line2D

from reports.style import CMAP_ACCURACY, CMAP_GAP, MISSING_COLOUR, lr_label, plt, save
from runrecord import Status
from reports.tables import LrEpochGrid

TITLES = {
    "val_acc": "Validation accuracy (%)",
    "train_acc": "Training accuracy (%)",
    "gap": "Training minus validation accuracy (points): overfitting",
}
PRUNED_MARK = {"color": "black", "linewidth": 3, "solid_capstyle": "butt"}
PRUNED_LABEL = "pruned: the search stopped the run after this epoch (hatched: never trained)"
PRUNED_HATCH = "#c4c4c4"


def draw_lr_epoch_heatmap(ax, grid: LrEpochGrid, metric: str, upto_epoch: int | None = None, colorbar=True):
    """Draw on ``ax``; epochs after ``upto_epoch`` are left empty (animation frames)."""
    values = grid.values * 100.0
    if upto_epoch is not None:
        values = values.copy()
        values[:, upto_epoch:] = np.nan
    if metric == "gap":
        span = max(1.0, float(np.nanmax(np.abs(grid.values * 100.0))) if np.isfinite(grid.values).any() else 1.0)
        norm, cmap = colors.TwoSlopeNorm(0.0, -span, span), plt.get_cmap(CMAP_GAP)
    else:
        finite = grid.values[np.isfinite(grid.values)] * 100.0
        low = float(finite.min()) if finite.size else 0.0
        norm, cmap = colors.Normalize(low, 100.0 if not finite.size else max(float(finite.max()), low + 1)), plt.get_cmap(CMAP_ACCURACY)
    cmap = cmap.with_extremes(bad=MISSING_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", origin="lower", cmap=cmap, norm=norm,
                      interpolation="nearest")
    n_lr, n_ep = values.shape
    ax.set_yticks(range(n_lr), [lr_label(v) for v in grid.lrs])
    step = max(1, n_ep // 15)
    ax.set_xticks(range(0, n_ep, step), [str(e) for e in grid.epochs[::step]])
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate (log-spaced)")
    annotate = n_lr * n_ep <= 400
    for i in range(n_lr):
        marker = {"diverged": "diverged", "failed": "failed", "interrupted": "interrupted"}.get(grid.status[i])
        for j in range(n_ep if annotate else 0):
            v = values[i, j]
            if np.isfinite(v):
                shade = image.cmap(image.norm(v))
                light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.55
                ax.text(j, i, f"{v:.0f}" if abs(v) >= 10 or metric != "gap" else f"{v:.1f}", ha="center",
                        va="center", fontsize=7 if n_ep > 15 else 8, color="black" if light else "white")
        if marker and (upto_epoch is None or marker != "interrupted"):
            first_missing = int(np.argmax(~np.isfinite(values[i]))) if not np.all(np.isfinite(values[i])) else n_ep
            ax.text(min(first_missing, n_ep - 1) if marker != "failed" else (n_ep - 1) / 2, i, marker,
                    ha="center" if marker == "failed" else "left", va="center", fontsize=8, color="#b00020",
                    fontweight="bold")
    pruned = [i for i in range(n_lr) if grid.status[i] == Status.PRUNED.value]
    for i in pruned:
        _mark_pruned(ax, grid, i, upto_epoch)
    if pruned:  # in every animation frame too, so that the layout does not move between frames
        below_xlabel = transforms.offset_copy(ax.transAxes, ax.figure, y=-30, units="points")
        ax.legend(handles=[Line2D([], [], label=PRUNED_LABEL, **PRUNED_MARK)], loc="upper left",
                  bbox_to_anchor=(0.0, 0.0), bbox_transform=below_xlabel, frameon=False, fontsize=8)
    if metric != "gap":
        best = grid.best_cell()
        if best is not None and (upto_epoch is None or best[1] < upto_epoch):
            i, j = best
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.2))
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label("percentage points" if metric == "gap" else "accuracy (%)")
    return image


def _mark_pruned(ax, grid: LrEpochGrid, i: int, upto_epoch: int | None) -> None:
    """Close row ``i`` after the last epoch its run reached: a black bar, hatched cells after it.
    Not drawn in a frame that stops before that epoch."""
    recorded = np.flatnonzero(np.isfinite(grid.values[i]))
    n_ep = grid.values.shape[1]
    if not recorded.size or (upto_epoch is not None and upto_epoch <= recorded[-1]):
        return
    end = recorded[-1] + 0.5  # the right edge of the last cell
    if end < n_ep - 0.5:
        ax.add_patch(plt.Rectangle((end, i - 0.5), n_ep - 0.5 - end, 1, facecolor="white", edgecolor="none",
                                   hatch="//", hatchcolor=PRUNED_HATCH, gid=f"pruned tail {i}"))
    ax.plot([end, end], [i - 0.42, i + 0.42], gid=f"pruned {i}", **PRUNED_MARK)  # a bar per row, not a wall


def render_lr_epoch_heatmap(grid: LrEpochGrid, metric: str, path: Path) -> Path:
    """Annotated heatmap of ``metric`` ("val_acc", "train_acc" or "gap"); best cell boxed in red,
    diverged / failed runs marked on their rows, pruned rows closed where their run stopped."""
    n_lr, n_ep = grid.values.shape
    fig, ax = plt.subplots(figsize=(min(4 + 0.45 * n_ep, 18), 1.8 + 0.42 * n_lr))
    draw_lr_epoch_heatmap(ax, grid, metric)
    box = {"val_acc": "; red box: best", "train_acc": "; red box: highest"}.get(metric, "")
    ax.set_title(f"{TITLES[metric]}\n{grid.group}{box}")
    return save(fig, path)
