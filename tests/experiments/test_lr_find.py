"""``nnsweep lr-find``: the range test of a training config as a command, its record and figure,
and bad input as one line."""

import json
import os

import pandas as pd
import pytest

from tests.experiments.conftest import run_module


def test_lr_find_writes_its_record_curve_and_figure(tmp_path):
    out = tmp_path / "rashid"
    result = run_module("nnsweep", "lr-find", "net=rashid", "trainer.batch_size=1", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "lr_find.json").read_text())
    curve = pd.read_csv(out / "lr_find.csv")
    # batch 1: enough steps for 3,000 examples; the rates from 1e-5 up, one per step
    assert (record["net"], record["data"], record["batch_size"], record["steps"]) == ("rashid", "mnist5k", 1, 3000)
    assert len(curve) == record["steps_taken"] and curve["lr"].iloc[0] == pytest.approx(1e-5)
    lowest = curve["lr"].iloc[curve["smoothed"].idxmin()]
    assert record["lowest_lr"] == pytest.approx(lowest) and record["suggested_lr"] == pytest.approx(lowest / 10)
    assert (out / "lr_find.png").stat().st_size > 10_000
    assert f"suggested learning rate: {record['suggested_lr']:.3g}" in result.stdout
    again = run_module("nnsweep", "lr-find", "net=rashid", "trainer.batch_size=1", "--out", str(out), cwd=tmp_path)
    assert json.loads((out / "lr_find.json").read_text())["suggested_lr"] == record["suggested_lr"]  # seeded
    assert again.returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["net=nosuchnet"], "nosuchnet"),
        (["--start", "0"], "need 0 < --start < --end"),
        (["--steps", "3"], "--steps must be between 10"),
        (["trainer.batch_size=0"], "batch_size"),
    ],
)
def test_lr_find_bad_input_is_one_line(tmp_path, args, message):
    result = run_module("nnsweep", "lr-find", *args, "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_lr_find_refuses_an_out_that_is_a_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "link")
    result = run_module("nnsweep", "lr-find", "--steps", "20", "--out", str(tmp_path / "link"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
