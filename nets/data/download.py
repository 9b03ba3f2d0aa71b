"""Fetch the four MNIST files from a list of mirrors, verifying pinned sizes and SHA-256 sums.

The sums and sizes are those of the original gzip files, as pinned by TensorFlow Datasets and
torchvision. A file already present with the right sum is not fetched again. Each mirror is read
under three limits, so a bad one costs seconds (not the disk, not the afternoon) before the next
is tried:

- size: reading stops as soon as a mirror sends more bytes than the pinned size, or announces
  more in its Content-Length;
- stall: ``timeout`` seconds without a byte (or without a connection) end the attempt;
- deadline: ``deadline`` seconds for the whole file end a mirror that trickles.

A download is written with ``nnsweep.core.atomic.atomic_write``: to a temporary file ``.<name>.<random>.tmp``
beside the target, renamed into place only after its size and sum matched, removed on any
exception or Ctrl-C. ``kill -9`` cannot be caught, so a download first removes the temporary files
that earlier ones left. Runs sharing a data directory (a parallel sweep) take turns through the
lock file ``.download-lock`` in it, so a temporary file is removed only when nobody is writing it,
and the later runs find the files already there.

Why urllib and not pooch: pooch pins hashes and draws a progress bar, but it fetches each file
from one URL (no mirror list to fall back on), writes whatever a server sends (no byte cap) and
needs ``requests``. Its ``timeout`` covers stalls only; the cap, the deadline and the fallback
would all be written around it anyway, and urllib plus tqdm does the whole job in this module.
"""

from __future__ import annotations

import hashlib
import http.client
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping, NamedTuple

from tqdm.auto import tqdm

from nnsweep.core.atomic import WriteError, atomic_write
from nnsweep.core.errors import NnsweepError

try:
    import fcntl
except ImportError:  # Windows: no flock, but there a temp file still open elsewhere cannot be deleted
    fcntl = None


class PinnedFile(NamedTuple):
    """What a good copy is: its SHA-256 and, when known, its size in bytes (the download cap)."""

    sha256: str
    size: int | None = None


