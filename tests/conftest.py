"""Fixtures shared by the whole suite: the embedded data set (read once), a gradient checker and a
headless browser (``browser``, from tests/browser.py)."""

from __future__ import annotations

import os
import signal

# Two test files run at once (pytest-xdist, -n 2) on 2 cores, and many of their sweeps train two
# runs at once: BLAS threads on top of that only oversubscribe the cores. One per process, set
# before NumPy loads and inherited by every command a test starts, took 22% less CPU for the
# run-record tests (62 against 79 s) at the same wall time alone. A value already set is kept.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402 (after the thread settings above)
import pytest

from nnsweep.nets.data.datasets import load_dataset
from tests.browser import browser  # noqa: F401 (a fixture, for every test module)

# A shell starts a background job (`make test &`, a CI step run that way) with SIGINT ignored, and
# an ignored signal stays ignored in every program started from it: the Ctrl-C tests' commands
# would never see theirs. Catching it here (as Python does by default) gives them the default.
signal.signal(signal.SIGINT, signal.default_int_handler)

# Every sweep keeps a live report (nnsweep.sweeps.live): a process drawing figures beside its runs. The
# suite's hundreds of tiny sweeps need none; the tests of the live report turn it back on.
os.environ["NNSWEEP_LIVE_REPORT"] = "0"

SHARED_T10K = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-t10k"


@pytest.fixture(scope="session")
def mnist5k():
    """The embedded 5,000 digits, split 3,500 / 500 / 1,000 (read once per test session)."""
    return load_dataset("mnist5k")


def numerical_gradient(f, array: np.ndarray, index: tuple, eps: float = 1e-6) -> float:
    """Central difference of scalar ``f()`` with respect to ``array[index]``."""
    old = array[index]
    array[index] = old + eps
    plus = f()
    array[index] = old - eps
    minus = f()
    array[index] = old
    return (plus - minus) / (2 * eps)


def sample_indices(shape: tuple, count: int, rng: np.random.Generator) -> list[tuple]:
    """Up to ``count`` random distinct positions in an array of ``shape``."""
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(count, size), replace=False)
    return [np.unravel_index(i, shape) for i in flat]


# Modules that take longest, in the order to start them (the Makefile runs pytest-xdist with
# --no-loadscope-reorder, which keeps this order; by default it starts the modules with the most
# tests first and left the 80-s live-report module, 4 tests, alone at the end). The browser
# modules mostly wait (for a sweep, a page): each is paired with a CPU-bound one.
START_FIRST = (
    "tests/reports/test_live.py",
    "tests/reliability/test_kill_and_resume.py",
    "tests/experiments/test_serve.py",
    "tests/sweeps/test_skopt_sweeper.py",
    "tests/packaging/test_install.py",
    "tests/reliability/test_faults.py",
    "tests/sweeps/test_pruning.py",
    "tests/reliability/test_process_tree.py",
)


def pytest_collection_modifyitems(session, config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return START_FIRST.index(path) if path in START_FIRST else len(START_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order


@pytest.fixture(autouse=True)
def no_parent_pid_from_an_earlier_test():
    """A test that runs a sweeper or a run in this process (``nnsweep.experiments.lifeline``) leaves its
    process id in ``NNSWEEP_PARENT_PID``; a command a later test starts would then take this
    process for the nnsweep process that launched it, and ignore Ctrl-C as a sweep's job does
    (a server that did not stop)."""
    os.environ.pop("NNSWEEP_PARENT_PID", None)
    yield
    os.environ.pop("NNSWEEP_PARENT_PID", None)
