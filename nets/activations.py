"""Element-wise activations, each a parameter-free layer with ``forward``/``backward``.

The maths lives in the small functions at the top so the losses (which own the output
non-linearity, see ``nnsweep.nets.losses``) and the back query (``reports``) can reuse them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from nnsweep.nets.layers import CACHE_BLOCK_BYTES, Layer, each_block, row_blocks

# Largest x with exp(x) finite, per dtype (a hair below log(max float)).
_EXP_LIMIT = {np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}
_SMALL = 4096


def sigmoid(z: np.ndarray, member_size: int | None = None) -> np.ndarray:
    """Logistic function 1 / (1 + e^-z), overflow-safe for any finite z, same dtype as z.

    Small arrays go to ``scipy.special.expit`` (Rashid's choice; lowest call overhead). Large
    ones use 1 / (1 + e^-z) computed in place, twice as fast as expit on float32: -z is capped
    at the dtype's exp limit first, so e^-z never overflows; the capped value only changes
    results below 1e-38, where sigma(z) is 0 to working precision anyway. ``member_size``: ``z``
    stacks networks of a population (``nnsweep.nets.population``), each of this size; the path is
    chosen as for one of them, so each computes what it would alone.
    """
    if (z.size if member_size is None else member_size) < _SMALL or z.dtype not in _EXP_LIMIT:
        return expit(z)
    t = np.negative(z)
    np.minimum(t, _EXP_LIMIT[z.dtype], out=t)
    np.exp(t, out=t)
    t += 1.0
    return np.reciprocal(t, out=t)


def hidden_sigmoid(z: np.ndarray, member_size: int | None = None) -> np.ndarray:
    """sigma(z) for hidden units: as ``sigmoid``, but large arrays as 0.5 + 0.5 tanh(z / 2).

    NumPy's tanh is vectorised and twice as fast as exp plus a division (measured on a LeNet-5
    layer of 110,592 floats: 63 against 132 us). Its answer is exact to the dtype's absolute
    precision, which is all a hidden unit needs, but below about 1e-8 (float32) it rounds to 0
    where sigma is tiny but positive: a loss taking log(a) of its outputs must use ``sigmoid``.
    ``member_size`` as for ``sigmoid``.
    """
    if (z.size if member_size is None else member_size) < _SMALL or z.dtype not in _EXP_LIMIT:
        return expit(z)
    half = z.dtype.type(0.5)
    t = np.multiply(z, half)
    np.tanh(t, out=t)
    t *= half
    t += half
    return t


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``z: (batch, classes)``, shifted by the row maximum so exp never overflows."""
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax via log-sum-exp: finite even where softmax underflows to 0.

    Written out (shift by the row maximum, so the largest term is exp(0) = 1 and the log is of
    a number in [1, classes]) rather than ``scipy.special.logsumexp``, whose generic array-API
    machinery costs ~0.3 ms a call: 7% of a LeNet-5 training step.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class Sigmoid(Layer):
    """sigma(z); its derivative sigma(1 - sigma) is computed from the cached output."""

    kind = "sigmoid"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._out = hidden_sigmoid(x)
        return self._out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        a = self._out
        return dy * a * (1.0 - a)


class Tanh(Layer):
    """tanh(z); derivative 1 - tanh^2 from the cached output."""

    kind = "tanh"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._out = np.tanh(x)
        return self._out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1.0 - self._out * self._out)


class ReLU(Layer):
    """max(0, z); the gradient at exactly 0 is taken as 0."""

    kind = "relu"

    # np.maximum and a product with the boolean mask: each one pass over the array, ten times
    # faster than np.where(mask, x, 0) on a convolution's output (measured on NumPy 2). The
    # backward pass of a convolution's output (6.4 MB) goes a block at a time, the blocks split
    # between threads (parallel.each_share), so the mask is used while in cache: fashion_cnn's four
    # ReLUs 4.8 -> 4.0 ms backward a batch (forward, split the same way, was no faster).
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._out = np.maximum(x, x.dtype.type(0))
        return self._out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if dy.nbytes <= CACHE_BLOCK_BYTES:
            return dy * (self._out > 0)
        dx = np.empty(dy.shape, dtype=dy.dtype)
        flat_dy, flat_out, flat_dx = dy.reshape(-1), self._out.reshape(-1), dx.reshape(-1)
        each_block(
            row_blocks(dx.size, dx.itemsize),
            lambda part: np.multiply(flat_dy[part], flat_out[part] > 0, out=flat_dx[part]),
        )
        return dx


class LeakyReLU(Layer):
    """z for z > 0, else ``slope * z`` (Maas et al. 2013; Olin's QEA CNN uses slope 0.01): a unit
    that went negative still passes a gradient, so it cannot die."""

    kind = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.slope))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self._positive, dy, dy * dy.dtype.type(self.slope))

    def hyperparameters(self):
        return {"slope": self.slope}


class Softmax(Layer):
    """Softmax as a stand-alone layer (for probabilities inside a network).

    For training a classifier use the fused ``SoftmaxCrossEntropy`` loss instead: its gradient
    is simply ``softmax(z) - y`` and it never takes the log of an underflowed probability.
    """

    kind = "softmax"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._out = softmax(x)
        return self._out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # Jacobian-vector product of softmax: s * (dy - <dy, s>) per row.
        s = self._out
        return s * (dy - (dy * s).sum(axis=1, keepdims=True))
