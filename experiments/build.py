"""Turn a composed config into the plain objects ``nets`` works with, checking values first.

Everything here fails with ``ConfigError``: one line that names the setting, the bad value and
what to do, raised before any training starts.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.config import TARGETS
from nnsweep.experiments.schema_check import invalid_setting
from nnsweep.nets.architectures import cnn, lenet5, mlp
from nnsweep.nets.data.augment import Augmenter
from nnsweep.nets.data.datasets import DataSplits, load_dataset, train_size_without_loading
from nnsweep.nets.data.download import DownloadError
from nnsweep.nets.data.readers import DataFormatError
from nnsweep.nets.layers import ShapeError
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import Optimizer, make_optimizer
from nnsweep.nets.schedules import Schedule, make_schedule
from nnsweep.nets.train import target_matrix


class ConfigError(NnsweepError, ValueError):
    """A config value that cannot work; the message is one line for the user."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def check_trainer(cfg: Any) -> None:
    """Check every setting against its option's schema (keys and ranges) before anything is built,
    and the settings that only work together (the precheck runs this for every point of a grid)."""
    problem = invalid_setting(cfg)
    if problem:
        raise ConfigError(problem)
    _check(
        cfg.trainer.augment or not cfg.trainer.flip,
        "trainer.flip=true mirrors images only with trainer.augment=true: add it "
        "(and trainer.rotation=0 trainer.zoom=0 trainer.shift=0 to mirror and nothing else)",
    )
    d = plain(cfg.data)  # the batch against a training set whose size is known without reading it
    _check(
        d.get("val_size") != 0 or d.get("name") in ("mnist", "fashion", "idx"),
        f"data.val_size=0 scores the test set in validation's place, which only the full IDX sets can do "
        f"(data=mnist, fashion, idx); data={d.get('name')} needs a validation split of at least 1",
    )
    n = train_size_without_loading(
        d.get("name"),
        root=d.get("root"),
        val_size=d.get("val_size"),
        test_size=d.get("test_size", 1000),
        test_dir=d.get("test_dir"),
        test_csv=d.get("test_csv"),
        train_limit=d.get("train_limit"),
    )
    _check(n is None or cfg.trainer.batch_size <= n, _batch_too_large(cfg.trainer.batch_size, n))


def _batch_too_large(batch_size: int, n: int | None) -> str:
    return f"trainer.batch_size={batch_size} is larger than the training set ({n} images); lower it"


def load_data(cfg: Any) -> DataSplits:
    d = plain(cfg.data)
    try:
        splits = load_dataset(
            d["name"],
            root=d["root"],
            scaling=d["scaling"],
            split_seed=d["split_seed"],
            val_size=d["val_size"],
            test_size=d["test_size"],
            test_dir=d["test_dir"],
            train_limit=d["train_limit"],
            download=d["download"],
            mirrors=d["mirrors"] or None,
            train_csv=d["train_csv"],
            test_csv=d["test_csv"],
            label_column=d["label_column"],
        )
    except (DataFormatError, DownloadError):
        raise  # the data, not the settings: a sweep retries such runs once the data is there
    except ValueError as err:
        raise ConfigError(f"data: {err}") from None
    n = len(splits.train)
    _check(cfg.trainer.batch_size <= n, _batch_too_large(cfg.trainer.batch_size, n))
    return splits


def plain(node: Any) -> dict[str, Any]:
    """A config node as a plain dict of plain values (Enum choices become their names)."""
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return dict(node)


def architecture_of(net_cfg: Any) -> dict[str, Any]:
    """The architecture description for a ``net`` config node: its builder called with its keys."""
    options = plain(net_cfg)
    arch = options.pop("arch", None)
    builders = {"mlp": mlp, "lenet5": lenet5, "cnn": cnn}
    _check(
        arch in builders,
        f"net.arch must be one of {', '.join(builders)}, got {arch!r}; choose net=mlp, net=cnn or net=lenet5",
    )
    if arch in ("lenet5", "cnn"):
        _check(
            options.pop("loss", "softmax_cross_entropy") == "softmax_cross_entropy",
            f"net={arch} is built with loss softmax_cross_entropy; remove the net.loss override",
        )
    try:
        return builders[arch](**options)
    except (ShapeError, ValueError) as err:
        raise ConfigError(f"net: {err}") from None


