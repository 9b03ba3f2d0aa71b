"""A network: a stack of layers plus the cost that closes it, built from a plain description.

A description is JSON-friendly data, so the same dict comes from a Hydra config, lives inside a
checkpoint, and rebuilds the network in a notebook::

    {"input_shape": [784],
     "layers": [{"type": "dense", "units": 30}, {"type": "sigmoid"}, {"type": "dense", "units": 10}],
     "loss": "quadratic"}

The last layer produces the raw outputs z; the cost applies the output non-linearity
(``nnsweep.nets.losses``), so ``predict_proba`` is ``loss.activation(forward(x))``.
"""

from __future__ import annotations

import math
import os
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from nnsweep.nets import parallel
from nnsweep.nets.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnsweep.nets.conv import Conv2D
from nnsweep.nets.layers import Dense, Dropout, Flatten, Layer, Parameter, Reshape, ShapeError
from nnsweep.nets.losses import get_loss
from nnsweep.nets.normalization import BatchNorm
from nnsweep.nets.pooling import MaxPool2D, MeanPool2D

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (
        Dense,
        Conv2D,
        MeanPool2D,
        MaxPool2D,
        Flatten,
        Reshape,
        Dropout,
        BatchNorm,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        Softmax,
    )
}


def make_layer(spec: dict[str, Any]) -> Layer:
    """One layer from ``{"type": ..., **hyperparameters}``, with a clear error for typos."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ShapeError(f"unknown layer type {kind!r}; choose one of {', '.join(sorted(LAYER_TYPES))}")
    try:
        return LAYER_TYPES[kind](**spec)
    except TypeError as err:
        raise ShapeError(f"bad options for a {kind} layer {spec}: {err}") from None


def _plan(
    layers: list[Layer], input_shape: tuple[int, ...]
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Shape of every parameter and of every state array (batch normalisation's running
    statistics) ``layers`` will create, keyed ``"<layer index>.<name>"`` in the order ``Network``
    lists them, found by walking the shapes without allocating."""
    params: dict[str, tuple[int, ...]] = {}
    states: dict[str, tuple[int, ...]] = {}
    shape = input_shape
    for i, layer in enumerate(layers):
        if any(size < 1 for size in shape):
            raise ShapeError(f"layer {i} ({layer.kind}) gets input of shape {shape}; every size must be >= 1")
        params.update({f"{i}.{name}": tuple(int(s) for s in p) for name, p in layer.param_shapes(shape).items()})
        states.update({f"{i}.{name}": tuple(int(s) for s in p) for name, p in layer.state_shapes(shape).items()})
        shape = tuple(layer.output_shape(shape))
    return params, states


