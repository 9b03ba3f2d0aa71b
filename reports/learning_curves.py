"""Each configuration's learning curves (Nielsen's overfitting plots): training and validation
accuracy and loss per epoch, one panel per configuration.

With repeats (several seeds per configuration) a curve is the mean over the seeds and the shaded
band its 95% Student t interval; without them each is one run's. A run a pruning search stopped
has fewer epochs than the others: its panel says where it stopped.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from nnsweep.reports.curves import TRAIN, VAL
from nnsweep.reports.style import lr_label, plt, save
from nnsweep.reports.tables import (
    configuration_of,
    configurations_of,
    describe_group,
    describe_settings,
    key_text,
    never_learned,
    run_matrix,
    varied_settings,
)
from nnsweep.runrecord import Status
from nnsweep.sweeps.comparison import mean_interval, metric_bounds


@dataclass
class CurvePanel:
    """One configuration's learning curves: ``curves`` has ``epoch`` and, for each of train and
    val and each kind (acc, loss), the mean over seeds and ``_low``/``_high`` (95% interval)."""

    label: str
    lr: float
    runs: pd.DataFrame
    curves: pd.DataFrame
    best_epoch: float  # one run: its best epoch; repeats: the mean validation accuracy's best
    pruned_at: int | None  # the epoch the pruner stopped its runs at


def curve_panels(
    runs: pd.DataFrame, epochs: pd.DataFrame, configs: pd.DataFrame | None = None, max_panels: int = 16
) -> list[CurvePanel]:
    """The ``max_panels`` best configurations (by mean best validation accuracy), in learning
    rate order, each with its mean curves."""
    configs = configurations_of(runs) if configs is None or configs.empty else configs
    positions = configuration_of(runs, configs)
    ranked = [p for p in range(len(configs)) if (positions == p).any()][:max_panels]
    named = varied_settings(configs)
    differ = [k for k in named if key_text(configs.iloc[ranked][k]).nunique(dropna=False) > 1] if ranked else []
    panels = []
    for p in ranked:
        members = runs[positions == p]
        names = members["run"].tolist()
        ep = epochs[epochs["run"].isin(names)]
        width = int(ep["epoch"].max()) if len(ep) else 0
        curves = {"epoch": np.arange(1, width + 1)}
        for split in ("train", "val"):
            for kind in ("acc", "loss"):
                mean, low, high, _ = mean_interval(
                    run_matrix(ep, names, f"{split}_{kind}", width), metric_bounds(f"{split}_{kind}")
                )
                curves.update({f"{split}_{kind}": mean, f"{split}_{kind}_low": low, f"{split}_{kind}_high": high})
        curves = pd.DataFrame(curves)
        lr = float(members["lr"].iloc[0]) if "lr" in members and pd.notna(members["lr"].iloc[0]) else np.nan
        parts = ([f"lr {lr_label(lr)}"] if np.isfinite(lr) else []) + [describe_settings(configs.iloc[p], differ)]
        if len(members) == 1:
            best_epoch = float(members["best_epoch"].iloc[0]) if "best_epoch" in members else np.nan
        else:
            best_epoch = float(np.nanargmax(curves["val_acc"]) + 1) if curves["val_acc"].notna().any() else np.nan
        pruned_at = width if width and (members["status"] == Status.PRUNED.value).all() else None
        panels.append(CurvePanel(", ".join(q for q in parts if q), lr, members, curves, best_epoch, pruned_at))
    return sorted(panels, key=lambda panel: (np.nan_to_num(panel.lr, nan=np.inf), panel.label))


def _curve_axes(n: int, shared_y: bool = False):
    """A grid of ``n`` panels with fixed margins (in inches): constrained layout measured every
    label of every panel, half the drawing time of a live report's update."""
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    width, height = 3.6 * cols, 2.8 * rows + 0.5
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height), squeeze=False, sharex=True, sharey=shared_y, layout="none"
    )
    fig.subplots_adjust(
        left=0.75 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.85 / height, wspace=0.32, hspace=0.42
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


# Long on purpose: one panel drawn top to bottom; its artists and axes would otherwise pass between helpers.
def draw_learning_curve(
    ax,
    rows: pd.DataFrame,
    title: str,
    kind: str,
    upto_epoch: int | None = None,
    best_epoch: float | None = None,
    max_epoch: int | None = None,
    ylim=None,
    stopped_at: int | None = None,
) -> None:
    """Training and validation ``kind`` per epoch from ``rows`` (an epochs.csv run, or a
    ``CurvePanel``'s mean curves, whose ``_low``/``_high`` columns are drawn as bands); a marker
    (gid "pruned stop") where a pruner stopped the run, at ``stopped_at``. Epoch ticks are whole."""
    if upto_epoch is not None:
        rows = rows[rows["epoch"] <= upto_epoch]
    scale = 100.0 if kind == "acc" else 1.0
    for split, colour, label in (("train", TRAIN, "training"), ("val", VAL, "validation")):
        column = f"{split}_{kind}"
        dots = {"marker": "o", "markersize": 3} if len(rows) < 3 else {}  # one epoch is a point, not a line
        ax.plot(rows["epoch"], rows[column] * scale, label=label, color=colour, **dots)
        if f"{column}_low" in rows and rows[f"{column}_low"].notna().any():
            ax.fill_between(
                rows["epoch"],
                rows[f"{column}_low"] * scale,
                rows[f"{column}_high"] * scale,
                color=colour,
                alpha=0.2,
                linewidth=0,
                gid=f"{split} band",
            )
    if best_epoch is not None and np.isfinite(best_epoch) and (upto_epoch is None or best_epoch <= upto_epoch):
        ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
        ax.text(best_epoch, 0.02, " best val", transform=ax.get_xaxis_transform(), fontsize=8, color="grey")
    if stopped_at is not None and (upto_epoch is None or stopped_at <= upto_epoch):
        at = rows[rows["epoch"] == stopped_at]
        if len(at):
            ax.plot(
                [stopped_at],
                at[f"val_{kind}"] * scale,
                marker="X",
                markersize=9,
                color="black",
                linestyle="none",
                gid="pruned stop",
            )
    if max_epoch:
        ax.set_xlim(0.5, max_epoch + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ylim is not None:
        ax.set_ylim(*ylim)
    elif kind == "acc" and len(rows):
        # At least 5 points of span: autoscaling a flat line (a dead network stuck at 10%)
        # into 9.97..10.00 would make noise look like learning.
        lo = float(np.nanmin(rows[["train_acc", "val_acc"]].to_numpy()) * 100)
        hi = float(np.nanmax(rows[["train_acc", "val_acc"]].to_numpy()) * 100)
        if np.isfinite(lo) and hi - lo < 5:
            mid = (hi + lo) / 2
            ax.set_ylim(max(0.0, mid - 2.5) if mid + 2.5 <= 100 else 95.0, min(100.0, max(mid + 2.5, 5.0)))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)" if kind == "acc" else "cost")
    ax.grid(True, alpha=0.3)


def shared_limits(panels: list[CurvePanel], kind: str) -> tuple[float, float] | None:
    """One y range for every panel: the lowest to the highest value any curve or band reaches."""
    columns = [f"{s}_{kind}{b}" for s in ("train", "val") for b in ("", "_low", "_high")]
    values = np.concatenate([p.curves[columns].to_numpy(dtype=float).ravel() for p in panels]) if panels else []
    values = values[np.isfinite(values)] * (100.0 if kind == "acc" else 1.0)
    if not values.size:
        return None
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * 0.04, 0.5 if kind == "acc" else 1e-3)
    return (max(lo - pad, 0.0), min(hi + pad, 100.5)) if kind == "acc" else (lo - pad, hi + pad)


