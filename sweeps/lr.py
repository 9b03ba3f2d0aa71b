"""The learning-rate sweep's flags: ``nnsweep sweep-lr`` (``make sweep-lr``) as the training command's
multirun with the learning-rate search, ``nnsweep train -m --config-name sweep_lr ...``.

One run per learning rate (log-spaced, too small to too large; ``conf/search/lr.yaml``), each
recording every epoch, so the sweep is the whole learning-rate x epoch grid: the best number of
epochs is where validation accuracy peaks. The one sweeper runs it like any grid, in this process
(``nnsweep.sweeps.search``): under the sweep directory's lock, reusing finished runs and resuming
interrupted ones, in parallel on all cores, then ``runs.csv``, ``epochs.csv`` and the report. Here
the flags are checked, the sweep directory is named after every setting that changes the runs, and
the training command's arguments are written: ``--repeats`` is the sweeper's ``repeats`` (seeds
0 .. N-1), ``--prune`` its pruner (``nnsweep.sweeps.pruning``: only the best third of the rates
train past each rung).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.arguments import hydra_quoted
from nnsweep.experiments.startup import program_name
from nnsweep.runrecord import override_key
from nnsweep.sweeps.race import DEFAULT_MAX_SEEDS
from nnsweep.sweeps.repeats import MAX_REPEATS

MAX_RATES = 200  # more is a typo, not a sweep (and each is a run)
MAX_RUNS = 2000  # rates x seeds: a bigger sweep is a grid of its own (nnsweep.experiments.train -m)


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` learning rates from ``low`` to ``high`` evenly spaced in log scale, rounded to
    3 significant digits (so they print as 0.0316, not 0.031622776601683794)."""
    if not (0 < low < high < math.inf) or not 2 <= count <= MAX_RATES:
        raise ValueError(
            f"need 0 < --lr-min < --lr-max (finite) and 2 to {MAX_RATES} rates, got {low}, {high}, --num {count}"
        )
    return [float(f"{v:.3g}") for v in np.geomspace(low, high, count)]


def format_lr(value: float) -> str:
    """As a Hydra override value: ``str`` of a plain float (never NumPy's repr)."""
    return str(float(value))


def parse_lrs(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--lrs must be comma-separated numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"--lrs must be positive numbers, got {text!r}")
    if len(set(values)) > MAX_RATES:
        raise ValueError(
            f"--lrs gives {len(set(values))} rates; at most {MAX_RATES} (each is a run): "
            "give fewer, or sweep several ranges one after another"
        )
    return sorted(set(values))


def default_sweep_dir(
    net: str,
    data: str,
    epochs: int,
    batch: int,
    overrides: list[str] = (),
    pruning: str = "",
    repeats: int = 1,
    race: bool = False,
) -> Path:
    """``results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-<pruning>][-seeds][-<overrides>]``:
    every setting that changes the runs is in the name (``pruning``, e.g. ``asha1x3``: pruned runs
    stop early; ``seeds``: each rate repeated with trainer.seed 0, 1, ..., so more repeats extend
    the same sweep; ``race<N>``: seeds raced up to N, ``nnsweep.sweeps.race``), so a sweep with other settings
    never reuses these runs, nor its tables mix one-seed runs with repeats.
    Only letters, digits and ``._-+`` appear in it (``optimizer=momentum`` -> ``optimizer-momentum``),
    so it is a plain path to a shell and to Hydra alike."""
    seeds = f"-race{repeats}" if race else "-seeds" if repeats > 1 else ""
    name = f"{net}-{data}-e{epochs}-b{batch}" + (f"-{pruning}" if pruning else "") + seeds
    if overrides:
        extra = "_".join(sorted(overrides))
        if len(extra) > 80:
            extra = hashlib.sha1(extra.encode()).hexdigest()[:10]
        name += f"-{extra}"
    return Path("results") / "sweep-lr" / re.sub(r"[^A-Za-z0-9._+-]+", "-", name)


def is_launch_override(override: str) -> bool:
    """``hydra/launcher=ray``, ``+hydra.launcher.ray.init.num_cpus=2``: the launcher's settings say
    how and where the runs are launched, not what they compute, so they are not part of a run's
    identity or of the sweep directory's name (the same sweep may continue on another engine)."""
    key = override_key(override)
    return key == "hydra/launcher" or key.startswith("hydra.launcher.")


def run_settings(overrides: list[str]) -> list[str]:
    """The user's overrides that change what the runs compute."""
    return [o for o in overrides if not is_launch_override(o)]


def launcher_of(overrides: list[str]) -> str:
    """The Hydra launcher the overrides choose (the last ``hydra/launcher=`` wins); joblib by default."""
    chosen = [o.partition("=")[2] for o in overrides if override_key(o) == "hydra/launcher"]
    return chosen[-1] if chosen else "joblib"


