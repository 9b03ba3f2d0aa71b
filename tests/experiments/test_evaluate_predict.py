"""Evaluate and predict on a model trained once for this module."""

import json

import numpy as np
import pytest
from PIL import Image

from nnsweep.experiments.evaluate import evaluate_run
from nnsweep.experiments.predict import predict_images
from nnsweep.experiments.train import train_run
from nnsweep.nets.data.digit_image import load_digit
from nnsweep.nets.data.readers import DataFormatError
from tests.conftest import SHARED_T10K
from tests.experiments.conftest import compose_config, run_module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = compose_config(["experiment=nielsen_ch3", "trainer.epochs=6", "trainer.progress=false"])
    summary = train_run(cfg, out)
    assert summary.best_val_acc > 0.85
    return out


def test_evaluation_json(trained):
    r = evaluate_run(trained)
    on_disk = json.loads((trained / "evaluation.json").read_text())
    assert on_disk["test_acc"] == r["test_acc"] > 0.85 and on_disk["n_test"] == 1000
    confusion = np.array(r["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 1000
    assert np.trace(confusion) / 1000 == pytest.approx(r["test_acc"])
    assert len(r["misclassified"]) == 1000 - np.trace(confusion)
    assert r["per_class_acc"][3] == pytest.approx(confusion[3, 3] / confusion[3].sum())
    assert "mnist_first_5000_acc" not in r


@pytest.mark.skipif(not SHARED_T10K.is_dir(), reason="shared MNIST test set not present")
def test_evaluate_on_the_real_mnist_test_set_from_the_command_line(trained):
    result = run_module("nnsweep.experiments.evaluate", f"run={trained}", f"test={SHARED_T10K}")
    assert result.returncode == 0, result.stderr
    (record,) = trained.glob("evaluation-best-mnist-t10k-*.json")  # its own name: the run's stays
    r = json.loads(record.read_text())
    assert r["n_test"] == 10000 and r["test_acc"] > 0.8
    assert (r["mnist_first_5000_acc"] + r["mnist_last_5000_acc"]) / 2 == pytest.approx(r["test_acc"])
    assert "first 5,000" in result.stdout


def test_another_evaluation_never_replaces_the_one_the_report_shows_beside_the_summary(trained, tmp_path):
    """evaluate weights=final used to overwrite evaluation.json: the report's confusion matrix
    then gave the final weights' accuracy under a header with the best weights'. Each evaluation
    has its own file now, and the figure says which weights on which test set it shows."""
    from nnsweep.reports.models import model_figures
    from nnsweep.runrecord import RunDir

    run = RunDir(trained)
    evaluate_run(trained)  # the weights and split training evaluated: evaluation.json, as training wrote it
    summary = run.read_summary()
    result = run_module("nnsweep.experiments.evaluate", f"run={trained}", "weights=final")
    assert result.returncode == 0, result.stderr
    assert f"written to {trained / 'evaluation-final-own.json'}" in result.stdout
    final = json.loads((trained / "evaluation-final-own.json").read_text())
    assert final["weights"] == "final" and (trained / "test_errors-final-own.npz").is_file()
    shown = run.read_evaluation()  # what the report draws
    confusion = np.array(shown["confusion"])
    assert shown["weights"] == "best" and np.trace(confusion) / confusion.sum() == pytest.approx(summary.test_acc)
    notes = []
    figures = model_figures(run, tmp_path, notes)
    caption = next(f.caption for f in figures if f.file == "confusion_matrix.png")
    assert "(best weights, mnist5k test split)" in caption, (caption, notes)


def test_test_sets_in_folders_of_the_same_name_have_files_of_their_own(tmp_path):
    """``test=a/own`` overwrote the evaluation of the run's own split (``-own``), and ``a/own``
    and ``b/own`` shared one file: the name carries a digest of the folder's whole path."""
    from nnsweep.runrecord import evaluation_files

    (tmp_path / "c" / "mnist").mkdir(parents=True)
    names = {
        evaluation_files("final", None)[0],
        evaluation_files("final", str(tmp_path / "a" / "own"))[0],
        evaluation_files("final", str(tmp_path / "b" / "own"))[0],
        evaluation_files("final", str(tmp_path / "c" / "mnist"))[0],
    }
    assert len(names) == 4 and "evaluation-final-own.json" in names
    assert (
        evaluation_files("final", str(tmp_path / "c" / "mnist" / ""))[0]
        == evaluation_files("final", str(tmp_path / "c" / "." / "mnist"))[0]
    )  # one folder, one name
    assert evaluation_files("best", None) == ("evaluation.json", "test_errors.npz")


def digit_picture(trained, digit: int, path, size=200, dark_on_light=True, mode="L"):
    """A test digit that the model classifies correctly, drawn as a user's picture."""
    from nnsweep.nets.data.datasets import load_dataset
    from nnsweep.runrecord import RunDir

    data = load_dataset("mnist5k")
    net = RunDir(trained).load_model()
    candidates = np.flatnonzero((data.test.labels == digit) & (net.predict(data.test.x) == digit))
    ink = data.test.x[candidates[0]].reshape(28, 28)
    grey = 1.0 - ink if dark_on_light else ink
    img = Image.fromarray((grey * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
        assert img.mode == "I;16"
    elif mode == "RGBA":  # ink opaque, paper transparent
        a = np.asarray(img)
        rgba = np.zeros((size, size, 4), np.uint8)
        rgba[..., 3] = 255 - a
        img = Image.fromarray(rgba, "RGBA")
    img.save(path)
    return path


@pytest.mark.parametrize(
    "digit,size,dark,mode", [(3, 200, True, "L"), (7, 64, False, "L"), (0, 150, True, "I;16"), (4, 120, True, "RGBA")]
)
def test_predict_recognises_pictures_of_digits(trained, tmp_path, digit, size, dark, mode):
    path = digit_picture(trained, digit, tmp_path / f"d{digit}.png", size, dark, mode)
    assert predict_images(trained, [str(path)])[0][0][0] == digit


def test_predict_command_line(trained, tmp_path):
    a = digit_picture(trained, 2, tmp_path / "two.png")
    b = digit_picture(trained, 6, tmp_path / "six.png", size=90)
    result = run_module("nnsweep.experiments.predict", f"run={trained}", f"image=[{a},{b}]")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{a}: 2 (") and lines[1].startswith(f"{b}: 6 (")


def test_preprocessing_centres_by_mass(tmp_path):
    canvas = np.full((300, 500), 255, np.uint8)
    canvas[20:120, 400:430] = 0  # a thick stroke in a corner of a wide photo
    Image.fromarray(canvas).save(tmp_path / "bar.png")
    x = load_digit(tmp_path / "bar.png").reshape(28, 28)
    rows, cols = np.nonzero(x > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the 20-pixel box
    com = np.array([(x.sum(1) * np.arange(28)).sum(), (x.sum(0) * np.arange(28)).sum()]) / x.sum()
    assert np.all(np.abs(com - 14) <= 1)


def bad_images(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "blank.png")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    frames = [Image.fromarray(np.full((30, 30), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.new("L", (7000, 6000), 255).save(tmp_path / "huge.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "blank.png").read_bytes()[:60])
    Image.new("RGB", (40, 40), (250, 250, 250)).convert("LAB").save(tmp_path / "lab.tif")  # no way to grey
    return {
        "lab.tif": "cannot be read as grey levels",
        "text.png": "not a readable image",
        "blank.png": "is blank",
        "dot.png": "1x1 pixels",
        "anim.gif": "animated",
        "huge.png": "too large",
        "cut.png": "could not be read|not a readable",
        "missing.png": "does not exist",
    }


def test_bad_images_give_clear_errors(tmp_path):
    for name, message in bad_images(tmp_path).items():
        with pytest.raises(DataFormatError, match=message):
            load_digit(tmp_path / name)


def test_bad_image_on_the_command_line_is_one_line(trained, tmp_path):
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "blank.png")
    result = run_module("nnsweep.experiments.predict", f"run={trained}", f"image={tmp_path / 'blank.png'}")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "is blank" in result.stderr


def test_the_draw_pages_preset_evaluates_from_its_checkpoint_as_it_did_in_training(tmp_path):
    """make draw's model (experiment=mnist_cnn), made small: batch normalisation's running
    statistics and the best epoch's weights come back from model.npz, so an evaluation from the
    saved run agrees with what training measured in memory."""
    run = tmp_path / "run"
    summary = train_run(
        compose_config(
            [
                "experiment=mnist_cnn",
                "net.channels=[16,32]",
                "net.dense=[64]",
                "data.train_limit=1500",
                "trainer.epochs=3",
                "trainer.progress=false",
            ]
        ),
        run,
    )
    assert summary.status == "ok" and summary.test_acc > 0.5
    assert evaluate_run(run)["test_acc"] == summary.test_acc
