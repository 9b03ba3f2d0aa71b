"""Optimizer updates against the textbook formulas, on one parameter with a known gradient."""

import numpy as np
import pytest

from nnsweep.nets.layers import row_blocks
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


def test_adam_in_blocks_gives_the_same_bytes_as_in_one(monkeypatch):
    """Adam updates a large parameter a cache-sized block at a time (layers.row_blocks): blocks of
    40 bytes (41 of them, the last one short) must give the weights and moments of one block, bit
    for bit, and a parameter that is not contiguous is updated alike."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((37, 11)).astype(np.float32)
    grads = [rng.standard_normal((37, 11)).astype(np.float32) for _ in range(3)]

    def trained(block_bytes, strided=False):
        monkeypatch.setattr("nnsweep.nets.layers.CACHE_BLOCK_BYTES", block_bytes)
        p = np.asfortranarray(start) if strided else start.copy()
        g = np.zeros_like(p)
        opt = make_optimizer("adam", lr=0.01, weight_decay=0.1).bind([("0.W", p, g, True)])
        for grad in grads:
            g[...] = grad
            opt.step()
        return p, opt.state["m"][0], opt.state["v"][0]

    assert len(row_blocks(37 * 11, 4, 40)) == 41
    whole, blocked, strided = trained(2**20), trained(40), trained(40, strided=True)
    assert not np.array_equal(whole[0], start) and not strided[0].flags.c_contiguous
    for a, b, c in zip(whole, blocked, strided):
        assert a.tobytes() == b.tobytes()
        np.testing.assert_array_equal(a, c)
