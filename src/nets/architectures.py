"""The builders of network descriptions ``nets.network.Network`` builds: ``mlp`` and ``lenet5``.

Each takes plain arguments and returns a fresh dict, so callers may change it. Sizes are for
28x28 digits (784 inputs) and 10 classes. The named classic networks (Rashid's 784-100-10,
Nielsen's [784, 30, 10], the NumPy MLP project's table) are these builders' arguments, kept once,
in ``conf/net/`` (e.g. ``conf/net/rashid.yaml``).
"""
from __future__ import annotations

from typing import Any, Sequence

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
