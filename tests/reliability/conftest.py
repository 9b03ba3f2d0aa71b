"""Real faults against the real entrypoints: processes killed with SIGKILL, full disks, corrupt
files. Each test runs in a temporary directory and asserts what must survive."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from nnsweep.runrecord import RunRecordError, find_runs
from tests.experiments.conftest import REPO, run_module

# A small, quick training setup shared by the fault tests.
TINY = ["net=mlp", "net.hidden=[16]", "data.train_limit=300", "trainer.progress=false"]
TINY_LR = ["--net", "mlp", *TINY[1:]]  # the same for nnsweep.sweeps.lr, which sets net= itself


def start_module(module: str, *args: str, log: Path, env: dict | None = None, preexec=None) -> subprocess.Popen:
    """``python -m module args`` in its own process group (so a kill reaches its workers too)."""
    out = open(log, "w")
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        start_new_session=True,
        preexec_fn=preexec,
    )


@contextmanager
def run_waiting_for_its_data(tmp_path: Path, run_dir: Path, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """A single run (output in ``tmp_path / "log"``) whose MNIST download waits on a mirror that
    accepts the connection and never answers: yielded once it holds its run's lock and has been
    inside its data loading for a second; killed at the end if it is still there."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        proc = start_module(
            "nnsweep.experiments.train",
            "data=mnist",
            f"data.root={tmp_path / 'mnist'}",
            "data.download=true",
            f"data.mirrors=[http://127.0.0.1:{port}/]",
            f"hydra.run.dir={run_dir}",
            log=tmp_path / "log",
            env=env,
        )
        try:
            wait_for(lambda: (run_dir / ".lock").exists(), 120, "the run to start loading its data")
            time.sleep(1.0)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def kill_minus_9(proc: subprocess.Popen) -> None:
    """SIGKILL the whole process group, as ``kill -9`` of a sweep and its workers would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def wait_for(condition, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finished_runs(sweep_dir: Path) -> list[Path]:
    """Run directories of ``sweep_dir`` whose run has finished (read through the run record)."""
    runs = []
    for run in find_runs(sweep_dir):
        try:
            summary = run.read_summary()
        except RunRecordError:
            continue  # being written right now
        if summary is not None and summary.status.is_finished():
            runs.append(run.path)
    return runs


def snapshot(run_dirs) -> dict[str, int]:
    """Modification times of the files a finished run owns (Hydra's own .hydra/ and log aside)."""
    stamps = {}
    for d in run_dirs:
        for name in ("metrics.csv", "summary.json", "model.npz"):
            if (Path(d) / name).exists():
                stamps[str(Path(d) / name)] = (Path(d) / name).stat().st_mtime_ns
    return stamps


def recorded_trials(sweep_dir: Path) -> list[dict]:
    try:
        return json.loads((sweep_dir / "trials.json").read_text())["trials"]
    except (OSError, json.JSONDecodeError, KeyError):
        return []


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A small finished run, trained once per test module."""
    run = tmp_path_factory.mktemp("trained") / "run"
    result = run_module("nnsweep.experiments.train", *TINY, "trainer.epochs=1", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-2000:]
    return run
