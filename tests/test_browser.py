"""Both HTML pages rendered by a real browser (headless Chromium): they load with no console error
and every image decodes. Slow (a browser start per page, a bench run, a re-synthesis): `make test-slow`.

The pages themselves carry no JavaScript. The test loads a copy with a small probe script
appended, which counts the images the browser could decode and the tables it laid out, and
writes the counts into the DOM that `--dump-dom` prints. Console messages come from Chromium's
own log (`--enable-logging=stderr`). Screenshots for docs/img: set OCCMER_SCREENSHOTS=folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from html_checks import parse_page

from occmer.cli import cli

pytestmark = pytest.mark.slow

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (Debian: apt-get install chromium); the HTML structure "
                             "is still checked by the default run (tests/html_checks.py)")

PROBE = """<script>window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) {
    return i.alt; });
  var probe = document.createElement("pre"); probe.id = "occmer-probe";
  probe.textContent = JSON.stringify({images: images.length, broken: broken,
    tables: document.querySelectorAll("table").length, width: document.documentElement.scrollWidth});
  document.body.appendChild(probe);
});</script>"""

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                 "--hide-scrollbars", "--mute-audio"]


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    profile = cwd / "profile"
    return subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def render_in_browser(page: Path, work: Path) -> tuple[dict, list[str]]:
    """(probe counts, console error lines) of `page` loaded by headless Chromium."""
    probe_page = work / f"probe_{page.name}"
    probe_page.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium("--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
                     probe_page.as_uri(), cwd=work)
    match = re.search(r'<pre id="occmer-probe">(.*?)</pre>', done.stdout)
    assert match, f"the page did not finish loading in Chromium:\n{done.stderr[-2000:]}"
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return json.loads(match.group(1).replace("&quot;", '"')), console


def screenshot(page: Path, out: Path, work: Path, width: int = 1200, height: int = 1500) -> Path:
    _chromium(f"--screenshot={out}", f"--window-size={width},{height}", "--virtual-time-budget=3000",
              page.as_uri(), cwd=work)
    return out


def _check(page: Path, work: Path) -> dict:
    counts, console = render_in_browser(page, work)
    structure = parse_page(page.read_text(encoding="utf-8"))
    assert not console, console
    assert counts["broken"] == [], counts
    assert counts["images"] == len(structure.images) > 0
    assert counts["tables"] == len(structure.tables) > 0
    assert counts["width"] <= 1300, "the page scrolls sideways on a laptop screen"
    return counts


def _maybe_screenshot(page: Path, name: str, work: Path) -> None:
    folder = os.environ.get("OCCMER_SCREENSHOTS")
    if folder:
        shot = screenshot(page, Path(folder).resolve() / name, work)
        assert shot.exists()


@needs_chromium
def test_the_probe_sees_a_console_error(tmp_path: Path):
    """The console check works: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><table><tr><td>x</td></tr></table>"
                    "<script>console.error('occmer-test-error')</script></body></html>")
    _, console = render_in_browser(page, tmp_path)
    assert any("occmer-test-error" in line for line in console)


@needs_chromium
def test_bench_report_renders_in_chromium(tmp_path: Path):
    from test_bench_support import write_tiny

    clean, mask = write_tiny(tmp_path / "clean.h5"), write_tiny(tmp_path / "mask.h5", occluded=True)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["bench", "rrrn", "ststnet", "--data", str(clean), "--data", f"surgical={mask}",
                                      "--epochs", "1", "--batch-size", "4", "--seeds", "2", "--out", str(out),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    counts = _check(out / "report.html", tmp_path)
    assert counts["images"] == 2 + 2 + 1 + 1  # heatmaps, confusion grids, per-class F1, RRRN attention
    _maybe_screenshot(out / "report.html", "bench_report.png", tmp_path)


@needs_chromium
def test_inspect_page_renders_in_chromium(block_file: Path, small_demo_root: Path, tmp_path: Path):
    page = tmp_path / "inspect.html"
    result = CliRunner().invoke(cli, ["inspect", str(block_file), "--html", "--out", str(page), "--root",
                                      str(small_demo_root), "--quiet"])
    assert result.exit_code == 0, result.output
    counts = _check(page, tmp_path)
    assert counts["images"] == 1 + 6  # histogram + 2 clips of each of 3 classes
    _maybe_screenshot(page, "inspect_page.png", tmp_path)
