"""The live report: a page that follows a running sweep in a real browser and stops when it ends,
figures drawn only when their inputs change, and an unchanged sweep answered at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from nnsweep.reports.build import build_report
from nnsweep.reports.live import STALE_S, update, write_live_js
from nnsweep.sweeps.keeper import collect_owned
from tests.browser import needs_browser, wait_until
from tests.experiments.conftest import REPO, run_module
from tests.reports.synthetic import write_sweep

pytestmark = pytest.mark.slow  # trains, sweeps or serves in processes: the full suite, not make test-fast


def body(driver, name: str) -> str | None:
    return driver.execute_script(f"return document.body ? document.body.dataset[{name!r}] || null : null")


STATUS_SPANS = "Array.from(document.querySelectorAll('p.status span')).map(s => [s.dataset.status, s.textContent])"


def status_counts(spans) -> dict[str, int]:
    """The page's status line, read as [[status, "running: 1"], ...]: {"running": 1, "ok": 2, ...}."""
    return {status: int(text.rpartition(":")[2]) for status, text in spans or []}


def statuses(driver) -> dict[str, int]:
    return status_counts(driver.execute_script(f"return {STATUS_SPANS}"))


def live_reading(driver) -> tuple[int, dict[str, int]] | None:
    """(how many times the page has loaded, its status line) of a live page whose script has run,
    read in one call; None while a reload is under way (the new page's body may be there before
    its script ran) or once the page is no longer live."""
    reading = driver.execute_script(
        "var b = document.body; if (!b || document.readyState !== 'complete' || b.dataset.live !== '1' "
        f"|| !b.dataset.loads) return null; return [Number(b.dataset.loads), {STATUS_SPANS}]"
    )
    if reading is None:
        return None
    loads, spans = reading
    return loads, status_counts(spans)


@needs_browser
def test_the_page_follows_a_running_sweep_and_stops_when_it_ends(tmp_path, browser):
    sweep = tmp_path / "lr"
    env = {**os.environ, "NNSWEEP_LIVE_REPORT": "1", "PYTHONPATH": str(REPO / "src")}
    # Three runs one after the other, each about 7 s alone (48 epochs of per-sample SGD): longer than the page's
    # reload period (nnsweep.reports.live.POLL_S) and than a live build on a loaded machine (runs of 2 s
    # had all ended before the second build, and the page went from "1 running" to the final one).
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nnsweep.sweep_lr",
            "--lrs",
            "0.1,0.5,2",
            "--epochs",
            "48",
            "--batch",
            "1",
            "--jobs",
            "1",
            "--sweep-dir",
            str(sweep),
            "data.train_limit=2000",
            "trainer.progress=false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        index = sweep / "report" / "index.html"
        wait_until(lambda: index.is_file(), 60, "the live page")  # written as the sweep starts, before any figure
        browser.get(index.resolve().as_uri())
        seen, history, start = [], [], time.monotonic()

        def finished_more() -> bool:  # the page reloads by itself and shows the runs as they end
            reading = live_reading(browser)
            if reading is not None:
                seen.append(reading)
                if not history or history[-1][1:] != reading:
                    history.append((round(time.monotonic() - start, 1), *reading))
            return (
                len(seen) >= 2
                and seen[-1][1].get("ok", 0) > seen[0][1].get("ok", 0)
                and any(counts.get("running") for _, counts in seen)
            )  # runs training now are shown as such

        try:  # asked a few times a second: a reload is not slowed down by the questions
            wait_until(finished_more, 180, "the live page to show more finished runs, and a running one", every=0.25)
        except AssertionError as err:
            line = browser.execute_script("var l = document.getElementById('live'); return l ? l.textContent : null")
            proc.kill()
            raise AssertionError(
                f"the page said {line!r} (data-live {body(browser, 'live')!r}); what it showed, "
                f"when: {history}; live.js: {(index.parent / 'live.js').read_text()[:300]!r}; "
                f"the sweep said: {proc.communicate()[0][-3000:]}"
            ) from err
        assert seen[-1][0] > seen[0][0]  # it reloaded itself: nobody asked it to
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, output[-3000:]
    # After the sweep: one more reload brings the final page, and then it stays.
    wait_until(lambda: body(browser, "live") is None and body(browser, "images"), 30, "the final page")
    loads = body(browser, "loads")
    assert statuses(browser) == {"ok": 3}
    loaded, total = map(int, body(browser, "images").split("/"))
    assert loaded == total >= 10
    time.sleep(5)  # two reload periods
    assert body(browser, "loads") == loads and body(browser, "live") is None
    assert "heatmap_val_acc_anim.gif" in index.read_text()  # the animations wait for the final page


