"""The `metdata` command line.

Commands are loaded lazily (Click's LazyGroup pattern) so that `metdata --help` stays fast and a
crawler never imports torch. Each entry maps a command name to "module:attribute"; the module
holds one Click command that parses options, calls one library function and prints.
"""

from __future__ import annotations

import importlib
import sys

import click

from metdata import __version__
from metdata.errors import UserError

COMMANDS: dict[str, str] = {
    "crawl": "metdata.commands.crawl:crawl",
    "serve-sample": "metdata.commands.serve_sample:serve_sample",
    "import-photos": "metdata.commands.import_photos:import_photos",
    "match": "metdata.commands.match:match",
    "review": "metdata.commands.review:review",
    "build-splits": "metdata.commands.splits:build_splits",
    "export-official": "metdata.commands.official:export_official",
    "import-official": "metdata.commands.official:import_official",
    "features": "metdata.commands.features:features",
    "knn": "metdata.commands.knn:knn",
    "score": "metdata.commands.score:score",
    "stats": "metdata.commands.stats:stats",
    "report": "metdata.commands.report:report",
    "demo": "metdata.commands.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx, name):
        if name in self.lazy_commands:
            module_name, attr = self.lazy_commands[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="metdata")
def cli():
    """Build, check and benchmark MET-style instance-level recognition datasets of artworks.

    \b
    Typical session:
      metdata demo                               # everything, on the embedded sample museum
      metdata crawl met --out data/met           # exhibits from The Met's open-access collection
      metdata crawl flickr --out data/met ...    # visitor photos (queries)
      metdata crawl wikimedia --out data/met ... # distractors
      metdata match --root data/met && metdata review --root data/met
      metdata build-splits --root data/met
      metdata features --root data/met && metdata knn --root data/met --split test
      metdata score predictions.csv --gt data/met/splits/test.parquet
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes become one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="metdata", standalone_mode=False)
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line, like every other user mistake
        where = exc.ctx.command_path if exc.ctx else "metdata"
        click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; run the same command again to resume.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
