"""PoliteSession and RateLimiter against a tiny loopback service (bounded loops, small waits)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from metdata import USER_AGENT
from metdata.http import HttpError, PoliteSession, RateLimiter, TooLarge, parse_retry_after, with_query
from metdata.sample.server import Request, Response, SampleServer


class EchoService:
    """/json -> a JSON echo of the query; /html -> an HTML page; /bytes/<n> -> n bytes; /json403."""

    prefixes = ("/json", "/html", "/bytes/", "/json403", "/moved", "/loop")

    def handle(self, request: Request, server: SampleServer) -> Response:
        if request.path == "/json":
            return Response(200, json.dumps({"query": request.query, "method": request.method}).encode())
        if request.path == "/html":
            return Response(200, b"<html><body>maintenance</body></html>", "text/html")
        if request.path == "/json403":
            return Response(403, b'{"message": "Forbidden"}')
        if request.path == "/moved":
            return Response(302, b"", "text/html", {"Location": "/bytes/5"})
        if request.path == "/loop":
            return Response(301, b"", "text/html", {"Location": "/loop"})
        return Response(200, b"x" * int(request.path.rsplit("/", 1)[1]), "image/jpeg")


@pytest.fixture()
def server():
    with SampleServer([EchoService()]) as srv:
        yield srv


def session(**kwargs) -> PoliteSession:
    options = {"rate_per_s": None, "max_retries": 3, "timeout_s": 5.0, "deadline_s": 5.0, "backoff_s": 0.01}
    return PoliteSession(**{**options, **kwargs})


def test_get_json_sends_user_agent_and_params(server):
    with session() as s:
        data = s.get_json(server.url + "/json?a=1", params={"b": "x y", "ids": [1, 2]})
    assert data["query"] == {"a": "1", "b": "x y", "ids": "2"}
    assert server.log[0].user_agent == USER_AGENT
    assert "@" in USER_AGENT  # contact details


def test_get_json_on_html_body_is_a_clear_error(server):
    with session() as s, pytest.raises(HttpError, match="expected JSON .* text/html: <html><body>maintenance"):
        s.get_json(server.url + "/html")


def test_post_form_returns_parsed_json_or_text(server):
    with session() as s:
        assert s.post_form(server.url + "/json", {"method": "flickr.test"})["query"] == {"method": "flickr.test"}
        assert s.post_form(server.url + "/html", {}).startswith("<html>")
    assert server.log[0].method == "POST"


def test_429_waits_for_retry_after(server):
    server.faults.next_statuses = [429]
    server.faults.retry_after_s = 0.4
    with session() as s:
        assert s.get_bytes(server.url + "/bytes/10") == b"x" * 10
        assert (s.stats.requests, s.stats.retries, s.stats.throttled) == (2, 1, 1)
    first, second = server.log
    assert second.time - first.time >= 0.4


def test_5xx_retried_then_success(server):
    server.faults.next_statuses = [500, 503, 502]
    with session() as s:
        assert s.get_json(server.url + "/json")["method"] == "GET"
        assert s.stats.retries == 3
    assert len(server.log) == 4


@pytest.mark.parametrize("status", [408, 507, 522])
def test_request_timeout_and_every_5xx_are_retried(server, status):
    server.faults.next_statuses = [status]
    with session() as s:
        assert s.get_bytes(server.url + "/bytes/2") == b"xx"
        assert s.stats.retries == 1
    assert len(server.log) == 2


@pytest.mark.parametrize("status", [400, 401, 410, 451])
def test_other_4xx_are_not_retried(server, status):
    server.faults.next_statuses = [status]
    with session() as s, pytest.raises(HttpError) as info:
        s.get_bytes(server.url + "/bytes/2")
    assert info.value.status == status
    assert len(server.log) == 1


def test_retries_are_bounded(server):
    server.faults.next_statuses = [503] * 10
    with session(max_retries=2) as s, pytest.raises(HttpError) as info:
        s.get_bytes(server.url + "/bytes/1")
    assert info.value.status == 503 and "HTTP 503" in str(info.value)
    assert len(server.log) == 3
    assert s.stats.failures == 1


def test_404_is_never_retried(server):
    with session() as s, pytest.raises(HttpError) as info:
        s.get_bytes(server.url + "/missing.jpg")
    assert info.value.status == 404 and info.value.url.endswith("/missing.jpg")
    assert len(server.log) == 1


def test_html_throttle_403_is_retried_with_backoff(server):
    server.faults.next_statuses = [403, 403]
    with session(backoff_s=0.1) as s:
        assert s.get_bytes(server.url + "/bytes/3") == b"xxx"
        assert s.stats.throttled == 2
    times = [r.time for r in server.log]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1  # 0.1 * 2**n, jitter in [0.5, 1]


def test_json_403_is_not_retried(server):
    with session() as s, pytest.raises(HttpError) as info:
        s.get_json(server.url + "/json403")
    assert info.value.status == 403
    assert len(server.log) == 1


def test_retry_after_beyond_limit_fails_fast(server):
    server.faults.next_statuses = [429]
    server.faults.retry_after_s = 3600
    with session(max_wait_s=1.0) as s, pytest.raises(HttpError, match="Retry-After 3600 s exceeds"):
        s.get_bytes(server.url + "/bytes/1")
    assert len(server.log) == 1


def test_byte_cap_from_content_length(server):
    with session(max_bytes=100) as s, pytest.raises(TooLarge, match="100-byte cap"):
        s.get_bytes(server.url + "/bytes/101")
    with session(max_bytes=100) as s:
        assert len(s.get_bytes(server.url + "/bytes/100")) == 100


class _DribbleHandler(BaseHTTPRequestHandler):
    """Sends a body in small pieces with pauses and no Content-Length (a slow or endless transfer)."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        for _ in range(40):
            try:
                self.wfile.write(b"y" * 1000)
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)