@needs_browser
def test_a_live_page_whose_sweep_died_stops_reloading_and_says_so(tmp_path, browser):
    write_sweep(tmp_path)
    index = build_report(tmp_path, live=True)
    report = index.parent
    write_live_js(report, "running")
    browser.get(index.resolve().as_uri())
    first = int(wait_until(lambda: body(browser, "loads"), 10, "the page"))
    wait_until(lambda: int(body(browser, "loads") or 0) > first, 10, "a reload")
    # The watcher was killed with its sweeper: live.js is no longer rewritten.
    (report / "live.js").write_text(
        "window.nnsweepLive = "
        + ('{"state": "running", "heartbeat": %f, "message": "", "stale_after": %d};' % (time.time() - 3600, STALE_S))
    )
    wait_until(lambda: body(browser, "live") == "stopped", 10, "the page to stop")
    assert "probably killed" in browser.find_element("id", "live").text
    loads = body(browser, "loads")
    time.sleep(4.5)
    assert body(browser, "loads") == loads  # no more reloads


def test_the_heartbeat_goes_on_while_a_slow_build_draws(tmp_path, monkeypatch):
    """A build on a loaded machine (the first imports matplotlib and draws every figure; the
    final one draws animations) can take longer than the page waits for news: the heartbeat must
    not wait for it, or the page takes the slow watcher for a dead one and stops following."""
    import nnsweep.reports.live as live

    write_sweep(tmp_path)
    report = tmp_path / "report"
    read, write = os.pipe()
    ages = []

    def slow_update(sweep_dir, live=False, **kwargs):
        for _ in range(10):  # a build ten heartbeats long
            time.sleep(0.1)
            said = (report / "live.js").read_text()
            ages.append(time.time() - float(said.split('"heartbeat": ')[1].split(",")[0]))
        if not live:  # the final build: the sweeper said "finished" during the live one
            return report / "index.html", True
        os.write(write, b"finished\n")
        return report / "index.html", True

    monkeypatch.setattr(live, "update", slow_update)
    monkeypatch.setattr(live, "find_runs", lambda sweep_dir: ["a run"])  # the tables stand for the runs
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the watcher's SIGINT is not the test's
    with os.fdopen(read, "rb") as stdin:
        assert live.watch(tmp_path, interval=0.05, stdin=stdin) == 0
    os.close(write)
    assert len(ages) == 20 and max(ages) < 0.6, ages  # fresh all through both builds, not 1 s old
    final = (report / "live.js").read_text()
    assert '"state": "finished"' in final and not list(report.glob(".live.js*.tmp"))
    time.sleep(0.2)
    assert (report / "live.js").read_text() == final  # nothing beats after the final word


