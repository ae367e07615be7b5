"""`metdata demo`: the whole pipeline on the embedded sample museum, served on loopback.

The demo is a sequence of steps, each one a real command's library function run against the sample
museum's stand-in services; nothing reaches the internet. Each step prints what it did.
"""

from __future__ import annotations

from pathlib import Path

import click

from metdata.met_crawl import HttpParams, Selection, crawl_met

LOOPBACK_RATE_PER_S = 200.0  # the sample museum is on this machine: no need for the Met's 1/s


def _step(title: str) -> None:
    click.echo()
    click.secho(f"== {title}", bold=True)


def step_crawl_exhibits(server, out: Path) -> None:
    """`metdata crawl met` against the sample museum's Met Collection API."""
    _step(f"Exhibits: metdata crawl met --out {out} --api-url {server.met_api_url}")
    summary = crawl_met(out, server.met_api_url, Selection(), http_params=HttpParams(rate_per_s=LOOPBACK_RATE_PER_S))
    for line in summary.lines():
        click.echo(f"   {line}")


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's dataset root (run again to resume or reuse it).")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample museum's world.")
def demo(out: Path, seed: int):
    """Run the pipeline end to end on the embedded sample museum (loopback only, no internet).

    Starts the sample museum's stand-in services on a free loopback port, then crawls its Met
    Collection API into --out (images/MET/<id>/<n>.jpg and manifests/*.parquet) and prints the summary.
    """
    from metdata.sample.services import start_sample_server  # the only production import of the sample

    click.echo("Building the sample museum ...")
    server = start_sample_server(seed=seed)
    try:
        click.echo(f"Sample museum serving on {server.url} (Met API at {server.met_api_url})")
        step_crawl_exhibits(server, out)
    finally:
        server.stop()
    click.echo()
    click.echo(f"Done: the dataset root is {out}")
