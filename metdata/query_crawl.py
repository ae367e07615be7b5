"""The query pipelines behind `metdata crawl flickr` and `metdata import-photos`.

Both turn photos into rows of ROOT/manifests/queries.parquet through the same per-photo stage
(`stages.flickr_photo`), run it in a thread pool, and merge the rows into the manifest every
`flush_every` photos and at the end (also on Ctrl-C or an error), so such a stop loses only the photos
in flight; a hard kill (SIGKILL, power loss) loses at most the rows since the last merge, whose photos
the rerun fetches again. A rerun skips photos whose row is final and retries the http_error ones.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from metdata import manifests
from metdata.errors import UserError
from metdata.http import PoliteSession
from metdata.run import LocalExecutor
from metdata.sources.flickr import DEFAULT_STATIC_URL, LICENSES, FlickrClient, Photo
from metdata.stages.flickr_photo import (
    DEFAULT_PARAMS,
    FREE_LICENSE_IDS,
    QueryImageParams,
    finished_query_ids,
    flickr_row,
    query_id,
    save_query_rows,
    store_query_image,
)
from metdata.stages.image import HASH_ALGO

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
# Licences one may put on one's own photos: the free ones, without the two that only institutions use.
OWN_LICENSES = {LICENSES[i][0]: LICENSES[i][1] for i in sorted(FREE_LICENSE_IDS - {"7", "8"}, key=int)}


@dataclass
class QuerySummary:
    root: Path
    what: str  # where the photos came from
    candidates: int
    resumed: int  # finished by an earlier run
    statuses: Counter  # of this selection's rows
    calls: str = ""  # API and download counts
    manifest: Path | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        dropped = {k: v for k, v in sorted(self.statuses.items()) if k != "kept"}
        lines = [
            f"Photos: {self.candidates} from {self.what}"
            + (f" ({self.resumed} finished by an earlier run)" if self.resumed else ""),
            f"Kept: {self.statuses.get('kept', 0)} in {self.root / 'images' / 'test_met'}",
            "Dropped: " + (", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"),
        ]
        lines += [self.calls] if self.calls else []
        lines += [f"Manifest: {self.manifest}"] if self.manifest else []
        return lines + [f"Note: {note}" for note in self.notes]


def crawl_flickr(
    root: str | Path,
    client: FlickrClient,
    searches: list[dict],
    *,
    session: PoliteSession,
    params: QueryImageParams = DEFAULT_PARAMS,
    static_url: str = DEFAULT_STATIC_URL,
    workers: int = 4,
    progress: bool = True,
    flush_every: int = 50,
) -> QuerySummary:
    """Search Flickr (each dict of `searches` is one search's criteria) and store every photo not yet done.

    Photos stream from the search pages into the download pool, so an interrupted or failed crawl (an
    expired key, say) keeps every row finished before it.
    """
    root = Path(root)
    _check_params(root, params)
    done = finished_query_ids(root)
    photos: dict[str, Photo] = {}

    def new_photos():
        for criteria in searches:
            for photo in client.search(**criteria):
                if photo.photo_id not in photos:
                    photos[photo.photo_id] = photo
                    if query_id("flickr", photo.photo_id) not in done:
                        yield photo

    def stage(photo: Photo) -> dict:
        return flickr_row(photo, session=session, root=root, params=params, static_url=static_url)

    ran = _run(stage, new_photos(), root, params, workers, progress, flush_every, "photos")
    what = " and ".join(_describe(c) for c in searches) if len(searches) <= 3 else f"{len(searches)} searches"
    if not photos:
        raise UserError(f"Flickr found no photos for {what} at {client.rest_url}; nothing written")
    ids = {query_id("flickr", pid) for pid in photos}
    stats = session.stats
    return QuerySummary(
        root=root, what=f"Flickr ({what})", candidates=len(photos), resumed=len(photos) - ran,
        statuses=_statuses(root, ids),
        calls=(f"API calls: {client.calls} (retries {client.retries}); downloads: {stats.requests} requests "
               f"(retries {stats.retries}, {stats.bytes / 2**20:.1f} MiB)"),
        manifest=manifests.manifest_path(root, "queries"),
        notes=[f"{total} photos uploaded within one second from {lo}: only the first {client.result_window} are "
               "reachable" for lo, _, total in client.truncated_windows],
    )


def import_photos(
    directory: str | Path,
    root: str | Path,
    photographer: str,
    *,
    license_name: str = "CC BY 4.0",
    objects_csv: str | Path | None = None,
    params: QueryImageParams = DEFAULT_PARAMS,
    workers: int = 4,
    progress: bool = True,
) -> QuerySummary:
    """Add the image files under `directory` as query candidates of source "own"."""
    directory, root = Path(directory), Path(root)
    if not directory.is_dir():
        raise UserError(f"{directory}: not a directory")
    if not photographer.strip():
        raise UserError("--photographer: give the photographer's name (it groups photos in the splits)")
    if license_name not in OWN_LICENSES:
        raise UserError(f"--license {license_name!r}: choose a free licence ({', '.join(OWN_LICENSES)})")
    stored = (root / "images").resolve()  # a dataset root inside DIRECTORY: its images are our output, not photos
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and stored not in p.resolve().parents)
    if not files:
        raise UserError(f"{directory}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    object_ids = read_objects_csv(objects_csv, files) if objects_csv else {}
    _check_params(root, params)
    known = _known_links(root)  # a re-import without the CSV must not erase earlier links

    def stage(name: str) -> dict:
        qid = query_id("own", f"{photographer}/{name}")
        row = {
            "query_id": qid, "source": "own", "photo_id": name,
            "photographer": photographer, "photographer_name": photographer, "license": license_name,
            "license_url": OWN_LICENSES[license_name], "attribution": f"{name} by {photographer}, {license_name}",
            "title": Path(name).stem, "tags": [],
            "met_object_id": object_ids[name] if name in object_ids else known.get(qid),
            "source_url": (directory / name).resolve().as_uri(),
        }
        return store_query_image(row, (directory / name).read_bytes, root=root, params=params)

    _run(stage, files, root, params, workers, progress, 50, "photos")
    ids = {query_id("own", f"{photographer}/{name}") for name in files}
    return QuerySummary(root=root, what=str(directory), candidates=len(files), resumed=0,
                        statuses=_statuses(root, ids), manifest=manifests.manifest_path(root, "queries"),
                        notes=[f"{len(object_ids)} photos linked to Met objects by {objects_csv}"] if objects_csv else [])


def read_objects_csv(path: str | Path, files: list[str]) -> dict[str, int | None]:
    """`file,object_id` rows -> {file: object id or None (blank)}; `file` is a path relative to DIR or a name."""
    path = Path(path)
    by_name = {Path(f).name: f for f in files}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "object_id"} <= set(reader.fieldnames):
                raise UserError(f"{path}: line 1: expected the columns file,object_id, got {reader.fieldnames}")
            out: dict[str, int | None] = {}
            for row in reader:
                line = reader.line_num
                name = (row["file"] or "").strip()
                value = (row["object_id"] or "").strip()
                file = name if name in files else by_name.get(name)
                if file is None:
                    raise UserError(f"{path}: line {line}: no photo {name!r} in the photo folder")
                if file in out:
                    raise UserError(f"{path}: line {line}: {name!r} is listed twice")
                if value and not (value.isdecimal() and int(value) > 0):
                    raise UserError(f"{path}: line {line}: object_id {value!r} is not a Met object id")
                out[file] = int(value) if value else None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read it as CSV ({exc})") from None
    return out


def _run(stage: Callable, units: Iterable, root: Path, params: QueryImageParams, workers: int, progress: bool,
         flush_every: int, unit: str) -> int:
    """Run `stage` over `units` in a thread pool, merging rows into the manifest as they finish; the count."""
    metadata = {"hash_algo": HASH_ALGO, "query_image_params": asdict(params)}
    pending: list[dict] = []
    ran = 0
    bar = tqdm(total=len(units) if isinstance(units, list) else None, desc=unit, unit=unit, disable=not progress,
               dynamic_ncols=True)
    try:
        for _, row in LocalExecutor(workers).imap_unordered(stage, units):
            pending.append(row)
            ran += 1
            bar.update()
            if len(pending) >= flush_every:
                save_query_rows(root, pending, metadata)
                pending = []
    finally:
        bar.close()
        if pending:
            save_query_rows(root, pending, metadata)
    return ran


def _check_params(root: Path, params: QueryImageParams) -> None:
    """Refuse to mix query images made with other parameters in one manifest."""
    path = manifests.manifest_path(root, "queries")
    if not path.exists():
        return
    before = manifests.read_metadata(path).get("query_image_params")
    if before is not None and before != asdict(params):
        changed = ", ".join(f"{k} was {before.get(k)!r}, now {v!r}" for k, v in asdict(params).items()
                            if before.get(k) != v)
        raise UserError(f"{path} holds query images made with other parameters ({changed}); use the same options "
                        "or a new root")


def _known_links(root: Path) -> dict[str, int]:
    """query_id -> met_object_id of the rows already in the queries manifest that have one."""
    path = manifests.manifest_path(root, "queries")
    if not path.exists():
        return {}
    table = manifests.read(path, "queries").select(["query_id", "met_object_id"]).to_pydict()
    return {q: o for q, o in zip(table["query_id"], table["met_object_id"]) if o is not None}


def _statuses(root: Path, ids: Iterable[str]) -> Counter:
    ids = set(ids)
    table = manifests.read(manifests.manifest_path(root, "queries"), "queries").select(["query_id", "status"])
    return Counter(r["status"] for r in table.to_pylist() if r["query_id"] in ids)


def _describe(criteria: dict) -> str:
    parts = [f"user {criteria['user_id']}"] if criteria.get("user_id") else []
    parts += [f"text {criteria['text']!r}"] if criteria.get("text") else []
    return " with ".join(parts) or "everything"
