"""IDX, CSV and pickle readers on generated files and on the real MNIST test set, and refusal of
files that decompress to far more than any digit data set ("gzip bombs")."""

import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnsweep.nets.data import readers
from nnsweep.nets.data.readers import DataFormatError, load_csv, load_idx, load_idx_pair, load_nielsen_pkl
from tests.conftest import SHARED_T10K


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 12, dtype=np.uint8)
    (tmp_path / "imgs.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    return tmp_path, images, labels


def test_idx_gzipped_and_raw(idx_files):
    d, images, labels = idx_files
    np.testing.assert_array_equal(load_idx(d / "imgs.gz"), images)
    np.testing.assert_array_equal(load_idx(d / "labels"), labels)
    x, y = load_idx_pair(d / "imgs.gz", d / "labels")
    assert x.shape == (12, 784) and y.dtype == np.int64


def test_idx_errors_name_the_file_and_the_problem(idx_files, tmp_path):
    d, images, labels = idx_files
    raw = idx_bytes(images)
    (d / "short").write_bytes(raw[:-100])
    with pytest.raises(DataFormatError, match=r"short is truncated.*9424 bytes"):
        load_idx(d / "short")
    (d / "magic").write_bytes(b"\x08\x03" + raw[2:])
    with pytest.raises(DataFormatError, match="magic.*not an IDX"):
        load_idx(d / "magic")
    blob = bytearray(gzip.compress(raw))
    blob[-8] ^= 0xFF  # break the CRC-32 in the gzip trailer
    (d / "crc.gz").write_bytes(bytes(blob))
    with pytest.raises(DataFormatError, match="crc.gz is a damaged gzip"):
        load_idx(d / "crc.gz")
    (d / "cut.gz").write_bytes(gzip.compress(raw)[:500])
    with pytest.raises(DataFormatError, match="cut.gz is a damaged gzip"):
        load_idx(d / "cut.gz")
    (d / "empty").write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty is empty"):
        load_idx(d / "empty")
    with pytest.raises(DataFormatError, match="does not exist"):
        load_idx(d / "nope")
    (d / "few").write_bytes(idx_bytes(labels[:5]))
    with pytest.raises(DataFormatError, match="12 images but.*5 labels"):
        load_idx_pair(d / "imgs.gz", d / "few")


@pytest.mark.skipif(not SHARED_T10K.is_dir(), reason="shared MNIST test set not present")
def test_real_mnist_test_set():
    x, y = load_idx_pair(SHARED_T10K / "t10k-images-idx3-ubyte.gz", SHARED_T10K / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 784) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:5].tolist() == [7, 2, 1, 0, 4]  # the famous first five test digits


def write_csv(path, rows, header=False):
    lines = (["label," + ",".join(f"p{i}" for i in range(784))] if header else []) + [
        ",".join(map(str, r)) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")


def test_csv_label_first_or_last_with_or_without_header(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (4, 784))
    labels = np.array([3, 1, 4, 1])
    write_csv(tmp_path / "first.csv", np.column_stack([labels, pixels]), header=True)
    write_csv(tmp_path / "last.csv", np.column_stack([pixels, labels]))
    for name, column in (("first.csv", "first"), ("last.csv", "last")):
        x, y = load_csv(tmp_path / name, label_column=column)
        np.testing.assert_array_equal(x, pixels)
        np.testing.assert_array_equal(y, labels)


def test_csv_errors(tmp_path):
    rows = np.zeros((3, 785), dtype=int)
    write_csv(tmp_path / "short.csv", rows[:, :700])
    with pytest.raises(DataFormatError, match="700 columns; expected 785"):
        load_csv(tmp_path / "short.csv")
    text = "\n".join(",".join(map(str, r)) for r in rows).replace("0,0,0", "0,x,0", 1)
    (tmp_path / "word.csv").write_text(text)
    with pytest.raises(DataFormatError, match="word.csv is not a numeric CSV"):
        load_csv(tmp_path / "word.csv")
    ragged = [",".join(["0"] * 785), ",".join(["0"] * 784)]
    (tmp_path / "ragged.csv").write_text("\n".join(ragged))
    with pytest.raises(DataFormatError, match="ragged.csv"):
        load_csv(tmp_path / "ragged.csv")
    rows[0, 5] = 300
    write_csv(tmp_path / "range.csv", rows)
    with pytest.raises(DataFormatError, match="0..255"):
        load_csv(tmp_path / "range.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataFormatError, match="empty"):
        load_csv(tmp_path / "empty.csv")


def test_nielsen_pickle_loads_arrays_only(tmp_path):
    rng = np.random.default_rng(2)
    parts = tuple((rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)) for n in (5, 3, 2))
    for protocol in (2, 4, 5):
        (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(parts, protocol=protocol)))
        loaded = load_nielsen_pkl(tmp_path / "mnist.pkl.gz")
        for (x, y), (lx, ly) in zip(parts, loaded):
            np.testing.assert_array_equal(x, lx)
            np.testing.assert_array_equal(y, ly)


