"""Every adapter on its fixture tree: counts, labels, layout quirks and broken inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dbfixtures import (
    CASME2X_EXPRESSIONS,
    EXPECTED_CLIPS,
    SAMM_ROWS,
    write_casme2x,
    write_casme3,
    write_database,
    write_folder_db,
    write_mmew,
    write_samm,
    write_smic,
    write_workbook,
)

from occmer.databases import DATABASES
from occmer.errors import AnnotationError, DataError


def clips_by(result, key="filename"):
    return {getattr(c, key): c for c in result.clips}


@pytest.mark.parametrize("name", sorted(EXPECTED_CLIPS))
def test_every_adapter_reads_its_fixture(tmp_path, name):
    result = DATABASES[name](write_database(name, tmp_path)).scan()
    assert result.problems == []
    assert len(result.clips) == EXPECTED_CLIPS[name]
    ids = [c.sample_id for c in result.clips]
    assert len(set(ids)) == len(ids)
    for clip in result.clips:
        assert clip.sample_id.isascii() and "/" not in clip.sample_id and " " not in clip.sample_id
        assert clip.sample_id.startswith(name.replace("/", "_"))
        assert clip.database == name and clip.subject.startswith(f"{name}/")
        assert clip.onset <= clip.apex <= clip.offset
        assert set((clip.onset, clip.apex, clip.offset)) <= set(clip.frame_numbers)
        assert list(clip.frame_numbers) == sorted(clip.frame_numbers)


@pytest.mark.parametrize("name", sorted(set(EXPECTED_CLIPS) - {"folder"}))
def test_every_adapter_names_what_is_missing_in_an_empty_root(tmp_path, name):
    with pytest.raises(DataError) as info:
        DATABASES[name](tmp_path).scan()
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------------------------- SAMM


def test_samm_header_after_notes_and_given_classes(tmp_path):
    clips = clips_by(DATABASES["samm"](write_samm(tmp_path)).scan())
    first = clips["006_1_2"]
    assert first.subject == "samm/006" and first.sample_id == "samm_006_006_1_2"
    assert (first.onset, first.apex, first.offset) == (5562, 5566, 5572)
    assert first.frames[0][1].name == "006_05560.jpg"
    assert (first.emotion, first.objective_class, first.objective_source) == ("contempt", "VII", "given")
    assert first.composite == "negative"  # SAMM contempt counts as negative
    happy = clips["006_1_3"]
    assert happy.apex_source == "midpoint" and happy.apex == 1205
    # the official MEGC 2019 list decides for the clips it holds, whatever the sheet's emotion says
    assert (happy.objective_class, happy.composite) == ("I", "negative")
    other = clips["011_2_1"]
    assert other.emotion == "others"
    assert other.composite == "negative"  # 011_2_1 is on the official list as negative
    assert (other.objective_class, other.objective_source) == ("I", "derived")  # blank class: from L12


def test_samm_nested_folder_and_grayscale(tmp_path):
    import cv2

    result = DATABASES["samm"](write_samm(tmp_path, nested=True)).scan()
    assert len(result.clips) == len(SAMM_ROWS)
    image = cv2.imread(str(result.clips[0].frames[0][1]), cv2.IMREAD_UNCHANGED)
    assert image.ndim == 2


def test_samm_negative_apex_is_missing_and_bad_rows_are_problems(tmp_path):
    rows = [
        dataclasses.replace(SAMM_ROWS[0], apex=-1),
        dataclasses.replace(SAMM_ROWS[2], onset=95),  # onset after offset 90
        dataclasses.replace(SAMM_ROWS[3], frames=None),
    ]
    result = DATABASES["samm"](write_samm(tmp_path, rows=rows)).scan()
    assert [c.apex_source for c in result.clips] == ["midpoint"]
    assert {p.sample_id for p in result.problems} == {"samm_007_007_3_1", "samm_007_007_5_2"}


def test_samm_sheet_without_header_is_named(tmp_path):
    write_samm(tmp_path)
    write_workbook(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", {"Sheet1": [("Subj", "File")] * 3})
    with pytest.raises(AnnotationError, match="SAMM_Micro_FACS_Codes_v2.xlsx: no header row"):
        DATABASES["samm"](tmp_path).scan()


# ---------------------------------------------------------------------------------- SMIC


@pytest.mark.parametrize("name", ["smic-hs", "smic-vis", "smic-nir"])
def test_smic_whole_folder_clips(tmp_path, name):
    result = DATABASES[name](write_smic(tmp_path)).scan()
    clips = clips_by(result)
    clip = clips["s1_ne_01"]
    assert (clip.onset, clip.offset) == (26573, 26580)
    assert clip.apex_source == "midpoint" and clip.apex == 26576
    assert clip.emotion == "negative" and clip.composite == "negative"
    assert clip.objective_class == "" and clip.objective_source == ""
    assert clips["s2_sur_01"].composite == "surprise"
    assert [c.subject for c in result.clips][-1] == f"{name}/s10"  # natural order: s10 after s2


def test_smic_accepts_the_camera_folder_as_root(tmp_path):
    write_smic(tmp_path, cameras=("HS",))
    assert len(DATABASES["smic-hs"](tmp_path / "HS").scan().clips) == EXPECTED_CLIPS["smic-hs"]


def test_smic_unknown_emotion_folder_and_empty_clip_are_problems(tmp_path):
    write_smic(tmp_path, cameras=("HS",))
    (tmp_path / "HS" / "s1" / "micro" / "happy" / "s1_ha_01").mkdir(parents=True)
    (tmp_path / "HS" / "s2" / "micro" / "surprise" / "s2_sur_02").mkdir(parents=True)
    result = DATABASES["smic-hs"](tmp_path).scan()
    messages = " | ".join(str(p) for p in result.problems)
    assert "unknown emotion folder 'happy'" in messages
    assert "no frames" in messages
    assert len(result.clips) == EXPECTED_CLIPS["smic-hs"]


def test_smic_flow_apex_reads_bmp(tmp_path):
    write_smic(tmp_path, cameras=("NIR",))
    clip = clips_by(DATABASES["smic-nir"](tmp_path, apex_policy="flow").scan())["s2_sur_01"]
    assert clip.apex_source == "flow" and 95 <= clip.apex <= 104


# ---------------------------------------------------------------------------------- CAS(ME)^3


def test_casme3_repeated_filenames_get_unique_ids(tmp_path):
    result = DATABASES["casme3"](write_casme3(tmp_path)).scan()
    ids = [c.sample_id for c in result.clips]
    assert ids == ["casme3_spNO.1_a_5", "casme3_spNO.1_a_30", "casme3_spNO.1_b", "casme3_spNO.2_a"]
    first, second = result.clips[0], result.clips[1]
    assert first.folder == second.folder and first.folder.name == "color"
    assert (first.emotion, second.emotion) == ("anger", "happiness")
    assert (first.objective_class, first.objective_source) == ("III", "given")
    assert (result.clips[2].objective_class, result.clips[2].objective_source) == ("II", "derived")
    assert result.clips[3].apex_source == "midpoint" and result.clips[3].apex == 13


# ---------------------------------------------------------------------------------- MMEW


def test_mmew_clip_found_in_another_emotion_folder(tmp_path):
    clips = clips_by(DATABASES["mmew"](write_mmew(tmp_path)).scan())
    assert clips["S02_dis_1"].folder.parent.name == "fear"
    assert clips["S02_dis_1"].objective_class == "IV"
    assert clips["S01_happy_1"].objective_class == "I"  # R6+R12
    assert clips["S01_happy_1"].composite == "positive"
    assert clips["S02_others_1"].composite == ""


# ---------------------------------------------------------------------------------- CAS(ME)^2


def test_casme2x_naming_sheets_and_micro_only(tmp_path):
    result = DATABASES["casme2x"](write_casme2x(tmp_path)).scan()
    clips = clips_by(result)
    assert set(clips) == {"disgust1_1", "disgust1_3", "anger1_1"}  # the macro-expression is left out
    assert clips["disgust1_1"].subject == "casme2x/s15"
    assert clips["disgust1_1"].folder.name == "15_0101disgustingteeth"
    assert clips["disgust1_3"].folder == clips["disgust1_1"].folder
    assert clips["anger1_1"].folder.name == "16_0401girlcrashing"
    assert clips["disgust1_3"].emotion == "positive" and clips["disgust1_3"].composite == "positive"


def test_casme2x_unknown_video_is_a_problem(tmp_path):
    rows = (*CASME2X_EXPRESSIONS, (2, "sad9_1", 1, 2, 3, "15", "sadness", "micro-expression", "sad"))
    result = DATABASES["casme2x"](write_casme2x(tmp_path, expressions=rows)).scan()
    assert [p.sample_id for p in result.problems] == ["casme2x_2_sad9_1"]
    assert "video 'sad9' is not in the naming sheets" in result.problems[0].message


# ---------------------------------------------------------------------------------- folder


def test_folder_manifest(tmp_path):
    result = DATABASES["folder"](write_folder_db(tmp_path)).scan()
    clips = clips_by(result, "sample_id")
    take1 = clips["folder_p1_take1"]
    assert (take1.onset, take1.apex, take1.offset, take1.emotion) == (3, 5, 8, "happiness")
    assert take1.frames[0][1].name == "frame_001.png"
    whole = clips["folder_p1_take2"]
    assert (whole.onset, whole.offset) == (1, 6) and whole.apex_source == "midpoint"
    assert (whole.objective_class, whole.objective_source) == ("II", "given")
    assert clips["folder_p2_take1"].objective_class == "IV"  # R10


def test_folder_manifest_rejects_escaping_paths(tmp_path):
    manifest = "subject,folder\np1,../outside\np2,clips/p2/take1\n"
    write_folder_db(tmp_path, manifest)
    result = DATABASES["folder"](tmp_path).scan()
    assert len(result.clips) == 1
    assert "without '..'" in result.problems[0].message


def test_folder_manifest_missing_column(tmp_path):
    write_folder_db(tmp_path, "who,where\np1,clips/p1/take1\n")
    with pytest.raises(AnnotationError, match="subject"):
        DATABASES["folder"](tmp_path).scan()


def test_fixture_frames_are_tiny_and_face_free(tmp_path):
    import cv2

    clip = DATABASES["casme2"](write_database("casme2", tmp_path)).scan().clips[0]
    image = cv2.imread(str(clip.frames[0][1]))
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8


def test_demo_adapter_takes_its_frame_rate_from_demo_json(tmp_path):
    """A demo built with the smic preset is 100 fps (the offset policy uses it); a bad or absent record keeps 200."""
    import json

    demo = DATABASES["demo"]
    assert demo(tmp_path).fps == 200.0
    (tmp_path / "demo.json").write_text(json.dumps({"recording": {"name": "smic", "fps": 100.0}}))
    assert demo(tmp_path).fps == 100.0
    for bad in ('{"recording": {"fps": -5}}', '{"recording": {"fps": true}}', '[1, 2]', "not json"):
        (tmp_path / "demo.json").write_text(bad)
        assert demo(tmp_path).fps == 200.0
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json"
    outside.write_text(json.dumps({"recording": {"fps": 30.0}}))
    (tmp_path / "demo.json").unlink()
    (tmp_path / "demo.json").symlink_to(outside)
    assert demo(tmp_path).fps == 200.0 and demo(tmp_path, follow_symlinks=True).fps == 30.0
