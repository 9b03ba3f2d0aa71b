"""Optimizer updates against the textbook formulas, on one parameter with a known gradient."""

import numpy as np
import pytest

from nnsweep.nets.optimizers import OPTIMIZERS, make_optimizer


def one_param(value=1.0, grad=0.5, decayed=True):
    p, g = np.array([value]), np.array([grad])
    return p, g, [("0.W", p, g, decayed)]


def run_steps(opt, p, g, grads):
    values = []
    for grad in grads:
        g[...] = grad
        opt.step()
        values.append(float(p[0]))
    return values


def test_sgd_with_nielsen_l2():
    p, g, params = one_param()
    opt = make_optimizer("sgd", lr=0.1, l2=5.0, n_train=50).bind(params)
    run_steps(opt, p, g, [0.5])
    assert p[0] == pytest.approx((1 - 0.1 * 5.0 / 50) * 1.0 - 0.1 * 0.5)  # Nielsen eq. (93)


def test_l2_and_decay_skip_biases():
    p, g, params = one_param(decayed=False)
    opt = make_optimizer("sgd", lr=0.1, l2=5.0, n_train=50, weight_decay=0.1).bind(params)
    run_steps(opt, p, g, [0.5])
    assert p[0] == pytest.approx(1.0 - 0.05)


def test_momentum_and_nesterov():
    grads = [0.5, -0.2, 0.3]
    p, g, params = one_param()
    vals = run_steps(make_optimizer("momentum", lr=0.1, momentum=0.9).bind(params), p, g, grads)
    v, w, expect = 0.0, 1.0, []
    for gr in grads:
        v = 0.9 * v - 0.1 * gr
        w += v
        expect.append(w)
    assert vals == pytest.approx(expect)
    p, g, params = one_param()
    vals = run_steps(make_optimizer("nesterov", lr=0.1, momentum=0.9).bind(params), p, g, grads)
    v, w, expect = 0.0, 1.0, []
    for gr in grads:
        v = 0.9 * v - 0.1 * gr
        w += 0.9 * v - 0.1 * gr
        expect.append(w)
    assert vals == pytest.approx(expect)


def test_rmsprop_and_adam():
    grads = [0.5, -0.2, 0.3]
    p, g, params = one_param()
    vals = run_steps(make_optimizer("rmsprop", lr=0.01, rho=0.9).bind(params), p, g, grads)
    s, w, expect = 0.0, 1.0, []
    for gr in grads:
        s = 0.9 * s + 0.1 * gr * gr
        w -= 0.01 * gr / (np.sqrt(s) + 1e-8)
        expect.append(w)
    assert vals == pytest.approx(expect)
    p, g, params = one_param()
    vals = run_steps(make_optimizer("adam", lr=0.01).bind(params), p, g, grads)
    m = v = 0.0
    w, expect = 1.0, []
    for t, gr in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * gr
        v = 0.999 * v + 0.001 * gr * gr
        w -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        expect.append(w)
    assert vals == pytest.approx(expect, rel=1e-6)


def test_decoupled_weight_decay():
    p, g, params = one_param()
    run_steps(make_optimizer("adam", lr=0.01, weight_decay=0.1).bind(params), p, g, [0.0])
    assert p[0] == pytest.approx(1.0 * (1 - 0.01 * 0.1))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_round_trip(name):
    p, g, params = one_param()
    opt = make_optimizer(name, lr=0.01).bind(params)
    run_steps(opt, p, g, [0.5, 0.1])
    p2, g2, params2 = one_param(float(p[0]))
    opt2 = make_optimizer(name, lr=0.01).bind(params2)
    opt2.load_state_dict(opt.state_dict())
    assert run_steps(opt, p, g, [0.3]) == run_steps(opt2, p2, g2, [0.3])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "sgd", "lr": -1}, "positive"),
        ({"name": "sgd", "lr": 0}, "positive"),
        ({"name": "sgd", "lr": float("nan")}, "positive"),
        ({"name": "sgd", "lr": 0.1, "l2": 1.0}, "n_train"),
        ({"name": "momentum", "lr": 0.1, "momentum": 1.5}, "momentum"),
        ({"name": "lbfgs", "lr": 0.1}, "unknown optimizer"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(**kwargs)
