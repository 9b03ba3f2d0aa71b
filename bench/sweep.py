"""What pruning and the search engines buy, measured: ``make bench-sweep`` (``python -m bench.sweep``).

On the embedded 5,000 digits, for a sigmoid MLP trained with SGD, 27 epochs at most, the space
of the issue that asked for the pruner:

    optimizer.lr   log-uniform 0.01 .. 10
    optimizer.l2   uniform 0 .. 10        (Nielsen's L2 lambda)
    net.hidden.0   integer 10 .. 300

1. A 27-trial random search without and with successive halving (min 1 epoch, eta 3), for
   three search seeds: best validation accuracy, epochs trained and wall time of each.
   Goals: the pruned search's best within 0.3 points of the unpruned one's, with at most 35% of
   its epochs and 45% of its wall time. Check: the pruner replayed on the unpruned search's
   record (``nnsweep.sweeps.audit``, as ``nnsweep audit-pruning`` does) prunes exactly the trials
   the real pruned search of the same seed pruned, after as many epochs.
2. The engines at an equal budget of 27 trials, all pruned the same way: random, GP
   (scikit-optimize) and TPE (Optuna), the same three seeds.

Each search runs as a user would start it (``nnsweep train -m ...``, two trials at a
time with joblib) into a fresh directory under ``--out``; its wall time is the command's. The
table, with medians over the seeds, is printed and written to ``<out>/bench-sweep.md``, the raw
numbers to ``<out>/bench-sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SPACE = [
    "net=mlp",
    "net.activation=sigmoid",
    "optimizer=sgd",
    "optimizer.lr=tag(log, interval(0.01, 10.0))",
    "optimizer.l2=interval(0.0, 10.0)",
    "net.hidden.0=int(interval(10, 300))",
    "trainer.progress=false",
]
ASHA = [
    "hydra.sweeper.pruner.method=asha",
    "hydra.sweeper.pruner.min_epochs=1",
    "hydra.sweeper.pruner.reduction_factor=3",
]


def search_command(sweep_dir: Path, engine: str, seed: int, trials: int, epochs: int, *extra: str) -> list[str]:
    """The command of one search of this space, as a user would start it: two trials at a time."""
    return [
        sys.executable,
        "-m",
        "nnsweep.experiments.train",
        "-m",
        "hydra/sweeper=nnsweep",
        f"hydra.sweeper.engine={engine}",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.batch_size=2",
        f"hydra.sweeper.seed={seed}",
        "hydra.launcher.n_jobs=2",
        f"trainer.epochs={epochs}",
        *SPACE,
        *extra,
        f"hydra.sweep.dir={sweep_dir}",
    ]


def run_search(out: Path, engine: str, pruned: bool, seed: int, trials: int, epochs: int) -> dict:
    """One search from scratch; its best validation accuracy, epochs trained and wall time."""
    name = f"{engine}-{'asha' if pruned else 'full'}-s{seed}"
    sweep_dir = out / name
    shutil.rmtree(sweep_dir, ignore_errors=True)
    command = search_command(sweep_dir, engine, seed, trials, epochs, *(ASHA if pruned else []))
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{name} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    runs = pd.read_csv(sweep_dir / "runs.csv")
    done = runs[runs["status"] != "pruned"]
    row = {
        "search": name,
        "engine": engine,
        "pruned": pruned,
        "seed": seed,
        "seconds": round(seconds, 1),
        "epochs": int(runs["epochs_completed"].sum()),
        "best_val_acc": float(done["best_val_acc"].max()),
        "n_pruned": int((runs["status"] == "pruned").sum()),
    }
    print(f"  {name}: best val {row['best_val_acc']:.2%}, {row['epochs']} epochs, {seconds:.0f} s", flush=True)
    return row


def replay_check(full: Path, pruned: Path) -> str:
    """Whether the pruner replayed on ``full``'s record prunes exactly what it pruned in ``pruned``."""
    from nnsweep.core.status import Status
    from nnsweep.reports.tables import load_tables
    from nnsweep.sweeps import trials as trial_log
    from nnsweep.sweeps.audit import load_curves, replay
    from nnsweep.sweeps.pruning import Pruner

    tables = load_tables(full)
    replayed = replay(load_curves(full, tables.runs, tables.epochs), Pruner("asha", 1, 3))
    real_log = trial_log.load(pruned)
    real = {t.number for t in real_log.trials if t.status == Status.PRUNED}
    same_points = [t.point for t in trial_log.load(full).trials] == [t.point for t in real_log.trials]
    epochs = int(load_tables(pruned).runs["epochs_completed"].sum())
    if same_points and replayed.pruned == real and replayed.epochs_trained == epochs:
        return f"the same {len(real)} trials pruned after {epochs} epochs"
    return (
        f"DIFFERS: replay pruned {sorted(replayed.pruned)} in {replayed.epochs_trained} epochs, "
        f"the search {sorted(real)} in {epochs}" + ("" if same_points else " (other points)")
    )


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def tables(rows: list[dict], trials: int) -> str:
    """The two markdown tables of the README, medians over the seeds last."""

    def pick(engine, pruned):
        return [r for r in rows if r["engine"] == engine and r["pruned"] == pruned]

    full, asha = pick("random", False), pick("random", True)
    lines = [
        f"Random search, {trials} trials, with and without successive halving (min 1 epoch, eta 3):",
        "",
        "| seed | best val, full | best val, ASHA | difference (points) | epochs, ASHA / full | "
        "wall time, ASHA / full | pruner replayed on the full search |",
        "|---|---|---|---|---|---|---|",
    ]
    for f, a in zip(full, asha):
        lines.append(
            f"| {f['seed']} | {f['best_val_acc']:.2%} | {a['best_val_acc']:.2%} | "
            f"{100 * (a['best_val_acc'] - f['best_val_acc']):+.1f} | {a['epochs']} / {f['epochs']} "
            f"({a['epochs'] / f['epochs']:.0%}) | {a['seconds']:.0f} s / {f['seconds']:.0f} s "
            f"({a['seconds'] / f['seconds']:.0%}) | {a.get('replay', 'not checked')} |"
        )
    if full and asha:
        lines.append(
            f"| median | {median(full, 'best_val_acc'):.2%} | {median(asha, 'best_val_acc'):.2%} | "
            f"{100 * statistics.median(a['best_val_acc'] - f['best_val_acc'] for f, a in zip(full, asha)):+.1f}"
            f" | {statistics.median(a['epochs'] / f['epochs'] for f, a in zip(full, asha)):.0%} | "
            f"{statistics.median(a['seconds'] / f['seconds'] for f, a in zip(full, asha)):.0%} | |"
        )
    lines += [
        "",
        f"Engines at an equal budget ({trials} trials, pruned alike; medians over the seeds):",
        "",
        "| engine | best val (each seed) | median best val | median wall time |",
        "|---|---|---|---|",
    ]
    for engine in ("random", "gp", "tpe"):
        got = pick(engine, True)
        if got:
            each = ", ".join(f"{r['best_val_acc']:.2%}" for r in got)
            lines.append(f"| {engine} | {each} | {median(got, 'best_val_acc'):.2%} | {median(got, 'seconds'):.0f} s |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="search seeds (default 0,1,2)")
    parser.add_argument("--trials", type=int, default=27)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--engines", default="random,gp,tpe", help="engines compared at equal budget")
    parser.add_argument("--out", type=Path, default=Path("results/bench-sweep"))
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in seeds:  # the unpruned and pruned search of a seed back to back: alike machine load
        rows.append(run_search(args.out, "random", False, seed, args.trials, args.epochs))
        rows.append(run_search(args.out, "random", True, seed, args.trials, args.epochs))
        rows[-1]["replay"] = replay_check(args.out / rows[-2]["search"], args.out / rows[-1]["search"])
        print(f"  replayed on the unpruned record: {rows[-1]['replay']}", flush=True)
    for engine in [e for e in args.engines.split(",") if e != "random"]:
        for seed in seeds:
            rows.append(run_search(args.out, engine, True, seed, args.trials, args.epochs))
    (args.out / "bench-sweep.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = tables(rows, args.trials)
    (args.out / "bench-sweep.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
