"""Wikimedia Commons stand-in: the MediaWiki Action API (/w/api.php) and the upload/thumbnail host.

It answers from one internal model in formatversion 1 and 2 (source_apis.md C and D.3) and enforces
what a polite crawler must get right: the whole `continue` object echoed (else `badcontinue`),
`iicontinue` repeats of a generator batch when more than 50 files need thumbnails, miser-mode pages
that are short or empty yet carry a `continue`, maxlag errors, 429 over a request rate or concurrency,
the 403 for a generic User-Agent, and thumbnails only at the standard widths.

Switches, set per test in ``server.faults.extra`` (all optional):

- ``commons_lagged_requests``: the next N API requests that send ``maxlag`` get a maxlag error;
  ``commons_lag_s`` (default 7) is the reported lag, ``commons_retry_after_s`` (default 5) the Retry-After.
- ``commons_rate_per_window`` (default 200) requests per ``commons_rate_window_s`` (default 60) and
  ``commons_max_concurrent`` (default 3) in flight, beyond which the API answers 429.
- ``commons_api_delay_s``: time each API request stays in flight (to provoke the concurrency limit).
- ``commons_miser``: the first page of every listing is empty and later pages half full.
- ``commons_thumb_400``: "2026 mode": a non-standard thumbnail width gets 400 instead of 429.
- ``commons_transform_limit`` (default 50): thumbnails per request before an ``iicontinue``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import threading
import time
from collections import deque
from urllib.parse import unquote

from PIL import Image

from metdata.sample.commons_names import encoded_name, file_name, md5_dirs, original_path, thumb_path
from metdata.sample.model import CommonsFile, World
from metdata.sample.server import Request, Response
from metdata.sources.wikimedia import THUMB_STEPS_PX, thumb_step_px

UA_REFUSAL = b"Please set a user-agent and respect our robot policy https://w.wiki/4wJS.   See also T400119."
THUMB_STEP_REFUSAL = (
    b"Use thumbnail steps listed on https://w.wiki/GHai. "
    b"Please contact noc@wikimedia.org for further information (a765913)"
)
TOO_MANY_REQUESTS = b"You are making too many requests. Please slow down and respect https://w.wiki/4wJS."
DOCREF = (
    "See https://commons.wikimedia.org/w/api.php for API usage. Subscribe to the mediawiki-api-announce "
    "mailing list at &lt;https://lists.wikimedia.org/postorius/lists/mediawiki-api-announce.lists.wikimedia.org/"
    "&gt; for notice of API deprecations and breaking changes."
)
SERVED_BY = "mw-api-ext.eqiad.main-7d9f6c8b5-x2k4q"
GENERIC_UA = re.compile(r"^(python-requests|python-urllib|aiohttp|curl|okhttp|wget|go-http-client)/", re.IGNORECASE)
CONTACT = re.compile(r"https?://|[\w.+-]+@[\w-]+\.[\w.-]+")
UPLOAD_PATH = re.compile(
    r"/wikipedia/commons/(?P<thumb>thumb/)?(?P<dirs>[0-9a-f]/[0-9a-f]{2})/(?P<name>[^/]+)(?:/(?P<thumbname>[^/]+))?"
)
NOT_FOUND = b"<html><body><h1>404 Not Found</h1></body></html>"
NOT_SCALED = b"Error generating thumbnail: Image was not scaled, is the requested width bigger than the source?"
TRANSFORM_LIMIT = 50  # ApiQueryImageInfo thumbnails at most this many files per request
MAX_LIMIT = 500
TYPE_ORDER = ("page", "subcat", "file")
UTM = "utm_source=commons.wikimedia.org&utm_campaign=imageinfo&utm_content="
USERS = ("Dcoetzee", "FæBot", "Botaurus", "Coyau", "Hohum", "Rlbberlin")
SITEINFO_GENERAL = {
    "mainpage": "Main Page",
    "base": "https://commons.wikimedia.org/wiki/Main_Page",
    "sitename": "Wikimedia Commons",
    "generator": "MediaWiki 1.45.0-wmf.20",
    "phpversion": "8.1.31",
    "dbtype": "mysql",
    "lang": "en",
    "case": "first-letter",
    "wikiid": "commonswiki",
    "maxarticlesize": 2097152,
}
NAMESPACES = {
    "0": {"id": 0, "case": "first-letter", "content": True, "*": ""},
    "6": {"id": 6, "case": "first-letter", "canonical": "File", "*": "File"},
    "14": {"id": 14, "case": "first-letter", "canonical": "Category", "*": "Category"},
}


class ApiError(Exception):
    """An API error: HTTP 200 with an `error` object and the MediaWiki-API-Error header."""

    def __init__(self, code: str, info: str, **extra):
        super().__init__(info)
        self.code, self.info, self.extra = code, info, extra


def category_pageid(name: str) -> int:
    """A stable page id for a category page (the model stores categories by name only)."""
    return 50_000_000 + int(hashlib.md5(name.encode()).hexdigest()[:6], 16)


class CommonsService:
    prefixes = ("/w/api.php", "/wikipedia/commons/")

    def __init__(self, world: World):
        self.world = world
        self.files_by_name = {file_name(f.title): f for f in world.commons_files.values()}
        self.files_by_title = {f.title: f for f in world.commons_files.values()}
        self.categories_by_pageid = {category_pageid(n): n for n in world.commons_categories}
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._in_flight = 0
        self._thumbs: dict[tuple[int, int], bytes] = {}

    def handle(self, request: Request, server) -> Response:
        ua = request.user_agent.strip()
        if not ua or GENERIC_UA.match(ua) or not CONTACT.search(ua):
            return Response(403, UA_REFUSAL, "text/plain")
        if request.path.startswith("/w/api.php"):
            return self._api_limited(request, server)
        return self._upload(request, server)

    # ----------------------------------------------------------------- API: limits and envelope

    def _api_limited(self, request: Request, server) -> Response:
        extra = server.faults.extra
        now = time.monotonic()
        window_s = float(extra.get("commons_rate_window_s", 60))
        with self._lock:
            while self._recent and now - self._recent[0] > window_s:
                self._recent.popleft()
            over_rate = len(self._recent) >= int(extra.get("commons_rate_per_window", 200))
            over_concurrency = self._in_flight >= int(extra.get("commons_max_concurrent", 3))
            if over_rate or over_concurrency:
                wait_s = window_s - (now - self._recent[0]) if over_rate else 1
                headers = {"Retry-After": str(max(1, math.ceil(wait_s)))}
                return Response(429, TOO_MANY_REQUESTS, "text/plain; charset=utf-8", headers)
            self._recent.append(now)
            self._in_flight += 1
        try:
            if extra.get("commons_api_delay_s"):
                time.sleep(float(extra["commons_api_delay_s"]))
            return self._api(request, server)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _api(self, request: Request, server) -> Response:
        params = request.query
        fv2 = params.get("formatversion") in ("2", "latest")
        try:
            if params.get("formatversion", "1") not in ("1", "2", "latest"):
                raise _bad_value("formatversion", params["formatversion"])
            if params.get("format", "json") != "json":
                raise _bad_value("format", params["format"])
            action = params.get("action", "help")
            if action != "query":
                raise ApiError("unknown_action", f'Unrecognized value for parameter "action": {action}.')
            lag = self._lag(params, server)
            if lag is not None:
                return lag
            extra = server.faults.extra
            body = self._query(params, server.url, bool(extra.get("commons_miser")),
                               int(extra.get("commons_transform_limit", TRANSFORM_LIMIT)))
        except ApiError as exc:
            error = {"code": exc.code, "info": exc.info, **exc.extra}
            error["docref" if fv2 else "*"] = DOCREF
            payload = {"error": error, "servedby": SERVED_BY}
            return _json(payload, params, {"MediaWiki-API-Error": exc.code})
        return _json(body if fv2 else _to_v1(body), params)

    def _lag(self, params: dict, server) -> Response | None:
        extra = server.faults.extra
        if "maxlag" not in params or extra.get("commons_lagged_requests", 0) <= 0:
            return None
        lag = float(extra.get("commons_lag_s", 7))
        try:
            if lag <= float(params["maxlag"]):
                return None
        except ValueError:
            return None
        extra["commons_lagged_requests"] -= 1
        fv2 = params.get("formatversion") in ("2", "latest")
        error = {"code": "maxlag", "info": f"Waiting for 10.0.0.1: {lag:g} seconds lagged.",
                 "host": "10.0.0.1", "lag": lag, "type": "db"}
        payload = {"error": error} if fv2 else {"error": {**error, "*": DOCREF}, "servedby": SERVED_BY}
        headers = {
            "Retry-After": f"{extra.get('commons_retry_after_s', 5):g}",
            "X-Database-Lag": f"{lag:g}",
            "MediaWiki-API-Error": "maxlag",
        }
        return _json(payload, params, headers)

    # ----------------------------------------------------------------- action=query

    def _query(self, params: dict, base: str, miser: bool, transform_limit: int) -> dict:
        _check_continue(params)
        result: dict = {}
        query: dict = {}
        cont: dict = {}
        props = _multi(params.get("prop"))
        pages: list[dict] | None = None
        generator = params.get("generator")
        if generator:
            if generator != "categorymembers":
                raise _bad_value("generator", generator)
            members, next_token = self._members(params, "gcm", miser)
            pages = [self._member_page(m) for m in members]
            if next_token:
                cont = {"gcmcontinue": next_token, "continue": "gcmcontinue||"}
        elif "titles" in params:
            titles = params["titles"].split("|")
            if len(titles) > 50:
                raise ApiError("toomanyvalues", 'Too many values supplied for parameter "titles". The limit is 50.',
                               limit=50, lowlimit=50, highlimit=500)
            pages = self._title_pages(titles, query)
        batch_complete = True
        if pages is not None and "imageinfo" in props:
            ii_token = self._add_imageinfo(pages, params, base, transform_limit)
            if ii_token:
                batch_complete = False
                cont = {"iicontinue": ii_token}
                if params.get("gcmcontinue"):
                    cont["gcmcontinue"] = params["gcmcontinue"]
                cont["continue"] = "gcmcontinue||" if generator else "||"
        for name in _multi(params.get("list")):
            if name != "categorymembers":
                raise _bad_value("list", name)
            members, next_token = self._members(params, "cm", miser)
            query["categorymembers"] = [self._member_entry(m, params) for m in members]
            if next_token:
                cont = {"cmcontinue": next_token, "continue": "-||"}
            if params.get("cmlimit") == "max":
                result["limits"] = {"categorymembers": MAX_LIMIT}
        if generator and params.get("gcmlimit") == "max":
            result["limits"] = {"categorymembers": MAX_LIMIT}
        query.update(_meta(params, base))
        if batch_complete:
            result["batchcomplete"] = True
        if cont:
            result["continue"] = cont
        if pages:
            query["pages"] = [{k: v for k, v in page.items() if k != "_file"} for page in pages]
        if query:
            result["query"] = query
        return result

    def _members(self, params: dict, prefix: str, miser: bool) -> tuple[list[tuple], str | None]:
        """One page of category members: a window of the ordered members, then the type filter (miser mode)."""
        category = self._category_param(params, prefix)
        types = _multi(params.get(f"{prefix}type")) or list(TYPE_ORDER)
        for t in types:
            if t not in TYPE_ORDER:
                raise _bad_value(f"{prefix}type", t)
        limit = _limit(params.get(f"{prefix}limit"), f"{prefix}limit")
        ordered = self._ordered_members(category) if category else []
        token = params.get(f"{prefix}continue")
        start = _position(ordered, token) if token else 0
        window = limit
        if miser and ordered:
            window = 0 if not token else max(1, limit // 2)
        end = min(len(ordered), start + window)
        shown = [m for m in ordered[start:end] if m[0] in types]
        next_token = _token(ordered[end]) if end < len(ordered) else None
        return shown, next_token

    def _category_param(self, params: dict, prefix: str) -> str | None:
        if f"{prefix}pageid" in params:
            try:
                return self.categories_by_pageid.get(int(params[f"{prefix}pageid"]))
            except ValueError:
                raise ApiError("badinteger", f'Invalid value "{params[prefix + "pageid"]}" for integer parameter '
                               f'"{prefix}pageid".') from None
        title = params.get(f"{prefix}title")
        if not title:
            raise ApiError("invalidparammix" if prefix == "cm" else "missingparam",
                           f'One of the parameters "{prefix}title" and "{prefix}pageid" is required.')
        title = title.replace("_", " ").strip()
        if not title.startswith("Category:") or len(title) == len("Category:"):
            raise ApiError("invalidcategory", "The category name you entered is not valid.")
        name = title[len("Category:"):]
        return name if name in self.world.commons_categories else None

    def _ordered_members(self, category: str) -> list[tuple]:
        cat = self.world.commons_categories[category]
        members = [("subcat", _sortkey(s), category_pageid(s), s) for s in cat.subcategories]
        members += [("file", _sortkey(self.world.commons_files[p].title), p, self.world.commons_files[p])
                    for p in cat.files]
        return sorted(members, key=lambda m: (TYPE_ORDER.index(m[0]), m[1], m[2]))

    def _member_page(self, member: tuple) -> dict:
        kind, _, pageid, obj = member
        if kind == "subcat":
            return {"pageid": pageid, "ns": 14, "title": f"Category:{obj}"}
        return {"pageid": pageid, "ns": 6, "title": obj.title, "imagerepository": "local", "_file": obj}

    def _member_entry(self, member: tuple, params: dict) -> dict:
        kind, sortkey, pageid, obj = member
        title = f"Category:{obj}" if kind == "subcat" else obj.title
        cmprop = _multi(params.get("cmprop")) or ["ids", "title"]
        entry: dict = {}
        if "ids" in cmprop:
            entry["pageid"] = pageid
        if "title" in cmprop:
            entry["ns"] = 14 if kind == "subcat" else 6
            entry["title"] = title
        if "sortkey" in cmprop:
            entry["sortkey"] = sortkey.encode().hex()
        if "sortkeyprefix" in cmprop:
            entry["sortkeyprefix"] = ""
        if "type" in cmprop:
            entry["type"] = kind
        if "timestamp" in cmprop:
            entry["timestamp"] = obj.timestamp if kind == "file" else "2015-01-01T00:00:00Z"
        return entry

    def _title_pages(self, titles: list[str], query: dict) -> list[dict]:
        pages, normalized = [], []
        for raw in titles:
            title = raw.replace("_", " ").strip()
            if ":" in title:
                ns_name, rest = title.split(":", 1)
                title = f"{ns_name[:1].upper()}{ns_name[1:]}:{rest[:1].upper()}{rest[1:]}"
            if title != raw:
                normalized.append({"fromencoded": False, "from": raw, "to": title})
            if title.startswith("Category:") and title[9:] in self.world.commons_categories:
                pages.append({"pageid": category_pageid(title[9:]), "ns": 14, "title": title})
            elif title in self.files_by_title:
                file = self.files_by_title[title]
                pages.append({"pageid": file.pageid, "ns": 6, "title": title, "imagerepository": "local",
                              "_file": file})
            else:
                ns = 6 if title.startswith("File:") else 14 if title.startswith("Category:") else 0
                page = {"ns": ns, "title": title, "missing": True}
                if ns == 6:
                    page["imagerepository"] = ""
                pages.append(page)
        if normalized:
            query["normalized"] = normalized
        return pages

    def _add_imageinfo(self, pages: list[dict], params: dict, base: str, transform_limit: int) -> str | None:
        """Fill `imageinfo` in title order; with thumbnails, at most `transform_limit` per request, then
        an iicontinue."""
        iiprop = _multi(params.get("iiprop")) or ["timestamp", "user"]
        width = params.get("iiurlwidth")
        if width is not None:
            try:
                width = int(width)
            except ValueError:
                raise ApiError("badinteger", f'Invalid value "{width}" for integer parameter "iiurlwidth".') from None
        wanted = _multi(params.get("iiextmetadatafilter"))
        resume = params.get("iicontinue", "").split("|")[0]
        files = sorted((p for p in pages if "_file" in p), key=lambda p: file_name(p["title"]))
        served = 0
        for page in files:
            name = file_name(page["title"])
            if name < resume:
                continue
            if width is not None and "url" in iiprop and served == transform_limit:
                return f"{name}|{_compact_ts(page['_file'].timestamp)}"
            page["imageinfo"] = [self._imageinfo(page["_file"], iiprop, width, wanted, base)]
            served += 1
        return None

    def _imageinfo(self, file: CommonsFile, iiprop: list[str], width: int | None, wanted: list[str], base: str) -> dict:
        name = file_name(file.title)
        info: dict = {}
        if "timestamp" in iiprop:
            info["timestamp"] = file.timestamp
        if "user" in iiprop:
            info["user"] = USERS[file.pageid % len(USERS)]
        if "size" in iiprop or "dimensions" in iiprop:
            info["size"] = len(self.world.image_bytes(file.image_path) or b"")
            info["width"], info["height"] = file.width, file.height
        if "canonicaltitle" in iiprop:
            info["canonicaltitle"] = file.title
        if "url" in iiprop:
            original = f"{base}{original_path(name)}"
            if width is not None:
                step = thumb_step_px(width)
                if step >= file.width:
                    info["thumburl"] = f"{original}?{UTM}thumbnail_unscaled"
                else:
                    info["thumburl"] = f"{base}{thumb_path(name, step)}?{UTM}thumbnail"
                info["thumbwidth"] = width
                info["thumbheight"] = round(file.height * width / file.width)
            info["url"] = f"{original}?{UTM}original"
            info["descriptionurl"] = f"{base}/wiki/File:{encoded_name(name)}"
            info["descriptionshorturl"] = f"{base}/w/index.php?curid={file.pageid}"
        if "sha1" in iiprop:
            info["sha1"] = file.sha1
        if "extmetadata" in iiprop:
            meta = file.extmetadata
            info["extmetadata"] = {k: v for k, v in meta.items() if not wanted or k in wanted}
        if "mime" in iiprop:
            info["mime"] = "image/jpeg"
        if "mediatype" in iiprop:
            info["mediatype"] = "BITMAP"
        return info

    # ----------------------------------------------------------------- upload host

    def _upload(self, request: Request, server) -> Response:
        """Originals at /wikipedia/commons/h/hh/Name and thumbnails at .../thumb/h/hh/Name/Wpx-Name."""
        match = UPLOAD_PATH.fullmatch(request.path)
        name = unquote(match.group("name")) if match else ""
        file = self.files_by_name.get(name)
        thumb = match is not None and match.group("thumb") is not None
        if file is None or match.group("dirs") != md5_dirs(name) or thumb != (match.group("thumbname") is not None):
            return Response(404, NOT_FOUND, "text/html")
        if not thumb:
            return _image(self.world.image_bytes(file.image_path) or b"")
        size = re.fullmatch(r"(\d+)px-(.+)", unquote(match.group("thumbname")))
        if size is None or size.group(2) != name:
            return Response(404, NOT_FOUND, "text/html")
        width = int(size.group(1))
        if width not in THUMB_STEPS_PX:
            status = 400 if server.faults.extra.get("commons_thumb_400") else 429
            return Response(status, THUMB_STEP_REFUSAL, "text/plain")
        if width >= file.width:
            return Response(400, NOT_SCALED, "text/html")
        return _image(self._thumbnail(file, width))

    def _thumbnail(self, file: CommonsFile, width: int) -> bytes:
        key = (file.pageid, width)
        if key not in self._thumbs:
            image = Image.open(io.BytesIO(self.world.image_bytes(file.image_path))).convert("RGB")
            height = max(1, round(image.height * width / image.width))
            out = io.BytesIO()
            image.resize((width, height), Image.Resampling.LANCZOS).save(out, "JPEG", quality=85)
            self._thumbs[key] = out.getvalue()
        return self._thumbs[key]


# --------------------------------------------------------------------- helpers


def _json(payload: dict, params: dict, headers: dict | None = None) -> Response:
    """Compact JSON; non-ASCII as \\uXXXX in formatversion 1 unless `utf8` is given, raw UTF-8 in version 2
    unless `ascii` is given (boolean parameters count when present, whatever their value)."""
    fv2 = params.get("formatversion") in ("2", "latest")
    escape = "ascii" in params if fv2 else "utf8" not in params
    body = json.dumps(payload, ensure_ascii=escape, separators=(",", ":")).encode()
    return Response(200, body, "application/json; charset=utf-8", headers or {})


def _image(data: bytes) -> Response:
    etag = hashlib.md5(data).hexdigest()
    return Response(200, data, "image/jpeg", {"ETag": f'"{etag}"', "Cache-Control": "max-age=31536000"})


def _to_v1(value):
    """formatversion 1 from the version 2 model: pages keyed by id, true as "", false left out."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is False:
                continue
            if key == "pages" and isinstance(item, list):
                out[key] = {str(page_id): _to_v1(p) for page_id, p in zip(_v1_page_ids(item), item)}
            else:
                out[key] = "" if item is True else _to_v1(item)
        return out
    if isinstance(value, list):
        return [_to_v1(v) for v in value]
    return value


