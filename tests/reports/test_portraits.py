"""Portraits for every run (a strip for the results table) and the model figures in the words of
the run's data set: Fashion-MNIST's classes by name, "items" rather than "digits"."""

from __future__ import annotations

import imageio.v3 as iio
import matplotlib.text
import numpy as np
import pytest

import nnsweep.reports.digits
from nnsweep.nets.architectures import mlp
from nnsweep.nets.checkpoint import save_checkpoint
from nnsweep.nets.network import Network
from nnsweep.reports.models import model_figures, render_run_portraits
from nnsweep.runrecord import RunDir
from tests.experiments.conftest import compose_config
from tests.reports.synthetic import write_run_record

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture
def drawn_texts(monkeypatch):
    """Every text of every figure saved through ``nnsweep.reports.digits``, by file name."""
    texts: dict[str, list[str]] = {}
    save = nnsweep.reports.digits.save

    def recording(fig, path):
        texts[path.name] = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        return save(fig, path)

    monkeypatch.setattr(nnsweep.reports.digits, "save", recording)
    return texts


def relu_run(path, with_mean: bool = True) -> RunDir:
    """A 784-100-10 ReLU MLP (so its portraits are activation maximisation), untrained."""
    run = RunDir(path)
    run.path.mkdir(parents=True)
    save_checkpoint(run.model_path, Network(mlp([100], "relu"), np.random.default_rng(0)))
    if with_mean:
        run.write_mean_input(np.random.default_rng(1).random(784) * 0.3)
    return run


def test_a_runs_portraits_are_one_strip_of_its_ten_classes(tmp_path):
    run = relu_run(tmp_path / "run")
    path = render_run_portraits(run, tmp_path / "strip.png")
    strip = iio.imread(path)
    assert strip.shape == (56, 10 * 56 + 9 * 2) and strip.dtype == np.uint8  # 2x nearest, 1-pixel separators doubled
    assert (strip[:, 56:58] == 255).all() and (strip[:, :56].min(), strip[:, :56].max()) == (0, 255)


def test_a_runs_portraits_start_from_its_recorded_mean_image(tmp_path):
    with_mean = iio.imread(render_run_portraits(relu_run(tmp_path / "a"), tmp_path / "a.png"))
    without = iio.imread(render_run_portraits(relu_run(tmp_path / "b", with_mean=False), tmp_path / "b.png"))
    assert with_mean.shape == without.shape and not np.array_equal(with_mean, without)


def test_no_strip_without_a_model_that_loads(tmp_path):
    assert render_run_portraits(RunDir(tmp_path / "none"), tmp_path / "none.png") is None
    write_run_record(RunDir(tmp_path / "diverged"), diverged=True)
    assert render_run_portraits(RunDir(tmp_path / "diverged"), tmp_path / "diverged.png") is None
    assert not list(tmp_path.glob("*.png"))


def test_model_figures_use_the_class_names_of_the_runs_data(tmp_path, drawn_texts):
    run = RunDir(tmp_path / "run")
    write_run_record(run)  # mistakes: true 0..4, said 1..5
    run.write_config(compose_config(["data=fashion"]), ["data=fashion"])
    assert run.class_labels().names == tuple(FASHION) and run.class_labels().plural == "items"
    notes = []
    captions = " ".join(f.caption for f in model_figures(run, tmp_path, notes))
    assert "each item looks like" in captions and "Which items" in captions and "digit" not in captions
    confusion = drawn_texts["confusion_matrix.png"]
    assert set(FASHION) <= set(confusion) and {"predicted item", "true item"} <= set(confusion)
    mistakes = drawn_texts["misclassified.png"]
    assert "true T-shirt/top\nsaid Trouser\n90% sure" in mistakes and "true Dress, said Coat\n60% sure" in mistakes
    assert any("on 500 test items" in t for t in mistakes)
    assert set(FASHION) <= set(drawn_texts["digit_portraits.png"])
    assert any("each item looks like" in t for t in drawn_texts["digit_portraits.png"])


def test_runs_that_name_no_classes_are_digits_0_to_9(tmp_path, drawn_texts):
    run = RunDir(tmp_path / "run")
    write_run_record(run)  # no config at all: recorded before the data config named its classes
    assert run.class_labels().names == tuple("0123456789") and run.class_labels().noun == "digit"
    model_figures(run, tmp_path, [])
    assert "true 0, said 1\n90% sure" in drawn_texts["misclassified.png"]
    assert {"predicted digit", "true digit"} <= set(drawn_texts["confusion_matrix.png"])
    run.write_config(compose_config(["data.class_names=[a,b]"]), [])  # two names for ten classes: numbers
    assert run.class_labels().names == tuple("0123456789")
