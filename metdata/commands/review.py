"""`metdata review`: check query links and distractors by hand in a local web page."""

from pathlib import Path

import click


@click.command()
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset root.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on (only).")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one."
)
@click.option(
    "--open/--no-open", "open_browser", default=True, show_default=True, help="Open the page in a browser."
)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the latest decision per item to this Parquet file (e.g. ROOT/manifests/decisions.parquet) and exit.",
)
@click.option(
    "--import",
    "import_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Add the decisions of this Parquet or JSON-lines file (checked against the manifests) and exit.",
)
def review(
    root: Path, host: str, port: int, open_browser: bool, export_path: Path | None, import_path: Path | None
):
    """Serve the review page: each query photo beside its candidates' exhibit images, each distractor alone.

    \b
    Keys: 1-9 accept candidate n (distractors: a/1 confirm), r reject all, s skip,
          left/right or k/j previous/next, n next undecided, o type an object id.

    Every decision is appended to ROOT/review/decisions.jsonl and fsync'ed at once (the latest per item
    wins), so closing the browser or stopping the server (Ctrl-C) loses nothing. The split builder
    reads them through metdata.review.store.accepted_links / rejected_distractors. Run `metdata match`
    first so that queries have candidates.
    """
    from metdata.review import store

    if import_path:
        n = store.import_decisions(root, import_path)
        click.echo(f"imported {n} decisions into {store.decisions_path(root)}")
    if export_path:
        n = store.export_decisions(root, export_path)
        click.echo(f"exported {n} decisions to {export_path}")
    if import_path or export_path:
        return

    from metdata.review.app import ReviewServer

    server = ReviewServer(root, host=host, port=port)
    click.echo(f"Review page: {server.url}  ({len(server.httpd.app.data.items)} items; Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.wait()
    except KeyboardInterrupt:
        click.echo("Stopped; decisions are in " + str(store.decisions_path(root)))
    finally:
        server.stop()