def test_only_what_changed_is_drawn_and_an_unchanged_sweep_returns_at_once(tmp_path):
    sweep = tmp_path / "lr"
    trained = run_module(
        "nnsweep.sweep_lr",
        "--lrs",
        "0.05,0.5,2",
        "--epochs",
        "2",
        "--batch",
        "10",
        "--net",
        "mlp",
        "--no-report",
        "--sweep-dir",
        str(sweep),
        "data.train_limit=300",
        "net.hidden=[16]",
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    index, built = update(sweep)
    assert built
    drawn = {p.name: p.stat().st_mtime_ns for p in index.parent.glob("*.png")}
    again, built = update(sweep)
    assert again == index and not built
    # A run that is not the best is marked differently: its tables change, the best model does not.
    worst = sweep / pd.read_csv(sweep / "runs.csv").iloc[-1]["run"]
    summary = worst / "summary.json"
    summary.write_text(summary.read_text().replace('"status": "ok"', '"status": "failed"'))
    _, built = update(sweep)
    assert not built  # the report reads the tables, and nobody collected the runs again yet
    collect_owned(sweep)  # as the sweep's keeper, or nnsweep report, does
    _, built = update(sweep)
    assert built and "failed: 1" in index.read_text()
    redrawn = {p.name for p in index.parent.glob("*.png") if p.stat().st_mtime_ns != drawn.get(p.name)}
    assert "heatmap_val_acc.png" in redrawn  # its row is marked now
    assert not redrawn & {"confusion_matrix.png", "first_layer.png", "misclassified.png"}  # the best model's: kept
    result = run_module("nnsweep.reports", str(sweep))
    assert result.returncode == 0 and "up to date" in result.stdout, result.stderr[-2000:]


def test_ctrl_c_of_a_sweep_leaves_a_page_that_says_it_stopped(tmp_path):
    """Ctrl-C reaches the whole process group, the watcher too: it must not die with the sweep
    but write the final page, which says the sweep stopped, and exit."""
    sweep = tmp_path / "grid"
    env = {**os.environ, "NNSWEEP_LIVE_REPORT": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nnsweep.experiments.train",
            "-m",
            "optimizer.lr=0.1,1",
            "net=mlp",
            "net.hidden=[16]",
            "data.train_limit=1000",
            "trainer.epochs=400",
            "trainer.progress=false",
            "hydra.launcher.n_jobs=1",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (sweep / "report" / "index.html").is_file(), 120, "the live page")
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
    live = sweep / "report" / "live.js"
    wait_until(lambda: '"stopped"' in live.read_text(), 60, "live.js to say stopped")
    page = (sweep / "report" / "index.html").read_text()
    assert "data-live" not in page and "the sweep stopped before it finished" in page
    watchers = subprocess.run(["pgrep", "-f", f"reports --watch {sweep}"], capture_output=True, text=True).stdout
    assert watchers.strip() == ""  # no watcher left behind


def tiny_lr_sweep(sweep):
    trained = run_module(
        "nnsweep.sweep_lr",
        "--lrs",
        "0.05,0.5",
        "--epochs",
        "1",
        "--batch",
        "10",
        "--net",
        "mlp",
        "--jobs",
        "1",
        "--no-report",
        "--sweep-dir",
        str(sweep),
        "data.train_limit=300",
        "net.hidden=[16]",
    )
    assert trained.returncode == 0, trained.stderr[-2000:]


def test_a_report_removes_the_temp_files_an_interrupted_report_left(tmp_path):
    """Ctrl-C in the middle of a figure's atomic write leaves its temporary file; the next report
    (under the report's lock) removes it, in the report and its folders."""
    sweep = tmp_path / "lr"
    tiny_lr_sweep(sweep)
    assert run_module("nnsweep.reports", str(sweep)).returncode == 0
    left = [sweep / "report" / ".heatmap_val_acc.png.k2x9.tmp", sweep / "report" / "portraits" / ".best.png.q8.tmp"]
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half a png")
        os.utime(path, (time.time() - 3600, time.time() - 3600))  # from an earlier report
    young = sweep / "report" / ".live.js.a1.tmp"  # a writer without the lock (the watcher) may be at it now
    young.write_text("window.")
    result = run_module("nnsweep.reports", str(sweep))
    assert result.returncode == 0, result.stderr[-2000:]
    assert not any(p.exists() for p in left) and young.exists()


def test_a_final_page_that_cannot_be_written_is_said_by_the_sweep(tmp_path):
    """A full disk under the live report: the sweep's runs and tables stand (its exit status is
    theirs), and one line says the final page is missing and how to draw it. The file size limit
    stands in for the full disk (the same error path: a write refused)."""
    sweep = tmp_path / "lr"
    tiny_lr_sweep(sweep)
    script = (
        "import logging, resource, sys; from pathlib import Path; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s'); "
        "from nnsweep.sweeps.live import live_report\n"
        "with live_report(Path(sys.argv[1])): pass"
    )
    env = {**os.environ, "NNSWEEP_LIVE_REPORT": "1", "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(sweep)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    said = [line for line in result.stderr.splitlines() if "final report page was not written" in line]
    assert len(said) == 1 and f"nnsweep report {sweep}" in said[0], result.stderr[-2000:]


def test_a_link_planted_at_the_reports_lock_is_refused_and_its_target_untouched(tmp_path):
    sweep = tmp_path / "lr"
    write_sweep(sweep, model=False)
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    (sweep / "report").mkdir()
    (sweep / "report" / ".lock").symlink_to(target)
    result = run_module("nnsweep.reports", str(sweep))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "report/.lock is a symbolic link" in lines[0], result.stderr
    assert target.read_text() == "precious"
