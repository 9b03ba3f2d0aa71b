"""Fetch the four MNIST files from a list of mirrors, verifying pinned SHA-256 sums.

The sums are those of the original gzip files, as pinned by TensorFlow Datasets and torchvision.
A file already present with the right sum is not fetched again; a download goes to a temporary
file and is renamed into place only after its sum matched, so an interrupted or corrupted
download never leaves a file that looks complete.
"""
from __future__ import annotations

from nets.errors import NnsweepError
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]


class DownloadError(NnsweepError, RuntimeError):
    """No mirror delivered a file with the pinned checksum."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest_dir: Path, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a temporary file in ``dest_dir``; return its path and SHA-256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".download.", dir=dest_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp), digest.hexdigest()


def download_files(
    dest_dir: str | Path,
    files: dict[str, str] = MNIST_FILES,
    mirrors: list[str] = MNIST_MIRRORS,
    timeout: float = 30.0,
) -> Path:
    """Make sure every file in ``files`` (name -> SHA-256) is in ``dest_dir`` with the right sum.

    Mirrors are tried in order for each missing file (any URL scheme urllib knows, including
    ``file://``, which the tests use). Raises ``DownloadError`` naming every mirror tried and why,
    and where to put the files by hand.
    """
    dest = Path(dest_dir)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"cannot create data directory {dest} ({err.strerror}); choose a writable data.root") from None
    for name, expected in files.items():
        target = dest / name
        if target.is_file() and sha256_of(target) == expected:
            continue
        problems = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                tmp, got = _fetch(url, dest, timeout)
            except (urllib.error.URLError, OSError, ValueError) as err:
                problems.append(f"{url}: {getattr(err, 'reason', err)}")
                continue
            if got != expected:
                tmp.unlink()
                problems.append(f"{url}: checksum mismatch (sha256 {got[:12]}..., expected {expected[:12]}...)")
                continue
            os.replace(tmp, target)
            break
        else:
            raise DownloadError(
                f"could not get {name} ({'; '.join(problems) or 'no mirrors configured'}). "
                f"Download it by hand and put it in {dest}/ (expected sha256 {expected})"
            )
    return dest
