"""What population training buys, measured: ``make bench-population`` (``python -m bench.population``).

K copies of ``make sweep-lr``'s network (Rashid's 784-100-10, sigmoid, no biases, the quadratic
cost, plain SGD) trained on 3,500 examples (the size of mnist5k's training split; uniform pixels in
0.01 .. 1, Rashid's scaling: the time of a step does not depend on the values), each copy at its own
learning rate, two ways in one process, one BLAS thread:

- apart: the K networks one after another, ``Network.train_step`` and ``SGD.step`` per mini-batch
  (what K runs of a sweep do, without their process and record-keeping costs);
- together: one ``nnsweep.nets.population.Population`` of K.

Both end with the same weights bit for bit (checked here, and in ``tests/nets/test_population.py``).
The table gives seconds per member-epoch (median of ``--repeats`` epochs) and the speed-up, for
K in 1, 3, 6, 11 and mini-batches of 1, 10 and 128. Written to ``<out>/bench-population.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from nnsweep.nets.architectures import mlp
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import SGD
from nnsweep.nets.population import Population

# make sweep-lr's network (conf/net/rashid.yaml)
RASHID = mlp([100], activation="sigmoid", loss="quadratic", bias=False)
RATES = [0.003, 0.00675, 0.0152, 0.0342, 0.077, 0.173, 0.39, 0.877, 1.97, 4.44, 10.0]


def epoch_apart(networks, optimizers, x, y, batch) -> float:
    start = time.perf_counter()
    for net, sgd in zip(networks, optimizers):
        for i in range(0, len(x), batch):
            net.train_step(x[i : i + batch], y[i : i + batch])
            sgd.step()
    return time.perf_counter() - start


def epoch_together(population, lrs, x, y, batch) -> float:
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        population.train_step(x[i : i + batch], y[i : i + batch])
        population.sgd_step(lrs)
    return time.perf_counter() - start


def measure(k: int, batch: int, x, y, repeats: int) -> dict:
    rates = RATES[:: max(1, len(RATES) // k)][:k] if k < len(RATES) else RATES
    networks = [Network(RASHID, np.random.default_rng(0)) for _ in rates]
    optimizers = [SGD(lr).bind(n.parameters()) for n, lr in zip(networks, rates)]
    population = Population([Network(RASHID, np.random.default_rng(0)) for _ in rates])
    lrs = np.array(rates)
    apart, together = [], []
    for _ in range(repeats):  # alternated, so a change in the machine's load falls on both
        apart.append(epoch_apart(networks, optimizers, x, y, batch))
        together.append(epoch_together(population, lrs, x, y, batch))
    same = all(
        np.array_equal(population.member_params(m)[key], networks[m].get_params()[key])
        for m in range(k)
        for key in networks[m].get_params()
    )
    row = {
        "k": k,
        "batch": batch,
        "apart_s_per_member_epoch": statistics.median(apart) / k,
        "together_s_per_member_epoch": statistics.median(together) / k,
        "same_weights": same,
    }
    row["speedup"] = row["apart_s_per_member_epoch"] / row["together_s_per_member_epoch"]
    print(f"  K {k:2d}, mini-batch {batch:3d}: {row}", flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| mini-batch | K | apart, s per member-epoch | together, s per member-epoch | speed-up | same weights |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        apart, together = r["apart_s_per_member_epoch"], r["together_s_per_member_epoch"]
        same = "yes" if r["same_weights"] else "NO"
        lines.append(f"| {r['batch']} | {r['k']} | {apart:.3f} | {together:.3f} | {r['speedup']:.2f}x | {same} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.population", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,3,6,11")
    parser.add_argument("--batches", default="1,10,128")
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per setting (median)")
    parser.add_argument("--examples", type=int, default=3500)
    parser.add_argument("--out", type=Path, default=Path("results/bench-population"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.01, 1.0, (args.examples, 784)).astype(np.float32)
    y = np.full((args.examples, 10), 0.01, dtype=np.float32)
    y[np.arange(args.examples), rng.integers(0, 10, args.examples)] = 0.99
    with threadpool_limits(1):  # one BLAS thread, as each job of a sweep has
        rows = [
            measure(int(k), int(b), x, y, args.repeats) for b in args.batches.split(",") for k in args.sizes.split(",")
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-population.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = table(rows)
    (args.out / "bench-population.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
