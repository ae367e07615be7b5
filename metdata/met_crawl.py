"""The `crawl met` pipeline: select object ids, run the met_object stage over them, compact the manifests.

The library function behind `metdata crawl met` and `metdata demo`: it validates the selection against
the API (so that bad input fails before any work), then hands the per-object stage to the runner.
"""

from __future__ import annotations

import functools
from collections import Counter
from contextlib import closing
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from metdata import __version__
from metdata.errors import UserError
from metdata.http import PoliteSession
from metdata.run import Ledger, compact, make_executor, run_units
from metdata.sources.met import SEARCH_WINDOW, MetClient
from metdata.stages.image import HASH_ALGO
from metdata.stages.met_object import ImageParams, MetObjectStage

TABLES = {"objects": "objects", "exhibits": "exhibits"}  # stage table -> manifest schema kind


@dataclass(frozen=True)
class Selection:
    """Which objects to crawl: explicit ids, or a listing narrowed by departments, search text and date."""

    object_ids: tuple[int, ...] = ()
    departments: tuple[str, ...] = ()  # ids or display names
    search: str | None = None
    updated_since: str | None = None  # YYYY-MM-DD
    limit: int | None = None


@dataclass(frozen=True)
class HttpParams:
    rate_per_s: float = 1.0  # the Met's CDN blocks bursts far below its documented 80/s
    workers: int = 4
    timeout_s: float = 30.0
    deadline_s: float = 120.0
    max_image_mb: float = 64.0
    max_retries: int = 5


@dataclass
class CrawlSummary:
    root: Path
    api_url: str
    objects: int  # in this selection
    resumed: int  # already finished by an earlier run
    public_domain: int
    object_statuses: Counter
    image_statuses: Counter
    http: dict  # requests, retries, throttled, bytes, failures
    http_elsewhere: bool = False  # the downloads ran in other processes (Dask workers): not in `http`
    notes: list[str] = field(default_factory=list)
    manifests: dict = field(default_factory=dict)

    @property
    def kept(self) -> int:
        return self.image_statuses.get("kept", 0)

    def lines(self) -> list[str]:
        dropped = {k: v for k, v in sorted(self.image_statuses.items()) if k != "kept"}
        other = {k: v for k, v in sorted(self.object_statuses.items()) if k != "ok"}
        lines = [
            f"Objects seen: {self.objects} from {self.api_url}"
            + (f" ({self.resumed} finished by an earlier run)" if self.resumed else ""),
            f"Public-domain objects: {self.public_domain}",
            f"Images kept: {self.kept} in {self.root / 'images' / 'MET'}",
            "Images dropped: " + (", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"),
            "Objects without images: " + (", ".join(f"{k} {v}" for k, v in other.items()) or "none"),
            (
                ("Requests by this process, not the Dask workers': " if self.http_elsewhere else "Requests: ")
                + f"{self.http.get('requests', 0)} (retries {self.http.get('retries', 0)}, "
                f"throttled {self.http.get('throttled', 0)}, {self.http.get('bytes', 0) / 2**20:.1f} MiB)"
            ),
        ]
        lines += [f"Manifest: {path}" for path in self.manifests.values()]
        return lines + [f"Note: {note}" for note in self.notes]


