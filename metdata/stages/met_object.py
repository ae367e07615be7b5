"""The `crawl met` stage: one Met object in, its manifest rows out (failures included).

fetch the record -> licence and image checks -> download each image (smallest rendition that covers
max_side_px) -> decode at reduced scale, hash, filter, downsample -> dedup and cap within the object ->
write the kept images as images/MET/<objectID>/<n>.jpg -> one objects row and one exhibits row per image.
The stage never prints and reads no global settings, so it runs alike in a test, a thread pool or a
Dask worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from metdata.http import HttpError, TooLarge
from metdata.manifests import write_bytes_atomic
from metdata.sources.met import ImageCandidate, MetClient, RecordError, image_candidates, object_row
from metdata.stages import dedup
from metdata.stages.image import ImageResult, ImageSpec


@dataclass(frozen=True)
class ImageParams(ImageSpec):
    """The parameters that shape the exhibit set (recorded in the manifests; a resume must not change them)."""

    max_images_per_object: int = dedup.DEFAULT_MAX_IMAGES
    near_dup_max_hamming: int = dedup.DEFAULT_MAX_HAMMING


class MetObjectStage:
    """`crawl_object` bound to its settings, as a picklable callable of one object id.

    The HTTP client is made on first use in each process and never pickled, so an executor can ship the
    stage to other processes or Dask workers; threads of one process share one client (one rate limiter).
    `session_factory` must itself be picklable (e.g. functools.partial(PoliteSession, rate_per_s=1.0)).
    """

    def __init__(self, api_url: str, root: str | Path, params: ImageParams, session_factory: Callable,
                 previous: dict[int, list[dict]] | None = None):
        self.api_url = api_url
        self.root = Path(root)
        self.params = params
        self.session_factory = session_factory
        self.previous = previous or {}  # object id -> its exhibits rows from the run being redone
        self._client: MetClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> MetClient:
        with self._lock:
            if self._client is None:
                self._client = MetClient(self.session_factory(), self.api_url)
            return self._client

    def __call__(self, object_id: int) -> dict:
        return crawl_object(object_id, client=self.client, root=self.root, params=self.params,
                            previous=self.previous.get(object_id))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_client", "_lock")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _client=None, _lock=threading.Lock())


@dataclass
class _Fetched:
    candidate: ImageCandidate
    url: str  # the URL actually used
    rendition: str
    result: ImageResult | None  # None when the download failed
    status: str
    error: str | None


def crawl_object(object_id: int, *, client: MetClient, root: str | Path, params: ImageParams,
                 previous: list[dict] | None = None) -> dict:
    """Rows for one object: {"objects": [one row], "exhibits": [one row per candidate image]}.

    `previous` are the object's exhibits rows from an earlier run being redone (--retry-failed): a kept
    image whose URL is unchanged is read back from its stored file, and one the filters rejected keeps
    its row, so that the failed images are downloaded again and the kept ones are not.
    """
    record_url = client.url(f"v1/objects/{object_id}")
    try:
        record = client.get_object(object_id)
        if record is None:
            return _object_failure(object_id, "not_found", f"{record_url} answered 404")
        candidates = image_candidates(record)
    except HttpError as exc:
        return _object_failure(object_id, "http_error", str(exc))
    except RecordError as exc:
        return _object_failure(object_id, "bad_response", f"{record_url}: {exc}")
    obj = object_row(record)
    if not obj["is_public_domain"]:
        rows = [_row(object_id, c.index, c.rendition, c.url, "not_public_domain") for c in candidates]
        return _result(obj, "not_public_domain", rows, kept=0)
    if not candidates:
        return _result(obj, "no_image", [], kept=0, error="the record lists no image URL")
    earlier = {row["image_index"]: row for row in previous or []}
    fetched = [_earlier(c, earlier, Path(root)) or _fetch(client.session, c, params) for c in candidates]
    rows = _select_and_write(object_id, fetched, Path(root), params)
    kept = sum(r["status"] == "kept" for r in rows)
    return _result(obj, "ok", rows, kept=kept)


_REUSABLE = frozenset({"kept", "aspect_ratio", "too_small", "decode_error", "too_large"})
"""Outcomes of an earlier run that a redo takes over: kept images (read back from their file) and images
the filters rejected. Duplicates and over_cap images have no stored file, so they are fetched again."""


def _earlier(candidate: ImageCandidate, previous: dict[int, dict], root: Path) -> _Fetched | None:
    """The earlier outcome of this image, when it is reusable and its URL has not changed."""
    row = previous.get(candidate.index)
    if row is None or row["status"] not in _REUSABLE or row["source_url"] not in (candidate.url,
                                                                                  candidate.fallback_url):
        return None
    result = None
    if row.get("sha256"):  # downloaded and decoded (too_large by Content-Length never was)
        jpeg = None
        if row["status"] == "kept":
            file = root / row["path"]
            if not file.is_file():
                return None
            jpeg = file.read_bytes()
        result = ImageResult(row["status"], row["sha256"], jpeg=jpeg, width=row.get("width"),
                             height=row.get("height"), orig_width=row.get("orig_width"),
                             orig_height=row.get("orig_height"), phash=row.get("phash"), error=row.get("error"))
    return _Fetched(candidate, row["source_url"], row["rendition"], result, row["status"], row.get("error"))


def _fetch(session, candidate: ImageCandidate, params: ImageParams) -> _Fetched:
    """Download and process one image; for the primary, fall back to the original when web-large is
    missing, broken, too small for max_side_px or rejected as too small."""
    first = _download(session, candidate.url, candidate, candidate.rendition, params)
    if candidate.fallback_url is None or _covers(first, params):
        return first
    second = _download(session, candidate.fallback_url, candidate, "original", params)
    return first if first.status == "kept" and second.status != "kept" else second


def _covers(fetched: _Fetched, params: ImageParams) -> bool:
    result = fetched.result
    if result is None or fetched.status in ("decode_error", "too_small", "too_large"):
        return False
    return max(result.orig_width or 0, result.orig_height or 0) >= params.max_side_px


def _download(session, url: str, candidate: ImageCandidate, rendition: str, params: ImageParams) -> _Fetched:
    try:
        data = session.get_bytes(url)
    except TooLarge as exc:
        return _Fetched(candidate, url, rendition, None, "too_large", str(exc))
    except HttpError as exc:
        return _Fetched(candidate, url, rendition, None, "http_error", str(exc))
    result = params.process(data)
    return _Fetched(candidate, url, rendition, result, result.status, result.error)


def _select_and_write(object_id: int, fetched: list[_Fetched], root: Path, params: ImageParams) -> list[dict]:
    """Dedup and cap the decodable images, write the kept ones in record order, return one row per image."""
    rows = []
    jpegs = {}  # image_index -> stored bytes of the decodable images
    for f in fetched:
        row = _row(object_id, f.candidate.index, f.rendition, f.url, f.status, error=f.error)
        r = f.result
        if r is not None:
            row.update(width=r.width, height=r.height, orig_width=r.orig_width, orig_height=r.orig_height,
                       sha256=r.sha256, phash=r.phash)
            jpegs[f.candidate.index] = r.jpeg
        rows.append(row)
    rows = dedup.dedup_and_cap(rows, max_hamming=params.near_dup_max_hamming,
                               max_images=params.max_images_per_object)
    path_of_url = {}
    kept = sorted((row for row in rows if row["status"] == "kept"), key=lambda row: row["image_index"])
    for n, row in enumerate(kept):
        row["path"] = f"images/MET/{object_id}/{n}.jpg"
        write_bytes_atomic(root / row["path"], jpegs[row["image_index"]])
        path_of_url.setdefault(row["source_url"], row["path"])
    for row in rows:
        if row["status"] == "duplicate":
            row["duplicate_of"] = path_of_url.get(row["duplicate_of"], row["duplicate_of"])
    _remove_stale(root / "images" / "MET" / str(object_id), len(kept))
    return rows


def _remove_stale(folder: Path, n_kept: int) -> None:
    """Delete numbered images beyond the kept count (left by an earlier run of the same object)."""
    if not folder.exists():
        return
    for file in folder.glob("*.jpg"):
        if not file.stem.isdecimal() or int(file.stem) >= n_kept:
            file.unlink()


def _row(object_id: int, index: int, rendition: str, url: str, status: str, error: str | None = None) -> dict:
    return {
        "object_id": object_id,
        "image_index": index,
        "rendition": rendition,
        "path": None,
        "status": status,
        "source_url": url,
        "error": error,
    }


def _result(obj: dict, status: str, exhibits: list[dict], *, kept: int, error: str | None = None) -> dict:
    return {"objects": [{**obj, "n_images_kept": kept, "status": status, "error": error}], "exhibits": exhibits}


def _object_failure(object_id: int, status: str, error: str) -> dict:
    return {"objects": [{"object_id": object_id, "n_images_kept": 0, "status": status, "error": error}],
            "exhibits": []}
