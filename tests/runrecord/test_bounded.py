"""Records are data, read with limits (``nnsweep.runrecord.bounded``): JSON and YAML bombs are refused
with a reason, a recorded config is never resolved, metrics hold only what training writes."""

from __future__ import annotations

import json
import math
import time

import pytest

from nnsweep.nets.train import EpochRecord
from nnsweep.runrecord import RunDir, RunRecordError
from nnsweep.runrecord.bounded import MAX_DEPTH, RecordFormatError, escape_interpolations, parse_json, parse_yaml
from nnsweep.runrecord.names import METRIC_COLUMNS

BILLION_LAUGHS = (
    "a: &a ["
    + ", ".join(["x"] * 10)
    + "]\n"
    + "".join(f"{b}: &{b} [" + ", ".join([f"*{a}"] * 10) + "]\n" for a, b in zip("abcdefgh", "bcdefghi"))
)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[" * 100_000 + "]" * 100_000, f"deeper than {MAX_DEPTH} levels"),
        ('{"x": ' + "9" * 401 + "}", "integer of 401 digits"),
        ('{"x": -' + "9" * 5000 + "}", "integer of 5000 digits"),
        ('{"x": 1e999}', "beyond what a float holds"),
        ('{"x": NaN}', "NaN"),
        ('{"x": -Infinity}', "-Infinity"),
        ('{"x": [1, 2', "not valid JSON"),
    ],
)
def test_json_bombs_and_numbers_no_float_holds_are_refused(text, reason):
    with pytest.raises(RecordFormatError, match=reason.replace("(", r"\(")):
        parse_json(text)


def test_json_within_the_limits_is_read_as_written():
    text = '{"a": "[[[[ {{ \\" ]]", "b": [1, -2.5e-3, null, true], "c": ' + "9" * 40 + "}"
    assert parse_json(text) == {"a": '[[[[ {{ " ]]', "b": [1, -2.5e-3, None, True], "c": int("9" * 40)}
    assert math.isnan(parse_json('{"x": NaN}', allow_nan=True)["x"])


@pytest.mark.parametrize(
    "text, reason",
    [
        (BILLION_LAUGHS, "anchor or alias"),
        ("x: &a 1\ny: *a\n", "anchor or alias"),
        ("[" * 100_000, f"deeper than {MAX_DEPTH} levels"),
        ("x: " + "9" * 500, "integer of 500 digits"),
        ("x: !!python/object/apply:os.system [ls]", "python/object"),
    ],
)
def test_yaml_bombs_and_tags_are_refused_at_once(text, reason):
    started = time.monotonic()
    with pytest.raises(RecordFormatError, match=reason):
        parse_yaml(text)
    assert time.monotonic() - started < 2


def test_a_recorded_config_is_data_its_interpolations_never_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSWEEP_TEST_SECRET", "hunter2")
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "data:\n  noun: ${oc.env:NNSWEEP_TEST_SECRET}\n  name: a\\${b} and ${data.noun}\n  class_names: ['$x^$']\n"
    )
    run = RunDir(tmp_path)
    assert run.config_data()["data"]["noun"] == "${oc.env:NNSWEEP_TEST_SECRET}"
    cfg = run.config()
    assert cfg.data.noun == "${oc.env:NNSWEEP_TEST_SECRET}" and cfg.data.name == "a\\${b} and ${data.noun}"
    assert run.class_labels(1).noun == "${oc.env:NNSWEEP_TEST_SECRET}"
    assert escape_interpolations(["${x}", {"k": 1}]) == ["\\${x}", {"k": 1}]


def metrics_with(tmp_path, **values) -> RunDir:
    row = {"epoch": 1, "lr": 0.1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.7, "seconds": 1.0}
    row.update(values)
    (tmp_path / "metrics.csv").write_text(
        ",".join(METRIC_COLUMNS) + "\n" + ",".join(str(row[c]) for c in METRIC_COLUMNS) + "\n"
    )
    return RunDir(tmp_path)


