"""A population (K stacked networks) against K separate networks: the same gradients in float64,
and, trained with SGD at K learning rates, the same float32 weights bit for bit."""

import numpy as np
import pytest

from nnsweep.nets.architectures import mlp
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import SGD
from nnsweep.nets.population import Population, PopulationError

# Rashid's 784-100-10: no biases, sigmoid, his quadratic cost as his code trains it (the passed-down signal)
RASHID = mlp([100], activation="sigmoid", loss="rashid_quadratic", bias=False)
MLP = {  # biases, every other element-wise activation, softmax cross-entropy
    "input_shape": [12],
    "layers": [
        {"type": "dense", "units": 9},
        {"type": "relu"},
        {"type": "dense", "units": 7},
        {"type": "tanh"},
        {"type": "dense", "units": 6},
        {"type": "leaky_relu", "slope": 0.1},
        {"type": "dense", "units": 5},
    ],
    "loss": "softmax_cross_entropy",
}


def data(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.01, 1.0, size=(n, features))
    y = np.full((n, classes), 0.01)
    y[np.arange(n), rng.integers(0, classes, n)] = 0.99
    return x, y


@pytest.mark.parametrize("description", [RASHID, MLP], ids=["rashid", "mlp"])
def test_the_stacked_gradients_are_each_networks_own(description):
    """Three networks of different initial weights, float64, a mini-batch of 4: each member's
    gradients and cost are its network's (the plain layers' gradients are checked against finite
    differences in test_network.py)."""
    networks = [Network(description, np.random.default_rng(seed), dtype=np.float64) for seed in (0, 1, 2)]
    x, y = data(4, description["input_shape"][0], 10 if description is RASHID else 5)
    population = Population(networks)
    costs, a = population.train_step(x, y)
    for k, net in enumerate(networks):
        cost, own = net.train_step(x, y)
        assert costs[k] == pytest.approx(cost, rel=1e-13) and np.allclose(a[k], own, rtol=0, atol=1e-14)
        stacked = population.gradients(k)
        for key, _, grad, _ in net.parameters():
            np.testing.assert_allclose(stacked[key], grad, rtol=0, atol=1e-13, err_msg=key)


def train_apart(description, lrs, x, y, batch, l2=None, n_train=None):
    """Each rate trained alone, as nets.train does: one network and one SGD per rate."""
    nets = []
    for k, lr in enumerate(lrs):
        net = Network(description, np.random.default_rng(7), dtype=np.float32)
        sgd = SGD(lr, l2=0.0 if l2 is None else l2[k], n_train=n_train).bind(net.parameters())
        for i in range(0, len(x), batch):
            net.train_step(x[i : i + batch], y[i : i + batch])
            sgd.step()
        nets.append(net)
    return nets


@pytest.mark.parametrize("batch", [1, 10])
def test_eleven_rates_trained_together_end_where_each_trained_alone_ends(batch):
    """make sweep-lr's 11 rates, 400 examples at mini-batch 1 and 10, float32: every weight of
    every member the same bits as its separately trained network's (with one wide first-layer
    product instead of a batched one they drifted apart by up to 3e-2 at the largest rates)."""
    lrs = [0.003, 0.00675, 0.0152, 0.0342, 0.077, 0.173, 0.39, 0.877, 1.97, 4.44, 10.0]
    x, y = (a.astype(np.float32) for a in data(400, 784, 10))
    population = Population([Network(RASHID, np.random.default_rng(7), dtype=np.float32) for _ in lrs])
    for i in range(0, len(x), batch):
        population.train_step(x[i : i + batch], y[i : i + batch])
        population.sgd_step(np.array(lrs))
    for k, net in enumerate(train_apart(RASHID, lrs, x, y, batch)):
        own, stacked = net.get_params(), population.member_params(k)
        assert own.keys() == stacked.keys()
        for key in own:
            assert stacked[key].tobytes() == own[key].tobytes(), f"lr {lrs[k]} {key}"  # -0 and NaN too


