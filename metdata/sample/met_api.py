"""The Met Collection API and its image host, served from a sample-museum World (source_apis.md A, D.1).

Routes: /public/collection/v1/objects, /v1/objects/{id}, /v1/departments, /v1/search (all matches at
once, or 410 Gone in "retired" mode), /v1.1/search (offset/limit pages, a 10,000-result window) and
/CRDImages/{dept}/{rendition}/{file} with the CDN's caching and Range behaviour. Answers copy the
real service's quirks: bare-string 400 for a bad date, `objectIDs: null` for no hits, filters that
fail silently on v1.1, HTML (not JSON) for missing images.

Service switches in `server.faults.extra`: "met_search_retired" (v1 search answers 410),
"malformed_json" (API bodies cut in half), and for images "truncate_images" (full Content-Length
announced, half the bytes sent), "corrupt_images" (garbled bytes), "wrong_content_type" (a 200
text/html page instead of the image).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date
from email.utils import formatdate
from urllib.parse import unquote

from metdata.sample.exhibit_images import HTML_PAGE, scramble
from metdata.sample.model import BASE, MetObject, World
from metdata.sample.server import Request, Response

API = "/public/collection"
RETIRED_BODY = {
    "message": "/public/collection/v1/search was retired on 2026-10-01. It was backed by Solr and returned every "
               "matching object ID in one response; use /public/collection/v1.1/search, which is Elastic-backed "
               "and paginated via offset and limit. To enumerate the whole collection, use "
               "/public/collection/v1/objects or the Open Access CSV dataset.",
    "replacement": "/public/collection/v1.1/search",
    "documentation": "https://metmuseum.github.io/",
}
BAD_DATE = "Date not valid. Dates must be in the format YYYY-MM-DD e.g. 1987-05-03"
SEARCH_WINDOW = 10_000
PAGE_DEFAULT, PAGE_MAX = 100, 500
IMAGE_LAST_MODIFIED = formatdate(1_741_000_000, usegmt=True)
NOT_FOUND_PAGE = (b"<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head>"
                  b"<body><h2>404 - File or directory not found.</h2></body></html>")
_ID = re.compile(r"-?\d+")


def dump_json(value, base_url: str) -> bytes:
    """Compact UTF-8 JSON, keys in record order, image URLs pointing at this server."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace(BASE, base_url).encode()


