"""Defects of the harness around one run and the lr sweep, each reproduced through the real
entrypoints: a refused resume, a deleted checkpoint, stale temp files, sweep directory names,
exit codes and messages."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnsweep.runrecord import RunDir, exclusive_lock
from tests.experiments.conftest import REPO, run_module
from tests.reliability.conftest import TINY, TINY_LR, run_waiting_for_its_data, start_module, wait_for

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("nnsweep: error:"), result.stderr[-2000:]
    return lines[0]


def train(tmp_path, *args):
    return run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=2", *args, cwd=tmp_path)


def test_3_a_refused_resume_leaves_the_run_record_as_it_was(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, "optimizer.lr=0.877", f"hydra.run.dir={run}").returncode == 0
    before = {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()}
    summary = (run / "summary.json").read_bytes()
    line = one_line_error(train(tmp_path, "optimizer.lr=5.0", "data=fashion", "resume=true", f"hydra.run.dir={run}"))
    assert "other settings" in line and "data.name: 'mnist5k' -> 'fashion'" in line
    assert {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()} == before
    assert (run / "summary.json").read_bytes() == summary
    evaluated = run_module("nnsweep.experiments.evaluate", f"run={run}", cwd=tmp_path)
    assert evaluated.returncode == 0 and "mnist5k test split" in evaluated.stdout


def test_3_only_the_epoch_budget_may_grow_and_arguments_in_another_order_are_the_same_settings(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, "optimizer.lr=0.3", "net.hidden=[16]", f"hydra.run.dir={run}").returncode == 0
    again = run_module(
        "nnsweep.experiments.train",
        f"hydra.run.dir={run}",
        "resume=true",
        "trainer.epochs=3",
        "net.hidden=[16]",
        "optimizer.lr=0.3",
        *reversed(TINY),
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["epoch"] for r in csv.DictReader(open(run / "metrics.csv"))] == ["1", "2", "3"]
    assert "epochs: 3" in (run / ".hydra" / "config.yaml").read_text()


def test_3_a_run_directory_is_not_overwritten_without_resume(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, f"hydra.run.dir={run}").returncode == 0
    model = (run / "model.npz").read_bytes()
    line = one_line_error(train(tmp_path, f"hydra.run.dir={run}"))
    assert "already holds a run" in line and "resume=true" in line
    assert (run / "model.npz").read_bytes() == model


def test_16_resume_without_a_checkpoint_starts_a_fresh_metrics_file_once_the_old_records_are_moved(tmp_path):
    """Issue 22 (round 2): the records of trained epochs without their checkpoint are refused
    (a fresh start deleted them); the user who moves them away starts the run again."""
    run = tmp_path / "run"
    assert train(tmp_path, f"hydra.run.dir={run}").returncode == 0
    (run / "model.npz").unlink()
    refused = run_module(
        "nnsweep.experiments.train", *TINY, "trainer.epochs=4", "resume=true", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert "but no checkpoint (model.npz)" in one_line_error(refused)
    for name in ("metrics.csv", "summary.json"):
        (run / name).rename(tmp_path / name)
    again = run_module(
        "nnsweep.experiments.train", *TINY, "trainer.epochs=4", "resume=true", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["epoch"] for r in csv.DictReader(open(run / "metrics.csv"))] == ["1", "2", "3", "4"]


def test_15_the_next_start_of_a_run_removes_its_stale_temporary_files(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, f"hydra.run.dir={run}").returncode == 0
    for name in (".model.npz.k9a.tmp", ".summary.json.k9b.tmp"):  # what kill -9 mid-write leaves
        (run / name).write_bytes(b"half a file")
    again = run_module(
        "nnsweep.experiments.train", *TINY, "trainer.epochs=3", "resume=true", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert not list(run.glob(".*.tmp"))


def test_two_processes_never_train_one_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with exclusive_lock(run, "run directory"):
        line = one_line_error(train(tmp_path, f"hydra.run.dir={run}", "resume=true"))
    assert "is in use by process" in line
    assert not (run / "metrics.csv").exists()


def test_19_a_refused_command_leaves_no_empty_output_directory(tmp_path):
    one_line_error(run_module("nnsweep.experiments.train", "trainer.epochs=0", cwd=tmp_path))
    one_line_error(train(tmp_path, "data.train_limit=5", "trainer.batch_size=10"))  # found only when data loads
    assert not (tmp_path / "outputs").exists()


def lr_sweep(tmp_path, *args):
    return run_module(
        "nnsweep.sweep_lr",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--jobs",
        "1",
        "--no-report",
        *TINY_LR,
        *args,
        cwd=tmp_path,
    )


def test_1_lr_sweep_with_an_override_names_a_directory_hydra_accepts(tmp_path):
    result = lr_sweep(tmp_path, "--lrs", "0.1,1", "optimizer=momentum")
    assert result.returncode == 0, result.stderr[-2000:]
    sweeps = list((tmp_path / "results" / "sweep-lr").iterdir())
    assert len(sweeps) == 1 and "=" not in sweeps[0].name and "," not in sweeps[0].name
    assert (sweeps[0] / "runs.csv").read_text().count("\n") == 3  # header and two runs


def test_1_a_sweep_directory_with_a_space_and_a_comma(tmp_path):
    sweep = tmp_path / "my sweep, v2"
    result = lr_sweep(tmp_path, "--lrs", "0.1,1", "--sweep-dir", str(sweep))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (sweep / "runs.csv").read_text().count("\n") == 3


def test_1_bad_settings_are_not_followed_by_rerun_advice(tmp_path):
    result = lr_sweep(tmp_path, "--lrs", "0.1", "trainer.seed=abc")
    assert result.returncode == 2 and "nnsweep: error:" in result.stderr
    assert "rerun" not in result.stderr


def test_19_an_lr_sweep_whose_runs_all_failed_does_not_exit_0(tmp_path):
    # 5 training rows, fewer than the mini-batch: a CSV's size is known only once it is read (a
    # named data set's is checked before the sweep starts), so each run fails when it loads it
    (tmp_path / "d.csv").write_text("".join(f"{i % 10}," + ",".join([str(i % 7)] * 784) + "\n" for i in range(45)))
    csv = ["--data", "csv", f"data.train_csv={tmp_path / 'd.csv'}", "data.val_size=20", "data.test_size=20"]
    result = lr_sweep(tmp_path, "--lrs", "0.1,1", *csv)
    assert result.returncode == 1 and "2 failed" in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("nnsweep: error:")]
    assert len(errors) == 1 and "produced a result" in errors[0] and "rerun" not in result.stderr
    again = lr_sweep(tmp_path, "--lrs", "0.1,1", *csv)  # nothing left to train: said once more
    assert again.returncode == 1 and "no trial of the sweep produced a result" in again.stderr


def test_19_the_lock_message_names_a_flag_sweeps_lr_has(tmp_path):
    sweep = tmp_path / "s"
    with exclusive_lock(sweep, "sweep"):
        line = one_line_error(lr_sweep(tmp_path, "--lrs", "0.1", "--sweep-dir", str(sweep)))
    assert "in use by process" in line and "--sweep-dir" in line


def test_1_make_sweep_lr_passes_overrides_and_lists_its_variables():
    shown = subprocess.run(
        ["make", "-n", "sweep-lr", "ARGS=optimizer=momentum trainer.seed=3"], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert "nnsweep sweep-lr" in shown and "optimizer=momentum trainer.seed=3" in shown
    help_text = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True).stdout
    # Each target's variables are listed under it (and before the next target).
    blocks = {b.split()[0]: b for b in help_text.split("  make ")[1:]}
    for name in ("NET", "DATA", "LRS", "EPOCHS", "BATCH", "ARGS"):
        assert f"\n      {name} " in blocks["sweep-lr"]
    assert "      SWEEP " in blocks["report"] and "      TESTS " in blocks["test"]
    assert "[rashid]" in blocks["sweep-lr"] and "[15]" in blocks["sweep-lr"]  # the defaults


def test_a_process_refused_by_the_lock_leaves_the_live_run_alone(tmp_path):
    """Before: the refused process removed the directory of the run that was still starting."""
    run = tmp_path / "run"
    with exclusive_lock(run, "run directory"):  # a run still loading its data: no record yet
        one_line_error(train(tmp_path, f"hydra.run.dir={run}"))
        assert run.is_dir()


def test_a_run_whose_config_record_is_gone_is_not_overwritten(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, f"hydra.run.dir={run}").returncode == 0
    (run / ".hydra" / "config.yaml").unlink()
    model = (run / "model.npz").read_bytes()
    assert "already holds a run" in one_line_error(train(tmp_path, "optimizer.lr=0.7", f"hydra.run.dir={run}"))
    assert "no record of its settings" in one_line_error(train(tmp_path, "resume=true", f"hydra.run.dir={run}"))
    assert (run / "model.npz").read_bytes() == model


def test_3_a_resume_may_not_shrink_the_epochs_a_run_has_trained(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, "trainer.epochs=3", f"hydra.run.dir={run}").returncode == 0
    line = one_line_error(train(tmp_path, "trainer.epochs=1", "resume=true", f"hydra.run.dir={run}"))
    assert "has trained 3 epochs" in line and "epochs: 3" in (run / ".hydra" / "config.yaml").read_text()


def test_an_unwritable_run_directory_is_one_line_and_a_refused_command_creates_nothing(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root writes anywhere: then only the cases below
            assert "cannot write into" in one_line_error(train(tmp_path, f"hydra.run.dir={locked}"))
    finally:
        locked.chmod(0o700)
    (tmp_path / "file").write_text("in the way")
    assert "cannot create" in one_line_error(train(tmp_path, f"hydra.run.dir={tmp_path / 'file' / 'run'}"))
    one_line_error(train(tmp_path, "optimizer.lr=abc", f"hydra.run.dir={tmp_path / 'never'}"))
    assert not (tmp_path / "never").exists()
    assert train(tmp_path, "trainer.epochs=1", f"hydra.run.dir='{tmp_path / 'with space'}'").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ro", "with space"]  # none named with quotes


def test_an_lr_sweep_never_reuses_runs_trained_with_other_settings(tmp_path):
    sweep = tmp_path / "s"
    assert lr_sweep(tmp_path, "--lrs", "0.1", "--sweep-dir", str(sweep)).returncode == 0
    again = lr_sweep(tmp_path, "--lrs", "0.1", "--sweep-dir", str(sweep), "net.hidden=[8]")
    assert again.returncode == 0 and "reusing" not in again.stdout + again.stderr
    assert (sweep / "runs.csv").read_text().count("\n") == 3


def test_lr_sweep_arguments_it_owns_or_cannot_use_are_refused(tmp_path):
    for args, fragment in (
        (["--lrs", "0.1", "optimizer.lr=0.3"], "use --lrs"),
        (["--lr-max", "inf"], "finite"),
        (["--num", "100000000"], "2 to 200"),
        (["--net", "mlp,rashid"], "one config name"),
        (["--lrs", "0.1", f"hydra.sweep.dir={tmp_path}"], "use --sweep-dir"),
    ):
        assert fragment in one_line_error(lr_sweep(tmp_path, *args))


def test_a_bad_value_in_any_grid_point_stops_the_grid_before_it_trains(tmp_path):
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.l2=0,-1",
        *TINY,
        "trainer.epochs=1",
        f"hydra.sweep.dir={tmp_path / 'g'}",
        cwd=tmp_path,
    )
    assert "optimizer.l2 must be at least 0" in one_line_error(result)
    assert not list((tmp_path / "g").glob("*/metrics.csv"))


def test_runs_that_failed_on_missing_data_are_retried_once_it_is_there(tmp_path):
    digits = tmp_path / "digits.csv"
    args = [
        "--net",
        "mlp",
        "--data",
        "csv",
        "--lrs",
        "0.1",
        "--sweep-dir",
        str(tmp_path / "s"),
        "net.hidden=[8]",
        f"data.train_csv={digits}",
        "data.val_size=20",
        "data.test_size=20",
    ]
    first = run_module(
        "nnsweep.sweep_lr", "--epochs", "1", "--batch", "10", "--jobs", "1", "--no-report", *args, cwd=tmp_path
    )
    assert first.returncode != 0 and "digits.csv" in first.stderr
    import numpy as np

    rng = np.random.default_rng(0)
    rows = np.column_stack([np.arange(200) % 10, rng.integers(0, 256, (200, 784))])
    np.savetxt(digits, rows, fmt="%d", delimiter=",")
    again = run_module(
        "nnsweep.sweep_lr", "--epochs", "1", "--batch", "10", "--jobs", "1", "--no-report", *args, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-2000:]
    # it trained and finished; random pixels teach nothing, so it may end at chance (counted apart)
    assert "1 runs: 1 ok." in again.stdout or "1 runs: 1 did not learn (at chance)." in again.stdout, again.stdout
    assert pd.read_csv(tmp_path / "s" / "runs.csv")["status"].tolist() == ["ok"]


@pytest.mark.parametrize(
    "edit, predict_reads_it",
    [
        (lambda t: t.replace("  root: null\n", ""), False),
        (lambda t: t.replace("targets: onehot", "targets: x"), False),
        (lambda t: t[:100], True),
        (lambda t: t.replace("scaling: unit", "scaling: weird"), True),
    ],
    ids=["key-missing", "bad-targets", "truncated", "bad-scaling"],
)
def test_evaluate_and_predict_read_a_damaged_run_config_as_one_line(trained_run, tmp_path, edit, predict_reads_it):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = run / ".hydra" / "config.yaml"
    config.write_text(edit(config.read_text()))
    assert "config.yaml" in one_line_error(run_module("nnsweep.experiments.evaluate", f"run={run}", cwd=tmp_path))
    picture = tmp_path / "one.png"
    Image.fromarray(np.pad(np.full((20, 4), 255, np.uint8), 4)).save(picture)
    predicted = run_module("nnsweep.experiments.predict", f"run={run}", f"image={picture}", cwd=tmp_path)
    if predict_reads_it:  # predict reads only data.scaling and net.loss
        assert "config.yaml" in one_line_error(predicted)
    else:
        assert predicted.returncode == 0, predicted.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["image=[]"], "names no image"),
        (["image=/tmp", "top=0"], "top must be"),
        (["image=/tmp"], "is not a file"),
        (["-m", "image=/tmp"], "one run at a time"),
    ],
)
def test_predict_arguments_that_cannot_work_are_one_line(trained_run, tmp_path, args, fragment):
    assert fragment in one_line_error(
        run_module("nnsweep.experiments.predict", f"run={trained_run}", *args, cwd=tmp_path)
    )
    assert not (tmp_path / "multirun").exists()


def test_ctrl_c_of_one_run_says_how_to_continue_it(tmp_path):
    run = tmp_path / "run"
    proc = start_module(
        "nnsweep.experiments.train",
        *TINY,
        "trainer.epochs=200",
        "trainer.batch_size=1",
        f"hydra.run.dir={run}",
        log=tmp_path / "log",
    )
    wait_for(lambda: (run / "metrics.csv").exists(), what="the first epoch")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(30) == 130
    said = [line for line in (tmp_path / "log").read_text().splitlines() if line and not line.startswith("[")]
    assert said == [f"nnsweep: interrupted; continue the run with: resume=true hydra.run.dir={run}"]


def test_a_metrics_file_deleted_during_a_run_is_rewritten_whole(tmp_path):
    from nnsweep.nets.train import EpochRecord
    from nnsweep.runrecord import RunDir

    run = RunDir(tmp_path)
    history = [EpochRecord(e, 0.1, 0.5, 0.5, 0.5, 0.5, 0.1) for e in (1, 2, 3)]
    for i, record in enumerate(history):
        if i == 2:
            (tmp_path / "metrics.csv").unlink()  # someone deletes it between epochs
        run.append_metrics(record, history=history[: i + 1])
    assert run.read_metrics() == history


# ----- records are data, read with limits (nnsweep.runrecord.bounded) ----------------------------------
ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)  # 10**9 strings from under 1 KB


def _summary_with(run, **values):
    summary = json.loads((run / "summary.json").read_text())
    return json.dumps({**summary, **values})


# Each attack: the file it damages and what it writes there (from the run's own file).
RECORD_ATTACKS = {
    "summary nested 100,000 deep": ("summary.json", lambda run: '{"status": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "summary with a 401-digit number": ("summary.json", lambda run: _summary_with(run, best_val_acc=10**400)),
    "config alias bomb": (".hydra/config.yaml", lambda run: ALIAS_BOMB),
    "overrides alias bomb": (".hydra/overrides.yaml", lambda run: ALIAS_BOMB),
    "inf in metrics": (
        "metrics.csv",
        lambda run: (
            (run / "metrics.csv")
            .read_text()
            .replace((run / "metrics.csv").read_text().splitlines()[1].split(",")[5], "inf", 1)
        ),
    ),
}


def attacked_sweep(tmp_path, trained_run, attacks=RECORD_ATTACKS):
    """A sweep of two good runs and one run per attack; the attacked runs' damaged files."""
    sweep = tmp_path / "sweep"
    for name in ("good-a", "good-b"):
        shutil.copytree(trained_run, sweep / name)
    damaged = {}
    for number, (case, (name, content)) in enumerate(attacks.items()):
        run = sweep / f"attacked-{number}"
        shutil.copytree(trained_run, run)
        (run / name).write_text(content(run))
        damaged[case] = run / name
    return sweep, damaged


