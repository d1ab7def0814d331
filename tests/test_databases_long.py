"""Long-video adapters (issue 29): each reads a synthetic release in its real layout, and hostile trees."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.databases.long_video import LONG_VIDEO_DATABASES, get_long_database
from occmer.errors import DataError
from tests.dbfixtures import (
    CASME2X_LONG_EXPRESSIONS,
    LONG_EXPECTED,
    SAMM_LONG_ROWS,
    SAMM_LONG_VIDEOS,
    write_casme2x_long,
    write_long_database,
    write_samm_long,
)


def scan(name, root, **options):
    return get_long_database(name, root, **options).scan()


@pytest.mark.parametrize("name", sorted(LONG_EXPECTED))
def test_each_adapter_reads_its_fixture(name, tmp_path):
    assert name in LONG_VIDEO_DATABASES
    result = scan(name, write_long_database(name, tmp_path))
    expected = LONG_EXPECTED[name]
    assert result.problems == []
    assert len(result.videos) == expected["videos"]
    assert sum(len(v.micro) for v in result.videos) == expected["micro"]
    assert sum(len(v.macro) for v in result.videos) == expected["macro"]
    for video in result.videos:
        assert video.database == name and video.subject.startswith(f"{name}/")
        assert video.fps == LONG_VIDEO_DATABASES[name].fps
        numbers = [n for n, _ in video.frames]
        assert numbers == sorted(numbers) and all(p.is_file() for _, p in video.frames)
        assert all(numbers[0] <= i.onset <= i.offset <= numbers[-1] for i in video.intervals)
    assert len({v.video_id for v in result.videos}) == len(result.videos)


def test_casme2x_long_frames_kinds_and_policies(tmp_path):
    videos = {v.video_id: v for v in scan("casme2x-long", write_casme2x_long(tmp_path)).videos}
    assert set(videos) == {"casme2x-long_s15_0101", "casme2x-long_s15_0401", "casme2x-long_s16_0401"}
    disgust = videos["casme2x-long_s15_0101"]
    assert disgust.fps == 30.0 and disgust.frames[0][0] == 1 and disgust.frames[-1][0] == 80
    assert [(i.onset, i.apex, i.offset, i.kind) for i in disgust.intervals] == [
        (10, 14, 20, "micro"), (30, 40, 60, "macro"), (62, 66, 66, "macro")]  # absolute frames; offset 0 -> apex
    assert disgust.intervals[0].action_units == "4+7" and "row 1" in disgust.intervals[0].source
    assert any("offset 0 is not annotated -> the apex 66" in n for n in disgust.notes)
    anger = videos["casme2x-long_s16_0401"].intervals[0]
    assert (anger.onset, anger.apex, anger.offset) == (20, None, 30)  # apex 31 after offset 30: not used
    assert any("apex 31 lies outside" in n for n in videos["casme2x-long_s16_0401"].notes)


def test_casme2x_clip_adapter_unchanged_by_the_shared_reading(tmp_path):
    from occmer.databases import DATABASES

    clips = DATABASES["casme2x"](write_casme2x_long(tmp_path)).scan().clips
    assert sorted((c.subject, c.onset, c.offset) for c in clips) == [
        ("casme2x/s15", 5, 14), ("casme2x/s15", 10, 20)]


def test_samm_long_notes_above_header_and_apex_minus_one(tmp_path):
    videos = {v.video_id: v for v in scan("samm-long", write_samm_long(tmp_path)).videos}
    assert set(videos) == {"samm-long_006_1", "samm-long_007_2"}
    video = videos["samm-long_006_1"]
    assert video.fps == 200.0 and video.subject == "samm-long/006" and video.frames[0][0] == 1
    assert [(i.onset, i.apex, i.offset, i.kind) for i in video.intervals] == [
        (20, 30, 70, "macro"), (80, 84, 95, "micro"), (100, None, 112, "micro")]


def test_casme3a_long_repeated_filename_and_case(tmp_path):
    videos = {v.video_id: v for v in scan("casme3a-long", write_long_database("casme3a-long", tmp_path)).videos}
    assert len(videos["casme3a-long_spNO.1_a"].intervals) == 2
    j = videos["casme3a-long_spNO.1_J"]
    assert j.folder.parent.name == "j" and any("case-insensitively" in n for n in j.notes)
    assert [(i.onset, i.offset, i.kind, i.objective_class) for i in videos["casme3a-long_spNO.2_a"].intervals] == [
        (10, 14, "micro", "IV")]


def test_casme3a_long_reads_a_macro_sheet_beside_the_me_sheet(tmp_path):
    from tests.dbfixtures import CASME3_HEADER, write_workbook

    root = write_long_database("casme3a-long", tmp_path)
    write_workbook(root / "annotation" / "cas(me)3_part_A_MaE_label.xlsx",
                   {"label": [CASME3_HEADER, ("spNO.1", "a", 40, 45, 55, None, "12", "I", "happy")]})
    video = next(v for v in scan("casme3a-long", root).videos if v.video_id == "casme3a-long_spNO.1_a")
    assert [(i.onset, i.kind) for i in video.macro] == [(40, "macro")] and len(video.micro) == 2


def _problems_by_video(result):
    return {p.sample_id: p for p in result.problems}


def test_hostile_rows_leave_their_videos_out_with_a_problem_each(tmp_path):
    rows = (
        *SAMM_LONG_ROWS,
        ("008", "008_1_1", 5, 9, 20, "Micro - 1/2", "4"),  # no folder for video 008_1
        ("007", "007_2_3", 95, 99, 130, "Macro", "4"),  # beyond the last frame (100)
        ("007", "007_2_4", 40, 38, 35, "Macro", "4"),  # offset < onset
        ("006", "006_1_4", 5, 6, 8, "Blink", "45"),  # unknown type
        ("006", "006_1_5", 12.5, 13, 18, "Macro", "4"),  # not a whole frame number
        ("006", "../../etc_1_1", 5, 6, 8, "Macro", "4"),  # a path in the filename cell
    )
    result = scan("samm-long", write_samm_long(tmp_path, rows=rows, videos=SAMM_LONG_VIDEOS))
    assert result.videos == []
    messages = " | ".join(str(p) for p in result.problems)
    assert "clip folder not found" in messages and "008_1" in messages
    assert "outside the video's frames 1..100" in messages
    assert "offset 35 < onset 40" in messages
    assert "type 'Blink'" in messages
    assert "not a whole frame number: 12.5" in messages
    assert "not a plain folder name" in messages
    assert all(p.fix for p in result.problems)
    assert all("SAMM_LongVideos_V2_Release.xlsx" in p.path or "008_1" in p.path for p in result.problems)
    with pytest.raises(DataError, match="problems in samm-long"):
        scan("samm-long", tmp_path, strict=True)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinked_video_folder_out_of_the_root_is_refused(tmp_path):
    root = write_casme2x_long(tmp_path / "release")
    outside = tmp_path / "elsewhere" / "16_0401girlcrashing"
    (root / "rawpic" / "s16" / "16_0401girlcrashing").rename(outside.parent.mkdir(parents=True) or outside)
    (root / "rawpic" / "s16" / "16_0401girlcrashing").symlink_to(outside, target_is_directory=True)
    result = scan("casme2x-long", root)
    assert [p.sample_id for p in result.problems] == ["casme2x-long_s16_0401"]
    assert "through a symlink" in result.problems[0].message
    assert len(scan("casme2x-long", root, follow_symlinks=True).videos) == 3


def test_apple_double_files_are_not_frames(tmp_path):
    root = write_samm_long(tmp_path)
    (root / "SAMM_longvideos" / "006_1" / "._006_1_0005.jpg").write_bytes(b"\x00\x05\x16\x07")
    video = next(v for v in scan("samm-long", root).videos if v.video_id == "samm-long_006_1")
    assert len(video.frames) == 120 and any("AppleDouble" in n for n in video.notes)


def test_nul_byte_in_a_csv_sheet_names_file_and_line(tmp_path):
    from occmer.errors import AnnotationError

    root = write_samm_long(tmp_path)
    (root / "SAMM_LongVideos_V2_Release.xlsx").unlink()
    (root / "SAMM_LongVideos_V2_Release.csv").write_bytes(
        b"Subject,Filename,Inducement Code,Onset,Apex,Offset,Duration,Type,Action Units,Notes\n"
        b"006,006_1_1,1,20,30,70,51,Macro,4,\n006,006_1_2,1,8\x000,84,95,16,Micro - 1/2,4,\n")
    with pytest.raises(AnnotationError, match="line 3 holds a NUL byte"):
        scan("samm-long", root)


def test_sheet_row_for_a_missing_subject_code(tmp_path):
    expressions = (*CASME2X_LONG_EXPRESSIONS, (9, "disgust1_1", 10, 12, 14, "4", "negative", "micro-expression", ""))
    result = scan("casme2x-long", write_casme2x_long(tmp_path, expressions=expressions))
    assert len(result.videos) == 3
    assert [p.message for p in result.problems] == ["subject 9 is not in the naming sheets"]


def test_describe_long(tmp_path):
    root = write_samm_long(tmp_path / "samm")
    out = CliRunner().invoke(cli, ["describe", "--db", "samm-long", "--root", str(root)])
    assert out.exit_code == 0, out.output
    assert "videos: 2 valid, 0 with problems" in out.output
    assert "expressions: 3 micro, 2 macro" in out.output and "samm-long_006_1" in out.output
    bad = write_samm_long(tmp_path / "bad", rows=(*SAMM_LONG_ROWS, ("007", "007_2_9", 95, 99, 130, "Macro", "4")))
    strict = CliRunner().invoke(cli, ["describe", "--db", "samm-long", "--root", str(bad), "--strict"])
    assert strict.exit_code == 2 and "outside the video's frames" in strict.output
    listed = CliRunner().invoke(cli, ["describe", "--list"])
    assert all(name in listed.output for name in LONG_VIDEO_DATABASES)
