"""``nnsweep classics``: the catalogue, the verdicts and intervals against hand-computed ones, and
the test-size variant end to end (interrupted, then continued, then the page with every section)."""

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nnsweep.nets.data.datasets import load_mnist5k_arrays
from nnsweep.reports.classics import Ours, verdict, wilson
from nnsweep.sweeps.classics import EXTERNAL_RUNS, ROWS, RUNS, ClassicRow, Measure, Published, Section
from nnsweep.sweeps.classics_runner import TINY_OLIN, Budget
from tests.experiments.conftest import REPO
from tests.nets.data.test_readers import idx_bytes


def test_every_row_names_runs_that_exist_and_every_section_has_rows():
    keys = [run.key for run in RUNS]
    assert len(keys) == len(set(keys))
    assert {key for row in ROWS for key in row.runs} <= set(keys) | set(EXTERNAL_RUNS)
    assert {row.section for row in ROWS} == set(Section)
    assert all(row.published.text and row.published.source for row in ROWS)


def test_wilson_interval_of_an_accuracy_on_10000_images():
    # By hand: p 0.95, n 10,000, z 1.96: centre (p + z^2/2n) / (1 + z^2/n) = 0.95019208 / 1.00038416
    # = 0.949827, half width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 0.0042745.
    low, high = wilson(0.95, 10_000)
    assert low == pytest.approx(0.945553, abs=2e-6) and high == pytest.approx(0.954102, abs=2e-6)


def row(value, second=None, notes=()):
    published = Published(value, "x", "", "a book", second=second)
    return ClassicRow(Section.lenet5, "r", "s", ("lenet5",), published, Measure.test, notes=notes)


# Two runs' chance difference by hand, n 10,000: 1.96 sqrt(a(1-a)/n + b(1-b)/n).
# 0.95 vs 0.9561: sqrt(4.75e-6 + 4.1973e-6) = 2.9912e-3 -> 0.59 points.
# 0.985 vs 0.979: sqrt(1.4775e-6 + 2.0559e-6) = 1.8798e-3 -> 0.37 points.
# 0.90 vs 0.892: sqrt(9.0e-6 + 9.6336e-6) = 4.3166e-3 -> 0.85 points.
# 0.985 vs 0.9895: sqrt(1.4775e-6 + 1.0390e-6) = 1.5863e-3 -> 0.31 points.
@pytest.mark.parametrize(
    "published, ours, said",
    [
        (0.95, 0.9561, "ahead by 0.61 points, more than the ±0.59 two runs differ by chance"),
        (0.95, 0.9460, "within 0.5 points"),
        (0.961, 0.9613, "within 0.5 points"),
        (0.985, 0.9790, "behind by 0.60 points, more than the ±0.37 two runs differ by chance: unexplained"),
        (0.90, 0.8920, "behind by 0.80 points, within the ±0.85 two runs differ by chance: unexplained"),
        (0.985, 0.9895, "within 0.5 points (ahead by 0.45, more than the ±0.31 two runs differ by chance)"),
        (None, 0.97, "no published number to set ours against"),
    ],
)
def test_verdicts_with_how_far_two_runs_differ_by_chance(published, ours, said):
    assert verdict(row(published), Ours(ours)) == said


def test_a_verdict_behind_says_why_halves_count_both_and_no_result_is_no_verdict():
    assert verdict(row(0.985, notes=("fewer epochs.",)), Ours(0.97)).endswith("by chance: fewer epochs.")
    assert verdict(row(0.9788, 0.9912), Ours(0.9800, second=0.9930, n=5000)) == "within 0.5 points"
    assert verdict(row(0.9788, 0.9912), Ours(0.9800, second=0.9850, n=5000)).startswith("behind by 0.62 points")
    assert verdict(row(0.95), None) == "not trained yet: make classics"
    assert verdict(row(0.95), Ours(None, detail="no result: the run diverged")) == "no result to compare"
    assert verdict(row(0.95), Ours(0.5), tiny=True) == "none: the test-size variant"