def warnings_naming(stderr: str, path) -> list[str]:
    return [line for line in stderr.splitlines() if str(path) in line]


def test_damaged_records_are_one_warning_each_in_collect_and_the_report_and_the_other_runs_are_kept(
    tmp_path, trained_run
):
    """Deep nesting, a 401-digit number, YAML alias bombs and inf in metrics.csv: before, a
    RecursionError, an OverflowError, a hang or a pass; now one warning naming the file, and
    every run is in runs.csv and the report is written."""
    sweep, damaged = attacked_sweep(tmp_path, trained_run)
    collected = run_module("nnsweep.sweeps.keeper", str(sweep), cwd=tmp_path, timeout=120)
    assert collected.returncode == 0 and "Traceback" not in collected.stderr, collected.stderr[-3000:]
    for case, path in damaged.items():
        lines = warnings_naming(collected.stderr, path)
        assert len(lines) == 1 and lines[0].startswith("nnsweep: warning:"), (case, collected.stderr[-3000:])
    assert len(list(csv.DictReader(open(sweep / "runs.csv")))) == 2 + len(damaged)
    assert "inf" in " ".join(warnings_naming(collected.stderr, damaged["inf in metrics"]))
    report = run_module("nnsweep.reports", str(sweep), "--force", cwd=tmp_path, timeout=300)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr[-3000:]
    assert (sweep / "report" / "index.html").is_file()
    for case, path in damaged.items():
        assert warnings_naming(report.stderr, path), (case, report.stderr[-3000:])


