"""Hostile inputs, third round (issue 27): paths that left their root, crashes on link loops, silent gaps
(empty sheets, stale fixes, NaN landmarks and head motion, leaking or relabelled /splits, unmapped label
codes) and messages that named the wrong cause (NUL bytes, uncomputed formulas, AppleDouble files, CSV
encodings). Every input is built by code.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from cli_checks import assert_one_line_error, invoke
from dbfixtures import CASME2_ROWS, write_casme2, write_folder_db, write_frames
from malformed_h5 import IDS, T, valid_file
from sheets_builders import with_formula_cell, write_text

import occmer.data as od
from occmer.databases import DATABASES
from occmer.errors import StoreError
from occmer.protocols.splits import compute_splits
from occmer.store import OccmerFile
from occmer.store.verify import verify_store

ROW = CASME2_ROWS[0]  # sub01 / EP02_01f, onset 46, apex 50, offset 58, frames 46..60
SHEET = "CASME2-coding-20140508.xlsx"


def _describe(root: Path, *more: object):
    return invoke("describe", "--db", "casme2", "--root", root, *more)


# ------------------------------------------------------------------------------------------------
# Security: sheets and folders that lead out of their root
# ------------------------------------------------------------------------------------------------

def test_coding_sheet_symlinked_out_of_the_root_is_refused(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[ROW])
    outside = tmp_path / "someone_elses.xlsx"
    os.replace(root / SHEET, outside)
    os.symlink(outside, root / SHEET)
    assert_one_line_error(_describe(root, "--strict"), 2, "annotation sheet", SHEET, "outside the root",
                          "--follow-symlinks")
    assert _describe(root, "--strict", "--follow-symlinks").exit_code == 0


def test_fix_table_symlinked_out_of_the_root_is_refused(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[ROW])
    outside = write_text(tmp_path / "fixes.csv", [("subject", "filename", "field", "value", "reason"),
                                                  ("sub01", "EP02_01f", "emotion", "fear", "x")], "utf-8")
    os.symlink(outside, root / "occmer_fixes.csv")
    assert_one_line_error(_describe(root), 2, "fix table", "occmer_fixes.csv", "outside the root")


def test_label_sheet_in_a_linked_annotation_folder_is_refused(tmp_path):
    from dbfixtures import write_casme3

    root = write_casme3(tmp_path / "c3")  # its label sheet is in annotation/
    shutil.move(root / "annotation", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", root / "annotation")
    result = invoke("describe", "--db", "casme3", "--root", root)
    assert_one_line_error(result, 2, "annotation sheet", "outside the root")


def _square_png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8, 3), value, np.uint8))


def _loso_release(base: Path) -> tuple[Path, Path]:
    """A two-subject LOSO tree (fold/<train|test>/<class>/<subject>_<clip>.png) and its CSV."""
    samples = [("sub01", "X_01", 0), ("sub02", "X_02", 1)]
    csv_path = base / "labels.csv"
    base.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label"])
        writer.writerows([("casme2", s, c, label) for s, c, label in samples])
    tree = base / "tree"
    for k, (subject, clip, label) in enumerate(samples):
        for fold in ("sub01", "sub02"):
            split = "u_test" if fold == subject else "u_train"
            _square_png(tree / fold / split / str(label) / f"{subject}_{clip}.png", 40 + k)
    return tree, csv_path


def _import(source: Path, csv_path: Path, out: Path, *more: object):
    return invoke("import", source, "--csv", csv_path, "--out", out, *more)


def test_loso_tree_reads_cleanly(tmp_path):
    tree, csv_path = _loso_release(tmp_path / "rel")
    assert _import(tree, csv_path, tmp_path / "ok.h5").exit_code == 0


@pytest.mark.parametrize("linked", ["sub02", "sub02/u_train/0"])
def test_loso_fold_or_class_folder_linked_out_of_source_is_refused(tmp_path, linked):
    tree, csv_path = _loso_release(tmp_path / "rel")
    outside = tmp_path / "outside" / Path(linked).name
    shutil.move(tree / linked, outside)
    os.symlink(outside, tree / linked)
    result = _import(tree, csv_path, tmp_path / "x.h5")
    assert_one_line_error(result, 2, str(tree / linked), "outside", "copy the folder in")
    assert not (tmp_path / "x.h5").exists()


# ------------------------------------------------------------------------------------------------
# Crashes: a clip folder that is a symlink to itself
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("follow", [False, True])
def test_clip_folder_symlink_loop_is_a_problem_not_a_crash(tmp_path, follow):
    root = write_casme2(tmp_path / "db", rows=[dataclasses.replace(ROW, frames=None), CASME2_ROWS[1]])
    loop = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    loop.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(loop, loop)
    result = DATABASES["casme2"](root, follow_symlinks=follow).scan()
    [problem] = result.problems
    assert "symlink loop" in problem.message and len(result.clips) == 1
    described = _describe(root, "--strict", *(["--follow-symlinks"] if follow else []))
    assert described.exit_code == 2 and "symlink loop" in described.output and "internal error" not in described.output


def test_frame_symlink_loop_is_a_problem(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[ROW])
    frame = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img61.jpg"
    os.symlink(frame, frame)
    [problem] = DATABASES["casme2"](root).scan().problems
    assert "frame" in problem.message and "symlink loop" in problem.message


# ------------------------------------------------------------------------------------------------
# Silent gaps: an empty sheet, a fix for no clip
# ------------------------------------------------------------------------------------------------

def test_sheet_with_only_its_header_fails_strict(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[])
    (root / "CASME2_RAW_selected").mkdir()
    result = _describe(root, "--strict")
    assert result.exit_code == 2, result.output
    assert "no clip is listed" in result.output and "problems: none" not in result.output


def test_fix_row_for_a_clip_that_does_not_exist_is_reported(tmp_path):
    root = write_casme2(tmp_path / "db", rows=[ROW])
    write_text(root / "occmer_fixes.csv", [("subject", "filename", "field", "value", "reason"),
                                           ("sub01", "EP02_01f", "emotion", "fear", "checked on video"),
                                           ("sub1", "EP02_01f", "onset", "47", "typo in the subject")], "utf-8")
    result = DATABASES["casme2"](root).scan()
    assert result.clips[0].emotion == "fear"  # the matching row still applies
    [problem] = result.problems
    assert problem.path == "occmer_fixes.csv:row 3" and "'sub1'" in problem.message and "not applied" in problem.message
    assert _describe(root, "--strict").exit_code == 2


# ------------------------------------------------------------------------------------------------
# verify and every reader: NaN landmarks and head motion, /splits that leak or relabel
# ------------------------------------------------------------------------------------------------

def _edit(path: Path, edit) -> Path:
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def test_nan_landmarks_are_flagged_by_verify_and_refused_by_the_dataset(tmp_path):
    def poison(f):
        f["clips/s1/landmarks"][0, 5, 0] = np.nan

    path = _edit(valid_file(tmp_path / "nan_landmarks.h5"), poison)
    assert any("clip s1" in p and "landmarks" in p for p in verify_store(path))
    dataset = od.OccmerDataset(path, labels="emotion", frames="keyframes")
    with pytest.raises(StoreError, match="clip s1: landmarks"):
        [dataset[i] for i in range(len(dataset))]
    assert invoke("verify", path).exit_code == 1


def test_landmark_points_absent_on_every_frame_are_accepted(tmp_path):
    """A 68-point file mapped to the 478-point mesh leaves the other points NaN on every frame: valid."""
    def absent_points(f):
        values = f["clips/s0/landmarks"][()]
        values[:, 100:] = np.nan
        f["clips/s0/landmarks"][...] = values

    path = _edit(valid_file(tmp_path / "partial_landmarks.h5"), absent_points)
    assert verify_store(path) == []
    with OccmerFile.open(path) as f:
        assert np.isnan(f.landmarks("s0", [0])[0, 100:]).all()


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_head_motion_is_flagged_by_verify(tmp_path, value):
    def motion(f):
        for sid in IDS:
            transforms = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float64), (T, 1, 1))
            if sid == "s2":
                transforms[3, 0, 2] = value
            f[f"clips/{sid}"].create_dataset("head_motion", data=transforms)

    path = _edit(valid_file(tmp_path / "head_motion.h5"), motion)
    problems = verify_store(path)
    assert len(problems) == 1 and "clip s2: head_motion holds NaN or inf on frame 3" in problems[0]


def _with_splits(path: Path) -> Path:
    with OccmerFile.open(path, mode="r+") as f:
        f.write_splits(compute_splits(f.columns()))
    return path


def test_valid_splits_pass(tmp_path):
    path = _with_splits(valid_file(tmp_path / "splits.h5"))
    assert verify_store(path) == []
    assert len(od.read_splits(path, "loso").folds()) == 3


def _tampered_splits(path: Path, test_fold=None, fold_names=None, label=None) -> Path:
    _with_splits(path)

    def tamper(f):
        group = f["splits/loso"]
        if test_fold is not None:
            group["test_fold"][...] = np.asarray(test_fold, np.int32)
        if fold_names is not None:
            del group["fold_names"]
            group.create_dataset("fold_names", data=np.array(fold_names, dtype=object),
                                 dtype=h5py.string_dtype("utf-8"))
        if label is not None:
            group["label"][...] = np.asarray(label, np.int32)

    return _edit(path, tamper)


def _same_subject(f):
    del f["samples/subject"]
    f["samples"].create_dataset("subject", data=np.array(["demo/a", "demo/a", "demo/c"], dtype=object),
                                dtype=h5py.string_dtype("utf-8"))


CASES = {
    "one_fold_tests_everyone": (dict(test_fold=[0, 0, 0], fold_names=["demo/a"]), "at least 2"),
    "fold_tests_every_member": (dict(test_fold=[0, 0, 0]), "tests every member"),
    "relabelled": (dict(label=[1, 1, 1]), "from its /samples row under emotion"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stored_splits_that_leak_or_relabel_are_refused_by_every_reader(tmp_path, case):
    changes, expected = CASES[case]
    path = _tampered_splits(valid_file(tmp_path / f"{case}.h5"), **changes)
    problems = verify_store(path)
    assert any("/splits/loso" in p and expected in p for p in problems), problems
    with pytest.raises(StoreError, match=expected):
        od.read_splits(path, "loso").folds()
    result = invoke("export", path, tmp_path / "exported", "--layout", "flat", "--protocol", "loso")
    assert result.exit_code == 2 and expected in result.output, result.output


def test_stored_splits_with_a_subject_in_two_folds_are_refused(tmp_path):
    path = _edit(valid_file(tmp_path / "leak.h5"), _same_subject)
    _with_splits(path)  # folds demo/a (s0, s1) and demo/c (s2)
    _edit(path, lambda f: f["splits/loso/test_fold"].__setitem__(Ellipsis, np.array([0, 1, 1], np.int32)))
    problems = verify_store(path)
    assert any("subject demo/a is tested in folds 'demo/a' and 'demo/c'" in p for p in problems), problems
    with pytest.raises(StoreError, match="trains and tests in the same fold"):
        od.read_splits(path, "loso")


# ------------------------------------------------------------------------------------------------
# occmer import: label codes the map does not name; CSV encodings
# ------------------------------------------------------------------------------------------------

def test_import_refuses_a_label_code_missing_from_the_label_map(tmp_path):
    tree, csv_path = _loso_release(tmp_path / "rel")
    flat = tmp_path / "flat"
    flat.mkdir()
    for png in tree.glob("*/u_test/*/*.png"):
        shutil.copy(png, flat / png.name)
    rows = csv_path.read_text().splitlines()
    rows[2] = rows[2].rsplit(",", 1)[0] + ",7"
    bad = tmp_path / "codes.csv"
    bad.write_text("\n".join(rows) + "\n")
    result = _import(flat, bad, tmp_path / "x.h5", "--labels", "emotion", "--label-map", "0=happiness,1=disgust")
    assert_one_line_error(result, 2, "line 3", "'7'", "--label-map 7=CLASS")
    assert not (tmp_path / "x.h5").exists()
    ok = _import(flat, csv_path, tmp_path / "ok.h5", "--labels", "emotion", "--label-map", "0=happiness,1=disgust")
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_import_reads_csv_in_the_encodings_sheets_accept(tmp_path, encoding):
    tree, csv_path = _loso_release(tmp_path / "rel")
    rows = [line.split(",") for line in csv_path.read_text().splitlines()]
    rows[0].append("note")
    rows[1].append("vérifié")
    rows[2].append("")
    encoded = write_text(tmp_path / f"{encoding}.csv", rows, encoding)
    result = _import(tree, encoded, tmp_path / "x.h5")
    assert result.exit_code == 0, result.output


def test_import_csv_with_a_nul_byte_names_line_and_cause(tmp_path):
    tree, csv_path = _loso_release(tmp_path / "rel")
    data = csv_path.read_bytes().replace(b"X_02", b"X_\x0002")
    (tmp_path / "nul.csv").write_bytes(data)
    assert_one_line_error(_import(tree, tmp_path / "nul.csv", tmp_path / "x.h5"), 2, "nul.csv", "line 3",
                          "NUL byte", "binary")


# ------------------------------------------------------------------------------------------------
# Messages that named the wrong cause
# ------------------------------------------------------------------------------------------------

def test_nul_byte_in_a_manifest_names_the_file_line_and_cause(tmp_path):
    root = write_folder_db(tmp_path)
    lines = (root / "occmer_manifest.csv").read_text().splitlines()
    lines[2] += "\x00"
    (root / "occmer_manifest.csv").write_text("\n".join(lines) + "\n")
    message = assert_one_line_error(invoke("describe", "--db", "folder", "--root", root), 2)
    assert "occmer_manifest.csv: line 3 holds a NUL byte" in message and "binary file" in message


def test_onset_formula_without_a_cached_value_names_cell_and_fix(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW, CASME2_ROWS[1]])
    with_formula_cell(root / SHEET, "D2", "=C2+46")  # the onset of the first data row
    result = DATABASES["casme2"](root).scan()
    [problem] = result.problems
    assert problem.path.endswith(f"{SHEET}:Sheet1:row 2")
    assert "cell D2 holds the formula '=C2+46'" in problem.message and "save it again" in problem.message
    assert "onset frame is missing" not in problem.message and len(result.clips) == 1


def test_apple_double_files_beside_frames_are_ignored_and_noted(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    folder = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    (folder / "._img50.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(78))
    (folder / "._img51.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(78))
    result = DATABASES["casme2"](root).scan()
    assert result.problems == []
    [clip] = result.clips
    assert all(not p.name.startswith("._") for _, p in clip.frames)
    assert any("ignored 2 macOS metadata file(s)" in line and "._img50.jpg" in line for line in clip.fixes)


def test_frames_that_share_a_number_are_named(tmp_path):
    root = write_casme2(tmp_path, rows=[ROW])
    write_frames(root / "CASME2_RAW_selected" / "sub01" / "EP02_01f", [50], "frame50.jpg")
    [problem] = DATABASES["casme2"](root).scan().problems
    assert "several files share frame numbers [50] (frame50.jpg, img50.jpg)" in problem.message
