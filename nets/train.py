"""The training loop: epochs of shuffled mini-batches, one record per epoch, early stopping and
divergence detection. It knows nothing of files; ``on_epoch_end`` is where callers write metrics
and checkpoints, and ``TrainState`` is everything needed to continue after an interruption.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from nnsweep.core.status import Status
from nnsweep.nets.allocator import reuse_freed_memory
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import SGD, Optimizer
from nnsweep.nets.population import Population
from nnsweep.nets.schedules import Schedule


@dataclass
class LabelledData:
    """Images and their integer labels: ``x: (n, *input_shape)``, ``labels: (n,)`` ints."""

    x: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class EpochRecord:
    """One row of ``metrics.csv``. ``epoch`` counts from 1; train metrics are running averages
    over the epoch's mini-batches (the weights move during the epoch, as in Keras)."""

    epoch: int
    lr: float
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float


@dataclass
class TrainState:
    """Progress of one training run; everything but ``best_params`` is plain JSON data."""

    epoch: int = 0  # epochs completed
    records: list[EpochRecord] = field(default_factory=list)
    best_val_acc: float | None = None
    best_epoch: int | None = None
    since_best: int = 0
    status: Status = Status.RUNNING
    diverged_epoch: int | None = None
    best_params: dict[str, np.ndarray] | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("best_params")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TrainState":
        d = dict(d)
        d["records"] = [EpochRecord(**r) for r in d.get("records", [])]
        d["status"] = Status(d.get("status", Status.RUNNING))
        return cls(**d)


def target_matrix(n_classes: int, on: float = 1.0, off: float = 0.0, dtype=np.float32) -> np.ndarray:
    """Row ``k`` is the target vector of class ``k``: one-hot, or Rashid's 0.01/0.99
    (sigmoid outputs can never reach 0 or 1, so asking for them drives weights to infinity)."""
    t = np.full((n_classes, n_classes), off, dtype=dtype)
    np.fill_diagonal(t, on)
    return t


def clip_gradient_norm(network: Network, max_norm: float) -> float:
    """Scale all gradients down together so their global L2 norm is at most ``max_norm``
    (Pascanu et al. 2013); returns the norm before clipping. Direction is kept, only the step
    is shortened, which tames the occasional huge gradient of a too-large learning rate."""
    grads = [g for _, _, g, _ in network.parameters()]
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if total > max_norm:
        scale = max_norm / total
        for g in grads:
            g *= scale
    return total