@pytest.mark.parametrize("case", list(RECORD_ATTACKS))
def test_a_damaged_record_on_resume_is_one_line_or_rewritten(tmp_path, trained_run, case):
    """A resume checks its settings against the recorded config: a damaged one is one line and
    the run is left as it was. The summary, metrics and overrides it rewrites (the checkpoint
    and the command line hold the truth): the resume trains on and leaves them readable."""
    name, content = RECORD_ATTACKS[case]
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / name).write_text(content(run))
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    result = run_module(
        "nnsweep.experiments.train",
        *TINY,
        "trainer.epochs=2",
        "resume=true",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        timeout=60,
    )
    if name != ".hydra/config.yaml":
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
        record = RunDir(run)
        assert record.read_summary().epochs_completed == 2 and [r.epoch for r in record.read_metrics()] == [1, 2]
        assert "trainer.epochs=2" in record.overrides()
        return
    line = one_line_error(result)
    assert "config.yaml" in line and "anchor or alias" in line, line
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"} == before


def test_override_values_nested_deep_or_of_5000_digits_are_collected_as_text(tmp_path, trained_run):
    """collect reads each override's value as YAML (0.1 is a number): a value nested 100,000
    deep was a RecursionError, one of 5,000 digits a ValueError. Now such a value is text."""
    sweep, _ = attacked_sweep(tmp_path, trained_run, attacks={})
    (sweep / "good-a" / ".hydra" / "overrides.yaml").write_text("- trainer.note=" + "[" * 100_000 + "\n")
    (sweep / "good-b" / ".hydra" / "overrides.yaml").write_text("- trainer.note=" + "9" * 5000 + "\n")
    collected = run_module("nnsweep.sweeps.keeper", str(sweep), cwd=tmp_path, timeout=120)
    assert collected.returncode == 0 and collected.stderr == "", collected.stderr[-3000:]
    notes = sorted(row["trainer.note"] for row in csv.DictReader(open(sweep / "runs.csv")))
    assert notes == ["9" * 5000, "[" * 100_000]


