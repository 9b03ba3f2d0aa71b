"""Train the classic runs (``nnsweep.sweeps.classics.RUNS``), two at a time on two cores.

Each run is an ordinary ``nnsweep train`` in its own process and directory,
``<out>/<group>/<key>``, started with ``resume=true``: a run that finished is reused as it is (it is
not even started: its summary says it is done), and one that was interrupted continues from its
checkpoint. So rerunning ``make classics`` after Ctrl-C continues where it stopped. The longest
runs start first, so the two cores finish together. Each process gets one BLAS thread: two
single-threaded runs side by side beat two that fight over the cores.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable, Iterable

from nnsweep.experiments.lifeline import ENV as LIFELINE
from nnsweep.nets.data.datasets import DEFAULT_DIRS
from nnsweep.nets.data.mnist_install import install_mnist
from nnsweep.runrecord import RunDir
from nnsweep.runrecord.names import RunRecordError
from nnsweep.sweeps.classics import RUNS, ClassicRun, olin_key

ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
TINY_EPOCHS = 2
TINY_TRAIN = 600  # at least the largest mini-batch of the classics (Olin's 500)
TINY_VALIDATION = 100
TINY_LEAVES_OUT = ("rashid-lr-seeds", "rashid-lr-gradient")
TINY_OLIN = {olin_key(images, 0.0001, 3.0) for images in (2, 5)}  # the original's setting
# What nnsweep evaluate adds on the official MNIST test set; with restore_best=false the final
# weights are the trained ones, so it rewrites the run's evaluation.json with these added.
HALVES_KEY = "mnist_first_5000_acc"


class RunState(StrEnum):
    reused = "reused"
    trained = "trained"
    failed = "failed"


@dataclass(frozen=True)
class RunOutcome:
    key: str
    state: RunState
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class Budget:
    """How big the runs are: the real ones, or the test-size variant (``tiny``: at most
    ``TINY_EPOCHS`` epochs on ``TINY_TRAIN`` images), on the MNIST in ``data_root``."""

    tiny: bool = False
    data_root: str | None = None

    def selects(self, run: ClassicRun) -> bool:
        """Whether the run is part of this budget: the tiny one trains the original's setting of
        Olin's grid (on 2 and on 5 images) and leaves out the runs that add no
        row (Rashid's other seeds, his network with the true gradient): enough for every part
        of the page."""
        if not self.tiny:
            return True
        return run.group not in TINY_LEAVES_OUT and (run.group != "olin-cnn" or run.key in TINY_OLIN)

    def epochs(self, run: ClassicRun) -> int:
        return min(run.epochs, TINY_EPOCHS) if self.tiny else run.epochs

    def arguments(self, run: ClassicRun) -> list[str]:
        """The run's overrides, later values of a key replacing earlier ones (Hydra refuses a key
        given twice)."""
        settings: dict[str, str] = {}
        for override in run.arguments(self.epochs(run)):
            key, _, value = override.partition("=")
            settings[key] = value
        if self.data_root is not None:
            settings["data.root"] = self.data_root
        if self.tiny:
            settings.setdefault("data.train_limit", str(TINY_TRAIN))
            if settings.get("data.val_size") != "0":
                settings["data.val_size"] = str(TINY_VALIDATION)
        return [f"{key}={value}" for key, value in settings.items()]


def run_dir(out: Path, run: ClassicRun) -> Path:
    return out / run.group / run.key


def is_finished(out: Path, run: ClassicRun, budget: Budget) -> bool:
    """Whether the run is there, done, with exactly this budget's settings (a run of the tiny
    variant is never taken for the real one: training it again refuses, in one line)."""
    directory = run_dir(out, run)
    record = RunDir(directory)
    summary = record.summary_if_readable() if directory.is_dir() else None
    if summary is None or not summary.is_done(budget.epochs(run)):
        return False
    try:
        if sorted(record.defining_overrides()) != sorted(budget.arguments(run)):
            return False
    except RunRecordError:
        return False
    try:
        evaluation = RunDir(directory).read_evaluation() if run.evaluate_final else {}
    except RunRecordError:
        return False  # evaluated again
    # Halves exist on the official test set only (the test-size variant's is another).
    return evaluation is not None and (HALVES_KEY in evaluation or evaluation.get("n_test") != 10_000)


class Launcher:
    """Starts the runs' processes and, on Ctrl-C, passes it on to each and waits for them."""

    def __init__(self) -> None:
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def call(self, arguments: list[str]) -> tuple[int, str]:
        """Run ``python -m nnsweep <arguments>``; its exit status and its last error line. The
        child follows this process (``nnsweep.experiments.lifeline``): it leaves Ctrl-C to us and
        ends if we die, so no orphan keeps training and holding its run's lock."""
        env = dict(os.environ, **ONE_THREAD, NNSWEEP_LIVE_REPORT="0", **{LIFELINE: str(os.getpid())})
        with self._lock:
            if self.stopping:
                return 130, "interrupted"
            process = subprocess.Popen(
                [sys.executable, "-m", "nnsweep", *arguments],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            self._live.add(process)
        try:
            _, errors = process.communicate()
        finally:
            with self._lock:
                self._live.discard(process)
        lines = [line for line in errors.splitlines() if line.startswith("nnsweep:")]
        return process.returncode, (lines[-1] if lines else errors.strip()[-300:])

    def interrupt(self) -> None:
        """Stop every running child now, as its lifeline would once we are gone: a run survives
        SIGKILL by design (its finished epochs are checkpointed), and no child outlives us."""
        with self._lock:
            self.stopping = True
            for process in self._live:
                if process.poll() is None:
                    process.kill()


def _train(launcher: Launcher, out: Path, run: ClassicRun, budget: Budget) -> RunOutcome:
    started = time.monotonic()
    directory = run_dir(out, run)
    if launcher.stopping:
        return RunOutcome(run.key, RunState.failed, 0.0, "interrupted")
    code, error = launcher.call(["train", *budget.arguments(run), "resume=true", f"hydra.run.dir={directory}"])
    if code == 0 and run.evaluate_final:
        code, error = launcher.call(["evaluate", str(directory), "weights=final"])
    state = RunState.trained if code == 0 else RunState.failed
    return RunOutcome(run.key, state, time.monotonic() - started, "" if code == 0 else error)


def train_classics(
    out: Path,
    budget: Budget = Budget(),
    jobs: int = 2,
    runs: Iterable[ClassicRun] = RUNS,
    say: Callable[[str], None] = functools.partial(print, flush=True),
) -> list[RunOutcome]:
    """Train every run not finished yet, ``jobs`` at a time, longest first; say a line as each
    ends. Ctrl-C stops the running ones (they keep their finished epochs) and is re-raised."""
    install_mnist(budget.data_root or DEFAULT_DIRS["mnist"])
    runs = [run for run in runs if budget.selects(run)]
    finished = {r.key for r in runs if is_finished(out, r, budget)}  # each run's records read once
    outcomes = [RunOutcome(r.key, RunState.reused, 0.0) for r in runs if r.key in finished]
    todo = sorted((r for r in runs if r.key not in finished), key=lambda r: -r.seconds)
    if outcomes:
        say(f"classics: {len(outcomes)} of {len(runs)} runs already finished, reused")
    launcher = Launcher()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_train, launcher, out, run, budget) for run in todo]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                outcome = future.result()
                outcomes.append(outcome)
                what = "done" if outcome.state == RunState.trained else f"failed: {outcome.error}"
                say(f"classics: [{done}/{len(todo)}] {outcome.key} {what} ({outcome.seconds:.0f} s)")
        except BaseException:  # Ctrl-C, or a bug here: stop the children before saying anything
            launcher.interrupt()
            for future in futures:
                future.cancel()
            raise
    return outcomes