def test_the_tiny_budget_replaces_keys_instead_of_repeating_them():
    olin = next(run for run in RUNS if run.key in TINY_OLIN)
    arguments = Budget(tiny=True, data_root="/d").arguments(olin)
    keys = [a.partition("=")[0] for a in arguments]
    assert len(keys) == len(set(keys))
    assert {"data.val_size=100", "data.train_limit=2", "trainer.epochs=2", "data.root=/d"} <= set(arguments)
    rashid = next(run for run in RUNS if run.group == "rashid-200")
    assert "data.val_size=0" in Budget(tiny=True).arguments(rashid)  # the test set stays the one scored
    assert Budget().arguments(rashid)[-1] == "trainer.epochs=7"
    assert sum(Budget(tiny=True).selects(run) for run in RUNS) == len(RUNS) - 22 - 18  # 2 of Olin's 24, no seeds


@pytest.fixture
def tiny_mnist(tmp_path):
    """700 training and 200 test digits of the embedded set, as the four raw IDX files."""
    images, labels = load_mnist5k_arrays()
    order = np.random.default_rng(0).permutation(len(labels))
    directory = tmp_path / "mnist"
    directory.mkdir()
    for prefix, part in (("train", order[:700]), ("t10k", order[700:900])):
        (directory / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images[part].reshape(-1, 28, 28)))
        (directory / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels[part]))
    return directory


@pytest.mark.slow
def test_the_test_size_variant_continues_after_ctrl_c_and_writes_every_section(tmp_path, tiny_mnist):
    out = tmp_path / "classics"
    command = [sys.executable, "-m", "nnsweep", "classics", "--tiny", "--data-root", str(tiny_mnist), "--out", str(out)]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = []
    for line in first.stdout:
        done += re.findall(r"\] (\S+) done", line)
        if len(done) >= 3:
            first.send_signal(signal.SIGINT)
            break
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert "interrupted; rerun the same command to continue" in stderr

    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    reused = int(re.search(r"classics: (\d+) of 23 runs already finished, reused", second.stdout).group(1))
    assert reused >= len(done)
    for key in done:  # a finished run was not trained again
        assert f"] {key} done" not in second.stdout

    page = (out / "index.html").read_text()
    for section in Section:
        assert f"<h2>{section.value.replace(chr(39), '&#x27;')}</h2>" in page
    table_rows = re.findall(r"<tr><td>(.*?)</tr>", page)
    assert len(table_rows) == len(ROWS)
    for cells in table_rows:  # published and ours both filled in on every row
        values = re.findall(r"<td>(.*?)</td>", "<td>" + cells)
        assert values[2] and values[3] and values[4] == "none: the test-size variant", values
    assert "The test-size variant" in page
    for figure in ("rashid_lr.png", "rashid_epochs.png", "mlp_128x2_mistakes.png", "olin_cnn_divergence.png"):
        assert (out / "figures" / figure).stat().st_size > 10_000
    for linked in re.findall(r'<img src="([^"]+)"', page):
        assert (out / linked).is_file(), linked
    assert "rashid-200/report/heatmap_val_acc_anim.gif" in page
    summary = json.loads(next((out / "rashid-200").glob("*/summary.json")).read_text())
    assert summary["val_is_test"] is True and summary["train_size"] == 600
    assert "the test set was scored in validation" in (out / "rashid-200/report/index.html").read_text()
    started = time.monotonic()
    third = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "23 of 23 runs already finished" in third.stdout
    assert time.monotonic() - started < 60


def test_a_published_number_inside_our_seeds_spread_is_no_difference():
    ours = Ours(0.9103, n=10_000, spread=(0.9080, 0.9200, 4))
    assert verdict(row(0.9241), ours) == (
        "within 0.5 points of our runs with other first weights: one run cannot tell them apart"
    )
    assert verdict(row(0.9300), ours) == "behind by 1.00 points of all 4 first weights"  # 0.93 - 0.92
    assert verdict(row(0.9000, notes=("why.",)), ours) == "ahead by 0.80 points of all 4 first weights: why."


def test_a_bar_is_reached_or_not_and_an_interval_below_it_is_said():
    bar = ClassicRow(Section.draw, "d", "s", ("draw-cnn",), Published(0.993, "at least", "", "x", bar=True))
    assert verdict(bar, Ours(0.9942, 0.9925, 0.9955)) == (
        "reaches the 99.3% bar by 0.12 points; its interval reaches below it: one run cannot promise it"
    )
    assert verdict(bar, Ours(0.9950, 0.9935, 0.9962)) == "reaches the 99.3% bar by 0.20 points"
    assert verdict(bar, Ours(0.9918, 0.9898, 0.9934)).startswith("falls short of the 99.3% bar by 0.12 points")
