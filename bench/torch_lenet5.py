"""PyTorch's time for the epoch ``make bench`` times nnsweep's LeNet-5 on: the same network
(conv 6@5x5, sigmoid, 2x2 mean pool, conv 16@5x5, sigmoid, mean pool, 256-120-84-10 sigmoid,
softmax cross-entropy), Adam at 1e-3, mini-batches of 32 in a shuffled order, over 50,000
Fashion-MNIST training images, on the CPU with 2 threads.

Not part of nnsweep (which never imports PyTorch): ``make bench`` runs it with the Python given
in ``NNSWEEP_TORCH_PYTHON`` (a virtualenv with ``pip install torch numpy``), side by side with
its own timing, and prints the median of the repeats. Prints one JSON line.
"""

import gzip
import json
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def images(path: str, n: int) -> np.ndarray:
    with gzip.open(path) as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return data.reshape(-1, 1, 28, 28)[:n].astype(np.float32) / 255.0


def labels(path: str, n: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)


def lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> float:
    """Seconds of one shuffled epoch of ``model`` (built after ``torch.manual_seed(seed)``), Adam 1e-3."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(len(x))
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        batch = order[i : i + batch_size]
        optimizer.zero_grad()
        loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> int:
    root, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(2)
    x = torch.from_numpy(images(f"{root}/train-images-idx3-ubyte.gz", 50_000))
    y = torch.from_numpy(labels(f"{root}/train-labels-idx1-ubyte.gz", 50_000))
    times = []
    for seed in range(repeats):
        torch.manual_seed(seed)
        times.append(epoch(lenet5(), x, y, 32, seed))
    print(
        json.dumps(
            {"seconds": statistics.median(times), "each": [round(t, 2) for t in times], "torch": torch.__version__}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
