"""Named data sets and splits: the embedded default, Nielsen's split, test-set swap, errors."""

import gzip
import hashlib

import numpy as np
import pytest

from nnsweep.nets.data.datasets import load_dataset, scale_inputs, stratified_split, unscale_inputs
from nnsweep.nets.data.download import download_files
from nnsweep.nets.data.readers import DataFormatError
from tests.conftest import SHARED_T10K
from tests.nets.data.test_readers import idx_bytes


def test_mnist5k_is_embedded_and_stratified(mnist5k):
    assert mnist5k.sizes() == {"train": 3500, "val": 500, "test": 1000}
    assert np.bincount(mnist5k.val.labels).tolist() == [50] * 10
    assert np.bincount(mnist5k.test.labels).tolist() == [100] * 10
    assert mnist5k.train.x.dtype == np.float32 and mnist5k.train.x.shape[1] == 784
    assert 0.0 == mnist5k.train.x.min() and mnist5k.train.x.max() == 1.0
    other = load_dataset("mnist5k", split_seed=1)
    assert not np.array_equal(other.val.x, mnist5k.val.x)


def test_stratified_split_is_disjoint_and_complete():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    tr, va, te = stratified_split(labels, 6, 12, seed=0)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(60))
    assert np.bincount(labels[va]).tolist() == [1, 2, 3] and np.bincount(labels[te]).tolist() == [2, 4, 6]
    with pytest.raises(ValueError, match="cannot take"):
        stratified_split(labels, 50, 20, seed=0)


def test_scalings():
    x = np.array([[0, 255]], dtype=np.uint8)
    np.testing.assert_allclose(scale_inputs(x, "unit"), [[0.0, 1.0]])
    np.testing.assert_allclose(scale_inputs(x, "rashid"), [[0.01, 1.0]])
    with pytest.raises(ValueError, match="unknown input scaling"):
        scale_inputs(x, "zscore")


@pytest.mark.skipif(not SHARED_T10K.is_dir(), reason="shared MNIST test set not present")
def test_train_on_mnist5k_test_on_the_real_test_set():
    data = load_dataset("mnist5k", test_dir=SHARED_T10K)
    assert data.sizes() == {"train": 4500, "val": 500, "test": 10000}


def make_idx_dir(d, n_train=30, n_test=8):
    d.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        (d / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28)))))
        (d / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.arange(n) % 10)))
    return d


def test_idx_directory_uses_nielsens_split_shape(tmp_path):
    d = make_idx_dir(tmp_path / "idx")
    data = load_dataset("idx", root=d, val_size=10)
    assert data.sizes() == {"train": 20, "val": 10, "test": 8}
    np.testing.assert_array_equal(data.val.labels, np.arange(20, 30) % 10)  # the *last* images validate


def test_mnist_download_from_a_local_mirror(tmp_path):
    mirror = make_idx_dir(tmp_path / "mirror", n_train=40)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    download_files(tmp_path / "mnist", sums, [mirror.as_uri()])
    data = load_dataset("mnist", root=tmp_path / "mnist", val_size=10)
    assert data.sizes() == {"train": 30, "val": 10, "test": 8}


def test_missing_data_sets_say_how_to_get_them(tmp_path):
    with pytest.raises(DataFormatError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion", root=tmp_path / "none")
    with pytest.raises(DataFormatError, match="data.download=true"):
        load_dataset("mnist", root=tmp_path / "none")
    (tmp_path / "half").mkdir()
    with pytest.raises(DataFormatError, match="no train-images-idx3-ubyte.gz"):
        load_dataset("idx", root=tmp_path / "half")
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="train_csv"):
        load_dataset("csv")


def test_mnist5k_cache_is_used_and_a_corrupt_one_is_ignored(tmp_path, monkeypatch, mnist5k):
    monkeypatch.setenv("NNSWEEP_CACHE", str(tmp_path))
    first = load_dataset("mnist5k")
    (cached,) = tmp_path.glob("mnist5k-*.npz")
    np.testing.assert_array_equal(first.train.x, mnist5k.train.x)
    cached.write_bytes(b"garbage")
    again = load_dataset("mnist5k")
    np.testing.assert_array_equal(again.val.labels, mnist5k.val.labels)
    assert cached.stat().st_size > 1_000_000  # rewritten from the source
    monkeypatch.setenv("NNSWEEP_CACHE", "/proc/not-writable")
    assert load_dataset("mnist5k").sizes() == mnist5k.sizes()


def test_the_training_size_known_without_loading_is_the_loaded_one():
    """The precheck refuses a batch larger than the training set from this number, before any
    file is read: it must be the size load_dataset gives (mnist5k: 5,000 - validation - test)."""
    from nnsweep.nets.data.datasets import load_dataset, train_size_without_loading

    for kwargs in (
        {},
        {"val_size": 700, "test_size": 300},
        {"train_limit": 123},
        {"val_size": 1000, "test_size": 3999},
    ):
        assert train_size_without_loading("mnist5k", **kwargs) == len(load_dataset("mnist5k", **kwargs).train)
    assert train_size_without_loading("mnist") == 50_000 and train_size_without_loading("mnist", root="x") is None
    assert train_size_without_loading("csv") is None and train_size_without_loading("idx") is None


def test_val_size_0_trains_on_every_image_and_scores_the_test_set_in_validations_place(tmp_path):
    d = make_idx_dir(tmp_path / "idx")
    data = load_dataset("idx", root=d, val_size=0)
    assert data.sizes() == {"train": 30, "val": 8, "test": 8} and data.val_is_test
    assert data.val is data.test
    assert not load_dataset("idx", root=d, val_size=10).val_is_test
    with pytest.raises(ValueError, match="val_size=0 .* is for the full IDX sets"):
        load_dataset("mnist5k", val_size=0)


def test_binary_scaling_is_black_and_white_at_half_intensity():
    pixels = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(scale_inputs(pixels, "binary"), [[0.0, 0.0, 1.0, 1.0]])
    assert scale_inputs(pixels, "binary").dtype == np.float32
    np.testing.assert_array_equal(unscale_inputs(scale_inputs(pixels, "binary"), "binary"), [[0, 0, 255, 255]])
