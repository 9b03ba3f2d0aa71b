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
    iio.imwrite(mp4, np.stack(frames), fps=1000 / FRAME_MS, codec="libx264", macro_block_size=1,
                ffmpeg_log_level="error")
    return [gif, mp4]


def reveal_frames(fig, axes: list, stops: list[float], draw_empty, draw_full) -> list[np.ndarray]:
    """Frames of a figure that fills in from left to right, from two renders only.

    ``draw_empty`` and ``draw_full`` draw the same figure without and with its data (same
    geometry). Frame k is the empty render with, inside each of ``axes``, every pixel left of
    data x = ``stops[k]`` taken from the full render. Rendering each frame anew took ~0.5 s a
    frame; this takes two renders whatever the number of epochs.
    """
    draw_empty()
    empty = figure_to_rgb(fig)
    fig.set_layout_engine("none")  # keep the empty render's geometry for the full one
    draw_full()
    full = figure_to_rgb(fig)
    height = full.shape[0]
    boxes = [ax.get_window_extent() for ax in axes]
    frames = []
    for stop in stops:
        frame = empty.copy()
        for ax, box in zip(axes, boxes):
            right = int(np.clip(round(ax.transData.transform((stop, 0))[0]), box.x0, box.x1))
            top, bottom = int(round(height - box.y1)), int(round(height - box.y0))
            left = int(round(box.x0))
            frame[top:bottom + 1, left:right + 1] = full[top:bottom + 1, left:right + 1]
        frames.append(frame)
    return frames


def animate_heatmap(grid: LrEpochGrid, metric: str, stem: Path) -> list[Path]:
    """The heatmap filling in column by column: one frame per epoch."""
    n_lr, n_ep = grid.values.shape
    fig, ax = plt.subplots(figsize=(min(4 + 0.45 * n_ep, 18), 1.8 + 0.42 * n_lr))
    title = f"{TITLES[metric]}, epoch by epoch\n{grid.group}"

    def draw(upto):
        ax.clear()
        draw_lr_epoch_heatmap(ax, grid, metric, upto_epoch=upto, colorbar=upto == 0)
        ax.set_title(title)

    frames = reveal_frames(fig, [ax], [e - 0.5 for e in range(1, n_ep + 1)], lambda: draw(0), lambda: draw(n_ep))
    plt.close(fig)
    return write_animation(frames, stem)


def animate_learning_curves(runs: pd.DataFrame, epochs: pd.DataFrame, stem: Path, max_runs: int = 6) -> list[Path]:
    """The best runs' accuracy curves growing: one frame per epoch."""
    shown = runs.dropna(subset=["best_val_acc"]).head(max_runs)
    if shown.empty:
        shown = runs.head(max_runs)
    max_epoch = int(epochs["epoch"].max()) if len(epochs) else 1
    cols = min(3, len(shown))
    rows_n = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    used = list(axes.flat)[: len(shown)]
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    data = [epochs[epochs["run"] == r["run"]].sort_values("epoch") for _, r in shown.iterrows()]
    limits = []
    for rows in data:
        acc = rows[["train_acc", "val_acc"]].to_numpy(dtype=float) * 100
        lo = float(np.nanmin(acc)) if np.isfinite(acc).any() else 0.0
        limits.append((max(0.0, lo - 2), 100.5))

    def draw(upto):
        for ax, (_, run), rows, lim in zip(used, shown.iterrows(), data, limits):
            ax.clear()
            draw_learning_curve(ax, rows, run_title(run), "acc", upto_epoch=upto, best_epoch=run.get("best_epoch"),
                                max_epoch=max_epoch, ylim=lim)
        used[0].legend(handles=[plt.Line2D([], [], color="#1f77b4", label="training"),
                                plt.Line2D([], [], color="#ff7f0e", label="validation")], loc="lower right")
        fig.suptitle("Learning curves, epoch by epoch")

    stops = [e + 0.05 for e in range(1, max_epoch + 1)]
    frames = reveal_frames(fig, used, stops, lambda: draw(0), lambda: draw(max_epoch))
    plt.close(fig)
    return write_animation(frames, stem)
