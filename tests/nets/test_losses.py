"""Costs: values by hand, gradients with respect to z by finite differences, stability."""

import warnings

import numpy as np
import pytest

from nnsweep.nets.losses import LOSSES, CrossEntropyCost, QuadraticCost, SoftmaxCrossEntropy, get_loss
from tests.conftest import numerical_gradient


@pytest.mark.parametrize("loss", LOSSES.values(), ids=lambda c: c.name)
def test_delta_is_the_gradient_of_fn_with_respect_to_z(loss):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 5)) * 3
    y = np.eye(5)[rng.integers(0, 5, 4)] * 0.98 + 0.01 if loss is not SoftmaxCrossEntropy else np.eye(5)[[0, 1, 2, 3]]
    f = lambda: loss.fn(z, loss.activation(z), y)
    delta = loss.delta(z, loss.activation(z), y)
    for idx in np.ndindex(z.shape):
        assert delta[idx] == pytest.approx(numerical_gradient(f, z, idx), rel=1e-5, abs=1e-8)


def test_values_by_hand():
    z = np.array([[0.0, np.log(3.0)]])  # sigmoid -> [0.5, 0.75]
    y = np.array([[0.0, 1.0]])
    a = QuadraticCost.activation(z)
    assert QuadraticCost.fn(z, a, y) == pytest.approx(0.5 * (0.25 + 0.0625))
    assert CrossEntropyCost.fn(z, a, y) == pytest.approx(-np.log(0.5) - np.log(0.75))
    zs = np.array([[1.0, 2.0, 3.0]])
    p = np.exp(zs) / np.exp(zs).sum()
    assert SoftmaxCrossEntropy.fn(zs, p, np.array([[0, 0, 1.0]])) == pytest.approx(-np.log(p[0, 2]))


@pytest.mark.parametrize("loss", LOSSES.values(), ids=lambda c: c.name)
def test_cost_is_finite_for_extreme_float32_outputs(loss):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 50.0]], dtype=np.float32)
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.fn(z, loss.activation(z), y)
        delta = loss.delta(z, loss.activation(z), y)
    assert np.isfinite(value) and value > 0 and np.all(np.isfinite(delta))


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ValueError, match="quadratic"):
        get_loss("hinge")
