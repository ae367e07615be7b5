"""The query stage: one photo (a Flickr search result or one of your own) in, one queries-manifest row out.

licence filter (before any download) -> download -> reject Flickr's "photo unavailable" placeholder ->
decode at reduced scale, filter, downsample, hash (`process_image`, as for exhibits) -> write
``images/test_met/<query_id>.jpg``. Own photos run the same `store_query_image`, reading a file instead
of downloading. ``query_id`` is the first 12 hex digits of sha1("flickr:<photo id>") (or
"own:<photographer>/<file name>"), so a photo keeps its file name across crawls and machines.

Licence policy. A benchmark is redistributed (images included), so only licences that allow
redistribution by anyone, for any purpose, pass: CC BY and CC BY-SA (2.0 and 4.0), CC0, the Public
Domain Mark, "No known copyright restrictions" (Flickr Commons) and United States Government Work.
Never: All Rights Reserved (0), any NonCommercial licence (1, 2, 3, 14, 15, 16; a dataset must not
restrict its users' purposes), and NoDerivatives (6, 13): we redistribute a downsampled, re-encoded
copy, which is a modification that ND forbids. Unknown ids are not free. The filter keys on Flickr's
licence id, never on the name (names changed in 2024).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from metdata import manifests
from metdata.http import HttpError, PoliteSession, TooLarge
from metdata.sources.flickr import DEFAULT_STATIC_URL, LICENSES, Photo, image_url
from metdata.stages.image import ImageSpec

FREE_LICENSE_IDS = frozenset({"4", "5", "7", "8", "9", "10", "11", "12"})
# sha256 of "photo unavailable" images served in place of deleted photos. Ours is the sample museum's
# stand-in (metdata.sample.flickr_api.PLACEHOLDER_PNG); add the live one's when it is captured.
PLACEHOLDER_SHA256 = frozenset({"fe424231bfae5c9e4b27b0a88909c684bb40433df090caef2c1dae2e2e396c90"})
QUERY_DIR = "images/test_met"
# Statuses worth another try on the next run; every other status is final.
RETRYABLE_STATUSES = frozenset({"http_error"})


QueryImageParams = ImageSpec  # a stored query image (Flickr or own photo) takes exactly the generic parameters


DEFAULT_PARAMS = QueryImageParams()


def query_id(source: str, key: str) -> str:
    return hashlib.sha1(f"{source}:{key}".encode()).hexdigest()[:12]


def is_free(license_id: str) -> bool:
    return license_id in FREE_LICENSE_IDS


def flickr_row(
    photo: Photo,
    *,
    session: PoliteSession,
    root: str | Path,
    params: QueryImageParams = DEFAULT_PARAMS,
    static_url: str = DEFAULT_STATIC_URL,
) -> dict:
    """The queries row of one Flickr photo; non-free licences are recorded, never downloaded."""
    name, license_url = LICENSES.get(photo.license, (f"unknown licence id {photo.license}", None))
    row = {
        "query_id": query_id("flickr", photo.photo_id),
        "source": "flickr",
        "photo_id": photo.photo_id,
        "photographer": photo.owner,
        "photographer_name": photo.owner_name,
        "license": name,
        "license_url": license_url,
        "attribution": f'"{photo.title}" by {photo.owner_name or photo.owner} on Flickr ({photo.page_url}), {name}',
        "title": photo.title,
        "description": photo.description,
        "tags": list(photo.tags),
        "date_taken": photo.date_taken,
        "date_upload": _iso(photo.date_upload),
        "page_url": photo.page_url,
    }
    if not is_free(photo.license):
        return {**row, "status": "license_not_free", "error": f"licence {name} (id {photo.license})"}
    url, _ = image_url(photo, params.max_side_px, static_url)
    return store_query_image({**row, "source_url": url}, lambda: session.get_bytes(url), root=root, params=params)


def store_query_image(
    row: dict, load: Callable[[], bytes], *, root: str | Path, params: QueryImageParams = DEFAULT_PARAMS
) -> dict:
    """Load the bytes, check and downsample them, write images/test_met/<query_id>.jpg; the finished row."""
    try:
        data = load()
    except TooLarge as exc:
        return {**row, "status": "too_large", "error": str(exc)}
    except HttpError as exc:
        status = "not_found" if exc.status in (404, 410) else "http_error"
        return {**row, "status": status, "error": str(exc)}
    except OSError as exc:  # an own photo that cannot be read
        return {**row, "status": "decode_error", "error": f"{type(exc).__name__}: {exc}"}
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 in PLACEHOLDER_SHA256:
        return {**row, "status": "placeholder", "sha256": sha256, "error": "the photo-unavailable placeholder"}
    result = params.process(data)
    row = {**row, "status": result.status, "sha256": result.sha256, "orig_width": result.orig_width,
           "orig_height": result.orig_height, "error": result.error}
    if result.status != "kept":
        return row
    path = f"{QUERY_DIR}/{row['query_id']}.jpg"
    manifests.write_bytes_atomic(Path(root) / path, result.jpeg)
    return {**row, "path": path, "width": result.width, "height": result.height, "phash": result.phash}


def finished_query_ids(root: str | Path) -> set[str]:
    """query_ids whose row is final (not worth retrying), from an existing queries manifest."""
    path = manifests.manifest_path(root, "queries")
    if not path.exists():
        return set()
    table = manifests.read(path, "queries").select(["query_id", "status"]).to_pylist()
    return {r["query_id"] for r in table if r["status"] not in RETRYABLE_STATUSES}


def save_query_rows(root: str | Path, rows: Iterable[dict], metadata: dict | None = None) -> Path:
    """Merge `rows` into ROOT/manifests/queries.parquet by query_id (new rows win), atomically.

    Rows of other sources and earlier runs stay, so `crawl flickr` and `import-photos` share one manifest.
    """
    path = manifests.manifest_path(root, "queries")
    merged = {r["query_id"]: r for r in manifests.read(path, "queries").to_pylist()} if path.exists() else {}
    merged.update((r["query_id"], r) for r in rows)
    return manifests.write(list(merged.values()), path, "queries", metadata=metadata)


def _iso(unix_s: int | None) -> str | None:
    if unix_s is None:
        return None
    return dt.datetime.fromtimestamp(unix_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
