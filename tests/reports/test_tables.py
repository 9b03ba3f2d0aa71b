"""Reading a sweep's tables: a damaged epochs.csv is one line, never a huge allocation."""
import pandas as pd
import pytest

from reports.tables import ReportError, load_tables, lr_epoch_grid
from tests.reports.synthetic import write_sweep


def test_an_absurd_epoch_number_is_refused_in_one_line(tmp_path):
    write_sweep(tmp_path, model=False)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    epochs.loc[2, "epoch"] = 99_999_999  # one corrupt number: a grid that wide would take 2.4 GB a metric
    epochs.to_csv(tmp_path / "epochs.csv", index=False)
    with pytest.raises(ReportError) as err:
        load_tables(tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "epochs.csv") in message and "99999999" in message
    assert "python -m sweeps.collect" in message


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


@pytest.mark.parametrize("how, fragment", [("binary", "is unreadable"), ("directory", "is unreadable"),
                                           ("no-best_val_acc", "no best_val_acc column"),
                                           ("text-number", "best_val_acc holds 'high'")])
def test_a_damaged_runs_table_is_one_line(tmp_path, how, fragment):
    write_sweep(tmp_path, model=False)
    _damage_runs_csv(tmp_path / "runs.csv", how)
    with pytest.raises(ReportError, match=fragment) as err:
        load_tables(tmp_path)
    assert "\n" not in str(err.value) and "python -m sweeps.collect" in str(err.value)


def test_text_in_a_number_column_of_epochs_csv_is_one_line(tmp_path):
    write_sweep(tmp_path, model=False)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    epochs["val_acc"] = epochs["val_acc"].astype(object)
    epochs.loc[1, "val_acc"] = "good"
    epochs.to_csv(tmp_path / "epochs.csv", index=False)
    with pytest.raises(ReportError, match="val_acc holds 'good'"):
        load_tables(tmp_path)
