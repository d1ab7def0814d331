"""benchmark/screenshots.py (issue 27): the docs screenshots come from the current code and the synthetic
demo; the parts that need no browser run here, fast."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmark" / "screenshots.py"


def _script():
    spec = importlib.util.spec_from_file_location("occmer_screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_skin_gif_shows_the_skin_mask_moving_where_the_rigid_one_does_not(aligned_hopper):
    face, landmarks = aligned_hopper
    frames = _script().skin_gif_frames(face, landmarks, frames=6)
    assert len(frames) == 6 and frames[0].shape == (224, 3 * 224, 3)
    diff_panel = [f[20:, 2 * 224:].astype(int) for f in frames]  # below the label
    assert diff_panel[0].max() == 0  # onset: the two masks agree
    assert diff_panel[3].mean() > diff_panel[0].mean() + 0.5  # apex: the skin mask has moved with the face


def test_without_a_browser_the_page_screenshots_are_skipped_and_said_so(tmp_path, monkeypatch, capsys):
    script = _script()
    monkeypatch.setattr(script, "browser", lambda: None)
    assert script.main(["--only", "pages", "--out", str(tmp_path)]) == 0
    assert "not regenerated: headless Chromium not found" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_the_script_reads_only_the_demo():
    text = SCRIPT.read_text()
    assert "demo-db" in text and "--root" in text
    assert "--db casme2" not in text and "OCCMER_DEMO_ROOT" not in text
