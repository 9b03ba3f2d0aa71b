"""Learning-rate x epoch heatmaps: where learning is too slow, just right, too fast, overfitting.

A run that a pruning search stopped (status ``pruned``) has no values after the epoch it reached.
Its row ends there with a black bar, and the cells after it are hatched white: the search chose
not to train them. That is neither the grey of a value that is missing (a run that failed) nor a
colour of the scale (white is a gap of 0 in the overfitting map). A row whose runs diverged or
never learned (``tables.never_learned``) is a darker grey with its label: its values would
only stretch the colour scale, which spans the rows that learned.

With repeats each row is one configuration's mean over its seeds (``tables.lr_epoch_grid``). A
grid over the rate and other settings (optimizer, net ...) has a block of rows per group of those
settings, in rate order, with a white line between the blocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colors, transforms
from matplotlib.lines import Line2D

from nnsweep.reports.grid import LrEpochGrid
from nnsweep.reports.style import CMAP_ACCURACY, CMAP_GAP, MISSING_COLOUR, plt, save
from nnsweep.runrecord import Status

TITLES = {
    "val_acc": "Validation accuracy (%)",
    "train_acc": "Training accuracy (%)",
    "gap": "Training minus validation accuracy (points): overfitting",
}
PRUNED_MARK = {"color": "black", "linewidth": 3, "solid_capstyle": "butt"}
PRUNED_LABEL = "pruned: the search stopped the run after this epoch (hatched: never trained)"
PRUNED_HATCH = "#c4c4c4"
DEAD_COLOUR = "#a0a0a0"  # a neutral grey, darker than a missing value's
SCALE_PERCENTILE = 10


def colour_range(grid: LrEpochGrid, metric: str) -> tuple[float, float, bool]:
    """The colour scale's (low, high, clipped), in percent (points for the gap), from the rows
    that learned only: a dead row at 10% would stretch the scale so far that 88 and 94 share a
    colour. Accuracy runs from the ``SCALE_PERCENTILE``-th percentile of those cells to their
    maximum (``clipped``: cells below ``low`` take the lowest colour, the colour bar says so);
    the gap is symmetric about 0."""
    learned = grid.values[np.array(grid.dead, dtype=str) == ""] * 100.0
    finite = learned[np.isfinite(learned)]
    if metric == "gap":
        span = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
        return -span, span, False
    if not finite.size:
        return 0.0, 100.0, False
    high = float(finite.max())
    low = min(float(np.percentile(finite, SCALE_PERCENTILE)), high - 1.0)
    return low, high, low > float(finite.min())


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def draw_lr_epoch_heatmap(ax, grid: LrEpochGrid, metric: str, upto_epoch: int | None = None, colorbar=True):
    """Draw on ``ax``; epochs after ``upto_epoch`` are left empty (animation frames). Rows that
    diverged or never learned are grey patches (gid ``"dead <row>"``) with a label (gid
    ``"dead label <row>"``), outside the colour scale."""
    values = grid.values * 100.0
    dead = np.array(grid.dead, dtype=str) != ""
    shown = values.copy()
    shown[dead] = np.nan
    if upto_epoch is not None:
        shown[:, upto_epoch:] = np.nan
    low, high, clipped = colour_range(grid, metric)
    if metric == "gap":
        norm, cmap = colors.TwoSlopeNorm(0.0, low, high), plt.get_cmap(CMAP_GAP)
    else:
        norm, cmap = colors.Normalize(low, high), plt.get_cmap(CMAP_ACCURACY)
    cmap = cmap.with_extremes(bad=MISSING_COLOUR)
    image = ax.imshow(
        np.ma.masked_invalid(shown), aspect="auto", origin="lower", cmap=cmap, norm=norm, interpolation="nearest"
    )
    n_lr, n_ep = values.shape
    notes = grid.rows["note"].tolist() if "note" in grid.rows else [""] * n_lr
    ax.set_yticks(range(n_lr), [f"{label} ({note})" if note else label for label, note in zip(grid.labels, notes)])
    step = max(1, n_ep // 15)
    ax.set_xticks(range(0, n_ep, step), [str(e) for e in grid.epochs[::step]])
    ax.set_xlabel("epoch")
    ax.set_ylabel(grid.axis_label)
    annotate = n_lr * n_ep <= 400
    for i in range(n_lr):
        if dead[i]:
            _mark_dead(ax, grid, i, n_ep if upto_epoch is None else min(upto_epoch, n_ep))
            continue
        for j in range(n_ep if annotate else 0):
            v = shown[i, j]
            if np.isfinite(v):
                shade = image.cmap(image.norm(v))
                light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.55
                ax.text(
                    j,
                    i,
                    f"{v:.0f}" if abs(v) >= 10 or metric != "gap" else f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7 if n_ep > 15 else 8,
                    color="black" if light else "white",
                )
        marker = {"diverged": "diverged", "failed": "failed", "interrupted": "interrupted"}.get(grid.status[i])
        if marker and not notes[i] and (upto_epoch is None or marker != "interrupted"):
            first_missing = int(np.argmax(~np.isfinite(values[i]))) if not np.all(np.isfinite(values[i])) else n_ep
            ax.text(
                min(first_missing, n_ep - 1) if marker != "failed" else (n_ep - 1) / 2,
                i,
                marker,
                ha="center" if marker == "failed" else "left",
                va="center",
                fontsize=8,
                color="#b00020",
                fontweight="bold",
            )
    if grid.groups:  # a grid over the rate and other settings: a line between the groups' blocks of rows
        starts = np.flatnonzero(grid.rows["group"].to_numpy()[1:] != grid.rows["group"].to_numpy()[:-1]) + 1
        for start in starts:
            ax.axhline(start - 0.5, color="white", linewidth=3, gid="group boundary")
    pruned = [i for i in range(n_lr) if grid.status[i] == Status.PRUNED.value]
    for i in pruned:
        _mark_pruned(ax, grid, i, upto_epoch)
    if pruned:  # in every animation frame too, so that the layout does not move between frames
        below_xlabel = transforms.offset_copy(ax.transAxes, ax.figure, y=-30, units="points")
        ax.legend(
            handles=[Line2D([], [], label=PRUNED_LABEL, **PRUNED_MARK)],
            loc="upper left",
            bbox_to_anchor=(0.0, 0.0),
            bbox_transform=below_xlabel,
            frameon=False,
            fontsize=8,
        )
    if metric != "gap":
        best = grid.best_cell()
        if best is not None and (upto_epoch is None or best[1] < upto_epoch):
            i, j = best
            ax.add_patch(
                plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.2, gid="best cell")
            )
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02, extend="min" if clipped else "neither")
        bar.set_label("percentage points" if metric == "gap" else "accuracy (%)")
    return image


def _mark_dead(ax, grid: LrEpochGrid, i: int, upto: int) -> None:
    """Row ``i`` in grey up to column ``upto``, named: "never learned: best 10%" or "diverged at
    epoch 3". The label is in every animation frame, whole (an empty frame has it too)."""
    n_ep = grid.values.shape[1]
    if upto > 0:
        ax.add_patch(
            plt.Rectangle(
                (-0.5, i - 0.5), upto, 1, facecolor=DEAD_COLOUR, edgecolor="white", linewidth=0.5, gid=f"dead {i}"
            )
        )
    what, row = grid.dead[i], grid.rows.iloc[i]
    if what == "never learned" and np.isfinite(row["best_mean"]):
        what += f": best {row['best_mean'] * 100:.0f}%"
    elif what == "diverged" and np.isfinite(row["diverged_epoch"]):
        what += f" at epoch {int(row['diverged_epoch'])}"
    ax.text(
        (n_ep - 1) / 2,
        i,
        what,
        ha="center",
        va="center",
        fontsize=8,
        color="#111111",
        fontweight="bold",
        gid=f"dead label {i}",
    )


