"""PyTorch's time for the epoch ``make bench`` times nnsweep's ``fashion_cnn`` preset on: the same
network (3x3 same-padded convolutions 32, 32, 2x2 max pool, 64, 64, max pool, each followed by
batch normalisation and ReLU, dropout 0.25 after each pool, dense 256 with ReLU and dropout 0.5,
dense 10, softmax cross-entropy), Adam at 1e-3 (the cosine schedule's rate in its first epoch),
mini-batches of 64 in a shuffled order, over the first 50,000 Fashion-MNIST training images, on
the CPU with 2 threads, float32; then its accuracy on the last 10,000 (nnsweep's validation
split), untimed.

Not part of nnsweep (which never imports PyTorch): ``make bench`` runs it with the Python given
in ``NNSWEEP_TORCH_PYTHON`` beside its own timing. Usage: ``torch_fashion_cnn.py <idx dir>
[repeats] [first seed]``; prints one JSON line with the medians.
"""

import json
import statistics
import sys

import torch
from torch import nn
from torch_lenet5 import epoch, images, labels  # this script's directory is on sys.path

TRAIN, VALIDATION = 50_000, 10_000


def block(inputs: int, filters: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, filters, 3, padding=1), nn.BatchNorm2d(filters, eps=1e-5, momentum=0.1), nn.ReLU()]


def fashion_cnn() -> nn.Module:
    return nn.Sequential(
        *block(1, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        *block(32, 64),
        *block(64, 64),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main() -> int:
    root, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    first_seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    torch.set_num_threads(2)
    x = torch.from_numpy(images(f"{root}/train-images-idx3-ubyte.gz", TRAIN + VALIDATION))
    y = torch.from_numpy(labels(f"{root}/train-labels-idx1-ubyte.gz", TRAIN + VALIDATION))
    times, accuracies = [], []
    for seed in range(first_seed, first_seed + repeats):
        torch.manual_seed(seed)
        model = fashion_cnn()
        times.append(epoch(model, x[:TRAIN], y[:TRAIN], 64, seed))
        accuracies.append(accuracy(model, x[TRAIN:], y[TRAIN:]))
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "each": [round(t, 2) for t in times],
                "val_accuracy": statistics.median(accuracies),
                "torch": torch.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