def test_a_member_that_leaves_leaves_the_others_as_they_were_and_l2_is_each_members_own():
    lrs, l2 = [0.5, 0.1, 0.2], [0.0, 5.0, 1.0]
    x, y = (a.astype(np.float32) for a in data(60, 12, 5, seed=3))
    population = Population([Network(MLP, np.random.default_rng(7), dtype=np.float32) for _ in lrs])
    for i in range(0, 30, 5):
        population.train_step(x[i : i + 5], y[i : i + 5])
        population.sgd_step(np.array(lrs), l2=np.array(l2), n_train=60)
    population.keep([0, 2])  # the second stops (as one that diverged or stopped early would)
    for i in range(30, 60, 5):
        population.train_step(x[i : i + 5], y[i : i + 5])
        population.sgd_step(np.array([lrs[0], lrs[2]]), l2=np.array([l2[0], l2[2]]), n_train=60)
    apart = train_apart(MLP, [lrs[0], lrs[2]], x, y, 5, l2=[l2[0], l2[2]], n_train=60)
    for k, net in enumerate(apart):
        own, stacked = net.get_params(), population.member_params(k)
        for key in own:
            assert stacked[key].tobytes() == own[key].tobytes(), key


def test_what_cannot_be_stacked_is_refused():
    with pytest.raises(PopulationError, match="share one architecture"):
        Population([Network(RASHID, np.random.default_rng(0)), Network(MLP, np.random.default_rng(0))])
    conv = {
        "input_shape": [28, 28, 1],
        "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 10}],
        "loss": "softmax_cross_entropy",
    }
    with pytest.raises(PopulationError, match="does not support conv2d layers"):
        Population([Network(conv, np.random.default_rng(0))])


def test_a_population_fits_as_each_member_fits_alone_and_members_leave_as_they_stop():
    """fit_population against fit for each rate alone, 6 epochs, mini-batch 5: one rate diverges,
    one anneals by steps, the others train on or stop early (patience 2); every record (but its
    wall time), best epoch, status and best weights are the same, bit for bit."""
    from nnsweep.nets.schedules import make_schedule
    from nnsweep.nets.train import LabelledData, fit, fit_population, target_matrix

    x, _ = data(200, 12, 5, seed=4)
    labels = x[:, :5].argmax(axis=1)  # learnable: the largest of the first five inputs
    train, val = (
        LabelledData(x[:150].astype(np.float32), labels[:150]),
        LabelledData(x[150:].astype(np.float32), labels[150:]),
    )
    targets = target_matrix(5)
    settings = [("constant", 0.05), ("constant", 0.5), ("step", 0.3), ("constant", 5000.0), ("constant", 0.001)]

    def schedule(name, lr):
        return make_schedule(name, lr, **({"step_size": 2, "gamma": 0.5} if name == "step" else {}))

    def network():
        return Network(MLP, np.random.default_rng(11), dtype=np.float32)

    common = {"epochs": 6, "batch_size": 5, "targets": targets, "patience": 2}
    alone = []
    for name, lr in settings:
        net = network()
        state = fit(net, SGD(lr), schedule(name, lr), train, val, rng=np.random.default_rng(3), **common)
        alone.append((net.get_params(), state))
    population = Population([network() for _ in settings])
    states = fit_population(
        population,
        [SGD(lr) for _, lr in settings],
        [schedule(n, lr) for n, lr in settings],
        train,
        val,
        rng=np.random.default_rng(3),
        **common,
    )
    assert len({s.status for s in states}) >= 2 and "diverged" in {s.status.value for s in states}, states
    for k, ((_, state), got) in enumerate(zip(alone, states)):
        strip = lambda records: [r.__dict__ | {"seconds": 0} for r in records]
        np.testing.assert_equal(strip(got.records), strip(state.records), err_msg=str(k))  # NaN equals NaN
        assert (got.status, got.best_epoch, got.best_val_acc, got.diverged_epoch) == (
            state.status,
            state.best_epoch,
            state.best_val_acc,
            state.diverged_epoch,
        )
        for key in state.best_params or {}:
            assert got.best_params[key].tobytes() == state.best_params[key].tobytes(), key
