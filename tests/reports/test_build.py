"""A whole report from a synthetic collected sweep: what it reads, and what it draws from it."""

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nnsweep.reports.build
import nnsweep.reports.cache
import nnsweep.reports.models
from nnsweep.reports.build import build_report
from tests.reports.synthetic import SOURCE, confusion, write_pruned_sweep, write_sweep, write_trial_log
from tests.reports.test_html import body_rows

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast

MODEL_FIGURES = ("digit_portraits.png", "misclassified.png", "confusion_matrix.png", "first_layer.png")


def figure_files(index: Path) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', index.read_text())


def test_model_figures_come_from_the_run_record(tmp_path, monkeypatch):
    write_sweep(tmp_path)
    drawn = []
    monkeypatch.setattr(
        nnsweep.reports.cache, "draw_side_by_side", lambda draws, *_: [d() for d in draws]
    )  # here, to see it
    draw = nnsweep.reports.models.render_confusion_matrix
    monkeypatch.setattr(
        nnsweep.reports.models,
        "render_confusion_matrix",
        lambda matrix, *args, **kw: drawn.append(np.array(matrix)) or draw(matrix, *args, **kw),
    )
    index = build_report(tmp_path)
    assert set(MODEL_FIGURES) <= set(figure_files(index))
    assert len(drawn) == 1 and np.array_equal(drawn[0], confusion())  # evaluation.json's matrix, not recomputed
    assert f"on the {SOURCE}" in index.read_text()


def test_a_run_without_evaluation_still_gets_its_other_model_figures(tmp_path):
    runs = write_sweep(tmp_path)
    best = tmp_path / runs.iloc[0]["run"]
    (best / "evaluation.json").unlink()
    (best / "test_errors.npz").unlink()
    index = build_report(tmp_path)
    files = figure_files(index)
    assert "digit_portraits.png" in files and "first_layer.png" in files
    assert "confusion_matrix.png" not in files and "misclassified.png" not in files
    assert "nnsweep evaluate " in html.unescape(index.read_text())


def test_a_diverged_model_is_a_note_on_the_page(tmp_path):
    write_sweep(tmp_path, diverged_model=True)
    page = build_report(tmp_path).read_text()
    assert "non-finite weights" in page and "digit_portraits.png" not in page


def test_the_summary_is_the_one_best_run_sentence(tmp_path):
    from nnsweep.sweeps.closing import best_run_sentence, summary_lines

    runs = write_sweep(tmp_path, model=False)
    sentence = best_run_sentence(pd.read_csv(tmp_path / "runs.csv"))
    assert sentence.startswith(f"Best: {runs.iloc[0]['run']} with validation accuracy ")
    assert sentence in summary_lines(pd.read_csv(tmp_path / "runs.csv"))
    assert html.escape(sentence) in build_report(tmp_path).read_text()


def test_a_damaged_trial_log_is_a_note_not_a_traceback(tmp_path):
    write_sweep(tmp_path, model=False)
    record = write_trial_log(tmp_path)
    record["trials"][0].pop("told")
    (tmp_path / "trials.json").write_text(json.dumps(record))
    page = build_report(tmp_path).read_text()
    assert "trials.json is damaged" in page and "trials_parallel.png" not in page


def header(page: str) -> list[str]:
    return re.findall(r"<th>([^<]*)</th>", page.partition("<thead>")[2].partition("</thead>")[0])


def test_a_pruned_search_gets_its_rung_figure_and_rung_column(tmp_path):
    log = write_pruned_sweep(tmp_path)
    index = build_report(tmp_path)
    page = html.unescape(index.read_text())
    files = figure_files(index)
    assert {"rungs.png", "trials_parallel.png", "heatmap_val_acc.png"} <= set(files)
    assert (index.parent / "rungs.png").stat().st_size > 20_000
    assert "at each rung the top 1/3 of the trials that have reached it so far (at least one) continue" in page
    assert "A black bar ends the row of a run the search pruned" in page
    assert "Dashed thin lines: trials the pruner stopped" in page
    columns = header(index.read_text())
    assert columns[columns.index("status") + 1] == "rung"
    table = index.read_text().partition("<h2>")[2]
    shown = {
        cells[columns.index("run")]: (cells[columns.index("status")], cells[columns.index("rung")])
        for _, cells in body_rows(table)
    }
    expected = {t.run_dir: (t.status.value, str({1: 0, 3: 1, 9: 2}[t.epochs])) for t in log.trials}
    assert shown == expected


