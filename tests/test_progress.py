"""Progress that stays readable in logs: plain lines when stderr is not a terminal, --quiet/--verbose."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from occmer import progress
from occmer.cli import cli


@pytest.fixture(autouse=True)
def _normal_output():
    progress.configure()
    yield
    progress.configure()


def test_a_log_gets_a_line_per_ten_percent_and_no_carriage_returns():
    stream = io.StringIO()
    bar = progress.Progress(442, "synthesize", "clip", stream=stream)
    for _ in range(442):
        bar.update(1)
    bar.close()
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert 9 <= len(lines) <= 11, lines
    assert lines[0].startswith("synthesize: 45/442 clips (10%)")
    assert lines[-1].startswith("synthesize: 442/442 clips done in")


def test_a_log_gets_a_line_every_interval_even_when_progress_is_slow(monkeypatch):
    clock = iter(range(0, 10_000, 40))  # every update 40 s later
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = progress.Progress(1000, "features", "clip", stream=stream)
    for _ in range(5):
        bar.update(1)
    assert len(stream.getvalue().splitlines()) == 5  # 0.5 % each, but 40 s apart (interval 30 s)


def test_a_terminal_gets_the_live_bar_and_disabled_draws_nothing():
    stream = io.StringIO()
    with progress.Progress(10, "folds", "fold", stream=stream, interactive=True) as bar:
        bar.update(10)
    assert "\r" in stream.getvalue()
    stream = io.StringIO()
    with progress.Progress(10, "folds", "fold", stream=stream, enabled=False) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_quiet_turns_progress_off_and_verbose_shows_details(capsys):
    progress.configure(verbosity=-1)
    assert not progress.show_progress()
    progress.info("hidden")
    progress.configure(verbosity=1)
    progress.detail("shown")
    assert capsys.readouterr().out == "shown\n"


def test_quiet_and_verbose_exclude_each_other(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path), "--quiet", "--verbose"])
    assert result.exit_code == 2 and "exclude each other" in result.output


@pytest.mark.parametrize("command", ["synthesize", "features", "bench", "report", "demo-db", "preview", "inspect"])
def test_every_long_command_takes_the_output_options(command):
    text = CliRunner().invoke(cli, [command, "--help"]).output
    for option in ("--no-progress", "--quiet", "--verbose"):
        assert option in text, (command, option)


def test_a_synthesize_log_of_the_demo_stays_small(small_demo_root: Path, tmp_path: Path):
    """`occmer synthesize ... 2>log`: plain progress lines, no bar frames, well under 5 KB."""
    env = {**os.environ, "OCCMER_DEMO_ROOT": str(small_demo_root), "PYTHONPATH": str(Path(__file__).parents[1])}
    log = tmp_path / "log"
    with log.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, "-m", "occmer", "synthesize", "--db", "demo", "--root", str(small_demo_root),
             "--mask", "glasses", "--size", "96", "--features", "tvl1:28", "--out", str(tmp_path / "g.h5")],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, timeout=300,
        )
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text
    assert len(text.encode()) < 5 * 1024, text
    assert "synthesize: 9/9 clips done" in text and "features: 9/9 clips done" in text
    assert done.stdout.strip().splitlines()[-1].startswith("wrote ")
