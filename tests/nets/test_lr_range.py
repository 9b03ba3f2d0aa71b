"""The learning-rate range test (``nnsweep.nets.lr_range``): its rates, smoothing, stopping rule
and suggestions, checked by hand; and on a real network, a loss that falls and then explodes."""

import numpy as np
import pytest

from nnsweep.nets.architectures import mlp
from nnsweep.nets.lr_range import RangeTest, centred_average, range_test, rates
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer
from nnsweep.nets.train import target_matrix


def test_rates_grow_by_one_factor_per_step():
    lrs = rates(1e-4, 1.0, 41)
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(lrs[1:] / lrs[:-1], 10 ** (4 / 40))
    with pytest.raises(ValueError, match="0 < start < end"):
        rates(1.0, 0.1, 100)


def test_centred_average_by_hand():
    values = np.array([1.0, 2.0, 6.0, np.nan, 4.0])
    # window 3: (1+2)/2, (1+2+6)/3, (2+6)/2 (the NaN is no value), NaN stays NaN, (4)/1
    assert np.allclose(centred_average(values, 3), [1.5, 3.0, 4.0, np.nan, 4.0], equal_nan=True)


def test_suggestions_by_hand():
    """Smoothed loss 5 4.5 2 1 0.5 0.8 3 at rates 0.001 .. 1000: lowest at 10, so the suggestion
    (minimum/10) is 1; the steepest fall per factor of rate, before the lowest point, is at
    0.1 (np.gradient there: (1 - 4.5) / (2 ln 10); at 0.01 (2 - 5) / (2 ln 10) is less steep)."""
    lrs = 10.0 ** np.arange(-3, 4)
    smoothed = np.array([5, 4.5, 2, 1, 0.5, 0.8, 3.0])
    test = RangeTest(lrs, smoothed, smoothed, stopped_early=True)
    assert test.lowest_lr == pytest.approx(10) and test.suggested_lr == pytest.approx(1)
    assert test.steepest_lr == pytest.approx(0.1) and not test.still_falling
    falling = RangeTest(lrs, smoothed[::-1].cumsum()[::-1], smoothed[::-1].cumsum()[::-1], stopped_early=False)
    assert falling.still_falling and falling.lowest_lr == pytest.approx(1000)


def digits_like(n=400, seed=0):
    """Ten well-separated clusters of 784 pixels: a problem a sigmoid MLP learns in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (10, 784))
    labels = rng.integers(0, 10, n)
    return np.clip(centres[labels] + 0.1 * rng.normal(size=(n, 784)), 0, 1), labels


def test_the_loss_falls_then_explodes_and_the_test_stops():
    x, labels = digits_like()
    rng = np.random.default_rng(0)
    network = Network(mlp([30], "sigmoid", loss="cross_entropy"), rng)
    targets = target_matrix(10, dtype=network.dtype)[labels]
    test = range_test(
        network, make_optimizer("sgd", lr=0.1), x, targets, batch_size=10, rng=rng, start=1e-4, end=1e4, steps=400
    )
    assert test.stopped_early and len(test.lrs) < 400  # 1e4 is far too large: it exploded first
    finite = test.smoothed[np.isfinite(test.smoothed)]
    assert finite.min() < 0.5 * finite[:20].mean()  # it learned on the way
    assert 1e-3 < test.suggested_lr < 1e2 and test.suggested_lr == pytest.approx(test.lowest_lr / 10)
    assert test.learned and test.best_accuracy > 0.5 and test.classes == 10


def test_rates_too_small_to_learn_are_said_to_be():
    """From 1e-8 to 1e-6 nothing is learned: the batches stay at chance, so no suggestion counts,
    however far the loss moved."""
    x, labels = digits_like()
    rng = np.random.default_rng(0)
    network = Network(mlp([30], "sigmoid", loss="cross_entropy"), rng)
    targets = target_matrix(10, dtype=network.dtype)[labels]
    test = range_test(
        network, make_optimizer("sgd", lr=0.1), x, targets, batch_size=10, rng=rng, start=1e-8, end=1e-6, steps=200
    )
    assert not test.stopped_early and test.best_accuracy < 0.25 and not test.learned


def test_learned_means_above_guessing_by_hand():
    """Guessing among 10 classes, over 100 examples a point: 0.1 + 5 * sqrt(0.09 / 100) = 0.25."""
    lrs = 10.0 ** np.arange(-3, 4)
    loss = np.array([5, 4.5, 2, 1, 0.5, 0.8, 3.0])
    assert not RangeTest(lrs, loss, loss, True, np.full(7, 0.25), 10, 100).learned
    assert RangeTest(lrs, loss, loss, True, np.array([0.1, 0.1, 0.2, 0.3, 0.26, 0.1, 0.1]), 10, 100).learned
    # two classes over 100 examples: 0.5 + 5 * 0.05 = 0.75
    assert not RangeTest(lrs, loss, loss, True, np.full(7, 0.74), 2, 100).learned