def _mark_pruned(ax, grid: LrEpochGrid, i: int, upto_epoch: int | None) -> None:
    """Close row ``i`` after the last epoch its run reached: a black bar, hatched cells after it.
    Not drawn in a frame that stops before that epoch."""
    recorded = np.flatnonzero(np.isfinite(grid.values[i]))
    n_ep = grid.values.shape[1]
    if not recorded.size or (upto_epoch is not None and upto_epoch <= recorded[-1]):
        return
    end = recorded[-1] + 0.5  # the right edge of the last cell
    if end < n_ep - 0.5:
        ax.add_patch(
            plt.Rectangle(
                (end, i - 0.5),
                n_ep - 0.5 - end,
                1,
                facecolor="white",
                edgecolor="none",
                hatch="//",
                hatchcolor=PRUNED_HATCH,
                gid=f"pruned tail {i}",
            )
        )
    ax.plot([end, end], [i - 0.42, i + 0.42], gid=f"pruned {i}", **PRUNED_MARK)  # a bar per row, not a wall


def title_lines(head: str, text: str, fig) -> str:
    """``head``, then ``text`` broken between its "; "-separated parts into lines that fit the
    figure's width (a narrow heatmap of a few epochs cannot hold the slice and the seeds on one)."""
    width = int(fig.get_figwidth() * 9)  # characters of the title font a line holds
    lines: list[str] = []
    for part in (p for p in text.split("; ") if p):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "; " + part
        else:
            lines.append(part)
    return "\n".join([head, *lines])


def heatmap_size(grid: LrEpochGrid) -> tuple[float, float]:
    """Inches: a column per epoch, a row per configuration, room for the longest row label."""
    n_lr, n_ep = grid.values.shape
    label = max((len(t) for t in grid.labels), default=0)
    return min(4 + 0.45 * n_ep + max(0, label - 8) * 0.07, 20), 1.8 + 0.42 * n_lr


def render_lr_epoch_heatmap(grid: LrEpochGrid, metric: str, path: Path) -> Path:
    """Annotated heatmap of ``metric`` ("val_acc", "train_acc" or "gap"); best cell boxed in red,
    diverged / failed runs marked on their rows, pruned rows closed where their run stopped."""
    fig, ax = plt.subplots(figsize=heatmap_size(grid))
    draw_lr_epoch_heatmap(ax, grid, metric)
    box = {"val_acc": "; red box: best", "train_acc": "; red box: highest"}.get(metric, "")
    # over the whole figure, not the axes: long row labels push a narrow grid's axes to the right,
    # and a title centred on them ran off the figure's edge ("red box: be")
    fig.suptitle(title_lines(TITLES[metric], grid.group + box, fig), fontsize=12)
    return save(fig, path)
