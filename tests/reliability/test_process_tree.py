"""Defects 4 and 14: a sweep's processes live and die together.

Killing only the main process of a sweep (``kill PID``, ``kill -9 PID``) used to leave its
workers training, and a rerun then trained the same runs at the same time; Ctrl-C printed
dozens of lines of tracebacks and warnings. Now the workers follow their parent, and Ctrl-C is
one line and exit 130.
"""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import pytest

from tests.experiments.conftest import run_module
from tests.reliability.conftest import TINY, TINY_LR, start_module, wait_for

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

EPOCHS = 40  # long enough to be killed in the middle of training


def sweep_command(kind: str, sweep: Path) -> tuple[str, list[str]]:
    common = [*TINY, f"trainer.epochs={EPOCHS}"]
    if kind == "lr":
        return "nnsweep.sweep_lr", [
            "--lrs",
            "0.05,0.1",
            "--batch",
            "10",
            "--jobs",
            "2",
            "--no-report",
            "--epochs",
            str(EPOCHS),
            "--sweep-dir",
            str(sweep),
            *TINY_LR,
        ]
    if kind == "grid":
        return "nnsweep.experiments.train", [
            "-m",
            "optimizer.lr=0.05,0.1",
            *common,
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep}",
        ]
    return "nnsweep.experiments.train", [
        "-m",
        "hydra/sweeper=skopt",
        "optimizer.lr=tag(log, interval(0.01, 0.3))",
        *common,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.batch_size=2",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
    ]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def training_started(sweep: Path) -> bool:
    return sum(1 for m in sweep.glob("*/metrics.csv") if len(m.read_text().splitlines()) >= 3) >= 2


def epochs_of(sweep: Path) -> list[list[int]]:
    return [[int(r["epoch"]) for r in csv.DictReader(open(m))] for m in sorted(sweep.glob("*/metrics.csv"))]


# kill -9 for each shape of process tree. A plain kill (SIGTERM) ends a sweep's main process the
# same way, since nothing in it handles the signal; it is kept once, as users type it, on the
# learning-rate sweep's tree (its multirun's workers, and nothing between them and the main process).
@pytest.mark.parametrize(
    "kind,sig", [("lr", signal.SIGKILL), ("grid", signal.SIGKILL), ("skopt", signal.SIGKILL), ("lr", signal.SIGTERM)]
)
def test_4_killing_only_the_main_process_stops_its_workers(tmp_path, kind, sig):
    sweep = tmp_path / "sweep"
    module, args = sweep_command(kind, sweep)
    proc = start_module(module, *args, log=tmp_path / "first.log")
    wait_for(lambda: training_started(sweep), what="two runs training")
    tree = descendants(proc.pid)
    assert tree, "the sweep has worker processes"
    os.kill(proc.pid, sig)  # the main process only, as `kill PID` does
    proc.wait(30)
    wait_for(lambda: not any(alive(p) for p in tree), timeout=20, what="every worker to stop")
    again = run_module(module, *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert epochs_of(sweep) == [list(range(1, EPOCHS + 1))] * 2  # each epoch trained once: nobody trained twice


@pytest.mark.parametrize("kind", ["lr", "grid", "skopt"])
def test_14_ctrl_c_is_one_line_and_exit_130(tmp_path, kind):
    sweep = tmp_path / "sweep"
    module, args = sweep_command(kind, sweep)
    log = tmp_path / "out.log"
    proc = start_module(module, *args, log=log)
    wait_for(lambda: training_started(sweep), what="two runs training")
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    assert proc.wait(30) == 130
    said = [
        line
        for line in log.read_text().splitlines()
        if line.strip() and not line.startswith(("[", "learning-rate sweep in", "range test ("))
    ]  # log lines, the plan and the range test's answer
    assert said == ["nnsweep: interrupted; rerun the same command to continue (finished work is kept)"], said
    wait_for(lambda: not any(alive(p) for p in tree), timeout=20, what="every worker to stop")
