"""`metdata crawl flickr`: visitors' photos of artworks from Flickr, as query candidates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from metdata import query_crawl
from metdata.commands.options import image_options
from metdata.errors import UserError
from metdata.http import PoliteSession, RateLimiter
from metdata.sources.flickr import DEFAULT_REST_URL, DEFAULT_STATIC_URL, FlickrClient
from metdata.stages.flickr_photo import QueryImageParams

_DEFAULT = QueryImageParams()


def _upload_date(ctx, param, value: str | None) -> int | None:
    """YYYY-MM-DD (UTC midnight) or Unix seconds, as Flickr's min/max_upload_date take them."""
    if value is None:
        return None
    if value.isdecimal():
        return int(value)
    try:
        day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise UserError(f"--{param.name.replace('_', '-')} {value!r}: expected YYYY-MM-DD or Unix seconds") from None
    return int(day.timestamp())


@click.command("flickr")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root: images/test_met/<query_id>.jpg and manifests/queries.parquet go here.")
@click.option("--user-id", "user_ids", multiple=True, metavar="NSID",
              help="A photographer's Flickr id (e.g. 12037949754@N01); repeat for several.")
@click.option("--user-ids-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of photographer ids, one per line ('#' starts a comment).")
@click.option("--text", help="Free-text search over titles, descriptions and tags (with --user-id: within "
                             "those photographers' photos).")
@click.option("--api-key", envvar="METDATA_FLICKR_KEY", show_envvar=True,
              help="Flickr API key (never stored in the repository or the dataset).")
@click.option("--api-secret", envvar="METDATA_FLICKR_SECRET", show_envvar=True,
              help="Flickr API secret (flickrapi signs its calls with it).")
@click.option("--rest-url", default=DEFAULT_REST_URL, show_default=True, envvar="FLICKR_REST_URL", show_envvar=True,
              help="Flickr REST endpoint (point it at the sample museum or a proxy).")
@click.option("--static-url", default=DEFAULT_STATIC_URL, show_default=True, envvar="FLICKR_STATIC_BASE",
              show_envvar=True,
              help="Image host for photos whose answer carries no url_* size (URL built from server/id/secret).")
@click.option("--min-upload-date", callback=_upload_date, metavar="YYYY-MM-DD",
              help="Only photos uploaded on or after this day (UTC).")
@click.option("--max-upload-date", callback=_upload_date, metavar="YYYY-MM-DD",
              help="Only photos uploaded on or before this time (a day means its midnight UTC).")
@click.option("--rate-per-s", type=click.FloatRange(min=0, min_open=True), default=0.9, show_default=True,
              help="API calls per second for this key; Flickr allows 3,600 per hour (1/s) across all users "
                   "of a key, so keep it below 1.")
@click.option("--image-rate-per-s", type=click.FloatRange(min=0, min_open=True), default=4.0, show_default=True,
              help="Image downloads per second from the static host (not counted in the API budget).")
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Photos downloaded and processed concurrently.")
@image_options(_DEFAULT, "photos")
@click.option("--timeout-s", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Longest wait for a server on one socket operation.")
@click.option("--max-retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Retries of an API call or download after an outage (code 201, HTTP 408/429/5xx, network "
                   "error), waiting as Retry-After says when the server sends it.")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
def crawl_flickr(out, user_ids, user_ids_file, text, api_key, api_secret, rest_url, static_url, min_upload_date,
                 max_upload_date, rate_per_s, image_rate_per_s, workers, max_side_px, min_side_px, max_aspect_ratio,
                 jpeg_quality, timeout_s, max_retries, progress):
    """Search Flickr for visitors' photos and store the freely licensed ones as query candidates.

    Searches by photographer (--user-id, --user-ids-file), by text (--text), or both, asking for
    500 photos per call with their texts, licence and image URLs (Flickr answers at most 4,000
    results per query; larger queries are split by upload date). Every photo found gets one row in
    manifests/queries.parquet. Only licences that allow redistribution are downloaded: CC BY, CC BY-SA,
    CC0, Public Domain Mark, no known copyright restrictions, US Government Work; all-rights-reserved,
    NonCommercial and NoDerivatives photos get a license_not_free row and are never fetched.
    Downloads the smallest size covering --max-side-px, downsamples it and writes images/test_met/.

    Resumable: run the same command again; photos with a final row are skipped, http_error ones retried.
    An empty search result is an error (nothing is written).

    \b
    Examples:
      export METDATA_FLICKR_KEY=... METDATA_FLICKR_SECRET=...
      metdata crawl flickr --out data/met --text "metropolitan museum" --min-upload-date 2020-01-01
      metdata crawl flickr --out data/met --user-ids-file photographers.txt
    """
    if not api_key or not api_secret:
        missing = "key" if not api_key else "secret"
        raise UserError(f"no Flickr API {missing}: pass --api-{missing} or set METDATA_FLICKR_{missing.upper()}")
    users = list(user_ids)
    if user_ids_file:
        lines = user_ids_file.read_text(encoding="utf-8", errors="replace").splitlines()
        users += [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
        if not users:
            raise UserError(f"{user_ids_file}: no user ids in it")
    if not users and not text:
        raise UserError("nothing to search: give --user-id, --user-ids-file or --text")
    dates = {"min_upload_date": min_upload_date, "max_upload_date": max_upload_date}
    base = {"text": text} if text else {}
    searches = [{**base, "user_id": u, **dates} for u in dict.fromkeys(users)] or [{**base, **dates}]
    params = QueryImageParams(max_side_px=max_side_px, min_side_px=min_side_px, max_aspect_ratio=max_aspect_ratio,
                              jpeg_quality=jpeg_quality)
    client = FlickrClient(api_key, api_secret, limiter=RateLimiter(rate_per_s), rest_url=rest_url,
                          max_retries=max_retries, timeout_s=timeout_s)
    with PoliteSession(rate_per_s=image_rate_per_s, max_retries=max_retries, timeout_s=timeout_s,
                       pool_size=max(8, workers)) as session:
        summary = query_crawl.crawl_flickr(out, client, searches, session=session, params=params,
                                           static_url=static_url, workers=workers, progress=progress)
    for line in summary.lines():
        click.echo(line)