def test_an_unpruned_search_has_no_rung_figure_and_no_rung_column(tmp_path):
    write_sweep(tmp_path, model=False)
    write_trial_log(tmp_path)
    index = build_report(tmp_path)
    assert "trials_parallel.png" in figure_files(index) and "rungs.png" not in figure_files(index)
    assert not (index.parent / "rungs.png").exists() and "rung" not in header(index.read_text())
    assert not [c for c in re.findall(r"<figcaption>([^<]*)", index.read_text()) if "prune" in c]


def test_a_pruned_log_this_version_cannot_read_is_one_note(tmp_path):
    write_pruned_sweep(tmp_path)
    record = json.loads((tmp_path / "trials.json").read_text())
    record["version"] = 99  # a future format: its fields may mean something else
    (tmp_path / "trials.json").write_text(json.dumps(record))
    page = build_report(tmp_path).read_text()
    assert page.count("trials.json has version 99") == 1
    assert "rungs.png" not in page and "trials_parallel.png" not in page


# --- the report names what the sweep did ---------------------------------------------------------


def captions(index: Path) -> dict[str, str]:
    """Figure file -> its caption, as the page shows them."""
    page = html.unescape(index.read_text())
    return dict(re.findall(r'<img src="([^"]+)"[^>]*><figcaption>([^<]*)</figcaption>', page))


def test_a_grid_over_settings_gets_parallel_coordinates_and_a_line_per_group(tmp_path):
    """A grid (the grid sweeper's trial log) over optimizer x net x lr: every run a line across
    the three settings, and accuracy vs lr a line for each of the four groups."""
    from tests.reports.synthetic import write_grid_sweep

    runs = write_grid_sweep(tmp_path)
    names = ["optimizer", "net", "optimizer.lr"]
    write_trial_log(
        tmp_path,
        names=names,
        method="grid",
        points=runs[names].values.tolist(),
        objectives=runs["best_val_acc"].tolist(),
    )
    index = build_report(tmp_path)
    shown = captions(index)
    assert shown["trials_parallel.png"].startswith("Every run of the grid as a line through its settings")
    assert "a line for each of the 4 groups" in shown["accuracy_vs_lr.png"]
    assert "a block of rows per group" in shown["heatmap_val_acc.png"]


def test_an_lr_only_grid_has_no_parallel_coordinates(tmp_path):
    """One setting: the accuracy vs lr figure is that view already."""
    write_sweep(tmp_path, model=False)
    write_trial_log(tmp_path, method="grid")
    assert "trials_parallel.png" not in captions(build_report(tmp_path))


def skopt_plot(sweep_dir: Path) -> None:
    import imageio.v3 as iio

    iio.imwrite(sweep_dir / "skopt_convergence.png", np.full((20, 20, 3), 255, dtype=np.uint8))


def test_a_random_search_is_not_called_bayesian(tmp_path):
    write_sweep(tmp_path, model=False)
    write_trial_log(tmp_path, method="random")
    skopt_plot(tmp_path)
    index = build_report(tmp_path)
    assert captions(index)["skopt_convergence.png"].startswith("Random search: best objective found after each trial")
    assert "Bayesian" not in html.unescape(index.read_text())


def test_a_bayesian_search_says_which_model(tmp_path):
    write_sweep(tmp_path, model=False)
    write_trial_log(tmp_path, method="gp")
    skopt_plot(tmp_path)
    assert captions(build_report(tmp_path))["skopt_convergence.png"].startswith(
        "Bayesian search (scikit-optimize, a Gaussian process): best objective"
    )


def test_a_tpe_search_gets_its_optimisation_history(tmp_path):
    write_sweep(tmp_path, model=False)
    write_trial_log(tmp_path, method="tpe", values=(0.01, 0.1, 1.0, 0.3))
    index = build_report(tmp_path)
    shown = captions(index)
    assert shown["optimisation_history.png"].startswith("TPE search (Optuna): the objective of each trial")
    assert (index.parent / "optimisation_history.png").stat().st_size > 10_000
    assert "skopt_convergence.png" not in shown


