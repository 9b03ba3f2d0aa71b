"""The classic from-scratch MNIST projects, as runs to train and the published numbers beside them.

One catalogue, read by the runner (``nnsweep.sweeps.classics_runner``: what to train) and the
page (``nnsweep.reports.classics``: what to compare). Each classic setup is trained on the data
its author used and the way the author did where that differs from nnsweep's defaults:

- Rashid trained on all 60,000 training images and tested the final weights after each
  experiment; so do these runs (``data.val_size=0``: the test set is scored every epoch, in
  validation's place; ``trainer.restore_best=false``). One run of 7 epochs gives what his
  separate 1-, 2-, ... 7-epoch runs gave: with a constant rate and one seed, the first k epochs
  of a longer run are the k-epoch run.
- Nielsen and the NumPy MLP table: 50,000 training images, 10,000 for validation, the test set
  at the best validation epoch (Nielsen's split; he read the test set each epoch himself).
- The NumPy LeNet-5 project: 60,000 training images, 20 epochs, the final epoch's weights.
- Olin's QEA project: its feed-forward network on 60,000 images, and its CNN on 2 and 5 images
  over a grid of learning rate x initial weight scale, to see where training diverges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Section(StrEnum):
    """A project: one section of the page."""

    rashid = "Rashid, Make Your Own Neural Network"
    nielsen = "Nielsen, Neural Networks and Deep Learning"
    mlp = "The NumPy MLP table"
    lenet5 = "The NumPy LeNet-5 with Adam and augmentation"
    olin = "Olin's QEA project"
    draw = "The draw page's model"


class Measure(StrEnum):
    """Which of a run's numbers a row compares."""

    test = "test accuracy"  # summary.json: the weights training kept (best validation, or final)
    epoch = "test accuracy after the row's epoch"  # metrics.csv, of a run scored on the test set
    halves = "test accuracy, first and last 5,000"  # nnsweep evaluate with the final weights
    best_cell = "the best test accuracy over the runs and their epochs"  # runs scored on the test set
    divergence = "whether training diverged"  # summary.json: its loss went to inf or NaN


@dataclass(frozen=True)
class Published:
    """What the author published: the number (a fraction; None where the claim is in words),
    how they wrote it, the time it took them, and where it is."""

    value: float | None
    text: str
    time: str
    source: str
    second: float | None = None  # the last 5,000 test images' accuracy, for Measure.halves
    bar: bool = False  # the value is a bar to reach ("at least"), not a result to match


@dataclass(frozen=True)
class ClassicRun:
    """One training run: its directory, ``<group>/<key>`` (each group a folder of runs that
    ``nnsweep report`` reads as a sweep), its ``nnsweep train`` overrides (always on the full
    MNIST), its epochs, and a guess of its seconds on one core (to start the longest first)."""

    key: str
    group: str
    overrides: tuple[str, ...]
    epochs: int
    seconds: float
    evaluate_final: bool = False  # also nnsweep evaluate weights=final (the test halves)

    @property
    def scores_test_set(self) -> bool:
        return "data.val_size=0" in self.overrides

    def arguments(self, epochs: int | None = None) -> list[str]:
        return ["data=mnist", *self.overrides, f"trainer.epochs={epochs or self.epochs}"]


@dataclass(frozen=True)
class ClassicRow:
    """One line of the page: a published claim and the runs (and number) it is set against."""

    section: Section
    label: str
    setup: str
    runs: tuple[str, ...]
    published: Published
    measure: Measure = Measure.test
    epoch: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    seeds: tuple[str, ...] = ()  # the same setup with other first weights: how far one run is from another


