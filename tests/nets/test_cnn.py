"""``net=cnn``: convolution blocks of any shape, batch normalisation, and LeNet-5 as one of them.

Gradients against central finite differences (float64): the new layer alone and whole
networks; LeNet-5 built through ``net=cnn`` against the LeNet-5 builder as it was before it was a
``cnn``; shapes that do not fit refused with one line; batch normalisation's running
statistics saved, restored and used at evaluation.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnsweep.experiments.build import ConfigError, architecture_of
from nnsweep.nets.architectures import cnn, lenet5
from nnsweep.nets.checkpoint import load_network, save_checkpoint
from nnsweep.nets.layers import ShapeError
from nnsweep.nets.network import Network, planned_shapes
from nnsweep.nets.normalization import BatchNorm
from tests.conftest import numerical_gradient, sample_indices
from tests.experiments.conftest import compose_config, run_module
from tests.nets.test_layers import check_layer


@pytest.mark.parametrize("blocks", ["one", "of 3 rows"], ids=["one block", "blocks of 3 rows, the last short"])
@pytest.mark.parametrize("shape", [(6,), (4, 5, 3)], ids=["features", "channels-last maps"])
def test_batchnorm_gradients(shape, blocks, monkeypatch):
    """The statistics, output and input gradient are built a block of rows at a time: checked
    with one block and with blocks of 3 rows (5 or 100 rows: the last block has 2 or 1)."""
    monkeypatch.setattr("nnsweep.nets.layers.CACHE_BLOCK_BYTES", 2**20 if blocks == "one" else 3 * shape[-1] * 8)
    layer = BatchNorm()
    layer.build(shape, None, np.float64)
    layer.params["gamma"][...] = np.linspace(0.5, 2.0, shape[-1])  # not the identity it starts as
    layer.params["beta"][...] = np.linspace(-1.0, 1.0, shape[-1])
    check_layer(layer, shape, batch=5)


def test_batchnorm_gradients_after_an_evaluation_pass():
    """A class portrait ascends the input of a trained network in evaluation mode: there the
    running statistics are constants (the report once failed here: no batch statistics)."""
    rng = np.random.default_rng(5)
    layer = BatchNorm()
    layer.build((4, 4, 3), rng, np.float64)
    layer.needs_input_grad = True
    layer.state = {"mean": rng.standard_normal(3), "var": rng.random(3) + 0.5}
    layer.params["gamma"][...] = rng.standard_normal(3)
    x, R = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((2, 4, 4, 3))
    loss = lambda: float(np.sum(R * layer.forward(x)))  # noqa: E731
    layer.forward(x)
    dx = layer.backward(R.copy())
    for idx in sample_indices(x.shape, 15, rng):
        np.testing.assert_allclose(dx[idx], numerical_gradient(loss, x, idx), rtol=1e-6, atol=1e-9)
    for name, p in layer.params.items():
        for idx in sample_indices(p.shape, 3, rng):
            np.testing.assert_allclose(layer.grads[name][idx], numerical_gradient(loss, p, idx), rtol=1e-6, atol=1e-9)


def test_batchnorm_gradient_of_a_constant_feature_with_a_tiny_eps_is_finite():
    """A feature that is constant over the batch has variance 0, so 1/std is 1/sqrt(eps): with
    eps = 1e-30 its square overflows float32, and the backward pass must not form it alone."""
    layer = BatchNorm(eps=1e-30)
    layer.build((3,), None, np.float32)
    layer.needs_input_grad = True
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    x[:, 1] = 2.5
    layer.forward(x, training=True)
    dx = layer.backward(np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32))
    assert np.isfinite(dx).all() and np.isfinite(layer.grads["gamma"]).all()


def test_batchnorm_normalises_while_training_and_uses_running_statistics_after():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (64, 4, 4, 2))
    layer = BatchNorm(momentum=0.5)
    layer.build(x.shape[1:], None, np.float64)
    y = layer.forward(x, training=True)
    assert np.allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-9) and np.allclose(y.var(axis=(0, 1, 2)), 1, atol=1e-3)
    for _ in range(40):
        layer.forward(x, training=True)
    n = x.size // 2
    assert np.allclose(layer.state["mean"], x.mean(axis=(0, 1, 2)))
    assert np.allclose(layer.state["var"], x.var(axis=(0, 1, 2)) * n / (n - 1))  # the unbiased variance
    one = layer.forward(x[:1], training=False)  # one image alone: the running statistics, not its own
    assert np.allclose(one, layer.forward(x, training=False)[:1])


def check_training_gradients(description, x, y, per_param=6):
    """Finite differences of the mean training cost (batch statistics, as the step uses them)."""
    net = Network(description, np.random.default_rng(0), dtype=np.float64)
    net.train_step(x, y)
    cost = lambda: net.loss.fn(z := net.forward(x, training=True), net.loss.activation(z), y) / len(x)
    rng = np.random.default_rng(1)
    for key, p, g, _ in net.parameters():
        analytic = g.copy()
        for idx in sample_indices(p.shape, per_param, rng):
            np.testing.assert_allclose(
                analytic[idx], numerical_gradient(cost, p, idx), rtol=1e-4, atol=1e-9, err_msg=f"{key}{idx}"
            )


@pytest.mark.parametrize(
    "side, options",
    [
        (
            8,
            dict(
                channels=[3, 4], kernel=3, padding="same", pool="max", batchnorm=True, dense=[6], dense_batchnorm=True
            ),
        ),
        (
            9,
            dict(
                channels=[2, 3, 4],
                kernel=[3, 3, 1],
                stride=[1, 2, 1],
                padding=["same", "valid", "valid"],
                pool=["none", "mean", "none"],
                activation=["tanh", "leaky_relu", "sigmoid"],
                dense=[],
            ),
        ),
        (
            10,
            dict(channels=[4], kernel=5, padding="valid", pool="max", pool_size=3, activation="sigmoid", dense=[5, 4]),
        ),
    ],
    ids=["batchnorm", "mixed blocks", "one block"],
)
def test_whole_cnn_gradients(side, options):
    rng = np.random.default_rng(2)
    description = cnn(**options, image=(side, side, 1), classes=3)
    x = rng.random((4, side * side))
    y = np.eye(3)[[0, 2, 1, 2]]
    check_training_gradients(description, x, y)


def lenet5_as_it_was(activation="sigmoid", pool="mean", connections="full", dense=(120, 84)):
    """The LeNet-5 builder before net=cnn existed, kept here to test that nothing changed."""
    init = {"sigmoid": "normal_fan_in", "tanh": "glorot_uniform", "relu": "he_normal"}[activation]
    pool_layer = {"type": f"{pool}pool2d", "size": 2}
    layers = [
        {"type": "reshape", "shape": [28, 28, 1]},
        {"type": "conv2d", "filters": 6, "kernel": 5, "init": init},
        {"type": activation},
        pool_layer,
        {"type": "conv2d", "filters": 16, "kernel": 5, "connections": connections, "init": init},
        {"type": activation},
        pool_layer,
        {"type": "flatten"},
    ]
    for units in dense:
        layers += [{"type": "dense", "units": int(units), "init": init}, {"type": activation}]
    layers.append({"type": "dense", "units": 10, "init": init})
    return {"input_shape": [784], "layers": layers, "loss": "softmax_cross_entropy"}


@pytest.mark.parametrize("activation,pool,connections", [("sigmoid", "mean", "full"), ("relu", "max", "lecun")])
def test_lenet5_through_net_cnn_is_the_old_lenet5(activation, pool, connections):
    cfg = compose_config(
        [
            "net=cnn",
            "net.channels=[6,16]",
            "net.kernel=5",
            "net.padding=valid",
            f"net.pool={pool}",
            f"net.activation={activation}",
            f"net.connections=[full,{connections}]",
            "net.dense=[120,84]",
        ]
    )
    x = np.random.default_rng(4).random((6, 784)).astype(np.float32)
    old = Network(lenet5_as_it_was(activation, pool, connections), np.random.default_rng(9))
    for description in (architecture_of(cfg.net), lenet5(activation, pool, connections)):
        new = Network(description, np.random.default_rng(9))
        assert new.architecture() == old.architecture()
        np.testing.assert_array_equal(new.forward(x), old.forward(x))


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["net.channels=[8]", "net.kernel=31", "net.padding=valid"], "kernel 31 is larger than its input 28x28"),
        (["net.channels=[8,8]", "net.pool_size=3"], "divisible by it; input is 28x28"),
        (["net.channels=[8]", "net.kernel=4"], "needs an odd kernel"),
        (["net.channels=[8,8]", "net.kernel=[3,5,7]"], "kernel has 3 values for 2 convolution blocks"),
        (["net.channels=[8]", "net.pool=avg"], "unknown pooling 'avg'"),
        (["net.channels=[8]", "net.activation=gelu"], "unknown activation 'gelu'"),
        (["net.channels=[8]", "net.connections=lecun"], "maps 6 input maps to 16"),
    ],
)
def test_shapes_that_do_not_fit_are_refused_with_one_line(overrides, words):
    with pytest.raises((ConfigError, ShapeError), match=words):
        Network(architecture_of(compose_config(["net=cnn", *overrides]).net), np.random.default_rng(0))


def test_a_shape_error_on_the_command_line_is_one_line_and_exit_2():
    result = run_module("nnsweep.experiments.train", "net=cnn", "net.channels=[8,8,8,8,8]", "trainer.epochs=1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "divisible" in result.stderr or "larger than its input" in result.stderr


def test_running_statistics_are_saved_and_restored_with_the_weights(tmp_path):
    description = cnn([4], batchnorm=True, dense=[8], dense_batchnorm=True)
    net = Network(description, np.random.default_rng(0))
    x = np.random.default_rng(1).random((32, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[np.arange(32) % 10]
    for _ in range(3):
        net.train_step(x, y)
    params, state = planned_shapes(description)
    assert set(state) == {"2.mean", "2.var", "7.mean", "7.var"} and not set(state) & set(params)
    saved = net.get_params()
    assert not np.allclose(saved["2.mean"], 0)  # training moved them
    save_checkpoint(tmp_path / "m.npz", net)
    again = load_network(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.forward(x), net.forward(x))
    other = Network(description, np.random.default_rng(5))
    other.set_params(saved)  # the best epoch's snapshot carries its statistics too
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
