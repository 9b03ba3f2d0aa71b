"""Activation functions at extreme inputs: finite, correct and warning-free in float32."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from nnsweep.nets.activations import hidden_sigmoid, log_softmax, sigmoid, softmax

EXTREMES = np.array([-1e4, -1e3, -100.0, -88.5, -20.0, -1.0, 0.0, 1.0, 20.0, 88.5, 100.0, 1e3, 1e4])


@pytest.mark.parametrize("size", [13, 13 * 1000], ids=["small", "large"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("function", [sigmoid, hidden_sigmoid], ids=lambda f: f.__name__)
def test_sigmoid_is_finite_and_silent_at_extremes(size, dtype, function):
    z = np.resize(EXTREMES, size).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = function(z)
    assert s.dtype == dtype
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    # float32: within one unit in the last place of 1 (1.2e-7); the tanh form measured 6e-8.
    np.testing.assert_allclose(s, expit(z.astype(np.float64)), atol=1.2e-7 if dtype == np.float32 else 1e-15)
    assert s[list(EXTREMES).index(0.0)] == 0.5


def test_the_losses_sigmoid_keeps_tiny_outputs_that_the_hidden_one_rounds_to_zero():
    """Why two: a loss takes log(a) of its sigmoid outputs, a hidden unit never does."""
    z = np.full(13 * 1000, -30.0, dtype=np.float32)
    np.testing.assert_allclose(sigmoid(z), expit(-30.0), rtol=1e-5)  # 9.4e-14, log finite
    assert np.all(hidden_sigmoid(z) < 1e-7)


def test_softmax_and_log_softmax_at_extremes():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [3.0, 1.0, 0.2]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, lp = softmax(z), log_softmax(z)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    assert lp[0, 2] == pytest.approx(-2e4, rel=1e-6)  # finite where softmax underflows to 0
    e = np.exp([3.0, 1.0, 0.2])
    np.testing.assert_allclose(p[2], e / e.sum(), rtol=1e-6)
