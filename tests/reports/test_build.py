"""A whole report from a synthetic collected sweep: what it reads, and what it draws from it."""
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

import reports.build
from reports.build import build_report
from tests.reports.synthetic import SOURCE, confusion, write_sweep, write_trial_log

MODEL_FIGURES = ("digit_portraits.png", "misclassified.png", "confusion_matrix.png", "first_layer.png")


def figure_files(index: Path) -> list[str]:
    import re

    return re.findall(r'<img src="([^"]+)"', index.read_text())


def test_model_figures_come_from_the_run_record(tmp_path, monkeypatch):
    write_sweep(tmp_path)
    drawn = []
    draw = reports.build.render_confusion_matrix
    monkeypatch.setattr(reports.build, "render_confusion_matrix",
                        lambda matrix, *args, **kw: drawn.append(np.array(matrix)) or draw(matrix, *args, **kw))
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
    assert "python -m experiments.evaluate run=" in html.unescape(index.read_text())


def test_a_diverged_model_is_a_note_on_the_page(tmp_path):
    write_sweep(tmp_path, diverged_model=True)
    page = build_report(tmp_path).read_text()
    assert "non-finite weights" in page and "digit_portraits.png" not in page


def test_the_summary_is_the_one_best_run_sentence(tmp_path):
    from sweeps.collect import best_run_sentence, describe

    runs = write_sweep(tmp_path, model=False)
    sentence = best_run_sentence(pd.read_csv(tmp_path / "runs.csv"))
    assert sentence.startswith(f"Best: {runs.iloc[0]['run']} with validation accuracy ")
    assert sentence in describe(pd.read_csv(tmp_path / "runs.csv"))
    assert html.escape(sentence) in build_report(tmp_path).read_text()


def test_a_damaged_trial_log_is_a_note_not_a_traceback(tmp_path):
    write_sweep(tmp_path, model=False)
    record = write_trial_log(tmp_path)
    record["trials"][0].pop("told")
    (tmp_path / "trials.json").write_text(json.dumps(record))
    page = build_report(tmp_path).read_text()
    assert "trials.json is damaged" in page and "trials_parallel.png" not in page
