"""`metdata build-splits --root ROOT`: train/val/test as the MET protocol builds them."""

import click


@click.command("build-splits")
@click.option("--root", required=True, type=click.Path(file_okay=False), help="Dataset root (with manifests/).")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="Share of the query images (Met queries by photographer group, distractors per kind) "
                   "that go to val; the rest is test.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same splits.")
def build_splits(root, val_fraction, seed):
    """Write ROOT/splits/{train,val,test}.parquet and print the split table.

    \b
    train  every kept exhibit image (the classes are Met object ids)
    val    ~val-fraction of the Met queries and of each kind of distractor
    test   the rest

    Met queries are grouped by the connected components of photographer <-> object links, so no
    photographer and no Met object appears in both val and test. A query counts as a Met query when it is
    kept and linked to an object with a kept exhibit (an own-photo CSV id or an accepted review decision);
    distractors rejected in review are left out. Refuses when the rules cannot hold, e.g. when all Met
    queries form a single photographer group.
    """
    from metdata.bench.splits import build_splits as build
    from metdata.bench.splits import format_table

    summary = build(root, val_fraction, seed)
    click.echo(format_table(summary))
    for note in summary.notes:
        click.echo(f"note: {note}")
    flagged = {name: n for name, n in summary.leaks.items() if n}
    if flagged:
        click.echo("leakage: " + ", ".join(f"{n} {name} flagged as near duplicates of exhibits (left out)"
                                           for name, n in flagged.items()))
