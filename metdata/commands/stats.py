"""`metdata stats`: the MET paper's statistics table for a dataset root, plus PNG plots."""

from pathlib import Path

import click


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset root.")
@click.option(
    "--plots-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the PNG plots [default: ROOT/stats].",
)
@click.option("--no-plots", is_flag=True, help="Print the table only.")
def stats(root: Path, plots_dir: Path | None, no_plots: bool):
    """Print the dataset's statistics table (exhibits, classes, queries, distractors, per split).

    \b
    Plots written as PNG:
      images_per_class.png        the long tail of exhibit images per class (1..10)
      queries_per_department.png  Met queries per curatorial department
      drop_reasons.png            the outcome (kept or why dropped) of every candidate image
    """
    from metdata.bench.stats import compute, format_table, write_plots

    result = compute(root)
    click.echo(format_table(result))
    if not no_plots:
        written = write_plots(result, plots_dir or root / "stats")
        for path in written.values():
            click.echo(f"plot: {path}")