RASHID_DATA = ("data.val_size=0", "trainer.restore_best=false")
# His code's own training: the hidden layer's error without the output sigmoid's derivative
# (nets.losses.RashidQuadraticCost), the images in the file's order every epoch.
RASHID_CODE = ("net.loss=rashid_quadratic", "trainer.shuffle=false")
# The first weights of the code printed in his book (std 1/sqrt(nodes fed)), whose numbers the
# one-epoch rows quote; the epochs and 200-node rows quote his notebook, whose code draws them as
# nnsweep's rashid network does (std 1/sqrt(nodes feeding)).
RASHID_BOOK_INIT = "net.init=normal_fan_out"
RASHID_RATES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.6)
RASHID_200_RATES = (0.05, 0.1, 0.2, 0.3)
RASHID_EPOCHS = 7
RASHID_SEEDS = (1, 2, 3)  # more first weights for the one-epoch runs his book quotes
RASHID_LR_PUBLISHED = {0.01: 0.9241, 0.1: 0.9523, 0.6: 0.9047}  # the book's learning-rate experiment
OLIN_IMAGES = (2, 5)
OLIN_RATES = (0.0001, 0.001, 0.01, 0.1)
OLIN_GAINS = (1.0, 3.0, 10.0)
OLIN_EPOCHS = 50
OLIN_CNN = (
    "net=cnn",
    "net.channels=[8,16]",
    "net.kernel=5",
    "net.padding=same",
    "net.pool=max",
    "net.activation=leaky_relu",
    "net.dense=[]",
    "net.init=normal_fan_in",
    "optimizer=sgd",
    "schedule=constant",
    "trainer.batch_size=1",
    "data.val_size=1000",
)


def rashid_key(lr: float, hidden: int = 100, epochs: int = 1, gradient: bool = False, seed: int = 0) -> str:
    return f"rashid-h{hidden}-lr{lr:g}-e{epochs}" + ("-gradient" if gradient else "") + (f"-seed{seed}" if seed else "")


def rashid_seeds(lr: float) -> tuple[str, ...]:
    """The one-epoch run at ``lr`` and its other seeds (the first weights; his order has no seed)."""
    return tuple(rashid_key(lr, seed=seed) for seed in (0, *RASHID_SEEDS))


def olin_key(images: int, lr: float, gain: float) -> str:
    return f"olin-cnn-{images}img-lr{lr:g}-gain{gain:g}"


# Long on purpose: the catalogue of runs, one record per setup in the order of the page; split, it would
# scatter what a reader compares line by line.
def _runs() -> tuple[ClassicRun, ...]:
    rashid = "experiment=rashid_exp1"
    runs = [
        ClassicRun(
            rashid_key(lr),
            "rashid-lr",
            (rashid, f"optimizer.lr={lr}", *RASHID_DATA, *RASHID_CODE, RASHID_BOOK_INIT),
            1,
            8,
        )
        for lr in RASHID_RATES
    ]
    runs += [  # the rates his book quotes, with other first weights: how much one run says
        ClassicRun(
            rashid_key(lr, seed=seed),
            "rashid-lr-seeds",
            (rashid, f"optimizer.lr={lr}", *RASHID_DATA, *RASHID_CODE, RASHID_BOOK_INIT, f"trainer.seed={seed}"),
            1,
            8,
        )
        for lr in (0.3, *RASHID_LR_PUBLISHED)
        for seed in RASHID_SEEDS
    ]
    runs += [  # the same with the true gradient and shuffled epochs: only the error rule differs
        ClassicRun(
            rashid_key(lr, gradient=True),
            "rashid-lr-gradient",
            (rashid, f"optimizer.lr={lr}", *RASHID_DATA, RASHID_BOOK_INIT),
            1,
            8,
        )
        for lr in RASHID_RATES
    ]
    runs.append(
        ClassicRun(
            rashid_key(0.1, epochs=RASHID_EPOCHS),
            "rashid-epochs",
            (rashid, "optimizer.lr=0.1", *RASHID_DATA, *RASHID_CODE),
            RASHID_EPOCHS,
            55,
        )
    )
    runs += [
        ClassicRun(
            rashid_key(lr, 200, RASHID_EPOCHS),
            "rashid-200",
            (rashid, "net.hidden=[200]", f"optimizer.lr={lr}", *RASHID_DATA, *RASHID_CODE),
            RASHID_EPOCHS,
            85,
        )
        for lr in RASHID_200_RATES
    ]
    runs += [
        ClassicRun("nielsen-network", "nielsen", ("experiment=nielsen_ch1",), 30, 20),
        ClassicRun("nielsen-network2-ch3", "nielsen", ("experiment=nielsen_ch3",), 30, 25),
        ClassicRun(
            "nielsen-ch3-no-improvement-in-10", "nielsen", ("experiment=nielsen_ch3", "trainer.patience=10"), 100, 60
        ),
    ]
    for net, seconds in (("mlp_128x2", 40), ("mlp_10x2", 20), ("mlp_512x2", 110), ("mlp_20x3", 20)):
        runs.append(ClassicRun(f"mlp-{net[4:]}", "mlp-table", ("experiment=mlp_table", f"net={net}"), 20, seconds))
    runs.append(
        ClassicRun("mlp-128x2-black-and-white", "mlp-table", ("experiment=mlp_table", "data.scaling=binary"), 20, 40)
    )
    runs.append(ClassicRun("lenet5", "lenet5", ("experiment=lenet5_adam", *RASHID_DATA), 20, 175, evaluate_final=True))
    olin_ff = (
        "net=mlp",
        "net.hidden=[625,625]",
        "net.activation=sigmoid",
        "net.init=standard_normal",
        "net.bias=false",
        "optimizer=sgd",
        "optimizer.lr=0.5",
        "schedule=constant",
        "trainer.batch_size=500",
        *RASHID_DATA,
    )
    runs.append(ClassicRun("olin-feed-forward", "olin-feed-forward", olin_ff, 7, 30))
    runs += [
        ClassicRun(
            olin_key(images, lr, gain),
            "olin-cnn",
            (*OLIN_CNN, f"data.train_limit={images}", f"optimizer.lr={lr}", f"net.init_gain={gain}"),
            OLIN_EPOCHS,
            8,
        )
        for images in OLIN_IMAGES
        for lr in OLIN_RATES
        for gain in OLIN_GAINS
    ]
    return tuple(runs)


