"""What a person reads while runs train: log lines above the progress bars, log lines that name
their job in a sweep, and no alarm when a fresh run starts with resume=true."""

import fcntl
import io
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading

import pytest

from nnsweep.experiments.progress import EpochProgress, JobFormatter
from tests.experiments.conftest import REPO, run_module

TINY = ["net=mlp", "net.hidden=[16]", "data.train_limit=300"]
FRESH_START_ALARM = re.compile(r"no checkpoint|starting from epoch 1", re.IGNORECASE)
LOG_LINE = re.compile(r"\[\d{4}-\d\d-\d\d [\d:,]+\]\[nnsweep\.train\]\[INFO\] - epoch \d/2 ")


# ----- log lines and progress bars --------------------------------------------------------
class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws its bars into it."""

    def isatty(self) -> bool:
        return True


def text_before_on_its_line(output: str, index: int) -> str:
    """What was drawn on the terminal line before ``output[index]`` (after the last CR or LF)."""
    start = max(output.rfind("\r", 0, index), output.rfind("\n", 0, index)) + 1
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output[start:index])  # cursor movements draw nothing


@pytest.mark.parametrize("enabled", [True, False])
def test_a_line_logged_while_the_bars_are_shown_is_printed_above_them(monkeypatch, enabled):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logging.StreamHandler(terminal)  # as Hydra's console handler, on the same terminal
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with EpochProgress(epochs=2, n_train=100, batch_size=10, enabled=enabled) as progress:
            progress.start(0)
            progress.batches(4)
            assert (handler in root.handlers) is not enabled  # replaced by tqdm's while bars are shown
            logging.getLogger("nnsweep.train").info("epoch 1/2 done")
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    output = terminal.getvalue()
    assert output.count("LOG epoch 1/2 done\n") == 1
    assert text_before_on_its_line(output, output.index("LOG epoch")).strip() == ""
    assert ("batches:" in output) is enabled


def on_a_terminal(*args: str) -> str:
    """``nnsweep.experiments.train args`` with stdout and stderr on one pseudo-terminal, as in a shell;
    everything it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows, 120 columns
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnsweep.experiments.train", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_real_run_on_a_terminal_prints_its_epoch_lines_above_the_bars(tmp_path):
    output = on_a_terminal(*TINY, "trainer.epochs=2", "trainer.progress=true", f"hydra.run.dir={tmp_path / 'run'}")
    assert "batches:" in output and "epochs:" in output, output[-2000:]  # the bars were drawn
    starts = [m.start() for m in LOG_LINE.finditer(output)]
    assert len(starts) == 2, output[-3000:]
    for start in starts:
        assert text_before_on_its_line(output, start).strip() == "", repr(output[max(0, start - 200) : start + 80])


def test_the_jobs_of_a_sweep_on_a_terminal_draw_no_bars(tmp_path):
    """Parallel workers drawing bars on one terminal overwrite each other and the sweep's lines."""
    output = on_a_terminal(
        "-m",
        *TINY,
        "trainer.epochs=2",
        "trainer.progress=true",
        "optimizer.lr=0.1,1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert "2/2 done" in output, output[-2000:]
    assert not re.search(r"(epochs|batches):\s*\d+%", output), output[-2000:]  # tqdm's "epochs:  50%|..."


# ----- which job a line belongs to ------------------------------------------------------------
def record(message: str = "epoch 1/2") -> logging.LogRecord:
    return logging.LogRecord("nnsweep.train", logging.INFO, __file__, 1, message, None, None)


FORMAT = "[%(asctime)s]%(job)s[%(name)s][%(levelname)s] - %(message)s"


def test_a_sweep_job_names_itself_and_a_single_run_keeps_hydras_plain_line():
    tagged = JobFormatter(FORMAT, job=3, overrides="optimizer.lr=0.01,trainer.seed=1").format(record())
    assert re.fullmatch(
        r"\[[\d :,-]+\]\[job 3: optimizer.lr=0.01,trainer.seed=1\]\[nnsweep.train\]\[INFO\] - "
        r"epoch 1/2",
        tagged,
    ), tagged
    assert JobFormatter(FORMAT, job=0, overrides="").format(record()).split("]", 2)[1] == "[job 0"
    assert re.fullmatch(r"\[[\d :,-]+\]\[nnsweep.train\]\[INFO\] - epoch 1/2", JobFormatter(FORMAT).format(record()))
    percent = JobFormatter(FORMAT, job=1, overrides="name=100%").format(record())  # no %-formatting of overrides
    assert "[job 1: name=100%]" in percent


def test_a_line_from_another_thread_of_the_jobs_process_is_not_the_jobs():
    """A sweeper's progress thread, when the launcher runs jobs in the sweeper's process."""
    formatter = JobFormatter(FORMAT, job=2, overrides="x=1")
    lines = []
    thread = threading.Thread(target=lambda: lines.append(formatter.format(record("sweep 1/4 done"))))
    thread.start()
    thread.join()
    assert "[job" not in lines[0] and lines[0].endswith("[nnsweep.train][INFO] - sweep 1/4 done")


@pytest.fixture(scope="module")
def sweep_output(tmp_path_factory):
    """A real grid: two runs at optimizer.lr=0.01 that differ only in their seed."""
    sweep = tmp_path_factory.mktemp("logs") / "grid"
    result = run_module(
        "nnsweep.experiments.train",
        "-m",
        *TINY,
        "trainer.progress=false",
        "trainer.epochs=1",
        "optimizer.lr=0.01",
        "trainer.seed=0,1",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout + result.stderr


def test_the_log_lines_of_two_jobs_at_the_same_lr_can_be_told_apart(sweep_output):
    finished = [line for line in sweep_output.splitlines() if "ok after 1 epochs" in line]
    assert len(finished) == 2, sweep_output[-3000:]
    # [time][job 0: <its overrides>][nnsweep.train][INFO] - ...
    tags = sorted(line.split("][nnsweep.train]")[0].split("][", 1)[1] for line in finished)
    assert tags[0].startswith("job 0: ") and tags[0].endswith("optimizer.lr=0.01,trainer.epochs=1,trainer.seed=0")
    assert tags[1].startswith("job 1: ") and tags[1].endswith("optimizer.lr=0.01,trainer.epochs=1,trainer.seed=1")
    for line in sweep_output.splitlines():
        if "[nnsweep.train]" in line:
            assert "[job 0: " in line or "[job 1: " in line, line


def test_a_fresh_sweep_job_does_not_report_a_missing_checkpoint(sweep_output):
    assert "ok after 1 epochs" in sweep_output
    assert not FRESH_START_ALARM.search(sweep_output), sweep_output[-3000:]


def test_a_single_run_started_with_resume_true_starts_quietly_and_untagged(tmp_path):
    result = run_module(
        "nnsweep.experiments.train",
        *TINY,
        "trainer.progress=false",
        "trainer.epochs=1",
        "resume=true",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "ok after 1 epochs" in output and "[nnsweep.train][INFO] - epoch 1/1" in output
    assert not FRESH_START_ALARM.search(output), output
    assert "[job" not in output
