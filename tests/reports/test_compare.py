"""The best configuration against the runner-up, paired by seed, checked against hand computations."""
import numpy as np
import pytest

from reports.compare import ONE_SEED, best_vs_runner_up, paired_difference
from reports.tables import load_tables
from tests.reports.synthetic import write_repeated_sweep
from tests.reports.test_tables import HAND, T_2, hand_specs


def sentence(tmp_path, specs):
    write_repeated_sweep(tmp_path, specs)
    tables = load_tables(tmp_path)
    return best_vs_runner_up(tables.runs, tables.configs)


def test_the_difference_and_its_interval_by_hand(tmp_path):
    """Best values (points) per seed: lr 0.1 90, 92, 97; lr 1 99, 80, 81. Differences -9, 12, 16:
    mean 19/3, squares about it (15.33² + 5.67² + 9.67²) = 360.67, s = sqrt(360.67 / 2)."""
    half = T_2 * np.sqrt(360.6667 / 2) / np.sqrt(3)
    assert (19 / 3 - half, 19 / 3 + half) == pytest.approx((-27.02, 39.69), abs=0.01)
    assert sentence(tmp_path, hand_specs()) == (
        "lr 0.1 beats lr 1 by 6.3 points of validation accuracy (95% interval -27.0 to 39.7, paired over 3 seeds): "
        "the interval includes 0, so the difference may be noise.")


def test_seeds_are_paired_by_their_number_not_their_place(tmp_path):
    """lr 0.3 has seeds 0-3, lr 0.1 seeds 1-3: the differences of seeds 1, 2, 3 are 1.0, 1.2 and
    0.8 points, mean 1.0, s = 0.2, so the interval is 1.0 +- 4.303 * 0.2 / sqrt(3) = 0.50 to 1.50."""
    best = {0: 0.950, 1: 0.930, 2: 0.912, 3: 0.940}
    runner_up = {3: 0.932, 1: 0.920, 2: 0.900}
    specs = [{"lr": 0.3, "seed": s, "val": [0.5, v]} for s, v in best.items()] + \
        [{"lr": 0.1, "seed": s, "val": [0.5, v]} for s, v in runner_up.items()]
    mean, low, high, n = paired_difference({s: v * 100 for s, v in best.items()},
                                           {s: v * 100 for s, v in runner_up.items()})
    assert (mean, n) == (pytest.approx(1.0), 3)
    assert (low, high) == pytest.approx((1.0 - T_2 * 0.2 / np.sqrt(3), 1.0 + T_2 * 0.2 / np.sqrt(3)), rel=1e-3)
    assert sentence(tmp_path, specs) == (
        "lr 0.3 beats lr 0.1 by 1.0 points of validation accuracy (95% interval 0.5 to 1.5, paired over 3 seeds): "
        "the interval lies above 0, so the difference is more than seed noise.")


def test_configurations_are_named_by_what_differs(tmp_path):
    specs = hand_specs({0.1: HAND[0.1]}, **{"net.hidden": "[300]"}) + \
        hand_specs({0.1: [[0.5, 0.89], [0.5, 0.91], [0.5, 0.95]]}, **{"net.hidden": "[100]"})
    text = sentence(tmp_path, specs)
    assert text.startswith("hidden [300] beats hidden [100] by 1.3 points")  # differences 1, 1, 2


def test_one_seed_each_says_how_to_get_more(tmp_path):
    specs = [{"lr": lr, "seed": 0, "val": [0.5, v]} for lr, v in ((0.1, 0.9), (1.0, 0.8))]
    assert sentence(tmp_path, specs) == ONE_SEED
    assert "--repeats 3" in ONE_SEED


def test_one_configuration_has_no_runner_up(tmp_path):
    assert sentence(tmp_path, hand_specs({0.1: HAND[0.1]})) is None


def test_disjoint_seeds_cannot_be_paired(tmp_path):
    specs = [{"lr": 0.1, "seed": s, "val": [0.5, 0.9 + s / 100]} for s in (0, 1)] + \
        [{"lr": 1.0, "seed": s, "val": [0.5, 0.8 + s / 100]} for s in (2, 3)]
    assert sentence(tmp_path, specs) == ("lr 0.1 and lr 1 share 0 seeds with a value: too few to compare them "
                                         "seed by seed.")


def test_identical_differences_have_no_spread():
    assert paired_difference({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0}) == (1.0, 1.0, 1.0, 2)
    assert np.isnan(paired_difference({0: 2.0}, {0: 1.0})[1])
    assert paired_difference({0: 1.0}, {})[3] == 0