RUNS: tuple[ClassicRun, ...] = _runs()
# Runs the page shows but make classics does not train: the draw page's model is make draw's
# (20 epochs, about 17 minutes: more than the page's budget), in make draw's run directory.
DRAW_KEY = "draw-cnn"
EXTERNAL_RUNS = {DRAW_KEY: Path("results/draw/mnist-cnn-full")}
RUNS_BY_KEY = {run.key: run for run in RUNS}

RASHID_BOOK = "Rashid, Make Your Own Neural Network (2016)"
RASHID_NOTEBOOK = "Rashid's notebook part2_neural_network_mnist_data.ipynb"
NIELSEN = "Nielsen, Neural Networks and Deep Learning"
MLP_PROJECT = "the NumPy MLP project's table"
LENET5_PROJECT = "the NumPy LeNet-5 project"
OLIN = "Olin QEA final project report (Harriman, 2018)"


# Long on purpose: one record per published claim, each with its source, read top to bottom like the page.
def _rows() -> tuple[ClassicRow, ...]:
    r, n, m = Section.rashid, Section.nielsen, Section.mlp
    rows = [
        ClassicRow(
            r,
            "1. The first network",
            "784-100-10 sigmoid, quadratic cost, one image at a time in the file's order, his error rule and his "
            "book's first weights, lr 0.3, 1 epoch, 60,000 images",
            (rashid_key(0.3),),
            Published(0.95, "95%", "not published", RASHID_BOOK),
            notes=("the book rounds; his notebook's run of this setup printed 94.73%.",),
            seeds=rashid_seeds(0.3),
        ),
    ]
    rows += [
        ClassicRow(
            r,
            f"2. Learning rate {lr:g}",
            f"the same at lr {lr:g}",
            (rashid_key(lr),),
            Published(value, f"{value:.2%}", "not published", f"{RASHID_BOOK}, 'Tweak the learning rate'"),
            seeds=rashid_seeds(lr),
        )
        for lr, value in RASHID_LR_PUBLISHED.items()
    ]
    rows += [
        ClassicRow(
            r,
            "3. Epochs at lr 0.1: 5 epochs",
            "784-100-10, lr 0.1, the test accuracy after 5 epochs (peaks near 5, then declines)",
            (rashid_key(0.1, epochs=RASHID_EPOCHS),),
            Published(0.9661, "96.61%", "not published", f"{RASHID_NOTEBOOK} (100 hidden, lr 0.1, 5 epochs)"),
            Measure.epoch,
            5,
        ),
        ClassicRow(
            r,
            "4. Learning rate x epochs, 200 hidden: best",
            "784-200-10, lr 0.05-0.3 x 1-7 epochs: the best cell",
            tuple(rashid_key(lr, 200, RASHID_EPOCHS) for lr in RASHID_200_RATES),
            Published(0.973, "97.3% (97.42% in his notebook: lr 0.1, 5 epochs)", "not published", RASHID_BOOK),
            Measure.best_cell,
        ),
        ClassicRow(
            n,
            "network.py (ch. 1)",
            "[784, 30, 10] sigmoid, quadratic cost, N(0, 1) init, lr 3.0, mini-batch 10, 30 epochs",
            ("nielsen-network",),
            Published(0.948, "94.8%", "80 s on an M2", f"{NIELSEN}, ch. 1 (network.py)"),
        ),
        ClassicRow(
            n,
            "network2.py, the same batched",
            "the same network and settings; one matrix product per mini-batch (nnsweep always is)",
            ("nielsen-network",),
            Published(0.948, "94.8%", "16 s", f"{NIELSEN}, ch. 1-2 (network2.py, matrix form)"),
        ),
        ClassicRow(
            n,
            "ch. 3 setup",
            "cross-entropy, N(0, 1/n) init, L2 lambda 5.0, lr 0.5, mini-batch 10, 30 epochs",
            ("nielsen-network2-ch3",),
            Published(0.961, "96.1%", "15.8 s", f"{NIELSEN}, ch. 3"),
        ),
        ClassicRow(
            n,
            "ch. 3, no-improvement-in-ten",
            "the same, stopped when validation accuracy has not improved for 10 epochs (at most 100)",
            ("nielsen-ch3-no-improvement-in-10",),
            Published(None, "a rule, no number", "not published", f"{NIELSEN}, ch. 3, 'Early stopping'"),
        ),
    ]
    for label, run, value in (
        ("784-128-128-10", "mlp-128x2", 0.9760),
        ("784-10-10-10", "mlp-10x2", 0.9393),
        ("784-512-512-10", "mlp-512x2", 0.9762),
        ("784-20-20-20-10", "mlp-20x3", 0.9566),
        ("784-128-128-10, black and white", "mlp-128x2-black-and-white", 0.9282),
    ):
        setup = "ReLU, softmax, Adam 1e-3, mini-batch 32, 20 epochs"
        if "black" in label:
            setup += "; pixels made 0 or 1 at half intensity, in training and test"
        notes = (
            (
                "the project's variant is not described in what we could find (its threshold, whether training images "
                "were converted too); ours converts training and test images at half intensity.",
            )
            if "black" in label
            else ()
        )
        published = Published(value, f"{value:.2%}", "not published", MLP_PROJECT)
        rows.append(ClassicRow(m, label, setup, (run,), published, notes=notes))
    lenet = "LeNet-5, sigmoid, mean pooling, Adam 1e-3, mini-batch 32, shift/zoom/rotation, 20 epochs, 60,000 images"
    rows += [
        ClassicRow(
            Section.lenet5, "Test set", lenet, ("lenet5",), Published(0.985, "98.50%", "about 2 hours", LENET5_PROJECT)
        ),
        ClassicRow(
            Section.lenet5,
            "First / last 5,000 test images",
            "the same weights on the test set's two halves",
            ("lenet5",),
            Published(0.9788, "97.88% / 99.12%", "", LENET5_PROJECT, second=0.9912),
            Measure.halves,
        ),
        ClassicRow(
            Section.olin,
            "Feed-forward network",
            "784-625-625-10 sigmoid, softmax, N(0, 1) init, no biases, mini-batch 500, summed gradient "
            "(lr 0.001 x 500 = 0.5 on the mean), 7 epochs",
            ("olin-feed-forward",),
            Published(0.89, "89% (95% on training images)", "not published", OLIN),
        ),
        ClassicRow(
            Section.olin,
            "CNN on 2 and on 5 images",
            "conv 8@5x5, leaky ReLU, max pool, conv 16@5x5, leaky ReLU, max pool, dense 10; one image at a time, "
            "lr 1e-4, weights 3x N(0, 1/n), 50 passes",
            (olin_key(2, 0.0001, 3.0), olin_key(5, 0.0001, 3.0)),
            Published(None, "loss near 0, then a spike and NaN (30-70 iterations)", "", OLIN),
            Measure.divergence,
        ),
        ClassicRow(
            Section.draw,
            "experiment=mnist_cnn_full",
            "2 conv blocks (32, 64) with batch norm, ReLU, max pooling; dense 128, dropout 0.4; Adam, cosine; "
            "augmentation; 20 epochs on 50,000 images (trained by make draw)",
            (DRAW_KEY,),
            Published(0.993, "at least 99.3% (Nielsen's network3: 99.6%)", "", f"{NIELSEN}, ch. 6", bar=True),
        ),
    ]
    return tuple(rows)


