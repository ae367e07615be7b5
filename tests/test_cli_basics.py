"""The CLI's front door: --help, --version and every registered command's --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from metdata import __version__, manifests
from metdata.cli import COMMANDS, cli
from metdata.commands.crawl import SOURCES


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize(
    "argv",
    [[name] for name in COMMANDS] + [["crawl", source] for source in SOURCES],
    ids=lambda argv: " ".join(argv),
)
def test_every_command_explains_itself(argv):
    result = CliRunner().invoke(cli, [*argv, "--help"])
    assert result.exit_code == 0, f"metdata {' '.join(argv)} --help failed:\n{result.output}{result.exception!r}"
    assert "Usage:" in result.output
    # A help text that teaches: a description beyond the usage line and the --help option.
    assert len(result.output.split("Options:")[0].strip().splitlines()) >= 3


def test_console_entry_point_runs_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "metdata.cli", "--version"], check=False, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert __version__ in proc.stdout


# -- the documentation names only what exists --------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent
USER_DOCS = ["README.md", "manifests/README.md", "docs/dask.md"]
_COMMAND_LINE = re.compile(r"metdata((?: [a-z][a-z-]+)+)([^`\n|#]*)")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _command_options() -> dict[str, set[str]]:
    """'metdata crawl met' -> its option names, for the CLI and every subcommand."""
    ctx = click.Context(cli)
    found: dict[str, set[str]] = {}

    def walk(command: click.Command, path: str) -> None:
        names = {"--help"}
        for param in command.params:
            if isinstance(param, click.Option):
                names.update(param.opts + param.secondary_opts)
        found[path] = names
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}")

    walk(cli, "metdata")
    return found


@pytest.mark.parametrize("doc", USER_DOCS)
def test_documented_command_lines_use_only_existing_options(doc):
    commands = _command_options()
    wrong = []
    for number, line in enumerate((REPO / doc).read_text(encoding="utf-8").splitlines(), start=1):
        for match in _COMMAND_LINE.finditer(line):
            path = "metdata"
            for word in match.group(1).split():
                if f"{path} {word}" not in commands:
                    break
                path = f"{path} {word}"
            if path == "metdata":
                continue  # prose such as "metdata builds ..."
            wrong += [f"{doc}:{number}: {path} {o}" for o in _OPTION.findall(match.group(2)) if o not in commands[path]]
    assert not wrong, "options the CLI does not have:\n" + "\n".join(wrong)


def test_manifest_docs_cover_every_schema_column_and_status():
    text = (REPO / "manifests" / "README.md").read_text(encoding="utf-8")
    missing = [f"{kind}.{field.name}" for kind, schema in manifests.SCHEMAS.items() for field in schema
               if f"`{field.name}`" not in text]
    missing += [f"status {status}" for status in manifests.STATUSES if f"`{status}`" not in text]
    missing += [name for name in ("review/decisions.jsonl", "accepted_links", "rejected_distractors") if name not in text]
    assert not missing, f"manifests/README.md does not document: {missing}"


def test_benchmark_readme_lists_every_script():
    text = (REPO / "benchmark" / "README.md").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in (REPO / "benchmark").glob("bench_*.py"))
    assert scripts and not [s for s in scripts if f"`{s}`" not in text]
