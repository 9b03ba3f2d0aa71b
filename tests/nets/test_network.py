"""Whole networks: gradients of the mean cost by finite differences, descriptions, predictions,
and refusal of networks too big to fit in memory."""

import time
import tracemalloc

import numpy as np
import pytest

from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.layers import ShapeError
from nnsweep.nets.network import Network, planned_shapes
from tests.conftest import numerical_gradient, sample_indices


def check_network(description, x, y, per_param=8):
    net = Network(description, np.random.default_rng(0), dtype=np.float64)
    net.train_step(x, y)
    mean_cost = lambda: net.loss.fn(net.forward(x), net.loss.activation(net.forward(x)), y) / len(x)
    rng = np.random.default_rng(1)
    for key, p, g, _ in net.parameters():
        analytic = g.copy()
        for idx in sample_indices(p.shape, per_param, rng):
            num = numerical_gradient(mean_cost, p, idx)
            np.testing.assert_allclose(analytic[idx], num, rtol=1e-4, atol=1e-9, err_msg=f"{key}{idx}")


@pytest.mark.parametrize(
    "description",
    [
        mlp([16, 12], "sigmoid", loss="quadratic"),
        mlp([16], "tanh", loss="cross_entropy"),
        mlp([16, 12], "relu", loss="softmax_cross_entropy", dropout=0.0),
        mlp([100], "sigmoid", loss="quadratic", init="normal_fan_in", bias=False),
        mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
    ],
    ids=["sigmoid-quadratic", "tanh-crossentropy", "relu-softmax", "rashid", "nielsen"],
)
def test_whole_mlp_gradients(description):
    rng = np.random.default_rng(2)
    x = rng.random((5, 784))
    y = np.eye(10)[rng.integers(0, 10, 5)] * 0.98 + 0.01
    if description["loss"] == "softmax_cross_entropy":
        y = np.eye(10)[rng.integers(0, 10, 5)]
    check_network(description, x, y)


@pytest.mark.parametrize(
    "activation,pool,connections", [("sigmoid", "mean", "full"), ("relu", "max", "lecun"), ("tanh", "mean", "lecun")]
)
def test_whole_lenet5_gradients(activation, pool, connections):
    rng = np.random.default_rng(3)
    x = rng.random((3, 784))
    y = np.eye(10)[[1, 5, 7]]
    check_network(lenet5(activation, pool, connections), x, y, per_param=5)