def train_arguments(args, lrs: list[float], sweep_dir: Path) -> list[str]:
    """The ``nnsweep train`` arguments of the sweep: the learning-rate search's multirun
    (``--config-name sweep_lr``: the search chosen in the config, so the runs' names hold only what
    they compute, as they always did), the rates, the run settings, then the sweeper's and the
    launcher's."""
    launch = [o for o in args.overrides if is_launch_override(o)]
    runs = len(lrs) * args.repeats
    if launcher_of(args.overrides) == "joblib":
        launch.append(f"hydra.launcher.n_jobs={min(args.jobs or os.cpu_count() or 1, runs)}")
    return [
        "-m",
        "--config-name",
        "sweep_lr",
        f"net={args.net}",
        f"data={args.data}",
        f"optimizer.lr={','.join(format_lr(v) for v in lrs)}",
        f"trainer.epochs={args.epochs}",
        f"trainer.batch_size={args.batch}",
        *run_settings(args.overrides),
        f"hydra.sweep.dir={hydra_quoted(str(sweep_dir))}",
        *(
            ["hydra.sweeper.repeats=race", f"hydra.sweeper.race_max_seeds={args.repeats}"]
            if args.race
            else [f"hydra.sweeper.repeats={args.repeats}"]
            if args.repeats > 1
            else []
        ),
        *pruner_overrides(args),
        *launch,
        *(["hydra.sweeper.live_report=false"] if args.no_report else []),
    ]


def _by_key(overrides: list[str]) -> dict[str, str]:
    """Overrides as key -> value, the last one of a key winning, as Hydra applies them."""
    return {override_key(o): o.partition("=")[2] for o in overrides}


def pruner_overrides(args) -> list[str]:
    """The grid sweeper's pruner settings for ``--prune`` (none without it)."""
    if not args.prune:
        return []
    from nnsweep.experiments.config import OBJECTIVES

    objective = _by_key(args.overrides).get("objective", "best_val_acc")
    direction = "minimize" if OBJECTIVES.get(objective) == "min" else "maximize"  # which rates the pruner keeps
    return [
        "hydra.sweeper.pruner.method=asha",
        f"hydra.sweeper.pruner.min_epochs={args.min_epochs}",
        f"hydra.sweeper.pruner.reduction_factor={args.eta}",
        f"hydra.sweeper.direction={direction}",
    ]


def pruning_name(args) -> str:
    return f"asha{args.min_epochs}x{args.eta}" if args.prune else ""


# Long on purpose: a list of independent checks of the flags, each a condition and its one line.
def check_arguments(args) -> list[float]:
    """The learning rates to sweep, after checking what the user gave; NnsweepError otherwise."""
    try:
        lrs = parse_lrs(args.lrs) if args.lrs else log_spaced(args.lr_min, args.lr_max, args.num)
    except ValueError as err:
        raise NnsweepError(str(err)) from None
    if args.epochs < 1 or args.batch < 1 or args.repeats < 1 or (args.jobs is not None and args.jobs < 1):
        raise NnsweepError("--epochs, --batch, --repeats and --jobs must be at least 1")
    if args.race and (args.prune or args.repeats == 2):
        raise NnsweepError(
            "--race starts every rate with 2 seeds and adds seeds up to --repeats (default 5): give --repeats 3 or "
            "more, and no --prune"
        )
    if args.race and args.repeats == 1:
        args.repeats = DEFAULT_MAX_SEEDS
    if args.repeats > MAX_REPEATS:  # the search's own cap (hydra.sweeper.repeats): more is a typo
        raise NnsweepError(f"--repeats {args.repeats}: at most {MAX_REPEATS} seeds per rate (each is a run)")
    if len(lrs) * args.repeats > MAX_RUNS:
        raise NnsweepError(
            f"{len(lrs)} rates x {args.repeats} seeds is {len(lrs) * args.repeats} runs; at most "
            f"{MAX_RUNS} in one sweep: give fewer --lrs (or --num) or fewer --repeats"
        )
    if args.prune and not (1 <= args.min_epochs < args.epochs and args.eta >= 2):
        raise NnsweepError(
            f"--prune needs 1 <= --min-epochs < --epochs and --eta >= 2 (got --min-epochs "
            f"{args.min_epochs}, --epochs {args.epochs}, --eta {args.eta})"
        )
    if not args.prune and (args.min_epochs != 1 or args.eta != 3):
        raise NnsweepError("--min-epochs and --eta set the pruner: add --prune")
    if args.jobs is not None and launcher_of(args.overrides) != "joblib":
        raise NnsweepError(
            f"--jobs sets how many runs joblib trains at once; with hydra/launcher="
            f"{launcher_of(args.overrides)} the launcher's own settings decide (see README, Clusters)"
        )
    for name, value in (("--net", args.net), ("--data", args.data)):
        if not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise NnsweepError(f"{name} takes one config name (e.g. --net rashid), got {value!r}")
    owned = {
        "optimizer.lr": "--lrs",
        "hydra.sweep.dir": "--sweep-dir",
        "net": "--net",
        "data": "--data",
        "trainer.epochs": "--epochs",
        "trainer.batch_size": "--batch",
        "hydra.launcher.n_jobs": "--jobs",
        "search": "nnsweep train -m search=<name> (a learning-rate sweep is a search of its own)",
        **({"trainer.seed": "--repeats (seeds 0 .. N-1)"} if args.repeats > 1 else {}),
    }
    for override in args.overrides:
        key = override_key(override)
        if key == "hydra.launcher.n_jobs" and launcher_of(args.overrides) != "joblib":
            raise NnsweepError(
                f"{override!r} is a setting of joblib's launcher, not of hydra/launcher="
                f"{launcher_of(args.overrides)}: set that launcher's own (see README, Clusters)"
            )
        if key in owned:
            raise NnsweepError(f"{override!r} would replace what the sweep sets itself: use {owned[key]} instead")
        if (key == "hydra" or key.startswith(("hydra.", "hydra/"))) and not is_launch_override(override):
            raise NnsweepError(
                f"{override!r}: a learning-rate sweep takes Hydra settings of its launcher only "
                "(hydra/launcher=..., hydra.launcher...); for other searches use "
                "nnsweep train -m"
            )
    return lrs