@pytest.mark.parametrize(
    "values",
    [
        {"val_acc": "inf"},
        {"train_acc": "nan"},
        {"lr": "inf"},
        {"seconds": "-inf"},
        {"val_acc": 1.5},
        {"train_acc": -0.1},
        {"train_loss": "-inf"},
        {"val_acc": "-inf"},
    ],
)
def test_metrics_refuse_values_training_never_writes(tmp_path, values):
    with pytest.raises(RunRecordError, match="metrics.csv is damaged"):
        metrics_with(tmp_path, **values).read_metrics()


@pytest.mark.parametrize(
    "values",
    [
        {"train_loss": "nan", "val_loss": "nan", "val_acc": "nan"},  # a diverged epoch
        {"train_loss": "inf", "val_loss": "nan", "val_acc": "nan"},
        {"val_loss": "nan", "val_acc": "nan"},
    ],
)  # no validation split
def test_metrics_keep_what_a_diverged_epoch_or_one_without_validation_writes(tmp_path, values):
    record = metrics_with(tmp_path, **values).read_metrics()[0]
    assert isinstance(record, EpochRecord) and math.isnan(record.val_acc)


# ----- issue 22, round 2: linear time, JSON-like YAML, summaries and metrics that can be ---------
def test_the_depth_check_is_linear_in_time_on_an_unterminated_string_of_escaped_quotes():
    """The depth check's pattern for a string with its escapes took quadratic time on ``"\\"\\"...``
    unterminated (80 KB: 21 s, holding the interpreter for every thread of the draw server). A
    1 MB one is now refused in well under 2 s."""
    for text in ('"\\' * 500_000, '{"a": "' + '\\"' * 500_000, '"a' * 500_000 + "\\"):
        started = time.perf_counter()
        with pytest.raises(RecordFormatError, match="not valid JSON"):
            parse_json(text)
        assert time.perf_counter() - started < 2.0


def test_escaped_quotes_and_brackets_in_strings_do_not_count_as_nesting():
    assert parse_json('{"a\\"[": [1, {"b": "]]\\\\"}], "c": "\\\\\\"{{"}') == {'a"[': [1, {"b": "]]\\"}], "c": '\\"{{'}
    with pytest.raises(RecordFormatError, match="deeper than"):
        parse_json('{"a": "\\\\"' + ', "b": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("noun: 2001-01-01\n", "YAML timestamp"),
        ("noun: !!set {a, b}\n", "YAML set"),
        ("noun: !!binary aGk=\n", "YAML binary"),
        ("noun: !!omap [{a: 1}]\n", "YAML omap"),
        ("2001-01-01: 1\n", "YAML timestamp"),
        ("~: 1\n", "the key 'None'"),
        ("1: a\n", "the key '1'"),
        ("{[1]: a}\n", "unhashable|the key"),
        ("num: .inf\n", "the number .inf"),
        ("num: -.inf\n", "the number -.inf"),
        ("num: .nan\n", "the number .nan"),
        ("num: 1.0e+400\n", "the number 1.0e\\+400"),
    ],
)
def test_yaml_records_hold_only_json_like_data(text, reason):
    """A date, a set, binary, a key that is no string or a number no float holds came through the
    YAML reader (the JSON reader refuses the last): OmegaConf then refused the date far from the
    file, and job_number's int(inf) raised OverflowError. Each is a damaged record now."""
    with pytest.raises(RecordFormatError, match=reason):
        parse_yaml(text)
    assert parse_yaml("a: {b: [1, 2.5, x, null, true, '2001-01-01']}\n") == {
        "a": {"b": [1, 2.5, "x", None, True, "2001-01-01"]}
    }


