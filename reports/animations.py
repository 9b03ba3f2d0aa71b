"""Animations, epoch by epoch: the lr x epoch heatmap filling in, the learning curves growing.

Frames are cut from two renders of the still figure (empty and full) and written as GIF
(Pillow; duration in milliseconds, looping) and MP4 (H.264, through the ffmpeg binary that
imageio-ffmpeg ships). Memory stays bounded whatever the number of epochs: at most
``MAX_FRAMES`` frames, spread over the epochs, and each made only when the writer asks for it.
Both files are written to a temporary name and renamed into place, so a full disk leaves no
partial file.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from imageio_ffmpeg import get_ffmpeg_exe
from PIL import Image

from nnsweep.core.atomic import WriteError, atomic_path, atomic_write, write_error
from nnsweep.reports.grid import LrEpochGrid
from nnsweep.reports.heatmaps import TITLES, draw_lr_epoch_heatmap, heatmap_size, title_lines
from nnsweep.reports.learning_curves import curve_panels, draw_learning_curve, panel_title
from nnsweep.reports.style import figure_to_rgb, plt

FRAME_MS = 400
MAX_FRAMES = 150  # one frame per epoch up to here, then one every few epochs
# Pillow holds every frame of a GIF until it is written, one byte a pixel (a 1,800 x 1,024
# heatmap frame is 1.8 MB): a taller figure (more learning rates) gets fewer frames.
GIF_FRAME_BYTES = 300 * 2**20
MP4_QUALITY = 25  # x264's constant rate factor: 0 lossless ... 51 worst


def max_frames(fig) -> int:
    """How many frames an animation of ``fig`` may have: ``MAX_FRAMES``, fewer for a large
    figure, so that its GIF frames fit in ``GIF_FRAME_BYTES`` (and never fewer than 10)."""
    width, height = fig.get_size_inches() * fig.dpi
    return int(np.clip(GIF_FRAME_BYTES // (width * height), 10, MAX_FRAMES))


def frame_epochs(n_epochs: int, limit: int = MAX_FRAMES) -> np.ndarray:
    """The epochs that get a frame: every one up to ``limit``, else ``limit`` of them evenly
    spread from the first to the last."""
    if n_epochs <= limit:
        return np.arange(1, n_epochs + 1)
    return np.unique(np.round(np.linspace(1, n_epochs, limit)).astype(int))


def _pad_to_16(frame: np.ndarray) -> np.ndarray:
    """H.264 wants sides that are multiples of 16; pad with white rather than let ffmpeg rescale."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, -h % 16), (0, -w % 16), (0, 0)), constant_values=255)


@dataclass
class RevealFrames:
    """The frames of a figure that fills in from left to right, made one at a time on demand
    (iterating again makes them again). Frame k is ``empty`` with, inside each axes box
    ``(top, bottom, left)``, the columns up to ``rights[k]`` taken from ``full``."""

    empty: np.ndarray  # (h, w, 3) uint8 RGB, sides multiples of 16; or (h, w) palette indices
    full: np.ndarray  # the same shape
    boxes: list[tuple[int, int, int]]
    rights: np.ndarray  # (frames, axes) the last column shown, per frame and axes

    def __len__(self) -> int:
        return len(self.rights)

    def __iter__(self) -> Iterator[np.ndarray]:
        for row in self.rights:
            frame = self.empty.copy()
            for (top, bottom, left), right in zip(self.boxes, row):
                frame[top : bottom + 1, left : right + 1] = self.full[top : bottom + 1, left : right + 1]
            yield frame


def reveal_frames(fig, axes: list, stops: list[float], draw_empty, draw_full) -> RevealFrames:
    """Frames of a figure that fills in from left to right, from two renders only.

    ``draw_empty`` and ``draw_full`` draw the same figure without and with its data (same
    geometry). Frame k shows, inside each of ``axes``, every pixel left of data x = ``stops[k]``
    from the full render. Rendering each frame anew took ~0.5 s a frame; this takes two renders
    whatever the number of epochs.
    """
    draw_empty()
    empty = _pad_to_16(figure_to_rgb(fig))
    fig.set_layout_engine("none")  # keep the empty render's geometry for the full one
    draw_full()
    full = figure_to_rgb(fig)
    height = full.shape[0]  # display coordinates count from the bottom of the unpadded render
    boxes, rights = [], []
    for ax in axes:
        box = ax.get_window_extent()
        boxes.append((int(round(height - box.y1)), int(round(height - box.y0)), int(round(box.x0))))
        xs = np.array([ax.transData.transform((stop, 0))[0] for stop in stops])
        rights.append(np.clip(np.round(xs), box.x0, box.x1).astype(int))
    return RevealFrames(empty, _pad_to_16(full), boxes, np.array(rights).T)


def write_animation(frames: RevealFrames, stem: Path) -> list[Path]:
    """``stem.gif`` and ``stem.mp4`` from equally sized RGB frames (iterated once for each)."""
    return [write_gif(frames, stem.with_suffix(".gif")), write_mp4(frames, stem.with_suffix(".mp4"))]


