"""2-D convolution on channels-last images ``x: (batch, height, width, channels)`` (pooling is in
``nnsweep.nets.pooling``).

Channels-last because im2col's matrix product yields one row per output pixel with the filters
along it, which *is* (batch, height, width, filters): no transpose after any layer, so the
activations and pooling that follow work on contiguous memory (measured 2.5x faster per LeNet-5
batch than channels-first).

The convolution is im2col: every k x k window of every sample becomes one row of a matrix, so
the layer is a matrix product. For a multi-channel input the window matrix is built and multiplied
a few images at a time (``_each_window_matrix``), into one small work array that stays in cache, and
built again in the backward pass rather than kept: the 32 -> 32 layer of ``fashion_cnn`` (64
images of 28 x 28) went from 18.7-19.1 to 11.2 ms forward (alone, alternated), and keeps 58 MB less
alive. The input gradient is the transposed convolution: where a layer has no more filters than
input channels it is itself a convolution of the zero-padded output gradient with the turned
kernels, chunked the same way (with the chunks, that layer's backward pass 26.7-27.0 -> 20.7-21.2
ms); otherwise one product per kernel offset, each added back with one shifted add, a few images
at a time too. The chunks are split between the threads BLAS may use (``nnsweep.nets.parallel``),
each with one BLAS thread: in ``fashion_cnn``'s training step (60 steps, ms a batch), the 32 -> 32
layer went 11.3 + 20.9 -> 7.6-7.8 + 14.4-15.3 (forward + backward, two runs), the 64 -> 64 one
7.6 + 14.1 -> 5.6-5.8 + 11.2-11.4, and the 32 -> 64 one, by offsets, 4.2 + 9.9 -> 3.3-3.4 + 7.7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from nnsweep.nets import parallel
from nnsweep.nets.init import get_initialiser
from nnsweep.nets.layers import Layer, ShapeError, column_sums, each_block, row_blocks, sum_in_order


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
# Bytes of window matrix built and multiplied at a time (see _each_window_matrix).
CHUNK_BYTES = 2**20
# A batch whose whole window matrix is no larger is built at once, and kept for the backward pass.
WHOLE_BYTES = 4 * 2**20


def _image_chunks(images: int, bytes_per_image: int) -> list[slice]:
    """The batch's images in chunks of about ``CHUNK_BYTES`` of work array, or all at once if the
    whole batch needs at most ``WHOLE_BYTES`` (see _each_window_matrix)."""
    if images * bytes_per_image <= WHOLE_BYTES:
        return [slice(0, images)]
    return row_blocks(images, bytes_per_image, CHUNK_BYTES)


def _each_window_matrix(
    padded: np.ndarray, kernel: int, stride: int, out_hw: tuple[int, int], work: Callable[[int, slice, np.ndarray], Any]
) -> np.ndarray | None:
    """Call ``work(chunk, output rows, im2col matrix)`` for the windows of the contiguous
    ``padded`` images, a few images (about ``CHUNK_BYTES`` of matrix) at a time, or all at once if
    their matrix is at most ``WHOLE_BYTES``; return that whole matrix then, else None.

    The chunks are split between threads (``parallel.each_share``); each share builds its
    matrices in one small work array of its own, so a matrix is valid only during its call. The
    product reads its matrix back while it is still in cache. In ``fashion_cnn`` (64 images,
    a per-layer profile of 60 training steps, every size measured twice, alternating, one thread),
    the four convolutions took 71.0-71.6 ms a batch with 1 MB chunks, 73.4-74.5 with 2 MB,
    73.6-75.5 with 0.5 MB, 77.5-78.0 with 4 MB, 80.9-81.7 with 8 MB and 93.4-96.8 with 16 MB; in
    one product, the whole batch's matrix (14-58 MB) was slower still. A small batch's matrix
    (LeNet-5's C3: 1.2 MB at mini-batch 32) is kept whole: building it again made the backward
    pass of a C3 on 14 x 14 maps (1.9 MB) 0.81 -> 1.06 ms.
    """
    ho, wo = out_hw
    n, c = padded.shape[0], padded.shape[3]
    windows = _windows(padded, kernel, stride, out_hw)
    per_image = ho * wo * kernel * kernel * c * padded.itemsize
    chunks = _image_chunks(n, per_image)
    whole = []

    def share(indices: range) -> None:
        matrices = np.empty((chunks[0].stop, ho, wo, kernel, kernel * c), dtype=padded.dtype)
        for i in indices:
            images = chunks[i]
            cols = matrices[: images.stop - images.start]
            np.copyto(cols, windows[images])
            cols = cols.reshape(-1, kernel * kernel * c)
            work(i, slice(images.start * ho * wo, images.stop * ho * wo), cols)
        if len(chunks) == 1:
            whole.append(cols)

    parallel.each_share(range(len(chunks)), share)
    return whole[0] if whole else None


def _zero_padded(images: np.ndarray, padding: int) -> np.ndarray:
    """``images`` with ``padding`` zeros around each map, always as a new C-contiguous array (what
    ``_windows`` needs, also for a Fortran-ordered input), a share of the images per thread
    (``parallel.each_share``)."""
    if not padding:
        return np.ascontiguousarray(images)
    n, h, w, c = images.shape
    p = padding
    padded = np.empty((n, h + 2 * p, w + 2 * p, c), dtype=images.dtype)

    def share(indices: range) -> None:
        block = padded[indices.start : indices.stop]
        block[:, :p] = 0
        block[:, p + h :] = 0
        block[:, p : p + h, :p] = 0
        block[:, p : p + h, p + w :] = 0
        block[:, p : p + h, p : p + w] = images[indices.start : indices.stop]

    parallel.each_share(range(n), share)
    return padded


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
    splits_work = True

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
            weights, bias = self._weight_matrix(), self._bias_row()

            def product(chunk, rows, cols):
                image_rows = np.matmul(cols, weights, out=out[rows]).reshape(-1, bias.size)
                image_rows += bias  # while the chunk's output is still in cache

            whole = _each_window_matrix(x, k, s, (ho, wo), product)
            self._cols_t = None if whole is None else whole.T  # built whole: kept (_each_window_matrix)
            return out.reshape(n, ho, wo, self.filters)
        rows = out.reshape(n * ho, -1)
        rows += self._bias_row()
        return out.reshape(n, ho, wo, self.filters)

    def _bias_row(self) -> np.ndarray:
        """The bias repeated along one row of output pixels: added to whole image rows (wo * filters
        floats) rather than each pixel's few filters, 17 against 90 us for LeNet-5's C1, whose
        rows of 6 starve NumPy's inner loop."""
        return np.tile(self.params["b"], self._out_hw[1])

    def backward(self, dy):
        c, k, p = self._in_shape[2], self.kernel, self.padding
        dy_mat = dy.reshape(-1, self.filters)
        if self._cols_t is not None:
            g_mat = _sum_over_pixels(self._cols_t, dy_mat)  # (k*k*C, filters)
        else:
            # One sum per chunk, added up in chunk order: the same bytes whatever the thread count.
            per_chunk = {}

            def weight_product(chunk, rows, cols):
                per_chunk[chunk] = _sum_over_pixels(cols.T, dy_mat[rows])

            _each_window_matrix(self._padded_input, k, self.stride, self._out_hw, weight_product)
            g_mat = np.zeros((k * k * c, self.filters), dtype=self.grads["W"].dtype)
            sum_in_order((per_chunk[i] for i in sorted(per_chunk)), g_mat)
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

        def product(chunk, rows, cols):
            np.matmul(cols, turned, out=dx[rows])

        _each_window_matrix(padded, k, 1, (h, w), product)
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
            # A few images at a time, as the window matrices are (_each_window_matrix), so that
            # the k*k blocks are added back while still in cache, the chunks split between threads.
            dx = np.empty((n, hp, wp * c), dtype=dy.dtype)

            def add_back(images: slice) -> None:
                count = images.stop - images.start
                blocks = np.matmul(dy_mat[images.start * ho * wo : images.stop * ho * wo], w_offsets)
                part = dx[images]  # (k*k, count*Ho*Wo, C) blocks, added into these images
                part[...] = 0
                for i in range(k):
                    for j in range(k):
                        part[:, i : i + ho, j * c : (j + wo) * c] += blocks[i * k + j].reshape(count, ho, wo * c)

            each_block(_image_chunks(n, k * k * ho * wo * c * dy.itemsize), add_back)
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
