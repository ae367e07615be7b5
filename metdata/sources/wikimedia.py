"""Wikimedia Commons: walk categories of files with their licence metadata, politely.

A small client for the MediaWiki Action API over `metdata.http.PoliteSession` (source_apis.md C):
`generator=categorymembers` with `prop=imageinfo|extmetadata`, the whole `continue` object echoed,
`imageinfo` merged by page id across `iicontinue` repeats of a batch, `maxlag=5` with back-off on the
maxlag error's Retry-After, and thumbnails at the standard widths the thumbnail host still renders.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from metdata import USER_AGENT, __version__
from metdata.http import HttpError, PoliteSession, parse_retry_after

DEFAULT_API_URL = "https://commons.wikimedia.org/w/api.php"
THUMB_STEPS_PX = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
"""$wgThumbnailSteps: since 2026 the thumbnail host renders only these widths (others get 429/400)."""
MAXLAG_S = 5  # API:Etiquette for bots: back off whenever the database replicas lag more than this
BATCH_FILES = 50  # imageinfo thumbnails at most 50 files per request (TRANSFORM_LIMIT)
EXTMETADATA_KEYS = (
    "ObjectName|ImageDescription|Artist|Credit|DateTimeOriginal|LicenseShortName|License|LicenseUrl|"
    "UsageTerms|AttributionRequired|Copyrighted|Restrictions|NonFree|Categories"
)
_RETRYABLE_CODES = ("maxlag", "ratelimited", "internal_api_error_")
_DEFAULT_WAIT_S = 5.0


class CommonsApiError(Exception):
    """The API answered with an `error` object (HTTP 200)."""

    def __init__(self, code: str, info: str):
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info


def user_agent(contact: str | None = None) -> str:
    """The User-Agent policy's form: client/version (contact) — Commons refuses generic ones with 403."""
    if not contact:
        return USER_AGENT
    return f"metdata/{__version__} (instance-level artwork recognition dataset builder; {contact})"


def thumb_step_px(width_px: int) -> int:
    """The standard thumbnail width at or above `width_px` (the largest step when none is)."""
    return next((step for step in THUMB_STEPS_PX if step >= width_px), THUMB_STEPS_PX[-1])


def meta_value(extmetadata: dict, key: str) -> str:
    """An extmetadata value as text ("" when absent); values sit in {"value": ...}."""
    entry = extmetadata.get(key)
    value = entry.get("value") if isinstance(entry, dict) else entry
    return "" if value is None else str(value).strip()


def is_public_domain(extmetadata: dict) -> bool:
    """C.5: (License "pd" and Copyrighted "False") or License "cc0"; never a file marked NonFree.

    `Copyrighted == "False"` alone is not the test: CC0 files say "True". "No restrictions" files
    (Flickr Commons) carry no License code and are not kept.
    """
    if meta_value(extmetadata, "NonFree").lower() == "true":
        return False
    licence = meta_value(extmetadata, "License").lower()
    copyrighted = meta_value(extmetadata, "Copyrighted")
    return (licence == "pd" and copyrighted == "False") or licence == "cc0"


