"""Issue 22, second round: no write follows a symbolic link planted at a directory nnsweep
writes into (a run's .hydra/, a sweep's run folder, report/, report/portraits/); a command
removes or overwrites only what it created; Ctrl-C is one line, whenever it comes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.experiments.conftest import REPO, run_module
from tests.reliability.conftest import TINY, TINY_LR, run_waiting_for_its_data, start_module, wait_for
from tests.reports.synthetic import write_sweep

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

LINK_REFUSED = "is a symbolic link; nnsweep does not write through links in its run, sweep and report directories"


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("nnsweep: error:"), result.stderr[-2000:]
    return lines[0]


def train(tmp_path, *args):
    return run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=1", *args, cwd=tmp_path)


def test_a_link_planted_at_a_runs_hydra_folder_is_refused_and_its_target_untouched(tmp_path):
    target, run = tmp_path / "elsewhere", tmp_path / "run"
    target.mkdir()
    run.mkdir()
    (run / ".hydra").symlink_to(target)
    line = one_line_error(train(tmp_path, f"hydra.run.dir={run}"))
    assert f"{run / '.hydra'} {LINK_REFUSED}" in line
    assert list(target.iterdir()) == [] and not (run / "metrics.csv").exists()


def test_a_run_directory_the_user_names_may_be_a_link(tmp_path):
    """The user gave it: only links inside a run, sweep or report directory are refused."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "mine").symlink_to(real)
    result = train(tmp_path, f"hydra.run.dir={tmp_path / 'mine'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (real / "summary.json").is_file() and (real / ".hydra" / "config.yaml").is_file()


def test_a_sweeps_run_folder_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    sweep, target = tmp_path / "grid", tmp_path / "elsewhere"
    target.mkdir()
    sweep.mkdir()
    (sweep / "optimizer.lr=0.1").symlink_to(target)
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "optimizer.lr=0.1",
        *TINY,
        "trainer.epochs=1",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
        "hydra.job.config.override_dirname."
        "exclude_keys=[net,net.hidden,data.train_limit,trainer.progress,trainer.epochs,hydra.launcher."
        "n_jobs]",
        cwd=tmp_path,
    )
    lines = result.stderr.strip().splitlines()
    assert (
        result.returncode == 2
        and lines[-1] == f"nnsweep: error: {sweep / 'optimizer.lr=0.1'} {LINK_REFUSED}: remove it and rerun"
    ), result.stderr[-2000:]
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("planted", ["report", "report/portraits"])
def test_a_link_planted_at_report_or_its_portraits_is_refused_and_its_target_untouched(tmp_path, planted):
    sweep, target = tmp_path / "lr", tmp_path / "elsewhere"
    write_sweep(sweep, model=True)
    target.mkdir()
    (target / "index.html").write_text("ORIG")
    (sweep / planted).parent.mkdir(parents=True, exist_ok=True)
    (sweep / planted).symlink_to(target)
    line = one_line_error(run_module("nnsweep.reports", str(sweep)))
    assert f"{sweep / planted} {LINK_REFUSED}" in line
    assert sorted(p.name for p in target.iterdir()) == ["index.html"] and (target / "index.html").read_text() == "ORIG"


def test_resume_without_a_checkpoint_refuses_and_keeps_the_runs_records(tmp_path):
    run = tmp_path / "r"
    assert train(tmp_path, f"hydra.run.dir={run}", "trainer.epochs=3").returncode == 0
    assert run_module("nnsweep.experiments.evaluate", f"run={run}", "weights=final", cwd=tmp_path).returncode == 0
    (run / "model.npz").rename(tmp_path / "model.npz")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name not in ("train.log", ".lock")}
    assert {"metrics.csv", "summary.json", "evaluation-final-own.json"} <= set(before)
    line = one_line_error(train(tmp_path, f"hydra.run.dir={run}", "trainer.epochs=5", "resume=true"))
    assert f"{run} holds a run's records (3 epochs) but no checkpoint (model.npz)" in line
    assert "restore model.npz" in line and "new run directory" in line
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name in before} == before


