"""The CASME II adapter (and the demo adapter on the same code path) on fixture trees."""

from __future__ import annotations

import dataclasses

import pytest
from dbfixtures import CASME2_ROWS, CasmeRow, write_casme2, write_demo, write_xlsx

from occmer.databases import DATABASES
from occmer.databases.casme2 import CASME2
from occmer.databases.common import Fix
from occmer.errors import AnnotationError, ConfigError, DataError


def by_name(result):
    return {c.filename: c for c in result.clips}


@pytest.mark.parametrize("layout", ["raw", "cropped", "flat"])
def test_reads_every_layout(tmp_path, layout):
    root = write_casme2(tmp_path, layout=layout)
    result = DATABASES["casme2"](root).scan()
    assert result.problems == []
    assert len(result.clips) == len(CASME2_ROWS)
    clip = by_name(result)["EP02_01f"]
    assert clip.sample_id == "casme2_sub01_EP02_01f"
    assert clip.subject == "casme2/sub01"
    assert (clip.onset, clip.apex, clip.offset) == (46, 50, 58)
    assert clip.frame_numbers == tuple(range(46, 61))
    prefix = "reg_img" if layout == "cropped" else "img"
    assert clip.frames[0][1].name == f"{prefix}46.jpg"


def test_labels_and_sources(tmp_path):
    clips = by_name(CASME2(write_casme2(tmp_path)).scan())
    assert clips["EP02_01f"].emotion == "disgust"
    assert (clips["EP02_01f"].objective_class, clips["EP02_01f"].objective_source) == ("III", "given")
    assert clips["EP02_01f"].composite == "positive"  # the official MEGC 2019 list's label, not the rule's
    # not in the objective sheet: derived from the AUs (side letters stripped)
    assert (clips["EP01_11f"].objective_class, clips["EP01_11f"].objective_source) == ("II", "derived")
    assert clips["EP01_11f"].composite == "negative"  # repression
    assert clips["EP04_03"].emotion == "surprise"  # "Surprise" normalised
    assert clips["EP04_03"].composite == ""  # sub02/EP04_03 is not on the official list
    assert clips["EP05_01"].objective_class == "VII"
    assert clips["EP05_01"].composite == ""
    assert clips["EP06_02f"].composite == ""  # sub13/EP06_02f is not on the official list
    assert clips["EP06_02f"].subject == "casme2/sub13"


def test_without_objective_sheet_every_class_is_derived(tmp_path):
    clips = by_name(CASME2(write_casme2(tmp_path, objective=False)).scan())
    assert {c.objective_source for c in clips.values()} == {"derived"}
    assert clips["EP03_02"].objective_class == "I"  # R12


def test_numeric_frame_sort_across_digit_boundary(tmp_path):
    clip = by_name(CASME2(write_casme2(tmp_path)).scan())["EP01_11f"]
    assert clip.frame_numbers == tuple(range(95, 113))  # 95..99 before 100..112, not lexical


def test_missing_apex_midpoint_recorded(tmp_path):
    clip = by_name(CASME2(write_casme2(tmp_path)).scan())["EP03_02"]
    assert clip.apex_source == "midpoint"
    assert clip.apex == 15  # (11 + 20) / 2 = 15.5 -> nearest existing frame, lower on a tie


def test_missing_apex_flow_picks_largest_motion(tmp_path):
    rows = [CasmeRow(1, "EP09_01", 10, "/", 20, "12", "happiness", "", tuple(range(10, 21)))]
    root = write_casme2(tmp_path, rows=rows, frame_suffix=".png")
    # rewrite the frames with a texture shift that peaks at frame 17
    from dbfixtures import write_frames

    shifts = {n: 3.0 * max(0.0, 1 - abs(n - 17) / 4) for n in range(10, 21)}
    write_frames(root / "CASME2_RAW_selected" / "sub01" / "EP09_01", range(10, 21), "img{n}.png", shifts=shifts)
    clip = CASME2(root, apex_policy="flow").scan().clips[0]
    assert clip.apex_source == "flow"
    assert clip.apex == 17


