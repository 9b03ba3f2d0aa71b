"""What population training buys, measured: ``make bench-population`` (``python -m bench.population``).

K copies of ``make sweep-lr``'s network (Rashid's 784-100-10, sigmoid, no biases, the quadratic
cost, plain SGD), and of Nielsen's chapter-1 network (784-30-10, biases), trained on 3,500
examples (the size of mnist5k's training split; uniform pixels in 0.01 .. 1, Rashid's scaling: the
time of a step does not depend on the values), each copy at its own learning rate, two ways in one
process, one BLAS thread:

- apart: the K networks one after another, ``Network.train_step`` and ``SGD.step`` per mini-batch,
  as ``fit`` trains each run of a sweep (the first line of the output times ``fit`` with one
  example's weight gradient formed by ``np.dot``, as ``layers.weight_grad`` forms it, and by matmul);
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

from bench import markdown_table
from nnsweep.nets.architectures import mlp
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import SGD
from nnsweep.nets.population import Population

NETWORKS = {  # make sweep-lr's (conf/net/rashid.yaml) and Nielsen's chapter-1 network (conf/net/nielsen.yaml)
    "rashid 784-100-10": mlp([100], activation="sigmoid", loss="quadratic", bias=False),
    "nielsen 784-30-10": mlp([30], activation="sigmoid", loss="quadratic", bias=True),
}
RASHID = NETWORKS["rashid 784-100-10"]
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


def measure(network: str, k: int, batch: int, x, y, repeats: int) -> dict:
    rates = RATES[:: max(1, len(RATES) // k)][:k] if k < len(RATES) else RATES
    architecture = NETWORKS[network]
    networks = [Network(architecture, np.random.default_rng(0)) for _ in rates]
    optimizers = [SGD(lr).bind(n.parameters()) for n, lr in zip(networks, rates)]
    population = Population([Network(architecture, np.random.default_rng(0)) for _ in rates])
    lrs = np.array(rates)
    apart, together = [], []
    for _ in range(repeats):  # alternated, so a change in the machine's load falls on both
        apart.append(epoch_apart(networks, optimizers, x, y, batch))
        together.append(epoch_together(population, lrs, x, y, batch))
    same = all(
        population.member_params(m)[key].tobytes() == networks[m].get_params()[key].tobytes()
        for m in range(k)
        for key in networks[m].get_params()
    )
    row = {
        "network": network,
        "k": k,
        "batch": batch,
        "apart_s_per_member_epoch": statistics.median(apart) / k,
        "together_s_per_member_epoch": statistics.median(together) / k,
        "same_weights": same,
    }
    row["speedup"] = row["apart_s_per_member_epoch"] / row["together_s_per_member_epoch"]
    print(f"  {network}, K {k:2d}, mini-batch {batch:3d}: {row}", flush=True)
    return row


def fit_side_by_side(repeats: int) -> dict:
    """``nets.train.fit`` on mnist5k (3,500 training and 500 validation digits), the 11 rates one
    epoch each at mini-batch 1, with one example's weight gradient formed by ``np.dot``
    (``layers.weight_grad``, the default) and by ``matmul`` as before; alternated, median of
    ``repeats``; the records must be the same."""
    import nnsweep.nets.layers as layers_module
    import nnsweep.nets.train as train_module
    from nnsweep.nets.data.datasets import load_dataset
    from nnsweep.nets.schedules import make_schedule

    data, targets = load_dataset("mnist5k"), train_module.target_matrix(10, 0.99, 0.01)
    by_dot = layers_module.weight_grad

    def epoch(dot: bool) -> tuple[float, list]:
        layers_module.weight_grad = by_dot if dot else (lambda x, dy, out: np.matmul(x.T, dy, out=out))
        try:
            start, records = time.perf_counter(), []
            for lr in RATES:
                state = train_module.fit(
                    Network(RASHID, np.random.default_rng(0)),
                    SGD(lr),
                    make_schedule("constant", lr),
                    data.train,
                    data.val,
                    epochs=1,
                    batch_size=1,
                    rng=np.random.default_rng(1),
                    targets=targets,
                )
                records.append([(r.train_loss, r.val_acc) for r in state.records])
            return time.perf_counter() - start, records
        finally:
            layers_module.weight_grad = by_dot

    before, after, same = [], [], True
    for _ in range(repeats):
        (t0, r0), (t1, r1) = epoch(False), epoch(True)
        before.append(t0)
        after.append(t1)
        same = same and r0 == r1
    row = {"before_s": statistics.median(before), "after_s": statistics.median(after), "same_records": same}
    print(f"  fit, 11 rates x 1 epoch of mnist5k at mini-batch 1: {row}", flush=True)
    return row


def lenet5_bound(k: int, batch: int, x, y, repeats: int) -> dict:
    """LeNet-5 has no population (``Population`` stacks dense layers only); this bounds what one
    could buy. K members at mini-batch B that shared every call would each cost at least what an
    example costs one network at mini-batch K x B (their own weight products and Adam updates, left
    out here, come on top). Adam 1e-3 as ``conf/experiment/lenet5_adam.yaml``; seconds per example
    over at least 4 steps after an untimed first one, median of ``repeats``."""
    from nnsweep.nets.architectures import lenet5
    from nnsweep.nets.optimizers import Adam

    def per_example(size: int) -> float:
        network = Network(lenet5(), np.random.default_rng(0))
        adam = Adam(1e-3).bind(network.parameters())
        steps = max(4, len(x) // size)  # at least 4 timed steps, cycling through x
        batches = np.resize(np.arange(len(x)), (steps + 1, size))
        network.train_step(x[batches[0]], y[batches[0]])  # untimed: the first step allocates
        adam.step()
        start = time.perf_counter()
        for rows in batches[1:]:
            network.train_step(x[rows], y[rows])
            adam.step()
        return (time.perf_counter() - start) / (steps * size)

    apart, shared = [], []
    for _ in range(repeats):
        apart.append(per_example(batch))
        shared.append(per_example(k * batch))
    row = {"k": k, "batch": batch, "apart_s_per_example": statistics.median(apart)}
    row["shared_s_per_example"] = statistics.median(shared)
    row["bound"] = row["apart_s_per_example"] / row["shared_s_per_example"]
    print(f"  LeNet-5 bound, K {k:2d}, mini-batch {batch:3d}: {row}", flush=True)
    return row


def bound_table(rows: list[dict]) -> str:
    header = ["LeNet-5, mini-batch", "K", "one network, us per example", "at mini-batch K x B, us per example"]
    cells = [
        [
            str(r["batch"]),
            str(r["k"]),
            f"{r['apart_s_per_example'] * 1e6:.0f}",
            f"{r['shared_s_per_example'] * 1e6:.0f}",
        ]
        + [f"{r['bound']:.2f}x"]
        for r in rows
    ]
    return markdown_table(header + ["most a population could buy"], cells)


def table(rows: list[dict]) -> str:
    header = ["network", "mini-batch", "K", "apart, s per member-epoch", "together, s per member-epoch"]
    cells = [
        [r["network"], str(r["batch"]), str(r["k"]), f"{r['apart_s_per_member_epoch']:.3f}"]
        + [f"{r['together_s_per_member_epoch']:.3f}", f"{r['speedup']:.2f}x", "yes" if r["same_weights"] else "NO"]
        for r in rows
    ]
    return markdown_table(header + ["speed-up", "same weights"], cells)


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
        fitted = fit_side_by_side(args.repeats)
        rows = [
            measure(network, int(k), int(b), x, y, args.repeats)
            for network in NETWORKS
            for b in args.batches.split(",")
            for k in args.sizes.split(",")
        ]
        lenet_x = x[:1408].reshape(-1, 784)  # 11 x 128: whole mini-batches at every K x B
        lenet_y = np.zeros((len(lenet_x), 10), dtype=np.float32)
        lenet_y[np.arange(len(lenet_x)), y[: len(lenet_x)].argmax(axis=1)] = 1.0
        bounds = [
            lenet5_bound(int(k), int(b), lenet_x, lenet_y, args.repeats)
            for b in args.batches.split(",")
            for k in args.sizes.split(",")
            if int(k) > 1
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"fit": fitted, "population": rows, "lenet5_bound": bounds}
    (args.out / "bench-population.json").write_text(json.dumps(record, indent=1) + "\n")
    text = (
        f"nets.train.fit, make sweep-lr's 11 rates x 1 epoch of mnist5k at mini-batch 1 (one BLAS thread): "
        f"{fitted['before_s']:.2f} s with one example's weight gradient formed by matmul, {fitted['after_s']:.2f} s "
        f"by np.dot ({fitted['before_s'] / fitted['after_s']:.2f}x); same records: "
        f"{'yes' if fitted['same_records'] else 'NO'}\n\n" + table(rows) + "\n" + bound_table(bounds)
    )
    (args.out / "bench-population.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
