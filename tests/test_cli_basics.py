"""The CLI's front door: --help, --version and every registered command's --help."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from metdata import __version__
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