def test_the_gap_heatmap_says_how_training_accuracy_is_measured(tmp_path):
    write_sweep(tmp_path, model=False)
    shown = captions(build_report(tmp_path))
    for name in ("heatmap_gap.png", "heatmap_train_acc.png"):
        assert "during the epoch, each mini-batch scored by its own training step" in shown[name]
        assert "not measured again on the whole training set" in shown[name]


def test_class_names_are_drawn_as_written_even_when_they_are_invalid_mathtext(tmp_path, monkeypatch):
    """``$x^$`` as a class name made matplotlib's mathtext raise when the confusion matrix was
    saved, and the report ended without a page. Class names are data: drawn as written."""
    from nnsweep.runrecord import RunDir

    runs = write_sweep(tmp_path)
    names = ["$x^$", "a$b", r"\frac", "3", "4", "5", "6", "7", "8", "$9$"]
    RunDir(tmp_path / runs.iloc[0]["run"]).write_config({"data": {"class_names": names, "noun": "$ign"}}, [])
    texts = []
    monkeypatch.setattr(
        nnsweep.reports.cache, "draw_side_by_side", lambda draws, *_: [d() for d in draws]
    )  # here, to see it
    import matplotlib.text

    draw_text = matplotlib.text.Text.draw
    monkeypatch.setattr(
        matplotlib.text.Text, "draw", lambda self, r: texts.append(self.get_text()) or draw_text(self, r)
    )
    index = build_report(tmp_path)
    assert set(MODEL_FIGURES) <= set(figure_files(index))
    assert "$x^$" in texts and "$9$" in texts and "predicted $ign" in texts


def test_a_figure_that_raises_is_a_note_and_the_rest_of_the_page_is_written(tmp_path, monkeypatch, capsys):
    write_sweep(tmp_path)
    monkeypatch.setattr(nnsweep.reports.cache, "draw_side_by_side", lambda draws, *_: [d() for d in draws])

    def broken(*args, **kwargs):
        raise ValueError("a figure that cannot be drawn\nsecond line")

    monkeypatch.setattr(nnsweep.reports.build, "render_accuracy_vs_lr", broken)
    index = build_report(tmp_path)
    page = html.unescape(index.read_text())
    files = figure_files(index)
    assert "accuracy_vs_lr.png" not in files and "heatmap_val_acc.png" in files and "confusion_matrix.png" in files
    assert "could not be drawn (ValueError: a figure that cannot be drawn second line)" in page
    warnings = [line for line in capsys.readouterr().err.splitlines() if "could not be drawn" in line]
    assert len(warnings) == 1 and warnings[0].startswith("nnsweep: warning: report: accuracy_vs_lr"), warnings


def test_a_damaged_figure_cache_or_live_state_only_means_drawing_again(tmp_path):
    """The report's own figures.json and live state are data too, read with limits: nested
    100,000 deep (a RecursionError before) or not a mapping, the page is drawn again."""
    from nnsweep.reports.cache import CACHE
    from nnsweep.reports.live import STATE, update

    write_sweep(tmp_path, model=False)
    index = build_report(tmp_path)
    for damage in ("[" * 100_000 + "]" * 100_000, "[1, 2]", '{"a": 1}'):
        (index.parent / CACHE).write_text(damage)
        (index.parent / STATE).write_text(damage)
        index.unlink()
        assert update(tmp_path)[0] == index and index.is_file()


def test_log_axes_are_labelled_in_plain_numbers_not_unparsed_mathtext(tmp_path, monkeypatch):
    """Text is drawn as written (class names are data), so matplotlib's own mathtext tick labels
    of a log axis showed as "$\\mathdefault{10^{-2}}$" under the accuracy vs lr figure."""
    import matplotlib.text

    write_sweep(tmp_path, model=False)
    texts = []
    monkeypatch.setattr(nnsweep.reports.cache, "draw_side_by_side", lambda draws, *_: [d() for d in draws])
    draw_text = matplotlib.text.Text.draw
    monkeypatch.setattr(
        matplotlib.text.Text, "draw", lambda self, r: texts.append(self.get_text()) or draw_text(self, r)
    )
    build_report(tmp_path)
    assert texts and not [t for t in texts if "mathdefault" in t or t.startswith("$")], sorted(set(texts))[:20]
    assert "0.1" in texts and "1" in texts  # the rates' decades, as plain numbers
