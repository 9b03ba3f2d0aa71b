"""Asking a trained network what it thinks a digit looks like.

- ``back_query`` (Rashid, "Make Your Own Neural Network", part 3): run a sigmoid network
  backwards. Set the outputs to the target (0.99 for the digit, 0.01 elsewhere), undo the
  sigmoid with its inverse (the logit), spread the signal back through the *transposed* weights
  (not an inverse matrix: there is none), rescale into 0.01..0.99 so the logit is defined at the
  next layer down, and repeat down to the 784 inputs.
- ``maximise_class`` (Simonyan et al. 2013): for networks whose activations cannot be inverted
  (ReLU, softmax, convolutions) find the input that most excites one class's output by gradient
  ascent on the image, with an L2 penalty keeping it plausible, from mid-grey, clipped to [0, 1].
"""
from __future__ import annotations

import numpy as np
from scipy.special import logit

from nets.layers import Dense
from nets.network import Network

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
        raise ValueError("the back query needs a sigmoid network of dense layers; use maximise_class instead")
    target = np.full(network.output_size, LOW)
    target[digit] = HIGH
    signal = target
    for layer in reversed([lay for lay in network.layers if isinstance(lay, Dense)]):
        z = logit(signal)
        if layer.bias:
            z = z - layer.params["b"]
        signal = _rescale(layer.params["W"].astype(np.float64) @ z)  # W is (n_in, n_out): W @ z is W^T-in-Rashid's-notation
    return signal


def input_gradient(network: Network, x: np.ndarray, d_out: np.ndarray) -> np.ndarray:
    """d(sum(d_out * z))/dx for raw outputs ``z``: the gradient with respect to the input batch."""
    saved = [layer.needs_input_grad for layer in network.layers]
    try:
        for layer in network.layers:
            layer.needs_input_grad = True
        network.forward(x, training=False)
        d = d_out
        for layer in reversed(network.layers):
            d = layer.backward(d)
        return d
    finally:
        for layer, flag in zip(network.layers, saved):
            layer.needs_input_grad = flag


def maximise_class(network: Network, digit: int, steps: int = 200, step_size: float = 0.1,
                   l2: float = 0.01, start: float = 0.5) -> np.ndarray:
    """Activation maximisation: ``(784,)`` image in [0, 1] that maximises class ``digit``'s raw
    output minus ``l2 * ||x||^2``, by normalised gradient ascent from a mid-grey image."""
    x = np.full((1,) + network.input_shape, start, dtype=network.dtype)
    d_out = np.zeros((1, network.output_size), dtype=network.dtype)
    d_out[0, digit] = 1.0
    for _ in range(steps):
        grad = input_gradient(network, x, d_out) - 2.0 * l2 * x
        norm = float(np.sqrt(np.mean(grad * grad)))
        if norm == 0.0 or not np.isfinite(norm):
            break
        x = np.clip(x + step_size * grad / norm, 0.0, 1.0).astype(network.dtype)
    return x.reshape(-1)


def digit_portraits(network: Network, classes: int | None = None) -> tuple[np.ndarray, str]:
    """One image per class ``(classes, 784)``, by back query where the network allows it, else by
    activation maximisation; and the name of the method used."""
    classes = classes or network.output_size
    if can_back_query(network):
        return np.stack([back_query(network, k) for k in range(classes)]), "back query"
    return np.stack([maximise_class(network, k) for k in range(classes)]), "activation maximisation"