MNIST_FILES: dict[str, PinnedFile] = {
    "train-images-idx3-ubyte.gz": PinnedFile(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422
    ),
    "train-labels-idx1-ubyte.gz": PinnedFile("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "t10k-images-idx3-ubyte.gz": PinnedFile(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877
    ),
    "t10k-labels-idx1-ubyte.gz": PinnedFile("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}

MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

LOCK_NAME = ".download-lock"
CHUNK = 1 << 16


class DownloadError(NnsweepError, RuntimeError):
    """No mirror delivered a file with the pinned size and checksum, or it could not be saved."""


class _BadMirror(Exception):
    """One mirror failed to deliver one file; ``str()`` says what it did instead."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_files(
    dest_dir: str | Path,
    files: Mapping[str, PinnedFile | str] = MNIST_FILES,
    mirrors: list[str] = MNIST_MIRRORS,
    timeout: float = 30.0,
    deadline: float = 600.0,
) -> Path:
    """Make sure every file in ``files`` is in ``dest_dir`` with its pinned SHA-256.

    Parameters
    ----------
    files : name -> ``PinnedFile(sha256, size)``; a bare SHA-256 string means the size is unknown,
        so only the deadline bounds that download.
    mirrors : base URLs tried in order for each missing file (any scheme urllib knows, including
        ``file://``).
    timeout : seconds a mirror may stay silent (connecting, or between bytes) before the next is tried.
    deadline : seconds one mirror may take for one whole file.

    Raises ``DownloadError``, one line naming the file, what every mirror did, and where to put
    the file by hand. A progress bar shows on a terminal only.
    """
    dest = Path(dest_dir)
    pins = {name: pin if isinstance(pin, PinnedFile) else PinnedFile(pin) for name, pin in files.items()}
    missing = [name for name, pin in pins.items() if not _is_good(dest / name, pin)]
    if not missing:
        return dest
    make_data_dir(dest)
    with download_lock(dest) as locked:
        if locked:
            remove_temp_files(dest, pins)
        for name in missing:
            if not _is_good(dest / name, pins[name]):  # another run may have fetched it while we waited
                _fetch_from_mirrors(dest / name, pins[name], mirrors, timeout, deadline)
    return dest


def make_data_dir(dest: Path) -> None:
    """Create the data directory (and its parents), or say in one line why it cannot be."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(
            f"cannot create data directory {dest} ({err.strerror}); choose a writable data.root"
        ) from None


def _is_good(path: Path, pin: PinnedFile) -> bool:
    return path.is_file() and sha256_of(path) == pin.sha256


@contextmanager
def download_lock(directory: Path) -> Iterator[bool]:
    """Hold ``directory/.download-lock`` exclusively; yields whether the lock is really held.

    The kernel drops a flock when its process dies, even by ``kill -9``, so while we hold it any
    temporary file in the directory belongs to a download that is over.
    """
    if fcntl is None:
        yield False
        return
    try:
        lock = open(directory / LOCK_NAME, "a")
    except OSError as err:
        raise DownloadError(
            f"cannot write to data directory {directory} ({err.strerror}); choose a writable data.root"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: download anyway, leave others' files alone
            yield False
            return
        yield True


def remove_temp_files(directory: Path, names: Iterable[str]) -> None:
    """Remove the temporary files that killed downloads of ``names`` left behind (``.download.*``
    are those of the versions before this one)."""
    patterns = [f".{name}.*.tmp" for name in names] + [".download.*"]
    for stale in (path for pattern in patterns for path in directory.glob(pattern)):
        with suppress(OSError):
            stale.unlink()


def _fetch_from_mirrors(target: Path, pin: PinnedFile, mirrors: list[str], timeout: float, deadline: float) -> None:
    problems = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + target.name
        try:
            _fetch(url, target, pin, timeout, deadline)
            return
        except _BadMirror as err:
            problems.append(f"{url}: {err}")
    size = f"{pin.size} bytes, " if pin.size is not None else ""
    raise DownloadError(
        f"could not get {target.name} ({'; '.join(problems) or 'no mirrors configured'}). "
        f"Download it by hand and put it in {target.parent}/ (expected {size}sha256 {pin.sha256})"
    )


def _fetch(url: str, target: Path, pin: PinnedFile, timeout: float, deadline: float) -> None:
    """Download ``url`` to ``target``, which only ever appears with the pinned sum."""

    def write_verified(out: BinaryIO) -> None:
        got, received = _stream(url, out, pin, timeout, deadline, target.name)
        if got != pin.sha256:  # raising here makes atomic_write drop the temporary file
            wrong = (
                f"{received} bytes, expected {pin.size}"
                if pin.size not in (None, received)
                else f"sha256 {got[:12]}..., expected {pin.sha256[:12]}..."
            )
            raise _BadMirror(f"checksum mismatch ({wrong})")

    try:
        atomic_write(target, write_verified)
    except WriteError as err:  # our disk, not the mirror: _stream turns the mirror's errors into _BadMirror
        raise DownloadError(f"could not save {target.name}: {err}") from None


def _stream(url: str, out: BinaryIO, pin: PinnedFile, timeout: float, deadline: float, name: str) -> tuple[str, int]:
    """Copy ``url`` into ``out`` within the size cap and the time limits; return (SHA-256, bytes)."""
    start = time.monotonic()
    digest, received = hashlib.sha256(), 0
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # the socket timeout is the stall limit
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise _BadMirror(_describe(err, timeout)) from None
    bar = tqdm(total=pin.size, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False, disable=None)
    with response, bar:
        announced = response.headers.get("Content-Length", "")
        if pin.size is not None and announced.isdigit() and int(announced) > pin.size:
            raise _BadMirror(f"announced {announced} bytes, more than the pinned {pin.size}")
        while True:
            # Ask for at most one byte past the cap: enough to know the mirror is wrong, never to store it.
            want = CHUNK if pin.size is None else min(CHUNK, pin.size + 1 - received)
            try:
                chunk = response.read1(want)  # whatever has arrived, so the deadline is checked often
            except (http.client.HTTPException, OSError) as err:
                raise _BadMirror(_describe(err, timeout)) from None
            if not chunk:
                break
            received += len(chunk)
            if pin.size is not None and received > pin.size:
                raise _BadMirror(f"sent more than {pin.size} bytes")
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
            if time.monotonic() - start > deadline:
                raise _BadMirror(f"took more than {deadline:g} s (had {received} of {pin.size or '?'} bytes)")
    if announced.isdigit() and received < int(announced):
        raise _BadMirror(f"closed the connection after {received} of {announced} bytes")
    return digest.hexdigest(), received


def _describe(err: Exception, timeout: float) -> str:
    """A mirror's failure in a few words: "timed out after 30 s", "HTTP Error 404: Not Found"."""
    if isinstance(err, urllib.error.HTTPError):
        return str(err)
    reason = getattr(err, "reason", err)  # URLError wraps the socket's error
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
