"""The synthetic demo database: layout, labels, determinism, and motion really applied where the AUs say."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from occmer.cli import cli
from occmer.demo import (
    CLASSES,
    CODING_SHEET,
    MANIFEST,
    OBJECTIVE_SHEET,
    DemoParams,
    actions,
    build,
    build_demo_database,
    cache,
    default_cache_dir,
    ensure_demo_database,
    motion,
    read_manifest,
)
from occmer.demo.classes import AppliedUnit
from occmer.errors import ConfigError
from occmer.faces import topology
from occmer.faces.landmarks import MediapipeBackend
from occmer.labels import parse_action_units

SMALL = {"subjects": 2, "clips_per_subject": 7, "frames": 12, "size": 160}
# The same database with every distractor off and a fixed, clearly visible amplitude: where
# the motion is can then be checked against the applied action units alone.
STILL = {**SMALL, "head_motion": 0.0, "blink_share": 0.0, "flicker": 0.0, "amplitude_median_px": 2.5,
         "amplitude_spread": 0.0}
# FACS: where each action unit acts (the landmark groups of occmer.demo.actions.GROUPS).
AU_PLACES = {
    1: {"brow"}, 2: {"brow"}, 4: {"brow"}, 5: {"eye"}, 6: {"cheek", "eye"}, 7: {"eye"},
    9: {"nose_wing", "nose_root", "brow"}, 10: {"upper_lip", "nose_wing"}, 12: {"mouth_corner"},
    14: {"mouth_corner"}, 15: {"mouth_corner", "lower_lip"}, 17: {"chin", "lower_lip"}, 20: {"mouth_corner"},
    23: {"mouth_corner", "upper_lip", "lower_lip"}, 24: {"upper_lip", "lower_lip"}, 25: {"upper_lip", "lower_lip"},
    26: {"chin", "lower_lip"}, 38: {"nose_wing"}, 40: {"nose_wing"},
}


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    return build_demo_database(tmp_path_factory.mktemp("demo") / "db", seed=0, **SMALL)


@pytest.fixture(scope="module")
def manifest(demo_root) -> dict:
    return read_manifest(demo_root)


@pytest.fixture(scope="module")
def still_root(tmp_path_factory) -> Path:
    return build_demo_database(tmp_path_factory.mktemp("still") / "db", seed=0, **STILL)


@pytest.fixture(scope="module")
def still_manifest(still_root) -> dict:
    return read_manifest(still_root)


def gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, path
    return image


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def frame_path(root: Path, clip: dict, number: int) -> Path:
    return root / clip["folder"] / f"img{number}.jpg"


def region_mask(clip: dict, shape: tuple[int, int], units: set[int] | None = None, radius: float = 1.5) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    mask = np.zeros(shape, bool)
    for region in clip["regions"]:
        if units is None or region["unit"] in units:
            cx, cy = region["centre"]
            mask |= (xx - cx) ** 2 + (yy - cy) ** 2 < (radius * region["sigma_px"]) ** 2
    return mask


# --- pure pieces -------------------------------------------------------------------------------


def test_intensity_profile_is_zero_outside_and_one_at_apex():
    for seed in range(20):
        timeline = motion.draw_timeline(30, np.random.default_rng(seed))
        numbers = np.array(timeline.numbers)
        profile = motion.intensity_profile(timeline)
        assert numbers[0] < timeline.onset < timeline.apex < timeline.offset < numbers[-1]
        assert timeline.onset - numbers[0] >= 2 and numbers[-1] - timeline.offset >= 2
        assert np.all(profile[numbers <= timeline.onset] == 0) and np.all(profile[numbers >= timeline.offset] == 0)
        assert profile[timeline.index(timeline.apex)] == 1.0
        rise = profile[timeline.index(timeline.onset) : timeline.index(timeline.apex) + 1]
        assert np.all(np.diff(rise) > 0)


def test_shortest_clip_still_has_a_rise_and_a_fall():
    for seed in range(30):
        t = motion.draw_timeline(motion.MIN_FRAMES, np.random.default_rng(seed))
        assert t.onset < t.apex < t.offset


def test_backward_map_moves_content_forward_by_the_field():
    h, w = 64, 80
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / (2 * 9.0**2))
    field = np.stack([1.5 * bump, -3.0 * bump], axis=-1).astype(np.float32)
    shift = np.array([0.2, -0.1])
    angle, zoom = np.deg2rad(0.5), 1.004
    linear = zoom * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = np.hstack([linear, shift[:, None]])
    map_x, map_y = motion.backward_map(0.8 * field, affine)
    # The content at source p lands on target q: q == A(p + 0.8 * field(p)).
    sampled = cv2.remap(field, map_x, map_y, cv2.INTER_LINEAR)
    moved_x, moved_y = map_x + 0.8 * sampled[..., 0], map_y + 0.8 * sampled[..., 1]
    landed_x = linear[0, 0] * moved_x + linear[0, 1] * moved_y + shift[0]
    landed_y = linear[1, 0] * moved_x + linear[1, 1] * moved_y + shift[1]
    inner = (slice(5, -5), slice(5, -5))
    assert np.abs(landed_x - xx)[inner].max() < 0.02 and np.abs(landed_y - yy)[inner].max() < 0.02


@pytest.fixture(scope="module")
def astronaut_landmarks(demo_portrait_landmarks) -> np.ndarray:
    return demo_portrait_landmarks


def field_at(result: actions.ExpressionField, point: np.ndarray) -> np.ndarray:
    x, y = np.round(point).astype(int)
    return result.field[y, x]


@pytest.mark.parametrize(
    ("units", "group", "expect"),
    [
        ((1, 2), topology.RIGHT_BROW, "up"),
        ((4, 7), topology.RIGHT_BROW, "down"),
        ((6, 12), (topology.MOUTH_RIGHT_CORNER,), "up-outward"),
        ((6, 12), (topology.MOUTH_LEFT_CORNER,), "up-outward-left"),
    ],
)
def test_expression_field_moves_the_named_regions_the_right_way(astronaut_landmarks, units, group, expect):
    applied = tuple(AppliedUnit(u, "both", "C") for u in units)
    result = actions.expression_field(astronaut_landmarks, applied, (200, 200), peak_px=3.0)
    magnitude = np.hypot(result.field[..., 0], result.field[..., 1])
    assert magnitude.max() == pytest.approx(3.0, rel=1e-5)
    d = field_at(result, astronaut_landmarks[list(group)].mean(axis=0))
    assert np.hypot(*d) > 1.0
    checks = {
        "up": d[1] < -0.9 * np.hypot(*d),
        "down": d[1] > 0.5 * np.hypot(*d),
        "up-outward": d[1] < 0 and d[0] < 0,  # subject's right corner is on the image's left
        "up-outward-left": d[1] < 0 and d[0] > 0,
    }
    assert checks[expect]
    # Far from every acting region nothing moves: chin and nose tip stay put (no global motion).
    for still in (topology.CHIN_BOTTOM, topology.NOSE_TIP) if units != (6, 12) else (topology.FOREHEAD_TOP,):
        assert np.hypot(*field_at(result, astronaut_landmarks[still])) < 0.05


def test_unit_peaks_name_only_the_applied_units(astronaut_landmarks):
    applied = tuple(AppliedUnit(u, "both", "B") for u in (1, 2, 5))
    result = actions.expression_field(astronaut_landmarks, applied, (200, 200), peak_px=2.0)
    assert set(result.unit_peaks_px) == {1, 2, 5}
    assert max(result.unit_peaks_px.values()) <= 2.0 + 1e-6
    assert all(v > 0.3 for v in result.unit_peaks_px.values())


@pytest.mark.parametrize("clips", [1, 2, 3, 4, 6, 7, 9])
def test_balanced_classes_are_balanced_per_subject_and_overall(clips):
    params = DemoParams(subjects=6, clips_per_subject=clips)
    dealt = build.subject_classes(params)
    overall = {name: 0 for name in CLASSES}
    for names in dealt.values():
        counts = [names.count(name) for name in CLASSES]
        assert len(names) == clips and max(counts) - min(counts) <= 1
        for name in names:
            overall[name] += 1
    assert max(overall.values()) - min(overall.values()) <= 1


@pytest.mark.parametrize(
    ("option", "value"),
    [("seed", -1), ("subjects", 0), ("subjects", 500), ("clips_per_subject", 0), ("frames", 11), ("size", 64),
     ("blink_share", 1.5), ("head_motion", -1.0), ("flicker", 0.5), ("amplitude_median_px", 0.0)],
)
def test_bad_sizes_are_config_errors_naming_the_option(option, value):
    flag = {"blink_share": "blinks", "amplitude_median_px": "amplitude"}.get(option, option.replace("_", "-"))
    with pytest.raises(ConfigError, match=flag):
        DemoParams(**{option: value}).validate()


@pytest.mark.parametrize(("option", "value"), [("preset", "casme4"), ("balance", "smic")])
def test_unknown_preset_or_balance_lists_the_choices(option, value):
    with pytest.raises(ConfigError, match="choose one of"):
        DemoParams(**{option: value}).validate()


# --- the built database ------------------------------------------------------------------------


def test_layout_is_casme2(demo_root, manifest):
    assert sorted(p.name for p in demo_root.iterdir()) == sorted(
        [CODING_SHEET, OBJECTIVE_SHEET, MANIFEST, "sub01", "sub02"]
    )
    assert len(manifest["clips"]) == 14
    for clip in manifest["clips"]:
        folder = demo_root / clip["folder"]
        assert folder.parent.name == f"sub{clip['subject']:02d}" and folder.name == clip["filename"]
        files = sorted(folder.iterdir(), key=lambda p: int(p.stem[3:]))
        assert [p.name for p in files] == [f"img{n}.jpg" for n in clip["frames"]]
        assert clip["frames"] == list(range(clip["frames"][0], clip["frames"][0] + SMALL["frames"]))
        assert clip["frames"][0] <= clip["onset"] < clip["apex"] < clip["offset"] <= clip["frames"][-1]
        image = cv2.imread(str(files[0]))
        assert image.shape == (SMALL["size"], SMALL["size"], 3)


def test_coding_sheet_has_casme2_columns_exactly(demo_root):
    header = [cell.value for cell in next(load_workbook(demo_root / CODING_SHEET).active.iter_rows(max_row=1))]
    assert header == [
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
    ]
    table = pd.read_excel(demo_root / CODING_SHEET)
    assert list(table.columns)[2] == "Unnamed: 2" and list(table.columns)[6] == "Unnamed: 6"
    assert table["Subject"].dtype.kind == "i" and table["OnsetFrame"].dtype.kind == "i"
    objective = pd.read_excel(demo_root / OBJECTIVE_SHEET)
    assert list(objective.columns) == ["Subject", "Filename", "Objective Class"]


def test_sheet_labels_agree_with_the_applied_motion(demo_root, manifest):
    coding = pd.read_excel(demo_root / CODING_SHEET, dtype={"Action Units": str})
    objective = pd.read_excel(demo_root / OBJECTIVE_SHEET)
    assert len(coding) == len(objective) == len(manifest["clips"])
    for clip, row, obj in zip(
        manifest["clips"], coding.itertuples(index=False), objective.itertuples(index=False), strict=True
    ):
        subject, filename, _, onset, apex, offset, _, units, emotion = row
        assert (subject, filename) == (clip["subject"], clip["filename"]) == (obj[0], obj[1])
        assert (onset, apex, offset) == (clip["onset"], clip["apex"], clip["offset"])
        applied = {int(u) for u in clip["unit_peak_px"]}  # units whose field was really added
        assert units == clip["action_units_text"] and parse_action_units(units) == [frozenset(applied)]
        assert applied == set(clip["action_units"])
        assert obj[2] == clip["objective_class"] and emotion == CLASSES[obj[2]].emotion == clip["emotion"]
        assert 0.2 <= clip["apex_displacement_px"] * 200 / SMALL["size"] <= 6.0


def test_classes_are_balanced_within_each_subject(manifest):
    for subject in (1, 2):
        names = sorted(c["objective_class"] for c in manifest["clips"] if c["subject"] == subject)
        assert names == sorted(CLASSES)


def test_ground_truth_records_every_applied_change(manifest):
    for clip in manifest["clips"]:
        count = len(clip["frames"])
        assert len(clip["intensity"]) == len(clip["illumination_gain"]) == count
        head = clip["head_motion"]
        assert len(head["translation_px"]) == len(head["roll_deg"]) == len(head["zoom"]) == len(head["yaw_deg"]) == count
        assert [u["unit"] for u in clip["applied_units"]] == clip["action_units"]
        assert all(u["side"] in ("both", "L", "R", "A") and u["intensity"] in "ABCDE" for u in clip["applied_units"])
        if clip["blink"] is not None:
            assert clip["blink"]["action_unit"] == 45 and len(clip["blink"]["closure"]) == count
    assert manifest["recording"]["fps"] == 200.0 and manifest["generator_version"] == 2


def test_same_seed_same_bytes_other_seed_other_frames(demo_root, tmp_path):
    again = build_demo_database(tmp_path / "again", seed=0, **SMALL)
    other = build_demo_database(tmp_path / "other", seed=1, **SMALL)
    frames = sorted(p.relative_to(demo_root) for p in demo_root.rglob("*.jpg"))
    assert frames == sorted(p.relative_to(again) for p in again.rglob("*.jpg"))
    assert all((demo_root / f).read_bytes() == (again / f).read_bytes() for f in frames)
    assert read_manifest(again)["clips"] == read_manifest(demo_root)["clips"]
    assert read_manifest(other)["clips"] != read_manifest(demo_root)["clips"]
    digests = {hashlib.sha256((demo_root / f).read_bytes()).digest() for f in frames}
    assert not digests & {hashlib.sha256(p.read_bytes()).digest() for p in other.rglob("*.jpg")}


def test_motion_is_where_the_action_units_say(still_root, still_manifest):
    for clip in still_manifest["clips"]:
        onset = gray(frame_path(still_root, clip, clip["onset"]))
        apex = gray(frame_path(still_root, clip, clip["apex"]))
        uv = flow(onset, apex)
        magnitude = np.hypot(uv[..., 0], uv[..., 1])
        acting = region_mask(clip, magnitude.shape, radius=1.0)
        quiet = ~region_mask(clip, magnitude.shape, radius=3.0)
        peak = clip["apex_displacement_px"]
        inside = float(np.percentile(magnitude[acting], 90))
        outside = float(np.median(magnitude[quiet]))
        assert 0.4 * peak < inside < 1.5 * peak + 0.5, clip["sample_id"]
        assert outside < 0.25, clip["sample_id"]
        assert inside > 3 * outside, clip["sample_id"]
        # The direction: brows up for AU1, brows down for AU4, lip corners up for AU12 (where no
        # other AU of the clip pulls the same place another way).
        conflicts = {1: {4, 9}, 4: {1, 2}, 12: {14, 15, 20, 23}}
        for unit, sign in ((1, -1), (4, +1), (12, -1)):
            if unit in clip["action_units"] and not conflicts[unit] & set(clip["action_units"]):
                v = float(np.median(uv[..., 1][region_mask(clip, magnitude.shape, {unit}, radius=0.7)]))
                assert sign * v > 0.3 * peak, (clip["sample_id"], unit, v)


def test_no_expression_motion_before_onset(still_root, still_manifest):
    for clip in still_manifest["clips"]:
        first, onset = clip["frames"][0], clip["onset"]
        uv = flow(gray(frame_path(still_root, clip, first)), gray(frame_path(still_root, clip, onset)))
        acting = region_mask(clip, uv.shape[:2], radius=1.0)
        assert float(np.percentile(np.hypot(uv[..., 0], uv[..., 1])[acting], 90)) < 0.35


def test_mediapipe_finds_the_face_on_every_onset_frame(demo_root, manifest):
    backend = MediapipeBackend()
    try:
        for clip in manifest["clips"]:
            image = cv2.imread(str(frame_path(demo_root, clip, clip["onset"])))[:, :, ::-1]
            points = backend.detect(image, clip["sample_id"])
            assert points is not None, clip["sample_id"]
            # Each acting region sits on the landmark group its action unit names, as detected afresh.
            for region in clip["regions"]:
                assert region["group"] in AU_PLACES[region["unit"]]
                detected = points[list(actions.GROUPS[region["group"]][region["side"]])]
                low, high = detected.min(axis=0) - 4, detected.max(axis=0) + 4
                centre = np.array(region["centre"])
                assert np.all((centre >= low) & (centre <= high)), (clip["sample_id"], region)
    finally:
        backend.close()


# --- building, caching, CLI ---------------------------------------------------------------------


def test_refuses_non_empty_target_and_overwrites_only_a_demo_database(demo_root, tmp_path):
    with pytest.raises(ConfigError, match="not empty"):
        build_demo_database(demo_root, seed=0, **SMALL)
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigError, match="not a demo database"):
        build_demo_database(stranger, overwrite=True, **SMALL)
    assert (stranger / "thesis.tex").read_text() == "keep me"


def test_overwrite_replaces_a_demo_database(tmp_path):
    root = build_demo_database(tmp_path / "db", seed=0, subjects=1, clips_per_subject=1, frames=12, size=160)
    rebuilt = build_demo_database(root, seed=5, subjects=1, clips_per_subject=1, frames=12, size=160, overwrite=True)
    assert rebuilt == root and read_manifest(root)["params"]["seed"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # no temp or old folder left behind


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def boom(folder, params, progress=None):
        (folder / "partial.txt").write_text("half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "write_database", boom)
    with pytest.raises(RuntimeError):
        build_demo_database(tmp_path / "db", subjects=1, clips_per_subject=1, frames=12, size=160)
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OCCMER_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("OCCMER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "occmer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "occmer"


def test_ensure_builds_once_per_parameter_set(tmp_path, monkeypatch):
    params = {"subjects": 1, "clips_per_subject": 1, "frames": 12, "size": 160}
    first = ensure_demo_database(cache_dir=tmp_path, **params)
    assert json.loads((first / MANIFEST).read_text())["params"]["subjects"] == 1

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a cached database")

    monkeypatch.setattr(cache, "build_into_temp", no_rebuild)
    assert ensure_demo_database(cache_dir=tmp_path, **params) == first
    monkeypatch.setenv("OCCMER_CACHE", str(tmp_path))
    assert ensure_demo_database(**params) == first
    assert cache.cache_key(DemoParams(seed=1, **params)) != first.name
    with pytest.raises(ConfigError, match="unknown demo database parameter"):
        ensure_demo_database(cache_dir=tmp_path, subject=3)


def test_ensure_keeps_the_winner_of_a_race(tmp_path, monkeypatch, demo_root):
    params = {"seed": 0, **SMALL}
    target = tmp_path / cache.cache_key(DemoParams(**params))
    real = cache.build_into_temp

    def racing(parent, name, settings, progress):
        built = real(parent, name, settings, progress)
        real(parent, name, settings, progress).rename(target)  # another process finished first
        return built

    monkeypatch.setattr(cache, "build_into_temp", racing)
    assert ensure_demo_database(cache_dir=tmp_path, **params) == target
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_cli_builds_and_summarises(tmp_path):
    runner = CliRunner()
    target = tmp_path / "cli-db"
    args = ["demo-db", str(target), "--subjects", "1", "--clips-per-subject", "3", "--frames", "12", "--size", "160",
            "--preset", "smic"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 clips" in result.output and str(target) in result.output and "100 fps" in result.output
    assert len(read_manifest(target)["clips"]) == 3 and read_manifest(target)["recording"]["name"] == "smic"

    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "not empty" in again.output and "--overwrite" in again.output

    bad = runner.invoke(cli, ["demo-db", str(tmp_path / "x"), "--frames", "5"])
    assert bad.exit_code == 2 and "--frames" in bad.output
    assert not (tmp_path / "x").exists()

    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert runner.invoke(cli, ["demo-db", str(afile)]).exit_code == 2


def test_cli_help_names_every_knob():
    result = CliRunner().invoke(cli, ["demo-db", "--help"])
    assert result.exit_code == 0
    for option in ("--seed", "--subjects", "--clips-per-subject", "--frames", "--size", "--overwrite", "--preset",
                   "--balance", "--database-size", "--amplitude", "--blinks", "--head-motion", "--flicker"):
        assert option in result.output
