"""Non-overlapping pooling on channels-last images ``x: (batch, height, width, channels)``: the
mean of each block (LeNet-5's subsampling) or its maximum (what later networks use)."""

from __future__ import annotations

import numpy as np

from nnsweep.nets import parallel
from nnsweep.nets.layers import Layer, ShapeError


class _Pool2D(Layer):
    """Shared shape logic of non-overlapping ``size`` x ``size`` pooling."""

    def __init__(self, size: int = 2) -> None:
        super().__init__()
        self.size = int(size)
        if self.size < 1:
            raise ShapeError(f"pool size must be >= 1, got {size}")

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 3:
            raise ShapeError(f"{self.kind} expects (height, width, channels) input, got {input_shape}")
        h, w, c = input_shape
        if h % self.size or w % self.size:
            raise ShapeError(
                f"{self.kind} of size {self.size} needs height and width divisible by it; input is {h}x{w}"
            )
        return (h // self.size, w // self.size, c)

    def hyperparameters(self):
        return {"size": self.size}


class MeanPool2D(_Pool2D):
    """Average of each block (LeNet-5's subsampling, without its trainable scale)."""

    kind = "meanpool2d"

    def forward(self, x, training=False):
        n, h, w, c = x.shape
        s = self.size
        # Rows first: the sum of the s rows of each block is whole image rows (runs of w*c
        # floats); then the s neighbours along each of those rows. Faster than adding the s*s
        # strided slices (runs of c floats), and much faster than mean(axis=(2, 4)).
        rows = x[:, 0::s].copy()
        for i in range(1, s):
            rows += x[:, i::s]
        rows = rows.reshape(n, h // s, w // s, s * c)
        out = rows[..., :c].copy()
        for j in range(1, s):
            out += rows[..., j * c : (j + 1) * c]
        out *= out.dtype.type(1.0 / (s * s))
        return out

    def backward(self, dy):
        n, ho, wo, c = dy.shape
        s = self.size
        # Each block gets its output's gradient / s^2: widened along the row first, then the
        # widened row copied s times (runs of whole rows rather than of c floats).
        share = dy * dy.dtype.type(1.0 / (s * s))
        row = np.empty((n, ho, wo, s, c), dtype=dy.dtype)
        row[...] = share[:, :, :, None, :]
        dx = np.empty((n, ho, s, wo * s * c), dtype=dy.dtype)
        dx[...] = row.reshape(n, ho, 1, wo * s * c)
        return dx.reshape(n, ho * s, wo * s, c)


class MaxPool2D(_Pool2D):
    """Maximum of each block; the gradient goes to the (first) maximal input of each block."""

    kind = "maxpool2d"

    def forward(self, x, training=False):
        n, h, w, c = x.shape
        s = self.size
        out = np.empty((n, h // s, w // s, c), dtype=x.dtype)
        # Local to this call (and kept after it): another thread's pass on this layer replaces
        # self._winners, never these.
        self._winners = winners = [np.empty(out.shape, dtype=bool) for _ in range(s * s)]

        def share(images: range) -> None:
            # The s*s strided slices (one per position in the block), compared in place: no
            # (N, H, W, C, s*s) copy to take an argmax over (measured 3x faster for 2x2).
            part_x, part_out = x[images.start : images.stop], out[images.start : images.stop]
            slices = [part_x[:, i::s, j::s] for i in range(s) for j in range(s)]
            np.copyto(part_out, slices[0])
            for part in slices[1:]:
                np.maximum(part_out, part, out=part_out)
            # Where each block's maximum came from, the first of equals winning (a ReLU's zeros tie).
            taken = np.zeros(part_out.shape, dtype=bool)
            for part, position in zip(slices, winners):
                won = np.equal(part, part_out, out=position[images.start : images.stop])
                won &= ~taken
                taken |= won

        parallel.each_share(range(n), share)
        return out

    def backward(self, dy):
        n, ho, wo, c = dy.shape
        s = self.size
        dx = np.empty((n, ho * s, wo * s, c), dtype=dy.dtype)
        winners = self._winners

        def share(images: range) -> None:
            part = slice(images.start, images.stop)
            for k, won in enumerate(winners):
                np.multiply(dy[part], won[part], out=dx[part, k // s :: s, k % s :: s])

        parallel.each_share(range(n), share)
        return dx