TRIAL_LOG_ATTACKS = {
    "nested 100,000 deep": '{"format": "nnsweep-trials", "version": 2, "settings": '
    + "[" * 100_000
    + "]" * 100_000
    + "}",
    "a 401-digit objective": json.dumps(
        {
            "format": "nnsweep-trials",
            "version": 2,
            "settings": {"method": "tpe", "names": ["optimizer.lr"]},
            "trials": [
                {
                    "number": 0,
                    "job": 0,
                    "run_dir": "good-a",
                    "point": [0.1],
                    "params": {"optimizer.lr": 0.1},
                    "objective": 10**400,
                    "status": "ok",
                    "told": -0.5,
                    "epochs": 1,
                    "rungs": [],
                }
            ],
            "rounds": [{"asked": [0], "trained": [[0, 1]], "told": [0]}],
            "crashes": {},
        }
    ),
}


@pytest.mark.parametrize("case", list(TRIAL_LOG_ATTACKS))
def test_a_damaged_trial_log_is_one_warning_in_collect_and_the_report(tmp_path, trained_run, case):
    sweep, _ = attacked_sweep(tmp_path, trained_run, attacks={})
    (sweep / "trials.json").write_text(TRIAL_LOG_ATTACKS[case])
    for module, args in (("nnsweep.sweeps.keeper", ()), ("nnsweep.reports", ("--force",))):
        result = run_module(module, str(sweep), *args, cwd=tmp_path, timeout=300)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (module, result.stderr[-3000:])
        assert len(warnings_naming(result.stderr, sweep / "trials.json")) == 1, (module, result.stderr[-3000:])
    assert len(list(csv.DictReader(open(sweep / "runs.csv")))) == 2
    assert (sweep / "report" / "index.html").is_file()


