"""Reading a sweep's tables: a damaged epochs.csv is one line, never a huge allocation; repeats of
a configuration averaged, with their intervals checked against hand computations."""

import numpy as np
import pandas as pd
import pytest

from nnsweep.reports.grid import is_log_spaced, lr_epoch_grid
from nnsweep.reports.tables import ReportError, best_group, grid_runs, load_tables, never_learned, table_configs
from nnsweep.sweeps.comparison import mean_interval
from tests.reports.synthetic import write_repeated_sweep, write_sweep


def test_an_absurd_epoch_number_is_refused_in_one_line(tmp_path):
    write_sweep(tmp_path, model=False)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    epochs.loc[2, "epoch"] = 99_999_999  # one corrupt number: a grid that wide would take 2.4 GB a metric
    epochs.to_csv(tmp_path / "epochs.csv", index=False)
    with pytest.raises(ReportError) as err:
        load_tables(tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "epochs.csv") in message and "99999999" in message
    assert "nnsweep collect" in message


@pytest.mark.parametrize("value", ["three", "", "2.5", "-1"])
def test_an_epoch_that_is_not_a_count_is_refused(tmp_path, value):
    write_sweep(tmp_path, model=False)
    lines = (tmp_path / "epochs.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("epoch")] = value
    lines[3] = ",".join(row)
    (tmp_path / "epochs.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportError, match="epochs.csv is damaged"):
        load_tables(tmp_path)


def test_the_grid_is_as_wide_as_the_recorded_epochs_whatever_the_budget(tmp_path):
    write_sweep(tmp_path, model=False, epochs=4)
    runs = pd.read_csv(tmp_path / "runs.csv")
    runs["epochs"] = 10_000_000  # "train until early stopping"; a grid this wide would take 240 MB
    runs.to_csv(tmp_path / "runs.csv", index=False)
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert grid.values.shape[0] == 3 and 4 <= grid.values.shape[1] <= 10_000


def _damage_runs_csv(path, how):
    if how == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "no-best_val_acc":
        pd.read_csv(path).drop(columns=["best_val_acc"]).to_csv(path, index=False)
    elif how == "text-number":
        runs = pd.read_csv(path)
        runs["best_val_acc"] = runs["best_val_acc"].astype(object)
        runs.loc[0, "best_val_acc"] = "high"
        runs.to_csv(path, index=False)


@pytest.mark.parametrize(
    "how, fragment",
    [
        ("binary", "is unreadable"),
        ("directory", "is unreadable"),
        ("no-best_val_acc", "no best_val_acc column"),
        ("text-number", "best_val_acc holds 'high'"),
    ],
)
def test_a_damaged_runs_table_is_one_line(tmp_path, how, fragment):
    write_sweep(tmp_path, model=False)
    _damage_runs_csv(tmp_path / "runs.csv", how)
    with pytest.raises(ReportError, match=fragment) as err:
        load_tables(tmp_path)
    assert "\n" not in str(err.value) and "nnsweep collect" in str(err.value)


def test_text_in_a_number_column_of_epochs_csv_is_one_line(tmp_path):
    write_sweep(tmp_path, model=False)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    epochs["val_acc"] = epochs["val_acc"].astype(object)
    epochs.loc[1, "val_acc"] = "good"
    epochs.to_csv(tmp_path / "epochs.csv", index=False)
    with pytest.raises(ReportError, match="val_acc holds 'good'"):
        load_tables(tmp_path)


# --- repeats: configurations, their means and intervals ------------------------------------------

# Validation accuracy per epoch of seeds 0, 1, 2 at two rates. lr 1.0 has the single best run
# (0.99, seed 0), lr 0.1 the best mean (0.93 against 0.8667).
HAND = {0.1: [[0.50, 0.90], [0.52, 0.92], [0.54, 0.97]], 1.0: [[0.60, 0.99], [0.60, 0.80], [0.60, 0.81]]}
T_2 = 4.303  # Student's t, 97.5% quantile, 2 degrees of freedom (a table's value)
T_1 = 12.706  # the same, 1 degree of freedom


def hand_specs(curves=HAND, **settings):
    return [{"lr": lr, "seed": s, "val": v, **settings} for lr, seeds in curves.items() for s, v in enumerate(seeds)]


def test_mean_interval_by_hand():
    mean, low, high, n = mean_interval(np.array([[0.90, 1.0], [0.92, np.nan], [0.97, np.nan]]))
    half = T_2 * np.sqrt(0.0026 / 2) / np.sqrt(3)  # squares about 0.93: 0.0009 + 0.0001 + 0.0016
    assert mean == pytest.approx([0.93, 1.0]) and list(n) == [3, 1]
    assert (low[0], high[0]) == pytest.approx((0.93 - half, 0.93 + half), rel=2e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])  # one value: no interval


def test_the_grid_is_the_mean_over_seeds_with_its_interval(tmp_path):
    write_repeated_sweep(tmp_path, hand_specs())
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert list(grid.lrs) == [0.1, 1.0] and grid.repeats == 3 and (grid.n == 3).all()
    assert grid.values == pytest.approx(np.array([[0.52, 0.93], [0.60, 2.6 / 3]]))
    sd = np.array([[0.02, np.sqrt(0.0026 / 2)], [0.0, np.sqrt(0.2058 / 18)]])  # 0.2058 = .37² + .2² + .17²
    # the upper ends of lr 0.1 (0.93 + 0.09) and lr 1 (0.87 + 0.27) are cut at 100%
    assert grid.high == pytest.approx(np.minimum(grid.values + T_2 * sd / np.sqrt(3), 1.0), rel=2e-4, abs=1e-12)
    assert grid.high[:, 1].tolist() == [1.0, 1.0]
    assert grid.values - grid.low == pytest.approx(T_2 * sd / np.sqrt(3), rel=2e-4, abs=1e-12)
    assert grid.best_cell() == (0, 1)  # the best mean cell, not the cell of the best single run
    assert "mean of 3 seeds" in grid.group and grid.axis_label == "learning rate"
    assert grid.rows["best_mean"].tolist() == pytest.approx([0.93, 2.6 / 3])


def test_a_seed_that_diverged_leaves_fewer_values_in_its_cells(tmp_path):
    specs = hand_specs({0.1: HAND[0.1], 3.0: [[0.3], [0.3, 0.4], [0.5, 0.6]]})
    specs[3]["status"] = "diverged"
    write_repeated_sweep(tmp_path, specs)
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert grid.n[1].tolist() == [3, 2] and grid.values[1, 1] == pytest.approx(0.5)
    assert T_1 * np.sqrt(0.02) / np.sqrt(2) == pytest.approx(1.2706, rel=2e-4)  # 0.5 +- 1.27: cut to 0 .. 1
    assert (grid.low[1, 1], grid.high[1, 1]) == (0.0, 1.0)
    assert grid.rows["note"].tolist() == ["", "1 of 3 diverged"] and grid.rows["dead"].tolist() == ["", ""]


def test_the_best_configuration_is_chosen_by_its_mean(tmp_path):
    """hidden [16] holds the single best run (0.99), hidden [32] the best mean: the best slice is
    hidden [32]'s; the grid holds both groups of the grid over hidden x lr, and its best cell is
    hidden [32], lr 0.1's last epoch."""
    low = [[0.5, 0.6], [0.5, 0.62], [0.5, 0.64]]
    specs = hand_specs({0.1: HAND[1.0], 1.0: low}, **{"net.hidden": "[16]"}) + hand_specs(
        {0.1: HAND[0.1], 1.0: low}, **{"net.hidden": "[32]"}
    )
    runs = write_repeated_sweep(tmp_path, specs)
    tables = load_tables(tmp_path)
    assert runs.iloc[0]["net.hidden"] == "[16]" and runs.iloc[0]["best_val_acc"] == 0.99
    group = best_group(tables)
    assert sorted(group["net.hidden"]) == ["[32]"] * 6 and len(grid_runs(tables)) == 12
    grid = lr_epoch_grid(tables, "val_acc")
    assert grid.groups == ["hidden [16]", "hidden [32]"] and "mean of 3 seeds" in grid.group
    assert grid.labels == ["hidden [16], lr 0.1", "hidden [16], lr 1", "hidden [32], lr 0.1", "hidden [32], lr 1"]
    assert grid.best_cell() == (2, 1) and grid.values[2, 1] == pytest.approx(0.93)


def test_a_grid_larger_than_the_heatmap_keeps_whole_groups(tmp_path, monkeypatch):
    """Beyond MAX_GROUPED_ROWS configurations the grid keeps the best groups, each whole."""
    import nnsweep.reports.tables
    from tests.reports.synthetic import write_grid_sweep

    monkeypatch.setattr(nnsweep.reports.tables, "MAX_GROUPED_ROWS", 7)  # two groups of three rates
    write_grid_sweep(tmp_path)
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert grid.groups == ["optimizer adam", "optimizer sgd"] and len(grid.labels) == 6  # both lenet5
    assert grid.group.startswith("lenet5") and "the best 6 of 12 configurations" in grid.group


def test_a_search_shows_every_configuration_by_rate(tmp_path):
    """A random search over lr, hidden and l2: no slice holds two rates, so each configuration
    is a row, named by its settings, in order of rate."""
    specs = [
        {"lr": lr, "seed": 0, "val": [0.3, v], "net.hidden": h, "optimizer.l2": l2}
        for lr, h, l2, v in [
            (0.391, "[300]", 0.0, 0.9),
            (0.01, "[300]", 0.0, 0.5),
            (0.794, "[100]", 0.001, 0.8),
            (0.319, "[100]", 0.0, 0.85),
        ]
    ]
    write_repeated_sweep(tmp_path, specs)
    grid = lr_epoch_grid(load_tables(tmp_path), "val_acc")
    assert grid.labels == [
        "lr 0.01, hidden [300], l2 0",
        "lr 0.319, hidden [100], l2 0",
        "lr 0.391, hidden [300], l2 0",
        "lr 0.794, hidden [100], l2 0.001",
    ]
    assert grid.axis_label == "configuration, by learning rate" and "every configuration" in grid.group
    assert not grid.lr_only and grid.repeats == 1 and "mean" not in grid.group


def test_rates_are_called_log_spaced_only_when_they_are():
    assert is_log_spaced(np.array([0.01, 0.1, 1.0, 10.0])) and is_log_spaced(np.array([0.003, 0.00675, 0.0152]))
    assert not is_log_spaced(np.array([0.01, 0.319, 0.391, 0.794])) and not is_log_spaced(np.array([0.1, 1.0]))


def test_never_learned_is_at_most_two_points_above_chance():
    runs = pd.DataFrame(
        {
            "status": ["ok", "ok", "early_stopped", "diverged", "pruned", "failed", "ok"],
            "best_val_acc": [0.12, 0.1215, 0.09, 0.1, 0.1, None, 0.94],
        }
    )
    assert never_learned(runs).tolist() == [True, False, True, False, False, False, False]
    assert never_learned(runs, classes=5).tolist() == [True, True, True, False, False, False, False]


def test_without_configs_csv_each_run_is_its_own_configuration(tmp_path):
    write_sweep(tmp_path, model=False)
    tables = load_tables(tmp_path)
    assert not (tmp_path / "configs.csv").exists() and len(table_configs(tables)) == 3
    grid = lr_epoch_grid(tables, "val_acc")
    assert grid.repeats == 1 and (grid.n[np.isfinite(grid.values)] == 1).all()
    assert np.all(np.isnan(grid.low)) and grid.axis_label == "learning rate (log-spaced)"


def test_a_configs_csv_that_does_not_match_the_runs_is_one_line(tmp_path):
    write_repeated_sweep(tmp_path, hand_specs())
    configs = pd.read_csv(tmp_path / "configs.csv")
    configs.loc[0, "optimizer.lr"] = 0.2
    configs.to_csv(tmp_path / "configs.csv", index=False)
    with pytest.raises(ReportError, match="configs.csv does not match runs.csv") as err:
        load_tables(tmp_path)
    assert "\n" not in str(err.value) and "nnsweep collect" in str(err.value)


def test_never_learned_is_the_run_records_judgement_where_runs_csv_has_it():
    """One definition of "did not learn": runs.csv's ``at_chance`` (from the run's classes and
    validation size: 16.7% on 500 digits) decides, as on the terminal; rows collected without it
    keep the 2-point margin."""
    runs = pd.DataFrame(
        {
            "status": ["ok", "ok", "ok", "ok"],
            "best_val_acc": [0.16, 0.16, 0.11, 0.9],
            "at_chance": [True, None, None, False],
            "val_size": [500, None, None, 500],
        }
    )
    assert never_learned(runs).tolist() == [True, False, True, False]
