"""`metdata crawl wikimedia`: public-domain distractors (art and non-art) from Wikimedia Commons categories."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

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
_DEFAULT = DistractorParams()


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
    params: DistractorParams = _DEFAULT,
    timeout_s: float = 30.0,
    progress: bool = True,
) -> WikimediaSummary:
    """List the categories' files (subcategories to `depth`), then run the per-file stage, resumably."""
    root = Path(root)
    _check(categories, kind, depth, rate_per_s, workers, params)
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
        paths = compact(ledger.results, root, {"distractors": "distractors"}, metadata)
    statuses = Counter(r["status"] for pageid in files for r in ledger.results[pageid]["distractors"])
    return WikimediaSummary(
        root=root, api_url=api_url, files=len(files), resumed=report.resumed, statuses=statuses,
        http=session.stats.as_dict(), exhibits=len(exhibits) if exhibits else 0, notes=notes,
        manifest=paths["distractors"],
    )


def _check(categories: list[str], kind: str, depth: int, rate_per_s: float, workers: int,
           params: DistractorParams) -> None:
    checks = [
        (bool(categories), "--category: give at least one category"),
        (kind in FOLDERS, f"--kind {kind!r}: choose art or noart"),
        (depth >= 0, "--depth must be 0 or more"),
        (rate_per_s > 0, "--rate-per-s must be positive"),
        (1 <= workers <= MAX_WORKERS, f"--workers must be between 1 and {MAX_WORKERS} (Wikimedia's etiquette)"),
        (params.max_side_px >= 16, "--max-side-px must be at least 16"),
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


def _unfinished(root: Path, rows: dict) -> bool:
    """Redo a file whose download failed, or whose kept image has since vanished from disk."""
    row = rows["distractors"][0]
    return row["status"] == "http_error" or (row["status"] == "kept" and not (root / row["path"]).exists())


@click.command("wikimedia")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root: images/test_other|test_noart/<id>.jpg and manifests/distractors.parquet.")
@click.option("--category", "categories", multiple=True, required=True, metavar="NAME",
              help="Commons category, with or without 'Category:' (repeatable), e.g. 'Ukiyo-e prints'.")
@click.option("--kind", required=True, type=click.Choice(sorted(FOLDERS)),
              help="art -> images/test_other, noart -> images/test_noart (the release's two distractor sets).")
@click.option("--depth", type=int, default=0, show_default=True,
              help="Also walk subcategories this many levels down (cycles are visited once).")
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, envvar="COMMONS_API_URL", show_envvar=True,
              help="MediaWiki api.php to crawl (point it at the sample museum or a mirror).")
@click.option("--rate-per-s", type=float, default=2.0, show_default=True,
              help="Requests per second, API and downloads together (Wikimedia allows ~200 per minute).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=2, show_default=True,
              help="Concurrent downloads (Wikimedia asks for at most 3).")
@click.option("--contact", metavar="EMAIL_OR_URL",
              help="Your e-mail or project URL for the User-Agent (Wikimedia refuses anonymous clients).")
@click.option("--max-side-px", type=int, default=_DEFAULT.max_side_px, show_default=True,
              help="Downsample so the longest side is at most this; the thumbnail is the standard width above it.")
@click.option("--met-copy-max-hamming", type=int, default=_DEFAULT.met_copy_max_hamming, show_default=True,
              help="A file within this many pHash bits of an exhibit image is a Met copy (status met_copy).")
@click.option("--timeout-s", type=float, default=30.0, show_default=True,
              help="Longest wait for the server on one socket operation.")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
def crawl_wikimedia(out, categories, kind, depth, api_url, rate_per_s, workers, contact, max_side_px,
                            met_copy_max_hamming, timeout_s, progress):
    """Crawl Wikimedia Commons categories into distractors (out-of-collection queries).

    Walks each category (and subcategories to --depth), keeps only public-domain or CC0 files by their
    licence metadata (License "pd" and not Copyrighted, or "cc0"; never NonFree), drops copies of Met
    exhibits (the Met named in the credit line or description, or a perceptual hash within
    --met-copy-max-hamming bits of an exhibit already in --out), downloads the standard-width
    thumbnail, downsamples it and writes manifests/distractors.parquet with one row per file.

    Resumable: run it again; files already finished are not downloaded again.

    \b
    Examples:
      metdata crawl wikimedia --out data/met --kind art --category 'Ukiyo-e prints' --depth 1 \\
          --contact you@example.org
      metdata crawl wikimedia --out data/met --kind noart --category 'Photographs of cats'
    """
    params = DistractorParams(max_side_px=max_side_px, met_copy_max_hamming=met_copy_max_hamming)
    summary = crawl_distractors(out, list(categories), kind, depth=depth, api_url=api_url, rate_per_s=rate_per_s,
                                 workers=workers, contact=contact, params=params, timeout_s=timeout_s,
                                 progress=progress)
    for line in summary.lines():
        click.echo(line)
