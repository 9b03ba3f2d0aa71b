"""The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
arXiv:1506.01186, section 3.3; fastai's ``lr_find``): one short run whose rate grows
exponentially from ``start`` to ``end``, one step per mini-batch, recording the loss at each.

The loss falls once the rate is large enough to learn, then rises and explodes once it is too
large. The run stops once the loss, smoothed as it comes (an exponential moving average with
bias correction, ``SMOOTHING``, as fastai does), exceeds ``STOP_FACTOR`` times its lowest value,
or is no longer finite. The curve is then read smoothed by a centred moving average over
``1/WINDOW_SHARE`` of the steps instead: the running average lags the rate by about
``1 / (1 - SMOOTHING)`` steps (a whole decade of rates in a 300-step test), which would move
every suggestion to larger rates.

The suggestion is fastai's "minimum / 10" rule: a tenth of the rate at which the smoothed loss
is lowest. The lowest point is already too large to train with (the loss is about to rise); a
tenth is where it still falls steadily. The steepest descent (the rate where the smoothed loss
falls fastest per factor of rate) is reported beside it; both are rules of thumb, which is why
the report draws the suggestion on the learning-rate sweep it can be checked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnsweep.nets.evaluation import chance_bar
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import Optimizer

SMOOTHING = 0.98
STOP_FACTOR = 4.0
WINDOW_SHARE = 1 / 20  # of the steps: the centred moving average that reads the curve
RULE = "a tenth of the rate at which the smoothed loss is lowest (fastai's minimum/10)"


@dataclass(frozen=True)
class RangeTest:
    lrs: np.ndarray  # the rate of each step taken
    losses: np.ndarray  # the mean loss of that step's mini-batch
    smoothed: np.ndarray  # centred moving average of ``losses`` (NaN where not finite)
    stopped_early: bool  # the loss exploded before ``end``
    accuracy: np.ndarray | None = None  # centred moving average of each mini-batch's training accuracy
    classes: int = 10
    examples_averaged: int = 1  # mini-batches in the moving average x their size: what one point of it saw

    @property
    def fell_by(self) -> float:
        """How far the smoothed loss fell from where it started (its first 5% of steps) to its lowest,
        as a share of the start (a network can fall a long way just to predicting every class
        alike, so this alone does not say it learned: ``learned``)."""
        start = float(np.nanmean(self.smoothed[: max(1, len(self.smoothed) // 20)]))
        return 1 - float(np.nanmin(self.smoothed)) / start if start > 0 else 0.0

    @property
    def best_accuracy(self) -> float:
        return (
            float(np.nanmax(self.accuracy)) if self.accuracy is not None and np.isfinite(self.accuracy).any() else 0.0
        )

    @property
    def learned(self) -> bool:
        """The mini-batches' smoothed accuracy rose above guessing (``chance_bar``: chance plus 5
        binomial standard deviations over the examples one point of the average saw): the network
        learned something in the test. Otherwise its lowest loss is where it learned to guess
        evenly, or noise, and the suggestion means nothing (more steps are needed)."""
        return self.best_accuracy > chance_bar(self.classes, self.examples_averaged)

    @property
    def still_falling(self) -> bool:
        """The lowest loss is in the last steps and the loss never exploded: ``end`` was too small
        to find where the rate gets too large, so the suggestion is only a lower bound."""
        n = len(self.smoothed)
        return not self.stopped_early and int(np.nanargmin(self.smoothed)) >= n - max(1, n // 20)

    @property
    def lowest_lr(self) -> float:
        return float(self.lrs[int(np.nanargmin(self.smoothed))])

    @property
    def suggested_lr(self) -> float:
        return self.lowest_lr / 10

    @property
    def steepest_lr(self) -> float:
        """The rate where the smoothed loss falls fastest per factor of rate, before its lowest point."""
        end = int(np.nanargmin(self.smoothed)) + 1
        if end < 3:
            return float(self.lrs[0])
        slope = np.gradient(self.smoothed[:end], np.log(self.lrs[:end]))
        return float(self.lrs[int(np.nanargmin(slope[:-1]))])  # not the lowest point itself (a one-sided slope)


def centred_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each value's ``window`` neighbours (fewer at the ends), NaN where not finite."""
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)
    kernel = np.ones(window)
    total = np.convolve(clean, kernel, mode="same")
    count = np.convolve(finite.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        average = total / count
    average[~finite] = np.nan
    return average


def rates(start: float, end: float, steps: int) -> np.ndarray:
    if not (0 < start < end < math.inf) or steps < 10:
        raise ValueError(f"need 0 < start < end and at least 10 steps, got start={start}, end={end}, steps={steps}")
    return np.geomspace(start, end, steps)


def range_test(
    network: Network,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    rng: np.random.Generator,
    start: float,
    end: float,
    steps: int,
) -> RangeTest:
    """Train ``network`` for ``steps`` mini-batches of ``(x, y)`` (targets, one row per example),
    drawn in a shuffled order that starts again when it runs out, at rates from ``start`` to
    ``end``; the network and optimizer are changed (a copy is the caller's business)."""
    schedule = rates(start, end, steps)
    if not optimizer.bound:
        optimizer.bind(network.parameters())
    network.set_rng(rng)
    x = x.astype(network.dtype, copy=False)
    order = np.empty(0, dtype=np.int64)
    losses, right, average, lowest = [], [], 0.0, math.inf
    labels = y.argmax(axis=1)
    stopped = False
    with np.errstate(all="ignore"), network.split_work():  # as fit's steps (Network.split_work)
        for step, lr in enumerate(schedule):
            if len(order) < batch_size:
                order = np.concatenate([order, rng.permutation(len(x))])
            batch, order = order[:batch_size], order[batch_size:]
            optimizer.lr = float(lr)
            cost, a = network.train_step(x[batch], y[batch])
            optimizer.step()
            loss = float(cost) / len(batch)
            right.append(float((a.argmax(axis=1) == labels[batch]).mean()))
            average = SMOOTHING * average + (1 - SMOOTHING) * loss
            value = average / (1 - SMOOTHING ** (step + 1))
            losses.append(loss)
            if not math.isfinite(value) or not network.params_finite() or value > STOP_FACTOR * lowest:
                stopped = True
                break
            lowest = min(lowest, value)
    raw = np.array(losses, dtype=float)
    window = max(3, int(steps * WINDOW_SHARE)) | 1  # odd: centred
    accuracy = centred_average(np.array(right, dtype=float), window)
    smoothed = centred_average(raw, window)
    return RangeTest(schedule[: len(raw)], raw, smoothed, stopped, accuracy, y.shape[1], window * batch_size)
