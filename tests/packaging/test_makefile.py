"""What the Makefile installs for each target, read from ``make -n -B`` (prints the commands a
fresh clone would run, runs none): the main job only what it needs, the test tools for the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def sync_line(*args: str) -> str:
    """The ``uv sync`` command ``make <args>`` runs on a fresh clone (the last one, if several)."""
    out = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if " sync " in line]
    assert lines, out.stdout
    return lines[-1]


@pytest.mark.parametrize("target", ["sweep-lr", "report", "setup", "bench"])
def test_the_main_job_installs_no_extra(target):
    """make sweep-lr installed 1.2 GB with the dev extra (Ray, Selenium, pytest); without: 680 MB."""
    line = sync_line(target)
    assert "--extra" not in line and "--inexact" in line, line


def test_the_tests_install_the_dev_extra_and_a_cluster_is_asked_for():
    assert "--extra dev" in sync_line("test") and "--inexact" in sync_line("test")
    line = sync_line("setup", "EXTRAS=cluster")
    assert "--extra cluster" in line and "--extra dev" not in line


def test_the_readme_names_no_folder_outside_the_repository_and_says_how_to_get_the_mnist_test_set():
    """It sent users to ../shared/data/mnist-t10k, which no clone has. make data installs the
    four files into the directory data=mnist reads and test=data/mnist evaluates on (make mnist,
    its old name, still does)."""
    import re

    from nnsweep.nets.data.datasets import DEFAULT_DIRS

    readme = (REPO / "README.md").read_text()
    assert re.findall(r"(?<![\w.])\.\./[\w./-]+", readme) == []
    assert "test=data/mnist" in readme and "make data" in readme
    for target in ("data", "mnist"):
        recipe = subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert f"install_and_check('{DEFAULT_DIRS['mnist']}')" in recipe.stdout and "run_command" in recipe.stdout
    for place in ("Makefile", "bench", "src", "conf", "core", "nets", "runrecord", "experiments", "sweeps", "reports"):
        found = subprocess.run(
            ["grep", "-rIl", "--exclude-dir=*.egg-info", "../shared", str(REPO / place)], capture_output=True, text=True
        ).stdout
        assert found == "", found
