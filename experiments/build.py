"""Turn a composed config into the plain objects ``nets`` works with, checking values first.

Everything here fails with ``ConfigError``: one line that names the setting, the bad value and
what to do, raised before any training starts.
"""
from __future__ import annotations

from nets.errors import NnsweepError
import math
from typing import Any

import numpy as np

from nets.architectures import lenet5, mlp
from nets.data.augment import Augmenter
from nets.data.datasets import DataSplits, load_dataset
from nets.data.download import DownloadError
from nets.data.readers import DataFormatError
from nets.layers import ShapeError
from nets.network import Network
from nets.optimizers import OPTIMIZERS, Optimizer, make_optimizer
from nets.schedules import SCHEDULES, Schedule, make_schedule
from nets.train import target_matrix

OBJECTIVES = {"best_val_acc": "max", "final_val_acc": "max", "best_val_loss": "min"}
TARGETS = {"onehot": (1.0, 0.0), "rashid": (0.99, 0.01)}


class ConfigError(NnsweepError, ValueError):
    """A config value that cannot work; the message is one line for the user."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def check_trainer(cfg: Any) -> None:
    t = cfg.trainer
    _check(t.epochs >= 1, f"trainer.epochs must be at least 1, got {t.epochs}")
    _check(t.batch_size >= 1, f"trainer.batch_size must be at least 1, got {t.batch_size}")
    _check(t.patience is None or t.patience >= 1, f"trainer.patience must be >= 1 or null, got {t.patience}")
    _check(t.dtype in ("float32", "float64"), f"trainer.dtype must be float32 or float64, got {t.dtype!r}")
    _check(t.clip_grad_norm is None or t.clip_grad_norm > 0,
           f"trainer.clip_grad_norm must be positive or null, got {t.clip_grad_norm}")
    _check(cfg.objective in OBJECTIVES, f"objective must be one of {', '.join(OBJECTIVES)}, got {cfg.objective!r}")
    lr = cfg.optimizer.lr
    _check(math.isfinite(lr) and lr > 0, f"optimizer.lr must be a positive number, got {lr}")
    _check(cfg.optimizer.name in OPTIMIZERS,
           f"optimizer.name {cfg.optimizer.name!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
    _check(cfg.schedule.name in SCHEDULES,
           f"schedule.name {cfg.schedule.name!r} is unknown; choose one of {', '.join(SCHEDULES)}")
    _check(cfg.data.targets in TARGETS, f"data.targets must be one of {', '.join(TARGETS)}, got {cfg.data.targets!r}")


def load_data(cfg: Any) -> DataSplits:
    d = cfg.data
    try:
        splits = load_dataset(
            d.name, root=d.root, scaling=d.scaling, split_seed=d.split_seed, val_size=d.val_size,
            test_size=d.test_size, test_dir=d.test_dir, train_limit=d.train_limit, download=d.download,
            mirrors=list(d.mirrors) if d.mirrors else None, train_csv=d.train_csv, test_csv=d.test_csv,
            label_column=d.label_column,
        )
    except (DataFormatError, DownloadError) as err:
        raise ConfigError(str(err)) from None
    except ValueError as err:
        raise ConfigError(f"data: {err}") from None
    n = len(splits.train)
    _check(cfg.trainer.batch_size <= n,
           f"trainer.batch_size={cfg.trainer.batch_size} is larger than the training set ({n} images); lower it")
    return splits


def describe_network(net_cfg: Any) -> dict[str, Any]:
    """The architecture description for a ``net`` config node."""
    try:
        if net_cfg.arch == "mlp":
            return mlp(list(net_cfg.hidden), net_cfg.activation, loss=net_cfg.loss, init=net_cfg.init,
                       bias=net_cfg.bias, bias_init=net_cfg.bias_init, dropout=net_cfg.dropout)
        if net_cfg.arch == "lenet5":
            _check(net_cfg.loss == "softmax_cross_entropy", "net=lenet5 is built with loss softmax_cross_entropy")
            return lenet5(net_cfg.activation, net_cfg.pool, net_cfg.connections, list(net_cfg.dense))
    except ShapeError as err:
        raise ConfigError(f"net: {err}") from None
    except ValueError as err:
        raise ConfigError(f"net: {err}") from None
    raise ConfigError(f"net.arch must be 'mlp' or 'lenet5', got {net_cfg.arch!r}")


def build_network(cfg: Any, data: DataSplits, rng: np.random.Generator) -> Network:
    description = describe_network(cfg.net)
    try:
        net = Network(description, rng, dtype=np.dtype(cfg.trainer.dtype))
    except (ShapeError, ValueError) as err:
        raise ConfigError(f"net: {err}") from None
    features = data.train.x.shape[1]
    _check(int(np.prod(net.input_shape)) == features,
           f"the network takes {int(np.prod(net.input_shape))} inputs but data {data.name} has {features} pixels per image")
    _check(net.output_size >= data.classes,
           f"the network has {net.output_size} outputs but data {data.name} has {data.classes} classes")
    return net


def build_optimizer(cfg: Any, n_train: int) -> Optimizer:
    o = cfg.optimizer
    extra = {
        "momentum": {"momentum": o.momentum}, "nesterov": {"momentum": o.momentum},
        "rmsprop": {"rho": o.rho, "eps": o.eps}, "adam": {"beta1": o.beta1, "beta2": o.beta2, "eps": o.eps},
    }.get(o.name, {})
    try:
        return make_optimizer(o.name, lr=o.lr, l2=o.l2, n_train=n_train, weight_decay=o.weight_decay, **extra)
    except ValueError as err:
        raise ConfigError(f"optimizer: {err}") from None


def build_schedule(cfg: Any) -> Schedule:
    s, lr = cfg.schedule, cfg.optimizer.lr
    extra = {
        "step": {"step_size": s.step_size, "gamma": s.gamma},
        "exponential": {"gamma": s.gamma},
        "cosine": {"total_epochs": s.total_epochs or cfg.trainer.epochs, "min_lr": s.min_lr},
        "plateau": {"patience": s.patience, "factor": s.factor, "min_fraction": s.min_fraction},
    }.get(s.name, {})
    try:
        return make_schedule(s.name, lr, **extra)
    except ValueError as err:
        raise ConfigError(f"schedule: {err}") from None


def build_augmenter(cfg: Any) -> Augmenter | None:
    t = cfg.trainer
    if not t.augment:
        return None
    try:
        return Augmenter(rotation=t.rotation, zoom=t.zoom, shift=t.shift)
    except ValueError as err:
        raise ConfigError(f"trainer: {err}") from None


def build_targets(cfg: Any, classes: int, dtype) -> np.ndarray:
    on, off = TARGETS[cfg.data.targets]
    return target_matrix(classes, on=on, off=off, dtype=dtype)
