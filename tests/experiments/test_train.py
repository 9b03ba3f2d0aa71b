"""The training entrypoint through Hydra, as a user runs it."""

import csv
import json

import pytest

from nnsweep.experiments.train import train_run
from nnsweep.runrecord.names import METRIC_COLUMNS
from tests.experiments.conftest import compose_config, run_module


def test_a_short_run_writes_metrics_summary_and_model(tmp_path, quick):
    out = tmp_path / "run"
    result = run_module("nnsweep.experiments.train", "net=nielsen", "optimizer.lr=3.0", *quick, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert (
        list(rows[0]) == METRIC_COLUMNS == ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
    )
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_completed"] == 2
    assert summary["best_val_acc"] == max(float(r["val_acc"]) for r in rows)
    assert 0.3 < summary["test_acc"] <= 1 and summary["n_params"] == 784 * 30 + 30 + 30 * 10 + 10
    assert summary["wall_time_s"] > 0 and summary["best_epoch"] in (1, 2)
    assert (out / "model.npz").stat().st_size > 784 * 30 * 4
    assert (out / ".hydra" / "config.yaml").exists()


@pytest.mark.parametrize(
    "override,message",
    [
        ("optimizer.lr=-1", "optimizer.lr must be a positive number"),
        ("net=nonexistent", "Could not find 'net/nonexistent'; Available options in 'net': cnn, lenet5"),
        ("trainer.epochs=zero", "trainer.epochs=zero; Value 'zero' of type 'str' could not be converted to Integer"),
        ("trainer.batch_size=5000", "larger than the training set"),
    ],
)
def test_bad_overrides_exit_with_one_line(tmp_path, override, message):
    result = run_module("nnsweep.experiments.train", override, f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnsweep: error:") and message in lines[0], result.stderr
    assert not (tmp_path / "run" / "model.npz").exists()


def test_resume_continues_at_the_right_epoch_and_matches_an_uninterrupted_run(tmp_path):
    base = [
        "net=mlp",
        "net.hidden=[32]",
        "net.dropout=0.1",
        "optimizer=adam",
        "trainer.augment=true",
        "data.train_limit=500",
        "trainer.progress=false",
    ]
    full = train_run(compose_config(base + ["trainer.epochs=4"]), tmp_path / "full")
    train_run(compose_config(base + ["trainer.epochs=2"]), tmp_path / "part")
    resumed = train_run(compose_config(base + ["trainer.epochs=4", "resume=true"]), tmp_path / "part")
    read = lambda d: [(r["epoch"], r["train_loss"], r["val_acc"]) for r in csv.DictReader(open(d / "metrics.csv"))]
    assert [int(e) for e, _, _ in read(tmp_path / "part")] == [1, 2, 3, 4]
    assert read(tmp_path / "part") == read(tmp_path / "full")
    assert resumed.test_acc == full.test_acc and resumed.best_val_acc == full.best_val_acc


def test_a_paused_run_continued_rung_by_rung_equals_an_uninterrupted_one(tmp_path):
    """What a pruning sweep relies on: pausing after 1 and 3 of 6 epochs changes nothing (the
    cosine schedule spans all 6 epochs either way), and a paused run is not evaluated."""
    base = [
        "net=mlp",
        "net.hidden=[32]",
        "net.dropout=0.1",
        "optimizer=adam",
        "schedule=cosine",
        "trainer.augment=true",
        "data.train_limit=500",
        "trainer.progress=false",
        "trainer.epochs=6",
    ]
    full = train_run(compose_config(base), tmp_path / "full")
    first = train_run(compose_config(base + ["trainer.pause_after=1"]), tmp_path / "part")
    assert (first.status.value, first.epochs_completed, first.test_acc, first.epochs) == ("paused", 1, None, 6)
    assert not (tmp_path / "part" / "evaluation.json").exists()
    again = train_run(compose_config(base + ["trainer.pause_after=1", "resume=true"]), tmp_path / "part")
    assert again == first  # reached already: reused as it is
    second = train_run(compose_config(base + ["trainer.pause_after=3", "resume=true"]), tmp_path / "part")
    assert (second.status.value, second.epochs_completed) == ("paused", 3)
    last = train_run(compose_config(base + ["resume=true"]), tmp_path / "part")
    read = lambda d: [
        (r["epoch"], r["lr"], r["train_loss"], r["val_acc"]) for r in csv.DictReader(open(d / "metrics.csv"))
    ]
    assert read(tmp_path / "part") == read(tmp_path / "full") and len(read(tmp_path / "full")) == 6
    assert last.status.value == "ok" and last.test_acc == full.test_acc and last.best_val_acc == full.best_val_acc


def test_a_pruned_run_resumed_by_hand_continues_to_its_epochs(tmp_path):
    """Pruned is a search's judgement, not the end of training: resume=true trains it on."""
    from nnsweep.runrecord import RunDir, Status
    from nnsweep.sweeps.outcomes import mark_run

    base = ["net=mlp", "net.hidden=[16]", "data.train_limit=300", "trainer.progress=false", "trainer.epochs=3"]
    train_run(compose_config(base + ["trainer.pause_after=1"]), tmp_path / "run")
    mark_run(RunDir(tmp_path / "run"), Status.PRUNED)
    resumed = train_run(compose_config(base + ["resume=true"]), tmp_path / "run")
    assert (resumed.status, resumed.epochs_completed) == (Status.OK, 3) and resumed.test_acc is not None


def test_a_resumed_run_records_the_time_of_every_invocation(tmp_path):
    """wall_time_s is the run's whole training time: a run paused after epoch 1 that took 1,000 s
    (written into its summary, as a slow machine would have) and continued for epoch 2 says
    1,000 s plus the second invocation's time, not the last invocation's alone; without its
    summary, the checkpoint's epochs' times stand for the earlier invocations."""
    import json

    base = ["net=mlp", "net.hidden=[16]", "data.train_limit=300", "trainer.progress=false", "trainer.epochs=3"]
    train_run(compose_config(base + ["trainer.pause_after=1"]), tmp_path / "run")
    summary = tmp_path / "run" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "wall_time_s": 1000.0}))
    second = train_run(compose_config(base + ["trainer.pause_after=2", "resume=true"]), tmp_path / "run")
    epochs = [float(r["seconds"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))]
    assert 1000 + epochs[1] <= second.wall_time_s < 1000 + epochs[1] + 60
    summary.unlink()
    last = train_run(compose_config(base + ["resume=true"]), tmp_path / "run")
    epochs = [float(r["seconds"]) for r in csv.DictReader(open(tmp_path / "run" / "metrics.csv"))]
    assert sum(epochs) <= last.wall_time_s < 1000  # the earlier 1,000 s went with the summary


