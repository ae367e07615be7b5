"""The `crawl wikimedia` stage: one Commons file in, one distractors row out (failures included).

licence filter (before any download) -> Met copy by metadata -> download the standard-width thumbnail
-> decode, filter, downsample, hash -> Met copy by perceptual hash against the exhibits -> write
images/test_other/<id>.jpg (art) or images/test_noart/<id>.jpg (noart). Never prints, reads no settings.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from metdata.http import HttpError, TooLarge
from metdata.leakage import DEFAULT_MAX_HAMMING, ExhibitHashes, flag_row
from metdata.manifests import write_bytes_atomic
from metdata.sources.wikimedia import FileInfo, is_public_domain, meta_value, strip_utm
from metdata.stages.image import ImageSpec

FOLDERS = {"art": "test_other", "noart": "test_noart"}  # the official release's layout
MET_NAMES = re.compile(r"metropolitan\s+museum|metmuseum\.org|\bthe\s+met\b", re.IGNORECASE)
MET_FIELDS = ("Credit", "ImageDescription", "Artist", "Categories")  # where Commons names a file's source
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class DistractorParams(ImageSpec):
    """The parameters that shape the distractor set (a resume must not change them)."""

    met_copy_max_hamming: int = DEFAULT_MAX_HAMMING


def distractor_id(pageid: int) -> str:
    """12 hex digits, stable across crawls: the file name under images/test_other or test_noart."""
    return hashlib.sha1(f"commons:{pageid}".encode()).hexdigest()[:12]


def met_source(extmetadata: dict) -> str | None:
    """The extmetadata field that names The Met as the file's source, if any."""
    return next((key for key in MET_FIELDS if MET_NAMES.search(meta_value(extmetadata, key))), None)


def crawl_file(
    info: FileInfo,
    *,
    kind: str,
    fetch: Callable[[str], bytes],
    root: str | Path,
    params: DistractorParams,
    exhibits: ExhibitHashes | None = None,
) -> dict[str, list[dict]]:
    """{"distractors": [one row]} for one file; `fetch` downloads a URL (a PoliteSession's get_bytes)."""
    meta = info.extmetadata
    row = {
        "distractor_id": distractor_id(info.pageid),
        "kind": kind,
        "pageid": info.pageid,
        "title": info.title,
        "category": info.category,
        "license": meta_value(meta, "LicenseShortName") or None,
        "license_url": meta_value(meta, "LicenseUrl") or None,
        "artist": _text(meta_value(meta, "Artist")) or None,
        "credit": _text(meta_value(meta, "Credit")) or None,
        "source_page": info.description_url or None,
        "source_url": strip_utm(info.thumb_url) or None,
        "path": None,
    }
    return {"distractors": [_decide(row, info, fetch, Path(root), params, exhibits)]}


def _decide(row: dict, info: FileInfo, fetch, root: Path, params: DistractorParams, exhibits) -> dict:
    meta = info.extmetadata
    if not is_public_domain(meta):
        code = meta_value(meta, "License") or "no licence code"
        nonfree = ", NonFree" if meta_value(meta, "NonFree").lower() == "true" else ""
        copyrighted = meta_value(meta, "Copyrighted") or "unknown"
        return {**row, "status": "not_public_domain",
                "error": f"licence {row['license'] or 'unknown'} ({code}, Copyrighted {copyrighted}{nonfree})"}
    field = met_source(meta)
    if field is not None:
        return {**row, "status": "met_copy", "error": f"{field} names The Metropolitan Museum of Art"}
    if not info.thumb_url:
        return {**row, "status": "no_image", "error": "imageinfo gave no URL"}
    try:
        data = fetch(info.thumb_url)
    except TooLarge as exc:
        return {**row, "status": "too_large", "error": str(exc)}
    except HttpError as exc:
        return {**row, "status": "http_error", "error": str(exc)}
    result = params.process(data)
    row.update(status=result.status, error=result.error, width=result.width, height=result.height,
               orig_width=result.orig_width, orig_height=result.orig_height, sha256=result.sha256,
               phash=result.phash)
    if result.status != "kept":
        return row
    if exhibits is not None:
        match = exhibits.match([result.phash], params.met_copy_max_hamming)[0]
        if match is not None:
            return flag_row(row, match, "met_copy")
    row["path"] = f"images/{FOLDERS[row['kind']]}/{row['distractor_id']}.jpg"
    write_bytes_atomic(root / row["path"], result.jpeg)
    return row


def _text(value: str) -> str:
    """Plain text of an extmetadata HTML value (Artist and Credit are HTML)."""
    return " ".join(html.unescape(_TAGS.sub(" ", value)).split())
