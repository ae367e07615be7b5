"""The manifests: Arrow schemas, validated reads and atomic writes. The one place that writes Parquet.

A dataset root looks like the official MET release plus our tables::

    ROOT/images/MET/<objectID>/<n>.jpg      exhibits (n = 0..9)
    ROOT/images/test_met/<12 hex>.jpg       query photos (Flickr, own photos)
    ROOT/images/test_other/<12 hex>.jpg     art distractors
    ROOT/images/test_noart/<12 hex>.jpg     non-art distractors
    ROOT/manifests/<name>.parquet           one row per candidate, kept or not (schemas below)
    ROOT/splits/{train,val,test}.parquet    the benchmark splits
    ROOT/review/decisions.jsonl             the manual checks (append-only JSON lines, "decisions" columns)

`path` columns are relative to ROOT (``images/MET/34/0.jpg``); split `key` columns are relative to
``images/`` exactly as in the official ground truth (``MET/34/0.jpg``).
The schemas are documented for users in ``manifests/README.md``; bump SCHEMA_VERSION on any change.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from metdata.errors import UserError

SCHEMA_VERSION = "1"

# The closed set of row statuses. "kept" is the only success; everything else is a drop reason.
STATUSES: dict[str, str] = {
    "kept": "written to disk and part of the dataset",
    "not_public_domain": "the source does not mark the object or file public domain / free",
    "license_not_free": "the licence does not allow redistribution (e.g. all rights reserved)",
    "no_image": "the record has no image URL",
    "http_error": "the download failed (HTTP status or network error, see error)",
    "bad_response": "the source answered, but not with the documented record (HTML page, wrong id, ...)",
    "decode_error": "the bytes are not a decodable image (truncated, corrupt, wrong type)",
    "too_large": "the image exceeds the byte cap or Pillow's decompression-bomb guard",
    "too_small": "the image is smaller than the minimum side",
    "aspect_ratio": "the aspect ratio exceeds --max-aspect-ratio",
    "duplicate": "an exact or near duplicate (perceptual hash) of another image; see duplicate_of",
    "over_cap": "beyond the per-object image cap",
    "met_copy": "a distractor that is a copy of a Met exhibit (by metadata or perceptual hash)",
    "leak": "a query or distractor that is a near duplicate of an exhibit image; see duplicate_of",
    "not_found": "the source answered that the record does not exist",
    "placeholder": "the host served a 'photo unavailable' placeholder instead of the photo",
}

_str, _i64, _i32, _bool, _f64 = pa.string(), pa.int64(), pa.int32(), pa.bool_(), pa.float64()
_strlist = pa.list_(pa.string())

# Columns shared by every table of downloaded images (exhibits, queries, distractors).
_IMAGE_COLUMNS = [
    ("path", _str),  # relative to the dataset root; null unless status == "kept"
    ("status", _str),  # one of STATUSES
    ("source_url", _str),  # the URL the bytes came from (utm_* stripped)
    ("width", _i32),  # stored size (after downsampling)
    ("height", _i32),
    ("orig_width", _i32),  # size of the downloaded source image
    ("orig_height", _i32),
    ("sha256", _str),  # of the downloaded source bytes
    ("phash", _str),  # 64-bit imagehash.phash as 16 hex digits
    ("duplicate_of", _str),  # for duplicate/leak/met_copy rows: path or source_url of the other image
    ("error", _str),  # free text, null when none
]

SCHEMAS: dict[str, pa.Schema] = {
    "objects": pa.schema(
        [
            ("object_id", _i64),
            ("title", _str),
            ("artist", _str),
            ("date", _str),  # objectDate, free text
            ("department", _str),
            ("classification", _str),
            ("object_name", _str),
            ("culture", _str),
            ("medium", _str),
            ("accession_number", _str),
            ("credit_line", _str),
            ("tags", _strlist),
            ("is_public_domain", _bool),
            ("object_url", _str),
            ("metadata_date", _str),
            ("n_images_kept", _i32),
            ("status", _str),  # "ok", "not_public_domain", "not_found", "http_error", ...
            ("error", _str),
        ]
    ),
    "exhibits": pa.schema(
        [("object_id", _i64), ("image_index", _i32), ("rendition", _str), *_IMAGE_COLUMNS]
    ),
    "queries": pa.schema(
        [
            ("query_id", _str),  # 12 lowercase hex digits; the file is images/test_met/<query_id>.jpg
            ("source", _str),  # "flickr" or "own" ("official" for rows made by import-official)
            ("photo_id", _str),  # the source's id (Flickr photo id, or the file name for own photos)
            ("photographer", _str),  # Flickr NSID or the name given to import-photos
            ("photographer_name", _str),
            ("license", _str),  # short licence name, e.g. "CC BY 2.0"
            ("license_url", _str),
            ("attribution", _str),
            ("title", _str),
            ("description", _str),
            ("tags", _strlist),
            ("date_taken", _str),
            ("date_upload", _str),
            ("page_url", _str),
            ("met_object_id", _i64),  # known link (import CSV or accepted review decision), else null
            *_IMAGE_COLUMNS,
        ]
    ),
    "distractors": pa.schema(
        [
            ("distractor_id", _str),  # 12 lowercase hex digits
            ("kind", _str),  # "art" (images/test_other) or "noart" (images/test_noart)
            ("pageid", _i64),
            ("title", _str),
            ("category", _str),
            ("license", _str),
            ("license_url", _str),
            ("artist", _str),
            ("credit", _str),
            ("source_page", _str),
            *_IMAGE_COLUMNS,
        ]
    ),
    "matches": pa.schema(
        [
            ("query_id", _str),
            ("object_id", _i64),
            ("rank", _i32),  # 1 = best
            ("score", _f64),  # 0..100
            ("matched_on", _str),  # which fields matched, e.g. "title+artist"
            ("auto_accept", _bool),  # matching.AUTO_ACCEPT_RULE held (rank 1, score >= threshold, ...)
        ]
    ),
    # review/decisions.jsonl lines (metdata.review.store), and `metdata review --export` files
    "decisions": pa.schema(
        [
            ("item_kind", _str),  # "query" or "distractor"
            ("item_id", _str),  # query_id or distractor_id
            ("decision", _str),  # "accept", "reject", "skip"
            ("object_id", _i64),  # the accepted Met object (queries), else null
            ("decided_at", _str),  # ISO 8601 UTC
        ]
    ),
    "train": pa.schema([("key", _str), ("object_id", _i64)]),
    # val/test: met_id is null for distractors, exactly like the missing "MET_id" of the release.
    "queryset": pa.schema(
        [
            ("key", _str),  # relative to images/, e.g. "test_met/8f3a69ef8d7b.jpg"
            ("met_id", _i64),
            ("kind", _str),  # "met", "other" or "noart"
            ("photographer", _str),
            ("category", _str),
            ("url", _str),
        ]
    ),
}

SPLIT_SCHEMAS = {"train": "train", "val": "queryset", "test": "queryset"}


def manifest_path(root: str | os.PathLike, name: str) -> Path:
    return Path(root) / "manifests" / f"{name}.parquet"


def split_path(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "splits" / f"{split}.parquet"


def empty_table(kind: str) -> pa.Table:
    return SCHEMAS[kind].empty_table()


def to_table(rows: Iterable[Mapping[str, Any]], kind: str) -> pa.Table:
    """Rows (dicts) to a table of the kind's schema; missing keys become null, unknown keys are an error."""
    schema = SCHEMAS[kind]
    rows = list(rows)
    names = set(schema.names)
    for row in rows:
        extra = set(row) - names
        if extra:
            raise ValueError(f"{kind} row has columns not in the schema: {sorted(extra)}")
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def validate(table: pa.Table, kind: str, where: str) -> pa.Table:
    """Check that `table` has every column of the kind's schema with the right type; return it in order."""
    schema = SCHEMAS[kind]
    for field in schema:
        if field.name not in table.column_names:
            raise UserError(f"{where}: missing column {field.name!r} ({field.type})")
        actual = table.schema.field(field.name).type
        if actual != field.type and not _compatible(actual, field.type):
            raise UserError(f"{where}: column {field.name!r} has type {actual}, expected {field.type}")
    table = table.select(schema.names)
    return table.cast(schema) if table.schema != schema else table


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Types that differ only in representation (large_string, all-null columns, narrower ints)."""
    if pa.types.is_null(actual):
        return True
    if pa.types.is_string(expected) and (pa.types.is_large_string(actual) or pa.types.is_string_view(actual)):
        return True
    if pa.types.is_integer(expected) and pa.types.is_integer(actual):
        return True
    if pa.types.is_list(expected) and (pa.types.is_list(actual) or pa.types.is_large_list(actual)):
        return _compatible(actual.value_type, expected.value_type) or actual.value_type == expected.value_type
    return False


def read(path: str | os.PathLike, kind: str) -> pa.Table:
    """Read and validate a Parquet manifest; a missing or malformed file is a UserError naming it."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such manifest")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from None
    return validate(table, kind, str(path))


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata stored by write() (hash algorithm, versions, parameters)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"metdata")
    return json.loads(raw) if raw else {}


def write(table_or_rows, path: str | os.PathLike, kind: str, metadata: Mapping[str, Any] | None = None) -> Path:
    """Validate and write atomically (temp file + rename), recording the schema version and `metadata`."""
    table = table_or_rows if isinstance(table_or_rows, pa.Table) else to_table(table_or_rows, kind)
    table = validate(table, kind, str(path))
    meta = {"schema": kind, "schema_version": SCHEMA_VERSION, **(metadata or {})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"metdata": json.dumps(meta)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


class atomic_path:
    """Context manager yielding a temporary path next to `path`, renamed onto it on success."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