def test_nielsen_pickle_with_anything_else_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.pkl.gz").write_bytes(gzip.compress(pickle.dumps(((Exploit(), 1),), protocol=2)))
    with pytest.raises(DataFormatError, match="other than NumPy arrays"):
        load_nielsen_pkl(tmp_path / "evil.pkl.gz")
    assert not marker.exists()
    (tmp_path / "dict.pkl.gz").write_bytes(gzip.compress(pickle.dumps({"a": 1})))
    with pytest.raises(DataFormatError, match="pairs"):
        load_nielsen_pkl(tmp_path / "dict.pkl.gz")


REPO = Path(__file__).resolve().parents[3]
MEASURE = """
import resource, sys, time
from nnsweep.nets.data.readers import DataFormatError, load_nielsen_pkl
before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
try:
    load_nielsen_pkl(sys.argv[1])
    outcome = "loaded"
except DataFormatError as err:
    outcome = str(err)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024  # ru_maxrss is in KiB on Linux
print(f"{time.perf_counter() - start:.3f}\t{grown}\t{outcome}")
"""


def gzip_of_zeros(megabytes: int) -> bytes:
    """``megabytes`` MiB of zeros as a multi-member gzip (members may be concatenated), ~1 KB per MiB."""
    return gzip.compress(bytes(2**20)) * megabytes


def test_nielsen_gzip_bomb_is_refused_quickly_in_little_memory(tmp_path):
    # Protocol 2, like Nielsen's file: BINSTRING (opcode T and a 4-byte length) announcing 300 MB.
    bomb = tmp_path / "mnist.pkl.gz"
    size = 300 * 2**20
    bomb.write_bytes(
        gzip.compress(b"\x80\x02T" + size.to_bytes(4, "little")) + gzip_of_zeros(300) + gzip.compress(b".")
    )
    assert bomb.stat().st_size < 400_000
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(bomb)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seconds, grown, outcome = result.stdout.strip().split("\t")
    assert "mnist.pkl.gz" in outcome and "more than 268 MB" in outcome
    assert float(seconds) < 2.0
    assert int(grown) < 50e6, f"refusing a 300 KB file took {int(grown) / 1e6:.0f} MB"


def test_nielsen_pickle_larger_than_the_cap_is_refused(tmp_path, monkeypatch):
    # Many pieces, each small enough on its own: the running total is what is capped.
    monkeypatch.setattr(readers, "NIELSEN_MAX_BYTES", 2**20)
    pieces = [bytes([i]) * 100_000 for i in range(20)]  # distinct, or pickle would store one and refer to it
    (tmp_path / "big.pkl.gz").write_bytes(gzip.compress(pickle.dumps(pieces, protocol=2)))
    with pytest.raises(DataFormatError, match="big.pkl.gz decompresses to more than 1 MB"):
        load_nielsen_pkl(tmp_path / "big.pkl.gz")


def test_nielsen_pickle_followed_by_more_data_is_refused(tmp_path):
    parts = tuple((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)) for _ in range(3))
    (tmp_path / "tail.pkl.gz").write_bytes(gzip.compress(pickle.dumps(parts, protocol=2)) + gzip_of_zeros(50))
    with pytest.raises(DataFormatError, match="tail.pkl.gz has data after"):
        load_nielsen_pkl(tmp_path / "tail.pkl.gz")


def test_nielsen_pickle_in_a_damaged_gzip_is_refused(tmp_path):
    parts = tuple((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)) for _ in range(3))
    blob = bytearray(gzip.compress(pickle.dumps(parts, protocol=2)))
    blob[-8] ^= 0xFF  # break the CRC-32 in the gzip trailer
    (tmp_path / "crc.pkl.gz").write_bytes(bytes(blob))
    (tmp_path / "cut.pkl.gz").write_bytes(bytes(blob[:200]))
    for name in ("crc.pkl.gz", "cut.pkl.gz"):
        with pytest.raises(DataFormatError, match=f"{name} is a damaged gzip"):
            load_nielsen_pkl(tmp_path / name)


def test_idx_gzip_larger_than_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_DECOMPRESSED_BYTES", 2**20)
    (tmp_path / "bomb.gz").write_bytes(
        gzip.compress(bytes([0, 0, 0x08, 1]) + (10**8).to_bytes(4, "big")) + gzip_of_zeros(5)
    )
    with pytest.raises(DataFormatError, match="bomb.gz decompresses to more than 1 MB"):
        load_idx(tmp_path / "bomb.gz")
