"""What seed racing buys, measured from recorded runs: ``make bench-race`` (``python -m bench.race``).

1. The learning-rate sweep with 5 seeds everywhere (``nnsweep sweep-lr --repeats 5``, run first if
   its directory has no tables): its decision with every seed (the leader, whether it is separated
   from every other rate, which rates are left within seed noise of it) against the race's
   (``nnsweep.sweeps.race.replay``: the same rules, seeds spent only where the answer is open, up
   to 5), over 10 replays that take the recorded seeds in 10 random orders. Nothing is trained
   again: a replay reads the recorded values.
2. A null sweep: 11 configurations that are all equal (each run: a shared seed effect plus the
   configuration's own noise, rounded to whole digits of 500), 2,000 races; how often the race
   names a winner, which would be a false one.

The tables are printed and written to ``<out>/bench-race.md``, the raw numbers to
``<out>/bench-race.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nnsweep.sweeps.race import RaceState, replay

SWEEP = Path("results/sweep-lr/rashid-mnist5k-e15-b1-seeds")
MAX_SEEDS = 5


def recorded_values(sweep_dir: Path) -> tuple[dict[str, list[float | None]], float]:
    """Each rate's best validation accuracy per seed 0 .. 4 (None: failed or diverged), and the
    validation size."""
    if not (sweep_dir / "runs.csv").is_file():
        command = [sys.executable, "-m", "nnsweep", "sweep-lr", "--repeats", str(MAX_SEEDS), "--no-lr-find"]
        subprocess.run([*command, "--no-report", "--sweep-dir", str(sweep_dir)], check=True)
    runs = pd.read_csv(sweep_dir / "runs.csv")
    values: dict[str, list[float | None]] = {}
    for lr, group in runs.groupby("lr"):
        by_seed = {int(s): v for s, v in zip(group["seed"], group["best_val_acc"])}
        if sorted(by_seed) != list(range(MAX_SEEDS)):
            raise SystemExit(f"{sweep_dir}: lr {lr} has seeds {sorted(by_seed)}, expected 0 .. {MAX_SEEDS - 1}")
        values[f"lr {lr:g}"] = [None if not np.isfinite(v) else float(v) for v in (by_seed[s] for s in range(5))]
    return values, float(runs["val_size"].min())


def decision(state: RaceState) -> tuple[str | None, bool, tuple[str, ...]]:
    return state.leader, state.winner is not None, tuple(sorted(state.tied))


def describe(state: RaceState) -> str:
    leader, won, tied = decision(state)
    return f"{leader} {'wins' if won else 'leads'}" + (f"; tied: {', '.join(tied)}" if tied else "")


def lr_replays(sweep_dir: Path, replays: int) -> dict:
    values, val_size = recorded_values(sweep_dir)
    everywhere = replay(values, list(range(MAX_SEEDS)), MAX_SEEDS, val_size, start=MAX_SEEDS)
    full_runs = len(values) * MAX_SEEDS
    orders = [list(p) for p in itertools.permutations(range(MAX_SEEDS))]
    rng = np.random.default_rng(0)
    rows = []
    for index in rng.choice(len(orders), size=min(replays, len(orders)), replace=False):
        order = orders[int(index)]  # distinct orders of the recorded seeds
        state = replay(values, order, MAX_SEEDS, val_size)
        rows.append(
            {
                "order": order,
                "runs": sum(state.seeds.values()),
                "decision": describe(state),
                "same_decision": decision(state) == decision(everywhere),
                "same_leader": state.leader == everywhere.leader,
            }
        )
    return {"sweep": str(sweep_dir), "full_runs": full_runs, "everywhere": describe(everywhere), "replays": rows}


def null_sweep(races: int, configurations: int = 11, seed_sd: float = 0.003, noise_sd: float = 0.004) -> dict:
    rng = np.random.default_rng(1)
    winners, runs = 0, []
    for _ in range(races):
        shared = rng.normal(0.0, seed_sd, MAX_SEEDS)
        values = {
            f"c{i}": [float(v) for v in np.round((0.94 + shared + rng.normal(0.0, noise_sd, MAX_SEEDS)) * 500) / 500]
            for i in range(configurations)
        }
        state = replay(values, list(range(MAX_SEEDS)), MAX_SEEDS, 500)
        winners += state.winner is not None
        runs.append(sum(state.seeds.values()))
    return {"races": races, "false_winners": winners, "rate": winners / races, "median_runs": float(np.median(runs))}


def tables(lr: dict, null: dict) -> str:
    lines = [
        f"Learning-rate sweep ({lr['sweep']}), 5 seeds everywhere ({lr['full_runs']} runs): {lr['everywhere']}",
        "",
        "| replay | seed order | runs | race's decision | same decision | same leader |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(lr["replays"]):
        lines.append(
            f"| {i + 1} | {r['order']} | {r['runs']} ({r['runs'] / lr['full_runs']:.0%}) | {r['decision']} | "
            f"{'yes' if r['same_decision'] else 'no'} | {'yes' if r['same_leader'] else 'no'} |"
        )
    lines += [
        "",
        f"Null sweep (11 equal configurations, {null['races']} races): a false winner in {null['false_winners']} "
        f"({null['rate']:.1%}); median {null['median_runs']:.0f} runs of {11 * MAX_SEEDS}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.race", description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", type=Path, default=SWEEP, help=f"a 5-seed lr sweep (default {SWEEP})")
    parser.add_argument("--replays", type=int, default=10)
    parser.add_argument("--null-races", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("results/bench-race"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lr, null = lr_replays(args.sweep, args.replays), null_sweep(args.null_races)
    (args.out / "bench-race.json").write_text(json.dumps({"lr": lr, "null": null}, indent=1) + "\n")
    text = tables(lr, null)
    (args.out / "bench-race.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