def test_a_fresh_run_keeps_the_users_files_in_an_existing_folder(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "evaluation-mine.json").write_text("keep")
    (folder / "test_errors-mine.npz").write_text("keep too")
    result = train(tmp_path, f"hydra.run.dir={folder}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (folder / "evaluation-mine.json").read_text() == "keep"
    assert (folder / "test_errors-mine.npz").read_text() == "keep too"
    assert (folder / "summary.json").is_file()


@pytest.mark.parametrize("resume", ["false", "true"])
def test_a_summary_json_that_is_not_a_run_record_is_refused_not_replaced(tmp_path, resume):
    folder = tmp_path / "d3"
    folder.mkdir()
    (folder / "summary.json").write_text("hello\n")
    line = one_line_error(train(tmp_path, f"hydra.run.dir={folder}", f"resume={resume}"))
    assert f"{folder / 'summary.json'} is not a run summary nnsweep can read" in line and "rewritten" not in line
    assert (folder / "summary.json").read_text() == "hello\n" and not (folder / "metrics.csv").exists()


def test_a_sweep_with_only_bookkeeping_overrides_trains_in_its_own_folder(tmp_path):
    """Hydra's override_dirname is empty: the job's folder was the sweep's, and the job waited
    120 s on the sweep's own lock, then failed (exit 1)."""
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        "sweep=k2",
        "trainer.progress=false",
        *TINY[:3],
        "trainer.epochs=1",
        "hydra.job.config.override_dirname.exclude_keys=[sweep,trainer.progress,"
        "net,net.hidden,data.train_limit,trainer.epochs]",
        cwd=tmp_path,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "multirun" / "k2" / "defaults" / "summary.json").is_file()
    assert not (tmp_path / "multirun" / "k2" / "summary.json").exists()


