"""The model figures drawn from what a run recorded (a confusion matrix, the test digits it got
wrong) and from its model (first-layer weights), each one image in one axes."""

import imageio.v3 as iio
import numpy as np
import pytest

import nnsweep.reports.digits
from nnsweep import runrecord  # its TestErrors, by module: pytest would try to collect a name starting with Test
from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.network import Network
from nnsweep.reports.digits import mosaic, render_confusion_matrix, render_first_layer, render_misclassified
from nnsweep.runrecord import ClassLabels
from tests.reports.synthetic import confusion


def test_confusion_matrix_from_a_recorded_matrix(tmp_path):
    path = render_confusion_matrix(confusion(), tmp_path / "confusion.png", source="mnist5k test split")
    image = iio.imread(path)
    assert image.shape[:2] == (550, 650) and path.stat().st_size > 20_000


def test_misclassified_digits_from_recorded_test_errors(tmp_path):
    rng = np.random.default_rng(0)
    errors = runrecord.TestErrors(
        images=rng.random((7, 784), dtype=np.float32),
        labels=np.arange(7),
        predicted=np.arange(7)[::-1],
        confidence=np.linspace(0.99, 0.4, 7),
        source=np.array("mnist5k test split"),
    )
    path = render_misclassified(errors, tmp_path / "misclassified.png", mistakes=123, n_test=1000)
    width, height = iio.imread(path).shape[1::-1]
    assert width == 5 * 170 and height > 2 * 170 and path.stat().st_size > 20_000  # two rows of five


def test_a_mosaic_lays_tiles_out_in_rows_with_gaps_and_room_for_titles():
    tiles = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    image = mosaic(tiles, cols=3, gap=1, top=2)
    assert image.shape == (2 * (2 + 2 + 1) - 1, 3 * (3 + 1) - 1)
    np.testing.assert_array_equal(image[2:4, 4:7], tiles[1])
    np.testing.assert_array_equal(image[7:9, 4:7], tiles[4])
    assert np.isnan(image[:2]).all() and np.isnan(image[:, 3]).all() and np.isnan(image[7:9, 8:]).all()


@pytest.fixture
def axes_drawn(monkeypatch):
    """How many axes each figure saved through ``nnsweep.reports.digits`` has, by file name."""
    counts: dict[str, int] = {}
    save = nnsweep.reports.digits.save
    monkeypatch.setattr(
        nnsweep.reports.digits, "save", lambda fig, path: counts.update({path.name: len(fig.axes)}) or save(fig, path)
    )
    return counts


@pytest.mark.parametrize(
    "description, width",
    [
        (mlp([100], "sigmoid"), 10 * 70 + 120),  # 0.7 in a tile, ten a row
        (lenet5("relu"), 6 * 100 + 120),
    ],
)  # six kernels, 1 in each
def test_first_layer_weights_are_one_mosaic_and_a_colour_bar(tmp_path, axes_drawn, description, width):
    path = render_first_layer(Network(description, np.random.default_rng(0)), tmp_path / "first.png")
    assert axes_drawn["first.png"] == 2  # was one axes per hidden unit: 100 for a 784-100-10 MLP
    assert iio.imread(path).shape[1] == width  # and 1.2 in for the colour bar


def test_mistakes_are_one_mosaic_titled_with_class_names(tmp_path, axes_drawn):
    errors = runrecord.TestErrors(
        images=np.zeros((25, 784), np.float32),
        labels=np.arange(25) % 10,
        predicted=(np.arange(25) + 1) % 10,
        confidence=np.full(25, 0.5),
    )
    render_misclassified(errors, tmp_path / "mistakes.png", labels=ClassLabels(tuple("ABCDEFGHIJ"), "letter"))
    assert axes_drawn["mistakes.png"] == 1
