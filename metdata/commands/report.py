"""`metdata report`: one self-contained HTML page with statistics, scores and example panels."""

from pathlib import Path

import click


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset root.")
@click.option("--predictions", type=click.Path(dir_okay=False, path_type=Path),
              help="predictions.csv to score [default: ROOT/predictions/test.csv].")
@click.option("--gt", "gt_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Ground truth for the predictions [default: ROOT/splits/test.parquet].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write [default: ROOT/report.html].")
def report(root: Path, predictions: Path | None, gt_path: Path | None, out: Path | None):
    """Write one HTML page about the dataset at ROOT and a prediction run on it.

    The page holds the statistics table and plots (as `metdata stats`), GAP / GAP- / ACC, the precision
    curve over the queries ranked by confidence, and the MET paper's qualitative panels: correctly
    recognised queries, wrong ones and the most confident distractors, each beside exhibit thumbnails of
    the predicted class. Images are embedded, so the file can be mailed or archived on its own.
    """
    from metdata.bench.report import build
    from metdata.errors import UserError

    predictions = predictions or root / "predictions" / "test.csv"
    gt_path = gt_path or root / "splits" / "test.parquet"
    for path, what in ((predictions, "predictions"), (gt_path, "ground truth")):
        if not path.exists():
            raise UserError(f"{path}: no such {what} file (run `metdata knn` / `metdata build-splits` first)")
    written = build(root, predictions, gt_path, out or root / "report.html")
    click.echo(f"report: {written}")