def planned_shapes(description: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """The shapes a ``Network`` built from ``description`` will have, without allocating any of
    them: its trainable parameters (keyed as ``Network.parameters`` keys them), and its layers'
    state (batch normalisation's running statistics; ``Network.get_params`` returns both).
    Checkpoints check the arrays in a file against them before reading any."""
    return _plan(
        [make_layer(spec) for spec in description["layers"]], tuple(int(s) for s in description["input_shape"])
    )


# Training holds each parameter up to this many times: its value, its gradient, two optimizer
# moments (Adam; SGD keeps none) and the best epoch's copy. Activations, which grow with the
# batch and not with the parameters, come on top.
COPIES_PER_PARAMETER = 5


def available_memory() -> int | None:
    """Bytes of memory the machine can still hand out (Linux's MemAvailable), else its physical
    memory, or None where neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(n_params: int, dtype, fix: str = "choose smaller layers") -> None:
    """Refuse, with a ``ShapeError`` that ends with ``fix``, ``n_params`` parameters of ``dtype``
    that could not be trained in this machine's memory (``COPIES_PER_PARAMETER`` copies of each)."""
    need = n_params * np.dtype(dtype).itemsize * COPIES_PER_PARAMETER
    have = available_memory()
    if have is not None and need > have:
        raise ShapeError(
            f"a network of {n_params:,} parameters needs about {need / 1e9:,.1f} GB to train "
            f"({COPIES_PER_PARAMETER} copies of each {np.dtype(dtype).name} parameter), but this machine "
            f"has {have / 1e9:,.1f} GB available; {fix}"
        )


class Network:
    """Layers + cost. Parameters are created from ``rng`` in layer order, so a seed fixes them.

    Parameters
    ----------
    description : dict
        ``input_shape`` (per sample, e.g. ``[784]``), ``layers`` (list of layer specs) and
        ``loss`` (a name from ``nnsweep.nets.losses.LOSSES``).
    rng : numpy.random.Generator
        Draws the initial weights.
    dtype : numpy dtype, default float32
        float64 is there for gradient checks.

    The parameter shapes are worked out from the description before any array is created, so a
    network too big for this machine's memory is refused with a ``ShapeError`` (see
    ``check_fits_in_memory``) instead of failing half-way through allocating it.
    """

    def __init__(self, description: dict[str, Any], rng: np.random.Generator, dtype=np.float32) -> None:
        self.input_shape = tuple(int(s) for s in description["input_shape"])
        self.loss = get_loss(description.get("loss", "softmax_cross_entropy"))
        self.dtype = np.dtype(dtype)
        self.layers = [make_layer(spec) for spec in description["layers"]]
        if not self.layers:
            raise ShapeError("a network needs at least one layer")
        planned, _ = _plan(self.layers, self.input_shape)
        check_fits_in_memory(sum(math.prod(s) for s in planned.values()), self.dtype)
        shape = self.input_shape
        for layer in self.layers:
            shape = tuple(layer.build(shape, rng, self.dtype))
        if len(shape) != 1:
            raise ShapeError(f"the last layer must output a flat vector per sample, got shape {shape}")
        self.output_size = shape[0]
        # Layers up to and including the first one with parameters never need the gradient
        # with respect to their input: nothing below them learns.
        first = next((i for i, layer in enumerate(self.layers) if layer.params), len(self.layers))
        for layer in self.layers[: first + 1]:
            layer.needs_input_grad = False
        self._backward_layers = self.layers[first:][::-1]
        self._param_list = [
            Parameter(f"{i}.{name}", layer.params[name], layer.grads[name], name in layer.decayed)
            for i, layer in enumerate(self.layers)
            for name in layer.params
        ]
        self._state_list = [
            (f"{i}.{name}", layer.state[name]) for i, layer in enumerate(self.layers) for name in layer.state
        ]
        self._splits_work = any(layer.splits_work for layer in self.layers)
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.in_halves = self._splits_work

    def split_work(self) -> AbstractContextManager:
        """The scope in which this network's work is split between threads (``parallel.split_work``):
        a convolutional network's; an MLP keeps BLAS's own threads (its steps are too short)."""
        return parallel.split_work() if self._splits_work else nullcontext()

    # ----- description and parameters -------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """The description this network was built from (normalised), for checkpoints."""
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.architecture() for layer in self.layers],
            "loss": self.loss.name,
        }

    def parameters(self) -> list[Parameter]:
        """Every trainable array with its gradient buffer, in a fixed order."""
        return self._param_list

    @property
    def n_params(self) -> int:
        return int(sum(p.size for _, p, _, _ in self._param_list))

    def _saved(self) -> list[tuple[str, np.ndarray]]:
        return [(key, p) for key, p, _, _ in self._param_list] + self._state_list

    def get_params(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and of every layer's state (running statistics), keyed
        ``"<layer index>.<name>"``: what a checkpoint or the best epoch's snapshot keeps."""
        return {key: p.copy() for key, p in self._saved()}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Copy parameters and state in place (optimizers hold references to the arrays)."""
        for key, p in self._saved():
            if key not in values:
                raise ShapeError(f"parameter {key} is missing")
            if values[key].shape != p.shape:
                raise ShapeError(f"parameter {key} has shape {values[key].shape}, expected {p.shape}")
            p[...] = values[key]

    def params_finite(self) -> bool:
        return all(np.isfinite(p).all() for _, p in self._saved())

    def set_rng(self, rng: np.random.Generator) -> None:
        """Point stochastic layers (dropout) at the training generator."""
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.rng = rng

    # ----- computation ----------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Raw outputs ``z: (batch, classes)`` for ``x: (batch, *input_shape)``."""
        with self.split_work():
            for layer in self.layers:
                x = layer.forward(x, training)
        return x

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward on one mini-batch; fills every layer's ``grads``.

        Gradients are of the *mean* cost over the batch (Nielsen's eta/m update).
        Returns the *summed* cost of the batch and the output activations ``a``.
        """
        with self.split_work():
            return self._train_step(x, y)

    def _train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        z = x
        for layer in self.layers:
            z = layer.forward(z, True)
        a = self.loss.activation(z)
        cost = self.loss.fn(z, a, y)
        d = self.loss.delta(z, a, y)
        if len(x) > 1:
            d /= d.dtype.type(len(x))
        layers = self._backward_layers
        passed_down = getattr(self.loss, "passed_down", None)
        if passed_down is not None and layers:  # Rashid's rule (losses.RashidQuadraticCost)
            out = layers[0]
            out.backward(d)  # its own weights: the true gradient
            signal = passed_down(z, a, y) / d.dtype.type(len(x))
            d = (signal @ out.params["W"].T).astype(d.dtype, copy=False)
            layers = layers[1:]
        for layer in layers:
            d = layer.backward(d)
        return cost, a

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == len(self.input_shape):  # a single sample
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape and x[0].size == int(np.prod(self.input_shape)):
            x = x.reshape((len(x),) + self.input_shape)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(
                f"input has per-sample shape {tuple(x.shape[1:])}, but the network expects {self.input_shape}"
            )
        return x.astype(self.dtype, copy=False)

    def predict_proba(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Output activations ``(n, classes)`` in evaluation mode, in batches to bound memory."""
        x = self._check_input(x)
        out = [self.loss.activation(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.output_size), self.dtype)

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Predicted class per sample, ``(n,)`` ints."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def evaluate(
        self, x: np.ndarray, labels: np.ndarray, targets: np.ndarray, batch_size: int = 1000
    ) -> tuple[float, float]:
        """Mean cost and accuracy over a data set, in evaluation mode (no dropout)."""
        x = self._check_input(x)
        if len(x) == 0:
            return float("nan"), float("nan")
        cost, correct = 0.0, 0
        with np.errstate(all="ignore"):
            for i in range(0, len(x), batch_size):
                z = self.forward(x[i : i + batch_size])
                a = self.loss.activation(z)
                cost += self.loss.fn(z, a, targets[i : i + batch_size])
                correct += int((a.argmax(axis=1) == labels[i : i + batch_size]).sum())
        return cost / len(x), correct / len(x)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network(input={self.input_shape}, [{inner}], loss={self.loss.name}, params={self.n_params})"
