"""Records are data, read with limits (``runrecord.bounded``): JSON and YAML bombs are refused
with a reason, a recorded config is never resolved, metrics hold only what training writes."""
from __future__ import annotations

import math
import time

import pytest

from nets.train import EpochRecord
from runrecord import RunDir, RunRecordError
from runrecord.bounded import MAX_DEPTH, RecordFormatError, escape_interpolations, parse_json, parse_yaml
from runrecord.rundir import METRIC_COLUMNS

BILLION_LAUGHS = "a: &a [" + ", ".join(["x"] * 10) + "]\n" + "".join(
    f"{b}: &{b} [" + ", ".join([f"*{a}"] * 10) + "]\n" for a, b in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("text, reason", [
    ("[" * 100_000 + "]" * 100_000, f"deeper than {MAX_DEPTH} levels"),
    ('{"x": ' + "9" * 401 + "}", "integer of 401 digits"),
    ('{"x": -' + "9" * 5000 + "}", "integer of 5000 digits"),
    ('{"x": 1e999}', "beyond what a float holds"),
    ('{"x": NaN}', "NaN"), ('{"x": -Infinity}', "-Infinity"),
    ('{"x": [1, 2', "not valid JSON"),
])
def test_json_bombs_and_numbers_no_float_holds_are_refused(text, reason):
    with pytest.raises(RecordFormatError, match=reason.replace("(", r"\(")):
        parse_json(text)


def test_json_within_the_limits_is_read_as_written():
    text = '{"a": "[[[[ {{ \\" ]]", "b": [1, -2.5e-3, null, true], "c": ' + "9" * 40 + "}"
    assert parse_json(text) == {"a": '[[[[ {{ " ]]', "b": [1, -2.5e-3, None, True], "c": int("9" * 40)}
    assert math.isnan(parse_json('{"x": NaN}', allow_nan=True)["x"])


@pytest.mark.parametrize("text, reason", [
    (BILLION_LAUGHS, "anchor or alias"), ("x: &a 1\ny: *a\n", "anchor or alias"),
    ("[" * 100_000, f"deeper than {MAX_DEPTH} levels"), ("x: " + "9" * 500, "integer of 500 digits"),
    ("x: !!python/object/apply:os.system [ls]", "python/object"),
])
def test_yaml_bombs_and_tags_are_refused_at_once(text, reason):
    started = time.monotonic()
    with pytest.raises(RecordFormatError, match=reason):
        parse_yaml(text)
    assert time.monotonic() - started < 2


def test_a_recorded_config_is_data_its_interpolations_never_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSWEEP_TEST_SECRET", "hunter2")
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "data:\n  noun: ${oc.env:NNSWEEP_TEST_SECRET}\n  name: a\\${b} and ${data.noun}\n  class_names: ['$x^$']\n")
    run = RunDir(tmp_path)
    assert run.config_data()["data"]["noun"] == "${oc.env:NNSWEEP_TEST_SECRET}"
    cfg = run.config()
    assert cfg.data.noun == "${oc.env:NNSWEEP_TEST_SECRET}" and cfg.data.name == "a\\${b} and ${data.noun}"
    assert run.class_labels(1).noun == "${oc.env:NNSWEEP_TEST_SECRET}"
    assert escape_interpolations(["${x}", {"k": 1}]) == ["\\${x}", {"k": 1}]


def metrics_with(tmp_path, **values) -> RunDir:
    row = {"epoch": 1, "lr": 0.1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.7, "seconds": 1.0}
    row.update(values)
    (tmp_path / "metrics.csv").write_text(",".join(METRIC_COLUMNS) + "\n" + ",".join(str(row[c]) for c in METRIC_COLUMNS) + "\n")
    return RunDir(tmp_path)


@pytest.mark.parametrize("values", [{"val_acc": "inf"}, {"train_acc": "nan"}, {"lr": "inf"}, {"seconds": "-inf"},
                                    {"val_acc": 1.5}, {"train_acc": -0.1}, {"train_loss": "-inf"}, {"val_acc": "-inf"}])
def test_metrics_refuse_values_training_never_writes(tmp_path, values):
    with pytest.raises(RunRecordError, match="metrics.csv is damaged"):
        metrics_with(tmp_path, **values).read_metrics()


@pytest.mark.parametrize("values", [{"train_loss": "nan", "val_loss": "nan", "val_acc": "nan"},  # a diverged epoch
                                    {"train_loss": "inf", "val_loss": "nan", "val_acc": "nan"},
                                    {"val_loss": "nan", "val_acc": "nan"}])  # no validation split
def test_metrics_keep_what_a_diverged_epoch_or_one_without_validation_writes(tmp_path, values):
    record = metrics_with(tmp_path, **values).read_metrics()[0]
    assert isinstance(record, EpochRecord) and math.isnan(record.val_acc)
