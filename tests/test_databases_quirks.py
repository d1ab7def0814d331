"""Each quirk of the real releases (docs/databases.md, quirks tables), reproduced with synthetic sheets."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from dbfixtures import (
    CASME2_HEADER,
    CASME2X_EXPRESSIONS,
    MMEW_ROWS,
    SammRow,
    write_casme2x,
    write_casme3,
    write_frames,
    write_mmew,
    write_samm,
    write_xlsx,
)

from occmer.cli import cli
from occmer.databases import DATABASES


def by_name(result):
    return {c.filename: c for c in result.clips}


def test_casme2_2019_sheet_ships_objective_classes_in_its_own_column(tmp_path):
    header = (*CASME2_HEADER, "Objective Classes")
    rows = [header, ("01", "EP02_01f", None, 46, 50, 58, None, "12+15", "happiness", 7),
            ("01", "EP03_02", None, 11, 15, 20, None, "4", "others", None)]
    write_xlsx(tmp_path / "CASME2-coding-20190701.xlsx", rows)
    write_xlsx(tmp_path / "CASME2-ObjectiveClasses.xlsx", [("Subject", "Filename", "Objective Class"),
                                                           ("01", "EP02_01f", 1), ("01", "EP03_02", 3)])
    write_frames(tmp_path / "CASME2_RAW_selected" / "sub01" / "EP02_01f", range(46, 59))
    write_frames(tmp_path / "CASME2_RAW_selected" / "sub01" / "EP03_02", range(11, 21))
    clips = by_name(DATABASES["casme2"](tmp_path).scan())
    shipped = clips["EP02_01f"]
    assert (shipped.objective_class, shipped.objective_source) == ("VII", "given")  # derived would say I
    assert shipped.objective_origin == "CASME2-coding-20190701.xlsx: Objective Classes"
    separate = clips["EP03_02"]  # blank in the coding sheet: the separate sheet
    assert separate.objective_class == "III"
    assert separate.objective_origin == "CASME2-ObjectiveClasses.xlsx: Objective Class"


SAMM_TYPOS = (
    SammRow(28, "028_4_1", 1071, 1143, 1134, "A14C", "Contempt", 7, tuple(range(1070, 1136))),
    SammRow(32, "032_3_1", 4896, 1930, 4970, "4A", "Anger", 3, tuple(range(4895, 4972))),
)


def test_samm_apex_typos_are_fixed_with_their_source(tmp_path):
    clips = by_name(DATABASES["samm"](write_samm(tmp_path, rows=SAMM_TYPOS)).scan())
    assert clips["028_4_1"].apex == 1124 and clips["032_3_1"].apex == 4930
    assert clips["028_4_1"].apex_source == "fixed"
    assert "re-saved public copy" in clips["028_4_1"].fixes[0] and "1143 -> 1124" in clips["028_4_1"].fixes[0]
    assert clips["032_3_1"].composite == "negative"  # both are on the official MEGC 2019 list


def test_samm_corrected_release_is_left_alone(tmp_path):
    rows = [SammRow(28, "028_4_1", 1071, 1124, 1134, "A14C", "Contempt", 7, tuple(range(1070, 1136)))]
    clip = DATABASES["samm"](write_samm(tmp_path, rows=rows)).scan().clips[0]
    assert clip.apex == 1124 and clip.fixes == () and clip.apex_source == "annotated"


CASME3_QUIRKS = (
    ("spNO.40", "e", 10, 14, 0, "4", "III", "anger"),  # offset 0 = not annotated
    ("spNO.14", "J", 3, 5, 8, "12", "I", "happy"),  # the sheet writes J, the folder is j
)
CASME3_QUIRK_VIDEOS = {("spNO.40", "e"): range(1, 41), ("spNO.14", "j"): range(1, 12)}


@pytest.mark.parametrize("policy, offset", [("mirror", 18), ("half-second", 25)])
def test_casme3_offset_zero_is_filled_by_the_offset_policy(tmp_path, policy, offset):
    root = write_casme3(tmp_path, rows=CASME3_QUIRKS, videos=CASME3_QUIRK_VIDEOS)
    result = DATABASES["casme3"](root, offset_policy=policy).scan()
    assert result.problems == []
    clip = by_name(result)["e"]
    assert (clip.offset, clip.offset_source) == (offset, policy)  # mirror: 14 + (14 - 10); 30 fps: 10 + 15
    assert any(f"offset not annotated -> {offset}: offset policy {policy}" in line for line in clip.fixes)


def test_casme3_offset_skip_policy_reports_the_row(tmp_path):
    root = write_casme3(tmp_path, rows=CASME3_QUIRKS, videos=CASME3_QUIRK_VIDEOS)
    result = DATABASES["casme3"](root, offset_policy="skip").scan()
    assert [p.message for p in result.problems] == ["offset frame is not annotated"]


def test_casme3_folder_case_mismatch_is_matched_and_recorded(tmp_path):
    root = write_casme3(tmp_path, rows=CASME3_QUIRKS, videos=CASME3_QUIRK_VIDEOS)
    clip = by_name(DATABASES["casme3"](root).scan())["J"]
    assert clip.folder.parent.name == "j" and clip.folder.name == "color"
    assert any("matched case-insensitively" in line for line in clip.fixes)


def test_casme2x_or_without_spaces_and_offset_zero(tmp_path):
    expressions = [*CASME2X_EXPRESSIONS[:1], (1, "disgust1_3", 45, 47, 0, "14or23", "negative", "micro-expression", "x")]
    result = DATABASES["casme2x"](write_casme2x(tmp_path, expressions)).scan()
    clip = by_name(result)["disgust1_3"]
    assert clip.objective_class == "III" and clip.au_unreadable == ()
    assert (clip.offset, clip.offset_source) == (49, "mirror")


def test_mmew_side_letters_after_the_number(tmp_path):
    rows = [(*MMEW_ROWS[0][:5], "12L+6R", *MMEW_ROWS[0][6:])]
    clip = DATABASES["mmew"](write_mmew(tmp_path, rows=rows)).scan().clips[0]
    assert (clip.objective_class, clip.objective_source) == ("I", "derived")


def test_describe_lists_unreadable_au_tokens_and_fixes(tmp_path):
    rows = [SammRow(26, "026_5_1", 10, 12, 16, "R14+17+soft focus", "Other", 7, tuple(range(9, 18))), *SAMM_TYPOS]
    root = write_samm(tmp_path, rows=rows)
    result = CliRunner().invoke(cli, ["describe", "--db", "samm", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "AU tokens not read as AUs (1 clips" in result.output
    assert "samm_026_026_5_1: 'R14+17+soft focus': 'soft focus'" in result.output
    assert "apex 1930 -> 4930" in result.output
    assert "objective class: given (SAMM_Micro_FACS_Codes_v2.xlsx: Objective Classes) 3" in result.output


def test_describe_protocol_reports_membership(tmp_path):
    root = write_samm(tmp_path, rows=SAMM_TYPOS)
    result = CliRunner().invoke(cli, ["describe", "--db", "samm", "--root", str(root), "--protocol", "megc2019"])
    assert result.exit_code == 0, result.output
    assert ("protocol megc2019: official list: 2/442 present; missing: all 145 casme2 clips; all 164 smic-hs "
            "clips; samm/6/006_1_2") in result.output


def test_describe_says_what_the_scheme_leaves_out_per_database(tmp_path):
    rows = [*SAMM_TYPOS, SammRow(99, "099_1_1", 10, 12, 16, "12", "Happiness", 1, tuple(range(9, 18)))]
    result = CliRunner().invoke(cli, ["describe", "--db", "samm", "--root", str(write_samm(tmp_path, rows=rows)),
                                      "--labels", "megc2019"])
    assert "not in scheme megc2019 (left out by it): samm 1" in result.output  # 099_1_1 is not on the list


def test_skip_invalid_counts_what_it_left_out_per_database_and_reason():
    from occmer.databases.base import Problem
    from occmer.databases.summary import left_out_lines

    problems = [Problem("casme2_sub01_a", "p", "clip folder not found: /x (listed at s)"),
                Problem("casme2_sub02_b", "p", "clip folder not found: /y"),
                Problem("samm_006_c", "p", "3 frames inside onset..offset 1..9 are missing: 2, 3, 4")]
    assert left_out_lines(problems) == [
        "left out: casme2: 2 (clip folder not found)",
        "left out: samm: 1 (N frames inside onset..offset N..N are missing)",
    ]
