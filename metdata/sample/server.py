"""One threaded loopback HTTP server for all stand-in services, with a request log and fault switches.

Each service is a `Service`: it claims URL path prefixes and turns a `Request` into a `Response`.
Faults are set per test through `server.faults` (see `Faults`); every request is logged in
`server.log` so tests can check User-Agents, pacing, continuation echoes and what was fetched twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]  # query string merged with a form-encoded POST body
    headers: dict[str, str]  # lower-cased names
    body: bytes
    time: float = field(default_factory=time.monotonic)

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (slow-response faults)
    truncate_to: int | None = None  # announce full Content-Length but send only this many bytes


class Service(Protocol):
    prefixes: tuple[str, ...]

    def handle(self, request: Request, server: SampleServer) -> Response: ...


@dataclass
class Faults:
    """Switches shared by all services. Services read what applies to them.

    `next_statuses`: statuses returned (HTML body) by the next requests whose path starts with
    `fault_prefix`, one per request, e.g. [500, 503]. `retry_after_s` goes with 429/503 answers.
    `throttle_after`: after this many requests to `fault_prefix`, answer the Met's HTML 403 page
    for `throttle_cooldown_s`. `delay_s`: sleep this long before every answer under `fault_prefix`.
    `extra`: service-specific switches (e.g. {"met_search_retired": True, "truncate_images": True}).
    """

    fault_prefix: str = "/"
    next_statuses: list[int] = field(default_factory=list)
    retry_after_s: float | None = None
    throttle_after: int | None = None
    throttle_cooldown_s: float = 1.0
    delay_s: float = 0.0
    extra: dict = field(default_factory=dict)


THROTTLE_PAGE = (
    b"<html style=\"height:100%\"><head><META NAME=\"ROBOTS\" CONTENT=\"NOINDEX, NOFOLLOW\"></head>"
    b"<body style=\"margin:0px;height:100%\"><iframe id=\"main-iframe\" src=\"/_Incapsula_Resource\" "
    b"frameborder=0 width=\"100%\" height=\"100%\" marginheight=\"0px\" marginwidth=\"0px\">"
    b"Request unsuccessful. Incapsula incident ID: 1318000240110298476-27451196396634373</iframe></body></html>"
)


class SampleServer:
    """Serve `services` on 127.0.0.1 in a background thread. Use as a context manager."""

    def __init__(self, services: list[Service], host: str = "127.0.0.1", port: int = 0):
        self.services = services
        self.faults = Faults()
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._counted = 0
        self._throttled_until = 0.0
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SampleServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sample-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Clear the log and all faults (between test phases)."""
        with self._lock:
            self.log.clear()
            self.faults = Faults()
            self._counted = 0
            self._throttled_until = 0.0

    def requests_to(self, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.log.append(request)
            faults = self.faults
            if request.path.startswith(faults.fault_prefix):
                fault = self._generic_fault(faults)
                if fault is not None:
                    return fault
        if request.method == "HEAD":
            return Response(405, b"", "text/plain", {"Allow": "OPTIONS, GET"})
        for service in self.services:
            if any(request.path.startswith(p) for p in service.prefixes):
                response = service.handle(request, self)
                if faults.delay_s and request.path.startswith(faults.fault_prefix):
                    response.delay_s = max(response.delay_s, faults.delay_s)
                return response
        return Response(404, b"<html><body>Not Found</body></html>", "text/html")

    def _generic_fault(self, faults: Faults) -> Response | None:
        """Called with the lock held: queued statuses, then the throttle window."""
        now = time.monotonic()
        if faults.next_statuses:
            status = faults.next_statuses.pop(0)
            headers = {}
            if faults.retry_after_s is not None:
                headers["Retry-After"] = f"{faults.retry_after_s:g}"
            if status == 403:
                return Response(403, THROTTLE_PAGE, "text/html", headers)
            return Response(status, f"<html>error {status}</html>".encode(), "text/html", headers)
        if faults.throttle_after is not None:
            self._counted += 1
            if now < self._throttled_until:
                return Response(403, THROTTLE_PAGE, "text/html", {"X-CDN": "Imperva"})
            if self._counted > faults.throttle_after:
                self._throttled_until = now + faults.throttle_cooldown_s
                self._counted = 0
                return Response(403, THROTTLE_PAGE, "text/html", {"X-CDN": "Imperva"})
        return None


def _make_handler(server: SampleServer) -> Callable:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean; the server keeps its own log
            pass

        def _serve(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            ctype = self.headers.get("Content-Type", "")
            if body and ctype.startswith("application/x-www-form-urlencoded"):
                query.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            request = Request(
                method=self.command,
                path=parts.path,
                query=query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = server.dispatch(request)
            if response.delay_s:
                time.sleep(response.delay_s)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                payload = response.body
                if response.truncate_to is not None:
                    payload = payload[: response.truncate_to]
                    self.close_connection = True
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        do_GET = do_POST = do_HEAD = _serve

    return Handler
