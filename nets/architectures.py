"""The builders of network descriptions ``nnsweep.nets.network.Network`` builds: ``mlp``, ``cnn`` and
``lenet5`` (a ``cnn``).

Each takes plain arguments and returns a fresh dict, so callers may change it. Sizes are for
28x28 digits (784 inputs) and 10 classes. The named classic networks (Rashid's 784-100-10,
Nielsen's [784, 30, 10], the NumPy MLP project's table) are these builders' arguments, kept once,
in ``conf/net/`` (e.g. ``conf/net/rashid.yaml``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

INPUTS, CLASSES = 784, 10
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
POOLS = ("mean", "max")  # LeNet-5's subsampling: the paper's mean, or the now usual max
PADDINGS = ("valid", "same")

# The initialiser that suits each hidden activation when the caller does not choose one.
DEFAULT_INIT = {"sigmoid": "normal_fan_in", "tanh": "glorot_uniform", "relu": "he_normal", "leaky_relu": "he_normal"}


def mlp(
    hidden: Sequence[int],
    activation: str = "sigmoid",
    loss: str = "softmax_cross_entropy",
    init: str | None = None,
    bias: bool = True,
    bias_init: str = "zeros",
    dropout: float = 0.0,
    init_gain: float = 1.0,
    inputs: int = INPUTS,
    classes: int = CLASSES,
) -> dict[str, Any]:
    """A fully connected network ``inputs - hidden... - classes``.

    ``activation`` is used on every hidden layer; the output non-linearity belongs to ``loss``
    (sigmoid for "quadratic" and "cross_entropy", softmax for "softmax_cross_entropy").
    ``dropout`` > 0 adds inverted dropout after each hidden activation. ``init_gain`` multiplies
    every layer's initial weights.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown hidden activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden layer sizes must be >= 1, got {list(hidden)}")
    init = init or DEFAULT_INIT[activation]
    dense = {"type": "dense", "init": init, "bias": bias, "bias_init": bias_init, **_gain(init_gain)}
    layers: list[dict[str, Any]] = []
    for units in hidden:
        layers += [{**dense, "units": int(units)}, {"type": activation}]
        if dropout:
            layers.append({"type": "dropout", "rate": dropout})
    layers.append({**dense, "units": classes})
    return {"input_shape": [inputs], "layers": layers, "loss": loss}


def _gain(init_gain: float) -> dict[str, float]:
    """A weight layer's ``gain`` entry: none at 1, so specs from before it read the same."""
    if not init_gain > 0:
        raise ValueError(f"init_gain must be positive, got {init_gain}")
    return {} if init_gain == 1.0 else {"gain": float(init_gain)}