def panel_title(panel: CurvePanel) -> str:
    """The configuration, then how its runs ended if not all "ok", or where the pruner stopped them."""
    statuses = panel.runs["status"].astype(str)
    parts = [panel.label]
    if panel.pruned_at is not None:
        parts.append(f"pruned at epoch {panel.pruned_at}")
    elif never_learned(panel.runs).all():
        parts.append("never learned")
    elif (statuses != "ok").any():
        counts = statuses.value_counts()
        parts += [s if n == len(statuses) else f"{n} of {len(statuses)} {s}" for s, n in counts.items() if s != "ok"]
    return ", ".join(parts)


def render_learning_curves(
    runs: pd.DataFrame,
    epochs: pd.DataFrame,
    kind: str,
    path: Path,
    max_runs: int = 16,
    shared_y: bool = False,
    configs: pd.DataFrame | None = None,
) -> Path:
    """Training and validation ``kind`` ("acc" or "loss") per epoch, one panel per configuration
    (its ``max_runs`` best by mean, in learning-rate order), mean over seeds with 95% bands, the
    best-validation epoch (where early stopping would stop) dashed. ``shared_y``: one y scale
    for all panels, to compare their levels rather than each one's shape."""
    panels = curve_panels(runs, epochs, configs, max_runs)
    fig, axes = _curve_axes(len(panels), shared_y)
    limits = shared_limits(panels, kind) if shared_y else None
    for k, (ax, panel) in enumerate(zip(axes, panels)):
        draw_learning_curve(
            ax,
            panel.curves,
            panel_title(panel),
            kind,
            best_epoch=panel.best_epoch,
            ylim=limits,
            stopped_at=panel.pruned_at,
        )
        if shared_y and k % 4:
            ax.set_ylabel("")  # one scale: its label on the first panel of each row
    axes[0].legend(loc="best")
    what = "Accuracy" if kind == "acc" else "Cost"
    seeds = max((len(p.runs) for p in panels), default=1)
    repeats = f"; mean of {seeds} seeds, shaded: 95% interval" if seeds > 1 else ""
    pruned = "; X: where the pruner stopped" if any(p.pruned_at is not None for p in panels) else ""
    shared = describe_group(runs)
    # Wrapped to the figure's width (one narrow panel cannot hold the shared settings on one line),
    # with the top margin grown to fit the lines: the margins are fixed (``_curve_axes``).
    width = max(30, int(fig.get_figwidth() * 12))  # characters of an 11-point line
    head = textwrap.wrap(f"{what} per epoch: training vs validation{', ' + shared if shared else ''}", width)
    lines = [*head, *textwrap.wrap(f"(dashed: best validation epoch{repeats}{pruned})", width)]
    fig.suptitle("\n".join(lines), fontsize=11)
    fig.subplots_adjust(top=1 - (0.45 + 0.19 * len(lines)) / fig.get_figheight())
    return save(fig, path)
