"""Reading the run directories of a sweep: which exist, which finished, with what settings."""
from __future__ import annotations

from pathlib import Path

import yaml

from experiments.rundir import RunDir
from experiments.train import finished_summary


def find_runs(sweep_dir: Path) -> list[Path]:
    """Run directories below ``sweep_dir`` (those Hydra wrote a config for), sorted."""
    return sorted(p.parent.parent for p in Path(sweep_dir).glob("**/.hydra/config.yaml")
                  if p.parent.parent != Path(sweep_dir))


def run_config(run_dir: Path) -> dict:
    try:
        return yaml.safe_load(RunDir(run_dir).config.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def finished_lrs(sweep_dir: Path, epochs: int) -> set[float]:
    """Learning rates whose run in ``sweep_dir`` has finished ``epochs`` epochs (or ended early)."""
    return {
        float(run_config(d).get("optimizer", {}).get("lr"))
        for d in find_runs(sweep_dir)
        if finished_summary(RunDir(d), epochs) is not None
    }
