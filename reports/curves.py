"""Accuracy against learning rate: one line per configuration group, or facets of them (each
configuration's learning curves: ``nnsweep.reports.learning_curves``).

With repeats (several seeds per configuration) a curve is the mean over the seeds and the shaded
band its 95% Student t interval (``tables.mean_interval``); without them each is one run's, as
it was. A run a pruning search stopped has fewer epochs than the others: its panel says where it
stopped, and its last epoch stays off the "at the last epoch" line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnsweep.reports.grid import LrEpochGrid
from nnsweep.reports.lr_find import RangeTestResult
from nnsweep.reports.style import log_axis, plt, save

TRAIN, VAL = "#1f77b4", "#ff7f0e"
DEAD = {"diverged": "#b00020", "failed": "#b00020", "never learned": "#555555"}


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def render_accuracy_vs_lr(grid: LrEpochGrid, path: Path, range_test: RangeTestResult | None = None) -> Path:
    """Validation accuracy at each configuration's best epoch (mean over seeds, with their 95%
    interval shaded and each seed a faint dot) and at its last epoch, against lr (log). Rates a
    pruner stopped are hollow squares off the last-epoch line: their last epoch is an early one.
    The rows of a search (not one configuration's rates) are points, not a line; a grid over the
    rate and other settings is a line per group (``render_groups_vs_lr``). Artists have gids:
    "best", "best band", "seeds", "last", "pruned last", "best star", "range test" (``range_test``:
    the learning-rate range test's suggestion, a vertical line)."""
    if grid.groups:
        return render_groups_vs_lr(grid, path)
    rows = grid.rows
    fig, ax = plt.subplots(figsize=(7, 4.5))
    style = "-" if grid.lr_only else "none"
    lr, best = rows["lr"].to_numpy(dtype=float), rows["best_mean"].to_numpy(dtype=float) * 100
    mean = " (mean of seeds)" if grid.repeats > 1 else ""
    ax.plot(lr, best, marker="o", linestyle=style, color="C0", label=f"at the best epoch{mean}", gid="best")
    if grid.repeats > 1:
        low, high = rows["best_low"].to_numpy(dtype=float) * 100, rows["best_high"].to_numpy(dtype=float) * 100
        ax.fill_between(
            lr,
            low,
            high,
            color="C0",
            alpha=0.2,
            linewidth=0,
            gid="best band",
            label="95% interval of the mean over seeds",
        )
        seeds_x = np.concatenate([np.full(len(b), x) for x, b in zip(lr, rows["best"])])
        seeds_y = np.concatenate(list(rows["best"])) * 100
        ax.plot(seeds_x, seeds_y, ".", color="C0", alpha=0.35, gid="seeds", label="each seed")
    pruned = rows["pruned"].to_numpy(dtype=bool)
    last = rows["last_val_acc"].to_numpy(dtype=float) * 100
    ax.plot(
        lr[~pruned],
        last[~pruned],
        marker="s",
        linestyle="--" if grid.lr_only else "none",
        color="C1",
        alpha=0.8,
        label=f"at the last epoch{mean}",
        gid="last",
    )
    if pruned.any():
        stops = sorted({int(e) for e in rows.loc[pruned, "reached"]})
        ax.plot(
            lr[pruned],
            last[pruned],
            "s",
            markerfacecolor="none",
            color="C1",
            gid="pruned last",
            label=f"pruned: at the epoch it stopped ({' or '.join(map(str, stops))}), not on the line",
        )
    for x, status, dead in zip(lr, rows["status"], rows["dead"]):
        what = dead or (status if status == "failed" else "")
        if what:
            ax.axvline(x, color=DEAD.get(what, "#b00020"), linestyle=":", linewidth=1)
            ax.annotate(
                what,
                (x, 0.02),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="bottom",
                ha="right",
                fontsize=8,
                color=DEAD.get(what, "#b00020"),
            )
    if np.isfinite(best).any():
        k = int(np.nanargmax(best))
        ax.plot(
            lr[k],
            best[k],
            marker="*",
            markersize=16,
            color="red",
            linestyle="none",
            gid="best star",
            label=f"best: {grid.labels[k] if not grid.lr_only else 'lr ' + grid.labels[k]}, {best[k]:.1f}%",
        )
    if range_test is not None:
        ax.axvline(
            range_test.suggested_lr,
            color="#7a3db8",
            linestyle="-.",
            gid="range test",
            label=f"range test's suggestion: {range_test.suggested_lr:.3g}",
        )
    log_axis(ax)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"Influence of the learning rate\n{grid.group}", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save(fig, path)


MAX_LINES = 8  # lines on one panel of accuracy vs lr; more groups are drawn as facets


def group_facets(grid: LrEpochGrid) -> list[tuple[str, list[str]]]:
    """The panels of accuracy vs lr, each (title, its groups): one panel while the groups fit on
    it; else one per value of the first setting (when each then holds at most ``MAX_LINES``
    groups), else the groups in order, at most ``MAX_LINES`` a panel."""
    groups = grid.groups
    if len(groups) <= MAX_LINES:
        return [("", groups)]
    parts = dict(zip(grid.rows["group"], grid.rows["group_parts"]))
    firsts = list(dict.fromkeys(parts[g][0] for g in groups))
    by_first = [(f, [g for g in groups if parts[g][0] == f]) for f in firsts]
    if len(parts[groups[0]]) > 1 and max(len(members) for _, members in by_first) <= MAX_LINES:
        return by_first
    size = -(-len(groups) // -(-len(groups) // MAX_LINES))  # as few panels as hold them, evenly filled
    chunks = [groups[i : i + size] for i in range(0, len(groups), size)]
    return [(f"{chunk[0]} to {chunk[-1]}", chunk) for chunk in chunks]


# Long on purpose: one figure drawn top to bottom; its artists and axes would otherwise pass between helpers.
def render_groups_vs_lr(grid: LrEpochGrid, path: Path) -> Path:
    """Validation accuracy at the best epoch against lr (log), a line per group of the other
    settings (mean over seeds; with repeats its 95% interval a band and each seed a dot), on one
    panel or facets (``group_facets``) sharing their scales. A red cross marks a configuration
    that diverged or never learned; a star the best mean. Artists have gids: "group <group>",
    "group band <group>", "seeds" (a scatter per panel), "dead", "best star"."""
    rows, facets = grid.rows, group_facets(grid)
    cols = min(3, len(facets))
    n_rows = int(np.ceil(len(facets) / cols))
    size = (7.5, 4.8) if len(facets) == 1 else (4.6 * cols, 3.6 * n_rows + 0.8)
    fig, axes = plt.subplots(n_rows, cols, figsize=size, squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[len(facets) :]:
        ax.set_visible(False)
    best = rows["best_mean"].to_numpy(dtype=float) * 100
    best_row = (
        int(np.nanargmax(np.where(rows["dead"] == "", best, np.nan)))
        if np.isfinite(np.where(rows["dead"] == "", best, np.nan)).any()
        else None
    )
    for ax, (title, members) in zip(axes.flat, facets):
        dots_x, dots_y, dots_c = [], [], []
        for k, name in enumerate(members):
            mine = rows[rows["group"] == name]
            lr = mine["lr"].to_numpy(dtype=float)
            colour = f"C{k % 10}"
            parts = mine["group_parts"].iloc[0]
            label = ", ".join(parts[1:]) if title == parts[0] else name  # a facet by the first setting
            ax.plot(
                lr,
                mine["best_mean"].to_numpy(dtype=float) * 100,
                marker="o",
                color=colour,
                label=label,
                gid=f"group {name}",
            )
            if grid.repeats > 1:
                ax.fill_between(
                    lr,
                    mine["best_low"].to_numpy(dtype=float) * 100,
                    mine["best_high"].to_numpy(dtype=float) * 100,
                    color=colour,
                    alpha=0.15,
                    linewidth=0,
                    gid=f"group band {name}",
                )
                for x, seeds in zip(lr, mine["best"]):
                    dots_x += [x] * len(seeds)
                    dots_y += list(np.asarray(seeds, dtype=float) * 100)
                    dots_c += [colour] * len(seeds)
            dead = mine["dead"].to_numpy(dtype=str) != ""
            if dead.any():
                ax.plot(
                    lr[dead],
                    mine["best_mean"].to_numpy(dtype=float)[dead] * 100,
                    "x",
                    color="#b00020",
                    markersize=9,
                    markeredgewidth=2,
                    gid="dead",
                    label="diverged or never learned",
                )
        if dots_x:
            ax.scatter(dots_x, dots_y, c=dots_c, s=10, alpha=0.45, gid="seeds", label="each seed")
        if best_row is not None and rows["group"].iloc[best_row] in members:
            ax.plot(
                rows["lr"].iloc[best_row],
                best[best_row],
                marker="*",
                markersize=16,
                color="red",
                linestyle="none",
                gid="best star",
                label=f"best: {rows['label'].iloc[best_row]}, {best[best_row]:.1f}%",
            )
        log_axis(ax)
        ax.grid(True, which="both", alpha=0.3)
        if title:
            ax.set_title(title, fontsize=10)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # the groups' lines first, then the marks, each once
        order = sorted(unique, key=lambda label: not unique[label].get_gid().startswith("group "))
        ax.legend([unique[label] for label in order], order, loc="best", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("learning rate (log scale)")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation accuracy (%)")
    fig.suptitle(
        f"Validation accuracy at the best epoch against learning rate, a line per group\n{grid.group}", fontsize=11
    )
    return save(fig, path)