def _meta(params: dict, base: str) -> dict:
    """meta=siteinfo|userinfo, as mwclient reads them when it connects."""
    out: dict = {}
    for name in _multi(params.get("meta")):
        if name == "siteinfo":
            siprop = _multi(params.get("siprop")) or ["general"]
            if "general" in siprop:
                out["general"] = {**SITEINFO_GENERAL, "server": base, "servername": base.split("//")[-1]}
            if "namespaces" in siprop:
                out["namespaces"] = NAMESPACES
        elif name == "userinfo":
            out["userinfo"] = {"id": 0, "name": "127.0.0.1", "anon": True, "groups": ["*"], "rights": ["read"]}
        else:
            raise _bad_value("meta", name)
    return out


def _v1_page_ids(pages: list[dict]) -> list[int]:
    """Version 1 keys pages by id; missing pages get -1, -2, ... in order."""
    ids, missing = [], 0
    for page in pages:
        if "pageid" not in page:
            missing -= 1
        ids.append(page.get("pageid", missing))
    return ids


def _multi(value: str | None) -> list[str]:
    return [v for v in value.split("|") if v] if value else []


def _bad_value(param: str, value: str) -> ApiError:
    return ApiError("badvalue", f'Unrecognized value for parameter "{param}": {value}.')


def _limit(value: str | None, param: str) -> int:
    if value is None:
        return 10
    if value == "max":
        return MAX_LIMIT
    try:
        return max(1, min(MAX_LIMIT, int(value)))
    except ValueError:
        raise ApiError("badinteger", f'Invalid value "{value}" for integer parameter "{param}".') from None