ROWS: tuple[ClassicRow, ...] = _rows()

# How each author trained and what the runs do the same way: the page's words above each section.
HOW_TRAINED = {
    Section.rashid: "Trained as his code trains: all 60,000 training images in the file's order, one image at a "
    "time, the final weights tested (the test set is scored after every epoch; one 7-epoch run gives what his 1- "
    "to 7-epoch runs gave, since with a constant rate the first k epochs of a longer run are the k-epoch run). His "
    "code passes the output error down to the hidden layer without the output sigmoid's derivative a(1-a) "
    "(net.loss=rashid_quadratic; a test checks that our steps equal his code's): since a(1-a) <= 1/4, each "
    "output's error reaches his hidden layer at least 4 times larger than the gradient passes it. "
    "nnsweep's own rashid network follows the true gradient; trained so (the figure's dashed line, with his "
    "book's first weights too), its learning-rate curve is shifted to larger rates. The one-epoch rows start "
    "from the first weights of the code printed in his book (std 1/sqrt(nodes fed), net.init=normal_fan_out); "
    "the epochs and 200-node rows quote his notebook, which draws them as nnsweep's rashid network does. His "
    "epochs curve declines after 5 epochs and ours need not: one run cannot tell a change of a few tenths of a "
    "point from chance.",
    Section.nielsen: "Nielsen's split: 50,000 images train, 10,000 validate; the test accuracy is that of the "
    "best validation epoch (Nielsen read the test set after every epoch himself).",
    Section.mlp: "Nielsen's split, the test accuracy at the best validation epoch.",
    Section.lenet5: "All 60,000 training images, 20 epochs, the final epoch's weights, as the project reports.",
    Section.olin: "The feed-forward network as the project trained it (60,000 images, final weights); its CNN "
    "on 2 and on 5 images over a grid of learning rate x initial weight scale, to see where training diverges. "
    "Its notebook (CNN.ipynb) differs from plain SGD in two ways we can read there: the gradient of each image is "
    "added to a running sum that is never reset, and the weights step by that whole sum after every image, so "
    "the k-th step sums k gradients (50 to 300 by the end of its runs); and its softmax subtracts a constant "
    "(1e-6) instead of the largest output, so exp overflows once an output passes about 709. Such growing steps "
    "and an overflowing exp are the likely cause of the loss near 0, then a spike and NaN, that the project "
    "reports: read in the notebook, not measured (nnsweep does not train with its rule). nnsweep takes plain "
    "steps and a stable softmax.",
    Section.draw: "make draw trains this model once the full MNIST is installed (make data), into "
    "results/draw/mnist-cnn-full; make classics does not (its 20 epochs take about 17 minutes, beyond this page's "
    "budget), and shows it here when it is there.",
}
