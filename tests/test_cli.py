"""The command line: help, version, exit codes and one-line messages on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from occmer import __version__
from occmer.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version_and_python_m():
    assert run("--version").output.strip().endswith(__version__)
    out = subprocess.run([sys.executable, "-m", "occmer", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_real_help(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert len(cli.commands[command].help or "") > 40, f"{command} needs a real --help text"


def test_unknown_database_is_one_line_exit_2():
    result = run("synthesize", "--db", "nosuchdb", "--out", "x.h5")
    assert result.exit_code == 2
    assert "error:" in result.output and "nosuchdb" in result.output and "Traceback" not in result.output


def test_missing_root_says_where_data_is_expected(tmp_path):
    result = run("synthesize", "--db", "casme2", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "x.h5"))
    assert result.exit_code == 2 and str(tmp_path / "absent") in result.output


def test_debug_shows_the_traceback():
    with pytest.raises(Exception, match="nosuchdb"):
        CliRunner().invoke(cli, ["--debug", "synthesize", "--db", "nosuchdb"], catch_exceptions=False)


def test_synthesize_verify_inspect(tmp_path, small_demo_root):
    out = tmp_path / "x.h5"
    result = run("synthesize", "--db", "demo", "--root", str(small_demo_root), "--mask", "block", "--coverage",
                 "0.3", "--size", "96", "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "9 clips" in result.output
    again = run("synthesize", "--db", "demo", "--root", str(small_demo_root), "--out", str(out))
    assert again.exit_code == 2 and "--overwrite" in again.output
    verified = run("verify", str(out))
    assert verified.exit_code == 0 and "ok" in verified.output
    inspected = run("inspect", str(out))
    assert "clips: 9  subjects: 3" in inspected.output and "block" in inspected.output


def test_verify_fails_on_a_broken_file(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    result = run("verify", str(bad))
    assert result.exit_code == 1 and "not a readable HDF5 file" in result.output


def test_inspect_missing_file_is_a_clear_error(tmp_path):
    result = run("inspect", str(tmp_path / "none.h5"))
    assert result.exit_code == 2 and "file not found" in result.output
