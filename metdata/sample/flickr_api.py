"""The Flickr REST API and static image host of the sample museum, as `flickrapi` and gallery-dl see them.

One route, ``/services/rest/``, takes GET query strings and form POSTs alike (the server merges them);
the key comes from ``api_key`` or from the ``oauth_consumer_key`` of flickrapi's OAuth header. Answers
are JSON (``nojsoncallback=1``), JSONP (``jsonFlickrApi(...)`` or ``jsoncallback``) or REST XML with the
payload as the first child of ``<rsp>`` (what flickrapi's ``walk()`` reads). Errors are HTTP 200 with
``stat: fail``. Scalars are mixed on purpose, as in real captures (source_apis.md B.3, B.6): ``total``
is a string in search results and an int in ``getPublicPhotos``, every tenth photo has string widths,
``datetakengranularity`` alternates between ``"0"`` and ``0``.

Paging follows B.7: ``per_page`` at most 500, a page past the end repeats the last page, and results
past the 4,000th repeat earlier ones, so only a crawler that partitions by upload date sees them all.

Faults (``server.faults.extra``), besides the server's generic HTTP statuses:
  ``flickr_outage``: the next N calls answer code 201 (True: all of them);
  ``flickr_call_budget``: after N calls per key the key "has expired" (code 100), like a revoked key;
  ``flickr_result_window``: the 4,000-result window, smaller for tests;
  ``flickr_total_int``: search reports ``total`` as an int (the 2026 shape) instead of a string;
  ``flickr_deleted``: {photo_id: "404" | "placeholder" | "redirect"} for photos deleted after the search
  (a 404, the "photo unavailable" image in place, or a redirect to it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import threading
from urllib.parse import unquote
from xml.sax.saxutils import escape

from metdata.sample.model import FlickrPhoto, World
from metdata.sample.server import Request, Response
from metdata.sample.world_flickr import STATIC_PREFIX, derived_secret, original_is_public, photo_sizes
from metdata.sources.flickr import LICENSES

REST_PATH = "/services/rest/"
PLACEHOLDER_PATH = f"{STATIC_PREFIX}/images/photo_unavailable.png"
RESULT_WINDOW = 4000
MAX_PER_PAGE = 500
MAX_GEO_PER_PAGE = 250  # bbox and radial queries

# Our stand-in for https://s.yimg.com/pw/images/en-us/photo_unavailable.png (500x374 grey PNG).
PLACEHOLDER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAfQAAAF2CAAAAAC9xTWFAAAC6ElEQVR42u3azY3CMBSFUbCo5vZfC0tqoQAwyiJC0bvnWw7RjMjx"
    "s/mZ++umtpZbAF3QBV3QBV3QBV3QBV3QBV3QBV3QBV3QBR26oAu6oAu6oAu6oAu6oAu6oAu6oAu6oAs6dEEXdEEXdEEXdEEXdEEX"
    "dEEXdEEXdEEXdOiCLuiCLuiCLuiCLuiCLuiCLuiCLuiCLujQBV3QBV3QBV3QBV3QBV3QBV3QBV3QBV3QobsF0AVd0AVd0AVd0AVd"
    "0AVd0AVd0AVd0AVd0KELuqALuqALuqALuqALuqALuqALuqALuqBDF3RBF3RBF3RBF3RBF3RBF3RBF3RB16bHlCfy/McfiUkXdEEX"
    "dEEXdEEXdEEXdEEXdEEXdOiCLuiCLuiCLuiCLuiCLuiCLuiCLuiCLujQBV3QBV3QBV3QBV3QBV3QBf2sAr3QPNDNOnTg0GeaB3rh"
    "nAe6XR56BXWgG2/oVgD0mczpXBCre7RTuQmsavMtbkaz+5at8LBf7ZTZ/izQx45v+l7U294/jDMef7UP+scjBW/eF/P9dYE+17zt"
    "83hn+q9jPNAHb+4pmvMW9By7ouXdm+297DyvQc+ha1KzEBbztjmvQPfPMs50S6YA3aD3oceisb1rPnou8SugO9ChX9880AW9YXMP"
    "dAc69IYCnRT0BvNAN+fQnerQIV29x9Dn9URrexd06IIu6IIu6IIu6IIu6IIu6IKu87q/3AOTLuiCLuiCLuiCLuiCLuiCLuiCLuiC"
    "LuiCDl3QBV3QBV3QBV3QBV3QBV3QBV3QBV3QBR26oAu6oAu6oAu6oAu6oAu6oAu6oAu6oAs6dEEXdEEXdEEXdEEXdEEXdEEXdEEX"
    "dEEXdOiCLuiCLuiCLuiCLuiCLuiCLuiCLuiCLujQBV3QBV3QBV3QBV3QBV3QBV3QBV3QBV3QBR26oAu6oAu6oAu6oAu6oAu6oAu6"
    "oAu6oAs6dEEXdEEXdEEXdEEXdEEXdEEXdEEXdH3vDV2xE8uNHJH+AAAAAElFTkSuQmCC"
)

# flickr.photos.licenses.getInfo: B.5's REST XML verbatim; the JSON form has integer ids.
LICENSES_XML = "<rsp stat=\"ok\">\n<licenses>\n" + "".join(
    f'\t<license id="{i}" name="{name}" url="{url}" />\n' for i, (name, url) in LICENSES.items()
) + "</licenses>\n</rsp>\n"

_SEARCH_CRITERIA = ("text", "tags", "user_id", "min_upload_date", "max_upload_date", "min_taken_date",
                    "max_taken_date", "group_id", "machine_tags", "bbox", "lat", "place_id", "woe_id")
_KEY_FORMAT = re.compile(r"[0-9A-Za-z]{1,64}")
_OAUTH_KEY = re.compile(r'oauth_consumer_key="([^"]*)"')
_STATIC_NAME = re.compile(r"/(\d+)_[0-9a-f]+(?:_[a-z0-9]+)?\.(jpg|png|gif)$")


class FlickrFail(Exception):
    """An API error: answered as HTTP 200 with stat=fail."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FlickrService:
    """flickr.photos.search, people.getPublicPhotos, photos.getInfo/getSizes, licenses.getInfo, test.echo."""

    prefixes = (REST_PATH, f"{STATIC_PREFIX}/")

    def __init__(self, world: World):
        self.world = world
        self.photos = {p.photo_id: p for p in world.photos}
        self.index = {p.photo_id: i for i, p in enumerate(world.photos)}
        self.people = {p.nsid: p for p in world.photographers}
        self.calls_per_key: dict[str, int] = {}
        self._lock = threading.Lock()
        self.methods = {
            "flickr.photos.search": self._search,
            "flickr.people.getPublicPhotos": self._public_photos,
            "flickr.photos.getInfo": self._info,
            "flickr.photos.getSizes": self._sizes,
            "flickr.photos.licenses.getInfo": self._licenses,
            "flickr.test.echo": self._echo,
        }

    def handle(self, request: Request, server) -> Response:
        if request.path.startswith(STATIC_PREFIX):
            return self._static(request, server)
        q = request.query
        fmt = q.get("format", "rest") or "rest"
        if fmt not in ("json", "rest"):
            return _xml_fail(FlickrFail(111, f'Format "{fmt}" not found'))
        try:
            payload = self._call(q, request.headers, server)
        except FlickrFail as fail:
            if fmt == "rest":
                return _xml_fail(fail)
            return _json_response({"stat": "fail", "code": fail.code, "message": fail.message}, q)
        if fmt == "rest":
            if q.get("method") == "flickr.photos.licenses.getInfo":
                return Response(200, LICENSES_XML.encode(), "text/xml; charset=utf-8")
            return _xml_ok(payload)
        return _json_response({**payload, "stat": "ok"}, q)

    # ---- the API -------------------------------------------------------------------------------
    def _call(self, q: dict, headers: dict, server) -> dict:
        extra = server.faults.extra
        with self._lock:
            outage = extra.get("flickr_outage")
            if outage:
                if outage is not True:
                    extra["flickr_outage"] = outage - 1
                raise FlickrFail(201, "Sorry, the Flickr API service is not currently available.")
            key = q.get("api_key") or _oauth_key(headers.get("authorization", ""))
            if not key or not _KEY_FORMAT.fullmatch(key):
                raise FlickrFail(100, "Invalid API Key (Key has invalid format)")
            self.calls_per_key[key] = self.calls_per_key.get(key, 0) + 1
            budget = extra.get("flickr_call_budget")
            if budget is not None and self.calls_per_key[key] > budget:
                raise FlickrFail(100, "Invalid API Key (Key has expired)")
        method = q.get("method", "")
        if method not in self.methods:
            raise FlickrFail(112, f'Method "{method}" not found')
        return self.methods[method](q, server)

    def _search(self, q: dict, server) -> dict:
        if not any(q.get(name) for name in _SEARCH_CRITERIA):
            raise FlickrFail(3, "Parameterless searches have been disabled. Please use flickr.photos.getRecent instead.")
        user_id = q.get("user_id")
        if user_id and user_id not in self.people:
            raise FlickrFail(2, "Unknown user")
        photos = [p for p in self.world.photos if _matches(p, q)]
        photos.sort(key=lambda p: (p.date_upload, p.photo_id), reverse=not q.get("sort", "").endswith("-asc"))
        total_int = bool(server.faults.extra.get("flickr_total_int"))
        return {"photos": self._page(photos, q, server, total_as_string=not total_int)}

    def _public_photos(self, q: dict, server) -> dict:
        if q.get("user_id") not in self.people:
            raise FlickrFail(1, "User not found")
        photos = sorted((p for p in self.world.photos if p.owner == q["user_id"]),
                        key=lambda p: (p.date_upload, p.photo_id), reverse=True)
        return {"photos": self._page(photos, q, server, total_as_string=False)}

    def _page(self, photos: list[FlickrPhoto], q: dict, server, total_as_string: bool) -> dict:
        cap = MAX_GEO_PER_PAGE if q.get("bbox") or q.get("lat") else MAX_PER_PAGE
        per_page = min(cap, max(1, _int(q.get("per_page"), 100)))
        total = len(photos)
        pages = math.ceil(total / per_page)
        page = min(max(1, _int(q.get("page"), 1)), max(pages, 1))
        window = int(server.faults.extra.get("flickr_result_window", RESULT_WINDOW))
        start = (page - 1) * per_page
        chosen = [photos[i if i < window else i % window] for i in range(start, min(start + per_page, total))]
        extras = [e.strip() for e in q.get("extras", "").split(",") if e.strip()]
        return {
            "page": page, "pages": pages, "perpage": per_page,
            "total": str(total) if total_as_string else total,
            "photo": [self._photo_json(p, extras, server.url) for p in chosen],
        }

    def _photo_json(self, photo: FlickrPhoto, extras: list[str], base: str) -> dict:
        """One photo of a list: the base fields, then the requested extras (B.3) with mixed types."""
        i = self.index[photo.photo_id]
        owner = self.people[photo.owner]
        out = {"id": photo.photo_id, "owner": photo.owner, "secret": photo.secret, "server": photo.server,
               "farm": 66, "title": photo.title, "ispublic": 1, "isfriend": 0, "isfamily": 0}
        public_original = original_is_public(photo)
        if "license" in extras:
            out["license"] = photo.license
        if "description" in extras:
            out["description"] = {"_content": photo.description}
        if "o_dims" in extras and public_original:
            out["o_width"], out["o_height"] = str(photo.width), str(photo.height)
        if "date_upload" in extras:
            out["dateupload"] = str(photo.date_upload)
        if "last_update" in extras:
            out["lastupdate"] = str(photo.date_upload + 3600)
        if "date_taken" in extras:
            out["datetaken"] = photo.date_taken
            out["datetakengranularity"] = "0" if i % 2 else 0
            out["datetakenunknown"] = "0"
        if "owner_name" in extras:
            out["ownername"] = owner.username
        if "realname" in extras:
            out["realname"] = owner.realname
        if "original_format" in extras and public_original:
            out["originalsecret"] = derived_secret(photo.secret, "_o")
            out["originalformat"] = photo.original_format
        if "tags" in extras:
            out["tags"] = " ".join(photo.tags)
        if "views" in extras:
            out["views"] = str(int(photo.photo_id) % 997)
        if "media" in extras:
            out["media"], out["media_status"] = "photo", "ready"
        if "path_alias" in extras:
            out["pathalias"] = owner.username if i % 3 else None
        sizes = {s.extra: s for s in photo_sizes(photo)}
        legacy = i % 10 == 3  # a pre-2019 capture: dimensions as strings
        for name in extras:
            size = sizes.get(name[4:]) if name.startswith("url_") else None
            if size is not None:
                out[name] = base + size.path
                out[f"height_{size.extra}"] = str(size.height) if legacy else size.height
                out[f"width_{size.extra}"] = str(size.width) if legacy else size.width
        return out

    def _photo(self, q: dict) -> FlickrPhoto:
        photo = self.photos.get(q.get("photo_id", ""))
        if photo is None:
            raise FlickrFail(1, f'Photo "{q.get("photo_id", "")}" not found (invalid ID)')
        return photo

    def _info(self, q: dict, server) -> dict:
        photo = self._photo(q)
        owner = self.people[photo.owner]
        page = f"https://www.flickr.com/photos/{photo.owner}/{photo.photo_id}/"
        tags = [{"id": f"{photo.owner}-{photo.photo_id}-{n}", "author": photo.owner, "authorname": owner.username,
                 "raw": t, "_content": t, "machine_tag": 0} for n, t in enumerate(photo.tags)]
        info = {
            "visibility": {"ispublic": 1, "isfriend": 0, "isfamily": 0},
            "views": str(int(photo.photo_id) % 997),
            "usage": {"canshare": 1, "canprint": 1, "candownload": int(original_is_public(photo)), "canblog": 1},
            "urls": {"url": [{"type": "photopage", "_content": page}]},
            "title": {"_content": photo.title},
            "tags": {"tag": tags},
            "server": photo.server,
            "secret": photo.secret,
            "safety_level": "0",
            "rotation": 0,
            "publiceditability": {"cancomment": 1, "canaddmeta": 1},
            "people": {"haspeople": 0},
            "owner": {"username": owner.username, "realname": owner.realname, "path_alias": owner.username,
                      "nsid": owner.nsid, "location": "", "iconserver": "0", "iconfarm": 0},
        }
        if original_is_public(photo):
            info["originalsecret"] = derived_secret(photo.secret, "_o")
            info["originalformat"] = photo.original_format
        info.update({
            "notes": {"note": []}, "media": "photo", "license": photo.license, "isfavorite": 0,
            "id": photo.photo_id, "farm": 66, "editability": {"cancomment": 1, "canaddmeta": 1},
            "description": {"_content": photo.description}, "dateuploaded": str(photo.date_upload),
            "dates": {"takenunknown": "0", "takengranularity": "0", "taken": photo.date_taken,
                      "posted": str(photo.date_upload), "lastupdate": str(photo.date_upload + 3600)},
            "comments": {"_content": "0"},
        })
        return {"photo": info}

    def _sizes(self, q: dict, server) -> dict:
        photo = self._photo(q)
        page = f"https://www.flickr.com/photos/{photo.owner}/{photo.photo_id}/sizes"
        sizes = [
            {"label": s.label, "width": s.width if n == 0 else str(s.width),
             "height": s.height if n == 0 else str(s.height), "source": server.url + s.path,
             "url": f"{page}/{s.extra}/", "media": "photo"}
            for n, s in enumerate(photo_sizes(photo))
        ]
        return {"sizes": {"canblog": 0, "canprint": 0, "candownload": int(original_is_public(photo)),
                          "size": sizes}}

    def _licenses(self, q: dict, server) -> dict:
        return {"licenses": {"license": [{"id": int(i), "name": n, "url": u} for i, (n, u) in LICENSES.items()]}}

    def _echo(self, q: dict, server) -> dict:
        return {name: {"_content": value} for name, value in q.items()}

    # ---- the static host -------------------------------------------------------------------------
    def _static(self, request: Request, server) -> Response:
        if request.path == PLACEHOLDER_PATH:
            return Response(200, PLACEHOLDER_PNG, "image/png")
        match = _STATIC_NAME.search(request.path)
        deleted = server.faults.extra.get("flickr_deleted", {}).get(match.group(1)) if match else None
        if deleted == "placeholder":
            return Response(200, PLACEHOLDER_PNG, "image/png")
        if deleted == "redirect":
            return Response(302, b"", "text/html", {"Location": server.url + PLACEHOLDER_PATH})
        data = None if deleted else self.world.image_bytes(request.path)
        if data is None:
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        ctype = "image/png" if request.path.endswith(".png") else "image/jpeg"
        return Response(200, data, ctype, {"Cache-Control": "max-age=315360000"})


