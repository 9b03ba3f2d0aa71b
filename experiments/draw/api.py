"""The draw-a-digit page, the test-set viewer and the JSON API they use (``nnsweep.experiments.serve``
starts it). A Flask application over a list of trained runs (``nnsweep.experiments.predict.Classifier``):

    GET  /draw, /viewtest                 the two pages (static files in experiments/draw/web/)
    GET  /api/runs                        the runs served: id, name, classes, accuracies
    POST /api/predict?run=0&top=3         body: an image (PNG, JPEG ...) of one drawn digit, or
                                          JSON {"pixels": [784 values in 0..1]} of a 28x28 image
                                          that is already MNIST-style; answers the top classes and
                                          the 28x28 input the network saw
    GET  /api/test?run=0&page=1&per_page=60&show=all|mistakes&label=3&order=index|confidence
                                          the run's test images with its answers, a page at a time
    GET  /api/test/<index>?run=0          one test image with all the run's outputs for it

Bad input (no image, an unreadable or blank one, a body over 1 MB, a wrong number of values, an
unknown run or page, a number that is not plain digits or has too many) is a 400 with
``{"error": "<one line>"}``; the server goes on serving. Images are decoded by a ``Decoder`` of
``max_decodes`` threads with a bounded queue: a full one is a 503 (``Busy``), so many large
uploads at once cost bounded memory.
"""

from __future__ import annotations

import base64
import io
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
from flask import Flask, jsonify, redirect, request
from PIL import Image
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge, RequestTimeout

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.evaluate import load_run_test_set
from nnsweep.experiments.predict import Classifier
from nnsweep.nets.data.datasets import unscale_inputs
from nnsweep.nets.data.digit_image import BLANK_LEVEL, FIELD, decode_grey
from nnsweep.nets.data.readers import DataFormatError
from nnsweep.runrecord.bounded import parse_json

WEB = Path(__file__).resolve().parent / "web"
MAX_BODY = 1_000_000  # bytes: a 280x280 drawing as PNG is 5-20 KB
# The page sends 280x280 = 78,400 pixels; a small PNG of one colour can declare 40 million, and
# decoding it costs a gigabyte.
MAX_UPLOAD_PIXELS = 4_000_000
# What Pillow may open from the network: the common image formats, never PostScript (Ghostscript).
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
# Decoding an image at that limit takes about 90 MB (grey levels, ink, crops as float64) for a
# fraction of a second: MAX_DECODES run at once, in the decoder's own threads (``Decoder``).
MAX_DECODES = 2
MIN_EXTENT = 0.15  # of the drawing's larger side: a click (a 20-px dot on the 280-px pad) is no digit
SEND_AS = (
    "send the image itself as the body with Content-Type: image/png (curl --data-binary @digit.png "
    "-H 'Content-Type: image/png'), or JSON {\"pixels\": [784 values]} with Content-Type: application/json"
)
MAX_PER_PAGE = 500
ORDERS = ("index", "confidence")
SHOWS = ("all", "mistakes")


class ApiError(NnsweepError):
    """A request the API cannot answer; its message is the 400's one line."""


class Busy(NnsweepError):
    """The server cannot take the request now (the decoder's queue is full): a 503, try again."""


@dataclass
class ServedRun:
    """One run the page offers: its classifier and a short name."""

    classifier: Classifier
    name: str

    def as_json(self, run_id: int) -> dict[str, Any]:
        run = self.classifier.run
        summary = run.summary_if_readable()  # damaged since: the model still answers, its accuracies are unknown
        return {
            "id": run_id,
            "name": self.name,
            "path": str(run.path),
            "kind": self.classifier.kind,
            "classes": list(self.classifier.labels.names),
            "noun": self.classifier.labels.noun,
            "val_acc": summary.best_val_acc if summary else None,
            "test_acc": summary.test_acc if summary else None,
        }


@dataclass(frozen=True)
class TestAnswers:
    """A run's test images (uint8, as shown) with its outputs for each, computed once."""

    source: str
    pixels: np.ndarray  # (n, 784) uint8, ink bright
    labels: np.ndarray  # (n,)
    outputs: np.ndarray  # (n, classes)

    # Computed once per run, not once per image shown (a page of 60 asked for each 120 times).
    @cached_property
    def answers(self) -> np.ndarray:
        return self.outputs.argmax(axis=1)

    @cached_property
    def confidence(self) -> np.ndarray:
        return self.outputs.max(axis=1)


