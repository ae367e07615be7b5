"""`metdata crawl SOURCE`: one subcommand per source, loaded lazily."""

import click

from metdata.cli import LazyGroup

SOURCES = {
    "met": "metdata.commands.crawl_met:crawl_met",
    "flickr": "metdata.commands.crawl_flickr:crawl_flickr",
    "wikimedia": "metdata.commands.crawl_wikimedia:crawl_wikimedia",
}


@click.group(cls=LazyGroup, lazy_commands=SOURCES)
def crawl():
    """Crawl a source into a dataset root (resumable: run it again to finish).

    \b
      met        exhibits: The Met's open-access studio photos  -> manifests/exhibits.parquet
      flickr     queries: visitors' photos on Flickr            -> manifests/queries.parquet
      wikimedia  distractors: Wikimedia Commons art and non-art -> manifests/distractors.parquet
    """
