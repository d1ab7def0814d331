"""Assertions shared by the hostile CLI tests: how a refused command must look."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner, Result

from occmer.cli import cli


def invoke(*args: object) -> Result:
    """Run `occmer ARGS` in this process; exceptions are the CLI's to handle (as for a user)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result: Result, code: int = 2, *names: object) -> str:
    """Exit `code`, exactly one non-empty output line, no traceback, every name in the message."""
    text = result.output
    assert result.exit_code == code, text
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for name in names:
        assert str(name) in text, f"{name!r} not in {text!r}"
    return lines[0]


def digest(path: Path) -> str:
    """sha256 of a file's bytes (inputs must come out of a refused command untouched)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def synth_args(root: Path, out: Path, *more: object) -> list[object]:
    """The cheapest real synthesize command on a small demo database."""
    return ["synthesize", "--db", "demo", "--root", root, "--mask", "block", "--size", "64", "--out", out,
            "--no-progress", *more]
