"""Headless Chromium for the tests of pages (the live report, the draw page): Debian's chromium
driven through chromium-driver with Selenium. Tests that need it are skipped, and say why, on a
machine without them (``.ci/run`` installs both)."""

from __future__ import annotations

import shutil
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


def start_browser(fast_input: bool = False):
    """Headless Chromium under Selenium (quit it when done).

    ``fast_input``: no frame-rate limit. Each pointer move of a drawing waits for a frame, 16 ms at
    60 frames a second, five times longer than without; but without the limit an idle page
    costs Chromium 9% of a core instead of 1%, so only the drawing tests ask for it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No background networking: this machine has no internet, and Chromium's own connections
    # would be refused at every start.
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--allow-file-access-from-files",
        "--disable-background-networking",
        "--no-first-run",
        "--window-size=1280,900",
    ]
    if fast_input:
        flags += ["--disable-frame-rate-limit", "--disable-gpu-vsync"]
    for flag in flags:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture
def browser():
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(condition, timeout: float, what: str, every: float = 0.02):
    """``condition()``'s first true value, asked every ``every`` s, within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def draw_strokes(driver, element_id: str, strokes, kind: str = "pen", move_ms: int = 10) -> None:
    """Draw ``strokes`` (lists of (x, y) in the unit square) on the page's element, one stroke at a
    time, as a ``kind`` pointer ("pen", "mouse" or "touch") would: down, moves of ``move_ms``
    each, up."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    box = driver.execute_script(
        "const b = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [b.left, b.top, b.width, b.height];",
        element_id,
    )
    left, top, width, height = box
    kinds = {"pen": interaction.POINTER_PEN, "mouse": interaction.POINTER_MOUSE, "touch": interaction.POINTER_TOUCH}
    for stroke in strokes:
        actions = ActionBuilder(driver, mouse=PointerInput(kinds[kind], kind), duration=move_ms)
        pointer = actions.pointer_action
        points = [(round(left + x * width), round(top + y * height)) for x, y in stroke]
        pointer.move_to_location(*points[0])
        pointer.pointer_down(pressure=0.5) if kind == "pen" else pointer.pointer_down()
        for x, y in points[1:]:
            pointer.move_to_location(x, y)
        pointer.pointer_up()
        actions.perform()


# ----- the draw page (nnsweep.experiments.serve) ------------------------------------------------------


def page_state(driver, name: str) -> str | None:
    return driver.execute_script(f"return document.body.dataset[{name!r}] || null")


def draw_and_wait(
    driver, strokes, stroke_by_stroke: bool = True, kind: str = "pen"
) -> dict[str, list[tuple[str, float]]]:
    """Draw a digit with a ``kind`` pointer, waiting for the answer to each stroke (or only to the
    whole digit, drawn at full speed); the answers shown, by run: (class, value), best first."""
    groups = [[stroke] for stroke in strokes] if stroke_by_stroke else [strokes]
    done = 0
    for group in groups:
        draw_strokes(driver, "pad", group, kind=kind, move_ms=10 if stroke_by_stroke else 0)
        done += len(group)
        wait_until(
            lambda done=done: (
                page_state(driver, "answeredStrokes") == str(done)
                and page_state(driver, "state") in ("answered", "error")
            ),
            15,
            f"the answer to stroke {done}",
        )
    assert page_state(driver, "state") == "answered", driver.find_element("id", "error").text
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('.answer')].map("
        "p => [p.dataset.run, [...p.querySelectorAll('li')].map(li => [li.dataset.class, Number(li.dataset.value)])]))"
    )
