"""How well the draw page's model reads digits people draw: ``make bench-draw``
(``python -m bench.draw_page``).

Trains (or reuses) ``make draw``'s model, chosen as ``make draw`` chooses it: with the full MNIST
installed (``make data``), ``experiment=mnist_cnn_full`` in ``results/draw/mnist-cnn-full``, else
``experiment=mnist_cnn`` in ``results/draw/mnist-cnn``; serves it as ``make draw`` does (beside the best run of
``make sweep-lr``'s sweep when there is one), and draws the test suite's hand-drawn digits
(``tests/experiments/drawn_digits.py``: 40 stroke sets, 4 per digit) on the page in headless
Chromium with pointer events. Prints how many each network read right, per digit, and what it
answered where it was wrong; saves a screenshot of each page into docs/ (``--no-screenshots``
leaves them alone).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.browser import draw_and_wait, page_state, start_browser, wait_until
from tests.experiments.drawn_digits import DRAWN_DIGITS

# make draw's choice (the Makefile's FULL_MNIST): the full MNIST's model once its files are there.
FULL_MNIST = any(Path("data/mnist", f"train-labels-idx1-ubyte{gz}").is_file() for gz in ("", ".gz"))
DRAW_EXPERIMENT = "mnist_cnn_full" if FULL_MNIST else "mnist_cnn"
DRAW_RUN = Path("results/draw") / DRAW_EXPERIMENT.replace("_", "-")
SWEEP = Path("results/sweep-lr/rashid-mnist5k-e15-b1")
DOCS = Path("docs")


def serve(compare: list[Path]) -> tuple[subprocess.Popen, str]:
    args = [f"run={DRAW_RUN}", "port=0", "best=1"]
    if compare:
        args.append("compare=[" + ",".join(f"'{c}'" for c in compare) + "]")
    process = subprocess.Popen(
        [sys.executable, "-m", "nnsweep.experiments.serve", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": "src"},
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        sys.exit(f"the server did not start: {line}")
    return process, "http://" + line.split("http://")[1].split("/")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-screenshots", action="store_true", help="do not write docs/draw-page.png, docs/viewtest-page.png"
    )
    args = parser.parse_args()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nnsweep.experiments.train",
            f"experiment={DRAW_EXPERIMENT}",
            "resume=true",
            "trainer.progress=false",
            f"hydra.run.dir={DRAW_RUN}",
        ],
        check=True,
    )
    process, address = serve([SWEEP] if SWEEP.is_dir() else [])
    driver = start_browser(fast_input=True)
    try:
        driver.get(f"{address}/draw?compare=1" if SWEEP.is_dir() else f"{address}/draw")
        wait_until(lambda: page_state(driver, "state") == "empty", 30, "the draw page")
        names = {str(r["id"]): r["name"] for r in driver.execute_script("return runs")}
        right: dict[str, Counter] = {run: Counter() for run in names}
        wrong: dict[str, list[str]] = {run: [] for run in names}
        for label, strokes in DRAWN_DIGITS:
            driver.find_element("id", "clear").click()
            shown = draw_and_wait(driver, strokes, stroke_by_stroke=False)
            for run, answers in shown.items():
                read = answers[0][0]
                right[run][label] += read == str(label)
                if read != str(label):
                    wrong[run].append(f"{label} read as {read}")
        per_digit = Counter(label for label, _ in DRAWN_DIGITS)
        print(f"{len(DRAWN_DIGITS)} hand-drawn digits ({per_digit[0]} of each), drawn on the page with pointer events:")
        for run, name in names.items():
            total = sum(right[run].values())
            print(f"  {name}: {total} of {len(DRAWN_DIGITS)} right ({total / len(DRAWN_DIGITS):.0%})")
            print("    per digit: " + " ".join(f"{d}:{right[run][d]}/{per_digit[d]}" for d in sorted(per_digit)))
            if wrong[run]:
                print("    wrong: " + ", ".join(wrong[run]))
        if not args.no_screenshots:
            screenshots(driver, address)
    finally:
        driver.quit()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def screenshots(driver, address: str) -> None:
    """The draw page with a 7 drawn (both networks' answers), and the viewer's mistakes with the
    ten outputs of the first one."""
    from selenium.webdriver.support.select import Select

    driver.set_window_size(1100, 620)
    driver.find_element("id", "clear").click()
    seven = [strokes for label, strokes in DRAWN_DIGITS if label == 7][1]
    draw_and_wait(driver, seven)
    DOCS.mkdir(exist_ok=True)
    driver.save_screenshot(str(DOCS / "draw-page.png"))
    driver.set_window_size(1100, 720)
    driver.get(f"{address}/viewtest")
    wait_until(lambda: page_state(driver, "state") == "shown", 30, "the viewer")
    Select(driver.find_element("id", "show")).select_by_value("mistakes")
    wait_until(
        lambda: page_state(driver, "state") == "shown" and driver.find_elements("css selector", "figure.wrong"),
        30,
        "the mistakes",
    )
    driver.find_elements("css selector", "figure.item")[0].click()
    wait_until(lambda: driver.find_element("id", "details").get_attribute("data-index"), 30, "the ten outputs")
    driver.save_screenshot(str(DOCS / "viewtest-page.png"))
    print(f"screenshots: {DOCS / 'draw-page.png'}, {DOCS / 'viewtest-page.png'}")


if __name__ == "__main__":
    main()
