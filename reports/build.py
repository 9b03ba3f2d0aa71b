"""Build a sweep's report: every figure that applies to it, then ``index.html``.

Reads ``runs.csv`` and ``epochs.csv`` (``sweeps.collect``), the skopt record and plots if the
sweep was a Bayesian one, and the best run's saved model (to query it, never to train it).
A figure that does not apply (one learning rate only, no finished model) is skipped with a note
on the page; a sweep with failed or diverged runs still gets its report.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pandas as pd

from experiments.build import ConfigError
from experiments.evaluate import load_run_model, load_run_test_set
from reports.animations import animate_heatmap, animate_learning_curves
from reports.curves import render_accuracy_vs_lr, render_learning_curves
from reports.digits import render_confusion_matrix, render_digit_portraits, render_first_layer, render_misclassified
from reports.heatmaps import render_lr_epoch_heatmap
from reports.html import Figure, write_index
from reports.search import render_parallel_coordinates
from reports.tables import best_group, load_tables, lr_epoch_grid

log = logging.getLogger("nnsweep.reports")
SKOPT_PLOTS = {"skopt_convergence.png": "Bayesian search: best objective found after each trial (skopt, minimised).",
               "skopt_objective.png": "Bayesian search: partial dependence of the fitted model on each parameter (skopt).",
               "skopt_evaluations.png": "Bayesian search: where the trials were evaluated (skopt)."}


def best_finished_run(runs: pd.DataFrame, sweep_dir: Path) -> Path | None:
    for _, run in runs.dropna(subset=["best_val_acc"]).iterrows():
        run_dir = sweep_dir / run["run"]
        if (run_dir / "model.npz").exists():
            return run_dir
    return None


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
        figures.append(Figure("heatmap_val_acc.png", "Validation accuracy for each learning rate (rows) after each "
                              "epoch (columns); the red box is the best cell."))
        render_lr_epoch_heatmap(lr_epoch_grid(tables, "train_acc", group), "train_acc", out / "heatmap_train_acc.png")
        figures.append(Figure("heatmap_train_acc.png", "Training accuracy for each learning rate and epoch."))
        render_lr_epoch_heatmap(lr_epoch_grid(tables, "gap", group), "gap", out / "heatmap_gap.png")
        figures.append(Figure("heatmap_gap.png", "Training minus validation accuracy: where it turns red, the "
                              "network has started to overfit."))
        render_accuracy_vs_lr(grid, out / "accuracy_vs_lr.png")
        figures.append(Figure("accuracy_vs_lr.png", "Validation accuracy against learning rate, at each run's best "
                              "epoch and at its last epoch; the star marks the best learning rate."))
        animate_heatmap(grid, "val_acc", out / "heatmap_val_acc_anim")
        figures.append(Figure("heatmap_val_acc_anim.gif", "The validation-accuracy heatmap filling in, one frame per "
                              "epoch.", video="heatmap_val_acc_anim.mp4"))
    else:
        notes.append("No learning-rate x epoch heatmap: the runs of this sweep share one learning rate.")

    if not epochs.empty:
        render_learning_curves(runs, epochs, "acc", out / "learning_curves_acc.png")
        figures.append(Figure("learning_curves_acc.png", "Training and validation accuracy per epoch for each run "
                              "(best first); dashed: the epoch early stopping would keep."))
        render_learning_curves(runs, epochs, "loss", out / "learning_curves_loss.png")
        figures.append(Figure("learning_curves_loss.png", "Training and validation cost per epoch for each run."))
        animate_learning_curves(runs, epochs, out / "learning_curves_anim")
        figures.append(Figure("learning_curves_anim.gif", "The best runs' learning curves growing, one frame per epoch.",
                              video="learning_curves_anim.mp4"))

    best = best_finished_run(runs, tables.sweep_dir)
    if best is not None:
        try:
            network = load_run_model(best)
            test, source = load_run_test_set(best)
            render_digit_portraits(network, out / "digit_portraits.png")
            figures.append(Figure("digit_portraits.png", f"What the best model ({best.name}) thinks each digit looks "
                                  "like: Rashid's back query for sigmoid networks, activation maximisation otherwise."))
            render_misclassified(network, test, out / "misclassified.png")
            figures.append(Figure("misclassified.png", f"The best model's most confident mistakes on the {source}."))
            render_confusion_matrix(network, test, out / "confusion_matrix.png")
            figures.append(Figure("confusion_matrix.png", f"Which digits the best model confuses ({source})."))
            render_first_layer(network, out / "first_layer.png")
            figures.append(Figure("first_layer.png", "The best model's first-layer weights (hidden units' 28x28 input "
                                  "weights, or convolution kernels)."))
        except ConfigError as err:
            notes.append(f"No model figures: {err}")
    else:
        notes.append("No model figures: no run finished with a saved model.")

    if render_parallel_coordinates(tables.sweep_dir, out / "trials_parallel.png") is not None:
        figures.append(Figure("trials_parallel.png", "Every trial of the search as a line through its parameter "
                              "values, coloured by its validation objective."))
    for name, caption in SKOPT_PLOTS.items():
        if (tables.sweep_dir / name).exists():
            shutil.copyfile(tables.sweep_dir / name, out / name)
            figures.append(Figure(name, caption))

    counts = runs["status"].value_counts().to_dict()
    ranked = runs.dropna(subset=["best_val_acc"])
    summary = f"{len(runs)} runs (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")."
    if not ranked.empty:
        top = ranked.iloc[0]
        test = "" if pd.isna(top.get("test_acc")) else f", test accuracy {top['test_acc']:.2%}"
        summary += (f" Best: {top['run']} with validation accuracy {top['best_val_acc']:.2%} at epoch "
                    f"{int(top['best_epoch'])}{test}. Runs are chosen on the validation split only.")
    index = write_index(out, f"nnsweep report: {tables.sweep_dir.name}", summary, figures, runs, notes)
    log.info("report with %d figures in %.1f s: %s", len(figures), time.time() - started, index)
    return index
