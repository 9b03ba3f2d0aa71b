"""Batch normalisation (Ioffe and Szegedy, 2015): each feature of a mini-batch made mean 0 and
variance 1, then scaled by a learned ``gamma`` and shifted by a learned ``beta``.

It normalises over every axis but the last: a dense layer's output per unit, a convolution's
channels-last output per channel (over the batch and every pixel, as a convolution shares its
weights across pixels). While training it uses the batch's own statistics and keeps running
averages of them; at evaluation it uses those running averages, so one image's answer never
depends on the others in its batch. The running averages are the layer's ``state``: saved with
the parameters, restored with the best epoch's weights, never touched by the optimizer.
"""

from __future__ import annotations

import numpy as np

from nnsweep.nets.layers import Layer, ShapeError, column_sums, each_block, row_blocks, sum_in_order


class BatchNorm(Layer):
    """Batch normalisation over all axes but the last.

    Parameters
    ----------
    momentum : float, default 0.9
        Running averages follow ``avg = momentum * avg + (1 - momentum) * batch`` (Keras' 0.99 is
        for long trainings; 0.9 settles within a few hundred mini-batches).
    eps : float, default 1e-5
        Added to the variance before its square root.

    ``gamma`` (ones) and ``beta`` (zeros) are per feature and not weight-decayed.
    """

    kind = "batchnorm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5) -> None:
        super().__init__()
        if not 0.0 <= float(momentum) < 1.0:
            raise ShapeError(f"batchnorm momentum must be in [0, 1), got {momentum}")
        if not float(eps) > 0.0:
            raise ShapeError(f"batchnorm eps must be > 0, got {eps}")
        self.momentum, self.eps = float(momentum), float(eps)

    def output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ShapeError(f"batchnorm expects features (n,) or images (h, w, channels), got {input_shape}")
        return tuple(input_shape)

    def param_shapes(self, input_shape):
        self.output_shape(input_shape)
        return {"gamma": (input_shape[-1],), "beta": (input_shape[-1],)}

    def state_shapes(self, input_shape):
        self.output_shape(input_shape)
        return {"mean": (input_shape[-1],), "var": (input_shape[-1],)}

    def build(self, input_shape, rng, dtype):
        features = self.output_shape(input_shape)[-1]
        self.params = {"gamma": np.ones(features, dtype), "beta": np.zeros(features, dtype)}
        self.grads = {name: np.zeros_like(a) for name, a in self.params.items()}
        self.state = {"mean": np.zeros(features, dtype), "var": np.ones(features, dtype)}
        self.decayed = set()
        return tuple(input_shape)

    def forward(self, x, training=False):
        features = x.shape[-1]
        flat = x.reshape(-1, features)  # channels-last: one contiguous row per pixel
        if not training:
            scale = self.params["gamma"] / np.sqrt(self.state["var"] + x.dtype.type(self.eps))
            self._eval_input, self._eval_scale = flat, scale  # a reference, no copy: for backward_eval
            return (flat * scale + (self.params["beta"] - self.state["mean"] * scale)).reshape(x.shape)
        self._eval_input = None
        m, dtype = flat.shape[0], x.dtype.type
        # Each pass over a convolution's output (6.4 MB for 64 images of 28 x 28 x 32) costs about
        # half a millisecond from memory, so the step makes as few as it can: the sums are BLAS
        # products (layers.column_sums), the rest is done a cache-sized block of rows at a time
        # (layers.row_blocks), and the output is centred x (gamma / std) + beta, kept with the
        # centred input that the backward pass needs (x-hat itself is never stored).
        blocks = row_blocks(m, flat.shape[1] * flat.itemsize)
        sums = each_block(blocks, lambda rows: column_sums(flat[rows]))
        mean = sum_in_order(sums, np.zeros(features, x.dtype)) / dtype(m)
        centred = np.empty_like(flat)

        def centre(rows):
            block = np.subtract(flat[rows], mean, out=centred[rows])
            return np.einsum("ij,ij->j", block, block)

        var = sum_in_order(each_block(blocks, centre), np.zeros(features, x.dtype)) / dtype(m)
        self._inv_std = (1.0 / np.sqrt(var + dtype(self.eps))).astype(x.dtype)
        self._centred = centred
        keep = dtype(self.momentum)
        self.state["mean"] *= keep
        self.state["mean"] += (1 - keep) * mean
        self.state["var"] *= keep
        self.state["var"] += (1 - keep) * var * dtype(m / max(m - 1, 1))  # unbiased, as at test time
        scale, beta = self.params["gamma"] * self._inv_std, self.params["beta"]
        out = np.empty_like(centred)

        def normalise(rows):
            np.multiply(centred[rows], scale, out=out[rows])
            out[rows] += beta

        each_block(blocks, normalise)
        return out.reshape(x.shape)

    def backward(self, dy):
        if getattr(self, "_eval_input", None) is not None:
            return self._backward_eval(dy)
        shape = dy.shape
        dy = dy.reshape(-1, shape[-1])
        m, dtype = dy.shape[0], dy.dtype.type
        centred, inv_std = self._centred, self._inv_std
        blocks = row_blocks(m, dy.shape[1] * dy.itemsize)
        sums = each_block(blocks, lambda rows: (column_sums(dy[rows]), np.einsum("ij,ij->j", dy[rows], centred[rows])))
        sum_dy = sum_in_order((s for s, _ in sums), np.zeros(dy.shape[1], dy.dtype))
        sum_dy_centred = sum_in_order((s for _, s in sums), np.zeros(dy.shape[1], np.result_type(dy, centred)))
        self.grads["beta"][...] = sum_dy
        self.grads["gamma"][...] = sum_dy_centred * inv_std  # the sum of dy x-hat
        if not self.needs_input_grad:
            return None
        # d/dx of gamma * (x - mean) / std with the batch's mean and std depending on x:
        # (gamma / std) * (dy - mean(dy) - xhat * mean(dy * xhat)), with xhat = centred / std:
        # dy * a - centred * b - c, per feature a = gamma / std, b = a mean(dy centred) / std^2,
        # c = a mean(dy); a block of rows at a time, as in forward.
        a = self.params["gamma"] * inv_std
        b = (a * inv_std) * (inv_std * (sum_dy_centred / dtype(m)))  # 1/std^2 alone may overflow float32
        c = a * (sum_dy / dtype(m))
        dx = np.empty_like(dy, dtype=np.result_type(dy, centred))

        def input_grad(rows):
            block = np.multiply(dy[rows], a, out=dx[rows])
            block -= centred[rows] * b
            block -= c

        each_block(blocks, input_grad)
        return dx.reshape(shape)

    def _backward_eval(self, dy):
        """The gradient after an evaluation pass (a class portrait ascends the input of a trained
        network): the running statistics are constants there, so the layer is affine per feature."""
        shape = dy.shape
        dy = dy.reshape(-1, shape[-1])
        xhat = (self._eval_input - self.state["mean"]) / np.sqrt(self.state["var"] + dy.dtype.type(self.eps))
        self.grads["beta"][...] = dy.sum(axis=0)
        self.grads["gamma"][...] = np.einsum("ij,ij->j", dy, xhat)
        if not self.needs_input_grad:
            return None
        return (dy * self._eval_scale).reshape(shape)

    def hyperparameters(self):
        return {"momentum": self.momentum, "eps": self.eps}
