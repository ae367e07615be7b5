"""Flickr search through `flickrapi`: paged, partitioned past the 4,000-result window, paced, retried.

Formats and limits: /work/shared/reference/source_apis.md, section B. We page `flickr.photos.search`
ourselves with ``format='parsed-json'`` (flickrapi's `walk()` needs the etree format and breaks on
Python 3.9+ without lxml) and ask for every field we store as `extras`, so one call brings 500 photos
with their texts, licence and image URLs: the 3,600-calls-per-hour budget allows nothing per photo.
Flickr returns at most 4,000 results per query (later pages repeat earlier ones), so a query with a
larger `total` is split into upload-date windows, recursively, and results are de-duplicated by id.
Real responses mix strings and numbers for the same field, so every scalar is coerced here.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import flickrapi
import requests

from metdata import USER_AGENT
from metdata.errors import UserError
from metdata.http import RETRY_STATUSES, Limiter, parse_retry_after

DEFAULT_REST_URL = "https://api.flickr.com/services/rest/"
DEFAULT_STATIC_URL = "https://live.staticflickr.com"
RESULT_WINDOW = 4000  # Flickr returns at most this many results for one query
MAX_PER_PAGE = 500
FLICKR_LAUNCH = 1075000000  # early 2004: no upload is older, the lower end of the first date window
# url_m (500 px) .. url_l (1024 px) cover the usual --max-side-px; url_o is the fallback for small photos.
SIZE_EXTRAS = ("url_m", "url_z", "url_c", "url_l", "url_o")
EXTRAS = ",".join(("description", "license", "date_upload", "date_taken", "owner_name", "tags", "o_dims",
                   "original_format", *SIZE_EXTRAS))
# Sizes that share the photo's `secret`, so their URL can be built when no url_* came back (B.4).
_BUILDABLE = ((500, ""), (640, "_z"), (800, "_c"), (1024, "_b"))
# flickr.photos.licenses.getInfo as of 2025 (B.5), in Flickr's order: id -> (name, url). Key on the id:
# the names changed in 2024 ("Attribution License" became "CC BY 2.0").
LICENSES: dict[str, tuple[str, str]] = {
    "0": ("All Rights Reserved",
          "https://www.flickrhelp.com/hc/en-us/articles/10710266545556-Using-Flickr-images-shared-by-other-members"),
    "4": ("CC BY 2.0", "https://creativecommons.org/licenses/by/2.0/"),
    "6": ("CC BY-ND 2.0", "https://creativecommons.org/licenses/by-nd/2.0/"),
    "3": ("CC BY-NC-ND 2.0", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    "2": ("CC BY-NC 2.0", "https://creativecommons.org/licenses/by-nc/2.0/"),
    "1": ("CC BY-NC-SA 2.0", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    "5": ("CC BY-SA 2.0", "https://creativecommons.org/licenses/by-sa/2.0/"),
    "7": ("No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    "8": ("United States Government Work", "https://www.usa.gov/government-copyright"),
    "9": ("Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "10": ("Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
    "11": ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "12": ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "13": ("CC BY-ND 4.0", "https://creativecommons.org/licenses/by-nd/4.0/"),
    "14": ("CC BY-NC 4.0", "https://creativecommons.org/licenses/by-nc/4.0/"),
    "15": ("CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    "16": ("CC BY-NC-ND 4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
}
_TRANSIENT_CODES = {10, 105, 201}  # search unavailable, service unavailable, API outage: retrying fixes them
_STATUS_IN_MESSAGE = re.compile(r"Status code (\d+)")


@dataclass(frozen=True)
class Photo:
    """One search result with every scalar coerced to one type."""

    photo_id: str
    owner: str
    owner_name: str
    secret: str
    server: str
    title: str
    description: str
    tags: tuple[str, ...]
    license: str  # Flickr licence id, e.g. "4"
    date_taken: str | None
    date_upload: int | None
    sizes: tuple[tuple[str, str, int, int], ...] = field(default=())  # (extra, url, width, height)

    @property
    def page_url(self) -> str:
        return f"https://www.flickr.com/photos/{self.owner}/{self.photo_id}/"


def parse_photo(raw: dict) -> Photo:
    """A `photo` element of a search answer (JSON) as a `Photo`; missing sizes are simply absent."""
    sizes = []
    for extra in SIZE_EXTRAS:
        name = extra[4:]
        url, width, height = raw.get(extra), as_int(raw.get(f"width_{name}")), as_int(raw.get(f"height_{name}"))
        if url and width and height:
            sizes.append((name, str(url), width, height))
    taken_unknown = as_int(raw.get("datetakenunknown")) == 1
    return Photo(
        photo_id=as_str(raw.get("id")),
        owner=as_str(raw.get("owner")),
        owner_name=as_str(raw.get("ownername")),
        secret=as_str(raw.get("secret")),
        server=as_str(raw.get("server")),
        title=as_str(raw.get("title")),
        description=as_str(raw.get("description")),
        tags=tuple(as_str(raw.get("tags")).split()),
        license=str(as_int(raw.get("license")) or 0),
        date_taken=None if taken_unknown else (as_str(raw.get("datetaken")) or None),
        date_upload=as_int(raw.get("dateupload")),
        sizes=tuple(sorted(sizes, key=lambda s: max(s[2], s[3]))),
    )


def as_int(value) -> int | None:
    """"30", 30, "30.0" -> 30; None, "" and junk -> None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def as_str(value) -> str:
    """Scalars to str; Flickr's {"_content": ...} wrappers unwrapped; None -> ""."""
    if isinstance(value, dict):
        value = value.get("_content", "")
    return "" if value is None else str(value)


