"""The `crawl wikimedia` pipeline: list Commons categories, run the per-file distractor stage, compact.

The library function behind `metdata crawl wikimedia`: public-domain distractors (art and non-art).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from metdata import manifests
from metdata.errors import UserError
from metdata.http import HttpError, PoliteSession
from metdata.leakage import ExhibitHashes
from metdata.met_crawl import library_versions
from metdata.run import Ledger, LocalExecutor, compact, run_units
from metdata.sources.wikimedia import (
    DEFAULT_API_URL,
    CommonsApiError,
    CommonsClient,
    FileInfo,
    category_title,
    thumb_step_px,
    user_agent,
)
from metdata.stages.commons_file import FOLDERS, DistractorParams, crawl_file
from metdata.stages.image import HASH_ALGO

MAX_WORKERS = 3  # Wikimedia's etiquette: at most 3 concurrent connections
DEFAULT_PARAMS = DistractorParams()


@dataclass
class WikimediaSummary:
    root: Path
    api_url: str
    files: int  # listed in the categories (after de-duplication by page id)
    resumed: int  # finished by an earlier run
    statuses: Counter
    http: dict
    exhibits: int  # exhibit images the files were compared with (0: no exhibits manifest yet)
    notes: list[str] = field(default_factory=list)
    manifest: Path | None = None

    def lines(self) -> list[str]:
        dropped = {k: v for k, v in sorted(self.statuses.items()) if k != "kept"}
        lines = [
            f"Files listed: {self.files} from {self.api_url}"
            + (f" ({self.resumed} finished by an earlier run)" if self.resumed else ""),
            f"Distractors kept: {self.statuses.get('kept', 0)}",
            "Dropped: " + (", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"),
            (f"Compared with {self.exhibits} exhibit images by perceptual hash" if self.exhibits
             else "No exhibits manifest yet: Met copies caught by metadata only (build-splits checks hashes later)"),
            (f"Requests: {self.http.get('requests', 0)} (retries {self.http.get('retries', 0)}, "
             f"throttled {self.http.get('throttled', 0)})"),
            f"Manifest: {self.manifest}",
        ]
        return lines + [f"Note: {note}" for note in self.notes]


def crawl_distractors(
    root: str | Path,
    categories: list[str],
    kind: str,
    *,
    depth: int = 0,
    api_url: str = DEFAULT_API_URL,
    rate_per_s: float = 2.0,
    workers: int = 2,
    contact: str | None = None,
    params: DistractorParams = DEFAULT_PARAMS,
    timeout_s: float = 30.0,
    progress: bool = True,
) -> WikimediaSummary:
    """List the categories' files (subcategories to `depth`), then run the per-file stage, resumably."""
    root = Path(root)
    _check(categories, kind, depth, rate_per_s, workers, params, timeout_s)
    session = PoliteSession(rate_per_s=rate_per_s, timeout_s=timeout_s, user_agent=user_agent(contact),
                            pool_size=max(8, workers))
    with session:
        client = CommonsClient(session, api_url)
        files, notes = _list_files(client, categories, depth, thumb_step_px(params.max_side_px))
        ledger = Ledger(root / "manifests" / ".ledger", "wikimedia", asdict(params))
        exhibits = ExhibitHashes.from_root(root)

        def stage(pageid: int) -> dict:
            return crawl_file(files[pageid], kind=kind, fetch=session.get_bytes, root=root, params=params,
                              exhibits=exhibits)

        report = run_units(
            stage, list(files), ledger=ledger, executor=LocalExecutor(workers),
            redo=functools.partial(_unfinished, root), progress_table="distractors", desc="files",
            progress=progress,
        )
        metadata = {
            "hash_algo": HASH_ALGO,
            "library_versions": library_versions(),
            "parameters": asdict(params),
            "source": {"api_url": api_url},
        }
        paths = compact(_keep_later_flags(ledger.results, root), root, {"distractors": "distractors"}, metadata)
    statuses = Counter(r["status"] for pageid in files for r in ledger.results[pageid]["distractors"])
    return WikimediaSummary(
        root=root, api_url=api_url, files=len(files), resumed=report.resumed, statuses=statuses,
        http=session.stats.as_dict(), exhibits=len(exhibits) if exhibits else 0, notes=notes,
        manifest=paths["distractors"],
    )


def _check(categories: list[str], kind: str, depth: int, rate_per_s: float, workers: int,
           params: DistractorParams, timeout_s: float) -> None:
    checks = [
        (bool(categories), "--category: give at least one category"),
        (kind in FOLDERS, f"--kind {kind!r}: choose art or noart"),
        (depth >= 0, "--depth must be 0 or more"),
        (rate_per_s > 0, "--rate-per-s must be positive"),
        (1 <= workers <= MAX_WORKERS, f"--workers must be between 1 and {MAX_WORKERS} (Wikimedia's etiquette)"),
        (params.max_side_px >= 16, "--max-side-px must be at least 16"),
        (0 <= params.met_copy_max_hamming <= 32, "--met-copy-max-hamming must be between 0 and 32 bits"),
        (timeout_s > 0, "--timeout-s must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def _list_files(client: CommonsClient, categories: list[str], depth: int,
                thumb_width_px: int) -> tuple[dict[int, FileInfo], list[str]]:
    """Every file of the categories by page id; an unknown category is an error, an empty one a note."""
    files: dict[int, FileInfo] = {}
    empty = []
    try:
        for name in categories:
            title = category_title(name)
            if not client.category_exists(title):
                raise UserError(f"--category {name!r}: {title} does not exist on {client.api_url}")
            before = len(files)
            for info in client.walk(title, depth, thumb_width_px):
                files.setdefault(info.pageid, info)
            if len(files) == before:
                empty.append(title)
    except HttpError as exc:
        hint = " (Wikimedia refuses User-Agents without contact details: pass --contact)" if exc.status == 403 else ""
        raise UserError(f"{client.api_url}: {exc}{hint}") from None
    except CommonsApiError as exc:
        raise UserError(f"{client.api_url} answered an API error: {exc}") from None
    if not files:
        raise UserError(f"{', '.join(empty)} on {client.api_url} holds no files (depth {depth}): nothing to crawl")
    return files, [f"{title} holds no files (depth {depth})" for title in empty]


def _keep_later_flags(results: dict, root: Path) -> dict:
    """The ledger's rows, except that a file `check_leakage` flagged after its crawl keeps the manifest's row.

    The leakage check marks Met copies in distractors.parquet and deletes their images; the ledger still
    says "kept". A file of this run's categories is redone (see `_unfinished`); any other would otherwise
    come back as "kept" with its image gone.
    """
    path = manifests.manifest_path(root, "distractors")
    if not path.exists():
        return results
    flagged = {r["pageid"]: r for r in manifests.read(path, "distractors").to_pylist() if r["status"] == "met_copy"}
    out = dict(results)
    for pageid, rows in results.items():
        row = rows["distractors"][0]
        if row["status"] == "kept" and pageid in flagged and not (root / row["path"]).exists():
            out[pageid] = {"distractors": [flagged[pageid]]}
    return out


def _unfinished(root: Path, rows: dict) -> bool:
    """Redo a file whose download failed, or whose kept image has since vanished from disk."""
    row = rows["distractors"][0]
    return row["status"] == "http_error" or (row["status"] == "kept" and not (root / row["path"]).exists())