def runs_served_beside(run, sweep) -> tuple[list, str]:
    """``serve run=<run> compare=[<sweep>]``: the runs its page offers, and what it warned (no
    traceback)."""
    from tests.experiments.test_serve import call, start_server, stop_server

    process, address = start_server(f"run={run}", f"compare=[{sweep}]", "best=10")
    try:
        runs = call(f"http://{address}/api/runs")[1]["runs"]
    finally:
        _, err = stop_server(process)
    assert "Traceback" not in err, err[-3000:]
    return runs, err


def test_serve_compare_leaves_out_each_damaged_run_with_one_warning(tmp_path, trained_run):
    """``serve compare=<sweep>``: a damaged summary or overrides (read to rank and name the runs)
    or config (read to load the model) leaves that run out with one warning; the others are
    offered (metrics.csv is not read to serve a run)."""
    sweep, damaged = attacked_sweep(tmp_path, trained_run)
    for number, run in enumerate(sorted(sweep.iterdir())):  # names that tell the runs apart
        overrides = run / ".hydra" / "overrides.yaml"
        if overrides.read_text() != ALIAS_BOMB:
            overrides.write_text(f"- trainer.seed={number}\n")
    runs, err = runs_served_beside(trained_run, sweep)
    for case, path in damaged.items():
        lines = [
            line
            for line in err.splitlines()
            if str(path.parent if "hydra" not in str(path) else path.parents[1]) in line
        ]
        assert len(lines) == (0 if case == "inf in metrics" else 1), (case, err[-3000:])
    assert sorted(r["path"].rsplit("/", 1)[1] for r in runs[1:]) == ["attacked-4", "good-a", "good-b"]


