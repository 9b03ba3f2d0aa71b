"""Learning-rate sweep: ``make sweep-lr`` or ``python -m sweeps.lr [options] [overrides...]``.

Trains one run per learning rate (log-spaced, too small to too large) through
``experiments.train``'s Hydra multirun, in parallel on all cores, into a stable, named sweep
directory. Every run records every epoch, so the sweep is the whole learning-rate x epoch grid:
the best number of epochs is where validation accuracy peaks. Then collects ``runs.csv`` and
``epochs.csv``, writes the report (``reports``), and prints where they are.

Rerunning the same command continues the same sweep: finished runs are not launched again,
interrupted ones resume from their checkpoints.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from sweeps.collect import collect, describe
from sweeps.lock import SweepLockedError, sweep_lock
from sweeps.runs import find_runs, finished_lrs


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` learning rates from ``low`` to ``high`` evenly spaced in log scale, rounded to
    3 significant digits (so they print as 0.0316, not 0.031622776601683794)."""
    if not (0 < low < high) or count < 2:
        raise ValueError(f"need 0 < low < high and at least 2 values, got low={low}, high={high}, count={count}")
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
    return sorted(set(values))


def default_sweep_dir(net: str, data: str, epochs: int, batch: int, overrides: list[str] = ()) -> Path:
    """``results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-<overrides>]``: every setting that
    changes the runs is in the name, so a sweep with other settings never reuses these runs."""
    name = f"{net}-{data}-e{epochs}-b{batch}"
    if overrides:
        extra = ",".join(sorted(overrides)).replace("/", "_")
        if len(extra) > 80:
            extra = hashlib.sha1(extra.encode()).hexdigest()[:10]
        name += f"-{extra}"
    return Path("results") / "sweep-lr" / name


def build_command(args, lrs: list[float], sweep_dir: Path) -> list[str]:
    """The ``experiments.train`` multirun that trains the given learning rates."""
    return [
        sys.executable, "-m", "experiments.train", "-m",
        f"net={args.net}", f"data={args.data}",
        f"optimizer.lr={','.join(format_lr(v) for v in lrs)}",
        f"trainer.epochs={args.epochs}", f"trainer.batch_size={args.batch}", "trainer.progress=false",
        f"hydra.sweep.dir={sweep_dir}", f"hydra.launcher.n_jobs={args.jobs}",
        *args.overrides,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sweeps.lr",
                                     description="Sweep the learning rate (log-spaced), record every epoch, collect the "
                                                 "results tables and write the report. Rerunning continues the sweep.",
                                     epilog="Extra arguments are Hydra overrides for every run, e.g. optimizer=momentum.")
    parser.add_argument("--net", default="rashid", help="net config (default rashid: 784-100-10 sigmoid)")
    parser.add_argument("--data", default="mnist5k", help="data config (default mnist5k, embedded)")
    parser.add_argument("--lrs", help="comma-separated learning rates; default: --num log-spaced from --lr-min to --lr-max")
    parser.add_argument("--lr-min", type=float, default=0.003)
    parser.add_argument("--lr-max", type=float, default=10.0)
    parser.add_argument("--num", type=int, default=11, help="how many log-spaced rates (default 11)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=1,
                        help="mini-batch size (default 1: per-sample SGD, Rashid's learning-rate experiment)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (default: all cores)")
    parser.add_argument("--sweep-dir", type=Path,
                        help="default results/sweep-lr/<net>-<data>-e<epochs>-b<batch>[-<overrides>]")
    parser.add_argument("--no-report", action="store_true", help="collect the tables but draw no figures")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every run")
    args = parser.parse_args(argv)
    try:
        lrs = parse_lrs(args.lrs) if args.lrs else log_spaced(args.lr_min, args.lr_max, args.num)
        if args.epochs < 1 or args.batch < 1 or args.jobs < 1:
            raise ValueError("--epochs, --batch and --jobs must be at least 1")
    except ValueError as err:
        print(f"nnsweep: error: {err}", file=sys.stderr)
        return 2
    sweep_dir = args.sweep_dir or default_sweep_dir(args.net, args.data, args.epochs, args.batch, args.overrides)
    try:
        with sweep_lock(sweep_dir):
            return run_sweep(args, lrs, sweep_dir)
    except SweepLockedError as err:
        print(f"nnsweep: error: {err}", file=sys.stderr)
        return 2


def run_sweep(args, lrs: list[float], sweep_dir: Path) -> int:
    """Launch the rates not finished yet, then collect the whole sweep."""
    done = finished_lrs(sweep_dir, args.epochs)
    todo = [v for v in lrs if v not in done]
    print(f"learning-rate sweep in {sweep_dir}: {len(lrs)} rates {lrs}; {len(lrs) - len(todo)} already finished")
    if todo:
        result = subprocess.run(build_command(args, todo, sweep_dir))
        if result.returncode != 0:
            print(f"nnsweep: error: the sweep stopped (exit {result.returncode}); rerun the same command to "
                  f"continue it, finished runs are kept in {sweep_dir}", file=sys.stderr)
            if not find_runs(sweep_dir):
                return result.returncode
    runs, _ = collect(sweep_dir)
    print(describe(runs))
    print(f"results: {sweep_dir / 'runs.csv'}, {sweep_dir / 'epochs.csv'}")
    if not args.no_report:
        from reports.build import build_report

        print(f"report: {build_report(sweep_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