def _matches(photo: FlickrPhoto, q: dict) -> bool:
    """Search filters: owner, free text (all words; '-word' excludes), tags, licence, upload/taken dates."""
    if q.get("user_id") and photo.owner != q["user_id"]:
        return False
    if q.get("text"):
        haystack = f"{photo.title} {photo.description} {' '.join(photo.tags)}".casefold()
        for word in q["text"].casefold().split():
            if word.startswith("-") and word[1:] in haystack:
                return False
            if not word.startswith("-") and word not in haystack:
                return False
    if q.get("tags"):
        wanted = [t.strip().casefold() for t in q["tags"].split(",") if t.strip()]
        have = {t.casefold() for t in photo.tags}
        hits = [t in have for t in wanted]
        if not (all(hits) if q.get("tag_mode") == "all" else any(hits)):
            return False
    if q.get("license") and photo.license not in q["license"].split(","):
        return False
    for name, cmp in (("min_upload_date", 1), ("max_upload_date", -1)):
        if q.get(name) and cmp * (photo.date_upload - _unix(q[name])) < 0:
            return False
    taken = _unix(photo.date_taken)
    for name, cmp in (("min_taken_date", 1), ("max_taken_date", -1)):
        if q.get(name) and cmp * (taken - _unix(q[name])) < 0:
            return False
    return True


