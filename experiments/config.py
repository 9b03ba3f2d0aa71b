"""Structured configs: the schema every ``conf/`` file is checked against at compose time.

Registered in Hydra's ConfigStore as ``nnsweep_schema`` by ``register_configs()``, which every
caller that composes a config calls first; ``conf/config.yaml`` lists it first in
its defaults, so a misspelt key or a value of the wrong type in any group file or override fails
with Hydra's own message before anything runs. Value checks that types cannot express (a
positive learning rate, a mini-batch that fits the data) are in ``experiments.build``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class NetConfig:
    """A network: ``arch`` "mlp" (hidden, activation, ...) or "lenet5" (pool, connections, dense)."""

    arch: str = "mlp"
    hidden: List[int] = field(default_factory=lambda: [100])
    activation: str = "sigmoid"
    loss: str = "softmax_cross_entropy"
    init: Optional[str] = None  # None: the usual one for the activation (nets.architectures.DEFAULT_INIT)
    bias: bool = True
    bias_init: str = "zeros"
    dropout: float = 0.0
    pool: str = "mean"
    connections: str = "full"
    dense: List[int] = field(default_factory=lambda: [120, 84])


@dataclass
class OptimizerConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    rho: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0  # Nielsen's lambda (divided by the training-set size)
    weight_decay: float = 0.0  # decoupled (AdamW-style)


@dataclass
class ScheduleConfig:
    name: str = "constant"
    step_size: int = 10
    gamma: float = 0.5
    total_epochs: Optional[int] = None  # cosine: None means trainer.epochs
    min_lr: float = 0.0
    patience: int = 10
    factor: float = 0.5
    min_fraction: float = 0.0078125  # 1/128, Nielsen's stopping point


@dataclass
class DataConfig:
    name: str = "mnist5k"
    root: Optional[str] = None
    scaling: str = "unit"  # unit: [0, 1]; rashid: [0.01, 1.0]
    targets: str = "onehot"  # onehot: 0/1; rashid: 0.01/0.99
    split_seed: int = 0
    val_size: Optional[int] = None
    test_size: int = 1000
    test_dir: Optional[str] = None
    train_limit: Optional[int] = None
    download: bool = False
    mirrors: Optional[List[str]] = None
    train_csv: Optional[str] = None
    test_csv: Optional[str] = None
    label_column: str = "first"


@dataclass
class TrainerConfig:
    epochs: int = 10
    batch_size: int = 10
    seed: int = 0
    patience: Optional[int] = None  # early stopping on validation accuracy
    augment: bool = False
    rotation: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    dtype: str = "float32"
    clip_grad_norm: Optional[float] = None  # clip each mini-batch's gradient norm (off: classic runs stay exact)
    restore_best: bool = True  # test and save the best-validation weights as the model
    progress: bool = True  # progress bars (only ever shown on a terminal)


@dataclass
class Config:
    net: NetConfig = field(default_factory=NetConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    resume: bool = False
    objective: str = "best_val_acc"  # what the run returns to a sweeper
    sweep: str = "default"  # name of the multirun directory, multirun/<sweep>


def register_configs() -> None:
    """Put the schema into Hydra's ConfigStore; call it before composing any config.

    Idempotent: storing a name again replaces the same node. Explicit rather than an import side
    effect, so composing never depends on which module happened to be imported first.
    """
    ConfigStore.instance().store(name="nnsweep_schema", node=Config)
