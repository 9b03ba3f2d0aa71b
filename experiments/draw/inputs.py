"""What a request to the draw page's API carries, read with limits: whole numbers and choices in its
query, its body (at most ``MAX_BODY`` bytes), and the drawing in it, decoded in a ``Decoder`` of
bounded threads (a full queue: ``Busy``, a 503). Bad input is an ``ApiError``: a 400 with one line.
"""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from flask import request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge, RequestTimeout

from nnsweep.core.errors import NnsweepError
from nnsweep.experiments.predict import Classifier
from nnsweep.nets.data.digit_image import BLANK_LEVEL, FIELD, decode_grey
from nnsweep.nets.data.readers import DataFormatError
from nnsweep.runrecord.bounded import parse_json

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


class ApiError(NnsweepError):
    """A request the API cannot answer; its message is the 400's one line."""


class Busy(NnsweepError):
    """The server cannot take the request now (the decoder's queue is full): a 503, try again."""


WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() also takes " 3", "1_0", "３", "--1" fails
MAX_DIGITS = 18  # every index and count here is far smaller; int() refuses over 4,300 digits


def whole_number(text: str, label: str, advice: str) -> int:
    """``text`` as an int, or ``ApiError`` "<label><text> is not a whole number; <advice>": only
    an optional minus and ASCII digits, and never more digits than any index or count here has."""
    shown = repr(text) if len(text) <= 30 else f"{text[:20]!r}... ({len(text)} characters)"
    if not WHOLE_NUMBER.fullmatch(text):
        raise ApiError(f"{label}{shown} is not a whole number; {advice}")
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ApiError(f"{label}{shown} is out of range; {advice}")
    return int(text)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    value = whole_number(text, f"{name}=", f"give {name}={low}..{high}")
    if not low <= value <= high:
        raise ApiError(f"{name}={value} is out of range; give {name}={low}..{high}")
    return value


def choice_arg(name: str, choices: tuple[str, ...]) -> str:
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


def ink_from_request(classifier: Classifier, decoder: "Decoder") -> np.ndarray:
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
