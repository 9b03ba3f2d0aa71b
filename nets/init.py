"""Weight initialisers: how the classic networks draw their first weights.

Every function takes the generator explicitly, so a seed fixes the network completely.
``fan_in`` is the number of inputs feeding one unit (inputs x kernel area for a convolution).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Initialiser = Callable[[np.random.Generator, tuple[int, ...], int, int, np.dtype], np.ndarray]


def standard_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 1): Nielsen's ``network.py`` (ch. 1). Saturates sigmoid units in wide layers."""
    return rng.standard_normal(shape).astype(dtype)


def normal_fan_in(rng, shape, fan_in, fan_out, dtype):
    """N(0, 1/fan_in): Rashid's book and Nielsen's improved init (ch. 3, ``network2.py``).

    Keeps the weighted input z of a unit at unit variance, so sigmoid units start unsaturated.
    """
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)


def normal_fan_out(rng, shape, fan_in, fan_out, dtype):
    """N(0, 1/fan_out): the code printed in Rashid's book, ``normal(0.0, pow(self.hnodes, -0.5))``
    for the input-to-hidden weights and ``pow(self.onodes, -0.5)`` for hidden-to-output (his later
    notebooks use the nodes feeding in, ``normal_fan_in``). With 784 inputs, 100 hidden and 10
    outputs its weights start about 3 times larger."""
    return (rng.standard_normal(shape) / np.sqrt(fan_out)).astype(dtype)


def glorot_uniform(rng, shape, fan_in, fan_out, dtype):
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010), for tanh/sigmoid."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_normal(rng, shape, fan_in, fan_out, dtype):
    """N(0, 2 / fan_in) (He et al. 2015): the ReLU halves the variance, so double it back."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def zeros(rng, shape, fan_in, fan_out, dtype):
    """All zeros: the usual bias start."""
    return np.zeros(shape, dtype=dtype)


INITIALISERS: dict[str, Initialiser] = {
    "standard_normal": standard_normal,
    "normal_fan_in": normal_fan_in,
    "normal_fan_out": normal_fan_out,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_normal": he_normal,
    "zeros": zeros,
}


def get_initialiser(name: str) -> Initialiser:
    """Look an initialiser up by name, with an error that lists the valid names."""
    try:
        return INITIALISERS[name]
    except KeyError:
        raise ValueError(f"unknown initialiser {name!r}; choose one of {', '.join(sorted(INITIALISERS))}") from None
