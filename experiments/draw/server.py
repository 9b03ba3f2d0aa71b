"""The draw page's HTTP server: werkzeug's threaded server, bounded so that no client can hold it.

Each request has one deadline for all it sends (``request_timeout``, ``DeadlineReader``), a
chunked body is refused past 1 MB at once (``BoundedDechunkedInput``), at most
``max_connections`` requests are served at once and one more is answered 503 without a thread
(``BoundedServer``). Ctrl-C and SIGTERM stop it cleanly (``serve``).
"""

from __future__ import annotations

import errno
import io
import json
import signal
import socket
import threading
import time
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler

from nnsweep.experiments.build import ConfigError
from nnsweep.experiments.cli import warn
from nnsweep.experiments.draw.api import ServedRun, create_app, quiet_request_log
from nnsweep.experiments.draw.inputs import MAX_BODY, MAX_DECODES

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


REQUEST_SECONDS = 30.0  # a client's time to send its whole request (headers and body)
MAX_CONNECTIONS = 32  # requests served at once; each may hold a body of up to 1 MB


class DeadlineReader(io.RawIOBase):
    """A socket's input with one deadline for everything read from it: each ``recv`` may wait
    only for the time left. (A socket timeout alone is per ``recv``: a client sending one byte
    every 29 s keeps a connection, and its thread, for good.)"""

    def __init__(self, connection: socket.socket, seconds: float) -> None:
        self.connection, self.seconds = connection, seconds
        self.deadline = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 (a writable buffer)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request was not sent whole within {self.seconds:g} s")
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


class BoundedDechunkedInput(DechunkedInput):
    """Werkzeug's reader of a ``Transfer-Encoding: chunked`` body that refuses, as soon as it
    reads the size, a chunk that takes the body past ``MAX_BODY``: a client declaring
    ``FFFFFFFF`` bytes gets its 413 at once instead of holding its thread for the whole
    request time waiting for bytes that are never sent."""

    def __init__(self, rfile) -> None:  # noqa: ANN001 (a binary file)
        super().__init__(rfile)
        self.declared = 0

    def read_chunk_len(self) -> int:
        length = super().read_chunk_len()
        self.declared += length
        if self.declared > MAX_BODY:
            raise RequestEntityTooLarge()
        return length


class PatientHandler(WSGIRequestHandler):
    """Werkzeug's request handler, with ``request_seconds`` for the client to send its request,
    headers and body (werkzeug answers one request per connection, so the clock starts when
    the connection is taken). A client out of time is cut off: its thread is free again."""

    request_seconds = REQUEST_SECONDS
    timeout = REQUEST_SECONDS  # for writes: a client that does not read its answer

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, self.request_seconds))

    def make_environ(self):  # noqa: ANN201 (werkzeug's WSGI environ)
        environ = super().make_environ()
        if isinstance(environ["wsgi.input"], DechunkedInput):
            environ["wsgi.input"] = BoundedDechunkedInput(self.rfile)
        environ["nnsweep.request_seconds"] = self.request_seconds  # named by the app's 408
        return environ


class BoundedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server serving at most ``max_connections`` requests at once; one
    more is answered 503 at once, without a thread (each thread may hold a 1 MB body)."""

    def __init__(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 (socketserver's)
        if not self.slots.acquire(blocking=False):
            body = json.dumps(
                {"error": f"the server is answering {self.max_connections} requests already; try again in a moment"}
            ).encode()
            try:
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # no thread was started (it releases its slot when it ends): give it back
            self.slots.release()
            raise
        # Not on Ctrl-C or SIGTERM (a KeyboardInterrupt), which can come after the thread started,
        # while start() waits for it to run: releasing the slot for it then raised "released too
        # many times", socketserver took that ValueError for one failed request, and the interrupt
        # was lost (a server that did not stop). The server stops; its slot count no longer matters.

    def process_request_thread(self, request, client_address) -> None:  # noqa: ANN001
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


# Long on purpose: start, serve and stop of one server, with the clean stop on every signal, in order.
def serve(
    runs: list[ServedRun],
    host: str,
    port: int,
    test_dir: str | None = None,
    request_timeout: float = REQUEST_SECONDS,
    max_connections: int = MAX_CONNECTIONS,
    max_decodes: int = MAX_DECODES,
) -> None:
    """Serve the pages until Ctrl-C (or SIGTERM): ``max_connections`` requests at once, each
    sent whole within ``request_timeout`` s, ``max_decodes`` images decoded at once."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port={port} is not a port; give 1..65535, or port=0 for any free one")
    if not host.strip() or host != host.strip():
        raise ConfigError(
            f"host={host!r} is not an address; give host=127.0.0.1 (this machine only, the default) "
            "or the address to serve on"
        )
    # Bound here, not by werkzeug: it prints its own lines and exits 1 when the port is taken.
    try:
        listening = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use (another page still running?); "
                "give port=<another>, or port=0 for any free one"
            ) from None
        raise ConfigError(
            f"cannot serve on {host}:{port} ({err.strerror or err}); give another host= or port="
        ) from None
    local = host in LOCAL_HOSTS
    if not local:
        warn(
            f"serving on {host}{' (every address of this machine)' if host in ('0.0.0.0', '::') else ''}: "
            "anyone who can reach it there can use the page and its API (there is no login); the default "
            "host=127.0.0.1 serves this machine only"
        )
    app = create_app(runs, test_dir, local_names=LOCAL_HOSTS if local else None, max_decodes=max_decodes)
    handler = type(
        "PatientHandler", (PatientHandler,), {"request_seconds": request_timeout, "timeout": request_timeout}
    )
    with listening:
        server = BoundedServer(host, port, app, handler=handler, fd=listening.fileno(), max_connections=max_connections)
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{server.socket.getsockname()[1]}"
        restore = quiet_request_log()
        # SIGTERM (kill, a service manager) stops it as Ctrl-C does.
        previous = signal.signal(signal.SIGTERM, _stop)
        try:  # from the moment the address is out, Ctrl-C is a clean stop
            print(
                f"nnsweep: draw a digit at {address}/draw, the test set at {address}/viewtest "
                f"({len(runs)} run{'s' if len(runs) > 1 else ''}; Ctrl-C stops)",
                flush=True,
            )
            server.serve_forever(poll_interval=0.2)  # werkzeug's returns quietly on Ctrl-C
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.server_close()
            restore()
    print("nnsweep: stopped serving", flush=True)
