"""The classic from-scratch MNIST networks, as descriptions ``nets.network.Network`` builds.

Each function returns a fresh dict, so callers may change it. Sizes are for 28x28 digits
(784 inputs) and 10 classes.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

INPUTS, CLASSES = 784, 10
ACTIVATIONS = ("sigmoid", "tanh", "relu")
POOLS = ("mean", "max")  # LeNet-5's subsampling: the paper's mean, or the now usual max

# The initialiser that suits each hidden activation when the caller does not choose one.
DEFAULT_INIT = {"sigmoid": "normal_fan_in", "tanh": "glorot_uniform", "relu": "he_normal"}


def mlp(
    hidden: Sequence[int],
    activation: str = "sigmoid",
    loss: str = "softmax_cross_entropy",
    init: str | None = None,
    bias: bool = True,
    bias_init: str = "zeros",
    dropout: float = 0.0,
    inputs: int = INPUTS,
    classes: int = CLASSES,
) -> dict[str, Any]:
    """A fully connected network ``inputs - hidden... - classes``.

    ``activation`` is used on every hidden layer; the output non-linearity belongs to ``loss``
    (sigmoid for "quadratic" and "cross_entropy", softmax for "softmax_cross_entropy").
    ``dropout`` > 0 adds inverted dropout after each hidden activation.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown hidden activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden layer sizes must be >= 1, got {list(hidden)}")
    init = init or DEFAULT_INIT[activation]
    dense = {"type": "dense", "init": init, "bias": bias, "bias_init": bias_init}
    layers: list[dict[str, Any]] = []
    for units in hidden:
        layers += [{**dense, "units": int(units)}, {"type": activation}]
        if dropout:
            layers.append({"type": "dropout", "rate": dropout})
    layers.append({**dense, "units": classes})
    return {"input_shape": [inputs], "layers": layers, "loss": loss}


def rashid() -> dict[str, Any]:
    """Rashid, *Make Your Own Neural Network*: 784-100-10, sigmoid everywhere, no biases,
    weights from N(0, 1/fan_in), quadratic cost (his error signal is target - output)."""
    return mlp([100], "sigmoid", loss="quadratic", init="normal_fan_in", bias=False)


def nielsen() -> dict[str, Any]:
    """Nielsen's ``network.py`` (ch. 1): [784, 30, 10] sigmoid, quadratic cost, weights and
    biases from N(0, 1). Chapter 3's improvements are options of ``mlp``."""
    return mlp([30], "sigmoid", loss="quadratic", init="standard_normal", bias_init="standard_normal")


def mlp_128x2() -> dict[str, Any]:
    """784-128-128-10, ReLU, softmax (the NumPy MLP project's first table row)."""
    return mlp([128, 128], "relu")


def mlp_10x2() -> dict[str, Any]:
    """784-10-10-10, ReLU, softmax: a deliberately small network."""
    return mlp([10, 10], "relu")


def mlp_512x2() -> dict[str, Any]:
    """784-512-512-10, ReLU, softmax."""
    return mlp([512, 512], "relu")


def mlp_20x3() -> dict[str, Any]:
    """784-20-20-20-10, ReLU, softmax."""
    return mlp([20, 20, 20], "relu")


def lenet5(activation: str = "sigmoid", pool: str = "mean", connections: str = "full",
           dense: Sequence[int] = (120, 84)) -> dict[str, Any]:
    """LeNet-5 on 28x28 input (LeCun et al. 1998, without the 32x32 padding):
    conv 6@5x5 -> pool 2 -> conv 16@5x5 -> pool 2 -> 256 -> 120 -> 84 -> 10, softmax.

    ``connections="lecun"`` uses the paper's partial C3 table; ``pool`` is "mean" (the paper's
    subsampling) or "max".
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if pool not in POOLS:
        raise ValueError(f"unknown pooling {pool!r}; choose one of {', '.join(POOLS)}")
    init = DEFAULT_INIT[activation]
    pool_layer = {"type": f"{pool}pool2d", "size": 2}
    layers: list[dict[str, Any]] = [
        {"type": "reshape", "shape": [28, 28, 1]},
        {"type": "conv2d", "filters": 6, "kernel": 5, "init": init}, {"type": activation}, pool_layer,
        {"type": "conv2d", "filters": 16, "kernel": 5, "connections": connections, "init": init},
        {"type": activation}, pool_layer,
        {"type": "flatten"},
    ]
    for units in dense:
        layers += [{"type": "dense", "units": int(units), "init": init}, {"type": activation}]
    layers.append({"type": "dense", "units": CLASSES, "init": init})
    return {"input_shape": [INPUTS], "layers": layers, "loss": "softmax_cross_entropy"}


ARCHITECTURES: dict[str, Callable[[], dict[str, Any]]] = {
    "rashid": rashid,
    "nielsen": nielsen,
    "mlp_128x2": mlp_128x2,
    "mlp_10x2": mlp_10x2,
    "mlp_512x2": mlp_512x2,
    "mlp_20x3": mlp_20x3,
    "lenet5": lenet5,
}


def get_architecture(name: str) -> dict[str, Any]:
    """A named architecture's description, with an error that lists the valid names."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name]()