def strip_utm(url: str) -> str:
    """The URL without its utm_* tracking parameters (Commons adds them to every URL since 2026)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def category_title(name: str) -> str:
    """"Category:Ukiyo-e prints" from "Ukiyo-e_prints" or "Category:Ukiyo-e prints"."""
    name = name.strip().replace("_", " ")
    if name.lower().startswith("category:"):
        name = name[len("category:"):].strip()
    return f"Category:{name[:1].upper()}{name[1:]}"


@dataclass(frozen=True)
class FileInfo:
    """One Commons file as listed in a category: what the distractor stage needs, before any download."""

    pageid: int
    title: str
    category: str  # the category it was found in, with the "Category:" prefix
    url: str  # the original, utm_* stripped
    thumb_url: str  # exactly as returned (a standard width); strip_utm() it for keys
    width: int
    height: int
    size: int
    sha1: str
    timestamp: str
    description_url: str
    extmetadata: dict


class CommonsClient:
    """Serial (API:Etiquette) requests to one api.php, with maxlag and continuation handled here."""

    def __init__(self, session: PoliteSession, api_url: str = DEFAULT_API_URL, max_lag_retries: int = 10):
        self.session = session
        self.api_url = api_url
        self.max_lag_retries = max_lag_retries

    def call(self, params: dict) -> dict:
        """One API request; maxlag, ratelimited and internal errors wait for Retry-After and retry."""
        full = {"action": "query", "format": "json", "formatversion": "2", "maxlag": str(MAXLAG_S), **params}
        for attempt in range(self.max_lag_retries + 1):
            reply = self.session.get_reply(self.api_url, full)
            try:
                data = json.loads(reply.body)
            except ValueError:
                raise HttpError(reply.status, self.api_url, f"{self.api_url} did not answer JSON") from None
            error = data.get("error") if isinstance(data, dict) else None
            if not error:
                return data
            code = str(error.get("code", ""))
            if not code.startswith(_RETRYABLE_CODES) or attempt == self.max_lag_retries:
                raise CommonsApiError(code, str(error.get("info", "")))
            wait_s = parse_retry_after(reply.headers.get("retry-after"))
            wait_s = _DEFAULT_WAIT_S if wait_s is None else wait_s
            if wait_s > self.session.max_wait_s:
                raise CommonsApiError(code, f"{error.get('info', '')} (Retry-After {wait_s:g} s exceeds the "
                                            f"{self.session.max_wait_s:g} s limit)")
            time.sleep(wait_s)
        raise AssertionError("unreachable")

    def query(self, params: dict) -> Iterator[dict]:
        """Every response of a continued query: the whole `continue` object goes back each time."""
        cont: dict = {}
        while True:
            data = self.call({**params, **cont})
            yield data
            if "continue" not in data:
                return
            cont = data["continue"]

    def category_exists(self, title: str) -> bool:
        data = self.call({"titles": title})
        pages = data.get("query", {}).get("pages", [])
        return bool(pages) and not pages[0].get("missing", False)

    def walk(self, title: str, depth: int, thumb_width_px: int) -> Iterator[FileInfo]:
        """Files in `title` and its subcategories down to `depth` levels (0 = the category alone).

        Categories on Commons form cycles; each is visited once, and a file listed in several
        categories is yielded once, with the first category it was found in.
        """
        queue = deque([(title, 0)])
        seen_categories = {title}
        seen_files: set[int] = set()
        while queue:
            category, level = queue.popleft()
            for page in self._category_pages(category, subcats=level < depth, thumb_width_px=thumb_width_px):
                if page.get("ns") == 14:
                    if page["title"] not in seen_categories:
                        seen_categories.add(page["title"])
                        queue.append((page["title"], level + 1))
                elif page.get("ns") == 6 and page["pageid"] not in seen_files:
                    seen_files.add(page["pageid"])
                    yield _file_info(page, category)

    def _category_pages(self, title: str, subcats: bool, thumb_width_px: int) -> Iterator[dict]:
        """Member pages batch by batch; a batch is yielded only once its imageinfo is complete."""
        params = {
            "generator": "categorymembers", "gcmtitle": title, "gcmtype": "file|subcat" if subcats else "file",
            "gcmlimit": str(BATCH_FILES), "prop": "imageinfo", "iiprop": "url|size|mime|sha1|extmetadata|timestamp",
            "iiurlwidth": str(thumb_width_px), "iiextmetadatafilter": EXTMETADATA_KEYS, "iiextmetadatalanguage": "en",
        }
        batch: dict[int, dict] = {}
        for data in self.query(params):
            for page in data.get("query", {}).get("pages", []):
                merged = batch.setdefault(page["pageid"], dict(page))
                if page.get("imageinfo"):
                    merged["imageinfo"] = page["imageinfo"]
            if data.get("batchcomplete") or "continue" not in data:
                yield from batch.values()
                batch = {}


def _file_info(page: dict, category: str) -> FileInfo:
    info = (page.get("imageinfo") or [{}])[0]
    return FileInfo(
        pageid=int(page["pageid"]),
        title=page["title"],
        category=category,
        url=strip_utm(info.get("url", "")),
        thumb_url=info.get("thumburl") or info.get("url", ""),
        width=int(info.get("width") or 0),
        height=int(info.get("height") or 0),
        size=int(info.get("size") or 0),
        sha1=info.get("sha1", ""),
        timestamp=info.get("timestamp", ""),
        description_url=info.get("descriptionurl", ""),
        extmetadata=info.get("extmetadata") or {},
    )