@pytest.fixture()
def dribble_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _DribbleHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/slow.jpg"
    httpd.shutdown()
    httpd.server_close()


def test_deadline_bounds_the_whole_transfer(dribble_url):
    # each read arrives well within timeout_s, but the whole body takes ~2 s
    with session(max_retries=0, timeout_s=1.0, deadline_s=0.4) as s:
        started = time.monotonic()
        with pytest.raises(HttpError, match="0.4 s deadline") as info:
            s.get_bytes(dribble_url)
        assert time.monotonic() - started < 1.5  # the whole body would take 2 s
    assert info.value.status is None


def test_byte_cap_on_streamed_body(dribble_url):
    with session(max_retries=0, max_bytes=2500) as s, pytest.raises(TooLarge, match="more than the 2500"):
        s.get_bytes(dribble_url)


def test_network_error_has_no_status():
    with session(max_retries=1, timeout_s=1.0) as s, pytest.raises(HttpError, match="network error") as info:
        s.get_bytes("http://127.0.0.1:9/nothing-listens-here")
    assert info.value.status is None
    assert s.stats.retries == 1


def test_rate_limit_spaces_requests(server):
    with PoliteSession(rate_per_s=10.0) as s:
        for _ in range(5):
            s.get_bytes(server.url + "/bytes/1")
    assert len(server.log) == 5
    assert server.log[-1].time - server.log[0].time >= 4 / 10.0 - 0.03  # the first token is banked


def test_shared_limiter_spaces_threads():
    limiter = RateLimiter(rate_per_s=20.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(3):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 9
    assert stamps[-1] - stamps[0] >= 8 / 20.0 - 0.02  # nine tokens, the first free


def test_rate_limiter_burst_and_validation():
    limiter = RateLimiter(rate_per_s=5.0, burst=3)
    started = time.monotonic()
    for _ in range(3):
        limiter.acquire()
    assert time.monotonic() - started < 0.1
    limiter.acquire()
    assert time.monotonic() - started >= 0.15
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=0)


def test_get_reply_exposes_status_and_headers(server):
    with session() as s:
        reply = s.get_reply(server.url + "/json", params={"q": "1"})
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.body.startswith(b"{")


def test_reserve_returns_the_wait_without_sleeping():
    limiter = RateLimiter(rate_per_s=4.0)
    assert limiter.reserve() == 0.0
    assert 0.15 <= limiter.reserve() <= 0.25
    assert 0.4 <= limiter.reserve() <= 0.5  # slots are queued, not shared


def test_redirect_is_followed(server):
    with session() as s:
        assert s.get_bytes(server.url + "/moved") == b"xxxxx"
    assert [r.path for r in server.log] == ["/moved", "/bytes/5"]


def test_each_redirect_hop_passes_the_limiter(server):
    class Counting:
        acquired = 0

        def acquire(self):
            self.acquired += 1

    limiter = Counting()
    with PoliteSession(limiter=limiter, max_retries=0) as s:
        assert s.get_bytes(server.url + "/moved") == b"xxxxx"
        assert s.stats.requests == 2
    assert limiter.acquired == len(server.log) == 2


def test_a_redirect_loop_is_cut_off(server):
    with session(max_retries=0) as s, pytest.raises(HttpError, match="more than 5 redirects") as info:
        s.get_bytes(server.url + "/loop")
    assert info.value.status is None
    assert len(server.log) == 6


def test_retry_after_as_http_date():
    from email.utils import formatdate

    with session() as s:
        wait_s = s._retry_after_s({"retry-after": formatdate(time.time() + 30, usegmt=True)})
        assert 28 <= wait_s <= 30
        assert s._retry_after_s({"retry-after": "0.25"}) == 0.25
        assert s._retry_after_s({"retry-after": "soon"}) is None
        assert s._retry_after_s({}) is None
    assert parse_retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0  # a date in the past: now
    assert parse_retry_after("-3") == 0.0


def test_with_query():
    assert with_query("http://h/p", None) == "http://h/p"
    assert with_query("http://h/p?a=1", {"b": 2}) == "http://h/p?a=1&b=2"
