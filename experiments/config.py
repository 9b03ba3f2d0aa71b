"""Structured configs: the schema every ``conf/`` file is checked against at compose time.

One dataclass per option of a config group (``SGDConfig``, ``AdamConfig``, ``StepConfig``,
``MLPConfig`` ...), holding only that option's keys. ``register_configs()`` stores each as
``<group>/schema/<option>`` in Hydra's ConfigStore, and ``conf/<group>/<option>.yaml`` (and every
named preset, such as ``conf/net/rashid.yaml``) extends its schema through its defaults list::

    defaults:
      - schema/sgd@_here_
      - _self_

So ``optimizer=sgd optimizer.momentum=0.5`` fails at compose time with Hydra's own "Key
'momentum' not in 'SGDConfig'", the way scikit-learn's ``set_params`` refuses a parameter the
estimator does not have. A closed set of choices is an ``Enum`` (``Activation``, ``Objective``
...), so Hydra rejects any other value at compose time too. The top ``Config`` and
``conf/config.yaml`` are registered as ``nnsweep_schema``; every caller that composes a config
calls ``register_configs()`` first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterable, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from nets.architectures import ACTIVATIONS, POOLS
from nets.conv import CONNECTIONS
from nets.data.datasets import SCALINGS
from nets.init import INITIALISERS
from nets.losses import LOSSES
from runrecord import BOOKKEEPING_KEYS

# What a run can return to a sweeper, and which way is better.
OBJECTIVES = {"best_val_acc": "max", "final_val_acc": "max", "best_val_loss": "min"}
# data.targets: the (on, off) values of the target vector; Rashid keeps sigmoid outputs
# away from 0 and 1, where they can never arrive.
TARGETS = {"onehot": (1.0, 0.0), "rashid": (0.99, 0.01)}


def choices(name: str, values: Iterable[str]) -> type[StrEnum]:
    """An Enum of a closed set of names, so Hydra rejects any other value at compose time.

    A ``StrEnum``: each member equals its name as a string, so the code that reads the config
    compares and formats it like the plain string it was before.
    """
    return StrEnum(name, [(v, v) for v in values], module=__name__)


Activation = choices("Activation", ACTIVATIONS)
Loss = choices("Loss", LOSSES)
LeNet5Loss = choices("LeNet5Loss", ["softmax_cross_entropy"])  # the only loss lenet5() builds
Init = choices("Init", INITIALISERS)
Pool = choices("Pool", POOLS)
Connections = choices("Connections", CONNECTIONS)
DType = choices("DType", ["float32", "float64"])
DataName = choices("DataName", ["mnist5k", "mnist", "fashion", "idx", "csv"])
Scaling = choices("Scaling", SCALINGS)
Targets = choices("Targets", TARGETS)
LabelColumn = choices("LabelColumn", ["first", "last"])
Objective = choices("Objective", OBJECTIVES)


# --- net: which architecture builder, with its arguments (nets.architectures) ---------------

@dataclass
class NetConfig:
    """What every ``net`` option has: ``arch``, the builder in ``nets.architectures``."""

    arch: str = MISSING


@dataclass
class MLPConfig(NetConfig):
    """``nets.architectures.mlp``: a fully connected network of any hidden sizes."""

    arch: str = "mlp"
    hidden: List[int] = field(default_factory=lambda: [100])
    activation: Activation = Activation.sigmoid
    loss: Loss = Loss.softmax_cross_entropy
    init: Optional[Init] = None  # None: the usual one for the activation (nets.architectures.DEFAULT_INIT)
    bias: bool = True
    bias_init: Init = Init.zeros
    dropout: float = 0.0


@dataclass
class LeNet5Config(NetConfig):
    """``nets.architectures.lenet5``: LeNet-5 on 28x28 digits."""

    arch: str = "lenet5"
    activation: Activation = Activation.sigmoid
    pool: Pool = Pool.mean
    connections: Connections = Connections.full
    dense: List[int] = field(default_factory=lambda: [120, 84])
    loss: LeNet5Loss = LeNet5Loss.softmax_cross_entropy


# --- optimizer: nets.optimizers, one class per name --------------------------------------

@dataclass
class OptimizerConfig:
    """What every optimizer takes (``nets.optimizers.Optimizer``)."""

    name: str = MISSING
    lr: float = 0.1
    l2: float = 0.0  # Nielsen's lambda (divided by the training-set size)
    weight_decay: float = 0.0  # decoupled (AdamW-style)


@dataclass
class SGDConfig(OptimizerConfig):
    name: str = "sgd"


@dataclass
class MomentumConfig(OptimizerConfig):
    name: str = "momentum"
    momentum: float = 0.9


@dataclass
class NesterovConfig(MomentumConfig):
    name: str = "nesterov"


@dataclass
class RMSpropConfig(OptimizerConfig):
    name: str = "rmsprop"
    lr: float = 0.001
    rho: float = 0.9
    eps: float = 1e-8


@dataclass
class AdamConfig(OptimizerConfig):
    name: str = "adam"
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


# --- schedule: nets.schedules, one class per name ----------------------------------------

@dataclass
class ScheduleConfig:
    """What every schedule has: its ``name`` in ``nets.schedules``."""

    name: str = MISSING


@dataclass
class ConstantConfig(ScheduleConfig):
    name: str = "constant"


@dataclass
class StepConfig(ScheduleConfig):
    name: str = "step"
    step_size: int = 10
    gamma: float = 0.5


@dataclass
class ExponentialConfig(ScheduleConfig):
    name: str = "exponential"
    gamma: float = 0.95


@dataclass
class CosineConfig(ScheduleConfig):
    name: str = "cosine"
    total_epochs: Optional[int] = None  # None means trainer.epochs
    min_lr: float = 0.0


@dataclass
class PlateauConfig(ScheduleConfig):
    name: str = "plateau"
    patience: int = 10
    factor: float = 0.5
    min_fraction: float = 0.0078125  # 1/128, Nielsen's stopping point


# The options of each group with a schema per option, by the key that names the option.
OPTION_SCHEMAS: dict[str, tuple[str, dict[str, type]]] = {
    "net": ("arch", {"mlp": MLPConfig, "lenet5": LeNet5Config}),
    "optimizer": ("name", {"sgd": SGDConfig, "momentum": MomentumConfig, "nesterov": NesterovConfig,
                           "rmsprop": RMSpropConfig, "adam": AdamConfig}),
    "schedule": ("name", {"constant": ConstantConfig, "step": StepConfig, "exponential": ExponentialConfig,
                          "cosine": CosineConfig, "plateau": PlateauConfig}),
}


# --- data and trainer: one node each ----------------------------------------------------

@dataclass
class DataConfig:
    name: DataName = DataName.mnist5k
    root: Optional[str] = None
    scaling: Scaling = Scaling.unit  # unit: [0, 1]; rashid: [0.01, 1.0]
    targets: Targets = Targets.onehot  # onehot: 0/1; rashid: 0.01/0.99
    split_seed: int = 0
    val_size: Optional[int] = None
    test_size: int = 1000
    test_dir: Optional[str] = None
    train_limit: Optional[int] = None
    download: bool = False
    mirrors: Optional[List[str]] = None
    train_csv: Optional[str] = None
    test_csv: Optional[str] = None
    label_column: LabelColumn = LabelColumn.first


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
    dtype: DType = DType.float32
    clip_grad_norm: Optional[float] = None  # clip each mini-batch's gradient norm (off: classic runs stay exact)
    restore_best: bool = True  # test and save the best-validation weights as the model
    progress: bool = True  # progress bars (only ever shown on a terminal)


@dataclass
class Config:
    # Typed by the option's base class: the chosen conf/<group>/<option>.yaml brings the
    # option's own schema, and the composed node has exactly that option's keys.
    net: NetConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    schedule: ScheduleConfig = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    resume: bool = False
    objective: Objective = Objective.best_val_acc  # what the run returns to a sweeper
    sweep: str = "default"  # name of the multirun directory, multirun/<sweep>


def register_configs() -> None:
    """Put the schemas into Hydra's ConfigStore, and the resolver ``conf/config.yaml`` uses into
    OmegaConf; call it before composing any config.

    Idempotent: storing a name again replaces the same node, and the resolver is replaced. Explicit rather than an import side
    effect, so composing never depends on which module happened to be imported first.
    """
    # conf/config.yaml leaves these out of run directory names: they do not identify a run.
    OmegaConf.register_new_resolver("nnsweep.bookkeeping_keys", lambda: list(BOOKKEEPING_KEYS), replace=True)
    store = ConfigStore.instance()
    store.store(name="nnsweep_schema", node=Config)
    for group, (_, options) in OPTION_SCHEMAS.items():
        for option, schema in options.items():
            store.store(group=f"{group}/schema", name=option, node=schema)
