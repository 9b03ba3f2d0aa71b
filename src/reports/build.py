"""Build a sweep's report: every figure that applies to it, then ``index.html``.

Reads ``runs.csv`` and ``epochs.csv`` (``sweeps.collect``); the trial log if the sweep was a
search (``sweeps.trials``: read once, a damaged one is a note), with the rungs of a pruned search;
skopt's plots if it made some; and the best run's record (``runrecord``): its saved model to
query it, never to train it, and the evaluation and mistakes training recorded, so no data set
is loaded. A figure that does not apply (one learning rate only, no finished model, no
evaluation) is skipped with a note on the page; a sweep with failed or diverged runs still gets
its report.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from nets.atomic import atomic_write
from reports.animations import animate_heatmap, animate_learning_curves
from reports.curves import render_accuracy_vs_lr, render_learning_curves
from reports.heatmaps import render_lr_epoch_heatmap
from reports.html import Figure, write_index
from reports.models import best_finished_run, model_figures
from reports.pruning import render_rungs
from reports.search import render_parallel_coordinates
from reports.tables import best_group, load_tables, lr_epoch_grid
from runrecord import Status
from sweeps import trials as trial_log
from sweeps.collect import describe

log = logging.getLogger("nnsweep.reports")
SKOPT_PLOTS = {"skopt_convergence.png": "Bayesian search: best objective found after each trial (skopt; shown as it was optimised, maximised or minimised).",
               "skopt_objective.png": "Bayesian search: partial dependence of the fitted model on each parameter (skopt).",
               "skopt_evaluations.png": "Bayesian search: where the trials were evaluated (skopt)."}


def search_figures(sweep_dir: Path, out: Path, notes: list[str]) -> list[Figure]:
    """The figures of a search's trial log: every trial across the parameters, and the rungs of a
    pruned search. No log: none; a damaged one: a note."""
    try:
        log = trial_log.load(sweep_dir)
    except trial_log.TrialLogError as err:
        notes.append(f"No view of the search's trials: {err}")
        return []
    figures = []
    # A grid's trials are its points: the heatmaps and curves show them, a line per point would not add.
    searched = log is not None and log.settings.get("method") != "grid"
    if searched and render_parallel_coordinates(log, out / "trials_parallel.png") is not None:
        pruned = " Dashed thin lines: trials the pruner stopped, whose objective is at fewer epochs." if any(
            t["status"] == Status.PRUNED.value for t in log.trials) else ""
        figures.append(Figure("trials_parallel.png", "Every trial of the search as a line through its parameter "
                              "values, coloured by its validation objective." + pruned))
    if render_rungs(log, out / "rungs.png") is not None:
        eta = log.settings["pruner"].get("reduction_factor", "eta")
        figures.append(Figure("rungs.png", "Successive halving, rung by rung: each trial's objective (objective=, "
                              "by default the best validation accuracy so far) at each rung it reached (dots: "
                              "continued, crosses: pruned; in colour: the "
                              f"trials trained to the last epoch). The rule: at each rung the top 1/{eta} of the "
                              "trials that have reached it so far (at least one) continue, the others are pruned."))
    return figures


def build_report(sweep_dir: str | Path) -> Path:
    """Write ``<sweep dir>/report/`` and return the path of its ``index.html``."""
    started = time.time()
    tables = load_tables(sweep_dir)
    out = tables.sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    notes: list[str] = []
    runs, epochs = tables.runs, tables.epochs

    group = best_group(tables)
    if group["lr"].nunique() >= 2 and not epochs.empty:
        grid = lr_epoch_grid(tables, "val_acc", group)
        render_lr_epoch_heatmap(grid, "val_acc", out / "heatmap_val_acc.png")
        pruned = (" A black bar ends the row of a run the search pruned after that epoch; it was not trained "
                  "further (hatched cells)." if (group["status"] == Status.PRUNED.value).any() else "")
        figures.append(Figure("heatmap_val_acc.png", "Validation accuracy for each learning rate (rows) after each "
                              "epoch (columns); the red box is the best cell." + pruned))
        render_lr_epoch_heatmap(lr_epoch_grid(tables, "train_acc", group), "train_acc", out / "heatmap_train_acc.png")
        figures.append(Figure("heatmap_train_acc.png", "Training accuracy for each learning rate and epoch."))
        render_lr_epoch_heatmap(lr_epoch_grid(tables, "gap", group), "gap", out / "heatmap_gap.png")
        figures.append(Figure("heatmap_gap.png", "Training minus validation accuracy: where it turns red, the "
                              "network has started to overfit."))
        render_accuracy_vs_lr(grid, out / "accuracy_vs_lr.png")
        figures.append(Figure("accuracy_vs_lr.png", "Validation accuracy against learning rate, at each run's best "
                              "epoch and at its last epoch; the star marks the best learning rate."))
        animate_heatmap(grid, "val_acc", out / "heatmap_val_acc_anim")
        figures.append(Figure("heatmap_val_acc_anim.gif", "The validation-accuracy heatmap filling in, epoch by epoch "
                              "(one frame per epoch, or per few epochs for long runs).",
                              video="heatmap_val_acc_anim.mp4"))
    else:
        notes.append("No learning-rate x epoch heatmap: the runs of this sweep share one learning rate.")

    if not epochs.empty:
        render_learning_curves(runs, epochs, "acc", out / "learning_curves_acc.png")
        figures.append(Figure("learning_curves_acc.png", "Training and validation accuracy per epoch for each run "
                              "(best first); dashed: the epoch early stopping would keep."))
        render_learning_curves(runs, epochs, "loss", out / "learning_curves_loss.png")
        figures.append(Figure("learning_curves_loss.png", "Training and validation cost per epoch for each run."))
        animate_learning_curves(runs, epochs, out / "learning_curves_anim")
        figures.append(Figure("learning_curves_anim.gif", "The best runs' learning curves growing, epoch by epoch.",
                              video="learning_curves_anim.mp4"))

    best = best_finished_run(runs, tables.sweep_dir)
    if best is not None:
        figures += model_figures(best, out, notes)
    else:
        notes.append("No model figures: no run finished with a saved model.")

    figures += search_figures(tables.sweep_dir, out, notes)
    for name, caption in SKOPT_PLOTS.items():
        if (tables.sweep_dir / name).exists():
            with open(tables.sweep_dir / name, "rb") as source:
                atomic_write(out / name, lambda f: shutil.copyfileobj(source, f))
            figures.append(Figure(name, caption))

    summary = " ".join(describe(runs).splitlines()) + " Runs are chosen on the validation split only."
    index = write_index(out, f"nnsweep report: {tables.sweep_dir.name}", summary, figures, runs, notes)
    log.info("report with %d figures in %.1f s: %s", len(figures), time.time() - started, index)
    return index
