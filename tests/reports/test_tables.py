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
