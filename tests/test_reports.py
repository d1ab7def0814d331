"""`occmer inspect --html` and `occmer preview --gif`: pages and animations a person looks at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from html_checks import check_self_contained, decode_image, parse_page
from PIL import Image

from occmer.cli import cli
from occmer.pages import clips as anim
from occmer.pages.inspect_page import choose_gallery


@pytest.fixture(scope="module")
def inspect_page(block_file: Path, small_demo_root: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inspect") / "block.html"
    result = CliRunner().invoke(cli, ["inspect", str(block_file), "--html", "--out", str(out), "--root",
                                      str(small_demo_root), "--per-class", "1", "--panel", "64", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"wrote {out}"
    return out


def test_inspect_html_is_self_contained_with_a_moving_gallery(inspect_page: Path):
    page = parse_page(inspect_page.read_text(encoding="utf-8"))
    check_self_contained(page)
    assert page.section_ids == ["gallery", "occlusion", "counts", "provenance"]
    clips = [i for i in page.images if i["src"].startswith("data:image/webp")]
    assert len(clips) == 7  # one clip of each demo class present (the small demo's 9 clips cover I-VII)
    for attrs in clips:
        image = decode_image(attrs["src"])
        assert image.n_frames >= 4  # it moves: onset to offset (the small demo has 4-7 frames a clip)
        # clean | occluded | alpha | flow, 64 px each with 4 px gaps
        assert image.size == (4 * 64 + 3 * 4, 64)
    assert len(page.images) == len(clips) + 1  # + the occlusion-ratio histogram
    assert len(page.tables) == 4  # provenance, class counts, apex source, subject x class


def test_the_clean_panel_is_the_verified_resynthesis(inspect_page: Path):
    text = inspect_page.read_text(encoding="utf-8")
    assert "Clean frames of 7 of 7 clips were recovered" in text
    assert "differs from the stored frames" not in text


def test_gallery_takes_each_class_from_different_subjects():
    ids = [f"s{s}/c{c}" for s in range(3) for c in range(4)]
    subjects = [i.split("/")[0] for i in ids]
    labels = ["a", "a", "b", "b"] * 3
    rows = choose_gallery(ids, labels, subjects, per_class=2)
    assert [labels[i] for i in rows] == ["a", "a", "b", "b"]
    assert subjects[rows[0]] != subjects[rows[1]] and subjects[rows[2]] != subjects[rows[3]]


def test_the_occluder_alpha_panel_stays_put_while_the_flow_grows():
    """Synthetic clip: a bright bar moves while the occluder alpha is fixed."""
    frames = np.full((10, 64, 64, 3), 90, np.uint8)
    for t in range(10):
        frames[t, 20:30, 10 + t:20 + t] = 220
    occlusion = np.zeros((10, 64, 64), np.uint8)
    occlusion[:, 40:50, :] = 255
    panels = anim.build_panels("s/c", frames, occlusion, list(range(100, 110)), 100, 109, side=32)
    assert panels.titles[:2] == ["occluded", "occluder alpha"] and panels.titles[2].startswith("flow magnitude")
    alpha = panels.panels[1]
    assert all(np.array_equal(alpha[0], a) for a in alpha)
    flow = panels.panels[2].astype(int).sum(axis=(1, 2, 3))
    assert flow[0] < flow[-1]
    data = anim.gif_bytes(anim.strip_frames([panels]))
    assert len(data) < 40_000
    assert Image.open(__import__("io").BytesIO(data)).n_frames == 10


def test_long_clips_are_strided_keeping_first_and_last():
    picks = anim.frame_stride(100, 24)
    assert len(picks) == 24 and picks[0] == 0 and picks[-1] == 99


def test_preview_gif_from_a_file(block_file: Path, tmp_path: Path):
    out = tmp_path / "p.gif"
    result = CliRunner().invoke(cli, ["preview", "--from", str(block_file), "--gif", "--n", "2", "--thumb", "64",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    image = Image.open(out)
    assert image.size == (3 * 64 + 2 * 4, 2 * 64 + 4) and image.n_frames > 1
    assert "occluded | occluder alpha | flow magnitude" in result.output
