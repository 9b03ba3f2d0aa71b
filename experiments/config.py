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
...), so Hydra rejects any other value at compose time too.

Every numeric key carries its ``Range`` in its field's metadata (``ranged(0.9, FRACTION)``), and
``invalid_setting`` walks a composed config against the schemas: unknown or mismatched option
names, keys of another option (added with ``+``), and numbers out of range, as one line naming
key, value and allowed range. ``nnsweep.experiments.build.check_trainer`` calls it before anything is
built.

The top ``Config`` (``conf/config.yaml``'s first default, ``nnsweep_schema``) is registered with
the rest; every caller that composes a config calls ``register_configs()`` first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterable, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from nnsweep.core.objectives import OBJECTIVES  # what a run can return to a sweeper, and which way is better
from nnsweep.experiments.startup import program_name
from nnsweep.nets.architectures import ACTIVATIONS, POOLS
from nnsweep.nets.conv import CONNECTIONS
from nnsweep.nets.data.datasets import SCALINGS
from nnsweep.nets.init import INITIALISERS
from nnsweep.nets.losses import LOSSES
from nnsweep.runrecord import BOOKKEEPING_KEYS
from nnsweep.runrecord.names import run_dir_name

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


@dataclass(frozen=True)
class Range:
    """The values a numeric key accepts: finite, from ``low`` to ``high`` (either end may be open
    or absent). ``why`` is added to the message when the range needs a reason."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    why: str = ""

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return "a positive number" if self.low == 0 and self.low_open else f"at least {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
FRACTION = Range(0, 1, high_open=True)  # a probability, or a running average's memory (1 would never forget)
DECAY = Range(0, 1, low_open=True)  # a factor that shrinks the rate, 1 meaning "keep it"
SHRINK = Range(0, 1, low_open=True, high_open=True)  # a factor that must shrink the rate
DEGREES = Range(0, 180)
VALIDATION = Range(
    0,
    why="0 scores the test set in validation's place (the full IDX sets only); nnsweep needs something to choose on",
)


def ranged(default: Any, allowed: Range) -> Any:
    """A dataclass field whose value (each element, for a list) must lie in ``allowed``."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"range": allowed})
    return field(default=default, metadata={"range": allowed})


# --- net: which architecture builder, with its arguments (nnsweep.nets.architectures) ---------------


@dataclass
class NetConfig:
    """What every ``net`` option has: ``arch``, the builder in ``nnsweep.nets.architectures``."""

    arch: str = MISSING


@dataclass
class MLPConfig(NetConfig):
    """``nnsweep.nets.architectures.mlp``: a fully connected network of any hidden sizes."""

    arch: str = "mlp"
    hidden: List[int] = ranged([100], AT_LEAST_1)
    activation: Activation = Activation.sigmoid
    loss: Loss = Loss.softmax_cross_entropy
    init: Optional[Init] = None  # None: the usual one for the activation (nnsweep.nets.architectures.DEFAULT_INIT)
    bias: bool = True
    bias_init: Init = Init.zeros
    dropout: float = ranged(0.0, FRACTION)
    init_gain: float = ranged(1.0, POSITIVE)  # multiplies every layer's initial weights


@dataclass
class LeNet5Config(NetConfig):
    """``nnsweep.nets.architectures.lenet5``: LeNet-5 on 28x28 digits."""

    arch: str = "lenet5"
    activation: Activation = Activation.sigmoid
    pool: Pool = Pool.mean
    connections: Connections = Connections.full
    dense: List[int] = ranged([120, 84], AT_LEAST_1)
    loss: LeNet5Loss = LeNet5Loss.softmax_cross_entropy


@dataclass
class CNNConfig(NetConfig):
    """``nnsweep.nets.architectures.cnn``: convolution blocks of any number and shape, then a dense head.

    ``channels`` has one entry per block. Every other per-block key takes one value for all
    blocks (``net.kernel=5``, which a sweep can vary) or a list with one per block
    (``'net.kernel=[5,3]'``); the builder checks them (``nnsweep.nets.architectures.cnn``)."""

    arch: str = "cnn"
    channels: List[int] = ranged([32, 64], AT_LEAST_1)
    kernel: Any = 3
    stride: Any = 1
    padding: Any = "same"  # valid | same
    pool: Any = "max"  # max | mean | none
    pool_size: Any = 2
    activation: Any = "relu"  # sigmoid | tanh | relu | leaky_relu
    batchnorm: Any = False
    conv_dropout: Any = 0.0
    connections: Any = "full"  # full | lecun (LeNet-5's C3 table: 6 maps in, 16 out)
    dense: List[int] = ranged([128], AT_LEAST_1)
    dense_activation: Optional[Activation] = None  # None: the last block's activation
    dense_batchnorm: bool = False
    dropout: float = ranged(0.0, FRACTION)  # after each dense layer of the head
    init: Optional[Init] = None  # None: the usual one for each layer's activation
    init_gain: float = ranged(1.0, POSITIVE)  # multiplies every layer's initial weights
    loss: LeNet5Loss = LeNet5Loss.softmax_cross_entropy


# --- optimizer: nnsweep.nets.optimizers, one class per name --------------------------------------


@dataclass
class OptimizerConfig:
    """What every optimizer takes (``nnsweep.nets.optimizers.Optimizer``)."""

    name: str = MISSING
    lr: float = ranged(0.1, POSITIVE)
    l2: float = ranged(0.0, NON_NEGATIVE)  # Nielsen's lambda (divided by the training-set size)
    weight_decay: float = ranged(0.0, NON_NEGATIVE)  # decoupled (AdamW-style)


@dataclass
class SGDConfig(OptimizerConfig):
    name: str = "sgd"


@dataclass
class MomentumConfig(OptimizerConfig):
    name: str = "momentum"
    momentum: float = ranged(0.9, FRACTION)


@dataclass
class NesterovConfig(MomentumConfig):
    name: str = "nesterov"


@dataclass
class RMSpropConfig(OptimizerConfig):
    name: str = "rmsprop"
    lr: float = ranged(0.001, POSITIVE)
    rho: float = ranged(0.9, FRACTION)
    eps: float = ranged(1e-8, POSITIVE)


@dataclass
class AdamConfig(OptimizerConfig):
    name: str = "adam"
    lr: float = ranged(0.001, POSITIVE)
    beta1: float = ranged(0.9, FRACTION)
    beta2: float = ranged(0.999, FRACTION)
    eps: float = ranged(1e-8, POSITIVE)


# --- schedule: nnsweep.nets.schedules, one class per name ----------------------------------------


@dataclass
class ScheduleConfig:
    """What every schedule has: its ``name`` in ``nnsweep.nets.schedules``."""

    name: str = MISSING


@dataclass
class ConstantConfig(ScheduleConfig):
    name: str = "constant"


@dataclass
class StepConfig(ScheduleConfig):
    name: str = "step"
    step_size: int = ranged(10, AT_LEAST_1)
    gamma: float = ranged(0.5, DECAY)


@dataclass
class ExponentialConfig(ScheduleConfig):
    name: str = "exponential"
    gamma: float = ranged(0.95, DECAY)


@dataclass
class CosineConfig(ScheduleConfig):
    name: str = "cosine"
    total_epochs: Optional[int] = ranged(None, AT_LEAST_1)  # None means trainer.epochs
    min_lr: float = ranged(0.0, NON_NEGATIVE)


@dataclass
class PlateauConfig(ScheduleConfig):
    name: str = "plateau"
    patience: int = ranged(10, AT_LEAST_1)
    factor: float = ranged(0.5, SHRINK)
    min_fraction: float = ranged(0.0078125, DECAY)  # 1/128, Nielsen's stopping point


# The options of each group with a schema per option, by the key that names the option.
OPTION_SCHEMAS: dict[str, tuple[str, dict[str, type]]] = {
    "net": ("arch", {"mlp": MLPConfig, "lenet5": LeNet5Config, "cnn": CNNConfig}),
    "optimizer": (
        "name",
        {
            "sgd": SGDConfig,
            "momentum": MomentumConfig,
            "nesterov": NesterovConfig,
            "rmsprop": RMSpropConfig,
            "adam": AdamConfig,
        },
    ),
    "schedule": (
        "name",
        {
            "constant": ConstantConfig,
            "step": StepConfig,
            "exponential": ExponentialConfig,
            "cosine": CosineConfig,
            "plateau": PlateauConfig,
        },
    ),
}


# --- data and trainer: one node each ----------------------------------------------------


@dataclass
class DataConfig:
    name: DataName = DataName.mnist5k
    root: Optional[str] = None
    scaling: Scaling = Scaling.unit  # unit: [0, 1]; rashid: [0.01, 1.0]; binary: black and white
    targets: Targets = Targets.onehot  # onehot: 0/1; rashid: 0.01/0.99
    split_seed: int = ranged(0, NON_NEGATIVE)
    val_size: Optional[int] = ranged(
        None, VALIDATION
    )  # None: 500 for mnist5k and csv, 10,000 otherwise; 0: see DataSplits.val_is_test
    test_size: int = ranged(1000, AT_LEAST_1)
    test_dir: Optional[str] = None
    train_limit: Optional[int] = ranged(None, AT_LEAST_1)
    download: bool = False
    mirrors: Optional[List[str]] = None
    train_csv: Optional[str] = None
    test_csv: Optional[str] = None
    label_column: LabelColumn = LabelColumn.first
    # What reports call the classes and one image: a name per class in label order (None: the
    # labels 0, 1, 2 ...) and the word for one ("digit", "item"). They name, they do not
    # compute: a run continues whatever they say (runrecord.LABEL_KEYS).
    class_names: Optional[List[str]] = None
    noun: str = "digit"


@dataclass
class TrainerConfig:
    epochs: int = ranged(10, AT_LEAST_1)
    batch_size: int = ranged(10, AT_LEAST_1)  # 1 = per-sample SGD, as in Rashid's book
    seed: int = ranged(0, NON_NEGATIVE)  # weights, shuffling, dropout and augmentation all follow from it
    patience: Optional[int] = ranged(None, AT_LEAST_1)  # early stopping: epochs without a better val accuracy
    augment: bool = False  # random rotation / zoom / shift of training digits
    rotation: float = ranged(10.0, DEGREES)  # degrees
    zoom: float = ranged(0.1, FRACTION)
    shift: float = ranged(0.1, FRACTION)  # fraction of the image side
    flip: bool = False  # with augment: mirror half the images left-right (clothes, not digits)
    dtype: DType = DType.float32
    # Clip each mini-batch's global gradient norm to this (off: the classic runs stay exact).
    clip_grad_norm: Optional[float] = ranged(None, POSITIVE)
    shuffle: bool = True  # false: every epoch in the file's order (Rashid's code)
    restore_best: bool = True  # evaluate, report and save the best-validation weights as the model
    progress: bool = True  # progress bars (only ever shown on a terminal)
    # Stop after this many epochs with status "paused" (checkpoint kept); resume=true continues to
    # trainer.epochs. The schedule still spans trainer.epochs, so a paused and continued run
    # equals an uninterrupted one. Pruning sweeps set it: it does not identify a run.
    pause_after: Optional[int] = ranged(None, AT_LEAST_1)


@dataclass
class Config:
    # Typed by the option's base class: the chosen conf/<group>/<option>.yaml brings the
    # option's own schema, and the composed node has exactly that option's keys.
    net: NetConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    schedule: ScheduleConfig = MISSING
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    resume: bool = False  # continue from model.npz in the run directory; a finished run is reused as is
    objective: Objective = Objective.best_val_acc  # returned to sweepers: best_val_acc | final_val_acc | best_val_loss
    sweep: str = "default"  # multirun: results go to multirun/<sweep>/; rerunning the same command continues it


def register_configs() -> None:
    """Put the schemas into Hydra's ConfigStore, and the resolver ``conf/config.yaml`` uses into
    OmegaConf; call it before composing any config.

    Idempotent: storing a name again replaces the same node, and the resolver is replaced.
    Explicit rather than an import side effect, so composing never depends on which module
    happened to be imported first.
    """
    # conf/config.yaml leaves these out of run directory names: they do not identify a run.
    OmegaConf.register_new_resolver("nnsweep.bookkeeping_keys", lambda: list(BOOKKEEPING_KEYS), replace=True)
    OmegaConf.register_new_resolver("nnsweep.program", program_name, replace=True)  # hydra.help.app_name
    # A sweep job's run directory: one name inside the sweep, whatever its overrides' values hold.
    OmegaConf.register_new_resolver("nnsweep.run_dir_name", run_dir_name, replace=True)
    store = ConfigStore.instance()
    store.store(name="nnsweep_schema", node=Config)
    for group, (_, options) in OPTION_SCHEMAS.items():
        for option, schema in options.items():
            store.store(group=f"{group}/schema", name=option, node=schema)
