"""Costs, each paired with the output non-linearity it is meant for.

A network ends in a linear layer producing ``z: (batch, classes)``; the cost applies its own
output activation (``activation``) and gives the gradient with respect to ``z`` directly. That
is how Nielsen presents it (ch. 3): with the right pairing sigma'(z) cancels, the gradient is
``a - y``, and learning does not slow down when an output unit saturates. Computing the
gradient at ``z`` also lets the softmax cost use log-sum-exp instead of ``log(softmax)``.

Interface (after Nielsen's ``network2.py`` cost classes):
    ``activation(z) -> a``, ``fn(z, a, y) -> summed cost over the batch``,
    ``delta(z, a, y) -> dC/dz per sample`` (not yet divided by the batch size).
"""

from __future__ import annotations

import numpy as np

from nnsweep.nets.activations import log_softmax, sigmoid, softmax


class QuadraticCost:
    """C = 1/2 ||a - y||^2 on sigmoid outputs (Rashid; Nielsen ch. 1 ``network.py``).

    ``delta`` keeps the sigma'(z) factor: that is exactly the learning slowdown Nielsen's
    chapter 3 sets out to cure, and the classic experiments must reproduce it.
    """

    name = "quadratic"
    activation = staticmethod(sigmoid)

    @staticmethod
    def fn(z, a, y):
        diff = a - y
        return 0.5 * float(np.vdot(diff, diff))

    @staticmethod
    def delta(z, a, y):
        return (a - y) * a * (1.0 - a)


class RashidQuadraticCost(QuadraticCost):
    """Rashid's quadratic cost as his code trains it (``part2_neural_network_mnist_data.ipynb``):
    the output layer's weights follow the true gradient, but the error the output layer passes
    down to the hidden layer is ``W^T (y - a)``, without the output sigmoid's derivative
    ``a (1 - a)`` that backpropagation would multiply in ("the output errors, split by weights,
    recombined at hidden nodes"). Since ``a (1 - a) <= 1/4``, each output's error reaches his
    hidden layer at least 4 times larger than the gradient passes it, which moves his best
    learning rate below the true gradient's. ``passed_down`` is that signal, ``Network.train_step``
    uses it below the output layer.
    """

    name = "rashid_quadratic"

    @staticmethod
    def passed_down(z, a, y):
        return a - y


class CrossEntropyCost:
    """C = -sum[y ln a + (1 - y) ln(1 - a)] on sigmoid outputs (Nielsen ch. 3).

    Written in terms of z as ``softplus(z) - y z`` (``logaddexp(0, z)``), which is the same
    quantity but never takes the log of 0: Nielsen's ``network2.py`` needs ``nan_to_num`` for
    that case, we never produce it. The gradient with respect to z is simply ``a - y``.
    """

    name = "cross_entropy"
    activation = staticmethod(sigmoid)

    @staticmethod
    def fn(z, a, y):
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    @staticmethod
    def delta(z, a, y):
        return a - y


class SoftmaxCrossEntropy:
    """C = -sum y ln softmax(z), fused with the softmax and stable through log-sum-exp.

    Targets may be one-hot or any distribution; the gradient is ``softmax(z) - y`` when the
    targets of each sample sum to 1.
    """

    name = "softmax_cross_entropy"
    activation = staticmethod(softmax)

    @staticmethod
    def fn(z, a, y):
        return float(-np.sum(y * log_softmax(z)))

    @staticmethod
    def delta(z, a, y):
        return a - y


LOSSES = {cls.name: cls for cls in (QuadraticCost, RashidQuadraticCost, CrossEntropyCost, SoftmaxCrossEntropy)}


def get_loss(name: str):
    """Look a cost up by name, with an error that lists the valid names."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(sorted(LOSSES))}") from None
