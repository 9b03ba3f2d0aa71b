"""The back query by hand on a tiny network; regularised activation maximisation draws pictures
that look like their class, for every class in one batch."""

import numpy as np
import pytest

from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.inverse import back_query, can_back_query, class_portraits, maximise_classes, neutral_start
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer
from nnsweep.nets.schedules import make_schedule
from nnsweep.nets.train import fit, target_matrix


def test_back_query_matches_rashids_formulas_by_hand():
    net = Network(
        {
            "input_shape": [3],
            "layers": [
                {"type": "dense", "units": 2, "bias": False},
                {"type": "sigmoid"},
                {"type": "dense", "units": 2, "bias": False},
            ],
            "loss": "quadratic",
        },
        np.random.default_rng(0),
        dtype=np.float64,
    )
    w_ih = np.array([[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]])  # (inputs, hidden)
    w_ho = np.array([[0.9, -0.6], [-0.4, 0.7]])  # (hidden, outputs)
    net.layers[0].params["W"][...] = w_ih
    net.layers[2].params["W"][...] = w_ho
    # Rashid, by hand, for digit 1: targets (0.01, 0.99) -> logit -> who^T -> rescale -> logit -> wih^T -> rescale
    final_in = np.log(np.array([0.01, 0.99]) / (1 - np.array([0.01, 0.99])))  # [-4.59512, 4.59512]
    hidden_out = w_ho @ final_in  # Rashid's who.T @ final_inputs, who being (outputs, hidden)
    assert hidden_out == pytest.approx([-6.89268, 5.05463], abs=1e-4)
    hidden_out = (hidden_out - hidden_out.min()) / (hidden_out - hidden_out.min()).max() * 0.98 + 0.01
    assert hidden_out == pytest.approx([0.01, 0.99])
    inputs = w_ih @ np.log(hidden_out / (1 - hidden_out))
    expected = (inputs - inputs.min()) / (inputs - inputs.min()).max() * 0.98 + 0.01
    np.testing.assert_allclose(back_query(net, 1), expected, rtol=1e-12)
    # by hand: W_ih @ logit(0.01, 0.99) = (-3.2166, 1.3785, 5.0546) -> rescaled (0.01, 0.5544, 0.99)
    np.testing.assert_allclose(back_query(net, 1), [0.01, 0.5544, 0.99], atol=1e-4)


def test_back_query_needs_a_sigmoid_network():
    assert can_back_query(Network(mlp([5], "sigmoid", loss="quadratic"), np.random.default_rng(0)))
    relu = Network(mlp([5], "relu"), np.random.default_rng(0))
    assert not can_back_query(relu)
    with pytest.raises(ValueError, match="maximise_classes"):
        back_query(relu, 3)


@pytest.fixture(scope="module")
def trained_relu(mnist5k):
    rng = np.random.default_rng(0)
    net = Network(mlp([64], "relu"), rng)
    fit(
        net,
        make_optimizer("adam", lr=2e-3),
        make_schedule("constant", 2e-3),
        mnist5k.train,
        mnist5k.val,
        epochs=3,
        batch_size=32,
        rng=rng,
        targets=target_matrix(10),
    )
    return net


def recognised(images: np.ndarray, class_means: np.ndarray) -> list[int]:
    """The classes whose portrait looks like their average training image: it correlates with
    that mean better than with any other class's, and clearly (r > 0.5). Both matter: saturated
    noise from plain gradient ascent still leans towards its own class (r of 0.3 to 0.45, the
    best of ten for every class), but nobody would recognise it."""
    r = np.corrcoef(np.vstack([images, class_means]))[: len(images), len(images) :]
    return [k for k in range(len(images)) if r[k].argmax() == k and r[k, k] > 0.5]


def test_portraits_of_a_relu_network_look_like_their_class(trained_relu, mnist5k):
    train = mnist5k.train
    class_means = np.stack([train.x[train.labels == k].mean(axis=0) for k in range(10)])
    images = maximise_classes(trained_relu, start=train.x.mean(axis=0))
    assert images.shape == (10, 784) and images.min() >= 0 and images.max() <= 1
    assert len(recognised(images, class_means)) >= 8  # plain ascent from mid-grey (the old method): none
    assert trained_relu.predict(images).tolist() == list(range(10))
    np.testing.assert_array_equal(maximise_classes(trained_relu, start=train.x.mean(axis=0)), images)  # seeded


def test_without_a_mean_image_portraits_start_from_a_neutral_blob(trained_relu):
    blob = neutral_start(784).reshape(28, 28)
    assert blob[14, 14] == blob.max() and blob[0, 0] < 0.01 * blob.max()
    images, method = class_portraits(trained_relu)
    assert method == "activation maximisation" and images.shape == (10, 784)
    assert trained_relu.predict(images).tolist() == list(range(10))
    with pytest.raises(ValueError, match="784"):
        maximise_classes(trained_relu, start=np.zeros(100))


def test_activation_maximisation_on_lenet5():
    net = Network(lenet5("relu", "max"), np.random.default_rng(1))  # untrained: near-uniform outputs everywhere
    images = maximise_classes(net, steps=60)
    p, p_start = net.predict_proba(images), net.predict_proba(neutral_start(784)[None].astype(np.float32))[0]
    assert p.argmax(axis=0).tolist() == list(range(10))  # image k is the one the network takes most for class k
    assert (np.diag(p) > p_start).all()
    assert all(layer.needs_input_grad is False for layer in net.layers[:2])  # flags restored


def test_sigmoid_networks_keep_rashids_back_query():
    net = Network(mlp([5], "sigmoid", loss="quadratic"), np.random.default_rng(0))
    images, method = class_portraits(net)
    assert method == "back query"
    np.testing.assert_array_equal(images[3], back_query(net, 3))