def _per_block(name: str, value: Any, blocks: int) -> list[Any]:
    """One value per convolution block: a list of exactly ``blocks`` values, or one for all (also
    as a list of one)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return list(value) * blocks
        if len(value) != blocks:
            raise ValueError(
                f"{name} has {len(value)} values for {blocks} convolution blocks; give one per "
                f"block (as many as channels) or a single value for all"
            )
        return list(value)
    return [value] * blocks


# Long on purpose: the blocks are built in the order the network runs them, each from the options checked just above
# it.
def cnn(
    channels: Sequence[int],
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] = 1,
    padding: str | Sequence[str] = "same",
    pool: str | None | Sequence[str | None] = "max",
    pool_size: int | Sequence[int] = 2,
    activation: str | Sequence[str] = "relu",
    batchnorm: bool | Sequence[bool] = False,
    conv_dropout: float | Sequence[float] = 0.0,
    connections: str | Sequence[str] = "full",
    dense: Sequence[int] = (128,),
    dense_activation: str | None = None,
    dense_batchnorm: bool = False,
    dropout: float = 0.0,
    init: str | None = None,
    init_gain: float = 1.0,
    image: Sequence[int] = (28, 28, 1),
    classes: int = CLASSES,
) -> dict[str, Any]:
    """A convolutional network: one block per entry of ``channels``, then a dense head.

    Block i: convolution with ``channels[i]`` filters of ``kernel`` x ``kernel`` (``stride``,
    ``padding`` "valid" (none) or "same" (k // 2 each side, an odd kernel), ``connections``
    "full" or LeNet-5's "lecun" table), batch normalisation if ``batchnorm``, ``activation``,
    pooling ``pool`` ("max", "mean" or None/"none") of ``pool_size``, dropout ``conv_dropout``.
    Every per-block argument is one value for all blocks or a list with one per block.

    Head: the flattened maps, then per entry of ``dense`` a layer of that many units, batch
    normalisation if ``dense_batchnorm``, ``dense_activation`` (default: the last block's) and
    dropout ``dropout``; then ``classes`` outputs with softmax and cross-entropy.
    ``init`` (default: the one that suits each layer's activation) is used for every layer, its
    weights multiplied by ``init_gain``.
    """
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must list at least one block of >= 1 filters, got {list(channels)}")
    n = len(channels)
    kernels, strides = _per_block("kernel", kernel, n), _per_block("stride", stride, n)
    paddings, pools = _per_block("padding", padding, n), _per_block("pool", pool, n)
    pool_sizes, activations = _per_block("pool_size", pool_size, n), _per_block("activation", activation, n)
    norms, drops = _per_block("batchnorm", batchnorm, n), _per_block("conv_dropout", conv_dropout, n)
    tables = _per_block("connections", connections, n)
    head_activation = dense_activation or activations[-1]
    for act in [*activations, head_activation]:
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")
    if len(image) != 3 or any(int(s) < 1 for s in image):
        raise ValueError(f"image must be [height, width, channels], got {list(image)}")
    layers: list[dict[str, Any]] = [{"type": "reshape", "shape": [int(s) for s in image]}]
    for i in range(n):
        k = int(kernels[i])
        if paddings[i] not in PADDINGS:
            raise ValueError(f"padding {paddings[i]!r} of block {i + 1}: choose one of {', '.join(PADDINGS)}")
        if paddings[i] == "same" and (k % 2 == 0 or int(strides[i]) != 1):
            raise ValueError(
                f"padding 'same' of block {i + 1} needs an odd kernel and stride 1, got kernel {k} and "
                f"stride {strides[i]}; use padding 'valid' there"
            )
        block_pool = None if pools[i] in (None, "none") else pools[i]
        if block_pool is not None and block_pool not in POOLS:
            raise ValueError(f"unknown pooling {pools[i]!r} of block {i + 1}; choose one of {', '.join(POOLS)} or none")
        layer_init = init or DEFAULT_INIT[activations[i]]
        layers.append(
            {
                "type": "conv2d",
                "filters": int(channels[i]),
                "kernel": k,
                "stride": int(strides[i]),
                "padding": k // 2 if paddings[i] == "same" else 0,
                "connections": tables[i],
                "init": layer_init,
                **_gain(init_gain),
            }
        )
        if norms[i]:
            layers.append({"type": "batchnorm"})
        layers.append({"type": activations[i]})
        if block_pool is not None:
            layers.append({"type": f"{block_pool}pool2d", "size": int(pool_sizes[i])})
        if float(drops[i]) > 0:
            layers.append({"type": "dropout", "rate": float(drops[i])})
    layers.append({"type": "flatten"})
    head_init = init or DEFAULT_INIT[head_activation]
    for units in dense:
        layers.append({"type": "dense", "units": int(units), "init": head_init, **_gain(init_gain)})
        if dense_batchnorm:
            layers.append({"type": "batchnorm"})
        layers.append({"type": head_activation})
        if dropout:
            layers.append({"type": "dropout", "rate": float(dropout)})
    layers.append({"type": "dense", "units": int(classes), "init": head_init, **_gain(init_gain)})
    return {"input_shape": [int(np.prod(image))], "layers": layers, "loss": "softmax_cross_entropy"}


def lenet5(
    activation: str = "sigmoid", pool: str = "mean", connections: str = "full", dense: Sequence[int] = (120, 84)
) -> dict[str, Any]:
    """LeNet-5 on 28x28 input (LeCun et al. 1998, without the 32x32 padding):
    conv 6@5x5 -> pool 2 -> conv 16@5x5 -> pool 2 -> 256 -> 120 -> 84 -> 10, softmax.

    ``connections="lecun"`` uses the paper's partial C3 table; ``pool`` is "mean" (the paper's
    subsampling) or "max". A ``cnn``: the same layers, weights and numbers as before it was one.
    """
    if pool not in POOLS:  # cnn also takes no pooling; LeNet-5 always pools
        raise ValueError(f"unknown pooling {pool!r}; choose one of {', '.join(POOLS)}")
    return cnn(
        [6, 16],
        kernel=5,
        padding="valid",
        pool=pool,
        pool_size=2,
        activation=activation,
        connections=["full", connections],
        dense=dense,
    )