def png_data_url(pixels: np.ndarray) -> str:
    """A square uint8 image ``(side*side,)`` as a ``data:`` URL (the pages load nothing else)."""
    side = math.isqrt(pixels.size)
    buffer = io.BytesIO()
    Image.fromarray(pixels.reshape(side, side), mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() also takes " 3", "1_0", "３", "--1" fails
MAX_DIGITS = 18  # every index and count here is far smaller; int() refuses over 4,300 digits


def _whole_number(text: str, label: str, advice: str) -> int:
    """``text`` as an int, or ``ApiError`` "<label><text> is not a whole number; <advice>": only
    an optional minus and ASCII digits, and never more digits than any index or count here has."""
    shown = repr(text) if len(text) <= 30 else f"{text[:20]!r}... ({len(text)} characters)"
    if not WHOLE_NUMBER.fullmatch(text):
        raise ApiError(f"{label}{shown} is not a whole number; {advice}")
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ApiError(f"{label}{shown} is out of range; {advice}")
    return int(text)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    value = _whole_number(text, f"{name}=", f"give {name}={low}..{high}")
    if not low <= value <= high:
        raise ApiError(f"{name}={value} is out of range; give {name}={low}..{high}")
    return value


def _choice_arg(name: str, choices: tuple[str, ...]) -> str:
    value = request.args.get(name) or choices[0]
    if value not in choices:
        raise ApiError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _body() -> bytes:
    """The request body, refused over ``MAX_BODY`` whether or not it said its length (chunked)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise RequestEntityTooLarge()
    try:
        body = request.stream.read(MAX_BODY + 1)
    except (OSError, ClientDisconnected) as err:
        # werkzeug raises ClientDisconnected from the reader's error for a body with a length
        cause = err.__context__ if isinstance(err, ClientDisconnected) else err
        if isinstance(cause, TimeoutError):
            seconds = request.environ.get("nnsweep.request_seconds")  # nnsweep.experiments.serve's request_timeout
            raise RequestTimeout(
                f"the request was not sent whole within {seconds:g} s; send the body at once (a drawing is a few KB)"
                if seconds
                else None
            ) from None
        if isinstance(err, ClientDisconnected) or isinstance(cause, ConnectionError):
            raise ClientDisconnected() from None
        # werkzeug's reader of a chunked body: a chunk size that is not hexadecimal
        raise ApiError(
            f"the body could not be read ({err}); with Transfer-Encoding: chunked, each chunk "
            "starts with its size in hexadecimal and a CRLF, and a 0 chunk ends the body"
        ) from None
    if len(body) > MAX_BODY:
        raise RequestEntityTooLarge()
    if not body:
        raise ApiError(f"the request has no body; {SEND_AS}")
    return body


def _pixels(body: bytes) -> np.ndarray:
    """JSON ``{"pixels": [...]}`` (or the bare list): 784 numbers in 0..1, flat or 28 rows of 28."""
    try:  # bounded: no deep nesting, no 5,000-digit numbers (nnsweep.runrecord.bounded)
        data = parse_json(body.decode("utf-8"))
    except ValueError as err:  # a UnicodeDecodeError too
        raise ApiError(f'the body is not valid JSON ({err}); send {{"pixels": [784 values in 0..1]}}') from None
    pixels = data.get("pixels") if isinstance(data, dict) else data
    if isinstance(pixels, list) and len(pixels) == FIELD and all(isinstance(row, list) for row in pixels):
        pixels = [value for row in pixels for value in row]  # 28 rows of 28
    n_inputs = FIELD * FIELD
    if not isinstance(pixels, list):
        raise ApiError('the JSON body must be {"pixels": [784 values in 0..1]} (a 28x28 image, row by row)')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pixels):
        raise ApiError("pixels must all be numbers in 0..1 (no strings, booleans, nulls or nested lists)")
    if len(pixels) != n_inputs:
        raise ApiError(f"pixels has {len(pixels)} values; give {n_inputs} (a 28x28 image, row by row)")
    ink = np.asarray(pixels, dtype=np.float64)
    if not np.isfinite(ink).all() or ink.min() < 0 or ink.max() > 1:
        raise ApiError("pixels must lie in 0..1 (0 background, 1 ink); divide 0-255 pixel values by 255")
    if ink.max() < BLANK_LEVEL:
        raise ApiError("pixels are blank (no ink); draw a digit")
    return ink.astype(np.float32)


def _ink_from_request(classifier: Classifier, decoder: "Decoder") -> np.ndarray:
    """The ``(784,)`` ink the network sees, from the request: an image to prepare the MNIST way,
    or JSON pixels taken as they are. Other content types are refused (a web page elsewhere can
    only send those to this server without asking first)."""
    if request.mimetype == "application/json":
        return _pixels(_body())
    if not request.mimetype.startswith("image/"):
        raise ApiError(f"a body of Content-Type {request.mimetype or 'none'} is not taken; {SEND_AS}")
    return decoder.prepare(_body(), classifier)  # the body is read first: a slow client holds no decoder


def _prepared(body: bytes, classifier: Classifier) -> np.ndarray:
    try:
        grey = decode_grey(io.BytesIO(body), "the posted image", MAX_UPLOAD_PIXELS, UPLOAD_FORMATS)
        return classifier.prepare(grey, "the drawing", MIN_EXTENT)
    except DataFormatError as err:
        raise ApiError(str(err)) from None


class Decoder:
    """Decodes posted images in ``count`` threads of its own, with at most ``QUEUED`` per
    thread waiting; a request that finds the queue full is a 503 (``Busy``).

    Why threads of its own, not only a semaphore around the decoding in the request threads: a
    freed array of up to 32 MB stays in the memory pool (glibc's arena) of the thread that
    allocated it, and each request thread may get its own arena. With a semaphore of 2, 24
    uploads at once still peaked at 0.9 GB and kept 0.7 GB; each decoding in its own request
    thread, 2.4 GB. The decoder's threads reuse their own arenas: the peak was 0.24 GB above
    the idle server's, whatever the number of uploads (``tests/experiments/test_serve.py``)."""

    QUEUED = 4

    def __init__(self, count: int = MAX_DECODES) -> None:
        self.count = count
        self.pool = ThreadPoolExecutor(count, thread_name_prefix="decode")
        self.places = threading.BoundedSemaphore(count * (1 + self.QUEUED))

    def prepare(self, body: bytes, classifier: Classifier) -> np.ndarray:
        """The ``(784,)`` ink of the image in ``body`` (``Classifier.prepare``), or ``Busy``."""
        if not self.places.acquire(blocking=False):
            raise Busy(
                f"the server is decoding other images ({self.count} at once, {self.count * self.QUEUED} "
                "waiting); try again in a moment"
            )
        try:
            return self.pool.submit(_prepared, body, classifier).result()
        finally:
            self.places.release()


def create_app(
    runs: list[ServedRun],
    test_dir: str | Path | None = None,
    local_names: tuple[str, ...] | None = None,
    max_decodes: int = MAX_DECODES,
) -> Flask:
    """The application serving ``runs`` (the first is the one the pages open with); viewtest
    shows each run's own test split, or the IDX test set in ``test_dir``.

    ``local_names``: the only host names requests may be addressed to (a server on 127.0.0.1
    then answers no page that reached it under another name: DNS rebinding); None takes any."""
    app = Flask(__name__, static_folder=str(WEB), static_url_path="/static")
    app.json.sort_keys = False
    tests: dict[int, TestAnswers] = {}
    tests_lock = threading.Lock()
    decoder = Decoder(max_decodes)

    def served(default: int = 0) -> tuple[int, ServedRun]:
        run_id = _int_arg("run", default, 0, len(runs) - 1)
        return run_id, runs[run_id]

    def test_answers(run_id: int) -> TestAnswers:
        with tests_lock:  # loaded once per run, on first use: the draw page alone never needs it
            if run_id not in tests:
                classifier = runs[run_id].classifier
                data, source = load_run_test_set(classifier.run, test_dir)
                x = data.x.reshape(len(data), -1)
                pixels = unscale_inputs(x, classifier.scaling)
                outputs = classifier.outputs(pixels.astype(np.float32) / 255.0)
                tests[run_id] = TestAnswers(source, pixels, np.asarray(data.labels), outputs)
            return tests[run_id]

    @app.before_request
    def addressed_to_this_machine():
        if local_names is not None and request.host.rsplit(":", 1)[0].strip("[]") not in local_names:
            return jsonify(
                error=f"this server answers requests to {' or '.join(local_names)} only, not to {request.host}"
            ), 400
        return None

    @app.errorhandler(ApiError)
    def bad_request(err: ApiError):
        return jsonify(error=" ".join(str(err).split())), 400

    @app.errorhandler(Busy)
    def busy(err: Busy):
        return jsonify(error=str(err)), 503, {"Retry-After": "1"}

    @app.errorhandler(NnsweepError)
    def server_side(err: NnsweepError):  # e.g. the run's test set cannot be read: not the request's fault
        return jsonify(error=" ".join(str(err).split())), 500

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if isinstance(err, RequestEntityTooLarge):  # the rest of the body is not read: close after
            return (
                jsonify(
                    error=f"the body is over {MAX_BODY // 1_000_000} MB; a drawing of one digit is a "
                    "few KB, so send a smaller image"
                ),
                400,
                {"Connection": "close"},
            )
        if not request.path.startswith("/api/"):
            return err
        if err.code == 404:
            return jsonify(
                error=f"no API at {request.path}; the API is GET /api/runs, POST /api/predict, "
                "GET /api/test and GET /api/test/<index>"
            ), 404
        if err.code == 405:
            return jsonify(
                error=f"{request.method} {request.path} is not allowed; POST /api/predict, GET the others"
            ), 405
        return jsonify(error=" ".join(f"{err.name}: {err.description}".split())), err.code

    @app.get("/")
    def index():
        return redirect("/draw")

    @app.get("/draw")
    def draw_page():
        return app.send_static_file("draw.html")

    @app.get("/viewtest")
    def viewtest_page():
        return app.send_static_file("viewtest.html")

    @app.get("/api/runs")
    def api_runs():
        return jsonify(runs=[r.as_json(i) for i, r in enumerate(runs)])

    @app.post("/api/predict")
    def api_predict():
        run_id, run = served()
        classifier = run.classifier
        top = _int_arg("top", min(3, classifier.classes), 1, classifier.classes)
        ink = _ink_from_request(classifier, decoder)
        row = classifier.outputs(ink[None, :])[0]
        return jsonify(
            run=run_id,
            kind=classifier.kind,
            top=[{"class": k, "label": classifier.labels[k], "value": v} for k, v in classifier.best(row, top)],
            input=[round(float(v), 3) for v in ink],
        )

    @app.get("/api/test")
    def api_test():
        run_id, run = served()
        answers = test_answers(run_id)
        per_page = _int_arg("per_page", 60, 1, MAX_PER_PAGE)
        show, order = _choice_arg("show", SHOWS), _choice_arg("order", ORDERS)
        label = _int_arg("label", -1, -1, run.classifier.classes - 1)
        wrong = answers.answers != answers.labels
        chosen = np.flatnonzero(
            (wrong if show == "mistakes" else np.ones_like(wrong)) & ((answers.labels == label) if label >= 0 else True)
        )
        if order == "confidence":  # least confident first; ties in index order
            chosen = chosen[np.argsort(answers.confidence[chosen], kind="stable")]
        pages = max(1, math.ceil(len(chosen) / per_page))
        page = _int_arg("page", 1, 1, pages)
        shown = chosen[(page - 1) * per_page : page * per_page]
        return jsonify(
            run=run_id,
            source=answers.source,
            images=len(answers.labels),
            mistakes=int(wrong.sum()),
            accuracy=float(1 - wrong.mean()) if len(wrong) else None,
            count=int(len(chosen)),
            page=page,
            pages=pages,
            per_page=per_page,
            items=[_test_item(answers, int(i)) for i in shown],
        )

    @app.get("/api/test/<index>")
    def api_test_image(index: str):
        run_id, run = served()
        answers = test_answers(run_id)
        number = _whole_number(index, "test image ", f"give /api/test/0 .. /api/test/{len(answers.labels) - 1}")
        if not 0 <= number < len(answers.labels):
            raise ApiError(
                f"test image {number} does not exist; there are {len(answers.labels)} (0..{len(answers.labels) - 1})"
            )
        return jsonify(
            run=run_id,
            kind=run.classifier.kind,
            **_test_item(answers, number),
            outputs=[float(v) for v in answers.outputs[number]],
        )

    return app


def _test_item(answers: TestAnswers, index: int) -> dict[str, Any]:
    return {
        "index": index,
        "label": int(answers.labels[index]),
        "answer": int(answers.answers[index]),
        "confidence": float(answers.confidence[index]),
        "image": png_data_url(answers.pixels[index]),
    }


def quiet_request_log() -> Callable[[], None]:
    """Werkzeug logs every request; the draw page asks several times a second while drawing."""
    import logging

    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    return lambda: logger.setLevel(level)