@pytest.mark.parametrize("case", list(TRIAL_LOG_ATTACKS))
def test_resuming_a_search_whose_trial_log_is_damaged_is_one_line_and_trains_nothing(tmp_path, case):
    """The rerun of a search reads its trial log to replay it: a RecursionError or OverflowError
    before, one line and exit 2 now, the log left as it is."""
    sweep = tmp_path / "s"
    sweep.mkdir()
    (sweep / "trials.json").write_text(TRIAL_LOG_ATTACKS[case])
    line = one_line_error(
        run_module(
            "nnsweep.experiments.train",
            "-m",
            "hydra/sweeper=skopt",
            "optimizer.lr=interval(0.05, 0.5)",
            *TINY,
            "trainer.epochs=1",
            f"hydra.sweep.dir={sweep}",
            cwd=tmp_path,
            timeout=120,
        )
    )
    assert "trials.json is damaged" in line and ("deeper than" in line or "401 digits" in line), line
    assert not list(tmp_path.glob("**/model.npz")) and (sweep / "trials.json").read_text() == TRIAL_LOG_ATTACKS[case]


# ----- issue 22: a failed run removes only what it created; no write follows a planted link -----
MISSING_DATA = ["data=csv", "data.train_csv=missing.csv"]  # fails when the data loads, after Hydra made the run dir


def test_a_failed_run_keeps_a_folder_it_did_not_create_with_everything_in_it(tmp_path):
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "notes.txt").write_text("x")
    assert "missing.csv does not exist" in one_line_error(train(tmp_path, "hydra.run.dir=mydocs", *MISSING_DATA))
    assert sorted(p.name for p in docs.iterdir()) == ["notes.txt"]  # and none of the run's own files
    assert (docs / "notes.txt").read_text() == "x"


def test_a_failed_run_keeps_a_folder_of_finished_runs_in_subfolders(tmp_path):
    old = tmp_path / "results" / "lr-0.1"
    old.mkdir(parents=True)
    (old / "summary.json").write_text('{"status": "ok"}')
    (old / "metrics.csv").write_text("epoch\n1\n")
    one_line_error(train(tmp_path, "hydra.run.dir=results", *MISSING_DATA))
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["lr-0.1"]
    assert sorted(p.name for p in old.iterdir()) == ["metrics.csv", "summary.json"]


def test_a_failed_run_into_the_current_directory_keeps_it(tmp_path):
    (tmp_path / "paper.tex").write_text("mine")
    one_line_error(train(tmp_path, "hydra.run.dir=.", *MISSING_DATA))
    assert tmp_path.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["paper.tex"]


def test_a_failed_run_removes_the_directories_it_created_and_only_those(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("mine")
    one_line_error(train(tmp_path, "hydra.run.dir=runs/new/one", *MISSING_DATA))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["keep.txt"]  # new/one made and removed


def test_ctrl_c_while_the_data_loads_keeps_the_folder_and_says_finished_work_is_kept(tmp_path):
    """The download waits on a mirror that accepts the connection and never answers: the run is
    inside its data loading when Ctrl-C comes."""
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "notes.txt").write_text("x")
    with run_waiting_for_its_data(tmp_path, docs) as proc:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    assert "interrupted" in (tmp_path / "log").read_text()
    assert sorted(p.name for p in docs.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("name", [".lock", "train.log"])
def test_a_link_planted_in_a_run_directory_is_refused_and_its_target_untouched(tmp_path, name):
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / name).symlink_to(target)
    line = one_line_error(train(tmp_path, f"hydra.run.dir={run}"))
    assert f"{run / name} is a symbolic link" in line
    assert target.read_text() == "precious"
    assert not (run / "metrics.csv").exists()


