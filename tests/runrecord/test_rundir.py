"""The run record: statuses, summaries, checked readers, the run lock."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest

from nnsweep.nets.train import EpochRecord
from nnsweep.runrecord import LockedError, RunDir, RunRecordError, Status, Summary, exclusive_lock, find_runs
from nnsweep.runrecord.names import BOOKKEEPING_KEYS, METRIC_COLUMNS
from nnsweep.sweeps.collect import collect
from tests.experiments.conftest import compose_config


@pytest.mark.parametrize(
    "status, finished",
    [
        ("running", False),
        ("interrupted", False),
        ("ok", True),
        ("early_stopped", True),
        ("diverged", True),
        ("failed", True),
        ("pruned", True),
    ],
)
def test_one_definition_of_finished(status, finished):
    assert Status(status).is_finished() is finished


def test_summary_round_trip_writes_no_nan_and_knows_when_it_is_done(tmp_path):
    run = RunDir(tmp_path)
    run.write_summary(Summary(status=Status.OK, epochs=5, epochs_completed=5, best_val_acc=0.9, best_val_loss=math.nan))
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["status"] == "ok" and on_disk["best_val_loss"] is None
    summary = run.read_summary()
    assert summary.status is Status.OK and summary.objective_value() == 0.9
    assert summary.is_done(5) and not summary.is_done(6)  # an ok run continues when the budget grows
    assert Summary(status=Status.DIVERGED, epochs_completed=2).is_done(10)
    assert not Summary(status=Status.INTERRUPTED, epochs_completed=9).is_done(10)


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '{"status": "exploded"}'])
def test_a_damaged_summary_is_one_line_naming_the_file(tmp_path, text):
    (tmp_path / "summary.json").write_text(text)
    with pytest.raises(RunRecordError, match="summary.json"):
        RunDir(tmp_path).read_summary()


def write_metrics(path, epochs):
    rows = [",".join(METRIC_COLUMNS)] + [f"{e},0.1,0.5,0.8,0.6,0.7,0.01" for e in epochs]
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_metrics_are_read_as_records(tmp_path):
    write_metrics(tmp_path, [1, 2, 3])
    records = RunDir(tmp_path).read_metrics()
    assert records == [EpochRecord(e, 0.1, 0.5, 0.8, 0.6, 0.7, 0.01) for e in (1, 2, 3)]


@pytest.mark.parametrize(
    "epochs, problem",
    [([1, 99999999], "row 2 is epoch 99999999"), ([1, 2, 1], "row 3 is epoch 1"), (["x"], "invalid literal")],
)
def test_a_corrupt_metrics_file_is_refused_with_one_line(tmp_path, epochs, problem):
    write_metrics(tmp_path, epochs)
    with pytest.raises(RunRecordError, match=problem) as err:
        RunDir(tmp_path).read_metrics()
    assert str(tmp_path / "metrics.csv") in str(err.value) and "\n" not in str(err.value)


def test_a_config_with_python_tags_is_refused_not_executed(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("trainer: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(RunRecordError, match="config.yaml is unreadable"):
        RunDir(tmp_path).config()


def test_settings_differ_ignores_bookkeeping_and_epochs(tmp_path):
    cfg = compose_config(["trainer.epochs=2"])
    run = RunDir(tmp_path)
    run.write_config(cfg, ["trainer.epochs=2"])
    assert run.settings_differ(compose_config(["trainer.epochs=5", "resume=true", "trainer.progress=false"])) == []
    assert run.settings_differ(compose_config(["trainer.epochs=2", "optimizer.lr=5.0"])) == ["optimizer.lr: 0.1 -> 5.0"]


def test_a_run_recorded_before_a_key_existed_continues_at_its_old_value(tmp_path):
    run = RunDir(tmp_path)
    run.write_config(compose_config([]), [])
    record = (tmp_path / ".hydra" / "config.yaml").read_text()
    assert "  flip: false\n" in record
    (tmp_path / ".hydra" / "config.yaml").write_text(record.replace("  flip: false\n", ""))
    assert run.settings_differ(compose_config([])) == []
    assert run.settings_differ(compose_config(["trainer.flip=true"])) == ["trainer.flip: False -> True"]
    # A record that has the key keeps its own value.
    flipped = RunDir(tmp_path / "flipped")
    flipped.write_config(compose_config(["trainer.augment=true", "trainer.flip=true"]), [])
    assert flipped.settings_differ(compose_config(["trainer.augment=true"])) == ["trainer.flip: True -> False"]


def test_bookkeeping_keys_are_the_ones_run_directory_names_leave_out():
    from hydra import compose, initialize_config_dir

    from nnsweep.experiments.cli import CONF_DIR
    from nnsweep.experiments.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert list(cfg.hydra.job.config.override_dirname.exclude_keys) == list(BOOKKEEPING_KEYS)


HOLD_LOCK = """
import sys, time
from nnsweep.runrecord import exclusive_lock
with exclusive_lock(sys.argv[1], "run"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_live_run_is_running_and_a_dead_one_interrupted(tmp_path):
    """Collect during a sweep: a run whose process holds its lock is running, not interrupted."""
    cfg = compose_config(["trainer.epochs=1"])
    for name in ("live", "dead"):
        run = RunDir(tmp_path / name)
        run.write_config(cfg, [f"optimizer.lr={0.1 if name == 'live' else 0.2}"])
        run.write_summary(Summary(status=Status.RUNNING, epochs=1))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "live")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert RunDir(tmp_path / "live").status() is Status.RUNNING
        assert RunDir(tmp_path / "dead").status() is Status.INTERRUPTED
        runs, _ = collect(tmp_path)
        assert dict(zip(runs["optimizer.lr"], runs["status"])) == {0.1: "running", 0.2: "interrupted"}
    finally:
        holder.kill()
        holder.wait()
    deadline = time.time() + 10
    while RunDir(tmp_path / "live").status() is Status.RUNNING and time.time() < deadline:
        time.sleep(0.05)
    assert RunDir(tmp_path / "live").status() is Status.INTERRUPTED  # the kernel released its lock


