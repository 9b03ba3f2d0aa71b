"""Animations, one frame per epoch: the lr x epoch heatmap filling in, the learning curves growing.

Frames are drawn with the same functions as the still figures and written with imageio as GIF
(duration in milliseconds, looping) and MP4 (imageio's ffmpeg plugin, from imageio-ffmpeg).
"""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd

from reports.curves import draw_learning_curve, run_title
from reports.heatmaps import TITLES, draw_lr_epoch_heatmap
from reports.style import figure_to_rgb, plt
from reports.tables import LrEpochGrid

FRAME_MS = 400


def _pad_to_16(frame: np.ndarray) -> np.ndarray:
    """H.264 wants sides that are multiples of 16; pad with white rather than let ffmpeg rescale."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, -h % 16), (0, -w % 16), (0, 0)), constant_values=255)


def write_animation(frames: list[np.ndarray], stem: Path) -> list[Path]:
    """``stem.gif`` and ``stem.mp4`` from equally sized RGB frames."""
    frames = [_pad_to_16(f) for f in frames]
    gif, mp4 = stem.with_suffix(".gif"), stem.with_suffix(".mp4")
    iio.imwrite(gif, np.stack(frames), duration=FRAME_MS, loop=0)
    iio.imwrite(mp4, np.stack(frames), fps=1000 / FRAME_MS, codec="libx264", macro_block_size=1)
    return [gif, mp4]


def animate_heatmap(grid: LrEpochGrid, metric: str, stem: Path) -> list[Path]:
    n_lr, n_ep = grid.values.shape
    fig, ax = plt.subplots(figsize=(min(4 + 0.45 * n_ep, 18), 1.8 + 0.42 * n_lr))
    frames = []
    for epoch in range(1, n_ep + 1):
        ax.clear()
        # The colour scale comes from the whole grid, so the first frame's colour bar serves all.
        draw_lr_epoch_heatmap(ax, grid, metric, upto_epoch=epoch, colorbar=epoch == 1)
        ax.set_title(f"{TITLES[metric]} after epoch {epoch}\n{grid.group}")
        frames.append(figure_to_rgb(fig))
        fig.set_layout_engine("none")  # every frame has the same geometry: lay out once (half the time)
    plt.close(fig)
    return write_animation(frames, stem)


def animate_learning_curves(runs: pd.DataFrame, epochs: pd.DataFrame, stem: Path, max_runs: int = 6) -> list[Path]:
    """The best runs' accuracy curves drawn up to each epoch in turn."""
    shown = runs.dropna(subset=["best_val_acc"]).head(max_runs)
    if shown.empty:
        shown = runs.head(max_runs)
    max_epoch = int(epochs["epoch"].max()) if len(epochs) else 1
    cols = min(3, len(shown))
    rows_n = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    data = [epochs[epochs["run"] == r["run"]].sort_values("epoch") for _, r in shown.iterrows()]
    limits = []
    for rows in data:
        acc = rows[["train_acc", "val_acc"]].to_numpy(dtype=float) * 100
        lo = float(np.nanmin(acc)) if np.isfinite(acc).any() else 0.0
        limits.append((max(0.0, lo - 2), 100.5))
    frames = []
    for epoch in range(1, max_epoch + 1):
        for ax in axes.flat:
            ax.clear()
        for ax, (_, run), rows, lim in zip(axes.flat, shown.iterrows(), data, limits):
            draw_learning_curve(ax, rows, run_title(run), "acc", upto_epoch=epoch, best_epoch=run.get("best_epoch"),
                                max_epoch=max_epoch, ylim=lim)
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        axes.flat[0].legend(loc="lower right")
        fig.suptitle(f"Learning curves after epoch {epoch}")
        frames.append(figure_to_rgb(fig))
        fig.set_layout_engine("none")
    plt.close(fig)
    return write_animation(frames, stem)