def test_resume_via_the_command_line_logs_where_it_continues(tmp_path, quick):
    out = f"hydra.run.dir={tmp_path / 'run'}"
    assert run_module("nnsweep.experiments.train", *quick, out).returncode == 0
    again = run_module(
        "nnsweep.experiments.train", *quick[:-2], "trainer.epochs=3", "trainer.progress=false", "resume=true", out
    )
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout + again.stderr and "after epoch 2" in again.stdout + again.stderr
    assert len(list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))) == 3


def test_a_diverging_run_finishes_with_status_diverged(tmp_path):
    cfg = compose_config(
        [
            "net=mlp",
            "net.hidden=[100,100,100]",
            "net.activation=relu",
            "optimizer.lr=3.0",
            "data.train_limit=500",
            "trainer.epochs=3",
            "trainer.progress=false",
        ]
    )
    summary = train_run(cfg, tmp_path / "run")
    assert summary.status == "diverged" and summary.diverged_epoch == 1
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["status"] == "diverged" and on_disk["test_acc"] is None and on_disk["final_val_acc"] is None


def test_a_grid_of_many_values_composes_each_config_group_value_not_each_value(tmp_path, monkeypatch, capsys):
    """A grid of 1,000 values spent minutes composing each value twice before its first run (here
    and again in the sweeper): a plain value is set into the config composed once, and still
    checked, the last of 300 as much as the first."""
    import hydra

    from nnsweep.experiments import cli

    composed = []
    real = hydra.compose
    monkeypatch.setattr(hydra, "compose", lambda *a, **k: composed.append(k.get("overrides")) or real(*a, **k))
    values = ",".join(str(0.01 * (i + 1)) for i in range(300))
    cli.precheck("config", ["-m", f"optimizer.lr={values}", "net=mlp,rashid", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert len(composed) == 3  # the first point, again with the sweeper's params, and net=rashid
    assert cli.every_value_checked()  # the grid sweeper in this process composes none of them again
    for bad, fragment in (
        ("abc", "Error merging override optimizer.lr=abc"),
        ("-1", "optimizer.lr must be a positive number"),
    ):
        with pytest.raises(SystemExit) as exit_:
            cli.precheck("config", ["-m", f"optimizer.lr={values},{bad}", f"hydra.sweep.dir={tmp_path / 's'}"])
        assert exit_.value.code == 2 and fragment in capsys.readouterr().err
    result = run_module(
        "nnsweep.experiments.train", "-m", f"optimizer.lr={values},-1", f"hydra.sweep.dir={tmp_path / 's'}"
    )
    assert result.returncode == 2 and "optimizer.lr must be a positive number, got -1" in result.stderr


def test_a_finished_cosine_run_is_not_extended_to_more_epochs(tmp_path):
    """2 epochs of cosine, then trainer.epochs=4 resume=true trained epochs 3-4 on a 4-epoch
    curve after epochs 1-2 of a 2-epoch one (rates 1e-3, 5e-4, 5e-4, 1.5e-4) and the config then
    claimed cosine over 4 epochs. Refused with one line, the run untouched; a step schedule,
    whose curve does not depend on the budget, still grows."""
    base = ["net=mlp", "net.hidden=[16]", "optimizer=adam", "data.train_limit=300", "trainer.progress=false"]
    run = tmp_path / "cos"
    first = run_module(
        "nnsweep.experiments.train", *base, "schedule=cosine", "trainer.epochs=2", f"hydra.run.dir={run}"
    )
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name not in ("train.log", ".lock")}
    more = run_module(
        "nnsweep.experiments.train", *base, "schedule=cosine", "trainer.epochs=4", "resume=true", f"hydra.run.dir={run}"
    )
    assert more.returncode == 2 and more.stderr.count("\n") == 1, more.stderr[-2000:]
    assert "anneals its cosine schedule over trainer.epochs=2" in more.stderr
    assert "train a new run with trainer.epochs=4" in more.stderr
    assert {
        p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name not in ("train.log", ".lock")
    } == before
    step = train_run(compose_config(base + ["schedule=step", "trainer.epochs=1"]), tmp_path / "step")
    grown = train_run(compose_config(base + ["schedule=step", "trainer.epochs=2", "resume=true"]), tmp_path / "step")
    assert (step.epochs_completed, grown.epochs_completed) == (1, 2)
