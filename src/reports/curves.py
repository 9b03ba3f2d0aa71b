"""Accuracy against learning rate, and each run's learning curves (Nielsen's overfitting plots)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports.style import lr_label, plt, save
from reports.tables import LrEpochGrid


def render_accuracy_vs_lr(grid: LrEpochGrid, path: Path) -> Path:
    """Validation accuracy at each run's best epoch and at its last epoch, against lr (log)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    best = np.nanmax(np.where(np.isfinite(grid.values), grid.values, -np.inf), axis=1)
    best[~np.isfinite(best)] = np.nan
    last = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan for row in grid.values])
    ax.plot(grid.lrs, best * 100, "o-", label="at the best epoch")
    ax.plot(grid.lrs, last * 100, "s--", label="at the last epoch", alpha=0.8)
    for lr, status in zip(grid.lrs, grid.status):
        if status in ("diverged", "failed"):
            ax.axvline(lr, color="#b00020", linestyle=":", linewidth=1)
            ax.annotate(status, (lr, ax.get_ylim()[0]), rotation=90, va="bottom", ha="right", fontsize=8, color="#b00020")
    if np.isfinite(best).any():
        k = int(np.nanargmax(best))
        ax.plot(grid.lrs[k], best[k] * 100, marker="*", markersize=16, color="red", linestyle="none",
                label=f"best: lr {lr_label(grid.lrs[k])}, {best[k] * 100:.1f}%")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"Influence of the learning rate\n{grid.group}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best")
    return save(fig, path)


def _curve_axes(n: int):
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False, sharex=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def draw_learning_curve(ax, rows: pd.DataFrame, title: str, kind: str, upto_epoch: int | None = None,
                        best_epoch: float | None = None, max_epoch: int | None = None, ylim=None) -> None:
    if upto_epoch is not None:
        rows = rows[rows["epoch"] <= upto_epoch]
    scale = 100.0 if kind == "acc" else 1.0
    ax.plot(rows["epoch"], rows[f"train_{kind}"] * scale, label="training", color="#1f77b4")
    ax.plot(rows["epoch"], rows[f"val_{kind}"] * scale, label="validation", color="#ff7f0e")
    if best_epoch is not None and np.isfinite(best_epoch) and (upto_epoch is None or best_epoch <= upto_epoch):
        ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
        ax.text(best_epoch, 0.02, " best val", transform=ax.get_xaxis_transform(), fontsize=8, color="grey")
    if max_epoch:
        ax.set_xlim(0.5, max_epoch + 0.5)
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


def render_learning_curves(runs: pd.DataFrame, epochs: pd.DataFrame, kind: str, path: Path, max_runs: int = 16) -> Path:
    """Training and validation ``kind`` ("acc" or "loss") per epoch, one panel per run (best runs
    first), with the best-validation epoch (where early stopping would stop) dashed."""
    shown = runs.head(max_runs)
    fig, axes = _curve_axes(len(shown))
    for ax, (_, run) in zip(axes, shown.iterrows()):
        rows = epochs[epochs["run"] == run["run"]].sort_values("epoch")
        draw_learning_curve(ax, rows, run_title(run), kind, best_epoch=run.get("best_epoch"))
    axes[0].legend(loc="best")
    what = "Accuracy" if kind == "acc" else "Cost"
    fig.suptitle(f"{what} per epoch: training vs validation (dashed: best validation epoch)")
    return save(fig, path)


def run_title(run: pd.Series) -> str:
    parts = [f"lr {lr_label(run['lr'])}"] if pd.notna(run.get("lr")) else []
    for col in ("net_name", "optimizer_name"):
        if col in run and pd.notna(run[col]):
            parts.append(str(run[col]))
    status = run.get("status")
    if status and status != "ok":
        parts.append(str(status))
    return ", ".join(parts)
