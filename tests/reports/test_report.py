"""Whole reports from real tiny sweeps: every file referenced exists, and a browser loads them."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from nnsweep.reports.build import build_report
from tests.experiments.conftest import run_module

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def lr_sweep(tmp_path_factory):
    """An lr sweep of a deep ReLU net whose largest rate diverges, reported by its sweeper."""
    out = tmp_path_factory.mktemp("sweep") / "lr"
    result = run_module(
        "nnsweep.sweep_lr",
        "--lrs",
        "0.01,0.1,3",
        "--epochs",
        "3",
        "--batch",
        "10",
        "--net",
        "mlp",
        "--sweep-dir",
        str(out),
        "data.train_limit=400",
        "net.hidden=[100,100,100]",
        "net.activation=relu",
        env={"NNSWEEP_LIVE_REPORT": "1"},  # the suite turns every sweep's report off; this one is tested
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report: " in result.stdout
    return out


def referenced_files(index: Path) -> list[str]:
    """The page's images and files (not the links to the sweep's tables and its runs' directories)."""
    return [f for f in re.findall(r'(?:src|href)="([^"]+)"', index.read_text()) if not f.startswith("../")]


def test_lr_sweep_report_has_every_figure_and_only_existing_files(lr_sweep):
    index = lr_sweep / "report" / "index.html"
    files = referenced_files(index)
    assert not [f for f in files if "://" in f or f.startswith("/")]  # relative links only, no network
    assert all((index.parent / f).is_file() and (index.parent / f).stat().st_size > 5000 for f in files)
    links = [unquote(f) for f in re.findall(r'href="(\.\./[^"]+)"', index.read_text())]
    assert {"../runs.csv", "../epochs.csv", "../configs.csv"} <= set(links)
    runs = sorted(p.name for p in lr_sweep.iterdir() if (p / "summary.json").is_file())
    assert len(runs) == 3 and sorted(link[3:].rstrip("/") for link in links if link.endswith("/")) == runs
    assert all((index.parent / link).exists() for link in links)
    for name in (
        "heatmap_val_acc.png",
        "heatmap_train_acc.png",
        "heatmap_gap.png",
        "accuracy_vs_lr.png",
        "learning_curves_acc.png",
        "learning_curves_loss.png",
        "heatmap_val_acc_anim.gif",
        "heatmap_val_acc_anim.mp4",
        "learning_curves_anim.gif",
        "digit_portraits.png",
        "misclassified.png",
        "confusion_matrix.png",
        "first_layer.png",
    ):
        assert name in files, name
    page = index.read_text()
    assert "diverged" in page and "<table" in page and page.count("<figcaption>") >= 12
    # the range test ran before the sweep, and its suggestion is on the accuracy-vs-rate figure
    assert (lr_sweep / "lr_find.json").is_file() and "lr_find.png" in files
    assert "the learning-rate range test&#x27;s suggestion" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_every_image_loads_in_headless_chromium(lr_sweep):
    index = lr_sweep / "report" / "index.html"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                index.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    counts = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert counts, "the page's image check did not run"
    loaded, total = map(int, counts.groups())
    assert total >= 12 and loaded == total, dom[-2000:]


def search_report(sweep_dir: Path, *args: str) -> tuple[Path, set[str]]:
    """Run a search (``nnsweep.experiments.train -m`` with ``args``) into ``sweep_dir`` and build its
    report; returns the page and the files it references, each checked to exist."""
    result = run_module("nnsweep.experiments.train", "-m", *args, f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    index = build_report(sweep_dir)
    files = referenced_files(index)
    assert all((index.parent / f).is_file() for f in files)
    return index, set(files)


def test_bayesian_sweep_report(tmp_path):
    _, files = search_report(
        tmp_path / "bayes",
        "hydra/sweeper=skopt",
        "optimizer.lr=tag(log, interval(0.01, 3))",
        "net.hidden=choice([16],[32])",
        "net=mlp",
        "data.train_limit=300",
        "trainer.epochs=2",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_initial_points=2",
    )
    assert {"trials_parallel.png", "skopt_convergence.png", "skopt_evaluations.png"} <= files


def test_make_report_needs_a_sweep():
    result = subprocess.run(
        ["make", "-s", "report"], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "make report SWEEP=" in result.stderr


def test_pruned_search_report(tmp_path):
    """A real successive-halving search: its report draws the rungs from the log the sweeper
    wrote, and the table shows how far each run got."""
    index, files = search_report(
        tmp_path / "pruned",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=random",
        "optimizer.lr=tag(log, interval(0.01, 3))",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.epochs=3",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.batch_size=2",
        "hydra.sweeper.pruner.method=asha",
    )
    assert {"rungs.png", "trials_parallel.png", "heatmap_val_acc.png"} <= files
    page = index.read_text()
    assert "<th>rung</th>" in page and "pruned</td>" in page and "the top 1/3 of the trials" in page
    assert "Random search: best objective found after each trial" in page and "Bayesian" not in page


def test_tpe_search_report_has_its_optimisation_history(tmp_path):
    """A real TPE search (Optuna): its report draws each trial's objective and the best so far,
    captioned with the engine the trial log names."""
    index, files = search_report(
        tmp_path / "tpe",
        "hydra/sweeper=nnsweep",
        "hydra.sweeper.engine=tpe",
        "optimizer.lr=tag(log, interval(0.01, 3))",
        "net=mlp",
        "net.hidden=[16]",
        "data.train_limit=300",
        "trainer.epochs=2",
        "trainer.progress=false",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_initial_points=2",
    )
    assert {"optimisation_history.png", "trials_parallel.png"} <= files
    assert "TPE search (Optuna): the objective of each trial" in index.read_text()
