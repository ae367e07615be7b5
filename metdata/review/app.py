"""The review page's server: loopback only, standard library only, paged JSON and cached thumbnails.

Routes::

    GET  /                               the page (static/index.html, app.js, style.css)
    GET  /api/items?offset=0&limit=50    one page of review items with their candidates and decisions
    GET  /api/next-pending?after=i       the index of the next item without a decision
    POST /api/decisions                  {"item_kind", "item_id", "decision", "object_id"} -> saved record
    GET  /thumb/<query|distractor>/<id>?px=N   a photo, as a small JPEG made on demand and cached
    GET  /thumb/exhibit/<object_id>/<n>?px=N   exhibit image n of an object

Items are every kept query photo (those with text-match candidates first) and every kept distractor.
Only the requested page is serialised and only the thumbnails on screen are made, so tens of thousands
of items cost nothing up front; thumbnails live in ROOT/review/thumbs/ and survive restarts.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import socket
import threading
from collections import defaultdict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image, ImageOps

from metdata import manifests
from metdata.errors import UserError
from metdata.review.store import DecisionStore, KnownIds

THUMB_SIZES_PX = (160, 320, 640)
MAX_PAGE = 200
MAX_EXHIBITS_SHOWN = 4
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def check_loopback(host: str) -> None:
    """The page writes decisions without a login: it must never listen beyond this machine."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UserError(
            f"--host {host}: the review page listens on loopback only (127.0.0.1, ::1 or localhost)"
        )


def _table(root, kind: str, object_ids: set[int] | None = None) -> list[dict]:
    """A manifest's rows (none when absent), optionally only those of `object_ids` (a 480k-row
    objects table is filtered in Arrow, not turned into Python dicts)."""
    path = manifests.manifest_path(root, kind)
    if not path.exists():
        return []
    table = manifests.read(path, kind)
    if object_ids is not None:
        table = table.filter(pc.is_in(table["object_id"], pa.array(sorted(object_ids), pa.int64())))
    return table.to_pylist()


