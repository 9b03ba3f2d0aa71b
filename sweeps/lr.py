"""Learning-rate sweep: ``make sweep-lr`` or ``nnsweep sweep-lr [options] [overrides...]``.

Trains one run per learning rate (log-spaced, too small to too large) through
``nnsweep.experiments.train``'s Hydra multirun, in parallel on all cores, into a stable, named sweep
directory. Every run records every epoch, so the sweep is the whole learning-rate x epoch grid:
the best number of epochs is where validation accuracy peaks. Then collects ``runs.csv`` and
``epochs.csv``, writes the report (``reports``), and prints where they are.

Rerunning the same command continues the same sweep: finished runs are not launched again,
interrupted ones resume from their checkpoints.

``--prune`` trains every rate to ``--min-epochs`` first and only the best third (``--eta``) of
them further, rung by rung (``nnsweep.sweeps.pruning``; the grid sweeper's ``hydra.sweeper.pruner``):
the rates that are clearly too small or too large stop early, with status ``pruned``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.cli import EXIT_BAD_INPUT, hydra_quoted, run_command
from nnsweep.experiments.lifeline import follow_parent
from nnsweep.experiments.startup import program_name
from nnsweep.runrecord import RunRecordError, Status, find_runs, override_key, without_bookkeeping
from nnsweep.sweeps.collect import collect, configurations, repeat_keys, runner_up_sentence, summary_lines
from nnsweep.sweeps.lock import sweep_lock
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
    net: str, data: str, epochs: int, batch: int, overrides: list[str] = (), pruning: str = "", repeats: int = 1
) -> Path:
    """``results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-<pruning>][-seeds][-<overrides>]``:
    every setting that changes the runs is in the name (``pruning``, e.g. ``asha1x3``: pruned runs
    stop early; ``seeds``: each rate repeated with trainer.seed 0, 1, ..., so more repeats extend
    the same sweep), so a sweep with other settings never reuses these runs, nor its tables mix
    one-seed runs with repeats.
    Only letters, digits and ``._-+`` appear in it (``optimizer=momentum`` -> ``optimizer-momentum``),
    so it is a plain path to a shell and to Hydra alike."""
    name = f"{net}-{data}-e{epochs}-b{batch}" + (f"-{pruning}" if pruning else "") + ("-seeds" if repeats > 1 else "")
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


def run_overrides(args, lr: str, seed: str | None = None) -> list[str]:
    """The overrides that define the run of learning rate ``lr`` (text) in this sweep, and of
    ``trainer.seed`` ``seed`` (text) when it repeats each rate (``--repeats``)."""
    return [
        f"net={args.net}",
        f"data={args.data}",
        f"optimizer.lr={lr}",
        f"trainer.epochs={args.epochs}",
        f"trainer.batch_size={args.batch}",
        *([f"trainer.seed={seed}"] if seed is not None else []),
        *run_settings(args.overrides),
    ]


def seeds_of(args) -> list[int | None]:
    """The seeds each rate is trained with: 0 .. repeats-1, or [None] (no seed override) for one."""
    return list(range(args.repeats)) if args.repeats > 1 else [None]


def finished_points(args, sweep_dir: Path) -> set[tuple[float, int | None]]:
    """(learning rate, seed) of the runs in ``sweep_dir`` that have exactly this sweep's settings
    and need no more epochs (they finished them, or ended by themselves: early stopping,
    divergence, their own failure). A run with other settings in the same directory is never
    taken for one of ours."""
    done = set()
    for run in find_runs(sweep_dir):
        try:
            summary = run.read_summary()
            config = run.config()
            lr, seed = float(config.optimizer.lr), (int(config.trainer.seed) if args.repeats > 1 else None)
            ours = _by_key(without_bookkeeping(run_overrides(args, format_lr(lr), None if seed is None else str(seed))))
            # A pruned run is done in a pruned sweep only: without --prune it still needs its epochs.
            done_here = summary is not None and (
                summary.is_done(args.epochs) or (args.prune and summary.status == Status.PRUNED)
            )
            if done_here and _by_key(run.defining_overrides()) == ours:
                done.add((lr, seed))
        except (RunRecordError, ValueError, TypeError, AttributeError):
            continue  # damaged or not one of ours: train it (again)
    return done


def _by_key(overrides: list[str]) -> dict[str, str]:
    """Overrides as key -> value, the last one of a key winning, as Hydra applies them."""
    return {override_key(o): o.partition("=")[2] for o in overrides}


def build_command(args, lrs: list[float], sweep_dir: Path) -> list[str]:
    """The ``nnsweep.experiments.train`` multirun that trains the given learning rates."""
    seeds = seeds_of(args)
    overrides = run_overrides(
        args, ",".join(format_lr(v) for v in lrs), None if seeds == [None] else ",".join(map(str, seeds))
    )
    launch = [o for o in args.overrides if is_launch_override(o)]
    if launcher_of(args.overrides) == "joblib":
        launch.append(f"hydra.launcher.n_jobs={min(args.jobs or os.cpu_count() or 1, len(lrs) * len(seeds))}")
    return [
        sys.executable,
        "-m",
        "nnsweep.experiments.train",
        "-m",
        *overrides,
        "trainer.progress=false",
        f"hydra.sweep.dir={hydra_quoted(str(sweep_dir))}",
        *pruner_overrides(args),
        *launch,
        *(["hydra.sweeper.live_report=false"] if args.no_report else []),
    ]


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


def check_arguments(args) -> list[float]:
    """The learning rates to sweep, after checking what the user gave; NnsweepError otherwise."""
    try:
        lrs = parse_lrs(args.lrs) if args.lrs else log_spaced(args.lr_min, args.lr_max, args.num)
    except ValueError as err:
        raise NnsweepError(str(err)) from None
    if args.epochs < 1 or args.batch < 1 or args.repeats < 1 or (args.jobs is not None and args.jobs < 1):
        raise NnsweepError("--epochs, --batch, --repeats and --jobs must be at least 1")
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name("nnsweep.sweeps.lr"),
        description="Sweep the learning rate (log-spaced), record every epoch, collect the "
        "results tables and write the report. Rerunning continues the sweep.",
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
        help="default results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-asha<min>x<eta>][-seeds][-<overrides>]",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="train each rate with this many seeds (trainer.seed 0 .. N-1, at most "
        f"{MAX_REPEATS}); configs.csv then gives each rate's mean and 95%% confidence interval "
        "(default 1)",
    )
    parser.add_argument("--no-report", action="store_true", help="collect the tables but draw no figures")
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


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_intermixed_args(argv)  # overrides may come before or after the options
    lrs = check_arguments(args)
    sweep_dir = args.sweep_dir or default_sweep_dir(
        args.net, args.data, args.epochs, args.batch, run_settings(args.overrides), pruning_name(args), args.repeats
    )
    follow_parent()  # its training processes end with this one
    with sweep_lock(sweep_dir, advice="wait for it to finish, or pass another --sweep-dir"):
        return run_sweep(args, lrs, sweep_dir)


def run_sweep(args, lrs: list[float], sweep_dir: Path) -> int:
    """Launch the rates not finished yet, then collect the whole sweep.

    Exit status: 0 when at least one run finished with a result, 2 for bad settings (nothing
    to continue), 1 when the sweep stopped or no run produced a result."""
    points = [(v, seed) for v in lrs for seed in seeds_of(args)]
    done = finished_points(args, sweep_dir)
    todo = [p for p in points if p not in done]
    child_said_why = stopped = False
    repeats = f" x {args.repeats} seeds" if args.repeats > 1 else ""
    print(
        f"learning-rate sweep in {sweep_dir}: {len(lrs)} rates {lrs}{repeats}; {len(points) - len(todo)} already "
        "finished"
    )
    if todo:
        # All rates, so the sweep's progress line counts the whole sweep: finished ones are reused.
        from nnsweep.sweeps.search import REPORT_LINE_BY_CALLER

        # the closing lines below end with where the report is: the sweeper leaves that line to us
        result = run_grid(build_command(args, lrs, sweep_dir), env={**os.environ, REPORT_LINE_BY_CALLER: "1"})
        if result.returncode == EXIT_BAD_INPUT:
            return EXIT_BAD_INPUT  # its one line said what to change; rerunning as is would fail again
        child_said_why = result.returncode == 1  # its one line: a machine failure, or no result at all
        stopped = result.returncode not in (0, 1)
        if stopped:
            print(
                f"nnsweep: error: the sweep stopped (exit {result.returncode}); rerun the same command to "
                f"continue it, finished runs are kept in {sweep_dir}",
                file=sys.stderr,
            )
        if result.returncode != 0 and not find_runs(sweep_dir):
            return result.returncode
    runs, _ = collect(sweep_dir)
    keys = repeat_keys(sweep_dir)
    print(summary_lines(runs, configurations(runs, keys), keys))
    if (versus := runner_up_sentence(runs, keys)) is not None:
        print(versus)  # the page's comparison, word for word
    print(f"results: {sweep_dir / 'runs.csv'}, {sweep_dir / 'epochs.csv'}")
    if stopped:
        return 1  # its live report says it stopped; the tables above hold what finished
    if not args.no_report:
        from nnsweep.reports.live import update

        print(f"report: {update(sweep_dir)[0]}")  # the sweeper's live report drew it already, unless it was off
    else:
        print(f"no report page (--no-report): make report SWEEP={sweep_dir} draws it")
    if runs.empty or runs["best_val_acc"].isna().all():
        if not (todo and child_said_why):
            print(
                f"nnsweep: error: no run of the sweep produced a validation accuracy; see the status and error "
                f"columns of {sweep_dir / 'runs.csv'}",
                file=sys.stderr,
            )
        return 1
    return 1 if todo and child_said_why else 0


def run_grid(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the grid's ``nnsweep.experiments.train -m`` process. At Ctrl-C it is stopped at once (it
    ignores Ctrl-C: ``nnsweep.experiments.lifeline``; its runs resume from their checkpoints), before
    this process says "interrupted", so no line of the grid's comes after that one
    (``subprocess.run`` gave it a quarter of a second to print more)."""
    with subprocess.Popen(command, env=env) as grid:
        try:
            return subprocess.CompletedProcess(command, grid.wait())
        except BaseException:
            grid.kill()
            grid.wait()
            raise


def command() -> None:
    """The ``nnsweep sweep-lr`` console script."""
    run_command(main)


if __name__ == "__main__":
    command()
