"""Helpers for running the real entrypoints: in-process config composition and subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from nnsweep.experiments.cli import CONF_DIR
from nnsweep.experiments.config import register_configs

REPO = Path(__file__).resolve().parents[2]


def compose_config(overrides=(), config_name="config", return_hydra_config=False):
    """The config exactly as ``python -m nnsweep.experiments.train <overrides>`` would see it (with
    ``return_hydra_config``, also Hydra's own node: sweeper, launcher, run directories)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)


def run_module(
    module: str, *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python -m module args...`` as a user would type it; output captured as text. ``env``:
    variables to set on top of this process's (e.g. ``NNSWEEP_LIVE_REPORT=1``: a sweep's report)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def quick():
    """Overrides for a fast run: small training part, few epochs, no progress bars."""
    return ["data.train_limit=600", "trainer.epochs=2", "trainer.progress=false"]
