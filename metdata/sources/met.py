"""The Met Collection API: list object IDs, fetch records, turn a record into manifest rows and image candidates.

A thin client over `metdata.http.PoliteSession` with an explicit base URL, so the same code talks to the
live API and to the sample museum on loopback. Formats: /work/shared/reference/source_apis.md, section A.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from metdata.errors import UserError
from metdata.http import HttpError

DEFAULT_API_URL = "https://collectionapi.metmuseum.org/public/collection"
SEARCH_WINDOW = 10_000  # /v1.1/search never returns results past this offset
SEARCH_PAGE_SIZE = 500  # the most /v1.1/search returns per page
_URL_SAFE = "%/:=&?~#+!$,;'@()*[]"  # keep the URL's structure and existing escapes
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RecordError(ValueError):
    """An object record that is not the JSON object the API documents."""


@dataclass(frozen=True)
class ImageCandidate:
    """One image of an object as listed in its record.

    `index` is the position in the record (0 = primary, 1.. = additionalImages). For the primary,
    `url` is the web-large rendition when the record has one and `fallback_url` the original, which the
    stage fetches only when web-large does not cover --max-side-px.
    """

    index: int
    url: str
    rendition: str  # "web-large" or "original"
    fallback_url: str | None = None


def image_candidates(record: dict) -> list[ImageCandidate]:
    """The primary image (smallest rendition first) and the additional images, in record order.

    URLs are taken from the record, never built (the CDN layout is undocumented), and percent-encoded
    because some file names contain spaces.
    """
    original = _url(record.get("primaryImage"))
    small = _url(record.get("primaryImageSmall"))
    candidates = []
    if small:
        candidates.append(ImageCandidate(0, small, "web-large", original if original != small else None))
    elif original:
        candidates.append(ImageCandidate(0, original, "original"))
    additional = record.get("additionalImages") or []
    if not isinstance(additional, list):
        raise RecordError(f"additionalImages is {type(additional).__name__}, expected a list")
    for index, url in enumerate(map(_url, additional), start=1):  # stable indices, even without a primary
        if url:
            candidates.append(ImageCandidate(index, url, "original"))
    return candidates


def _url(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RecordError(f"image URL is {type(value).__name__}, expected a string")
    return quote(value.strip(), safe=_URL_SAFE)


def object_row(record: dict) -> dict:
    """The objects-manifest fields of a record (n_images_kept and status are filled in by the stage)."""
    tags = record.get("tags") or []  # null on records without tags
    return {
        "object_id": int(record["objectID"]),
        "title": _text(record.get("title")),
        "artist": _text(html.unescape(record.get("artistDisplayName") or "")),
        "date": _text(record.get("objectDate")),
        "department": _text(record.get("department")),
        "classification": _text(record.get("classification")),
        "object_name": _text(record.get("objectName")),
        "culture": _text(record.get("culture")),
        "medium": _text(record.get("medium")),
        "accession_number": _text(record.get("accessionNumber")),
        "credit_line": _text(record.get("creditLine")),
        "tags": [t["term"] for t in tags if isinstance(t, dict) and t.get("term")],
        "is_public_domain": bool(record.get("isPublicDomain")),
        "object_url": _text(record.get("objectURL")),
        "metadata_date": _text(record.get("metadataDate")),
    }


def _text(value: Any) -> str | None:
    """Unknown values are "" in the API; store them as null."""
    return str(value) if value not in (None, "") else None


def check_record(record: Any, object_id: int) -> dict:
    """The record if it is a JSON object about `object_id`, else RecordError."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if record.get("objectID") != object_id:
        raise RecordError(f"objectID is {record.get('objectID')!r}, expected {object_id}")
    if not isinstance(record.get("isPublicDomain"), bool):
        raise RecordError("isPublicDomain is missing or not a boolean")
    return record