def test_a_link_planted_at_a_resumed_runs_metrics_or_summary_is_never_written_through(tmp_path):
    run = tmp_path / "run"
    assert train(tmp_path, "trainer.epochs=1", f"hydra.run.dir={run}").returncode == 0
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(target)  # replaced by the atomic write, never followed
    again = train(tmp_path, "resume=true", f"hydra.run.dir={run}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert target.read_text() == "precious" and not (run / "summary.json").is_symlink()
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").symlink_to(target)  # a resume rewrites it from the checkpoint: replaced too
    again = train(tmp_path, "resume=true", "trainer.epochs=3", f"hydra.run.dir={run}")
    assert again.returncode == 0, again.stderr[-2000:]
    assert target.read_text() == "precious" and not (run / "metrics.csv").is_symlink()
    assert (run / "metrics.csv").read_text().count("\n") == 4  # the header and epochs 1-3


def test_the_default_outputs_in_a_read_only_directory_is_one_line(tmp_path):
    """The default run directory, outputs/..., under a current directory nobody may write (root
    runs without its capability to write anywhere, as setpriv allows)."""
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    command = [sys.executable, "-m", "nnsweep.experiments.train", "trainer.epochs=1"]
    if os.getuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root writes anywhere, and setpriv (util-linux) is not there to drop that")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(command, cwd=readonly, env=env, capture_output=True, text=True, timeout=300)
    line = one_line_error(result)
    assert "cannot create outputs/" in line and f"the current directory ({readonly})" in line
    assert "run from a writable directory, or pass hydra.run.dir=" in line
    assert list(readonly.iterdir()) == []


def test_lrs_is_capped_like_num(tmp_path):
    rates = ",".join(str(0.001 * (i + 1)) for i in range(201))
    (tmp_path / "file").write_text("in the way")  # the old code would start 201 runs; this stops it
    line = one_line_error(lr_sweep(tmp_path, "--lrs", rates, "--sweep-dir", str(tmp_path / "file" / "s")))
    assert "--lrs gives 201 rates; at most 200" in line


# ----- issue 22, round 2: settings, summaries and metrics that no training writes ----------------
def _config_with(run, old: str, new: str) -> str:
    text = (run / ".hydra" / "config.yaml").read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def _lr_config(value: str):
    return lambda run: _config_with(run, "  lr: " + _recorded_lr(run), f"  lr: {value}")


def _recorded_lr(run) -> str:
    line = next(line for line in (run / ".hydra" / "config.yaml").read_text().splitlines() if line.startswith("  lr: "))
    return line.split(": ", 1)[1]


# Runs whose settings are damaged: left out of runs.csv with one warning (the report refused
# the whole table for one of them, and "collect the sweep again" changed nothing).
SETTING_ATTACKS = {
    "override lr=abc": (".hydra/overrides.yaml", lambda run: "- optimizer.lr=abc\n"),
    "override lr=${oc.env:HOME}": (".hydra/overrides.yaml", lambda run: "- optimizer.lr=${oc.env:HOME}\n"),
    "config lr: abc": (".hydra/config.yaml", _lr_config("abc")),
    "config batch_size: 2.5": (
        ".hydra/config.yaml",
        lambda run: _config_with(run, "  batch_size: ", "  batch_size: 2.5 #"),
    ),
}
# Damaged files the run's row names in its error column, as before (its numbers are not shown).
FILE_ATTACKS = {
    "summary accuracy 1e308": ("summary.json", lambda run: _summary_with(run, best_val_acc=1e308)),
    "summary of 200 KB of escaped quotes": ("summary.json", lambda run: '"\\' * 100_000),
    "metrics of 400,000 rows": (
        "metrics.csv",
        lambda run: (
            (run / "metrics.csv").read_text().splitlines()[0]
            + "\n"
            + "".join(
                (run / "metrics.csv").read_text().splitlines()[1].replace("1,", f"{i},", 1) + "\n"
                for i in range(1, 400_001)
            )
        ),
    ),
    "config noun: a date": (".hydra/config.yaml", lambda run: _config_with(run, "  noun: digit", "  noun: 2001-01-01")),
    "config lr: a date": (".hydra/config.yaml", _lr_config("2001-01-01")),
}


def test_damaged_settings_leave_the_run_out_and_damaged_numbers_are_named_and_the_page_is_drawn(tmp_path, trained_run):
    """Before: ``optimizer.lr=abc`` in overrides.yaml was a ValueError traceback in collect; lr
    ``abc`` or a date in config.yaml went into runs.csv and the report refused the whole sweep;
    best_val_acc 1e308 was "Best: ... inf%"; 400,000 rows of metrics beside a one-epoch summary
    passed (767 MB); 200 KB of escaped quotes in a summary took minutes. Now each is one
    warning naming the run, runs with damaged settings are left out, the others kept, and the
    report is drawn."""
    sweep, damaged = attacked_sweep(tmp_path, trained_run, attacks={**SETTING_ATTACKS, **FILE_ATTACKS})
    started = time.monotonic()
    collected = run_module("nnsweep.sweeps.keeper", str(sweep), cwd=tmp_path, timeout=300)
    took = time.monotonic() - started
    assert collected.returncode == 0 and "Traceback" not in collected.stderr, collected.stderr[-3000:]
    assert took < 30, took
    for case, path in damaged.items():
        run = path.parents[1] if ".hydra" in str(path) else path.parent
        lines = [line for line in collected.stderr.splitlines() if str(run) in line]
        assert len(lines) == 1 and lines[0].startswith("nnsweep: warning:"), (case, collected.stderr[-3000:])
        if case in SETTING_ATTACKS:
            assert "left out" in lines[0] and "settings are damaged" in lines[0], lines[0]
    rows = list(csv.DictReader(open(sweep / "runs.csv")))
    kept = sorted(row["run"] for row in rows)
    left_out = {
        (p.parents[1] if ".hydra" in str(p) else p.parent).name for c, p in damaged.items() if c in SETTING_ATTACKS
    }
    assert kept == sorted({"good-a", "good-b", *(p.name for p in sweep.iterdir() if p.is_dir())} - left_out), kept
    assert all(row["lr"] in ("", _recorded_lr(trained_run)) for row in rows), [row["lr"] for row in rows]
    assert "inf%" not in collected.stdout
    report = run_module("nnsweep.reports", str(sweep), "--force", cwd=tmp_path, timeout=300)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr[-3000:]
    page = (sweep / "report" / "index.html").read_text()
    assert "inf%" not in page


def test_resume_of_a_run_whose_config_holds_a_date_is_one_line_naming_the_file(tmp_path, trained_run):
    """Before: Hydra's "Error executing job ..." and "Value 'date' is not a supported primitive
    type", naming no file."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / ".hydra" / "config.yaml").write_text(_config_with(run, "  noun: digit", "  noun: 2001-01-01"))
    line = one_line_error(
        run_module(
            "nnsweep.experiments.train",
            *TINY,
            "trainer.epochs=2",
            "resume=true",
            f"hydra.run.dir={run}",
            cwd=tmp_path,
            timeout=60,
        )
    )
    assert "config.yaml" in line and "YAML timestamp" in line, line


def test_a_summary_claiming_10_to_the_39_epochs_is_rewritten_by_a_resume(tmp_path, trained_run):
    """Before: every resume refused for good ("has trained 1000...0 epochs; trainer.epochs=2 would
    take them back"). The summary claims more than the run was asked for and than metrics.csv
    holds: damage, which a resume rewrites from the checkpoint."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "summary.json").write_text(_summary_with(run, epochs_completed=10**39))
    result = run_module(
        "nnsweep.experiments.train",
        *TINY,
        "trainer.epochs=2",
        "resume=true",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    said = result.stdout + result.stderr
    assert "summary.json is unreadable" in said and "rewritten from the checkpoint" in said, said[-2000:]
    assert RunDir(run).read_summary().epochs_completed == 2 and len(RunDir(run).read_metrics()) == 2


def test_serve_leaves_out_a_run_whose_class_names_or_noun_are_damaged_and_refuses_it_as_run(tmp_path, trained_run):
    """``class_names: 5``: a TypeError traceback and exit 1 before; a date as noun: the server did
    not start. Now compare= leaves such a run out with one warning, and run= is one line."""
    sweep = tmp_path / "sweep"
    edits = {
        "good": ("  noun: digit", "  noun: digit"),
        "five": ("  class_names: null", "  class_names: 5"),
        "date": ("  noun: digit", "  noun: 2001-01-01"),
        "set": ("  noun: digit", "  noun: !!set {a, b}"),
    }
    for seed, (name, (old, new)) in enumerate(edits.items()):
        shutil.copytree(trained_run, sweep / name)
        (sweep / name / ".hydra" / "config.yaml").write_text(_config_with(sweep / name, old, new))
        (sweep / name / ".hydra" / "overrides.yaml").write_text(f"- trainer.seed={seed}\n")
    runs, err = runs_served_beside(trained_run, sweep)
    for name in ("five", "date", "set"):
        lines = [line for line in err.splitlines() if str(sweep / name) in line]
        assert len(lines) == 1 and "left out" in lines[0] and "config.yaml" in lines[0], (name, err[-3000:])
    assert [r["path"].rsplit("/", 1)[1] for r in runs[1:]] == ["good"]
    line = one_line_error(
        run_module("nnsweep.experiments.serve", f"run={sweep / 'five'}", "port=0", cwd=tmp_path, timeout=60)
    )
    assert "class_names" in line and "config.yaml" in line, line


def test_a_sweep_rerun_reads_a_job_number_of_inf_as_unrecorded(tmp_path):
    """``num: .inf`` in one run's hydra.yaml: OverflowError (int of infinity) when the sweep ran
    again with one more point. Now the YAML reader refuses the number and the job number is
    unrecorded: the sweep goes on."""
    sweep = tmp_path / "sw"
    grid = ["-m", *TINY, "trainer.epochs=1", f"hydra.sweep.dir={sweep}"]
    first = run_module("nnsweep.experiments.train", *grid, "optimizer.lr=0.1,0.5", cwd=tmp_path, timeout=180)
    assert first.returncode == 0, first.stderr[-2000:]
    hydra_yaml = next(sweep.glob("*lr=0.1*")) / ".hydra" / "hydra.yaml"
    hydra_yaml.write_text(hydra_yaml.read_text().replace("    num: 0\n", "    num: .inf\n", 1))
    again = run_module("nnsweep.experiments.train", *grid, "optimizer.lr=0.1,0.5,0.3", cwd=tmp_path, timeout=180)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-2000:]
    assert len(list(sweep.glob("*/summary.json"))) == 3