def test_the_run_lock_keeps_a_second_process_out(tmp_path):
    run = RunDir(tmp_path)
    with exclusive_lock(tmp_path, "run directory"):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from runrecord import RunDir\nimport sys\nwith RunDir({str(tmp_path)!r}).training(wait=0.2): pass",
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and "is in use by process" in result.stderr
    with run.training():
        pass


def test_stale_temporary_files_are_removed_when_training_starts(tmp_path):
    for name in (".model.npz.x1.tmp", ".summary.json.y2.tmp", ".hydra/.config.yaml.z.tmp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("half")
    (tmp_path / "keep.txt").write_text("mine")
    with RunDir(tmp_path).training():
        pass
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        ".lock",
        "keep.txt",
    ]  # .lock: the holder's pid


def test_find_runs_lists_recorded_runs(tmp_path):
    cfg = compose_config([])
    for name in ("b", "a", "a/nested"):
        RunDir(tmp_path / name).write_config(cfg, [])
    (tmp_path / "not-a-run").mkdir()
    assert [r.path.relative_to(tmp_path).as_posix() for r in find_runs(tmp_path)] == ["a", "a/nested", "b"]


def test_deleting_the_lock_file_does_not_let_a_second_process_in(tmp_path):
    """The lock is on the directory: the pid file beside it can go without freeing the run."""
    with exclusive_lock(tmp_path, "run directory"):
        (tmp_path / ".lock").unlink()
        assert RunDir(tmp_path).is_live()
        with pytest.raises(LockedError, match="in use"):
            with RunDir(tmp_path).training(wait=0.1):
                pass


@pytest.mark.parametrize(
    "field, value", [("best_val_acc", "high"), ("epochs_completed", "3"), ("epochs_completed", None), ("status", 7)]
)
def test_a_summary_field_of_the_wrong_type_is_one_line(tmp_path, field, value):
    RunDir(tmp_path).write_summary(Summary(status=Status.OK, epochs_completed=3, best_val_acc=0.5))
    data = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps({**data, field: value}))
    with pytest.raises(RunRecordError, match=field):
        RunDir(tmp_path).read_summary()


@pytest.mark.parametrize(
    "confusion",
    [[[1, 2], [3]], [["a", "b"], ["c", "d"]], [[1, None], [0, 1]], [[1e400, 0], [0, 1]], [[1, -1], [0, 1]], "none"],
)
def test_a_damaged_evaluation_is_one_line(tmp_path, confusion):
    (tmp_path / "evaluation.json").write_text(
        json.dumps({"confusion": confusion, "test_source": "x"}).replace("Infinity", "1e400")
    )
    with pytest.raises(RunRecordError, match="evaluation.json"):
        RunDir(tmp_path).read_evaluation()


