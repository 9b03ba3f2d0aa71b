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
uploads at once cost bounded memory. What a request carries is read in
``nnsweep.experiments.draw.inputs``.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
from flask import Flask, jsonify, redirect, request
from PIL import Image
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.draw.inputs import (
    MAX_BODY,
    MAX_DECODES,
    ApiError,
    Busy,
    Decoder,
    choice_arg,
    ink_from_request,
    int_arg,
    whole_number,
)
from nnsweep.experiments.evaluate import load_run_test_set
from nnsweep.experiments.predict import Classifier
from nnsweep.nets.data.datasets import unscale_inputs

WEB = Path(__file__).resolve().parent / "web"
MAX_PER_PAGE = 500
ORDERS = ("index", "confidence")
SHOWS = ("all", "mistakes")


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


# Long on purpose: Flask's routes are closures over the served runs and the decoder; each route is a few lines.
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
        run_id = int_arg("run", default, 0, len(runs) - 1)
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
        top = int_arg("top", min(3, classifier.classes), 1, classifier.classes)
        ink = ink_from_request(classifier, decoder)
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
        per_page = int_arg("per_page", 60, 1, MAX_PER_PAGE)
        show, order = choice_arg("show", SHOWS), choice_arg("order", ORDERS)
        label = int_arg("label", -1, -1, run.classifier.classes - 1)
        wrong = answers.answers != answers.labels
        chosen = np.flatnonzero(
            (wrong if show == "mistakes" else np.ones_like(wrong)) & ((answers.labels == label) if label >= 0 else True)
        )
        if order == "confidence":  # least confident first; ties in index order
            chosen = chosen[np.argsort(answers.confidence[chosen], kind="stable")]
        pages = max(1, math.ceil(len(chosen) / per_page))
        page = int_arg("page", 1, 1, pages)
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
        number = whole_number(index, "test image ", f"give /api/test/0 .. /api/test/{len(answers.labels) - 1}")
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
