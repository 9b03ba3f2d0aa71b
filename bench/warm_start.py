"""What a warm start buys, measured: ``make bench-warm-start`` (``python -m bench.warm_start``).

On ``make bench-sweep``'s space (a sigmoid MLP with SGD on the embedded 5,000 digits: learning
rate log-uniform 0.01 .. 10, L2 0 .. 10, hidden units 10 .. 300), unpruned, for each engine and
search seed:

- ``earlier``: a finished 20-trial search;
- ``cold``: the 40-trial search of the same seed, from scratch (its first 20 trials are
  ``earlier``'s: checked);
- ``warm``: a new 20-trial search with ``hydra.sweeper.warm_start=<earlier>``.

The question: does ``warm`` reach ``cold``'s best (its best validation accuracy over 40 trials)
within fewer new trials than ``cold`` needed from scratch? The table gives, per seed, the trial at
which ``cold`` first reached its best, and the new trials ``warm`` needed to reach it (0: one of
the told trials already had it; "not in 20": it did not). Searches run two trials at a time, as
``make bench-sweep``'s do. The table is printed and written to ``<out>/bench-warm-start.md``, the raw
numbers to ``<out>/bench-warm-start.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.sweep import search_command

TRIALS = 20


def search(sweep_dir: Path, engine: str, seed: int, trials: int, epochs: int, *extra: str) -> list[float]:
    """Run (or continue) one search; its trials' objectives in the order asked (failed: -inf)."""
    command = search_command(sweep_dir, engine, seed, trials, epochs, "hydra.sweeper.live_report=false", *extra)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{sweep_dir} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    log = json.loads((sweep_dir / "trials.json").read_text())
    return [t["objective"] if t["objective"] is not None else float("-inf") for t in log["trials"]]


def first_reaching(values: list[float], target: float) -> int | None:
    """The 1-based number of the first value at or above ``target``, or None."""
    return next((i + 1 for i, v in enumerate(values) if v >= target - 1e-12), None)


def measure(out: Path, engine: str, seed: int, epochs: int) -> dict:
    earlier, cold, warm = (out / f"{engine}-s{seed}-{kind}" for kind in ("earlier", "cold", "warm"))
    for directory in (earlier, cold, warm):
        shutil.rmtree(directory, ignore_errors=True)
    earlier_values = search(earlier, engine, seed, TRIALS, epochs)
    cold_values = search(cold, engine, seed, 2 * TRIALS, epochs)
    if cold_values[:TRIALS] != earlier_values:
        raise SystemExit(f"{cold}'s first {TRIALS} trials differ from {earlier}'s: the searches do not replay")
    warm_values = search(warm, engine, seed, TRIALS, epochs, f"hydra.sweeper.warm_start={earlier}")
    told = json.loads((warm / "trials.json").read_text()).get("warm_start", [])
    target = max(cold_values)
    row = {
        "engine": engine,
        "seed": seed,
        "cold_best": target,
        "cold_trials_to_best": first_reaching(cold_values, target),
        "told": len(told),
        "told_best": max((w["objective"] for w in told), default=None),
        "warm_new_trials_to_cold_best": 0
        if told and max(w["objective"] for w in told) >= target - 1e-12
        else first_reaching(warm_values, target),
        "warm_best": max([*warm_values, *(w["objective"] for w in told)]),
    }
    print(f"  {engine} seed {seed}: {row}", flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        f"| engine | seed | cold {2 * TRIALS}-trial best | cold: trials to reach it | warm: earlier trials told | "
        f"warm: new trials to reach it | warm best (told + {TRIALS} new) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reached = r["warm_new_trials_to_cold_best"]
        lines.append(
            f"| {r['engine']} | {r['seed']} | {r['cold_best']:.2%} | {r['cold_trials_to_best']} | {r['told']} | "
            f"{'not in ' + str(TRIALS) if reached is None else reached} | {r['warm_best']:.2%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warm_start", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="search seeds (default 0,1,2)")
    parser.add_argument("--engines", default="tpe,gp", help="engines (default tpe,gp)")
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--out", type=Path, default=Path("results/bench-warm-start"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [
        measure(args.out, engine, int(seed), args.epochs)
        for engine in args.engines.split(",")
        for seed in args.seeds.split(",")
    ]
    (args.out / "bench-warm-start.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = table(rows)
    (args.out / "bench-warm-start.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