def test_damaged_test_errors_are_one_line(tmp_path):
    import numpy as np

    from nnsweep.runrecord import TestErrors

    run = RunDir(tmp_path)
    good = TestErrors(
        np.zeros((2, 784), np.float32),
        np.array([1, 2]),
        np.array([3, 4]),
        np.array([0.9, 0.8], np.float32),
        np.array("test split"),
    )
    run.write_test_errors(good)
    assert run.read_test_errors().labels.tolist() == [1, 2]
    data = (tmp_path / "test_errors.npz").read_bytes()
    (tmp_path / "test_errors.npz").write_bytes(data[:300])
    with pytest.raises(RunRecordError, match="test_errors.npz is unreadable"):
        run.read_test_errors()
    for bad in (
        dict(images=np.zeros((2, 5), np.float32)),
        dict(images=np.zeros(784, np.float32)),
        dict(confidence=np.array(["a", "b"])),
        dict(labels=np.array(1)),
    ):
        run.write_test_errors(TestErrors(**{**good.__dict__, **bad}))
        with pytest.raises(RunRecordError, match="does not hold test mistakes"):
            run.read_test_errors()


def test_collect_names_damaged_files_and_keeps_the_other_runs(tmp_path, capsys):
    cfg = compose_config(["trainer.epochs=1"])
    for i, name in enumerate(("a", "b", "c", "d")):
        run = RunDir(tmp_path / name)
        run.write_config(cfg, [f"optimizer.lr=0.{i + 1}"], {"runtime": {"choices": {"net": "rashid"}}})
        run.write_summary(Summary(status=Status.OK, epochs=1, epochs_completed=1, best_val_acc=0.5 + i / 10))
    (tmp_path / "a" / ".hydra" / "hydra.yaml").write_text("{{{")
    (tmp_path / "b" / ".hydra" / "overrides.yaml").write_text("{{{")
    (tmp_path / "c" / "summary.json").write_text('{"status": "ok", "best_val_acc": "high"}')
    runs, _ = collect(tmp_path)
    assert len(runs) == 4 and runs.iloc[0]["run"] == "d"
    assert runs.set_index("run").loc["c", "status"] == "interrupted"
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 3 and all(w.startswith("nnsweep: warning:") for w in warnings)


def test_a_failed_run_has_no_objective_whatever_it_reached_before_its_error():
    """A search tells a failed trial its penalty and counts it: a failure while continuing from
    a rung (the run keeps its earlier best) must not read as that earlier value."""
    summary = Summary(status=Status.FAILED, best_val_acc=0.9, epochs_completed=3)
    assert summary.objective_value() is None
    assert Summary(status=Status.PRUNED, best_val_acc=0.9).objective_value() == 0.9


def test_a_pruned_run_asked_for_more_epochs_is_not_done():
    pruned = Summary(status=Status.PRUNED, epochs=27, epochs_completed=3)
    assert pruned.is_done(27, pause_after=3) and not pruned.is_done(27, pause_after=9) and not pruned.is_done(27)
    assert Summary(status=Status.PAUSED, epochs_completed=3).is_done(27, pause_after=1)


def test_a_run_at_chance_is_judged_from_its_classes_and_validation_size():
    """chance_bar: 1/k + 5 sqrt(p (1 - p) / n), by hand: 0.1 + 5 * 0.3 / sqrt(500) = 0.16708,
    0.1 + 5 * 0.3 / 100 = 0.115 (MNIST's most frequent digit, 11.2%, stays below it)."""
    from nnsweep.nets.evaluation import chance_bar

    assert chance_bar(10, 500) == pytest.approx(0.1670820, abs=1e-6)
    assert chance_bar(10, 10_000) == pytest.approx(0.115) and chance_bar(2, 100) == pytest.approx(0.75)
    stuck = Summary(status=Status.OK, best_val_acc=0.112, val_size=10_000, classes=10)
    assert stuck.at_chance and not Summary(status=Status.OK, best_val_acc=0.12, val_size=10_000, classes=10).at_chance
    assert Summary(status=Status.EARLY_STOPPED, best_val_acc=0.16, val_size=500).at_chance  # 10 classes if unrecorded
    assert Summary(status=Status.OK, best_val_acc=0.6, val_size=100, classes=2).at_chance  # two classes: bar 75%
    assert not Summary(status=Status.PRUNED, best_val_acc=0.1, val_size=500).at_chance  # stopped before it could
    assert not Summary(status=Status.OK, best_val_acc=0.1).at_chance  # no validation set: nothing to judge
