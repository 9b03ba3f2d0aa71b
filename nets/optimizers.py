"""Gradient-descent optimizers that update a network's parameters in place.

All of them take the same regularisation options:

- ``l2`` is Nielsen's lambda (ch. 3): the cost gains (lambda / 2n) sum w^2, n the training-set
  size, so each step adds (lambda / n) w to the gradient of every weight (biases are not
  regularised). For plain SGD that is exactly Nielsen's update
  ``w -> (1 - eta lambda / n) w - eta grad``.
- ``weight_decay`` is decoupled decay (Loshchilov & Hutter, AdamW): after the step,
  ``w -> (1 - eta wd) w``, independent of n and of the adaptive scaling.

``lr`` is an attribute, set by the schedule at the start of every epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnsweep.nets import parallel
from nnsweep.nets.layers import Parameter, row_blocks


class Optimizer:
    """Base class. Subclasses implement ``_update(i, p, g)`` and name their state arrays."""

    name = "optimizer"
    state_names: tuple[str, ...] = ()

    def __init__(self, lr: float, l2: float = 0.0, n_train: int | None = None, weight_decay: float = 0.0) -> None:
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        if l2 < 0 or weight_decay < 0:
            raise ValueError(f"l2 and weight_decay must be >= 0, got l2={l2}, weight_decay={weight_decay}")
        if l2 > 0 and not n_train:
            raise ValueError("l2 regularisation in Nielsen's lambda/n form needs n_train, the training-set size")
        self.lr = float(lr)
        self.l2, self.n_train, self.weight_decay = float(l2), n_train, float(weight_decay)
        self.t = 0
        self.params: list[Parameter] = []  # bound by ``bind``
        self.state: dict[str, list[np.ndarray]] = {}

    @property
    def bound(self) -> bool:
        return bool(self.params)

    def bind(self, params: list[Parameter]) -> "Optimizer":
        """Attach to a network's ``parameters()``; creates zeroed state of matching shapes."""
        self.params = [Parameter(*p) for p in params]  # (key, value, grad, decayed) tuples are accepted too
        self.state = {name: [np.zeros_like(p.value) for p in self.params] for name in self.state_names}
        return self

    def step(self) -> None:
        """Apply one update using the gradients currently in the network's buffers."""
        self.t += 1
        l2_coef = self.l2 / self.n_train if self.l2 else 0.0
        for i, (_, p, g, decayed) in enumerate(self.params):
            if l2_coef and decayed:
                g += l2_coef * p
            self._update(i, p, g)
            if self.weight_decay and decayed:
                p *= 1.0 - self.lr * self.weight_decay

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    # ----- checkpointing ------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "l2": self.l2, "n_train": self.n_train, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict[str, np.ndarray]:
        arrays = {f"{name}.{i}": a for name, lst in self.state.items() for i, a in enumerate(lst)}
        arrays["t"] = np.array(self.t)
        return arrays

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        for name, lst in self.state.items():
            for i, a in enumerate(lst):
                a[...] = arrays[f"{name}.{i}"]
        self.t = int(arrays["t"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items() if v)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``w -> w - eta grad``."""

    name = "sgd"

    def step(self) -> None:
        # Nielsen's exact form for L2 (shrink, then step), applied in place without temporaries:
        # at mini-batch 1 this loop is the hot path.
        self.t += 1
        lr = self.lr
        shrink = 1.0 - lr * self.l2 / self.n_train if self.l2 else 1.0
        if self.weight_decay:
            shrink *= 1.0 - lr * self.weight_decay
        for _, p, g, decayed in self.params:
            if shrink != 1.0 and decayed:
                p *= shrink
            g *= lr
            p -= g


class Momentum(Optimizer):
    """Classical momentum (Polyak; Nielsen ch. 3): ``v -> mu v - eta grad; w -> w + v``."""

    name = "momentum"
    state_names = ("velocity",)

    def __init__(self, lr: float, momentum: float = 0.9, **kw) -> None:
        super().__init__(lr, **kw)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    def _update(self, i, p, g):
        v = self.state["velocity"][i]
        v *= self.momentum
        v -= self.lr * g
        p += v

    def hyperparameters(self):
        return {**super().hyperparameters(), "momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov momentum in Sutskever et al.'s (2013) form: step with the look-ahead velocity,
    ``v -> mu v - eta grad; w -> w + mu v - eta grad``."""

    name = "nesterov"

    def _update(self, i, p, g):
        v = self.state["velocity"][i]
        v *= self.momentum
        v -= self.lr * g
        p += self.momentum * v - self.lr * g


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e): divide the step by a running RMS of the gradient."""

    name = "rmsprop"
    state_names = ("mean_square",)

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8, **kw) -> None:
        super().__init__(lr, **kw)
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, i, p, g):
        s = self.state["mean_square"][i]
        s *= self.rho
        s += (1.0 - self.rho) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)

    def hyperparameters(self):
        return {**super().hyperparameters(), "rho": self.rho, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1) with bias-corrected first and second moments."""

    name = "adam"
    state_names = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **kw) -> None:
        super().__init__(lr, **kw)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"Adam betas must be in [0, 1), got beta1={beta1}, beta2={beta2}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def bind(self, params):
        super().bind(params)
        self._scratch = [np.empty(0, p.dtype) for _, p, _, _ in params]  # a block's worth, on first use
        return self

    def _update(self, i, p, g):
        # In place, a cache-sized block at a time (layers.row_blocks), through one small scratch
        # array: Adam runs once per mini-batch on every parameter, its dozen passes were each a
        # trip to memory for a large layer (fashion_cnn's 3136 x 256 dense weights, 3.2 MB), and
        # temporaries had been a third of its cost. The blocks are split between threads in a
        # convolutional network's steps (parallel.each_share): fashion_cnn's step 3.5 -> 2.8 ms.
        # Element-wise, so neither blocks nor threads change a value.
        m, v = self.state["m"][i], self.state["v"][i]
        if not (p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
            self._update_block(p, g, m, v, np.empty_like(p))
            return
        p, g, m, v = (a.reshape(-1) for a in (p, g, m, v))
        blocks = row_blocks(p.size, p.itemsize)
        if not blocks:  # an empty parameter
            return
        if self._scratch[i].size < blocks[0].stop:
            self._scratch[i] = np.empty(blocks[0].stop, p.dtype)

        def share(mine):
            # The calling thread's share (the first) uses the parameter's kept scratch block: an
            # MLP's step, never split, allocates nothing here.
            tmp = self._scratch[i] if mine[0] is blocks[0] else np.empty(blocks[0].stop, p.dtype)
            for block in mine:
                self._update_block(p[block], g[block], m[block], v[block], tmp[: block.stop - block.start])

        parallel.each_share(blocks, share)

    def _update_block(self, p, g, m, v, tmp):
        m *= self.beta1
        np.multiply(g, 1.0 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp
        # Fold both bias corrections into the step size (the paper's efficient form, Sec. 2).
        step = self.lr * np.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp

    def hyperparameters(self):
        return {**super().hyperparameters(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, RMSprop, Adam)}


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """An optimizer by name, with an error that lists the valid names."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[name](**kwargs)
