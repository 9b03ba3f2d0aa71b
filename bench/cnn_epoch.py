"""One training epoch of a preset network over the 50,000 Fashion-MNIST training images, with
where the time goes: ``python -m bench.cnn_epoch [--experiment fashion_cnn] [--repeats 3]``.

The network, optimizer and mini-batch size come from the preset (``conf/experiment/<name>.yaml``,
composed as ``nnsweep.experiments.train`` composes it); the epoch is ``nnsweep.nets.train.fit``'s.
Each layer's forward and backward pass is timed, and the time is split into convolution forward,
convolution backward and the rest (pooling, activations, batch normalisation, dense layers, the
optimizer, shuffling). After the timed epoch, the validation accuracy (the last 10,000 training
images), untimed, in mini-batches of the training's size. The peak resident size is the process's
own high-water mark (``VmHWM``) at the end of each epoch, before that evaluation, so run one preset
per process, as ``make bench`` does. Not ``ru_maxrss``: Linux keeps in it the peak of the process
that started this one (``make bench``'s, 741 MB, where this epoch's own was 562 MB). Prints one
JSON line: the median run (the lower of the two middle ones for an even count), each run's seconds,
the largest peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict

import numpy as np

from nnsweep.experiments.build import architecture_of, build_optimizer, build_schedule, load_data
from nnsweep.nets.conv import Conv2D
from nnsweep.nets.network import Network
from nnsweep.nets.train import fit, target_matrix
from tests.experiments.conftest import compose_config


def timed_layers(network: Network, spent: dict[str, float]) -> None:
    """Wrap every layer's forward and backward so their time adds up in ``spent``."""
    for layer in network.layers:
        kind = "conv" if isinstance(layer, Conv2D) else "rest"
        for phase in ("forward", "backward"):
            original = getattr(layer, phase)

            def timed(*args, _original=original, _key=f"{kind} {phase}", **kwargs):
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    spent[_key] += time.perf_counter() - start

            setattr(layer, phase, timed)


def epoch(experiment: str, seed: int) -> dict[str, float]:
    cfg = compose_config([f"experiment={experiment}"])
    data = load_data(cfg)
    rng = np.random.default_rng(seed)
    network = Network(architecture_of(cfg.net), rng)
    network.set_rng(rng)
    optimizer = build_optimizer(cfg, len(data.train) // cfg.trainer.batch_size)
    spent: dict[str, float] = defaultdict(float)
    timed_layers(network, spent)
    start = time.perf_counter()
    fit(
        network,
        optimizer,
        build_schedule(cfg),
        data.train,
        None,
        epochs=1,
        batch_size=cfg.trainer.batch_size,
        rng=rng,
        targets=target_matrix(10),
    )
    total = time.perf_counter() - start
    spent = dict(spent)  # the evaluation below is timed by the same wrappers: not part of the epoch
    peak_rss_mb = peak_resident_mb()  # the epoch's, not the evaluation's
    return {
        "seconds": total,
        # In mini-batches of training's size, so that a later repeat's peak is not this pass's.
        "val_accuracy": float((network.predict(data.val.x, cfg.trainer.batch_size) == data.val.labels).mean()),
        "conv forward": spent["conv forward"],
        "conv backward": spent["conv backward"],
        "rest": total - spent["conv forward"] - spent["conv backward"],
        "images": len(data.train),
        "peak_rss_mb": peak_rss_mb,
    }


def peak_resident_mb() -> float:
    """This process's largest resident size so far, in MB (its own, not its parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: may include the parent's


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="fashion_cnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="the first repeat's seed (the others follow it)")
    args = parser.parse_args(argv)
    runs = [epoch(args.experiment, seed) for seed in range(args.seed, args.seed + args.repeats)]
    median = dict(sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2])  # one run: its parts add up
    median["each"] = [round(r["seconds"], 2) for r in runs]
    median["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    median["experiment"] = args.experiment
    print(json.dumps(median))
    return 0


if __name__ == "__main__":
    sys.exit(main())
