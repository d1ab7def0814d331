"""Hostile and broken database inputs: paths out of the root, silent gaps, absurd sheets, odd encodings.

Each case asserts a clear problem or one-line error naming the file/clip, and that nothing
outside the root is read.
"""

from __future__ import annotations

import dataclasses
import os
import tracemalloc

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from dbfixtures import CASME2_ROWS, FOLDER_MANIFEST, write_casme2, write_folder_db, write_frames, write_xlsx
from sheets_builders import with_dimension, with_many_rows, write_text

from occmer.cli import cli
from occmer.databases import DATABASES
from occmer.databases import sheets as sheets_module
from occmer.errors import AnnotationError

ROW = CASME2_ROWS[0]  # sub01 / EP02_01f, onset 46, apex 50, offset 58, frames 46..60


def _casme2(root, rows):
    return DATABASES["casme2"](write_casme2(root, rows=rows))


def _one_line_error(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output


# ------------------------------------------------------------------------------------------------
# Paths: every clip folder and frame stays inside its root
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["../../../outside", "/etc"])
def test_sheet_filename_cannot_leave_the_root(tmp_path, filename):
    outside = tmp_path / "outside"
    write_frames(outside, range(46, 61))  # a folder a traversal would reach
    root = tmp_path / "db"
    rows = [dataclasses.replace(ROW, filename=filename, frames=None), CASME2_ROWS[1]]
    result = _casme2(root, rows).scan()
    assert len(result.clips) == 1
    [problem] = result.problems
    assert "outside the root" in problem.message and problem.path.endswith("row 2")


def test_manifest_folder_cannot_leave_the_root(tmp_path):
    root = write_folder_db(tmp_path / "db", FOLDER_MANIFEST + "p3,/etc,,,,,,\np3,clips/../../x,,,,,,\n")
    result = DATABASES["folder"](root).scan()
    messages = [p.message for p in result.problems]
    assert len(messages) == 2 and all("relative to the root" in m for m in messages)


def test_clip_folder_symlink_out_of_the_root_is_refused_unless_followed(tmp_path):
    outside = tmp_path / "elsewhere" / "EP02_01f"
    write_frames(outside, range(46, 61))
    root = write_casme2(tmp_path / "db", rows=[dataclasses.replace(ROW, frames=None), CASME2_ROWS[1]])
    (root / "CASME2_RAW_selected" / "sub01").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / "CASME2_RAW_selected" / "sub01" / "EP02_01f")
    result = DATABASES["casme2"](root).scan()
    [problem] = result.problems
    assert "through a symlink" in problem.message and "--follow-symlinks" in problem.message
    followed = DATABASES["casme2"](root, follow_symlinks=True).scan()
    assert followed.problems == [] and len(followed.clips) == 2


