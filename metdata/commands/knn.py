"""`metdata knn --root ROOT --split val|test`: the paper's kNN baseline, written as predictions.csv."""

import click


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False), help="Dataset root (with splits/).")
@click.option("--split", type=click.Choice(["val", "test"]), required=True, help="Which query set to predict.")
@click.option("--backbone", default="efficientnet-lite0", show_default=True,
              help="Descriptors to use, as written by `metdata features --backbone`.")
@click.option("--whiten-dim", type=click.IntRange(min=1), default=512, show_default=True,
              help="PCA-whitening (learned on the exhibits) to this many dimensions; capped at the "
                   "descriptor size and the number of usable eigenvalues.")
@click.option("--no-whiten", is_flag=True, help="Search the raw descriptors.")
@click.option("--k", "k", type=click.IntRange(min=1), default=None,
              help="Neighbours K. With --t, skips tuning; without both, K and t are tuned on val GAP.")
@click.option("--t", "t", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Inverse temperature t of the confidence softmax (the paper's tau).")
@click.option("--out", default="predictions.csv", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write query,prediction,confidence.")
def knn(root, split, backbone, whiten_dim, no_whiten, k, t, out):
    """Classify the SPLIT queries by their nearest exhibits (exact inner-product search, faiss).

    The confidence is the MET rule: the maximum similarity per class among the K neighbours, a softmax
    with inverse temperature t over all training classes (absent classes at similarity 0); the prediction
    is the nearest neighbour's class, so accuracy does not depend on K or t. By default K and t are picked
    by an exhaustive search over the paper's grid (K in 1..50, t in 0.01..500) maximising val GAP, then
    applied to SPLIT.

    \b
    Example:
      metdata knn --root data/met --split test --out predictions.csv
      metdata score predictions.csv --gt data/met/splits/test.parquet
    """
    from metdata.bench.knn import run_knn, write_predictions

    result = run_knn(root, split, backbone, None if no_whiten else whiten_dim, k, t)
    write_predictions(out, result.keys, result.pred, result.conf)
    space = "raw descriptors" if result.whiten_dim is None else f"whitened to {result.whiten_dim}-D"
    if result.tuning is not None:
        click.echo(f"tuned on val ({len(result.tuning.grid)} grid points): K={result.k} t={result.t:g} "
                   f"val GAP {100 * result.tuning.gap:.2f}")
    click.echo(f"{split}: {len(result.keys)} predictions ({space}, K={result.k}, t={result.t:g}) -> {out}")
