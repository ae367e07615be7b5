"""`metdata export-official` / `metdata import-official`: the official MET release layout, both ways."""

import click

_COPY_HELP = "Copy the images instead of hard-linking them (hard links are the default, copies the fallback)."


def _report(transfer, verb: str) -> None:
    click.echo(f"{verb}: " + ", ".join(f"{name} {n}" for name, n in transfer.counts.items()))
    if transfer.missing_images:
        click.echo(f"warning: {len(transfer.missing_images)} images not found, e.g. {transfer.missing_images[0]}",
                   err=True)


@click.command("export-official")
@click.argument("root", type=click.Path(file_okay=False, exists=True))
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--copy", is_flag=True, help=_COPY_HELP)
def export_official(root, dest, copy):
    """Write ROOT's splits as the official release under DEST.

    \b
    DEST/ground_truth/MET_database.json       {"id": <object id>, "path": "MET/<id>/<n>.jpg"} per exhibit
    DEST/ground_truth/mini_MET_database.json  the query classes plus a fixed ~15% of the other classes
    DEST/ground_truth/valset.json, testset.json
        Met queries   {"path": "test_met/<hex>.jpg", "MET_id": <id>, "photographer": ..., "url": ...}
        distractors   {"path": "test_other/<hex>.jpg", "category": ..., "url": ...} (no MET_id)
    DEST/images/MET/, test_met/, test_other/, test_noart/
    """
    from metdata.official import export

    _report(export(root, dest, copy), f"exported to {dest}")


@click.command("import-official")
@click.argument("src", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--copy", is_flag=True, help=_COPY_HELP)
def import_official(src, root, copy):
    """Read the official release (or an export) at DIR into ROOT's manifests, splits and images.

    DIR holds ground_truth/ (MET_database.json, valset.json, testset.json) and images/ as downloaded from
    the MET dataset page. Class ids must be JSON integers. Afterwards `metdata features`, `metdata knn` and
    `metdata score` run on ROOT as on a dataset built by this toolkit.
    """
    from metdata.official import import_release

    _report(import_release(src, root, copy), f"imported into {root}")
