"""Issue 22, second round: no write follows a symbolic link planted at a directory nnsweep
writes into (a run's .hydra/, a sweep's run folder, report/, report/portraits/); a command
removes or overwrites only what it created; Ctrl-C is one line, whenever it comes."""
from __future__ import annotations

import pytest

from tests.experiments.conftest import run_module
from tests.reliability.conftest import TINY
from tests.reports.synthetic import write_sweep

LINK_REFUSED = "is a symbolic link; nnsweep does not write through links in its run, sweep and report directories"


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("nnsweep: error:"), result.stderr[-2000:]
    return lines[0]


def train(tmp_path, *args):
    return run_module("experiments.train", *TINY, "trainer.epochs=1", *args, cwd=tmp_path)


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
    result = run_module("experiments.train", "-m", "optimizer.lr=0.1", *TINY, "trainer.epochs=1",
                        "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep}", "hydra.job.config.override_dirname."
                        "exclude_keys=[net,net.hidden,data.train_limit,trainer.progress,trainer.epochs,hydra.launcher."
                        "n_jobs]", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[-1] == f"nnsweep: error: {sweep / 'optimizer.lr=0.1'} {LINK_REFUSED}: " \
        "remove it and rerun", result.stderr[-2000:]
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("planted", ["report", "report/portraits"])
def test_a_link_planted_at_report_or_its_portraits_is_refused_and_its_target_untouched(tmp_path, planted):
    sweep, target = tmp_path / "lr", tmp_path / "elsewhere"
    write_sweep(sweep, model=True)
    target.mkdir()
    (target / "index.html").write_text("ORIG")
    (sweep / planted).parent.mkdir(parents=True, exist_ok=True)
    (sweep / planted).symlink_to(target)
    line = one_line_error(run_module("reports", str(sweep)))
    assert f"{sweep / planted} {LINK_REFUSED}" in line
    assert sorted(p.name for p in target.iterdir()) == ["index.html"] and (target / "index.html").read_text() == "ORIG"