def build_network(cfg: Any, data: DataSplits, rng: np.random.Generator) -> Network:
    description = architecture_of(cfg.net)
    try:
        net = Network(description, rng, dtype=np.dtype(str(cfg.trainer.dtype)))
    except (ShapeError, ValueError) as err:
        raise ConfigError(f"net: {err}") from None
    features = data.train.x.shape[1]
    _check(
        int(np.prod(net.input_shape)) == features,
        f"the network takes {int(np.prod(net.input_shape))} inputs but data {data.name} has {features} pixels "
        "per image",
    )
    _check(
        net.output_size >= data.classes,
        f"the network has {net.output_size} outputs but data {data.name} has {data.classes} classes",
    )
    return net


def build_optimizer(cfg: Any, n_train: int) -> Optimizer:
    """The optimizer named by ``optimizer.name``, given the other keys of its node as arguments."""
    options = plain(cfg.optimizer)
    try:
        return make_optimizer(options.pop("name"), n_train=n_train, **options)
    except ValueError as err:
        raise ConfigError(f"optimizer: {err}") from None


def schedule_spans_trainer_epochs(cfg: Any) -> bool:
    """Whether the schedule of ``cfg`` (a composed config, or a run's recorded one as data)
    depends on ``trainer.epochs``: a cosine without its own ``schedule.total_epochs`` anneals
    over the whole budget, so another budget is another curve from its first epoch on. A pruned
    trial is unaffected: it keeps its ``trainer.epochs`` and stops at rungs (``pause_after``).
    Step, exponential and plateau schedules depend only on the epochs so far (and plateau on the
    validation accuracy it saw), so a budget that grows keeps them."""
    options = cfg["schedule"] if isinstance(cfg, dict) else plain(cfg.schedule)  # a recorded config: plain data
    return options.get("name") == "cosine" and options.get("total_epochs") is None


def build_schedule(cfg: Any) -> Schedule:
    """The schedule named by ``schedule.name``, given the other keys of its node as arguments."""
    options = plain(cfg.schedule)
    name = options.pop("name")
    if name == "cosine" and options.get("total_epochs") is None:
        options["total_epochs"] = cfg.trainer.epochs
    try:
        return make_schedule(name, cfg.optimizer.lr, **options)
    except ValueError as err:
        raise ConfigError(f"schedule: {err}") from None


def build_augmenter(cfg: Any) -> Augmenter | None:
    t = cfg.trainer
    if not t.augment:
        return None
    try:
        return Augmenter(rotation=t.rotation, zoom=t.zoom, shift=t.shift, flip=t.flip)
    except ValueError as err:
        raise ConfigError(f"trainer: {err}") from None


def build_targets(cfg: Any, classes: int, dtype) -> np.ndarray:
    on, off = TARGETS[str(cfg.data.targets)]
    return target_matrix(classes, on=on, off=off, dtype=dtype)


@contextmanager
def reading_recorded_config(path: Path) -> Iterator[None]:
    """Use a run's recorded config inside the block: a file damaged or written by another version
    (a key missing, a value of the wrong kind) is one line naming it, not a ``KeyError`` deep down."""
    try:
        yield
    except ConfigError as err:  # a recorded value that no longer passes the checks
        raise ConfigError(f"{path}: {err}; restore it or retrain the run") from None
    except NnsweepError:
        raise  # the data or a file, not the config
    except (KeyError, AttributeError, TypeError, ValueError, OmegaConfBaseException) as err:
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise ConfigError(
            f"{path} does not describe a run this nnsweep can read ({reason}); restore it or retrain the run"
        ) from None