# Long on purpose: the training loop as the classics write it, read top to bottom (epoch, batches, evaluation,
# schedule, checkpoint, stop); its phases share the loop's state.
def fit(
    network: Network,
    optimizer: Optimizer,
    schedule: Schedule,
    train: LabelledData,
    val: LabelledData | None,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    targets: np.ndarray,
    patience: int | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    state: TrainState | None = None,
    keep_best: bool = True,
    on_epoch_end: Callable[[EpochRecord, TrainState], None] | None = None,
    on_batches: Callable[[int], None] | None = None,
    clip_norm: float | None = None,
    shuffle: bool = True,
) -> TrainState:
    """Train ``network`` for up to ``epochs`` epochs; returns the final ``TrainState``.

    Parameters
    ----------
    train, val : LabelledData
        ``val`` may be None (then early stopping and plateau schedules have nothing to watch).
    batch_size : int
        1 is per-sample SGD as in Rashid's book.
    rng : numpy.random.Generator
        Shuffles, drops out and augments. Its state after each epoch is what a checkpoint saves.
    targets : (classes, outputs) array
        Target vector per class (``target_matrix``).
    patience : int, optional
        Stop with status ``early_stopped`` after this many epochs without a better val accuracy.
    augment : callable, optional
        ``augment(x_batch_images, rng) -> x`` applied to each epoch's shuffled training images.
    state : TrainState, optional
        Continue from here (a resumed run); the network, optimizer, schedule and rng must have
        been restored to the same moment.
    on_epoch_end : callable, optional
        Called with the new record and the state after every epoch, including a diverged one.
    on_batches : callable, optional
        Progress hook, called with a batch count about a hundred times an epoch.
    clip_norm : float, optional
        Clip the global gradient norm of every mini-batch to this (off by default, so the
        classic experiments stay exact).
    shuffle : bool, default True
        False trains every epoch in the file's order, as Rashid's code does.

    A loss that becomes NaN or infinite ends the run with status ``diverged`` and
    ``diverged_epoch`` set; the parameters of the best epoch stay in ``best_params``.
    """
    n = len(train)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"mini-batch size must be between 1 and the training-set size {n}, got {batch_size}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"gradient clipping norm must be positive, got {clip_norm}")
    state = state or TrainState()
    reuse_freed_memory()
    if not optimizer.bound:
        optimizer.bind(network.parameters())
    network.set_rng(rng)
    x_all = train.x.astype(network.dtype, copy=False)
    y_all = targets[train.labels]
    if val is not None and len(val):
        val_x = val.x.astype(network.dtype, copy=False)
        val_y = targets[val.labels]
    else:
        val = None
    report_every = max(1, math.ceil(n / batch_size) // 100)

    while state.epoch < epochs and state.status == Status.RUNNING:
        start_time = time.perf_counter()
        optimizer.lr = lr = schedule.lr(state.epoch)
        perm = rng.permutation(n) if shuffle else np.arange(n)
        xs, ys, ls = x_all[perm], y_all[perm], train.labels[perm]
        if augment is not None:
            xs = augment(xs, rng)
        predicted = np.empty(n, dtype=np.int64)
        cost = 0.0
        # Overflow on a diverging run is detected below, not printed; the optimizer's steps split
        # their work as the network's do (Network.split_work).
        with np.errstate(all="ignore"), network.split_work():
            for b, lo in enumerate(range(0, n, batch_size)):
                hi = lo + batch_size
                batch_cost, a = network.train_step(xs[lo:hi], ys[lo:hi])
                if clip_norm is not None:
                    clip_gradient_norm(network, clip_norm)
                optimizer.step()
                cost += batch_cost
                predicted[lo:hi] = a.argmax(axis=1)
                if on_batches is not None and b % report_every == 0:
                    on_batches(b)
        train_loss, train_acc = cost / n, float((predicted == ls).mean())
        diverged = not math.isfinite(train_loss) or not network.params_finite()
        if diverged or val is None:
            val_loss = val_acc = float("nan")
        else:
            val_loss, val_acc = network.evaluate(val_x, val.labels, val_y)
        state.epoch += 1
        record = EpochRecord(
            state.epoch, lr, train_loss, train_acc, val_loss, val_acc, time.perf_counter() - start_time
        )
        state.records.append(record)
        if diverged:
            state.status, state.diverged_epoch = Status.DIVERGED, state.epoch
        else:
            _track_best(network.get_params, state, val_acc, keep_best)
            stop_by_schedule = val is not None and schedule.observe(state.epoch - 1, val_acc)
            if stop_by_schedule or (patience is not None and val is not None and state.since_best >= patience):
                state.status = Status.EARLY_STOPPED
        if on_epoch_end is not None:
            on_epoch_end(record, state)
    if state.status == Status.RUNNING:
        state.status = Status.OK
    return state


def _track_best(params: Callable[[], dict], state: TrainState, val_acc: float, keep_best: bool) -> None:
    """Remember the best validation accuracy so far (first epoch wins ties), and its weights."""
    if math.isnan(val_acc):
        return
    if state.best_val_acc is None or val_acc > state.best_val_acc:
        state.best_val_acc, state.best_epoch, state.since_best = val_acc, state.epoch, 0
        if keep_best:
            state.best_params = params()
    else:
        state.since_best += 1


# Long on purpose: fit's loop for K members at once, step for step; its parts are fit's, per member.
def fit_population(
    population: Population,
    optimizers: list[SGD],
    schedules: list[Schedule],
    train: LabelledData,
    val: LabelledData | None,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    targets: np.ndarray,
    patience: int | None = None,
    keep_best: bool = True,
    on_epoch_end: Callable[[int, EpochRecord, TrainState], None] | None = None,
    shuffle: bool = True,
) -> list[TrainState]:
    """``fit`` for the K members of ``population`` at once (``nnsweep.nets.population``): member k
    trained with ``optimizers[k]``'s L2 and weight decay at ``schedules[k]``'s rates. Every member's
    records, best epoch, status and weights are those ``fit`` gives its network trained alone from
    the same start with the same ``rng`` (one generator serves all: each separate run would draw the
    same shuffles). A member that diverges or stops early leaves the stack; the others go on.
    ``on_epoch_end(k, record, state)`` after each member's epoch. Plain SGD only, no clipping or
    augmentation (``Population`` says what else it supports)."""
    n, size = len(train), population.size
    if len(optimizers) != size or len(schedules) != size or not all(type(o) is SGD for o in optimizers):
        raise ValueError("a population trains with one plain SGD optimizer and one schedule per member")
    states = [TrainState() for _ in range(size)]
    active = list(range(size))
    x_all, y_all = train.x.astype(population.dtype, copy=False), targets[train.labels]
    if val is not None and not len(val):
        val = None
    l2 = np.array([o.l2 for o in optimizers])
    decay = np.array([o.weight_decay for o in optimizers])
    n_train = optimizers[0].n_train
    epoch = 0
    while epoch < epochs and active:
        start_time = time.perf_counter()
        lrs = np.array([schedules[m].lr(epoch) for m in active])
        perm = rng.permutation(n) if shuffle else np.arange(n)
        xs, ys, ls = x_all[perm], y_all[perm], train.labels[perm]
        predicted = np.empty((len(active), n), dtype=np.int64)
        cost = np.zeros(len(active))
        with np.errstate(all="ignore"):
            for lo in range(0, n, batch_size):
                hi = lo + batch_size
                batch_cost, a = population.train_step(xs[lo:hi], ys[lo:hi])
                population.sgd_step(lrs, l2[active], decay[active], n_train)
                cost += batch_cost
                predicted[:, lo:hi] = a.argmax(axis=2)
            evaluated = population.evaluate(val.x, val.labels, targets[val.labels]) if val is not None else None
        epoch += 1
        seconds = (time.perf_counter() - start_time) / len(active)  # each member's share of the epoch
        for position, m in enumerate(active):
            state = states[m]
            train_loss, train_acc = float(cost[position] / n), float((predicted[position] == ls).mean())
            diverged = not math.isfinite(train_loss) or not population.member_finite(position)
            val_loss, val_acc = (math.nan, math.nan) if diverged or evaluated is None else evaluated[position]
            state.epoch = epoch
            record = EpochRecord(epoch, float(lrs[position]), train_loss, train_acc, val_loss, val_acc, seconds)
            state.records.append(record)
            if diverged:
                state.status, state.diverged_epoch = Status.DIVERGED, epoch
            else:
                _track_best(lambda p=position: population.member_params(p), state, val_acc, keep_best)
                stop = val is not None and schedules[m].observe(epoch - 1, val_acc)
                if stop or (patience is not None and val is not None and state.since_best >= patience):
                    state.status = Status.EARLY_STOPPED
            if on_epoch_end is not None:
                on_epoch_end(m, record, state)
        staying = [position for position, m in enumerate(active) if states[m].status == Status.RUNNING]
        if len(staying) < len(active):
            population.keep(staying)
            active = [active[position] for position in staying]
    for state in states:
        if state.status == Status.RUNNING:
            state.status = Status.OK
    return states