def run_with_summary(tmp_path, metrics_rows: int = 1, **values) -> RunDir:
    summary = {
        "status": "ok",
        "epochs": 1,
        "epochs_completed": 1,
        "best_val_acc": 0.8,
        "best_epoch": 1,
        "final_val_acc": 0.8,
        "test_acc": 0.79,
        "wall_time_s": 3.0,
        "val_size": 500,
        **values,
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    row = "{},0.1,0.5,0.8,0.6,0.8,1.0"
    (tmp_path / "metrics.csv").write_text(
        "\n".join([",".join(METRIC_COLUMNS)] + [row.format(i) for i in range(1, metrics_rows + 1)]) + "\n"
    )
    return RunDir(tmp_path)


@pytest.mark.parametrize(
    "values, reason",
    [
        ({"best_val_acc": 1e308}, "best_val_acc is 1e\\+308, not a fraction"),
        ({"test_acc": -0.5}, "test_acc is -0.5"),
        ({"final_val_acc": 2}, "final_val_acc is 2"),
        ({"wall_time_s": -3.0}, "wall_time_s is -3.0"),
        ({"epochs_completed": -1}, "epochs_completed is -1"),
        ({"epochs_completed": 10**39}, "more than the 1 epochs"),
        ({"epochs": 10**39, "epochs_completed": 10**39}, "more than the 1 epochs of metrics.csv"),
        ({"best_epoch": 7}, "best_epoch is 7"),
        ({"val_is_test": "yes"}, "val_is_test is 'yes', expected bool"),
        ({"val_size": True}, "val_size is True, expected int"),
    ],
)
def test_a_summary_no_training_writes_is_a_damaged_record(tmp_path, values, reason):
    """An accuracy of 1e308 was shown as "inf%", epochs_completed 10**39 made every resume refuse
    ("has trained 1000...0 epochs"): numbers no run writes are a damaged summary, which collect
    names and leaves out and a resume rewrites from the checkpoint."""
    with pytest.raises(RunRecordError, match=f"summary.json is unreadable.*{reason}"):
        run_with_summary(tmp_path, **values).read_summary()


def test_a_summary_as_training_writes_it_is_read(tmp_path):
    assert run_with_summary(tmp_path, val_is_test=True).read_summary().val_is_test is True
    assert run_with_summary(tmp_path).read_summary().val_is_test is False  # recorded before it existed
    assert run_with_summary(tmp_path, metrics_rows=2, epochs=2, epochs_completed=2).read_summary().epochs_completed == 2
    assert run_with_summary(tmp_path, metrics_rows=2).read_summary().epochs_completed == 1  # a row before its summary


def test_metrics_with_more_epochs_than_the_summary_are_damaged_and_read_with_a_size_limit(tmp_path):
    """400,000 valid rows beside a summary of one epoch took 767 MB to collect and passed. Now
    the rows are checked against the summary's epochs as they are read, and a file over the
    limit is refused before it is read."""
    from nnsweep.runrecord.names import MAX_METRICS_BYTES

    run = run_with_summary(tmp_path, metrics_rows=400_000)
    started = time.perf_counter()
    with pytest.raises(RunRecordError, match="metrics.csv is damaged.*more epochs than the 1 of summary.json"):
        run.read_metrics()
    assert time.perf_counter() - started < 1.0
    assert [r.epoch for r in run_with_summary(tmp_path, metrics_rows=2, status="running").read_metrics()] == [1, 2]
    (tmp_path / "summary.json").unlink()
    with open(tmp_path / "metrics.csv", "a") as f:
        f.write("x" * MAX_METRICS_BYTES)
    with pytest.raises(RunRecordError, match="metrics.csv is damaged.*over"):
        run.read_metrics()


@pytest.mark.parametrize(
    "num, expected",
    [("3", 3), ("2.5", None), ("-1", None), ("x", None), ("true", None), (".inf", None), ("1.0e+400", None)],
)
def test_a_job_number_that_is_no_whole_number_is_unrecorded(tmp_path, num, expected):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  job:\n    num: {num}\n")
    assert RunDir(tmp_path).job_number() == expected


@pytest.mark.parametrize("names", ["5", "{a: 1}", "[[1, 2]]"])
def test_class_names_that_are_no_list_of_names_are_a_damaged_config(tmp_path, names):
    """``class_names: 5`` was ``TypeError: object of type 'int' has no len()`` in the draw server."""
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(f"data:\n  class_names: {names}\n  noun: digit\n")
    with pytest.raises(RunRecordError, match="config.yaml is damaged \\(data.class_names is"):
        RunDir(tmp_path).class_labels()
