"""The MNIST downloader against local file:// mirrors: success, bad mirror, mismatch, offline."""
import hashlib

import pytest

from nets.data.download import MNIST_FILES, DownloadError, download_files

FILES = {"a.gz": b"first file", "b.gz": b"second file"}
SUMS = {name: hashlib.sha256(content).hexdigest() for name, content in FILES.items()}


@pytest.fixture
def mirror(tmp_path):
    d = tmp_path / "mirror"
    d.mkdir()
    for name, content in FILES.items():
        (d / name).write_bytes(content)
    return d.as_uri() + "/"


def test_pinned_sums_are_the_published_ones():
    assert MNIST_FILES["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert MNIST_FILES["t10k-labels-idx1-ubyte.gz"].startswith("f7ae60f92e00ec6d")
    assert len(MNIST_FILES) == 4 and all(len(s) == 64 for s in MNIST_FILES.values())


def test_downloads_verify_and_skip_present_files(tmp_path, mirror):
    dest = tmp_path / "data"
    download_files(dest, SUMS, [mirror])
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == FILES
    (tmp_path / "mirror" / "a.gz").unlink()  # a second call needs no mirror
    download_files(dest, SUMS, [mirror])


def test_falls_back_to_the_next_mirror(tmp_path, mirror):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.gz").write_bytes(b"tampered")
    download_files(tmp_path / "data", SUMS, [broken.as_uri() + "/", mirror])
    assert (tmp_path / "data" / "a.gz").read_bytes() == FILES["a.gz"]


def test_checksum_mismatch_everywhere_is_an_error_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.gz").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match=r"checksum mismatch.*by hand.*data/"):
        download_files(tmp_path / "data", {"a.gz": SUMS["a.gz"]}, [bad.as_uri()])
    assert list((tmp_path / "data").iterdir()) == []


def test_offline_error_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DownloadError, match=r"could not get a.gz.*Download it by hand and put it in"):
        download_files(tmp_path / "data", {"a.gz": SUMS["a.gz"]}, ["http://127.0.0.1:9/"], timeout=2)