def test_frame_symlink_out_of_the_root_is_refused(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[ROW])
    secret = tmp_path / "secret.jpg"
    write_frames(tmp_path / "s", [1])
    os.replace(tmp_path / "s" / "img1.jpg", secret)
    os.symlink(secret, root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img61.jpg")
    [problem] = DATABASES["casme2"](root).scan().problems
    assert "img61.jpg is a symlink" in problem.message and "outside the root" in problem.message


def test_symlink_inside_the_root_is_fine(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[dataclasses.replace(ROW, frames=None)])
    real = root / "frames_store" / "EP02_01f"
    write_frames(real, range(46, 61))
    (root / "CASME2_RAW_selected" / "sub01").mkdir(parents=True)
    os.symlink(real, root / "CASME2_RAW_selected" / "sub01" / "EP02_01f")
    assert DATABASES["casme2"](root).scan().problems == []


# ------------------------------------------------------------------------------------------------
# Silent gaps: missing frames, duplicated rows, mixed sizes and modes
# ------------------------------------------------------------------------------------------------

def test_frames_missing_inside_onset_offset_are_a_problem(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    folder = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    for n in (52, 53):
        (folder / f"img{n}.jpg").unlink()
    [problem] = DATABASES["casme2"](root).scan().problems
    assert problem.sample_id == "casme2_sub01_EP02_01f"
    assert "2 frames inside onset..offset 46..58 are missing: 52, 53" in problem.message


def test_duplicated_row_is_a_problem_naming_both_rows(tmp_path):
    result = _casme2(tmp_path, [ROW, CASME2_ROWS[1], ROW]).scan()
    assert len(result.clips) == 2
    [problem] = result.problems
    assert "duplicates CASME2-coding-20140508.xlsx:Sheet1:row 2" in problem.message
    assert problem.path.endswith("row 4")


def test_mixed_frame_sizes_are_a_problem_naming_the_frame(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    path = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img55.jpg"
    cv2.imwrite(str(path), np.zeros((30, 40, 3), np.uint8))
    [problem] = DATABASES["casme2"](root).scan().problems
    assert problem.path.endswith("img55.jpg") and "frame 55 is 40x30 RGB, but frame 46 is 32x24 RGB" in problem.message


def test_mixed_colour_modes_are_a_problem(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    path = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img50.jpg"
    cv2.imwrite(str(path), np.zeros((24, 32), np.uint8))
    [problem] = DATABASES["casme2"](root).scan().problems
    assert "frame 50 is 32x24 L" in problem.message


def test_undecodable_frame_is_a_problem(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    (root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img48.jpg").write_bytes(b"not an image")
    [problem] = DATABASES["casme2"](root).scan().problems
    assert "frame 48 is not a readable image" in problem.message


def test_describe_reports_the_problems_and_strict_fails(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW, ROW])
    result = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root)])
    assert result.exit_code == 0 and "duplicates" in result.output
    strict = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root), "--strict"])
    assert strict.exit_code == 2 and "Traceback" not in strict.output
    assert strict.output.strip().splitlines()[-1].startswith("error: 1 problems in casme2")


# ------------------------------------------------------------------------------------------------
# Sheets: the dimension element is not trusted, absurd sheets are capped
# ------------------------------------------------------------------------------------------------

def test_stale_dimension_does_not_hide_rows(tmp_path):
    rows = CASME2_ROWS[:4]
    root = write_casme2(tmp_path, rows=rows)
    with_dimension(root / "CASME2-coding-20140508.xlsx", "A1:I2")  # claims one data row
    assert len(DATABASES["casme2"](root).scan().clips) == len(rows)


def test_absurd_dimension_reads_in_little_memory(tmp_path):
    root = write_casme2(tmp_path, rows=CASME2_ROWS)
    with_dimension(root / "CASME2-coding-20140508.xlsx", "A1:XFD1048576")
    tracemalloc.start()
    try:
        result = DATABASES["casme2"](root).scan()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.clips) == len(CASME2_ROWS)
    assert peak < 64 * 2**20  # the padded read would need GBs


def test_sheet_with_too_many_rows_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets_module, "MAX_SHEET_ROWS", 500)
    root = write_casme2(tmp_path, rows=CASME2_ROWS[:1])
    with_many_rows(root / "CASME2-coding-20140508.xlsx", 600)
    with pytest.raises(AnnotationError, match="more than 500 rows"):
        DATABASES["casme2"](root).scan()
    output = _one_line_error(["describe", "--db", "casme2", "--root", str(root)])
    assert "CASME2-coding-20140508.xlsx" in output and "more than 500 rows" in output


def test_huge_sheet_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(sheets_module, "MAX_SHEET_BYTES", 1000)
    root = write_casme2(tmp_path, rows=CASME2_ROWS[:1])
    with pytest.raises(AnnotationError, match="far larger than any annotation sheet"):
        DATABASES["casme2"](root).scan()


def test_damaged_xlsx_is_one_line(tmp_path):
    root = write_casme2(tmp_path, rows=CASME2_ROWS[:1])
    (root / "CASME2-coding-20140508.xlsx").write_bytes(b"PK\x03\x04 truncated")
    assert "cannot be read as an Excel workbook" in _one_line_error(["describe", "--db", "casme2", "--root", str(root)])


