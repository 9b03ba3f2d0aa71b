"""The MNIST downloader against local mirrors: file:// directories and a 127.0.0.1 HTTP server
whose handlers misbehave on purpose (endless, stalled, trickling, lying, interrupted)."""

import fcntl
import hashlib
import http.server
import os
import signal
import socket
import threading
import time

import pytest

from nnsweep.nets.data.download import MNIST_FILES, DownloadError, PinnedFile, download_files

FILES = {"a.gz": b"first file", "b.gz": b"second file"}
SUMS = {name: hashlib.sha256(content).hexdigest() for name, content in FILES.items()}

BIG = bytes(range(256)) * 400  # 102,400 bytes: several reads, so a cap or an interrupt lands mid-file
BIG_PIN = {"big.gz": PinnedFile(hashlib.sha256(BIG).hexdigest(), len(BIG))}
SERVER_LIMIT_S = 3.0  # no handler runs longer than this, so a broken client cannot hang the suite


@pytest.fixture
def mirror(tmp_path):
    d = tmp_path / "mirror"
    d.mkdir()
    for name, content in FILES.items():
        (d / name).write_bytes(content)
    return d.as_uri() + "/"


class Mirror(http.server.BaseHTTPRequestHandler):
    """``GET /<behaviour>/<name>`` serves ``BIG`` the way the behaviour says."""

    def log_message(self, *args):
        pass

    def headers_for(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def do_GET(self):
        behaviour = self.path.strip("/").split("/")[0]
        try:
            getattr(self, "serve_" + behaviour, self.serve_missing)()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up, as it should on a bad mirror

    def serve_missing(self):
        self.send_error(404)

    def serve_good(self):
        self.headers_for(len(BIG))
        self.wfile.write(BIG)

    def serve_wrong(self):  # right size, wrong bytes
        self.headers_for(len(BIG))
        self.wfile.write(bytes(len(BIG)))

    def serve_endless(self):  # no Content-Length, streams until the client hangs up (or the limit)
        self.headers_for(None)
        end = time.monotonic() + SERVER_LIMIT_S
        while time.monotonic() < end:
            self.wfile.write(BIG)

    def serve_lying(self):  # announces far more than the pinned size
        self.headers_for(50 * len(BIG))
        end = time.monotonic() + SERVER_LIMIT_S
        while time.monotonic() < end:
            self.wfile.write(BIG)

    def serve_stall(self):  # headers, a little data, then silence
        self.headers_for(len(BIG))
        self.wfile.write(BIG[:1000])
        self.wfile.flush()
        time.sleep(SERVER_LIMIT_S)

    def serve_trickle(self):  # never silent for long, never done
        self.headers_for(len(BIG))
        end = time.monotonic() + SERVER_LIMIT_S
        for i in range(len(BIG)):
            if time.monotonic() > end:
                break
            self.wfile.write(BIG[i : i + 1])
            self.wfile.flush()
            time.sleep(0.1)

    def serve_interrupt(self):  # half the file, then Ctrl-C in the downloading process
        self.headers_for(len(BIG))
        self.wfile.write(BIG[: len(BIG) // 2])
        self.wfile.flush()
        dest = self.server.dest
        end = time.monotonic() + SERVER_LIMIT_S
        while time.monotonic() < end and not temp_files(dest):
            time.sleep(0.01)
        self.server.saw_temp_file = bool(temp_files(dest))
        if self.server.saw_temp_file:  # only while the test is surely still downloading
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(SERVER_LIMIT_S)


@pytest.fixture
def server(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    httpd.dest, httpd.saw_temp_file = tmp_path / "data", False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


class DiskWatcher:
    """Samples the total size of the files in a directory every few milliseconds."""

    def __init__(self, directory):
        self.directory, self.peak, self._stop = directory, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for entry in os.scandir(self.directory) if self.directory.is_dir() else []:
                try:
                    total += entry.stat().st_size
                except FileNotFoundError:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def temp_files(directory):
    return sorted(p.name for p in directory.glob(".*.tmp"))


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pinned_sums_and_sizes_are_the_published_ones():
    assert MNIST_FILES["train-images-idx3-ubyte.gz"] == PinnedFile(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422
    )
    assert MNIST_FILES["t10k-labels-idx1-ubyte.gz"].sha256.startswith("f7ae60f92e00ec6d")
    assert [pin.size for pin in MNIST_FILES.values()] == [9912422, 28881, 1648877, 4542]
    assert all(len(pin.sha256) == 64 for pin in MNIST_FILES.values())


def test_downloads_verify_and_skip_present_files(tmp_path, mirror):
    dest = tmp_path / "data"
    download_files(dest, SUMS, [mirror])  # bare sums (no size) still work
    assert {p.name: p.read_bytes() for p in dest.glob("*.gz")} == FILES
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
    assert not list((tmp_path / "data").glob("*.gz")) and not temp_files(tmp_path / "data")


def test_hash_check_rejects_wrong_content_of_the_right_size(tmp_path, server):
    _, url = server
    with pytest.raises(DownloadError, match=r"wrong/big.gz: checksum mismatch"):
        download_files(tmp_path / "data", BIG_PIN, [url + "wrong/"], timeout=1)
    assert not list((tmp_path / "data").glob("*.gz")) and not temp_files(tmp_path / "data")


def test_offline_error_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DownloadError, match=r"could not get a.gz.*Download it by hand and put it in"):
        download_files(tmp_path / "data", {"a.gz": SUMS["a.gz"]}, [f"http://127.0.0.1:{closed_port()}/"], timeout=2)


def test_endless_mirror_is_cut_at_the_known_size_and_the_next_mirror_used(tmp_path, server):
    _, url = server
    dest = tmp_path / "data"
    start = time.monotonic()
    with DiskWatcher(dest) as disk:
        download_files(dest, BIG_PIN, [url + "endless/", url + "good/"], timeout=1)
    assert disk.peak <= len(BIG)  # the endless stream never got past the pinned size on disk
    assert time.monotonic() - start < 2
    assert (dest / "big.gz").read_bytes() == BIG
    assert temp_files(dest) == []


def test_stalled_mirror_times_out_and_falls_back(tmp_path, server):
    _, url = server
    start = time.monotonic()
    download_files(tmp_path / "data", BIG_PIN, [url + "stall/", url + "good/"], timeout=1)
    assert time.monotonic() - start < 2.5
    assert (tmp_path / "data" / "big.gz").read_bytes() == BIG


def test_trickling_mirror_hits_the_deadline_and_falls_back(tmp_path, server):
    _, url = server
    start = time.monotonic()
    download_files(tmp_path / "data", BIG_PIN, [url + "trickle/", url + "good/"], timeout=1, deadline=1)
    assert time.monotonic() - start < 2.5
    assert (tmp_path / "data" / "big.gz").read_bytes() == BIG


def test_all_mirrors_bad_is_one_line_naming_what_each_did(tmp_path, server):
    _, url = server
    mirrors = [url + b + "/" for b in ("endless", "lying", "stall", "wrong", "missing")]
    mirrors.append(f"http://127.0.0.1:{closed_port()}/")
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_files(tmp_path / "data", BIG_PIN, mirrors, timeout=1)
    assert time.monotonic() - start < 3
    line = str(err.value)
    assert "\n" not in line
    for fragment in (
        "could not get big.gz",
        "endless/big.gz: sent more than 102400 bytes",
        f"lying/big.gz: announced {50 * len(BIG)} bytes, more than the pinned 102400",
        "stall/big.gz: timed out after 1 s",
        "wrong/big.gz: checksum mismatch",
        "missing/big.gz: HTTP Error 404",
        "Connection refused",
        "Download it by hand and put it in",
    ):
        assert fragment in line
    assert not list((tmp_path / "data").glob("*.gz")) and not temp_files(tmp_path / "data")


def test_interrupt_mid_download_leaves_no_temp_file(tmp_path, server):
    httpd, url = server
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            download_files(tmp_path / "data", BIG_PIN, [url + "interrupt/"], timeout=2 * SERVER_LIMIT_S)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert httpd.saw_temp_file  # the interrupt came while a temp file was being written
    assert temp_files(tmp_path / "data") == [] and not (tmp_path / "data" / "big.gz").exists()


def test_failure_to_rename_into_place_leaves_no_temp_file(tmp_path, server):
    _, url = server
    (tmp_path / "data" / "big.gz").mkdir(parents=True)  # something that is not a file is in the way
    with pytest.raises(DownloadError, match=r"big.gz"):
        download_files(tmp_path / "data", BIG_PIN, [url + "good/"], timeout=1)
    assert temp_files(tmp_path / "data") == []


def test_stale_temp_file_of_a_killed_download_is_removed(tmp_path, mirror):
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / ".a.gz.k1ll3d.tmp").write_bytes(b"x" * 1000)  # what `kill -9` mid-download leaves
    (dest / ".download.b9x2").write_bytes(b"x" * 1000)  # the same, from before atomic_write was used
    download_files(dest, {"a.gz": SUMS["a.gz"]}, [mirror])
    assert sorted(p.name for p in dest.iterdir()) == [".download-lock", "a.gz"]
    assert (dest / "a.gz").read_bytes() == FILES["a.gz"]


def test_temp_file_of_a_running_download_is_left_alone(tmp_path, mirror):
    """Parallel runs (the joblib launcher) may download into one directory: a run waits for the
    one downloading, and only removes temp files once their owner has let go of the directory."""
    dest = tmp_path / "data"
    dest.mkdir()
    live = dest / ".a.gz.running.tmp"
    live.write_bytes(b"partial")
    with open(dest / ".download-lock", "a") as lock:  # another process downloading right now
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiter = threading.Thread(target=download_files, args=(dest, {"a.gz": SUMS["a.gz"]}, [mirror]))
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and live.exists()
    waiter.join(timeout=3)
    assert not waiter.is_alive() and not live.exists()
    assert (dest / "a.gz").read_bytes() == FILES["a.gz"]
