"""2-D convolution and pooling on channels-last images ``x: (batch, height, width, channels)``.

Channels-last because im2col's matrix product yields one row per output pixel with the filters
along it, which *is* (batch, height, width, filters): no transpose after any layer, so the
activations and pooling that follow work on contiguous memory (measured 2.5x faster per LeNet-5
batch than channels-first).

The convolution is im2col: every k x k window of every sample becomes one row of a matrix, so
the layer is a matrix product. For a multi-channel input the window matrix is built and multiplied
a few images at a time (``_window_matrices``), into one small work array that stays in cache, and
built again in the backward pass rather than kept: the 32 -> 32 layer of ``fashion_cnn`` (64
images of 28 x 28) went from 18.7-19.1 to 11.2 ms forward (alone, alternated), and keeps 58 MB less
alive. The input gradient is the transposed convolution: where a layer has no more filters than
input channels it is itself a convolution of the zero-padded output gradient with the turned
kernels, chunked the same way (with the chunks, that layer's backward pass 26.7-27.0 -> 20.7-21.2
ms); otherwise one product per kernel offset, each added back with one shifted add.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from nnsweep.nets.init import get_initialiser
from nnsweep.nets.layers import Layer, ShapeError, column_sums, row_blocks


def lecun_c3_table() -> np.ndarray:
    """LeCun et al. 1998, Table I: which of the 6 S2 maps feed each of the 16 C3 maps.

    Returns ``(16, 6)`` booleans. Maps 0-5 see 3 contiguous inputs, 6-11 see 4 contiguous,
    12-14 see 4 non-contiguous, 15 sees all 6. The paper's reason: break symmetry so maps learn
    different features, and keep the connection count down.
    """
    table = np.zeros((16, 6), dtype=bool)
    for j in range(6):
        table[j, [(j + i) % 6 for i in range(3)]] = True
        table[6 + j, [(j + i) % 6 for i in range(4)]] = True
    for j, inputs in enumerate([(0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5)]):
        table[12 + j, list(inputs)] = True
    table[15, :] = True
    return table


CONNECTIONS = ("full", "lecun")

# Output pixels per matrix product in the weight gradient (see _sum_over_pixels).
PIXEL_CHUNK = 2048
# Bytes of window matrix built and multiplied at a time (see _window_matrices).
CHUNK_BYTES = 2**20
# A batch whose whole window matrix is no larger is built at once, and kept for the backward pass.
WHOLE_BYTES = 4 * 2**20


def _window_matrices(padded: np.ndarray, kernel: int, stride: int, out_hw: tuple[int, int]):
    """Yield ``(output rows, im2col matrix)`` of the contiguous ``padded`` images, a few images
    (about ``CHUNK_BYTES`` of matrix) at a time, or all at once if their matrix is at most
    ``WHOLE_BYTES``. The matrices share one work array: each is valid until the next.

    The product reads its matrix back while it is still in cache. In ``fashion_cnn`` (64 images,
    a per-layer profile of 60 training steps, every size measured twice, alternating), the four
    convolutions took 71.0-71.6 ms a batch with 1 MB chunks, 73.4-74.5 with 2 MB, 73.6-75.5 with
    0.5 MB, 77.5-78.0 with 4 MB, 80.9-81.7 with 8 MB and 93.4-96.8 with 16 MB; in one product,
    the whole batch's matrix (14-58 MB) was slower still. A small batch's matrix (LeNet-5's C3:
    1.2 MB at mini-batch 32) is kept whole: building it again made the backward pass of a C3 on
    14 x 14 maps (1.9 MB) 0.81 -> 1.06 ms.
    """
    ho, wo = out_hw
    n, c = padded.shape[0], padded.shape[3]
    windows = _windows(padded, kernel, stride, out_hw)
    per_image = ho * wo * kernel * kernel * c * padded.itemsize
    chunks = [slice(0, n)] if n * per_image <= WHOLE_BYTES else row_blocks(n, per_image, CHUNK_BYTES)
    work = np.empty((chunks[0].stop, ho, wo, kernel, kernel * c), dtype=padded.dtype)
    for images in chunks:
        cols = work[: images.stop - images.start]
        np.copyto(cols, windows[images])
        yield slice(images.start * ho * wo, images.stop * ho * wo), cols.reshape(-1, kernel * kernel * c)


def _zero_padded(images: np.ndarray, padding: int) -> np.ndarray:
    """``images`` with ``padding`` zeros around each map, as a C-contiguous array (what
    ``_windows`` needs: ``np.pad`` keeps a Fortran-ordered input's layout)."""
    if padding:
        images = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    return np.ascontiguousarray(images)


def _windows(padded: np.ndarray, kernel: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """Every k x k window of the C-contiguous ``padded`` images as a read-only view ``(N, Ho, Wo, k,
    k*C)``: a window's row of k pixels is k*C floats in a row of memory, so copying the view into
    an im2col matrix (columns ordered k, k, C) moves runs of k*C floats, not of C (4.3 against
    6.8 ms for the 28 x 28 x 32 windows of 64 images)."""
    if not padded.flags.c_contiguous:  # the strides below would read outside it
        raise ValueError("_windows needs C-contiguous images (see _zero_padded)")
    n, h, w, c = padded.shape
    # From the shape, not padded.strides: a C-contiguous array's axis of length 1 may carry any
    # stride (a channel axis added by [..., None] has stride 0).
    s3 = padded.itemsize
    s2, s1, s0 = c * s3, w * c * s3, h * w * c * s3
    return as_strided(
        padded,
        shape=(n, *out_hw, kernel, kernel * c),
        strides=(s0, stride * s1, stride * s2, s1, s3),
        writeable=False,
    )


def _sum_over_pixels(cols_t: np.ndarray, dy_mat: np.ndarray) -> np.ndarray:
    """``cols_t @ dy_mat``, a sum over every output pixel of the batch, in chunks of pixels.

    The product is short and wide times tall and thin (LeNet-5's C1: 25 x 18,432 times
    18,432 x 6). OpenBLAS splits such a product across threads badly; chunks of 2,048 pixels,
    summed, took 173 against 303 us for C1 and 365 against 607 us for the first layer of
    ``fashion_cnn``, and no shape measured was slower.
    """
    pixels = dy_mat.shape[0]
    if pixels <= PIXEL_CHUNK:
        return cols_t @ dy_mat
    total = cols_t[:, :PIXEL_CHUNK] @ dy_mat[:PIXEL_CHUNK]
    for lo in range(PIXEL_CHUNK, pixels, PIXEL_CHUNK):
        total += cols_t[:, lo : lo + PIXEL_CHUNK] @ dy_mat[lo : lo + PIXEL_CHUNK]
    return total


class Conv2D(Layer):
    """Convolution (cross-correlation, as every framework computes it) with ``filters`` kernels.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel : int
        Square kernel size k.
    stride : int, default 1
    padding : int, default 0
        Zeros added on each side ("valid" convolution is 0).
    connections : {"full", "lecun"}, default "full"
        "lecun" uses LeNet-5's partial C3 table (6 input maps -> 16 output maps).
    init : str, default "normal_fan_in"
    gain : float, default 1.0
        Multiplies the initial weights (``nnsweep.nets.layers.Dense`` says why).

    Weights ``W: (filters, in_channels, k, k)``, bias ``b: (filters,)``.
    """

    kind = "conv2d"

    def __init__(
        self,
        filters: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        connections: str = "full",
        init: str = "normal_fan_in",
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.filters, self.kernel = int(filters), int(kernel)
        self.stride, self.padding = int(stride), int(padding)
        if self.filters < 1 or self.kernel < 1 or self.stride < 1 or self.padding < 0:
            raise ShapeError(
                f"conv2d needs filters, kernel, stride >= 1 and padding >= 0; got "
                f"filters={filters}, kernel={kernel}, stride={stride}, padding={padding}"
            )
        if connections not in CONNECTIONS:
            raise ShapeError(f"unknown conv2d connections {connections!r}; use {' or '.join(map(repr, CONNECTIONS))}")
        self.connections = connections
        self.init = init
        self.gain = float(gain)
        get_initialiser(init)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """``(height, width, filters)`` for ``input_shape``; raises ``ShapeError`` if they do not fit."""
        if len(input_shape) != 3:
            raise ShapeError(
                f"conv2d expects (height, width, channels) input, got {input_shape}; "
                "add a reshape layer such as [28, 28, 1] first"
            )
        h, w, c = input_shape
        k, s, p = self.kernel, self.stride, self.padding
        if h + 2 * p < k or w + 2 * p < k:
            raise ShapeError(f"conv2d kernel {k} is larger than its input {h}x{w} (padding {p})")
        if self.connections == "lecun" and (self.filters, c) != (16, 6):
            raise ShapeError(
                f"the LeCun connection table maps 6 input maps to 16; this layer has "
                f"{c} -> {self.filters}; use connections=full"
            )
        return ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, self.filters)

    def param_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Shapes ``build`` will give ``W`` and ``b`` for ``input_shape``, without creating them."""
        self.output_shape(input_shape)
        return {"W": (self.filters, input_shape[2], self.kernel, self.kernel), "b": (self.filters,)}

    def build(self, input_shape, rng, dtype):
        out = self.output_shape(input_shape)
        self._out_hw = out[:2]
        self._in_shape = tuple(input_shape)
        c, k = input_shape[2], self.kernel
        fan_in, fan_out = c * k * k, self.filters * k * k
        W = get_initialiser(self.init)(rng, (self.filters, c, k, k), fan_in, fan_out, dtype)
        if self.gain != 1.0:
            W *= W.dtype.type(self.gain)
        self._mask = None
        if self.connections == "lecun":
            self._mask = lecun_c3_table()[:, :, None, None].astype(dtype)
            W *= self._mask
        self.params = {"W": W, "b": np.zeros(self.filters, dtype=dtype)}
        self.grads = {name: np.zeros_like(a) for name, a in self.params.items()}
        self.decayed = {"W"}
        return out

    def _effective_weights(self) -> np.ndarray:
        """Weights with absent LeCun-table connections forced to zero, so they never count."""
        return self.params["W"] if self._mask is None else self.params["W"] * self._mask

    def _weight_matrix(self) -> np.ndarray:
        """``(k*k*C, filters)``: W reordered to match the (k, k, C) order of the im2col columns."""
        return self._effective_weights().transpose(2, 3, 1, 0).reshape(-1, self.filters)

    def forward(self, x, training=False):
        if x.shape[1:] != self._in_shape:  # the window view below trusts the built shape
            raise ShapeError(f"conv2d was built for inputs {self._in_shape}, got {tuple(x.shape[1:])}")
        n, c = x.shape[0], x.shape[3]
        ho, wo = self._out_hw
        k, s, p = self.kernel, self.stride, self.padding
        x = _zero_padded(x, p)
        if c == 1:
            # Single channel: copying windows as (k, k, C, N, Ho, Wo) keeps the source's
            # contiguous width axis innermost (measured 2.5x faster than the row layout), and
            # the matrix is small enough (k*k floats a pixel) to keep for the backward pass.
            win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, k, k)
            self._cols_t = np.ascontiguousarray(win.transpose(4, 5, 3, 0, 1, 2)).reshape(k * k * c, -1)
            out = self._cols_t.T @ self._weight_matrix()
        else:
            self._padded_input = x  # the backward pass builds the windows again from it
            out = np.empty((n * ho * wo, self.filters), dtype=np.result_type(x, self.params["W"]))
            weights = self._weight_matrix()
            for rows, cols in _window_matrices(x, k, s, (ho, wo)):
                np.matmul(cols, weights, out=out[rows])
            self._cols_t = cols.T if rows.start == 0 else None  # built whole: kept (_window_matrices)
        # The bias along whole image rows (wo * filters floats) rather than each pixel's few
        # filters: 17 against 90 us for LeNet-5's C1, whose rows of 6 starve NumPy's inner loop.
        rows = out.reshape(n * ho, wo * self.filters)
        rows += np.tile(self.params["b"], wo)
        return out.reshape(n, ho, wo, self.filters)

    def backward(self, dy):
        c, k, p = self._in_shape[2], self.kernel, self.padding
        dy_mat = dy.reshape(-1, self.filters)
        if self._cols_t is not None:
            g_mat = _sum_over_pixels(self._cols_t, dy_mat)  # (k*k*C, filters)
        else:
            g_mat = np.zeros((k * k * c, self.filters), dtype=self.grads["W"].dtype)
            for rows, cols in _window_matrices(self._padded_input, k, self.stride, self._out_hw):
                g_mat += _sum_over_pixels(cols.T, dy_mat[rows])
        gW = self.grads["W"]
        gW[...] = g_mat.reshape(k, k, c, self.filters).transpose(3, 2, 0, 1)
        if self._mask is not None:
            gW *= self._mask  # absent connections stay exactly zero
        column_sums(dy_mat, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        if self.stride == 1 and self.filters <= c and p <= k - 1:
            return self._input_grad_by_convolution(dy)
        return self._input_grad_by_offsets(dy)

    def _input_grad_by_convolution(self, dy: np.ndarray) -> np.ndarray:
        """At stride 1 the input gradient is the convolution of the output gradient, zero-padded
        by k-1-p, with the kernels turned by 180 degrees and filters and channels swapped: one
        product of k*k*filters columns per pixel, no scatter, and a contiguous result. It pays
        where filters <= channels (the window matrix is no wider than the forward one)."""
        n, (h, w, c), k, q = dy.shape[0], self._in_shape, self.kernel, self.kernel - 1 - self.padding
        turned = self._effective_weights()[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, c)
        padded = _zero_padded(dy, q)
        dx = np.empty((n * h * w, c), dtype=dy.dtype)
        for rows, cols in _window_matrices(padded, k, 1, (h, w)):
            np.matmul(cols, turned, out=dx[rows])
        return dx.reshape(n, h, w, c)

    def _input_grad_by_offsets(self, dy: np.ndarray) -> np.ndarray:
        """One product ``dy @ W[:, :, i, j]`` per kernel offset, added back shifted."""
        n = dy.shape[0]
        ho, wo = self._out_hw
        h, w, c = self._in_shape
        k, s, p = self.kernel, self.stride, self.padding
        dy_mat = dy.reshape(n * ho * wo, self.filters)
        hp, wp = h + 2 * p, w + 2 * p
        if s == 1:
            # Per kernel offset (i, j), the input gradient block dy @ W[:, :, i, j] is contiguous
            # (N, Ho, Wo, C); merging width and channels makes each shifted add one run of
            # Wo*C floats instead of N*Ho*Wo runs of C (measured ~2x faster for LeNet's C3).
            w_offsets = self._effective_weights().transpose(2, 3, 0, 1).reshape(k * k, self.filters, c)
            blocks = np.matmul(dy_mat, w_offsets)  # (k*k, N*Ho*Wo, C)
            dx = np.zeros((n, hp, wp * c), dtype=dy.dtype)
            for i in range(k):
                for j in range(k):
                    dx[:, i : i + ho, j * c : (j + wo) * c] += blocks[i * k + j].reshape(n, ho, wo * c)
            dx = dx.reshape(n, hp, wp, c)
        else:
            dcols = (dy_mat @ self._weight_matrix().T).reshape(n, ho, wo, k, k, c)
            dx = np.zeros((n, hp, wp, c), dtype=dy.dtype)
            for i in range(k):
                for j in range(k):
                    dx[:, i : i + s * ho : s, j : j + s * wo : s, :] += dcols[:, :, :, i, j, :]
        return dx[:, p : p + h, p : p + w, :] if p else dx

    def hyperparameters(self):
        return {
            "filters": self.filters,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "connections": self.connections,
            "init": self.init,
            **({"gain": self.gain} if self.gain != 1.0 else {}),  # records from before it keep their form
        }


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
        s = self.size
        # The s*s strided slices (one per position in the block), compared in place: no
        # (N, H, W, C, s*s) copy to take an argmax over (measured 3x faster for 2x2).
        slices = [x[:, i::s, j::s] for i in range(s) for j in range(s)]
        out = slices[0].copy()
        for part in slices[1:]:
            np.maximum(out, part, out=out)
        # Where each block's maximum came from, the first of equals winning (a ReLU's zeros tie).
        taken = np.zeros(out.shape, dtype=bool)
        self._winners = []
        for part in slices:
            won = part == out
            won &= ~taken
            taken |= won
            self._winners.append(won)
        return out

    def backward(self, dy):
        n, ho, wo, c = dy.shape
        s = self.size
        dx = np.empty((n, ho * s, wo * s, c), dtype=dy.dtype)
        for k, won in enumerate(self._winners):
            np.multiply(dy, won, out=dx[:, k // s :: s, k % s :: s])
        return dx