# ------------------------------------------------------------------------------------------------
# Text files: manifests and fix files in the encodings spreadsheet programs write
# ------------------------------------------------------------------------------------------------

MANIFEST_ROWS = [("subject", "folder", "onset", "apex", "offset", "emotion"),
                 ("p1", "clips/p1/take1", 3, 5, 8, "surprisé"), ("p2", "clips/p2/take1", 2, None, 9, "disgust")]


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("utf-16", False), ("cp1252", False)])
def test_manifest_encodings_are_detected(tmp_path, encoding, bom):
    root = write_folder_db(tmp_path)
    write_text(root / "occmer_manifest.csv", MANIFEST_ROWS, encoding, bom=bom)
    result = DATABASES["folder"](root).scan()
    assert result.problems == []
    assert [c.emotion for c in result.clips] == ["surprisé", "disgust"]


def test_binary_manifest_is_a_clear_error(tmp_path):
    root = write_folder_db(tmp_path)
    (root / "occmer_manifest.csv").write_bytes(bytes(range(256)) * 4)
    output = _one_line_error(["describe", "--db", "folder", "--root", str(root)])
    assert "occmer_manifest.csv" in output and "utf-8, utf-8-sig, utf-16 (with BOM), cp1252" in output


def test_fix_file_in_cp1252(tmp_path):
    root = write_casme2(tmp_path, rows=CASME2_ROWS[:1])
    write_text(root / "occmer_fixes.csv", [("subject", "filename", "field", "value", "reason"),
                                           ("sub01", "EP02_01f", "emotion", "surprise", "vérifié sur la vidéo")],
               "cp1252")
    clip = DATABASES["casme2"](root).scan().clips[0]
    assert clip.emotion == "surprise" and "vérifié" in clip.fixes[0]


def test_xlsx_manifest_with_formula_text_stays_data(tmp_path):
    root = write_folder_db(tmp_path)
    (root / "occmer_manifest.csv").unlink()
    write_xlsx(root / "occmer_manifest.xlsx", [("subject", "folder", "emotion"),
                                               ("p1", "clips/p1/take1", "=HYPERLINK(\"http://x\")")])
    result = DATABASES["folder"](root).scan()
    assert result.clips[0].emotion == ""  # only a cached value is read: the formula is never evaluated or fetched


def test_casme3_and_mmew_path_cells_are_not_looked_up(tmp_path):
    from dbfixtures import CASME3_ROWS, MMEW_ROWS, write_casme3, write_mmew

    rows = [("../../..", "etc", 1, 2, 3, "4", "III", "anger"), *CASME3_ROWS[:1]]
    result = DATABASES["casme3"](write_casme3(tmp_path / "c3", rows=rows)).scan()
    assert len(result.clips) == 1 and "not a plain folder name" in result.problems[0].message
    mmew_rows = [(*MMEW_ROWS[0][:6], "../../x", MMEW_ROWS[0][7]), *MMEW_ROWS[1:2]]
    result = DATABASES["mmew"](write_mmew(tmp_path / "mmew", rows=mmew_rows)).scan()
    assert len(result.clips) == 1 and "emotion '../../x' is not a plain folder name" in result.problems[0].message


def test_describe_follow_symlinks_option(tmp_path):
    outside = tmp_path / "elsewhere" / "EP02_01f"
    write_frames(outside, range(46, 61))
    root = write_casme2(tmp_path / "db", rows=[dataclasses.replace(ROW, frames=None)])
    (root / "CASME2_RAW_selected" / "sub01").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / "CASME2_RAW_selected" / "sub01" / "EP02_01f")
    refused = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root)])
    assert "through a symlink" in refused.output
    followed = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root), "--follow-symlinks"])
    assert followed.exit_code == 0 and "problems: none" in followed.output
