"""Asking a trained network what it thinks each class (a digit, a garment) looks like.

- ``back_query`` (Rashid, "Make Your Own Neural Network", part 3): run a sigmoid network
  backwards. Set the outputs to the target (0.99 for the digit, 0.01 elsewhere), undo the
  sigmoid with its inverse (the logit), spread the signal back through the *transposed* weights
  (not an inverse matrix: there is none), rescale into 0.01..0.99 so the logit is defined at the
  next layer down, and repeat down to the 784 inputs.
- ``maximise_classes``: for networks whose activations cannot be inverted (ReLU, softmax,
  convolutions) find, for every class at once, an input that the network takes for that class
  (activation maximisation, Simonyan et al. 2013), regularised so the answer is a picture rather
  than noise. Plain gradient ascent on the pixels finds saturated noise: a network trained only
  on digits answers anything for an image unlike every digit (Nguyen et al. 2015, "Deep neural
  networks are easily fooled"). So the search starts from the mean training image and an L2
  penalty keeps it near there, where the network's answers mean something; a total-variation
  penalty (Mahendran & Vedaldi 2015) and a slight Gaussian blur after each step remove the
  pixel-level noise no pen stroke has; and a random shift of a pixel or two before each step
  (jitter, Mordvintsev et al. 2015, "Inceptionism") keeps only what excites the class wherever
  it lies, not one pixel's accident (Yosinski et al. 2015, "Understanding neural networks
  through deep visualization", combines the same regularisers).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from scipy.ndimage import gaussian_filter, laplace
from scipy.special import logit

from nnsweep.nets.layers import Dense
from nnsweep.nets.network import Network

LOW, HIGH = 0.01, 0.99


def can_back_query(network: Network) -> bool:
    """True for stacks of dense layers with sigmoid hidden units and sigmoid outputs."""
    kinds = [layer.kind for layer in network.layers]
    hidden_ok = all(k in ("dense", "sigmoid") for k in kinds)
    return hidden_ok and kinds[-1] == "dense" and network.loss.activation.__name__ == "sigmoid"


def _rescale(signal: np.ndarray) -> np.ndarray:
    """Into LOW..HIGH, as Rashid does (subtract the minimum, divide by the maximum). A constant
    vector has no shape to keep, so it becomes the middle of the range rather than 0/0."""
    signal = signal - signal.min()
    top = signal.max()
    if top <= 0:
        return np.full_like(signal, (LOW + HIGH) / 2)
    return signal / top * (HIGH - LOW) + LOW


def back_query(network: Network, digit: int) -> np.ndarray:
    """Rashid's back query: ``(784,)`` image in 0.01..0.99 for ``digit``.

    Biases, where the network has them, are subtracted before going down through the weights
    (Rashid's network has none, so this reduces to his formula).
    """
    if not can_back_query(network):
        raise ValueError("the back query needs a sigmoid network of dense layers; use maximise_classes instead")
    target = np.full(network.output_size, LOW)
    target[digit] = HIGH
    signal = target
    for layer in reversed([lay for lay in network.layers if isinstance(lay, Dense)]):
        z = logit(signal)
        if layer.bias:
            z = z - layer.params["b"]
        signal = _rescale(
            layer.params["W"].astype(np.float64) @ z
        )  # W is (n_in, n_out): W @ z is W^T-in-Rashid's-notation
    return signal


@contextmanager
def gradients_to_the_input(network: Network) -> Iterator[None]:
    """Let every layer pass its gradient down to the input (training skips it below the first
    layer with parameters), and restore the flags afterwards."""
    saved = [layer.needs_input_grad for layer in network.layers]
    try:
        for layer in network.layers:
            layer.needs_input_grad = True
        yield
    finally:
        for layer, flag in zip(network.layers, saved):
            layer.needs_input_grad = flag


def _backward_to_input(network: Network, d_out: np.ndarray) -> np.ndarray:
    d = d_out
    for layer in reversed(network.layers):
        d = layer.backward(d)
    return d


def neutral_start(n_inputs: int) -> np.ndarray:
    """``(n_inputs,)`` start for runs that did not record their mean training image: a faint
    blurred blob in the middle of the square image, the shape every average of centred digits
    or garments has, so the search starts from "some object here" rather than from nothing."""
    side = _side(n_inputs)
    centre = (side - 1) / 2
    rows, cols = np.mgrid[:side, :side]
    blob = 0.35 * np.exp(-((rows - centre) ** 2 + (cols - centre) ** 2) / (2 * (side / 5.6) ** 2))
    return blob.reshape(-1)


def _side(n_inputs: int) -> int:
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise ValueError(f"portraits need square images; a network with {n_inputs} inputs has none")
    return side


def maximise_classes(
    network: Network,
    start: np.ndarray | None = None,
    classes: int | None = None,
    steps: int = 200,
    step_size: float = 0.02,
    anchor: float = 1.0,
    tv: float = 0.3,
    blur: float = 0.5,
    jitter: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Regularised activation maximisation of every class at once: ``(classes, n_inputs)``
    images in [0, 1], row k the one the network takes most for class k.

    Parameters
    ----------
    network : Network
        Any network of square images (MLPs, LeNet-5); its flags are left as they were.
    start : (n_inputs,) array, optional
        The mean training image (``runrecord.RunDir.read_mean_input``); ``neutral_start`` if None.
    classes : int, optional
        How many classes (default: every output).
    steps, step_size : int, float
        Steps of gradient ascent, each moving the image by ``step_size`` (root mean square per
        pixel) along the normalised gradient of the class score, so the same settings suit a
        sigmoid MLP and LeNet-5 whatever the scale of their outputs.
    anchor : float
        Weight of the L2 penalty ``||x - start||^2``: how far from the average image a portrait
        may go.
    tv : float
        Weight of the squared total variation (sum of squared differences of neighbouring pixels).
    blur : float
        Standard deviation in pixels of the Gaussian blur after each step (0: none).
    jitter : int
        Largest random shift in pixels, each step (0: none).
    seed : int
        Seeds the shifts, so a portrait is the same every time it is drawn.

    The class score is the log-softmax of the raw outputs, ``z_k - log sum_j exp(z_j)``: it rises
    only when class k gains on the others, and its gradient fades once the network is sure,
    where a raw output would go on brightening every pixel that feeds it.
    """
    classes = classes or network.output_size
    n_inputs = int(np.prod(network.input_shape))
    side = _side(n_inputs)
    start = neutral_start(n_inputs) if start is None else np.asarray(start, dtype=np.float64).reshape(-1)
    if start.shape != (n_inputs,):
        raise ValueError(f"the start image has {start.size} values; the network takes {n_inputs}")
    anchor_image = start.reshape(1, side, side)
    x = np.repeat(anchor_image, classes, axis=0)  # (classes, side, side), float64 between steps
    chosen = np.eye(classes, network.output_size)
    rng = np.random.default_rng(seed)
    with gradients_to_the_input(network):
        for _ in range(steps):
            x = _ascent_step(
                network, x, anchor_image, chosen, rng.integers(-jitter, jitter + 1, size=2), step_size, anchor, tv, blur
            )
    return x.reshape(classes, n_inputs)


def _ascent_step(
    network: Network,
    x: np.ndarray,
    anchor_image: np.ndarray,
    chosen: np.ndarray,
    shift: np.ndarray,
    step_size: float,
    anchor: float,
    tv: float,
    blur: float,
) -> np.ndarray:
    """One step of ``maximise_classes`` on ``x: (classes, side, side)``, seen shifted by ``shift``."""
    classes, side = x.shape[0], x.shape[1]
    dy, dx = int(shift[0]), int(shift[1])
    shifted = np.roll(x, (dy, dx), axis=(1, 2)).reshape((classes,) + network.input_shape).astype(network.dtype)
    z = network.forward(shifted, training=False).astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = _backward_to_input(network, (chosen - p).astype(network.dtype)).astype(np.float64)  # d log_softmax(z)_k
    grad = np.roll(grad.reshape(classes, side, side), (-dy, -dx), axis=(1, 2))
    grad /= np.sqrt(np.mean(grad * grad, axis=(1, 2), keepdims=True)) + 1e-12
    # d(-tv * sum of squared neighbour differences)/dx = 2 tv * laplacian(x), edges not wrapped
    grad += 2.0 * tv * laplace(x, mode="nearest", axes=(1, 2)) - 2.0 * anchor * (x - anchor_image)
    x = x + step_size * grad
    if blur:
        x = gaussian_filter(x, sigma=blur, axes=(1, 2))
    return np.clip(x, 0.0, 1.0)


def class_portraits(
    network: Network, start: np.ndarray | None = None, classes: int | None = None
) -> tuple[np.ndarray, str]:
    """One image per class ``(classes, n_inputs)``: Rashid's back query where the network allows
    it (it needs no start), else regularised activation maximisation from ``start`` (the mean
    training image, or a neutral blob if None); and the name of the method used."""
    classes = classes or network.output_size
    if can_back_query(network):
        return np.stack([back_query(network, k) for k in range(classes)]), "back query"
    return maximise_classes(network, start, classes), "activation maximisation"
