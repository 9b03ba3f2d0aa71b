"""The model figures drawn from what a run recorded: a confusion matrix, the test digits it got wrong."""
import imageio.v3 as iio
import numpy as np

from reports.digits import render_confusion_matrix, render_misclassified
import runrecord  # its TestErrors, by module: pytest would try to collect a name starting with Test
from tests.reports.synthetic import confusion


def test_confusion_matrix_from_a_recorded_matrix(tmp_path):
    path = render_confusion_matrix(confusion(), tmp_path / "confusion.png", source="mnist5k test split")
    image = iio.imread(path)
    assert image.shape[:2] == (550, 650) and path.stat().st_size > 20_000


def test_misclassified_digits_from_recorded_test_errors(tmp_path):
    rng = np.random.default_rng(0)
    errors = runrecord.TestErrors(images=rng.random((7, 784), dtype=np.float32), labels=np.arange(7),
                                  predicted=np.arange(7)[::-1], confidence=np.linspace(0.99, 0.4, 7),
                                  source=np.array("mnist5k test split"))
    path = render_misclassified(errors, tmp_path / "misclassified.png", mistakes=123, n_test=1000)
    width, height = iio.imread(path).shape[1::-1]
    assert width == 5 * 170 and height > 2 * 170 and path.stat().st_size > 20_000  # two rows of five
