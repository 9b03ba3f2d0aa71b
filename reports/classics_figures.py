"""The classics page's own figures: ours beside the published numbers, which no sweep report has.

- Rashid's learning-rate sweep (test accuracy after one epoch against the rate, ours and his);
- Rashid's epochs experiment (test accuracy after each epoch at lr 0.1, and his 5-epoch value);
- the NumPy MLP's misclassified test images (the 784-128-128-10 network's 25 most confident);
- Olin's CNN on 2 and 5 images: where, over learning rate x initial weight scale, training diverges.

Each reads run directories only (``nnsweep.runrecord``) and returns None when its runs are not
there yet, so a partial page still builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nnsweep.reports.digits import render_misclassified
from nnsweep.reports.style import log_axis, plt, save
from nnsweep.runrecord import RunDir
from nnsweep.runrecord.names import RunRecordError

OURS, THEIRS = "#1f77b4", "#d62728"


def epochs_of(run: RunDir) -> list:
    """A run's epoch records; none where ``metrics.csv`` is missing or damaged (the page goes on)."""
    try:
        return run.read_metrics()
    except RunRecordError:
        return []


def test_curve(run: RunDir) -> list[float]:
    """A run's test accuracy after each epoch (a run scored on the test set: data.val_size=0)."""
    return [record.val_acc for record in epochs_of(run)]


def render_rashid_lr(
    runs: dict[float, RunDir], gradient_runs: dict[float, RunDir], published: dict[float, float], path: Path
) -> Path | None:
    """Test accuracy after one epoch against the learning rate: ours trained as his code trains
    (one run per rate), ours with the true gradient, and his."""
    ours = {lr: curve[0] for lr, run in runs.items() if (curve := test_curve(run))}
    if not ours:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rates = sorted(ours)
    ax.plot(rates, [100 * ours[lr] for lr in rates], "o-", color=OURS, label="nnsweep, his code's training")
    gradient = {lr: curve[0] for lr, run in gradient_runs.items() if (curve := test_curve(run))}
    if gradient:
        ax.plot(
            sorted(gradient),
            [100 * gradient[lr] for lr in sorted(gradient)],
            "^--",
            color="#7f7f7f",
            label="nnsweep, the true gradient",
        )
    ax.plot(
        sorted(published), [100 * published[lr] for lr in sorted(published)], "s", color=THEIRS, label="Rashid's book"
    )
    log_axis(ax)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Rashid's learning-rate experiment: 784-100-10, one epoch")
    ax.legend(loc="lower center")
    return save(fig, path)


def render_rashid_epochs(run: RunDir, published: tuple[int, float], path: Path) -> Path | None:
    """Test accuracy after each epoch at lr 0.1, and his value at 5 epochs."""
    curve = test_curve(run)
    if not curve:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    epochs = np.arange(1, len(curve) + 1)
    ax.plot(epochs, 100 * np.array(curve), "o-", color=OURS, label="nnsweep: after each epoch of one run")
    ax.plot([published[0]], [100 * published[1]], "s", color=THEIRS, label=f"Rashid's notebook, {published[0]} epochs")
    ax.set_xticks(epochs)
    ax.set_xlabel("epochs")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Rashid's epochs experiment: 784-100-10, lr 0.1")
    ax.legend(loc="lower right")
    return save(fig, path)


def render_mlp_mistakes(run: RunDir, path: Path) -> Path | None:
    """The 784-128-128-10 network's most confident mistakes on the test set (25: what the NumPy
    MLP project shows)."""
    try:
        errors = run.read_test_errors()
        evaluation = run.read_evaluation() or {}
    except RunRecordError:
        return None
    if errors is None or not len(errors.labels):
        return None
    mistakes = len(evaluation.get("misclassified", [])) or None
    return render_misclassified(errors, path, mistakes=mistakes, n_test=evaluation.get("n_test"))


def final_training_loss(run: RunDir) -> float:
    """The last epoch's training loss; inf where the run diverged, NaN where there is none yet."""
    summary = run.summary_if_readable()
    if summary is not None and summary.diverged_epoch is not None:
        return float("inf")
    records = epochs_of(run)
    return float(records[-1].train_loss) if records else float("nan")


def render_olin_divergence(
    grid: dict[tuple[int, float, float], RunDir],
    images: Sequence[int],
    rates: Sequence[float],
    gains: Sequence[float],
    original: tuple[float, float],
    path: Path,
) -> Path | None:
    """One panel per training-set size: the final training loss over learning rate (columns) x
    initial weight scale (rows), a cross where training diverged, a box around the original's
    setting."""
    losses = {n: np.array([[final_training_loss(grid[(n, lr, g)]) for lr in rates] for g in gains]) for n in images}
    if all(np.isnan(values).all() for values in losses.values()):
        return None
    fig, axes = plt.subplots(1, len(images), figsize=(4.6 * len(images), 3.8), squeeze=False)
    for ax, n in zip(axes[0], images):
        values = losses[n]
        shown = np.log10(np.where(np.isfinite(values), np.maximum(values, 1e-6), np.nan))
        image = ax.imshow(shown, cmap="viridis_r", vmin=-6, vmax=1, aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            if np.isinf(value):
                ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, color="#a0a0a0"))
            text = "diverged" if np.isinf(value) else ("-" if np.isnan(value) else f"{value:.2g}")
            ax.text(col, row, text, ha="center", va="center", fontsize=8)
        if original[0] in rates and original[1] in gains:
            col, row = list(rates).index(original[0]), list(gains).index(original[1])
            ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=THEIRS, linewidth=2.5))
        ax.set_xticks(range(len(rates)), [f"{lr:g}" for lr in rates])
        ax.set_yticks(range(len(gains)), [f"{g:g}x" for g in gains])
        ax.set_xlabel("learning rate")
        ax.set_ylabel("initial weight scale")
        ax.set_title(f"{n} training images: final training loss")
    fig.colorbar(image, ax=axes[0].tolist(), label="log10 training loss")
    fig.suptitle("Olin's CNN: where training diverges (red box: the original's setting)")
    return save(fig, path)
