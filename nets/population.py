"""A population: K copies of one dense network trained as one computation.

A learning-rate sweep trains K networks that differ only in scalar settings of the optimizer (the
rate, L2, weight decay), from the same initial weights and over the same mini-batches. Trained one
by one, each copy pays NumPy's per-call cost alone: at mini-batch 1 a 784-100-10 step is a dozen
small calls whose overhead outweighs their arithmetic. Stacked, the copies share those calls:

- every dense layer is one batched product, ``(K, batch, n_in) @ (K, n_in, units)``; the first
  one's input is the same for every copy and is broadcast, ``(batch, n_in) @ (K, n_in, units)``;
- the activations and the cost work on the whole stack at once, element by element;
- each copy's learning rate (L2, weight decay) is a vector broadcast over its own slice.

JAX's ``vmap`` and torch.func's model ensembling do this on GPUs; here it is plain NumPy. Each
copy computes exactly what it would alone, bit for bit: NumPy's batched product calls BLAS once per
copy on the same matrices a single network multiplies, and everything else is the same formulas
in the same order (``activations.sigmoid`` is told each copy's size, so it takes the path it would
take for one copy). One wide product ``(n_in, K * units)`` for the first layer was as fast at small
mini-batches but sums in another order inside BLAS: its copies drifted from the separate networks
by up to 3e-2 after 400 steps at the largest rates, so it is not used.

Supported: dense layers and element-wise activations (sigmoid, tanh, ReLU, leaky ReLU), any of
``nnsweep.nets.losses`` (Rashid's passed-down signal too), and plain SGD. A member that diverges or
stops early leaves the stack (``keep``); the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnsweep.core.errors import NnsweepError
from nnsweep.nets.activations import LeakyReLU, ReLU, Sigmoid, Tanh, hidden_sigmoid, sigmoid
from nnsweep.nets.layers import Dense, Flatten, Reshape, weight_grad
from nnsweep.nets.network import Network

ELEMENTWISE = (Sigmoid, Tanh, ReLU, LeakyReLU)


def _weight_grad(x: np.ndarray, dz: np.ndarray, out: np.ndarray) -> None:
    """``out[k] = x[k]^T dz[k]`` for every member (the first layer's ``x`` is every member's), as
    ``Dense.backward`` forms it (``layers.weight_grad``): a BLAS call per member, on the matrices a
    single network multiplies (NumPy's batched product into ``out`` does not call BLAS)."""
    for k in range(out.shape[0]):
        weight_grad(x if x.ndim == 2 else x[k], dz[k], out[k])


class PopulationError(NnsweepError, ValueError):
    """Networks that cannot be stacked (another architecture, a layer not supported here)."""


@dataclass
class _Stacked:
    """One dense layer of every member: ``W: (K, n_in, units)``, ``b: (K, units)`` or None."""

    index: int  # the layer's position in the network (a checkpoint's key prefix)
    W: np.ndarray
    b: np.ndarray | None
    gW: np.ndarray
    gb: np.ndarray | None
    x: np.ndarray | None = None  # the input of the last forward pass


class Population:
    """K members stacked from ``networks`` (one architecture; usually the same initial weights).

    ``train_step(x, y)`` returns each member's summed cost ``(K,)`` and output activations
    ``(K, batch, classes)`` and fills the gradients; ``sgd_step(lr, l2, weight_decay)`` then updates
    every member with its own settings (vectors of length K), as ``optimizers.SGD.step`` would.
    """

    def __init__(self, networks: list[Network]) -> None:
        if not networks:
            raise PopulationError("a population needs at least one network")
        first = networks[0]
        if any(n.architecture() != first.architecture() or n.dtype != first.dtype for n in networks):
            raise PopulationError("the members of a population must share one architecture and dtype")
        self.loss, self.dtype, self.size = first.loss, first.dtype, len(networks)
        self.plan: list[object] = []  # a _Stacked per dense layer, the activation layer otherwise
        for i, layer in enumerate(first.layers):
            if isinstance(layer, Dense):
                self.plan.append(self._stack(i, [n.layers[i] for n in networks]))
            elif isinstance(layer, ELEMENTWISE) and any(isinstance(s, _Stacked) for s in self.plan):
                self.plan.append(type(layer)(**layer.hyperparameters()))
            elif isinstance(layer, (Flatten, Reshape)) and len(first.input_shape) == 1:
                continue  # a flat input stays flat
            else:  # an activation before any dense layer would not see a stacked input
                raise PopulationError(f"population training does not support {layer.kind} layers there yet")
        self.dense = [s for s in self.plan if isinstance(s, _Stacked)]
        # the backward pass, output first: each step with whether a dense layer lies below it
        self._backward_plan = [
            (step, any(isinstance(s, _Stacked) for s in self.plan[:i]))
            for i, step in reversed(list(enumerate(self.plan)))
        ]

    def _stack(self, index: int, layers: list[Dense]) -> _Stacked:
        W = np.stack([d.params["W"] for d in layers]).astype(self.dtype, copy=False)
        b = np.stack([d.params["b"] for d in layers]).astype(self.dtype, copy=False) if layers[0].bias else None
        return _Stacked(index, W, b, np.zeros_like(W), None if b is None else np.zeros_like(b))

    # ----- computation ------------------------------------------------------------------------
    def _dense_forward(self, s: _Stacked, x: np.ndarray) -> np.ndarray:
        s.x = x  # the first layer's (batch, n_in) is broadcast over the members
        z = np.matmul(x, s.W)
        if s.b is not None:
            z += s.b[:, None, :]
        return z

    def _dense_backward(self, s: _Stacked, dz: np.ndarray, needs_input_grad: bool) -> np.ndarray | None:
        _weight_grad(s.x, dz, s.gW)
        if s.gb is not None:
            np.add.reduce(dz, axis=1, out=s.gb)
        return np.matmul(dz, s.W.transpose(0, 2, 1)) if needs_input_grad else None

    def _activation(self, layer, z: np.ndarray, member_size: int) -> np.ndarray:
        if isinstance(layer, Sigmoid):  # the path one member of this size takes (activations.sigmoid)
            layer._out = hidden_sigmoid(z, member_size=member_size)
            return layer._out
        return layer.forward(z, True)

    def _output(self, z: np.ndarray) -> np.ndarray:
        """The cost's output activation of each member (row-wise: the stack's rows are the members')."""
        if self.loss.activation is sigmoid:
            return sigmoid(z, member_size=z[0].size)
        return self.loss.activation(z.reshape(-1, z.shape[-1])).reshape(z.shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs ``(K, batch, classes)`` in evaluation mode."""
        z = x
        for step in self.plan:
            if isinstance(step, _Stacked):
                z = self._dense_forward(step, z)
            else:
                z = self._activation(step, z, z[0].size)
        return z

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward on one mini-batch for every member, as ``Network.train_step``:
        gradients of the mean cost; returns the summed costs ``(K,)`` and activations."""
        z = self.forward(x)
        a = self._output(z)
        costs = np.array([self.loss.fn(z[k], a[k], y) for k in range(self.size)])
        d = self.loss.delta(z, a, y)
        if len(x) > 1:
            d /= d.dtype.type(len(x))
        passed_down = getattr(self.loss, "passed_down", None)
        first = True
        for step, below in self._backward_plan:
            if isinstance(step, _Stacked):
                if first and passed_down is not None and below:  # Rashid's rule (losses.RashidQuadraticCost)
                    self._dense_backward(step, d, needs_input_grad=False)
                    signal = passed_down(z, a, y) / d.dtype.type(len(x))
                    d = np.matmul(signal, step.W.transpose(0, 2, 1)).astype(d.dtype, copy=False)
                else:
                    d = self._dense_backward(step, d, needs_input_grad=below)
                first = False
            elif d is not None:
                d = step.backward(d)
        return costs, a

    def sgd_step(
        self,
        lr: np.ndarray,
        l2: np.ndarray | None = None,
        weight_decay: np.ndarray | None = None,
        n_train: int | None = None,
    ) -> None:
        """Every member's ``optimizers.SGD`` step with its own settings (vectors of length K):
        weights shrink by 1 - lr l2 / n (and 1 - lr wd), then ``w -= lr g``, in float32 as SGD does."""
        lr = np.asarray(lr, dtype=np.float64)
        shrink = np.ones(self.size)
        if l2 is not None and np.any(l2):
            shrink = 1.0 - lr * np.asarray(l2, dtype=np.float64) / n_train
        if weight_decay is not None and np.any(weight_decay):
            shrink = shrink * (1.0 - lr * np.asarray(weight_decay, dtype=np.float64))
        # Each member's arrays as one row of a (K, size) view: a (K, 1) factor broadcast over it runs
        # NumPy's inner loop once per member; over (K, n_in, units) it ran once per row of units,
        # a third of a mini-batch-1 step. The factors are rounded to the dtype as SGD.step's are.
        scale = lr.astype(self.dtype)[:, None]
        shrunk = shrink.astype(self.dtype)[:, None] if np.any(shrink != 1.0) else None
        for s in self.dense:
            for p, g, decayed in ((s.W, s.gW, True), (s.b, s.gb, False)):
                if p is None:
                    continue
                rows_p, rows_g = p.reshape(self.size, -1), g.reshape(self.size, -1)
                if decayed and shrunk is not None:
                    rows_p *= shrunk
                rows_g *= scale
                rows_p -= rows_g

    def gradients(self, k: int) -> dict[str, np.ndarray]:
        """Member ``k``'s gradients of the last ``train_step``, keyed as its parameters."""
        return {key: a.copy() for key, a in self._member_arrays(k, gradients=True).items()}

    def evaluate(
        self, x: np.ndarray, labels: np.ndarray, targets: np.ndarray, batch_size: int = 1000
    ) -> list[tuple[float, float]]:
        """Each member's mean cost and accuracy over a data set, as ``Network.evaluate``."""
        x = np.asarray(x).astype(self.dtype, copy=False)
        if len(x) == 0:
            return [(float("nan"), float("nan"))] * self.size
        cost, correct = [0.0] * self.size, [0] * self.size
        with np.errstate(all="ignore"):
            for i in range(0, len(x), batch_size):
                z = self.forward(x[i : i + batch_size])
                a = self._output(z)
                chunk_targets, chunk_labels = targets[i : i + batch_size], labels[i : i + batch_size]
                for k in range(self.size):
                    cost[k] += self.loss.fn(z[k], a[k], chunk_targets)
                    correct[k] += int((a[k].argmax(axis=1) == chunk_labels).sum())
        return [(c / len(x), r / len(x)) for c, r in zip(cost, correct)]

    def member_finite(self, k: int) -> bool:
        """Member ``k``'s weights are all finite (a diverged member's are not)."""
        return all(np.isfinite(a).all() for a in self._member_arrays(k).values())

    # ----- members ----------------------------------------------------------------------------
    def member_params(self, k: int) -> dict[str, np.ndarray]:
        """Member ``k``'s parameters keyed as ``Network.get_params`` keys them (a checkpoint's)."""
        return {key: a.copy() for key, a in self._member_arrays(k).items()}

    def _member_arrays(self, k: int, gradients: bool = False) -> dict[str, np.ndarray]:
        """Views of member ``k``'s parameters (or their gradients) keyed as its network's."""
        arrays = {}
        for s in self.dense:
            W, b = (s.gW, s.gb) if gradients else (s.W, s.b)
            arrays[f"{s.index}.W"] = W[k]
            if b is not None:
                arrays[f"{s.index}.b"] = b[k]
        return arrays

    def keep(self, members: list[int]) -> None:
        """Go on with these members only (in this order): one that diverged or stopped leaves."""
        for s in self.dense:
            s.W, s.b = s.W[members], None if s.b is None else s.b[members]  # fancy indexing copies
            s.gW, s.gb = np.zeros_like(s.W), None if s.b is None else np.zeros_like(s.b)
        self.size = len(members)