# Long on purpose: one add_argument per flag, with its help text.
def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.sweep_lr"),
        description="Sweep the learning rate (log-spaced), record every epoch, collect the "
        "results tables and write the report. Rerunning continues the sweep: finished runs are reused.",
        epilog="Extra arguments are Hydra overrides for every run, e.g. optimizer=momentum; "
        "hydra/launcher=... and hydra.launcher... choose where the runs train "
        "(not part of the sweep directory's name).",
    )
    parser.add_argument("--net", default="rashid", help="net config (default rashid: 784-100-10 sigmoid)")
    parser.add_argument("--data", default="mnist5k", help="data config (default mnist5k, embedded)")
    parser.add_argument(
        "--lrs",
        help=f"comma-separated learning rates (at most {MAX_RATES}); default: --num log-spaced "
        "from --lr-min to --lr-max",
    )
    parser.add_argument("--lr-min", type=float, default=0.003)
    parser.add_argument("--lr-max", type=float, default=10.0)
    parser.add_argument("--num", type=int, default=11, help="how many log-spaced rates (default 11)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="mini-batch size (default 1: per-sample SGD, Rashid's learning-rate experiment)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="parallel runs on this machine with the default joblib launcher "
        "(default: all cores; another hydra/launcher decides itself)",
    )
    parser.add_argument(
        "--sweep-dir",
        type=Path,
        help="default results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-asha<min>x<eta>][-seeds|-race<N>]"
        "[-<overrides>]",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="train each rate with this many seeds (trainer.seed 0 .. N-1, at most "
        f"{MAX_REPEATS}); configs.csv then gives each rate's mean and 95%% confidence interval "
        "(default 1)",
    )
    parser.add_argument(
        "--race",
        action="store_true",
        help="seed racing: every rate with 2 seeds, then one more seed at a time only for the rates still within "
        "seed noise of the best (and the best), up to --repeats (default 5); the report says whether a rate won",
    )
    parser.add_argument("--no-report", action="store_true", help="collect the tables but draw no figures")
    parser.add_argument("--no-lr-find", action="store_true", help="skip the range test run first (nnsweep lr-find)")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="successive halving: train every rate --min-epochs, then only the best 1/--eta further "
        "at each rung (min-epochs x eta^k); the others stop with status pruned",
    )
    parser.add_argument("--min-epochs", type=int, default=1, help="with --prune: the first rung (default 1)")
    parser.add_argument("--eta", type=int, default=3, help="with --prune: keep the top 1/eta at each rung (default 3)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every run")
    return parser


@dataclass(frozen=True)
class RangeTestAsked:
    """The learning-rate range test run before the sweep (``nnsweep lr-find``): every run's
    settings but the rate, and the rates it spans (wider than the sweep's)."""

    overrides: list[str]
    start: float
    end: float


def sweep(argv: list[str]) -> tuple[Path, list[str], RangeTestAsked | None]:
    """The sweep ``argv`` (this command's flags and overrides) asks for: its directory, the
    ``nnsweep train`` arguments that run it, and the range test to run first (None with
    ``--no-lr-find``). Bad flags: ``NnsweepError`` (argparse's own errors and ``--help`` exit
    by themselves)."""
    args = make_parser().parse_intermixed_args(argv)  # overrides may come before or after the options
    lrs = check_arguments(args)
    sweep_dir = args.sweep_dir or default_sweep_dir(
        args.net,
        args.data,
        args.epochs,
        args.batch,
        run_settings(args.overrides),
        pruning_name(args),
        args.repeats,
        args.race,
    )
    repeats = f" x {args.repeats} seeds" if args.repeats > 1 else ""
    repeats = f", seeds raced: 2 each, up to {args.repeats}" if args.race else repeats
    print(f"learning-rate sweep in {sweep_dir}: {len(lrs)} rates {lrs}{repeats}", flush=True)
    every_run = [f"net={args.net}", f"data={args.data}", f"trainer.batch_size={args.batch}"]
    every_run += run_settings(args.overrides)
    start, end = min(1e-5, lrs[0] / 100), max(10.0, lrs[-1])
    asked = None if args.no_lr_find else RangeTestAsked(every_run, start, end)
    return sweep_dir, train_arguments(args, lrs, sweep_dir), asked
