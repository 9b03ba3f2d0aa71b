"""``nnsweep lr-find [overrides]``: the learning-rate range test (``nnsweep.nets.lr_range``) of the
network, optimizer, data and mini-batch the training config composes from ``overrides``, as
``nnsweep train`` would train them; its record in ``<out>/lr_find.json`` and ``lr_find.csv``
(``nnsweep.reports.lr_find`` draws ``lr_find.png`` from them; ``nnsweep.lr_find`` is the command).

Each range test starts from the run's own first weights (``trainer.seed``) and trains on its
training split only: the validation split the sweeps choose on is not looked at.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnsweep.core.atomic import atomic_write, own_dir
from nnsweep.experiments.build import build_network, build_optimizer, build_targets, check_trainer, load_data
from nnsweep.experiments.cli import CONF_DIR, precheck
from nnsweep.experiments.startup import program_name
from nnsweep.nets.lr_range import RULE, RangeTest, range_test

RECORD, CURVE = "lr_find.json", "lr_find.csv"
MIN_STEPS, MIN_EXAMPLES = 300, 3000
DEFAULT_OUT = Path("results/lr-find")


@dataclass(frozen=True)
class RangeTestRecord:
    """``lr_find.json``: what was tested and what the test suggests."""

    overrides: list[str]
    net: str
    data: str
    optimizer: str
    batch_size: int
    start: float
    end: float
    steps: int
    steps_taken: int
    stopped_early: bool
    suggested_lr: float
    lowest_lr: float
    steepest_lr: float
    rule: str
    seconds: float
    loss_fell_by: float  # share of the starting loss the smoothed loss fell by
    best_batch_accuracy: float  # the smoothed training accuracy of the mini-batches at its best
    learned: bool  # that accuracy reached twice chance: otherwise the suggestion is noise


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.experiments.lr_find"),
        description="The learning-rate range test (Smith 2015; fastai's lr_find): one short run whose rate "
        "grows exponentially per mini-batch, the loss against the rate, and a suggested rate ("
        + RULE
        + "). Takes the training command's overrides (net=, data=, optimizer=, trainer.batch_size=, experiment=).",
    )
    parser.add_argument("overrides", nargs="*", help="training config overrides, e.g. net=lenet5 optimizer=adam")
    parser.add_argument("--start", type=float, default=1e-5, help="the first rate (default 1e-5)")
    parser.add_argument("--end", type=float, default=10.0, help="the last rate (default 10)")
    parser.add_argument(
        "--steps",
        type=int,
        help=f"mini-batches, one rate each (default: {MIN_STEPS}, or enough for {MIN_EXAMPLES:,} examples at small "
        "mini-batches: a curve of single examples needs more steps to average out)",
    )
    parser.add_argument("--out", type=Path, help=f"where lr_find.json/.csv/.png go (default {DEFAULT_OUT}/<settings>)")
    return parser


def compose(overrides: list[str]) -> tuple[Any, dict[str, str]]:
    """The training config of ``overrides``, checked as ``nnsweep train`` checks it (one line on
    error), and the config groups' choices (``net``: ``rashid`` ...)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    precheck("config", overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    choices = {str(k): str(v) for k, v in cfg.hydra.runtime.choices.items()}
    with open_dict(cfg):
        del cfg["hydra"]
    check_trainer(cfg)
    return cfg, choices


def default_out(overrides: list[str]) -> Path:
    name = "_".join(sorted(o.replace("/", "-").replace("=", "-") for o in overrides)) or "defaults"
    return DEFAULT_OUT / name


def run_range_test(
    overrides: list[str], start: float, end: float, steps: int | None
) -> tuple[RangeTestRecord, RangeTest]:
    cfg, choices = compose(overrides)
    steps = steps or max(MIN_STEPS, -(-MIN_EXAMPLES // int(cfg.trainer.batch_size)))
    started = time.perf_counter()
    data = load_data(cfg)
    rng = np.random.default_rng(cfg.trainer.seed)
    network = build_network(cfg, data, rng)
    optimizer = build_optimizer(cfg, len(data.train))
    targets = build_targets(cfg, network.output_size, network.dtype)
    test = range_test(
        network,
        optimizer,
        data.train.x,
        targets[data.train.labels],
        batch_size=cfg.trainer.batch_size,
        rng=rng,
        start=start,
        end=end,
        steps=steps,
    )
    record = RangeTestRecord(
        list(overrides),
        choices.get("net", "net"),
        data.name,
        str(cfg.optimizer.name),
        int(cfg.trainer.batch_size),
        start,
        end,
        steps,
        len(test.lrs),
        test.stopped_early,
        test.suggested_lr,
        test.lowest_lr,
        test.steepest_lr,
        RULE,
        round(time.perf_counter() - started, 3),
        round(test.fell_by, 4),
        round(test.best_accuracy, 4),
        test.learned,
    )
    return record, test


def record_files(record: RangeTestRecord, test: RangeTest) -> dict[str, bytes]:
    """The range test's record: ``lr_find.json`` and the curve, ``lr_find.csv``, by file name."""
    rows = ["step,lr,loss,smoothed"] + [
        f"{i + 1},{lr!r},{loss!r},{smooth!r}"
        for i, (lr, loss, smooth) in enumerate(zip(test.lrs.tolist(), test.losses.tolist(), test.smoothed.tolist()))
    ]
    return {RECORD: (json.dumps(asdict(record), indent=1) + "\n").encode(), CURVE: ("\n".join(rows) + "\n").encode()}


def write(out: Path, record: RangeTestRecord, test: RangeTest) -> None:
    own_dir(out)
    for name, data in record_files(record, test).items():
        atomic_write(out / name, lambda f, data=data: f.write(data))
