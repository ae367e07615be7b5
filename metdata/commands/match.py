"""`metdata match`: link query photos to their likely Met objects by text (ranked candidates)."""

from pathlib import Path

import click

from metdata.matching import AUTO_ACCEPT_MIN_SCORE


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset root.")
@click.option(
    "--top-n", default=10, show_default=True, type=click.IntRange(1, 100), help="Candidates kept per photo."
)
@click.option(
    "--auto-accept-min-score",
    default=AUTO_ACCEPT_MIN_SCORE,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Score (0-100) at or above which a strong rank-1 candidate is auto-accepted.",
)
@click.option(
    "--ground-truth",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV query_id,object_id[,names_artwork]: print recall@1 and recall@10 against it.",
)
def match(root: Path, top_n: int, auto_accept_min_score: float, ground_truth: Path | None):
    """Rank candidate Met objects for every kept query photo -> manifests/matches.parquet.

    Reads manifests/objects.parquet (and exhibits.parquet: only objects with a kept image can be
    linked) and manifests/queries.parquet. A photo's title, description and tags are matched against
    the objects' titles, artists, accession numbers, tags and dates: candidates come from a token
    index (never all pairs), misspellings and run-together hashtags are recovered, then rapidfuzz
    scores each candidate 0-100 (score = 0.6 title + 0.35 artist + 0.05 tags/date; an accession
    number or a metmuseum.org link in the text scores 100).

    \b
    Auto-accept: only the rank-1 candidate, with score >= --auto-accept-min-score, an accession
    number (or link) match or both title and artist >= that score, and no tie. Everything else
    waits for `metdata review`.
    """
    from tqdm import tqdm

    from metdata.matching import match_root, read_ground_truth, recall_report

    truth = read_ground_truth(ground_truth) if ground_truth else None
    summary = match_root(
        root,
        top_n,
        auto_accept_min_score,
        progress=lambda qs: tqdm(qs, desc="match", unit="photo", leave=False),
    )
    n_queries = len(summary.query_ids)
    share = summary.n_with_candidate / n_queries if n_queries else 0.0
    click.echo(f"objects indexed: {summary.n_objects}")
    click.echo(f"query photos: {n_queries}")
    click.echo(f"photos with at least one candidate: {summary.n_with_candidate} ({share:.1%})")
    click.echo(f"auto-accepted (score >= {auto_accept_min_score:g}): {summary.n_auto_accepted}")
    click.echo(f"matches: {summary.path}")
    if truth:
        report = recall_report(summary.rows, truth, summary.query_ids)
        click.echo(
            f"recall@1 {report['recall@1']:.3f}  recall@10 {report['recall@10']:.3f}  "
            f"(photos of an object: {report['n_truth']})"
        )
        click.echo(
            f"text names the artwork: recall@1 {report['names_artwork_recall@1']:.3f}  "
            f"recall@10 {report['names_artwork_recall@10']:.3f}  (photos: {report['n_names_artwork']})"
        )