def test_unknown_apex_policy_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="apex policy"):
        CASME2(write_casme2(tmp_path), apex_policy="best")


def test_missing_sheet_names_root_and_pattern(tmp_path):
    (tmp_path / "CASME2_RAW_selected" / "sub01").mkdir(parents=True)
    with pytest.raises(AnnotationError) as info:
        CASME2(tmp_path).scan()
    assert str(tmp_path) in str(info.value)
    assert "CASME2-coding-*.xlsx" in str(info.value)


def test_sheet_found_case_insensitively(tmp_path):
    root = write_casme2(tmp_path, sheet_name="casme2-CODING-2014.xlsx")
    assert len(CASME2(root).scan().clips) == len(CASME2_ROWS)


def test_no_frame_folder_is_clear_error(tmp_path):
    write_xlsx(tmp_path / "CASME2-coding-1.xlsx", [("Subject", "Filename", "OnsetFrame", "ApexFrame",
                                                     "OffsetFrame", "Estimated Emotion")])
    with pytest.raises(DataError, match="CASME2_RAW_selected"):
        CASME2(tmp_path).scan()


def test_wrong_header_is_annotation_error(tmp_path):
    root = write_casme2(tmp_path)
    write_xlsx(root / "CASME2-coding-20140508.xlsx", [("Subj", "Clip", "Start")])
    with pytest.raises(AnnotationError, match="no header row"):
        CASME2(root).scan()


def broken_rows():
    good = CASME2_ROWS[0]
    return [
        good,
        dataclasses.replace(good, filename="EP10_missing", frames=None),  # folder missing
        dataclasses.replace(good, filename="EP11_empty", frames=()),  # folder without frames
        dataclasses.replace(good, filename="EP12_order", onset=55, apex=50, offset=58),  # onset > apex
        dataclasses.replace(good, filename="EP13_range", onset=40, apex=50, offset=58),  # before first frame
        dataclasses.replace(good, filename="EP14_text", apex="fifty"),  # not a number
        dataclasses.replace(good, subject="x", filename="EP15_subject"),  # subject not a number
        dataclasses.replace(good, filename="EP16_gap", frames=tuple(n for n in range(46, 61) if n != 50)),
    ]


def test_every_broken_row_becomes_a_problem(tmp_path):
    root = write_casme2(tmp_path, rows=broken_rows())
    (root / "CASME2_RAW_selected" / "sub01" / "EP11_empty").mkdir(parents=True, exist_ok=True)
    result = CASME2(root).scan()
    assert [c.filename for c in result.clips] == ["EP02_01f"]
    problems = {p.sample_id: p for p in result.problems}
    assert set(problems) == {
        "casme2_sub01_EP10_missing", "casme2_sub01_EP11_empty", "casme2_sub01_EP12_order",
        "casme2_sub01_EP13_range", "casme2_sub01_EP14_text", "casme2_x_EP15_subject", "casme2_sub01_EP16_gap",
    }
    assert "clip folder not found" in problems["casme2_sub01_EP10_missing"].message
    assert "no frames" in problems["casme2_sub01_EP11_empty"].message
    assert "onset <= apex <= offset" in problems["casme2_sub01_EP12_order"].message
    assert "outside the folder's frames 46..60" in problems["casme2_sub01_EP13_range"].message
    assert "fifty" in problems["casme2_sub01_EP14_text"].message
    assert "row" in problems["casme2_sub01_EP14_text"].path  # names the sheet row
    assert "[50]" in problems["casme2_sub01_EP16_gap"].message
    assert all(p.fix for p in result.problems)


def test_fix_table_applied_and_recorded(tmp_path, monkeypatch):
    rows = [dataclasses.replace(CASME2_ROWS[0], offset=90)]  # offset beyond the clip
    root = write_casme2(tmp_path, rows=rows)
    assert CASME2(root).scan().clips == []
    table = {("sub01", "EP02_01f"): (Fix("offset", 58, "offset typed as 90; the folder ends at 58", expect=90),)}
    monkeypatch.setattr(CASME2, "fixes", table)
    clip = CASME2(root).scan().clips[0]
    assert clip.offset == 58
    assert clip.fixes == ("offset 90 -> 58: offset typed as 90; the folder ends at 58",)
    # a release that already has the right value is left alone and records nothing
    root2 = write_casme2(tmp_path / "fixed", rows=CASME2_ROWS[:1])
    assert CASME2(root2).scan().clips[0].fixes == ()