@pytest.mark.skipif(
    not (Path("/sys").is_dir() and os.access("/sys", os.W_OK)),
    reason="needs a directory whose permission bits allow a write its file system refuses (/sys, to root)",
)
def test_a_current_directory_whose_file_system_refuses_the_default_outputs_is_one_line():
    """The permission check passes (root), Hydra's mkdir of outputs/ fails: a 50-line traceback."""
    line = one_line_error(run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=1", cwd=Path("/sys")))
    assert line.startswith("nnsweep: error: cannot write /sys/outputs: ")


# ----- Ctrl-C --------------------------------------------------------------------------------
SOURCE = {"PYTHONPATH": str(REPO / "src")}  # this checkout's code, whatever .venv has installed


def interrupt(proc, log: Path, group: bool = True) -> list[str]:
    """Send SIGINT (to the process group, as a terminal does) and return the output's lines
    once the command ended and its children had time to print anything more."""
    (os.killpg if group else os.kill)(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=120)
    time.sleep(2.0)  # a worker that outlives its parent (the lifeline's second) would print now
    return [code, *log.read_text().strip().splitlines()]


@pytest.mark.parametrize("module", ["nnsweep.experiments.train", "nnsweep.sweep_lr"])
@pytest.mark.parametrize("after", [0.25, 0.5])
def test_ctrl_c_while_a_command_starts_is_one_line(tmp_path, module, after):
    """Within half a second of the start, Ctrl-C gave a 30-line KeyboardInterrupt traceback."""
    args = (
        [*TINY, f"hydra.run.dir={tmp_path / 'run'}"]
        if module == "nnsweep.experiments.train"
        else ["--epochs", "1", "--lrs", "0.1,1", *TINY_LR, "--sweep-dir", str(tmp_path / "sweep")]
    )
    proc = start_module(module, *args, log=tmp_path / "log", env=SOURCE)
    time.sleep(after)
    code, *lines = interrupt(proc, tmp_path / "log")
    # one line, and before it at most the learning-rate sweep's first (where it sweeps what)
    assert code == 130 and lines[-1].startswith("nnsweep: interrupted"), lines
    assert all(line.startswith("learning-rate sweep in ") for line in lines[:-1]) and len(lines) <= 2, lines


def test_ctrl_c_during_a_sweep_is_the_last_line_printed(tmp_path):
    """Finished jobs' lines and two lifeline warnings printed after "nnsweep: interrupted"."""
    sweep = tmp_path / "sweep"
    proc = start_module(
        "nnsweep.sweep_lr",
        "--epochs",
        "40",
        "--lrs",
        "0.1,1",
        *TINY_LR,
        "--sweep-dir",
        str(sweep),
        log=tmp_path / "log",
        env=SOURCE,
    )
    try:
        wait_for(lambda: len(list(sweep.glob("*/metrics.csv"))) == 2, 120, "both runs to train")
        code, *lines = interrupt(proc, tmp_path / "log")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130 and lines[-1].startswith("nnsweep: interrupted"), lines[-5:]


def test_ctrl_c_before_a_sweep_wrote_anything_leaves_no_folder(tmp_path):
    """The new sweep folder (and its new parent) held only the lock's .lock file."""
    sweep = tmp_path / "results" / "lr"
    proc = start_module(
        "nnsweep.sweep_lr",
        "--epochs",
        "1",
        "--lrs",
        "0.1,1",
        *TINY_LR,
        "--sweep-dir",
        str(sweep),
        log=tmp_path / "log",
        env=SOURCE,
    )
    try:
        wait_for(lambda: (sweep / ".lock").exists(), 120, "the sweep to take its lock")
        code, *lines = interrupt(proc, tmp_path / "log")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130 and lines[-1] == (
        "nnsweep: interrupted before the sweep's first run started: nothing had "
        "finished, nothing was kept; rerun the same command to start it"
    ), lines
    assert not (tmp_path / "results").exists()


def test_ctrl_c_inside_a_dataclass_being_built_still_exits_130(tmp_path):
    """Ctrl-C while an import builds a dataclass (``dataclasses`` runs ``exec`` on a string):
    CPython 3.11 remembered that KeyboardInterrupt as unhandled although the command caught it,
    and after the command's line and exit 130 killed the process with SIGINT (status -2; 1 in
    about 30 sweeps interrupted as they started, in CI). A command run as ``python -m``."""
    (tmp_path / "interrupted_command.py").write_text(
        "import sys; sys.argv = ['nnsweep']\n"
        "from nnsweep.experiments.startup import quiet_start; quiet_start()\n"
        "from nnsweep.experiments.cli import run_command\n"
        "def main():\n"
        "    exec('raise KeyboardInterrupt')  # where a dataclass's __init__ is built\n"
        "run_command(main)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{SOURCE['PYTHONPATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "interrupted_command"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 130 and result.stderr.strip().splitlines() == [
        "nnsweep: interrupted; rerun the same command to continue (finished work is kept)"
    ], (result.returncode, result.stderr)


def test_a_single_run_interrupted_before_it_recorded_anything_says_so(tmp_path):
    """It said "rerun the same command to continue (finished work is kept)": nothing had finished."""
    docs = tmp_path / "docs"
    with run_waiting_for_its_data(tmp_path, docs, env=SOURCE) as proc:
        code, *lines = interrupt(proc, tmp_path / "log")
    assert code == 130 and lines == [
        "nnsweep: interrupted before the run recorded anything: nothing had finished, "
        "nothing was kept; rerun the same command to start it"
    ]
    assert not docs.exists()


SLOW_DRAWS = """
import sys, time
from pathlib import Path
from nnsweep.experiments.cli import run_command
from nnsweep.core.atomic import atomic_write
from nnsweep.reports.cache import draw_side_by_side

out = Path(sys.argv[1])

def slow(f):
    f.write(b"half a figure")
    time.sleep(60)  # a figure that takes long to draw

run_command(lambda: draw_side_by_side([lambda: atomic_write(out / "a.png", slow),
                                       lambda: atomic_write(out / "b.png", slow)], (out,)))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="figures are drawn in worker processes on 2 cores or more")
@pytest.mark.parametrize("group", [True, False])
def test_ctrl_c_while_a_report_draws_leaves_no_temporary_file(tmp_path, group):
    """Its pool's SIGTERM ended a drawing worker mid-write: .heatmap_gap.png.<random>.tmp stayed."""
    out = tmp_path / "report"
    out.mkdir()
    log = tmp_path / "log"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_DRAWS, str(out)],
        cwd=tmp_path,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    try:
        wait_for(lambda: len(list(out.glob(".*.tmp"))) == 2, 60, "both figures to be half written")
        code, *lines = interrupt(proc, log, group=group)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 130 and lines == ["nnsweep: interrupted; rerun the same command to continue (finished work is kept)"]
    assert list(out.iterdir()) == []


def test_an_error_after_ctrl_c_is_the_interrupt_not_bad_input(monkeypatch, capsys):
    """Ctrl-C inside Hydra's composition left OmegaConf half-changed, and the command then said
    "nnsweep: error: 'NoneType' object has no attribute '_invalidate_flags_cache'" and exit 2 (one
    clean-clone run in ten). An exception that follows a Ctrl-C is the interrupt's: one line, 130."""
    from nnsweep.experiments import startup
    from nnsweep.experiments.cli import run_command

    def broken_by_the_interrupt():
        monkeypatch.setattr(startup, "_ctrl_c_seen", True)  # what the handler records
        raise AttributeError("'NoneType' object has no attribute '_invalidate_flags_cache'")

    with pytest.raises(SystemExit) as ended:
        run_command(broken_by_the_interrupt)
    assert ended.value.code == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "nnsweep: interrupted; rerun the same command to continue (finished work is kept)"
    ]
    monkeypatch.setattr(startup, "_ctrl_c_seen", False)
    with pytest.raises(ValueError, match="a bug, not an interrupt"):  # without a Ctrl-C: raised as before
        run_command(lambda: (_ for _ in ()).throw(ValueError("a bug, not an interrupt")))