def _sortkey(title: str) -> str:
    return title.split(":", 1)[-1].upper()


def _token(member: tuple) -> str:
    kind, sortkey, pageid, _ = member
    return f"{kind}|{sortkey.encode().hex()}|{pageid}"


def _position(ordered: list[tuple], token: str) -> int:
    try:
        kind, hexkey, pageid = token.split("|")
        key = (TYPE_ORDER.index(kind), bytes.fromhex(hexkey).decode(), int(pageid))
    except ValueError:
        raise ApiError("badcontinue", BAD_CONTINUE) from None
    return next((i for i, m in enumerate(ordered) if (TYPE_ORDER.index(m[0]), m[1], m[2]) >= key), len(ordered))


BAD_CONTINUE = "Invalid continue param. You should pass the original value returned by the previous query."
_TOKENS = ("cmcontinue", "gcmcontinue", "iicontinue")


def _check_continue(params: dict) -> None:
    """The whole `continue` object must come back: tokens without their `continue` value are refused."""
    echoed = params.get("continue")
    has_token = any(t in params for t in _TOKENS)
    if has_token and echoed not in ("-||", "gcmcontinue||", "||"):
        raise ApiError("badcontinue", BAD_CONTINUE)
    if echoed == "gcmcontinue||" and not has_token:
        raise ApiError("badcontinue", BAD_CONTINUE)
    if echoed == "-||" and "cmcontinue" not in params:
        raise ApiError("badcontinue", BAD_CONTINUE)


def _compact_ts(timestamp: str) -> str:
    return re.sub(r"\D", "", timestamp)[:14]
