"""The preview contact sheet: row building, rendering, and the `occmer preview` command."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from occmer.cli import cli
from occmer.errors import ConfigError
from occmer.pages.contact_sheet import (
    PreviewRow,
    choose_evenly,
    describe_placement,
    key_indices,
    occlusion_overlay,
    render_sheet,
    row_from_arrays,
)


def _row(k: int, n_images: int = 4) -> PreviewRow:
    images = [np.full((64, 64, 3), 40 * (i + 1), np.uint8) for i in range(n_images)]
    return PreviewRow(f"clip{k}", "block any/black", 0.2, images, [f"c{i}" for i in range(n_images)])


def test_key_indices_use_absolute_frame_numbers():
    numbers = [46, 47, 48, 59, 60, 61]
    assert key_indices(numbers, 46, 59) == (0, 3)
    assert key_indices(numbers, 46, 58) == (0, 3)  # apex not stored: the nearest stored frame
    assert key_indices(numbers, 46, -1) == (0, 3)  # apex unknown: the middle


def test_choose_evenly_is_deterministic_and_spread():
    ids = [f"s{i:02d}" for i in range(20)]
    picked = choose_evenly(list(reversed(ids)), 5)
    assert picked == ["s00", "s05", "s10", "s14", "s19"]
    assert choose_evenly(ids[:3], 8) == ids[:3]
    with pytest.raises(ConfigError):
        choose_evenly(ids, 0)


def test_describe_placement():
    assert describe_placement({"family": "glasses", "variant": "black-rect"}) == "glasses black-rect"
    block = {"family": "block", "region": "eyes", "fill": "noise", "coverage_target": 0.3}
    assert describe_placement(block) == "block eyes/noise target 0.30"
    assert describe_placement({}) == "none"


def test_rows_from_arrays_pick_onset_and_apex():
    frames = np.stack([np.full((8, 8, 1), i, np.uint8) for i in range(5)])
    clean = frames + 100
    occlusion = np.zeros((5, 8, 8), np.uint8)
    row = row_from_arrays("a", frames, [10, 11, 12, 13, 14], 10, 13, {"parameters": {"family": "n95"}}, 0.4, clean)
    assert [int(im[0, 0, 0]) for im in row.images] == [100, 0, 103, 3]
    assert row.occluder == "n95" and row.occlusion_ratio == 0.4
    row = row_from_arrays("a", frames, [10, 11, 12, 13, 14], 10, 13, {}, 0.4, occlusion=occlusion)
    assert row.column_titles == ["onset", "apex", "occlusion (onset)"]


def test_overlay_marks_occluded_pixels_red():
    frame = np.full((4, 4, 3), 128, np.uint8)
    occlusion = np.zeros((4, 4), np.uint8)
    occlusion[0, 0] = 255
    out = occlusion_overlay(frame, occlusion)
    assert out[0, 0, 0] > out[0, 0, 1] + 100 and out[3, 3, 0] == out[3, 3, 1]


def test_render_sheet_lays_out_every_row():
    sheet = render_sheet([_row(k) for k in range(6)], title="test", thumb=64)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    # two grid columns of four images each, three grid rows
    assert sheet.shape[1] > 2 * 4 * 64 and sheet.shape[0] > 3 * 64
    brightest = [40 * 4] * 3
    assert (sheet == brightest).all(axis=2).sum() >= 6 * 50 * 50  # every row's 4th thumbnail is on the sheet
    with pytest.raises(ConfigError):
        render_sheet([])


def test_cli_from_file(tmp_path, block_file):
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["preview", "--from", str(block_file), "--out", str(out), "--n", "3"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 3 * 100


def test_cli_synthesizes_a_preview(tmp_path, small_demo_root):
    out = tmp_path / "sheet.png"
    args = ["preview", "--db", "demo", "--root", str(small_demo_root), "--mask", "surgical", "--variant", "blue",
            "--n", "2", "--size", "128", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 clips" in result.output
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    blue = (sheet[:, :, 2] > sheet[:, :, 0] + 40) & (sheet[:, :, 2] > 120)
    assert blue.sum() > 500  # the blue masks are on the sheet


@pytest.mark.parametrize(
    "args,message",
    [
        (["preview", "--out", "x.png"], "exactly one of --db"),
        (["preview", "--db", "demo", "--from", "a.h5", "--out", "x.png"], "exactly one of --db"),
        (["preview", "--from", "missing.h5", "--out", "x.png"], "not found"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output