def write_gif(frames: RevealFrames, path: Path) -> Path:
    """A looping GIF, ``FRAME_MS`` per frame, handed to Pillow one frame at a time.

    Every pixel of every frame comes from one of the two renders, so one palette made from both
    serves all frames, and frames are cut from the renders' palette indices: quantizing each
    frame on its own took 80 ms a frame."""
    both = Image.fromarray(np.concatenate([frames.empty, frames.full])).quantize(colors=256)
    palette, indices = both.getpalette(), np.asarray(both)
    height = frames.empty.shape[0]
    indexed = dataclasses.replace(frames, empty=indices[:height], full=indices[height:])

    def image(index: np.ndarray) -> Image.Image:
        picture = Image.fromarray(index)
        picture.putpalette(palette)
        return picture

    images = (image(index) for index in indexed)
    first = next(images)
    atomic_write(
        path, lambda f: first.save(f, format="GIF", save_all=True, append_images=images, duration=FRAME_MS, loop=0)
    )
    return path


def write_mp4(frames, path: Path) -> Path:
    """An H.264 MP4 (yuv420p, which browsers play), frames piped to ffmpeg one at a time."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with atomic_path(path) as tmp, tempfile.TemporaryFile() as log:
        command = [
            get_ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(Fraction(1000, FRAME_MS)),
            "-i",
            "-",
            "-an",
            "-vcodec",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-crf",
            str(MP4_QUALITY),
            "-preset",
            "veryfast",
            "-f",
            "mp4",
            str(tmp),
        ]  # veryfast: x264 holds fewer frames ahead
        ffmpeg = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for frame in itertools.chain([first], frames):
                ffmpeg.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped early; its exit status and log say why
        finally:
            try:
                ffmpeg.stdin.close()  # end of input: ffmpeg finishes the file and exits
            except BrokenPipeError:
                pass
            code = ffmpeg.wait()
        if code != 0:
            log.seek(0)
            raise _ffmpeg_failure(path, code, log.read().decode("utf-8", "replace"))
    return path


def _ffmpeg_failure(path: Path, code: int, log: str) -> WriteError:
    """ffmpeg's failure as the project's one-line write error (a full disk says so)."""
    known = [n for n in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) if os.strerror(n) in log]
    if code == -signal.SIGXFSZ:  # over the file size limit (ulimit -f), when not ignored
        known.append(errno.EFBIG)
    if known:
        return write_error(path, OSError(known[0], os.strerror(known[0])))
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return write_error(path, OSError(errno.EIO, f"ffmpeg failed ({lines[-1] if lines else f'exit status {code}'})"))


def animate_heatmap(grid: LrEpochGrid, metric: str, stem: Path) -> list[Path]:
    """The heatmap filling in column by column: a frame per epoch (per few epochs, for long runs)."""
    n_ep = grid.values.shape[1]
    fig, ax = plt.subplots(figsize=heatmap_size(grid))
    title = title_lines(f"{TITLES[metric]}, epoch by epoch", grid.group, fig)

    def draw(upto):
        ax.clear()
        draw_lr_epoch_heatmap(ax, grid, metric, upto_epoch=upto, colorbar=upto == 0)
        ax.set_title(title)

    stops = [e - 0.5 for e in frame_epochs(n_ep, max_frames(fig))]
    try:
        frames = reveal_frames(fig, [ax], stops, lambda: draw(0), lambda: draw(n_ep))
    finally:
        plt.close(fig)
    return write_animation(frames, stem)


def animate_learning_curves(
    runs: pd.DataFrame, epochs: pd.DataFrame, stem: Path, max_runs: int = 6, configs: pd.DataFrame | None = None
) -> list[Path]:
    """The best configurations' accuracy curves growing (mean over seeds, with bands), in
    learning-rate order: a frame per epoch (per few epochs, for long runs)."""
    panels = curve_panels(runs, epochs, configs, max_runs)
    max_epoch = int(epochs["epoch"].max()) if len(epochs) else 1
    cols = min(3, len(panels))
    rows_n = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.0 * rows_n), squeeze=False)
    used = list(axes.flat)[: len(panels)]
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    limits = []
    for panel in panels:
        acc = panel.curves[["train_acc", "val_acc", "train_acc_low", "val_acc_low"]].to_numpy(dtype=float) * 100
        lo = float(np.nanmin(acc)) if np.isfinite(acc).any() else 0.0
        limits.append((max(0.0, lo - 2), 100.5))

    def draw(upto):
        for ax, panel, lim in zip(used, panels, limits):
            ax.clear()
            draw_learning_curve(
                ax,
                panel.curves,
                panel_title(panel),
                "acc",
                upto_epoch=upto,
                best_epoch=panel.best_epoch,
                max_epoch=max_epoch,
                ylim=lim,
                stopped_at=panel.pruned_at,
            )
        used[0].legend(
            handles=[
                plt.Line2D([], [], color="#1f77b4", label="training"),
                plt.Line2D([], [], color="#ff7f0e", label="validation"),
            ],
            loc="lower right",
        )
        seeds = max((len(p.runs) for p in panels), default=1)
        fig.suptitle("Learning curves, epoch by epoch" + (f" (mean of {seeds} seeds)" if seeds > 1 else ""))

    stops = [e + 0.05 for e in frame_epochs(max_epoch, max_frames(fig))]
    try:
        frames = reveal_frames(fig, used, stops, lambda: draw(0), lambda: draw(max_epoch))
    finally:
        plt.close(fig)
    return write_animation(frames, stem)
