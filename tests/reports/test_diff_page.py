"""``nnsweep diff A B`` as its reader meets it: the plain-text summary (the environment first, the
table with its intervals, a one-line count), the page and figure in a folder it owns, and bad
input as one line and exit 2."""

from __future__ import annotations

import os

import pytest

from nnsweep.diff import MARK, command, load_side, main
from nnsweep.reports.diff import diff_text
from nnsweep.sweeps.diff import diff
from tests.experiments.conftest import run_module
from tests.sweeps.test_diff import per_seed, write_sweep


@pytest.fixture
def two(tmp_path):
    """A: lr 0.1 on seeds 0-2 and lr 1 on seed 0, NumPy 2.3.0; B: the same, 1.0, 2.0 and 3.0 points
    better at lr 0.1, NumPy 2.4.0; lr 1 trained again, identically."""
    a = per_seed(0.1, {0: 0.900, 1: 0.910, 2: 0.920}, numpy="2.3.0") + per_seed(1.0, {0: 0.8}, numpy="2.3.0")
    b = per_seed(0.1, {0: 0.910, 1: 0.930, 2: 0.950}, numpy="2.4.0") + per_seed(1.0, {0: 0.8}, numpy="2.4.0")
    return write_sweep(tmp_path / "a", a), write_sweep(tmp_path / "b", b)


def one_line_error(monkeypatch, capsys, *args: str) -> str:
    """What ``nnsweep diff args`` says on stderr, checked to be one line and exit 2."""
    monkeypatch.setattr("sys.argv", ["nnsweep", *args])
    with pytest.raises(SystemExit) as ended:
        command()
    err = capsys.readouterr().err
    assert ended.value.code == 2 and err.count("\n") == 1 and err.startswith("nnsweep: error: "), err
    return err.strip()


def test_the_summary_names_the_environment_first_then_the_settings_then_each_configuration(two):
    text = diff_text(diff(load_side(two[0], "A"), load_side(two[1], "B")))
    lines = text.splitlines()
    assert lines.index("Environment differs (A -> B):") < next(
        i for i, x in enumerate(lines) if x.startswith("Settings")
    )
    assert lines[lines.index("Environment differs (A -> B):") + 1].split() == ["numpy", "2.3.0", "->", "2.4.0"]
    rows = {line.split()[1]: line for line in lines if line.startswith("lr ")}
    # B - A on seeds 0, 1, 2: 1, 2, 3 points; 2.0 +- 4.303 / sqrt(3) = 2.0 +- 2.484
    assert rows["0.1"].split()[2:7] == ["3", "paired", "91.00", "93.00", "+2.00"]
    assert "[-0.48, +4.48]" in rows["0.1"] and rows["0.1"].endswith("same within noise (the interval includes 0)")
    assert rows["1"].endswith("identical")  # the same bits under another NumPy: still identical
    assert lines[-1] == "Of 2 matched configurations: 1 identical, 1 same within noise."
    assert "lr 0.1: B is ahead of A by 2.0 points of validation accuracy (95% interval -0.5 to 4.5" in text


def test_the_page_goes_to_a_folder_the_command_owns(two, tmp_path, capsys):
    a, b = two
    assert main([str(a), str(b)]) == 0
    out = a / "diff-b"  # beside A's report/, never in B
    printed = capsys.readouterr().out
    assert printed.startswith(f"A: {a} (sweep of 4 runs)") and printed.rstrip().endswith(f"Page: {out / 'index.html'}")
    assert sorted(p.name for p in out.iterdir()) == sorted([MARK, "curves.png", "diff.txt", "index.html"])
    page = (out / "index.html").read_text()
    assert page.index("<h2>Environment</h2>") < page.index("<h2>Settings</h2>") < page.index("<h2>Configurations")
    assert '<tr class="identical">' in page and 'src="curves.png"' in page
    assert (out / "diff.txt").read_text() in printed
    assert main([str(a), str(b)]) == 0  # its own folder: written again


def test_output_folders_of_others_links_and_b_itself_are_refused(two, tmp_path, monkeypatch, capsys):
    a, b = two
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    err = one_line_error(monkeypatch, capsys, str(a), str(b), "--out", str(theirs))
    assert err.endswith("holds files nnsweep diff did not write; give another folder: --out DIR")
    assert (theirs / "notes.txt").read_text() == "mine" and len(list(theirs.iterdir())) == 1
    link = tmp_path / "link"
    os.symlink(theirs, link)
    assert "is a symbolic link" in one_line_error(monkeypatch, capsys, str(a), str(b), "--out", str(link))
    assert "A and B are the same directory" in one_line_error(monkeypatch, capsys, str(a), str(a))
    assert not (a / "diff-a").exists()
    # Inside A only a diff-* folder: its report and runs are A's (nnsweep report would overwrite the page).
    for inside in (a / "report", next(p for p in a.iterdir() if p.is_dir()) / "sub"):
        err = one_line_error(monkeypatch, capsys, str(a), str(b), "--out", str(inside))
        assert "would be written among A's own files" in err and not inside.exists()


def test_bad_input_is_one_line(two, tmp_path, monkeypatch, capsys):
    a, _ = two
    missing = tmp_path / "nowhere"
    assert f"B: {missing} does not exist" in one_line_error(monkeypatch, capsys, str(a), str(missing))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "is neither a sweep (no runs.csv) nor a run directory" in one_line_error(
        monkeypatch, capsys, str(empty), str(a)
    )
    uncollected = write_sweep(tmp_path / "uncollected", per_seed(0.1, {0: 0.9}))
    (uncollected / "runs.csv").unlink()
    assert f"collect it first: nnsweep collect {uncollected}" in one_line_error(
        monkeypatch, capsys, str(a), str(uncollected)
    )
    (a / "runs.csv").write_text('run,status,best_val_acc\n"x",ok,high\n')
    assert "runs.csv is damaged (best_val_acc holds 'high'" in one_line_error(
        monkeypatch, capsys, str(a), str(a), "--out", str(tmp_path / "o")
    )


@pytest.mark.slow  # two tiny real sweeps (about 4 s each)
def test_a_real_sweep_trained_twice_is_identical_configuration_by_configuration(tmp_path):
    """``make sweep-lr`` twice, in small: every configuration the same bits."""
    args = ["--lrs", "0.05,0.5", "--epochs", "2", "--batch", "10", "--no-report", "--net", "mlp"]
    for name in ("first", "second"):
        swept = run_module(
            "nnsweep.sweep_lr", *args, "--sweep-dir", str(tmp_path / name), "data.train_limit=300", "net.hidden=[16]"
        )
        assert swept.returncode == 0, swept.stderr[-2000:]
    result = run_module("nnsweep.diff", str(tmp_path / "first"), str(tmp_path / "second"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Environment: the same in every recorded aspect" in result.stdout
    assert "Settings: the same" in result.stdout and "2 of 2 configurations identical." in result.stdout