def test_fixed_apex_is_recorded_as_fixed(tmp_path, monkeypatch):
    root = write_casme2(tmp_path, rows=CASME2_ROWS[1:2])
    monkeypatch.setattr(CASME2, "fixes", {("sub01", "EP03_02"): (Fix("apex", 13, "apex read from the paper"),)})
    clip = CASME2(root).scan().clips[0]
    assert (clip.apex, clip.apex_source) == (13, "fixed")


def test_demo_adapter_reads_casme2_layout_under_its_own_name(tmp_path):
    result = DATABASES["demo"](write_demo(tmp_path)).scan()
    assert result.problems == []
    clip = by_name(result)["EP02_01f"]
    assert clip.database == "demo"
    assert clip.subject == "demo/sub01"
    assert clip.sample_id == "demo_sub01_EP02_01f"
    assert clip.composite == "negative"  # the demo follows the CASME II MEGC rules
    # the demo tree also passes through the casme2 adapter
    assert len(DATABASES["casme2"](tmp_path).scan().clips) == len(CASME2_ROWS)


def test_flow_apex_finds_the_demo_apex(still_demo_root, tmp_path):
    """With every apex blanked, the flow policy recovers the annotated apex of the synthetic clips
    (the demo without blinks and head motion: those move more than a sub-pixel expression)."""
    import shutil

    import openpyxl

    truth = {c.sample_id: c.apex for c in DATABASES["demo"](still_demo_root).scan().clips}
    root = shutil.copytree(still_demo_root, tmp_path / "demo")
    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    book = openpyxl.load_workbook(sheet)
    rows = list(book.active.iter_rows())
    column = [cell.value for cell in rows[0]].index("ApexFrame")
    for row in rows[1:]:
        row[column].value = "/"
    book.save(sheet)
    clips = DATABASES["demo"](root, apex_policy="flow").scan().clips
    assert {c.apex_source for c in clips} == {"flow"}
    errors = [abs(c.apex - truth[c.sample_id]) for c in clips]
    assert len(clips) == len(truth) and max(errors) <= 1, errors


def test_user_fix_file_in_the_root(tmp_path):
    rows = [dataclasses.replace(CASME2_ROWS[0], offset=90), CASME2_ROWS[1]]
    root = write_casme2(tmp_path, rows=rows)
    (root / "occmer_fixes.csv").write_text(
        "subject,filename,field,value,reason,expect\n"
        "sub01,EP02_01f,offset,58,offset typed as 90,90\n"
        "sub01,EP03_02,emotion,surprise,checked against the video,\n",
        encoding="utf-8",
    )
    clips = by_name(CASME2(root).scan())
    assert clips["EP02_01f"].offset == 58
    assert clips["EP02_01f"].fixes == ("offset 90 -> 58: offset typed as 90",)
    assert clips["EP03_02"].emotion == "surprise"
    assert clips["EP03_02"].composite == ""  # sub01/EP03_02 is not on the official MEGC 2019 list


def test_user_fix_file_errors_name_the_row(tmp_path):
    root = write_casme2(tmp_path, rows=CASME2_ROWS[:1])
    (root / "occmer_fixes.csv").write_text("subject,filename,field,value,reason\nsub01,EP02_01f,subject,2,x\n")
    with pytest.raises(AnnotationError, match=r"occmer_fixes.csv:row 2: cannot fix 'subject'"):
        CASME2(root).scan()
    (root / "occmer_fixes.csv").write_text("subject,filename,field,value,reason\nsub01,EP02_01f,onset,abc,x\n")
    with pytest.raises(AnnotationError, match="frame number"):
        CASME2(root).scan()