class MetClient:
    """The Met Collection API at `api_url` (ending in /public/collection) through a PoliteSession."""

    def __init__(self, session, api_url: str = DEFAULT_API_URL):
        self.session = session
        self.api_url = api_url.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.api_url}/{path.lstrip('/')}"

    def get_object(self, object_id: int) -> dict | None:
        """The record, or None when the API says the object does not exist (404). Other failures raise
        HttpError (network, 5xx after retries) or RecordError (not a record)."""
        try:
            record = self.session.get_json(self.url(f"v1/objects/{object_id}"))
        except HttpError as exc:
            if exc.status == 404:
                return None
            if exc.status is not None and exc.status < 400:  # answered, but not with JSON
                raise RecordError(str(exc)) from None
            raise
        return check_record(record, object_id)

    # Listing: called once per crawl from the command, so failures are UserErrors naming the URL.

    def departments(self) -> list[dict]:
        url = self.url("v1/departments")
        body = self._list_json(url)
        departments = body.get("departments") if isinstance(body, dict) else None
        if not isinstance(departments, list) or not all(
            isinstance(d, dict) and isinstance(d.get("departmentId"), int) for d in departments
        ):
            raise UserError(f"{url}: malformed response (expected {{'departments': [...]}})")
        return departments

    def resolve_departments(self, wanted: list[str]) -> list[int]:
        """Department ids from ids or display names (case-insensitive), checked against /v1/departments.

        Each item is one display name (some contain commas) or a comma-separated list of ids and names.
        """
        known = self.departments()
        by_id = {d["departmentId"]: d for d in known}
        by_name = {str(d.get("displayName", "")).strip().casefold(): d["departmentId"] for d in known}
        ids = []
        for item in wanted:
            pieces = [item] if item.strip().casefold() in by_name else [p for p in item.split(",") if p.strip()]
            for piece in (p.strip() for p in pieces):
                dept = int(piece) if piece.isdecimal() else by_name.get(piece.casefold())
                if dept not in by_id:
                    choices = "; ".join(f"{d['departmentId']} {d.get('displayName')}" for d in known)
                    raise UserError(f"unknown department {piece!r} at {self.url('v1/departments')} "
                                    f"(known: {choices})")
                ids.append(dept)
        return sorted(set(ids))

    def list_object_ids(self, department_ids: list[int] | None = None, updated_since: str | None = None) -> list[int]:
        """All object ids, optionally in some departments or updated after a date, in ascending order.

        The API returns them unordered; sorting makes `--limit N` and resumed crawls deterministic.
        """
        params = {}
        if department_ids:
            params["departmentIds"] = "|".join(map(str, department_ids))
        if updated_since:
            if not _DATE.match(updated_since):
                raise UserError(f"--updated-since {updated_since!r}: expected a date YYYY-MM-DD")
            params["metadataDate"] = updated_since
        url = self.url("v1/objects")
        return sorted(set(_id_list(self._list_json(url, params), url, allow_null=False)))

    def search_ids(self, query: str, department_id: int | None = None) -> tuple[list[int], int]:
        """Object ids matching `query` (relevance order) and the total number of matches.

        /v1/search returns every match at once but was retired (410 Gone) on 2026-10-01; then we page
        /v1.1/search, which stops at a 10,000-result window, so the ids may be fewer than the total.
        """
        params = {"departmentId": department_id} if department_id is not None else {}
        params["q"] = query  # last: the API's results depend on parameter order
        url = self.url("v1/search")
        try:
            body = self.session.get_json(url, params=params)
        except HttpError as exc:
            if exc.status != 410:
                raise _unusable(url, exc) from None
            return self._search_paged(params)
        return _id_list(body, url, allow_null=True), _total(body, url)

    def _search_paged(self, params: dict) -> tuple[list[int], int]:
        url = self.url("v1.1/search")
        ids: list[int] = []
        total = 0
        offset = 0
        while offset < SEARCH_WINDOW:
            page = {k: v for k, v in params.items() if k != "q"}
            page.update(offset=offset, limit=SEARCH_PAGE_SIZE, q=params["q"])
            body = self._list_json(url, page)
            batch = _id_list(body, url, allow_null=True)
            total = _total(body, url)
            ids.extend(batch)
            offset += SEARCH_PAGE_SIZE
            if not batch or offset >= total:
                break
        return list(dict.fromkeys(ids)), total

    def _list_json(self, url: str, params: dict | None = None) -> Any:
        try:
            return self.session.get_json(url, params=params)
        except HttpError as exc:
            raise _unusable(url, exc) from None


def _unusable(url: str, exc: HttpError) -> UserError:
    if exc.status is None:
        return UserError(f"cannot reach {url}: {exc}")
    if exc.status < 400:
        return UserError(f"{url}: malformed response ({exc})")
    return UserError(f"{url} failed: {exc}")


def _id_list(body: Any, url: str, *, allow_null: bool) -> list[int]:
    """The objectIDs of a listing or search answer; `null` means no results on search."""
    ids = body.get("objectIDs", ...) if isinstance(body, dict) else ...
    if ids is None and allow_null:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise UserError(f"{url}: malformed response (expected {{'total': int, 'objectIDs': [int, ...]}})")
    return ids


def _total(body: dict, url: str) -> int:
    """The `total` of a search answer (already checked to be a dict by `_id_list`)."""
    total = body.get("total") or 0
    if not isinstance(total, int) or isinstance(total, bool):
        raise UserError(f"{url}: malformed response (total is {total!r}, expected an integer)")
    return total


def parse_object_ids(text: str, where: str) -> list[int]:
    """Object ids from a comma/whitespace separated list; anything but a positive integer is a UserError."""
    ids = []
    for token in re.split(r"[,\s]+", text.strip()):
        if not token:
            continue
        if not token.isdecimal() or int(token) <= 0:
            raise UserError(f"{where}: {token!r} is not a Met object id (a positive integer)")
        ids.append(int(token))
    return list(dict.fromkeys(ids))