class ReviewData:
    """The items to review, built once from the manifests; pages are serialised on request."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        queries = [q for q in _table(root, "queries") if q["status"] == "kept"]
        distractors = [d for d in _table(root, "distractors") if d["status"] == "kept"]
        if not queries and not distractors:
            raise UserError(
                f"{self.root}: no kept query photos or distractors to review (run the crawls first)"
            )
        self.candidates: dict[str, list[dict]] = defaultdict(list)
        for m in sorted(_table(root, "matches"), key=lambda m: (m["query_id"], m["rank"])):
            self.candidates[m["query_id"]].append(m)
        shown = {m["object_id"] for ms in self.candidates.values() for m in ms}
        self.objects = {o["object_id"]: o for o in _table(root, "objects", shown)}
        self.exhibits: dict[int, list[str]] = defaultdict(list)
        for e in sorted(_table(root, "exhibits", shown), key=lambda e: (e["object_id"], e["image_index"])):
            if e["status"] == "kept":
                self.exhibits[e["object_id"]].append(e["path"])
        queries.sort(key=lambda q: (not self.candidates.get(q["query_id"]), q["query_id"]))
        distractors.sort(key=lambda d: (d["kind"], d["distractor_id"]))
        self.items = [("query", q["query_id"], q) for q in queries]
        self.items += [("distractor", d["distractor_id"], d) for d in distractors]
        self.photo_paths = {("query", q["query_id"]): q["path"] for q in queries}
        self.photo_paths.update({("distractor", d["distractor_id"]): d["path"] for d in distractors})

    def page(self, offset: int, limit: int, store: DecisionStore) -> dict:
        chunk = self.items[offset : offset + limit]
        return {
            "total": len(self.items),
            "offset": offset,
            "items": [self._item(offset + i, *item, store) for i, item in enumerate(chunk)],
        }

    def _item(self, index: int, kind: str, item_id: str, row: dict, store: DecisionStore) -> dict:
        item = {
            "index": index,
            "item_kind": kind,
            "item_id": item_id,
            "image": f"/thumb/{kind}/{item_id}?px=640",
            "title": row["title"],
            "decision": store.get(kind, item_id),
        }
        if kind == "query":
            item.update(
                description=row["description"],
                tags=row["tags"] or [],
                photographer=row["photographer_name"] or row["photographer"],
                source=row["source"],
                page_url=row["page_url"],
                known_object_id=row["met_object_id"],
                candidates=[self._candidate(m) for m in self.candidates.get(item_id, [])],
            )
        else:
            item.update(
                kind=row["kind"],
                category=row["category"],
                license=row["license"],
                artist=row["artist"],
                source_page=row["source_page"],
            )
        return item

    def _candidate(self, match: dict) -> dict:
        obj = self.objects.get(match["object_id"], {})
        n_images = len(self.exhibits.get(match["object_id"], []))
        return {
            "rank": match["rank"],
            "object_id": match["object_id"],
            "score": match["score"],
            "matched_on": match["matched_on"],
            "auto_accept": match["auto_accept"],
            **{
                k: obj.get(k)
                for k in ("title", "artist", "date", "accession_number", "department", "object_url")
            },
            "images": [
                f"/thumb/exhibit/{match['object_id']}/{n}?px=320"
                for n in range(min(n_images, MAX_EXHIBITS_SHOWN))
            ],
            "n_images": n_images,
        }

    def next_pending(self, after: int, store: DecisionStore) -> int | None:
        """The first item after `after` (wrapping around) with no decision, or None when all are decided."""
        n = len(self.items)
        for step in range(1, n + 1):
            i = (after + step) % n
            if store.get(*self.items[i][:2]) is None:
                return i
        return None

    def image_path(self, parts: list[str]) -> str | None:
        """The ROOT-relative image for a /thumb/... route, or None; only manifest paths are ever served."""
        if len(parts) == 2 and parts[0] in ("query", "distractor"):
            return self.photo_paths.get((parts[0], parts[1]))
        if len(parts) == 3 and parts[0] == "exhibit" and parts[1].isdigit() and parts[2].isdigit():
            paths = self.exhibits.get(int(parts[1]), [])
            return paths[int(parts[2])] if int(parts[2]) < len(paths) else None
        return None


def thumbnail(root: Path, rel_path: str, px: int) -> bytes:
    """A JPEG no larger than px on its longest side, made once and cached under ROOT/review/thumbs/."""
    source = root / rel_path
    stat = source.stat()
    key = hashlib.sha1(f"{rel_path}|{stat.st_mtime_ns}|{stat.st_size}|{px}".encode()).hexdigest()
    cached = root / "review" / "thumbs" / str(px) / f"{key}.jpg"
    if cached.exists():
        return cached.read_bytes()
    with Image.open(source) as im:
        im.draft("RGB", (px, px))
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((px, px))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=82)
    data = out.getvalue()
    manifests.write_bytes_atomic(cached, data)
    return data


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewHTTPServer

    def log_message(self, format, *args):  # the terminal shows the URL and errors, not every thumbnail
        pass

    # -- plumbing -----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _host_ok(self) -> bool:
        """Refuse requests addressed to another host name (DNS rebinding from a web page)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in ("127.0.0.1", "localhost", "::1")

    # -- routes -------------------------------------------------------------------------------------
    def do_GET(self):
        if not self._host_ok():
            return self._json(HTTPStatus.FORBIDDEN, {"error": "loopback host names only"})
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        app = self.server.app
        if not parts:
            return self._static("index.html")
        if parts[0] == "static" and len(parts) == 2:
            return self._static(parts[1])
        if parts == ["api", "items"]:
            offset = _int(query, "offset", 0, 0, len(app.data.items))
            limit = _int(query, "limit", 50, 1, MAX_PAGE)
            return self._json(HTTPStatus.OK, app.data.page(offset, limit, app.store))
        if parts == ["api", "next-pending"]:
            after = _int(query, "after", -1, -1, len(app.data.items))
            return self._json(HTTPStatus.OK, {"index": app.data.next_pending(after, app.store)})
        if parts[0] == "thumb":
            return self._thumb(parts[1:], _int(query, "px", 320, 1, max(THUMB_SIZES_PX)))
        self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

    def do_POST(self):
        if not self._host_ok():
            return self._json(HTTPStatus.FORBIDDEN, {"error": "loopback host names only"})
        if urlsplit(self.path).path != "/api/decisions":
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            record = self.server.app.store.decide(
                body.get("item_kind"), body.get("item_id"), body.get("decision"), body.get("object_id")
            )
        except (json.JSONDecodeError, AttributeError):
            return self._json(HTTPStatus.BAD_REQUEST, {"error": "the body is not a JSON object"})
        except UserError as exc:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        self._json(HTTPStatus.OK, {"saved": record})

    def _static(self, name: str) -> None:
        suffix = Path(name).suffix
        resource = resources.files("metdata.review").joinpath("static", name)
        if suffix not in STATIC_TYPES or not resource.is_file():
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such file: {name}"})
        self._send(HTTPStatus.OK, resource.read_bytes(), f"{STATIC_TYPES[suffix]}; charset=utf-8")

    def _thumb(self, parts: list[str], px: int) -> None:
        app = self.server.app
        rel = app.data.image_path(parts)
        if rel is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "no such image"})
        size = min((s for s in THUMB_SIZES_PX if s >= px), default=max(THUMB_SIZES_PX))
        try:
            data = thumbnail(app.data.root, rel, size)
        except (OSError, Image.DecompressionBombError) as exc:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"{rel}: {exc}"})
        self._send(HTTPStatus.OK, data, "image/jpeg", cache=True)


def _int(query: dict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(name, [default])[0])
    except ValueError:
        value = default
    return max(low, min(high, value))


@dataclass
class ReviewApp:
    data: ReviewData
    store: DecisionStore


class ReviewHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app: ReviewApp):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, ReviewHandler)
        self.app = app


class ReviewServer:
    """A running review server (in a background thread); `.url`, `.stop()`."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0):
        check_loopback(host)
        root = Path(root)
        app = ReviewApp(ReviewData(root), DecisionStore(root, KnownIds(root)))
        try:
            self.httpd = ReviewHTTPServer((host, port), app)
        except OSError as exc:  # port taken or not ours to bind: a user mistake, not a traceback
            raise UserError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="metdata-review", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Block until stopped (Ctrl-C arrives between the short joins)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