def _unix(value: str) -> int:
    """Unix seconds or a MySQL datetime ("2012-01-01 00:00:00" or "2012-01-01"), both as Flickr accepts."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return 0
    return int(parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).timestamp())


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _oauth_key(authorization: str) -> str:
    match = _OAUTH_KEY.search(authorization)
    return unquote(match.group(1)) if match else ""


def _json_response(payload: dict, q: dict) -> Response:
    """Bare JSON with nojsoncallback=1, else JSONP; compact, with PHP json_encode's escapes (non-ASCII as
    \\uXXXX, "/" as "\\/") as in the real captures of B.5/B.6."""
    body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/")
    if q.get("nojsoncallback") != "1":
        body = f"{q.get('jsoncallback') or 'jsonFlickrApi'}({body})"
    return Response(200, body.encode("utf-8"), "text/javascript; charset=utf-8")


def _xml_ok(payload: dict) -> Response:
    (name, value), = payload.items()
    body = f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="ok">\n{_xml_element(name, value)}\n</rsp>\n'
    return Response(200, body.encode("utf-8"), "text/xml; charset=utf-8")


def _xml_fail(fail: FlickrFail) -> Response:
    body = (f'<?xml version="1.0" encoding="utf-8" ?>\n<rsp stat="fail">\n\t<err code="{fail.code}" '
            f'msg={_attr(fail.message)} />\n</rsp>\n')
    return Response(200, body.encode("utf-8"), "text/xml; charset=utf-8")


def _xml_element(name: str, value) -> str:
    """Flickr's JSON is its XML read back: scalars are attributes, `_content` is text, lists repeat."""
    if not isinstance(value, dict):
        return f"<{name}>{escape(str(value))}</{name}>"
    attrs = "".join(f" {k}={_attr(v)}" for k, v in value.items()
                    if k != "_content" and v is not None and not isinstance(v, (dict, list)))
    children = []
    for k, v in value.items():
        if isinstance(v, dict):
            children.append(_xml_element(k, v))
        elif isinstance(v, list):
            children.extend(_xml_element(k, item) for item in v)
    text = escape(str(value["_content"])) if "_content" in value else ""
    if not children and not text:
        return f"<{name}{attrs} />"
    inner = "\n\t" + "\n\t".join(children) + "\n" if children else ""
    return f"<{name}{attrs}>{text}{inner}</{name}>"


def _attr(value) -> str:
    return '"' + escape(str(value), {'"': "&quot;"}) + '"'
