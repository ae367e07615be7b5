"""`metdata score PREDICTIONS.csv --gt GT`: GAP, GAP- and ACC exactly as the MET benchmark defines them."""

import json

import click


@click.command()
@click.argument("predictions", type=click.Path(dir_okay=False))
@click.option("--gt", "gt_path", required=True, type=click.Path(dir_okay=False),
              help="Ground truth: our splits/val.parquet or splits/test.parquet, or an official "
                   "valset.json / testset.json.")
@click.option("--missing", type=click.Choice(["error", "wrong"]), default="error", show_default=True,
              help="What a ground-truth query without a prediction is: an error, or wrong with the lowest "
                   "confidence.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the scores as fractions.")
def score(predictions, gt_path, missing, as_json):
    """Score PREDICTIONS.csv (header query,prediction,confidence) against a ground truth.

    \b
    query       the image key as in the ground truth, e.g. test_met/8f3a69ef8d7b.jpg
    prediction  the predicted Met object id (an integer; every query gets one)
    confidence  a finite number; higher means more confident

    GAP ranks all queries by confidence (distractors included, normalised by the number of Met queries);
    GAP- does the same on the Met queries alone; ACC is accuracy on the Met queries. Unlike the official
    code, a distractor is never correct whatever is predicted for it, and ties in confidence keep the
    ground-truth order; when ties exist the GAP under the best and worst tie orders is shown too.

    \b
    Example:
      metdata score predictions.csv --gt data/met/splits/test.parquet
      metdata score predictions.csv --gt met/ground_truth/testset.json --json
    """
    from metdata.bench.score import score_file

    result = score_file(predictions, gt_path, missing)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"queries {result['n_queries']}  (Met queries {result['n_met']}, "
               f"distractors {result['n_queries'] - result['n_met']})")
    if result["n_missing"]:
        click.echo(f"missing {result['n_missing']}  (scored as wrong with the lowest confidence)")
    for name, key in (("GAP", "gap"), ("GAP-", "gap_minus"), ("ACC", "acc")):
        click.echo(f"{name:<5} {100 * result[key]:6.2f}")
    if result["n_tied"]:
        click.echo(f"ties  {result['n_tied']} queries share a confidence; kept in ground-truth order. "
                   f"GAP under the best / worst tie order: {100 * result['gap_best_ties']:.2f} / "
                   f"{100 * result['gap_worst_ties']:.2f}")
