"""`metdata import-photos`: your own photos of exhibits as query candidates."""

from __future__ import annotations

from pathlib import Path

import click

from metdata import query_crawl
from metdata.commands.options import image_options
from metdata.stages.flickr_photo import QueryImageParams

_DEFAULT = QueryImageParams()


@click.command("import-photos")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root: images/test_met/<query_id>.jpg and manifests/queries.parquet go here.")
@click.option("--photographer", required=True,
              help="Who took the photos; the splits keep each photographer's photos in one split.")
@click.option("--objects-csv", type=click.Path(path_type=Path),
              help="CSV with columns file,object_id linking photos to Met objects (blank: not a Met object).")
@click.option("--license", "license_name", type=click.Choice(list(query_crawl.OWN_LICENSES)), default="CC BY 4.0",
              show_default=True, help="The licence you give your photos; only free licences, since the dataset "
                                      "is redistributed.")
@image_options(_DEFAULT, "photos")
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Photos processed concurrently.")
@click.option("--progress/--no-progress", default=True, help="Show the progress bar.")
def import_photos(directory, root, photographer, objects_csv, license_name, max_side_px, min_side_px,
                  max_aspect_ratio, jpeg_quality, workers, progress):
    """Add the photos in DIRECTORY (and its subfolders) as query candidates of source "own".

    They are processed exactly like Flickr photos (checked, downsampled, hashed, written to
    images/test_met/) and merged into manifests/queries.parquet; importing the same folder again
    updates its rows. With --objects-csv, each listed photo is linked to its Met object, which saves
    the manual check in `metdata review`; a photo the CSV does not list keeps the link it has.

    \b
    Example:
      metdata import-photos ~/photos/met-2024 --root data/met --photographer "Ana Muñoz" \\
          --objects-csv ~/photos/met-2024/objects.csv
    """
    params = QueryImageParams(max_side_px=max_side_px, min_side_px=min_side_px, max_aspect_ratio=max_aspect_ratio,
                              jpeg_quality=jpeg_quality)
    summary = query_crawl.import_photos(directory, root, photographer, license_name=license_name,
                                        objects_csv=objects_csv, params=params, workers=workers, progress=progress)
    for line in summary.lines():
        click.echo(line)