class MetService:
    prefixes = (API + "/", "/CRDImages/")

    def __init__(self, world: World):
        self.world = world
        self._search_cache: set[tuple] = set()
        self._valid_departments = {d["departmentId"] for d in world.departments}

    def handle(self, request: Request, server) -> Response:
        if request.path.startswith("/CRDImages/"):
            return self._image(request, server.faults.extra)
        response = self._api(request, server)
        if "origin" in request.headers:
            response.headers["Access-Control-Allow-Origin"] = "*"
        if server.faults.extra.get("malformed_json") and response.content_type.startswith("application/json"):
            response.body = response.body[: len(response.body) // 2]
        return response

    # --- the JSON API ---------------------------------------------------------------------------------

    def _api(self, request: Request, server) -> Response:
        path = request.path[len(API):].rstrip("/")
        query = request.query

        def ok(value, status: int = 200, headers: dict | None = None) -> Response:
            return Response(status, dump_json(value, server.url), headers=headers or {})

        if path == "/v1/objects":
            return self._objects(query, ok)
        if path.startswith("/v1/objects/"):
            return self._object(path[len("/v1/objects/"):], ok)
        if path == "/v1/departments":
            return ok({"departments": self.world.departments})
        if path == "/v1/search":
            return self._search_v1(query, ok, retired=bool(server.faults.extra.get("met_search_retired")))
        if path == "/v1.1/search":
            return self._search_v11(query, ok)
        return Response(404, NOT_FOUND_PAGE, "text/html")

    def _objects(self, query: dict, ok) -> Response:
        objects = list(self.world.objects.values())
        if "metadataDate" in query:
            since = _parse_date(query["metadataDate"])
            if since is None:
                return ok(BAD_DATE, 400)
            objects = [o for o in objects if o.record["metadataDate"][:10] >= since]
        if "departmentIds" in query:
            wanted = {int(p) for p in query["departmentIds"].split("|") if _ID.fullmatch(p.strip())}
            objects = [o for o in objects if o.department_id in wanted]
        ids = [o.record["objectID"] for o in objects]
        return ok({"total": len(ids), "objectIDs": ids})

    def _object(self, raw_id: str, ok) -> Response:
        if not _ID.fullmatch(raw_id):
            return ok({"message": "could not parse objectID"}, 400)
        obj = self.world.objects.get(int(raw_id))
        if obj is None:
            return ok({"message": "ObjectID not found"}, 404)
        if not obj.listed:
            return ok({"message": "Not a valid object"}, 404)
        return ok(obj.record)

    def _search_v1(self, query: dict, ok, retired: bool) -> Response:
        if retired:
            return ok(RETIRED_BODY, 410)
        if not query.get("q"):  # q is effectively required on v1: no data without it
            return ok({"total": 0, "objectIDs": None})
        ids = self._matches(query, strict_departments=True)
        return ok({"total": len(ids), "objectIDs": ids or None})

    def _search_v11(self, query: dict, ok) -> Response:
        ids = self._matches(query, strict_departments=False)
        offset = max(0, _int(query.get("offset"), 0))
        limit = _int(query.get("limit"), PAGE_DEFAULT)
        limit = PAGE_DEFAULT if limit <= 0 else min(limit, PAGE_MAX)
        page = ids[offset:min(offset + limit, SEARCH_WINDOW)]
        key = tuple(query.items())
        cache = "HIT" if key in self._search_cache else "MISS"
        self._search_cache.add(key)
        return ok({"total": len(ids), "objectIDs": page or None}, headers={"X-Search-Cache": cache})

    def _matches(self, query: dict, strict_departments: bool) -> list[int]:
        """Object ids matching `query`: v1 and v1.1 filters; malformed or mis-cased filters are ignored."""
        objects = [o for o in self.world.objects.values() if _passes_filters(o, query)]
        department = query.get("departmentId", "")
        if _ID.fullmatch(department) and (strict_departments or int(department) in self._valid_departments):
            objects = [o for o in objects if o.department_id == int(department)]
        q = _fold(query.get("q", ""))
        if not q.strip():
            return sorted((o.record["objectID"] for o in objects), key=str)
        fields = [name for name in ("title", "tags", "artistOrCulture") if query.get(name) == "true"]
        hits = [o for o in objects if all(token in _haystack(o, fields) for token in q.split())]
        in_title = [o for o in hits if q in _fold(o.record["title"])]
        rest = [o for o in hits if q not in _fold(o.record["title"])]
        return [o.record["objectID"] for o in in_title + rest]

    # --- the image host -------------------------------------------------------------------------------

    def _image(self, request: Request, extra: dict) -> Response:
        body = self.world.image_bytes(unquote(request.path))
        if body is None:
            return Response(404, NOT_FOUND_PAGE, "text/html")
        if extra.get("wrong_content_type"):
            return Response(200, HTML_PAGE, "text/html; charset=utf-8")
        if extra.get("corrupt_images"):
            body = scramble(body)
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        headers = {"ETag": etag, "Last-Modified": IMAGE_LAST_MODIFIED, "Cache-Control": "max-age=432000",
                   "Accept-Ranges": "bytes", "Access-Control-Allow-Origin": "*"}
        content_type = "text/html" if body.startswith(b"<") else "image/jpeg"  # PNGs go out as image/jpeg
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", content_type, headers)
        byte_range = _parse_range(request.headers.get("range", ""), len(body))
        if byte_range == "unsatisfiable":
            return Response(416, b"", "text/html", {**headers, "Content-Range": f"bytes */{len(body)}"})
        if byte_range is not None:
            start, end = byte_range
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            return Response(206, body[start:end + 1], content_type, headers)
        response = Response(200, body, content_type, headers)
        if extra.get("truncate_images"):
            response.truncate_to = len(body) // 2
        return response


def _parse_date(text: str) -> str | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and _ID.fullmatch(text) else default


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single `bytes=` range, "unsatisfiable", or None to send everything."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else "unsatisfiable"
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if end >= start else None


def _fold(text: str) -> str:
    """Lower case without accents, so "durer" finds "Dürer" as the real search does."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _haystack(obj: MetObject, fields: list[str]) -> str:
    r = obj.record
    tags = " ".join(t["term"] for t in r["tags"] or [])
    parts = {"title": [r["title"]], "tags": [tags], "artistOrCulture": [r["artistDisplayName"], r["culture"]]}
    if fields:
        chosen = [text for name in fields for text in parts[name]]
    else:
        chosen = [r["title"], tags, r["artistDisplayName"], r["culture"], r["objectName"], r["medium"],
                  r["accessionNumber"], r["classification"], r["department"], r["period"]]
    return _fold(" ".join(chosen))


def _passes_filters(obj: MetObject, query: dict) -> bool:
    """Boolean filters only when exactly "true"/"false" (case-sensitive); other values are ignored."""
    r = obj.record
    flags = {"isHighlight": r["isHighlight"], "isOnView": r["GalleryNumber"] != "",
             "hasImages": obj.studio_image is not None}  # not a promise of an Open Access image
    for name, value in flags.items():
        if query.get(name) in ("true", "false") and value != (query[name] == "true"):
            return False
    media = [m for m in query.get("medium", "").split("|") if m]
    if media and not any(m in r["medium"] for m in media):
        return False
    places = {r[k] for k in ("country", "city", "state", "region", "subregion", "culture")} - {""}
    wanted_places = [g for g in query.get("geoLocation", "").split("|") if g]
    if wanted_places and not any(g in places for g in wanted_places):
        return False
    begin, end = query.get("dateBegin", ""), query.get("dateEnd", "")
    if _ID.fullmatch(begin) and _ID.fullmatch(end):  # both are required; one alone is ignored
        return r["objectBeginDate"] >= int(begin) and r["objectEndDate"] <= int(end)
    return True
