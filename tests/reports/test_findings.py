"""The findings at the top of an lr sweep's report, from a sweep whose numbers are worked out by hand."""

import math

import pandas as pd

from nnsweep.reports.findings import budgets, divergence_boundary, lr_findings
from nnsweep.reports.grid import lr_epoch_grid
from nnsweep.reports.tables import load_tables

NAN = math.nan
VAL = {
    0.01: [0.50, 0.60, 0.70, 0.75, 0.78, 0.80, 0.81, 0.82],
    0.1: [0.80, 0.85, 0.88, 0.90, 0.91, 0.915, 0.92, 0.915],
    1.0: [0.85, 0.89, 0.905, 0.91, 0.912, 0.914, 0.915, 0.911],
    3.0: [0.30, NAN],
    10.0: [NAN],
}
GAP_OF_0_1 = [0.01, 0.0, 0.0, 0.005, 0.02, 0.04, 0.06, 0.085]  # 6 points where validation peaks (epoch 7), 8.5 at 8


def write(sweep_dir):
    sweep_dir.mkdir()
    runs, rows = [], []
    for lr, val in VAL.items():
        run = f"optimizer.lr={lr}"
        diverged = len(val) < 8
        gap = GAP_OF_0_1 if lr == 0.1 else [0.01] * len(val)
        for e, v in enumerate(val):
            rows.append(
                {
                    "run": run,
                    "optimizer.lr": lr,
                    "lr": lr,
                    "epoch": e + 1,
                    "val_acc": v,
                    "train_acc": v + gap[e] if v == v else NAN,
                    "val_loss": 1.0,
                    "train_loss": 1.0,
                }
            )
        runs.append(
            {
                "run": run,
                "optimizer.lr": lr,
                "lr": lr,
                "seed": 0,
                "epochs": 8,
                "val_size": 500,
                "status": "diverged" if diverged else "ok",
                "best_val_acc": max((v for v in val if v == v), default=NAN),
                "epochs_completed": len(val),
            }
        )
    pd.DataFrame(runs).to_csv(sweep_dir / "runs.csv", index=False)
    pd.DataFrame(rows).to_csv(sweep_dir / "epochs.csv", index=False)
    return load_tables(sweep_dir)


def test_the_findings_worked_out_by_hand(tmp_path):
    """Budgets 1, 2, 4, 8 epochs. Best so far at each, of the rates that learned (0.01, 0.1, 1):
    1 epoch 50/80/85 -> only 1 within a point of 85; 2 epochs 60/85/89 -> only 1; 4 epochs
    75/90/91 -> 0.1 and 1; 8 epochs 82/92/91.5 -> 0.1 and 1, the best now 0.1. Rates 3 and 10
    diverged. The best cell is 0.1 at epoch 7 (92.0%, 91.5% at 8), where its gap is 6 points; 8.5 at
    epoch 8: grown by 2.5 > 1 point. (The gap is smallest at epoch 2, which says nothing: training
    accuracy is measured during the epoch.)"""
    tables = write(tmp_path / "s")
    grids = {m: lr_epoch_grid(tables, m) for m in ("val_acc", "gap")}
    window, boundary, overfitting = lr_findings(grids, tables.runs)
    assert budgets(8) == [1, 2, 4, 8]
    assert window == (
        "Usable learning rates (validation accuracy within 1 point of the best, by epoch budget; one seed per "
        "rate): 1 epoch: 1 (1 of 5 rates; best 85.0% at 1); 2 epochs: 1 (1 of 5 rates; best 89.0% at 1); "
        "4 epochs: 0.1 to 1 (2 of 5 rates; best 91.0% at 1); 8 epochs: 0.1 to 1 (2 of 5 rates; best 92.0% at 0.1)."
    )
    assert boundary == (
        "Divergence boundary: from lr 3 up, most runs diverged or never learned (3: 1 of 1 (diverged); "
        "10: 1 of 1 (diverged)); at 1 most learned."
    )
    assert overfitting == (
        "Overfitting starts after epoch 7 at the best rate, 0.1: its validation accuracy peaks there (92.0%; 91.5% "
        "at epoch 8) while its train-validation gap grows from +6.0 points to +8.5 (one seed per rate)."
    )


def test_no_overfitting_while_validation_still_improves(tmp_path):
    tables = write(tmp_path / "s")
    tables.epochs.loc[(tables.epochs["lr"] == 0.1) & (tables.epochs["epoch"] == 8), "val_acc"] = 0.93
    grids = {m: lr_epoch_grid(tables, m) for m in ("val_acc", "gap")}
    assert lr_findings(grids, tables.runs)[2] == (
        "No overfitting within 8 epochs at the best rate, 0.1: its validation accuracy is still at its best at "
        "the last epoch (93.0%; one seed per rate)."
    )


def test_a_rate_that_never_learned_is_not_called_diverged():
    runs = pd.DataFrame(
        {"lr": [0.1, 1.0, 10.0], "status": ["ok", "ok", "ok"], "best_val_acc": [0.9, 0.9, 0.1], "val_size": 500}
    )
    assert divergence_boundary(runs) == (
        "Divergence boundary: from lr 10 up, most runs diverged or never learned (10: 1 of 1 (never learned)); "
        "at 1 most learned."
    )


def test_no_boundary_when_the_largest_rate_learned():
    runs = pd.DataFrame(
        {"lr": [0.1, 1.0, 3.0], "status": ["ok", "diverged", "ok"], "best_val_acc": [0.9, 0.1, 0.8], "val_size": 500}
    )
    assert divergence_boundary(runs) == "No divergence boundary: at the largest rate, 3, most runs learned."


def test_half_of_the_seeds_diverging_is_not_most():
    """2 of 4 runs at the largest rate diverged: not most, so no boundary is claimed there."""
    runs = pd.DataFrame(
        {
            "lr": [0.1, 0.1, 1.0, 1.0, 1.0, 1.0, 0.5],
            "status": ["ok", "ok", "diverged", "diverged", "ok", "ok", "ok"],
            "best_val_acc": [0.9, 0.9, 0.1, 0.1, 0.8, 0.8, 0.85],
            "val_size": 500,
        }
    )
    assert divergence_boundary(runs).startswith("No divergence boundary")