def image_url(photo: Photo, max_side_px: int, static_url: str = DEFAULT_STATIC_URL) -> tuple[str, str]:
    """(URL, size name) of the smallest listed size covering `max_side_px`, else the largest listed size.

    Without any url_* extras, build the URL from server/id/secret (the one case where B.4 allows it),
    picking the smallest shared-secret size that covers `max_side_px`.
    """
    for name, url, width, height in photo.sizes:
        if max(width, height) >= max_side_px:
            return url, name
    if photo.sizes:
        name, url, _, _ = photo.sizes[-1]
        return url, name
    edge, suffix = next(((e, s) for e, s in _BUILDABLE if e >= max_side_px), _BUILDABLE[-1])
    return f"{static_url.rstrip('/')}/{photo.server}/{photo.photo_id}_{photo.secret}{suffix}.jpg", f"built{edge}"


class FlickrClient:
    """Calls to the Flickr REST API through one rate limiter shared by every call with this key."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        limiter: Limiter,
        rest_url: str = DEFAULT_REST_URL,
        max_retries: int = 5,
        backoff_s: float = 2.0,
        max_wait_s: float = 120.0,
        timeout_s: float = 30.0,
        result_window: int = RESULT_WINDOW,
        per_page: int = MAX_PER_PAGE,
        user_agent: str = USER_AGENT,
    ):
        self.api = flickrapi.FlickrAPI(api_key, api_secret, format="parsed-json", store_token=False, cache=False,
                                       timeout=timeout_s)
        self.api.REST_URL = rest_url
        # flickrapi shares one requests.Session among all instances; ours gets our User-Agent, and a hook
        # that keeps the last answer's Retry-After (flickrapi raises on a non-200 without its headers).
        self.api.flickr_oauth.session = requests.Session()
        self.api.flickr_oauth.session.headers["User-Agent"] = user_agent
        self.api.flickr_oauth.session.hooks["response"].append(self._note_retry_after)
        self._retry_after_s: float | None = None
        self.limiter = limiter
        self.rest_url = rest_url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.result_window = result_window
        self.per_page = min(per_page, MAX_PER_PAGE)
        self.calls = 0
        self.retries = 0
        self.truncated_windows: list[tuple[int, int, int]] = []  # (min, max upload date, total) over the cap

    def call(self, method: str, **params) -> dict:
        """One API call, paced by the limiter; transient failures are retried with back-off and jitter, or
        after the Retry-After of a 429/5xx answer (one above `max_wait_s` fails the call)."""
        about = ", ".join(f"{k}={params[k]!r}" for k in ("user_id", "text", "photo_id") if params.get(k))
        what = f"Flickr {method}" + (f" ({about})" if about else "") + f" at {self.rest_url}"
        for attempt in range(self.max_retries + 1):
            self.limiter.acquire()
            self.calls += 1
            self._retry_after_s = None
            try:
                return self.api.do_flickr_call(method, **params)
            except flickrapi.FlickrError as exc:
                error = exc
                code = as_int(exc.code)
                if code == 100:
                    raise UserError(f"Flickr rejected the API key at {self.rest_url}: {_message(exc)} "
                                    "(check --api-key / METDATA_FLICKR_KEY)") from None
                status = _http_status(exc)
                transient = code in _TRANSIENT_CODES or (code is None and status in RETRY_STATUSES)
                if not transient:
                    raise UserError(f"{what} failed: {_message(exc)}") from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as exc:  # a mistyped --rest-url: no retry mends it
                raise UserError(f"{what} failed: {exc}") from None
            except (requests.RequestException, ValueError) as exc:  # network error or a non-JSON 200 body
                error = exc
            if attempt < self.max_retries:
                wait_s = self._retry_after_s
                if wait_s is None:
                    wait_s = self.backoff_s * 2**attempt * random.uniform(0.5, 1.0)
                elif wait_s > self.max_wait_s:
                    raise UserError(f"{what} failed: {_message(error)} (Retry-After {wait_s:g} s exceeds the "
                                    f"{self.max_wait_s:g} s limit)")
                self.retries += 1
                time.sleep(wait_s)
        raise UserError(f"{what} still failing after {self.max_retries} retries: {_message(error)}")

    def _note_retry_after(self, response: requests.Response, *args, **kwargs) -> None:
        if response.status_code in RETRY_STATUSES:
            self._retry_after_s = parse_retry_after(response.headers.get("Retry-After"))

    def search(self, min_upload_date: int | None = None, max_upload_date: int | None = None,
               **criteria) -> Iterator[Photo]:
        """Every photo matching `criteria` (text=..., user_id=...), each once, in upload-date windows."""
        seen: set[str] = set()
        for photo in self._window(criteria, min_upload_date, max_upload_date):
            if photo.photo_id not in seen:
                seen.add(photo.photo_id)
                yield photo

    def _window(self, criteria: dict, lo: int | None, hi: int | None) -> Iterator[Photo]:
        params = {**criteria, "extras": EXTRAS, "per_page": self.per_page, "sort": "date-posted-asc"}
        if lo is not None:
            params["min_upload_date"] = lo
        if hi is not None:
            params["max_upload_date"] = hi
        first = self._search_page(params, 1)
        total = as_int(first.get("total")) or 0
        if total > self.result_window:
            lo = FLICKR_LAUNCH if lo is None else lo
            hi = int(time.time()) + 86400 if hi is None else hi
            if hi > lo:  # both bounds are inclusive
                mid = (lo + hi) // 2
                yield from self._window(criteria, lo, mid)
                yield from self._window(criteria, mid + 1, hi)
                return
            self.truncated_windows.append((lo, hi, total))  # one second with more uploads than the cap
        reachable = min(total, self.result_window)
        pages = min(as_int(first.get("pages")) or 0, math.ceil(reachable / self.per_page))
        seen_here: set[str] = set()
        answer = first
        for page in range(1, pages + 1):
            if page > 1:
                answer = self._search_page(params, page)
            photos = [parse_photo(raw) for raw in answer.get("photo") or []]
            new = [p for p in photos if p.photo_id not in seen_here]
            if not new:  # a page past the end repeats the last one: stop (B.7)
                break
            seen_here.update(p.photo_id for p in new)
            yield from new

    def _search_page(self, params: dict, page: int) -> dict:
        """The `photos` object of one search page; an answer without one is a UserError naming the server."""
        answer = self.call("flickr.photos.search", page=page, **params)
        photos = answer.get("photos") if isinstance(answer, dict) else None
        if not isinstance(photos, dict):
            raise UserError(f"Flickr flickr.photos.search at {self.rest_url}: malformed answer (expected "
                            f"{{'photos': {{...}}, 'stat': 'ok'}}, got {str(answer)[:200]})")
        return photos


def _message(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 2)[-1] if text.startswith("Error: ") else text


def _http_status(exc: flickrapi.FlickrError) -> int | None:
    match = _STATUS_IN_MESSAGE.search(str(exc))
    return int(match.group(1)) if match else None
