"""`metdata crawl wikimedia`: public-domain distractors (art and non-art) from Wikimedia Commons categories."""

from __future__ import annotations

from pathlib import Path

import click

from metdata.distractor_crawl import DEFAULT_PARAMS, MAX_WORKERS, crawl_distractors
from metdata.sources.wikimedia import DEFAULT_API_URL
from metdata.stages.commons_file import FOLDERS, DistractorParams


@click.command("wikimedia")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root: images/test_other|test_noart/<id>.jpg and manifests/distractors.parquet.")
@click.option("--category", "categories", multiple=True, required=True, metavar="NAME",
              help="Commons category, with or without 'Category:' (repeatable), e.g. 'Ukiyo-e prints'.")
@click.option("--kind", required=True, type=click.Choice(sorted(FOLDERS)),
              help="art -> images/test_other, noart -> images/test_noart (the release's two distractor sets).")
@click.option("--depth", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also walk subcategories this many levels down (cycles are visited once).")
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, envvar="COMMONS_API_URL", show_envvar=True,
              help="MediaWiki api.php to crawl (point it at the sample museum or a mirror).")
@click.option("--rate-per-s", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Requests per second, API and downloads together (Wikimedia allows ~200 per minute).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=2, show_default=True,
              help="Concurrent downloads (Wikimedia asks for at most 3).")
@click.option("--contact", metavar="EMAIL_OR_URL",
              help="Your e-mail or project URL for the User-Agent (Wikimedia refuses anonymous clients).")
@click.option("--max-side-px", type=click.IntRange(min=16), default=DEFAULT_PARAMS.max_side_px, show_default=True,
              help="Downsample so the longest side is at most this; the thumbnail is the standard width above it.")
@click.option("--met-copy-max-hamming", type=click.IntRange(0, 32), default=DEFAULT_PARAMS.met_copy_max_hamming, show_default=True,
              help="A file within this many pHash bits of an exhibit image is a Met copy (status met_copy).")
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
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