def crawl_met(
    root: str | Path,
    api_url: str,
    selection: Selection,
    image_params: ImageParams | None = None,
    http_params: HttpParams | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> CrawlSummary:
    """Crawl the selected objects into `root` (resuming what an earlier run finished) and write manifests."""
    root = Path(root)
    image_params = image_params or ImageParams()
    http_params = http_params or HttpParams()
    _check_params(image_params, http_params)
    runner = make_executor(executor, http_params.workers, scheduler)
    session_factory = functools.partial(
        PoliteSession,
        rate_per_s=http_params.rate_per_s,
        max_retries=http_params.max_retries,
        timeout_s=http_params.timeout_s,
        deadline_s=http_params.deadline_s,
        max_bytes=int(http_params.max_image_mb * 2**20),
        pool_size=max(8, http_params.workers),
        limiter=runner.rate_limiter(http_params.rate_per_s),  # shared by all of the executor's workers
    )
    stage = MetObjectStage(api_url, root, image_params, session_factory)
    client = stage.client  # this process's client, for the listing (and the stage's threads when local)
    with client.session, closing(runner):  # a Dask executor holds a connection to its scheduler
        object_ids, notes = select_object_ids(client, selection)
        ledger = Ledger(root / "manifests" / ".ledger", "met", asdict(image_params))
        if retry_failed:  # the images that did not fail are taken from the earlier run, not downloaded again
            stage.previous = {oid: rows.get("exhibits", []) for oid, rows in ledger.results.items()
                              if _has_transient_failure(rows)}
        report = run_units(
            stage, object_ids, ledger=ledger, executor=runner,
            redo=_has_transient_failure if retry_failed else lambda rows: False,
            progress_table="exhibits", desc="objects", unit="object", progress=progress,
        )
        metadata = {
            "hash_algo": HASH_ALGO,
            "library_versions": library_versions(),
            "parameters": asdict(image_params),
            "source": {"api_url": client.api_url},
        }
        paths = compact(ledger.results, root, TABLES, metadata)
    failed = report.statuses.get("exhibits", Counter())["http_error"] + report.statuses.get(
        "objects", Counter())["http_error"]
    if failed and not retry_failed:
        notes.append(f"{failed} records or images failed with http_error (see the error column); "
                     "run again with --retry-failed to retry them")
    public_domain = sum(
        bool(row.get("is_public_domain"))
        for oid in object_ids for row in ledger.results.get(oid, {}).get("objects", [])
    )
    return CrawlSummary(
        root=root, api_url=client.api_url, objects=len(object_ids), resumed=report.resumed,
        public_domain=public_domain, object_statuses=report.statuses.get("objects", Counter()),
        image_statuses=report.statuses.get("exhibits", Counter()), http=client.session.stats.as_dict(),
        http_elsewhere=executor != "local", notes=notes, manifests=paths,
    )


def select_object_ids(client: MetClient, selection: Selection) -> tuple[list[int], list[str]]:
    """The object ids to crawl and notes for the user. Always asks /v1/departments first, so that an
    unreachable or wrong API URL fails here, with one clear line, before any work."""
    if selection.object_ids and (selection.departments or selection.search or selection.updated_since):
        raise UserError("--object-ids cannot be combined with --departments, --search or --updated-since")
    if selection.search and selection.updated_since:
        raise UserError("--updated-since cannot be combined with --search (the search API has no date filter)")
    department_ids = client.resolve_departments(list(selection.departments))
    notes: list[str] = []
    if selection.object_ids:
        ids = list(selection.object_ids)
    elif selection.search:
        ids = []
        for department_id in department_ids or [None]:
            found, total = client.search_ids(selection.search, department_id)
            ids.extend(found)
            if len(found) < total and total > SEARCH_WINDOW:
                notes.append(f"search {selection.search!r} matched {total} objects; the search API returns only "
                             f"the first {SEARCH_WINDOW}: narrow it with --departments")
        ids = list(dict.fromkeys(ids))
    else:
        ids = client.list_object_ids(department_ids, selection.updated_since)
    if selection.limit is not None:
        ids = ids[: selection.limit]
    if not ids:
        notes.append("the selection matched no objects")
    return ids, notes


def _check_params(image: ImageParams, http: HttpParams) -> None:
    checks = [
        (image.max_images_per_object >= 1, "--max-images-per-object must be at least 1"),
        (image.max_side_px >= 16, "--max-side-px must be at least 16"),
        (0 <= image.min_side_px <= image.max_side_px, "--min-side-px must be between 0 and --max-side-px"),
        (image.max_aspect_ratio >= 1, "--max-aspect-ratio must be at least 1"),
        (0 <= image.near_dup_max_hamming <= 32, "--near-dup-max-hamming must be between 0 and 32 bits"),
        (1 <= image.jpeg_quality <= 95, "--jpeg-quality must be between 1 and 95"),
        (http.rate_per_s > 0, "--rate-per-s must be positive"),
        (http.timeout_s > 0 and http.deadline_s > 0, "--timeout-s and --deadline-s must be positive"),
        (http.max_image_mb > 0, "--max-image-mb must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def _has_transient_failure(rows: dict) -> bool:
    return any(r["status"] == "http_error" for table in rows.values() for r in table)


def library_versions() -> dict[str, str]:
    versions = {"metdata": __version__}
    for package in ("pillow", "imagehash", "pyarrow", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions
