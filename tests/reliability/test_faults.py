"""Cases 4-6 and 12: divergence, exceptions inside trials, a full disk, determinism."""

import csv
import json
import resource
import signal

import pandas as pd
import pytest

from nnsweep.reports.build import build_report
from tests.experiments.conftest import run_module
from tests.reliability.conftest import TINY, recorded_trials, start_module

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

DEEP_RELU = [
    "net=mlp",
    "net.hidden=[100,100,100]",
    "net.activation=relu",
    "data.train_limit=300",
    "trainer.epochs=2",
    "trainer.progress=false",
]


def test_4_diverging_trials_are_recorded_penalised_tabled_and_reported(tmp_path):
    sweep = tmp_path / "div"
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=interval(0.01, 4.0)",
        *DEEP_RELU,
        "hydra.sweeper.method=random",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.max_failure_rate=1.0",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trials = recorded_trials(sweep)
    diverged = [t for t in trials if t["status"] == "diverged"]
    assert diverged and all(t["objective"] is None and isinstance(t["told"], float) for t in diverged)
    runs = pd.read_csv(sweep / "runs.csv")
    assert (runs["status"] == "diverged").sum() == len(diverged)
    assert runs.loc[runs["status"] == "diverged", "diverged_epoch"].notna().all()
    page = build_report(sweep).read_text()
    assert page.count(">diverged<") == len(diverged)  # a status cell per diverged run in the table


def test_5_exceptions_in_trials_are_recorded_and_too_many_stop_the_sweep(tmp_path):
    # A mini-batch larger than the training set raises inside the trial, when the data is loaded
    # (a value out of range would be refused before the sweep starts, and so would a batch larger
    # than a named data set's known size: a CSV's is known only once it is read).
    (tmp_path / "d.csv").write_text("".join(f"{i % 10}," + ",".join([str(i % 7)] * 784) + "\n" for i in range(340)))
    csv = ["data=csv", f"data.train_csv={tmp_path / 'd.csv'}", "data.val_size=20", "data.test_size=20"]
    mixed = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=skopt",
        "trainer.batch_size=choice(10,400)",
        *csv,
        "optimizer.lr=interval(0.05, 0.5)",
        "net=mlp",
        "net.hidden=[16]",
        "trainer.epochs=1",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.max_failure_rate=1.0",
        "hydra.sweeper.method=random",
        f"hydra.sweep.dir={tmp_path / 'mixed'}",
    )
    assert mixed.returncode == 0, mixed.stderr[-2000:]
    runs = pd.read_csv(tmp_path / "mixed" / "runs.csv")
    failed = runs[runs["status"] == "failed"]
    assert len(failed) >= 1 and (runs["status"] == "ok").sum() >= 1
    assert failed["error"].str.contains("larger than the training set").all()
    doomed = run_module(
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=skopt",
        "trainer.batch_size=choice(400,500)",
        *csv,
        "optimizer.lr=interval(0.05, 0.5)",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=20",
        f"hydra.sweep.dir={tmp_path / 'doomed'}",
    )
    assert doomed.returncode != 0 and "Traceback" not in doomed.stderr
    assert "stopping the sweep: 5 of 5 trials failed or diverged" in doomed.stderr
    assert len(recorded_trials(tmp_path / "doomed")) == 5


def limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_6_full_disk_is_one_clear_line_and_keeps_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    args = ["net=rashid", "data.train_limit=300", "trainer.progress=false", f"hydra.run.dir={run}"]
    first = run_module("nnsweep.experiments.train", *args, "trainer.epochs=1")
    assert first.returncode == 0, first.stderr[-2000:]
    model = (run / "model.npz").read_bytes()
    assert len(model) > 60_000
    # The checkpoint no longer fits: a file-size limit stands in for a full disk.
    proc = start_module(
        "nnsweep.experiments.train",
        *args,
        "trainer.epochs=3",
        "resume=true",
        log=tmp_path / "full.log",
        preexec=limit_file_size(60_000),
    )
    assert proc.wait(120) == 2
    lines = (tmp_path / "full.log").read_text().strip().splitlines()
    assert lines[-1].startswith(f"nnsweep: error: cannot write {run / 'model.npz'}: File too large; free some space")
    assert "Traceback" not in "\n".join(lines)
    assert (run / "model.npz").read_bytes() == model  # the previous checkpoint is intact
    assert not list(run.glob(".*.tmp"))  # and nothing half-written is left
    assert len(list(csv.DictReader(open(run / "metrics.csv")))) == 1  # metrics still match it
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 1
    (tmp_path / "file").write_text("not a directory")
    blocked = run_module("nnsweep.experiments.train", f"hydra.run.dir={tmp_path / 'file' / 'run'}")
    assert blocked.returncode == 2
    assert blocked.stderr.strip() == (
        f"nnsweep: error: cannot create {tmp_path / 'file' / 'run'}: {tmp_path / 'file'} "
        "is not a directory; choose another hydra.run.dir"
    )


def metrics_without_time(path):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(path))]


def test_12_same_seed_same_bits_other_seed_other_bits(tmp_path):
    args = [*TINY, "trainer.epochs=2", "net.dropout=0.2", "trainer.augment=true", "optimizer=adam"]
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        result = run_module(
            "nnsweep.experiments.train", *args, f"trainer.seed={seed}", f"hydra.run.dir={tmp_path / name}"
        )
        assert result.returncode == 0, result.stderr[-2000:]
    a, b, c = (metrics_without_time(tmp_path / n / "metrics.csv") for n in "abc")
    assert a == b and a != c
    models = [(tmp_path / n / "model.npz") for n in "ab"]
    import numpy as np

    with np.load(models[0]) as x, np.load(models[1]) as y:
        assert all(np.array_equal(x[k], y[k]) for k in x.files if k.startswith(("param/", "best/", "opt/")))
