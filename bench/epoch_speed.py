"""Time one training epoch over 50,000 Fashion-MNIST images: the engine against a plain NumPy loop.

Run with ``make bench`` (or ``python -m bench.epoch_speed``). Prints a table of median seconds per
epoch over several repeats, the engine/reference ratio, and validation accuracy after the epoch.

The reference is the 20-line loop anyone would write for Rashid's 784-100-10 sigmoid network
(no biases, quadratic cost, plain SGD); the engine trains the same network (``reference_network``,
built with ``nnsweep.nets.architectures.mlp``) with the same seed, data order and learning rate. Repeats of the
two alternate, so slow phases of a shared machine hit both alike. The goals (issue 2): engine
<= 1.2x the reference at mini-batch 1, 10 and 128, and LeNet-5 at mini-batch 32 <= 7 s.

Then LeNet-5 against PyTorch (issue 14: at most PyTorch's time): with ``NNSWEEP_TORCH_PYTHON``
naming a Python that has torch (``python -m venv /tmp/torch && /tmp/torch/bin/pip install torch
numpy``; here ``pip install torch==2.13.0`` takes the CPU build on disk), ``bench/torch_lenet5.py``
times the same network, optimizer, mini-batch and 50,000 images with 2 threads; nnsweep's and
PyTorch's repeats alternate. And the Fashion preset (``experiment=fashion_cnn``, issue 28: at most
PyTorch's time): its epoch (``bench/cnn_epoch.py``) split into convolution forward, backward and
the rest, with the validation accuracy after it and the peak resident size of a process that
trains it, alternating with PyTorch's epoch of the same network (``bench/torch_fashion_cnn.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from bench import markdown_table
from nnsweep.nets.architectures import lenet5, mlp
from nnsweep.nets.data.datasets import DEFAULT_DIRS, load_dataset
from nnsweep.nets.network import Network
from nnsweep.nets.optimizers import make_optimizer
from nnsweep.nets.schedules import make_schedule
from nnsweep.nets.train import fit, target_matrix

LR = {1: 0.1, 10: 0.3, 128: 3.0}  # sensible plain-SGD rates per mini-batch size for this network


def reference_network() -> dict:
    """The network ``reference_epoch`` computes, as the engine builds it: Rashid's 784-100-10,
    sigmoid, no biases, N(0, 1/fan_in) weights, quadratic cost (``conf/net/rashid.yaml``)."""
    return mlp([100], "sigmoid", loss="quadratic", init="normal_fan_in", bias=False)


def reference_epoch(X, Y, W1, W2, lr, batch, rng):
    """Rashid's network, vectorised over the mini-batch: what a careful hand-written loop does."""
    perm = rng.permutation(len(X))
    X, Y = X[perm], Y[perm]
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], Y[i : i + batch]
        h = expit(x @ W1)
        o = expit(h @ W2)
        d2 = (o - y) * o * (1 - o)
        d1 = (d2 @ W2.T) * h * (1 - h)
        W2 -= (lr / len(x)) * (h.T @ d2)
        W1 -= (lr / len(x)) * (x.T @ d1)


def reference_accuracy(X, labels, W1, W2) -> float:
    return float((expit(expit(X @ W1) @ W2).argmax(1) == labels).mean())


def engine_epoch(description, optimizer, lr, batch, data, seed):
    """One epoch of ``nnsweep.nets.train.fit``; returns (seconds, network)."""
    rng = np.random.default_rng(seed)
    net = Network(description, rng)
    opt = make_optimizer(optimizer, lr=lr)
    start = time.perf_counter()
    fit(
        net,
        opt,
        make_schedule("constant", lr),
        data.train,
        None,
        epochs=1,
        batch_size=batch,
        rng=rng,
        targets=target_matrix(10),
    )
    return time.perf_counter() - start, net


