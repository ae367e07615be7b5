"""Run `metdata` in the test process with the console entry point's error handling."""

from __future__ import annotations

from metdata.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`metdata ARGV` as a user sees it: (exit status, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err
