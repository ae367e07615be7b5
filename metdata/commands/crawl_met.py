"""`metdata crawl met`: build the exhibit set from The Met's open-access collection."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from metdata import met_crawl
from metdata.commands.options import image_options
from metdata.errors import UserError
from metdata.met_crawl import HttpParams, Selection
from metdata.run import EXECUTORS
from metdata.sources.met import DEFAULT_API_URL, parse_object_ids
from metdata.stages.met_object import ImageParams

_DEFAULT_IMAGE = ImageParams()
_DEFAULT_HTTP = HttpParams()
_NOT_IN_RECIPES = {"out", "recipe"}


def _load_recipe(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Read a TOML recipe's [crawl.met] table as option defaults; options given on the command line win."""
    if value is None:
        return None
    try:
        recipe = tomllib.loads(Path(value).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"--recipe {value}: cannot read it as TOML ({exc})") from None
    table = recipe.get("crawl", {}).get("met")
    if not isinstance(table, dict):
        raise UserError(f"--recipe {value}: no [crawl.met] table")
    known = {p.name for p in ctx.command.params} - _NOT_IN_RECIPES
    unknown = sorted(set(table) - known)
    if unknown:
        raise UserError(f"--recipe {value}: unknown keys {unknown} in [crawl.met] (known: {', '.join(sorted(known))})")
    ctx.default_map = {**(ctx.default_map or {}), **table}
    return value


@click.command("met")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root: images/MET/<objectID>/<n>.jpg and manifests/*.parquet go here.")
@click.option("--recipe", type=click.Path(dir_okay=False), is_eager=True, callback=_load_recipe, expose_value=False,
              help="TOML recipe whose [crawl.met] table sets defaults, e.g. pipelines/met2021.toml "
                   "(the 2021 MET parameters). Options on the command line override it.")
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, envvar="MET_API_BASE", show_envvar=True,
              help="Base URL of the Met Collection API (point it at a mirror or the sample museum).")
@click.option("--object-ids", help="Comma-separated object ids to crawl instead of a listing.")
@click.option("--object-ids-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of object ids (comma, space or newline separated).")
@click.option("--departments", multiple=True,
              help="Department ids or names, comma-separated or repeated, e.g. '11,6' or 'Asian Art'.")
@click.option("--search", help="Only objects matching this search text (the API's q).")
@click.option("--updated-since", metavar="YYYY-MM-DD", help="Only objects whose record changed after this date.")
@click.option("--limit", type=click.IntRange(min=1), help="Crawl at most this many objects of the selection.")
@click.option("--max-images-per-object", type=int, default=_DEFAULT_IMAGE.max_images_per_object, show_default=True,
              help="Cap per object; the first images in record order (primary first) that survive the filters.")
@image_options(_DEFAULT_IMAGE, "images")
@click.option("--near-dup-max-hamming", type=int, default=_DEFAULT_IMAGE.near_dup_max_hamming, show_default=True,
              help="Images of one object whose 64-bit pHashes differ in at most this many bits (and whose "
                   "aspect ratios agree within 5%) are near duplicates; same-sha256 copies always are.")
@click.option("--rate-per-s", type=float, default=_DEFAULT_HTTP.rate_per_s, show_default=True,
              help="Requests per second, all workers together (the Met's CDN blocks bursts well below 80/s).")
@click.option("--workers", type=int, default=_DEFAULT_HTTP.workers, show_default=True,
              help="Objects processed concurrently (downloads overlap with decoding).")
@click.option("--timeout-s", type=float, default=_DEFAULT_HTTP.timeout_s, show_default=True,
              help="Longest wait for the server on one socket operation.")
@click.option("--deadline-s", type=float, default=_DEFAULT_HTTP.deadline_s, show_default=True,
              help="Longest time for one whole transfer (headers and body).")
@click.option("--max-retries", type=click.IntRange(min=0), default=_DEFAULT_HTTP.max_retries, show_default=True,
              help="Retries per request on 408/429/5xx, throttle pages and network errors (exponential back-off, "
                   "Retry-After honoured; never on 404).")
@click.option("--max-image-mb", type=float, default=_DEFAULT_HTTP.max_image_mb, show_default=True,
              help="Byte cap per image download (status too_large above it).")
@click.option("--executor", type=click.Choice(sorted(EXECUTORS)), default="local", show_default=True,
              help="Where stages run: local = a thread pool on this machine; dask = the workers of the Dask "
                   "cluster at --scheduler (ROOT on a filesystem they share; see docs/dask.md).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786. --rate-per-s then "
                   "holds for the whole cluster and the cluster's threads replace --workers.")
@click.option("--retry-failed", is_flag=True,
              help="Also redo objects that an earlier run finished with http_error rows (their kept images "
                   "are reused from disk, not downloaded again).")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
def crawl_met(out, api_url, object_ids, object_ids_file, departments, search, updated_since, limit,
              max_images_per_object, max_side_px, min_side_px, max_aspect_ratio, near_dup_max_hamming,
              jpeg_quality, rate_per_s, workers, timeout_s, deadline_s, max_retries, max_image_mb, executor, scheduler,
              retry_failed, progress):
    """Crawl The Met's open-access objects into a MET-style exhibit set.

    Lists object ids (all, a department, a search, or --object-ids), fetches each record, keeps
    public-domain objects, downloads the primary image (the web-large copy when it covers --max-side-px,
    else the original) and the additional images, drops undecodable, tiny and extreme-aspect images and
    duplicates within the object, caps each object, downsamples, and writes images/MET/<id>/<n>.jpg plus
    manifests/objects.parquet and manifests/exhibits.parquet (one row per candidate image, kept or not).

    Resumable: run the same command again after an interruption; finished objects are not fetched again.

    \b
    Examples:
      metdata crawl met --out data/met --departments 'European Paintings' --limit 100
      metdata crawl met --out data/met --recipe pipelines/met2021.toml
      metdata crawl met --out data/met --object-ids 45734,436535 --api-url http://127.0.0.1:8765/public/collection
    """
    ids: list[int] = []
    if object_ids:
        ids += parse_object_ids(object_ids, "--object-ids")
    if object_ids_file:
        ids += parse_object_ids(object_ids_file.read_text(encoding="utf-8", errors="replace"), str(object_ids_file))
    if (object_ids or object_ids_file) and not ids:
        raise UserError("--object-ids: no object ids given")
    selection = Selection(
        object_ids=tuple(dict.fromkeys(ids)), departments=tuple(departments), search=search,
        updated_since=updated_since, limit=limit,
    )
    image_params = ImageParams(
        max_images_per_object=max_images_per_object, max_side_px=max_side_px, min_side_px=min_side_px,
        max_aspect_ratio=max_aspect_ratio, near_dup_max_hamming=near_dup_max_hamming, jpeg_quality=jpeg_quality,
    )
    http_params = HttpParams(
        rate_per_s=rate_per_s, workers=workers, timeout_s=timeout_s, deadline_s=deadline_s,
        max_image_mb=max_image_mb, max_retries=max_retries,
    )
    summary = met_crawl.crawl_met(out, api_url, selection, image_params, http_params, executor=executor,
                                  scheduler=scheduler, retry_failed=retry_failed, progress=progress)
    for line in summary.lines():
        click.echo(line)