def test_parameter_counts_match_the_textbooks():
    assert Network(mlp([100], bias=False), np.random.default_rng(0)).n_params == 784 * 100 + 100 * 10
    assert Network(mlp([30]), np.random.default_rng(0)).n_params == 784 * 30 + 30 + 30 * 10 + 10
    lenet = Network(lenet5(), np.random.default_rng(0))
    assert lenet.n_params == (25 * 6 + 6) + (150 * 16 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


def test_same_seed_same_weights_other_seed_other_weights():
    a = Network(
        mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
        np.random.default_rng(5),
    ).get_params()
    b = Network(
        mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
        np.random.default_rng(5),
    ).get_params()
    c = Network(
        mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal"),
        np.random.default_rng(6),
    ).get_params()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.W"], c["0.W"])


def test_bad_descriptions_and_inputs():
    with pytest.raises(ShapeError, match="unknown layer type"):
        Network({"input_shape": [784], "layers": [{"type": "dense2", "units": 3}]}, np.random.default_rng(0))
    with pytest.raises(ShapeError, match="bad options"):
        Network({"input_shape": [784], "layers": [{"type": "dense", "unit": 3}]}, np.random.default_rng(0))
    with pytest.raises(ShapeError, match="flat vector"):
        Network({"input_shape": [784], "layers": [{"type": "reshape", "shape": [28, 28, 1]}]}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown hidden activation"):
        mlp([10], "swish")
    net = Network(mlp([30]), np.random.default_rng(0))
    with pytest.raises(ShapeError, match="expects"):
        net.predict(np.zeros((2, 100)))


def test_a_network_too_big_for_memory_is_refused_before_allocating():
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ShapeError, match=r"GB to train.*GB available.*choose smaller layers") as err:
            Network(mlp([10**9]), np.random.default_rng(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 1_000_000  # bytes: nothing of the network's size was ever allocated
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "description",
    [
        mlp([100], bias=False),
        mlp([30]),
        mlp([128, 128], "relu"),
        mlp([20, 20, 20], "relu"),
        lenet5(),
        mlp([7, 5], bias=False),
        lenet5("relu", "max", "lecun"),
        {
            "input_shape": [9, 9, 2],
            "layers": [
                {"type": "conv2d", "filters": 3, "kernel": 3, "stride": 2, "padding": 1},
                {"type": "flatten"},
                {"type": "dense", "units": 4},
            ],
        },
    ],
    ids=["mlp-100-no-bias", "mlp-30", "mlp-128x2", "mlp-20x3", "lenet5", "no-bias", "lenet5-lecun", "strided-conv"],
)
def test_planned_parameter_shapes_are_the_built_ones(description):
    built = Network(description, np.random.default_rng(0)).get_params()
    planned, state = planned_shapes(description)
    assert not state  # none of these has batch normalisation
    assert list(planned) == list(built)  # same keys in the same order
    assert planned == {key: p.shape for key, p in built.items()}


def test_planning_refuses_what_building_refuses():
    with pytest.raises(ShapeError, match="flatten"):
        planned_shapes({"input_shape": [28, 28, 1], "layers": [{"type": "dense", "units": 3}]})
    with pytest.raises(ShapeError, match="must be >= 1"):
        planned_shapes({"input_shape": [0], "layers": [{"type": "dense", "units": 3}]})
    with pytest.raises(ShapeError, match="6 input maps to 16"):
        planned_shapes(
            {
                "input_shape": [8, 8, 5],
                "layers": [{"type": "conv2d", "filters": 16, "kernel": 3, "connections": "lecun"}, {"type": "flatten"}],
            }
        )


def rashid_train(wih, who, inputs, targets, lr):
    """Rashid's ``neuralNetwork.train`` (Make Your Own Neural Network, part 2), line for line:
    weights (out, in), column vectors, the error passed to the hidden layer without the output
    sigmoid's derivative."""
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731  (his scipy.special.expit)
    inputs, targets = inputs.reshape(-1, 1), targets.reshape(-1, 1)
    hidden_outputs = sigmoid(wih @ inputs)
    final_outputs = sigmoid(who @ hidden_outputs)
    output_errors = targets - final_outputs
    hidden_errors = who.T @ output_errors
    who = who + lr * (output_errors * final_outputs * (1.0 - final_outputs)) @ hidden_outputs.T
    wih = wih + lr * (hidden_errors * hidden_outputs * (1.0 - hidden_outputs)) @ inputs.T
    return wih, who


@pytest.mark.parametrize("loss, same_as_rashid", [("rashid_quadratic", True), ("quadratic", False)])
def test_rashid_quadratic_takes_exactly_his_codes_steps(loss, same_as_rashid):
    from nnsweep.nets.optimizers import SGD

    rng = np.random.default_rng(3)
    net = Network(mlp([20], "sigmoid", loss=loss, init="normal_fan_in", bias=False), rng, dtype=np.float64)
    (_, W1, *_), (_, W2, *_) = list(net.parameters())
    wih, who = W1.T.copy(), W2.T.copy()  # his weights are (out, in), ours (in, out)
    optimizer = SGD(lr=0.3)
    optimizer.bind(net.parameters())
    for _ in range(3):  # three images, one at a time
        x = rng.random((1, 784)) * 0.99 + 0.01
        y = np.full((1, 10), 0.01)
        y[0, rng.integers(10)] = 0.99
        net.train_step(x, y)
        optimizer.step()
        wih, who = rashid_train(wih, who, x, y, 0.3)
    assert np.allclose(W2.T, who, rtol=1e-12, atol=1e-14) == same_as_rashid
    assert np.allclose(W1.T, wih, rtol=1e-12, atol=1e-14) == same_as_rashid
