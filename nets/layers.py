"""The layer interface and the fully connected, shape and dropout layers.

Every layer has ``forward(x, training)`` and ``backward(dy)``, and keeps its trainable arrays in
``params`` with same-named gradients in ``grads`` (numpy-ml's interface). ``build`` creates the
parameters once the input shape is known, so an architecture can be written as a plain list of
layer descriptions and checked for shape errors before anything trains.

Shapes exclude the batch axis: a dense layer sees ``x: (batch, features)``, a convolution
``x: (batch, height, width, channels)`` (see ``nnsweep.nets.conv``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from nnsweep.core.errors import NnsweepError
from nnsweep.nets import parallel
from nnsweep.nets.init import get_initialiser


class Parameter(NamedTuple):
    """One trainable array of a network, as optimizers see it (``Network.parameters``)."""

    key: str  # "<layer index>.<name>", the checkpoint's key
    value: np.ndarray  # updated in place
    grad: np.ndarray  # the layer's gradient buffer, filled by each backward pass
    decayed: bool  # whether l2 and weight_decay apply (weights yes, biases no)


class ShapeError(NnsweepError, ValueError):
    """An architecture whose layer sizes do not fit together or do not fit the data."""


class Layer:
    """Base class: a layer with no parameters that passes shapes through unchanged."""

    kind = "layer"
    # Whether a network with this layer splits its steps between threads (parallel.split_work):
    # only where a step is long enough for the split to pay (a convolution's), not an MLP's.
    splits_work = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        # Names of params that L2 regularisation / weight decay applies to (weights, not biases:
        # Nielsen ch. 3 explains why regularising biases makes little difference).
        self.decayed: set[str] = set()
        # The first layer never needs the gradient with respect to the data; skipping it saves
        # a full matrix product per batch.
        self.needs_input_grad = True

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype) -> tuple[int, ...]:
        """Create parameters for ``input_shape`` and return the output shape."""
        return input_shape

    # Shapes before anything is allocated (checkpoints and the memory check use them). A layer
    # without parameters only maps shapes in ``build``, so calling it is free.
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self.build(input_shape, None, np.float32))

    def param_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shapes ``build`` will give the trainable arrays in ``params``."""
        return {}

    def state_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shapes of the arrays in ``state``: what a layer learns without gradients (batch
        normalisation's running mean and variance), saved and restored with the parameters."""
        return {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy

    def hyperparameters(self) -> dict[str, Any]:
        """Everything needed to rebuild this layer, as JSON-serialisable values."""
        return {}

    def architecture(self) -> dict[str, Any]:
        """The layer as one entry of an architecture description: ``{"type": kind, ...}``."""
        return {"type": self.kind, **self.hyperparameters()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer: ``z = x @ W + b`` with ``W: (n_in, units)``, ``b: (units,)``.

    Parameters
    ----------
    units : int
        Number of output units.
    init : str, default "normal_fan_in"
        Weight initialiser name (see ``nnsweep.nets.init``).
    bias : bool, default True
        Rashid's network has no biases, so they can be switched off.
    bias_init : str, default "zeros"
        Nielsen's networks draw biases from N(0, 1) ("standard_normal").
    gain : float, default 1.0
        Multiplies the initial weights: how a too-large start (Olin's QEA CNN draws 3x) shows.
    """

    kind = "dense"

    def __init__(
        self, units: int, init: str = "normal_fan_in", bias: bool = True, bias_init: str = "zeros", gain: float = 1.0
    ) -> None:
        super().__init__()
        if int(units) < 1:
            raise ShapeError(f"dense layer needs at least 1 unit, got {units}")
        self.units = int(units)
        self.init = init
        self.bias = bool(bias)
        self.bias_init = bias_init
        self.gain = float(gain)
        get_initialiser(init), get_initialiser(bias_init)  # fail early on a typo
        self.in_halves = False  # set by a network that splits its work (see _halves)

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ShapeError(f"dense layer expects flat input, got shape {input_shape}; add a flatten layer first")
        return (self.units,)

    def param_shapes(self, input_shape):
        self.output_shape(input_shape)
        return {"W": (input_shape[0], self.units), **({"b": (self.units,)} if self.bias else {})}

    def build(self, input_shape, rng, dtype):
        self.output_shape(input_shape)
        n_in = input_shape[0]
        self.params["W"] = get_initialiser(self.init)(rng, (n_in, self.units), n_in, self.units, dtype)
        if self.gain != 1.0:
            self.params["W"] *= self.params["W"].dtype.type(self.gain)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.decayed = {"W"}
        if self.bias:
            self.params["b"] = get_initialiser(self.bias_init)(rng, (self.units,), n_in, self.units, dtype)
            self.grads["b"] = np.zeros_like(self.params["b"])
        return (self.units,)

    def forward(self, x, training=False):
        self._x = x
        W = self.params["W"]
        halves = _halves(self, x.shape[0])
        if halves:  # each thread reads half of W
            z = np.empty((x.shape[0], self.units), dtype=np.result_type(x, W))
            each_block(halves[1], lambda units: np.matmul(x, W[:, units], out=z[:, units]))
        else:
            z = x @ W
        if self.bias:
            z += self.params["b"]
        return z

    def backward(self, dy):
        # Gradients go into preallocated buffers: at mini-batch 1 a 784-100-10 step is bound by
        # reading and writing the weights, and allocating them anew each step would dominate.
        x, W, gW = self._x, self.params["W"], self.grads["W"]
        halves = _halves(self, x.shape[0])
        if halves:
            each_block(halves[0], lambda inputs: np.matmul(x[:, inputs].T, dy, out=gW[inputs]))
        else:
            weight_grad(x, dy, gW)
        if self.bias:
            np.add.reduce(dy, axis=0, out=self.grads["b"])  # np.sum without its Python wrapper (1.4 against 0.5 us)
        if not self.needs_input_grad:
            return None
        if halves:
            dx = np.empty((len(dy), len(W)), dtype=np.result_type(dy, W))
            each_block(halves[0], lambda inputs: np.matmul(dy, W[inputs].T, out=dx[:, inputs]))
            return dx
        return dy @ W.T

    def hyperparameters(self):
        gain = {"gain": self.gain} if self.gain != 1.0 else {}  # records from before it keep their form
        return {"units": self.units, "init": self.init, "bias": self.bias, "bias_init": self.bias_init, **gain}


# In a convolutional network (Dense.in_halves), a dense layer's products from this many
# multiply-adds, with at least HALF_FROM inputs and units in each half, go in two halves of its
# weights, which threads can share (parallel.each_share): fashion_cnn's 3136 -> 256 layer at
# mini-batch 64 (51 million). A rule of the network and the shapes alone, so the values never depend on the thread
# count; an MLP keeps one product (its steps never split).
HALVES_FROM = 2**24
HALF_FROM = 32


def _halves(layer: "Dense", rows: int) -> tuple[list[slice], list[slice]] | None:
    """Two halves of ``layer``'s inputs and of its units, if its products are to be split."""
    n_in, units = layer.params["W"].shape
    if not layer.in_halves or rows < 2 or min(n_in, units) < 2 * HALF_FROM or rows * n_in * units < HALVES_FROM:
        return None
    return [slice(0, n_in // 2), slice(n_in // 2, n_in)], [slice(0, units // 2), slice(units // 2, units)]


def column_sums(matrix: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The sum of each column of a tall, thin matrix (a convolution's or batch norm's per-channel
    sums over every pixel of a batch), as one BLAS product with a ones vector: 4-10x faster than
    ``sum(axis=0)``, which adds the rows one after another."""
    return np.matmul(np.ones(len(matrix), dtype=matrix.dtype), matrix, out=out)


# Bytes of each block of rows that element-wise work takes at a time (see row_blocks).
CACHE_BLOCK_BYTES = 256 * 2**10


def row_blocks(rows: int, bytes_per_row: int, block_bytes: int | None = None) -> list[slice]:
    """Consecutive slices of ``rows`` holding about ``block_bytes`` (``CACHE_BLOCK_BYTES``) each,
    at least one row each.

    A convolutional network's activations (6.4 MB for 64 images of 28 x 28 x 32) are larger than
    a core's cache. Several NumPy operations in a row over such an array each read it from memory
    again; done one block of rows at a time, the later operations find the block still cached.
    Batch normalisation's four layers in ``fashion_cnn`` took 23.2 against 27.9 ms a batch in the
    network with 256 KB blocks (64 KB and 1 MB were slower).
    """
    per_block = max(1, (block_bytes or CACHE_BLOCK_BYTES) // max(bytes_per_row, 1))
    return [slice(lo, min(lo + per_block, rows)) for lo in range(0, rows, per_block)]


def each_block(blocks: Sequence[slice], work: Callable[[slice], Any]) -> list[Any]:
    """``[work(rows) for rows in blocks]``, the blocks split between threads
    (``parallel.each_share``): ``work`` must write only its own rows."""
    results: list[Any] = [None] * len(blocks)

    def share(indices: range) -> None:
        for i in indices:
            results[i] = work(blocks[i])

    parallel.each_share(range(len(blocks)), share)
    return results


def sum_in_order(parts: Iterable[np.ndarray], total: np.ndarray) -> np.ndarray:
    """``total`` plus every part, added in their order: a sum over blocks of rows that comes out
    the same, to the bit, however many threads computed the parts."""
    for part in parts:
        total += part
    return total


def weight_grad(x: np.ndarray, dy: np.ndarray, out: np.ndarray) -> None:
    """A dense layer's weight gradient ``out = x^T dy`` (``x: (batch, n_in)``, ``dy: (batch, units)``).

    With one example it is an outer product, a column times a row, which NumPy's ``matmul`` computes
    in its own loop rather than in BLAS: 87 us for 784 x 100 on these machines (a broadcast
    ``multiply`` calls NumPy's inner loop once per row: 29 us). ``dot`` hands it to BLAS's gemm
    (17 us; 6 against 27 us for 784 x 30). Every element is one product, so the values are
    matmul's, inf and NaN included (tested). Only the sign of a zero may differ: matmul adds each
    product to +0, where a gemm kernel with fused multiply-add keeps the -0 of a negative product
    that underflows; a weight that is not exactly zero cannot tell them apart, and forcing +0
    would cost another pass over the gradient (6 us). A layer one unit wide, or fed by one, stays
    with matmul: ``dot`` takes a scalar path there, which skips a zero factor (inf x 0 would be 0).
    """
    if (
        len(dy) == 1
        and x.shape[1] > 1
        and dy.shape[1] > 1
        and x.dtype == dy.dtype == out.dtype
        and out.flags.c_contiguous
    ):
        np.dot(x.T, dy, out=out)
    else:
        np.matmul(x.T, dy, out=out)


class Reshape(Layer):
    """Reshape each sample, e.g. flat 784 pixels to ``(28, 28, 1)`` in front of a convolution."""

    kind = "reshape"

    def __init__(self, shape) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def build(self, input_shape, rng, dtype):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ShapeError(f"cannot reshape input of shape {input_shape} to {self.shape}")
        self._in_shape = tuple(input_shape)
        return self.shape

    def forward(self, x, training=False):
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy):
        return dy.reshape((dy.shape[0],) + self._in_shape)

    def hyperparameters(self):
        return {"shape": list(self.shape)}


class Flatten(Layer):
    """Flatten each sample to a vector: ``(batch, h, w, c) -> (batch, h*w*c)``."""

    kind = "flatten"

    def build(self, input_shape, rng, dtype):
        self._in_shape = tuple(input_shape)
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape((dy.shape[0],) + self._in_shape)


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability ``rate`` while training and scale the
    survivors by 1/(1-rate), so nothing needs rescaling at test time (Srivastava et al. 2014).

    The mask is drawn from ``self.rng``, which the network points at the training generator, so
    dropout is reproducible from the seed.
    """

    kind = "dropout"

    def __init__(self, rate: float) -> None:
        super().__init__()
        if not 0.0 <= float(rate) < 1.0:
            raise ShapeError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng: np.random.Generator | None = None

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        # Drawn in float32 whatever the dtype: 24 bits of resolution are plenty for a coin with
        # odds of at least a percent, and the draw and comparison take half the time and memory
        # (fashion_cnn's first dropout, 64 x 14 x 14 x 32: 1.0 against 2.4 ms alone, 1.2 against
        # 1.6 ms inside a training step).
        kept = self.rng.random(x.shape, dtype=np.float32) < np.float32(keep)
        self._mask = np.multiply(kept, x.dtype.type(1) / x.dtype.type(keep), dtype=x.dtype)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def hyperparameters(self):
        return {"rate": self.rate}