def run(repeats: int, batch_one_repeats: int, root: str, lenet_repeats: int) -> int:
    try:
        data = load_dataset("fashion", root=root)
    except (ValueError, OSError) as err:
        print(f"bench skipped: {err}", file=sys.stderr)
        return 0
    targets = target_matrix(10)
    X, Y = data.train.x, targets[data.train.labels]
    rows = []
    for batch in (1, 10, 128):
        lr = LR[batch]
        ref_times, eng_times = [], []
        for rep in range(batch_one_repeats if batch == 1 else repeats):
            rng = np.random.default_rng(rep)  # as in engine_epoch: weights first, then the data order
            W1, W2 = (p.copy() for p in Network(reference_network(), rng).get_params().values())
            start = time.perf_counter()
            reference_epoch(X, Y, W1, W2, lr, batch, rng)
            ref_times.append(time.perf_counter() - start)
            seconds, net = engine_epoch(reference_network(), "sgd", lr, batch, data, rep)
            eng_times.append(seconds)
        ref, eng = statistics.median(ref_times), statistics.median(eng_times)
        rows.append(
            (
                f"784-100-10 sigmoid, SGD, mini-batch {batch}",
                ref,
                eng,
                reference_accuracy(data.val.x, data.val.labels, W1, W2),
                float((net.predict(data.val.x) == data.val.labels).mean()),
            )
        )
    lenet_times, torch_times = [], []
    torch_python = os.environ.get("NNSWEEP_TORCH_PYTHON")
    for rep in range(lenet_repeats):
        seconds, net = engine_epoch(lenet5(), "adam", 1e-3, 32, data, rep)
        lenet_times.append(seconds)
        if torch_python:
            out = subprocess.run(
                [torch_python, str(Path(__file__).with_name("torch_lenet5.py")), root, "1"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            torch_times.append(json.loads(out)["seconds"])
    rows.append(
        (
            "LeNet-5 sigmoid, mean pool, Adam, mini-batch 32",
            statistics.median(torch_times) if torch_times else None,
            statistics.median(lenet_times),
            None,
            float((net.predict(data.val.x) == data.val.labels).mean()),
        )
    )

    print(
        f"One epoch over {len(data.train):,} Fashion-MNIST images; medians of "
        f"{repeats} repeats ({batch_one_repeats} at mini-batch 1, {lenet_repeats} for LeNet-5)."
    )
    print("Validation accuracy is on the 10,000 held-out training images after that one epoch.\n")
    print("The reference of LeNet-5 is PyTorch's time for the same epoch (NNSWEEP_TORCH_PYTHON), if given.\n")
    print("| network | reference loop (s) | engine (s) | engine / reference | val acc (ref / engine) |")
    print("|---|---|---|---|---|")
    for name, ref, eng, ref_acc, eng_acc in rows:
        if ref is None:
            print(f"| {name} | - | {eng:.2f} | - | - / {eng_acc:.1%} |")
        elif ref_acc is None:
            print(f"| {name} | {ref:.2f} (PyTorch) | {eng:.2f} | {eng / ref:.2f}x | - / {eng_acc:.1%} |")
        else:
            print(f"| {name} | {ref:.2f} | {eng:.2f} | {eng / ref:.2f}x | {ref_acc:.1%} / {eng_acc:.1%} |")
    fashion_cnn_rows(root, lenet_repeats, torch_python)
    return 0


def fashion_cnn_rows(root: str, repeats: int, torch_python: str | None) -> None:
    """The ``fashion_cnn`` preset's epoch (``bench/cnn_epoch.py``, one process a repeat, so each
    peak resident size is its own) alternating with PyTorch's (``bench/torch_fashion_cnn.py``)."""
    ours, theirs = [], []
    for seed in range(repeats):
        cmd = [sys.executable, "-m", "bench.cnn_epoch", "--experiment", "fashion_cnn", "--repeats", "1"]
        out = subprocess.run([*cmd, "--seed", str(seed)], capture_output=True, text=True, check=True).stdout
        ours.append(json.loads(out.strip().splitlines()[-1]))
        if torch_python:
            cmd = [torch_python, str(Path(__file__).with_name("torch_fashion_cnn.py")), root, "1", str(seed)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            theirs.append(json.loads(out.stdout))
    print(f"\nThe fashion_cnn preset, {ours[0]['images']:,} images; medians of {repeats} epochs, alternating.\n")
    header = ["", "epoch (s)", "val acc", "conv forward", "conv backward", "rest", "peak resident size"]
    share = {k: statistics.median(r[k] / r["seconds"] for r in ours) for k in ("conv forward", "conv backward", "rest")}
    rows = [
        ["nnsweep", _median_and_each(ours), f"{statistics.median(r['val_accuracy'] for r in ours):.1%}"]
        + [f"{share[k]:.0%}" for k in ("conv forward", "conv backward", "rest")]
        + [f"{max(r['peak_rss_mb'] for r in ours):.0f} MB"]
    ]
    if theirs:
        accuracy = statistics.median(r["val_accuracy"] for r in theirs)
        rows.append([f"PyTorch {theirs[0]['torch']}", _median_and_each(theirs), f"{accuracy:.1%}", "", "", "", ""])
    print(markdown_table(header, rows), end="")
    if theirs:
        ratio = statistics.median(r["seconds"] for r in ours) / statistics.median(r["seconds"] for r in theirs)
        print(f"\nnnsweep / PyTorch: {ratio:.2f}x (2 threads each).")


def _median_and_each(runs: list[dict]) -> str:
    each = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    return f"{statistics.median(r['seconds'] for r in runs):.1f} ({each})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats at mini-batch 10 and 128 (default 5)")
    parser.add_argument("--batch-one-repeats", type=int, default=3, help="repeats at mini-batch 1 (default 3)")
    parser.add_argument("--lenet-repeats", type=int, default=3, help="LeNet-5 repeats (default 3)")
    parser.add_argument("--root", default=DEFAULT_DIRS["fashion"], help="Fashion-MNIST IDX directory")
    args = parser.parse_args(argv)
    if not Path(args.root).is_dir():
        print(
            f"bench skipped: no Fashion-MNIST in {args.root}; install it with "
            "`apt-get install dataset-fashion-mnist` or pass --root",
            file=sys.stderr,
        )
        return 0
    return run(args.repeats, args.batch_one_repeats, args.root, args.lenet_repeats)


if __name__ == "__main__":
    sys.exit(main())
