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


# Overrides that change how a run is driven, not what it computes; they do not identify a run
# (conf/config.yaml leaves them out of run directory names for the same reason).
BOOKKEEPING_KEYS = ("resume", "sweep", "trainer.progress")


def without_bookkeeping(overrides: list[str]) -> list[str]:
    return [o for o in overrides if o.lstrip("+~").partition("=")[0] not in BOOKKEEPING_KEYS]


def defining_overrides(run_dir: Path) -> list[str]:
    """The run's overrides without the bookkeeping ones."""
    return without_bookkeeping(run_overrides(run_dir))


def read_yaml(path: Path, default):
    """A YAML file's content, or ``default`` if it is missing or unreadable (a run killed while
    Hydra wrote it)."""
    try:
        value = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return default
    return default if value is None else value


def run_config(run_dir: Path) -> dict:
    """The run's composed config, as plain data."""
    return read_yaml(RunDir(run_dir).config, {})


def run_hydra_config(run_dir: Path) -> dict:
    """Hydra's own record of the run (job number, config-group choices)."""
    return read_yaml(Path(run_dir) / ".hydra" / "hydra.yaml", {}).get("hydra", {}) or {}


def run_overrides(run_dir: Path) -> list[str]:
    """The overrides that define the run (``.hydra/overrides.yaml``)."""
    return [str(o) for o in read_yaml(Path(run_dir) / ".hydra" / "overrides.yaml", [])]


def run_job_number(run_dir: Path) -> int | None:
    try:
        return int(run_hydra_config(run_dir)["job"]["num"])
    except (KeyError, TypeError, ValueError):
        return None


def finished_lrs(sweep_dir: Path, epochs: int) -> set[float]:
    """Learning rates whose run in ``sweep_dir`` has finished ``epochs`` epochs (or ended early)."""
    return {
        float(run_config(d).get("optimizer", {}).get("lr"))
        for d in find_runs(sweep_dir)
        if finished_summary(RunDir(d), epochs) is not None
    }
