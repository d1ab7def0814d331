"""The demo database v2's realism, property by property: every AU moves its own region the FACS
way (on the side it is coded on), classes come from their AU-combination lists and the sheet's
notation parses back, presets give their timing and shares, distractors carry no class."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from occmer.demo import (
    CLASSES,
    CODING_SHEET,
    PRESETS,
    DemoParams,
    actions,
    build,
    build_demo_database,
    classes,
    distractors,
    read_manifest,
)
from occmer.demo.classes import AppliedUnit
from occmer.errors import ConfigError
from occmer.faces import topology
from occmer.labels import objective_from_aus, parse_action_units

# Where each AU must act (mediapipe landmarks per side: subject's right, left) and how that
# point moves in face axes: "up"/"down" along the face's vertical, "medial"/"lateral" across.
AU_TRUTH = {
    1: ((107, 336), "up"),
    2: ((46, 276), "up"),
    4: ((105, 334), "down"),
    5: ((159, 386), "up"),
    6: ((205, 425), "up"),
    7: ((145, 374), "up"),
    9: ((48, 278), "up"),
    10: ((37, 267), "up"),
    12: ((61, 291), "up-lateral"),
    14: ((61, 291), "medial"),
    15: ((61, 291), "down"),
    17: ((199, 199), "up"),
    20: ((61, 291), "lateral"),
    23: ((61, 291), "medial"),
    24: ((17, 17), "up"),
    25: ((17, 17), "down"),
    26: ((152, 152), "down"),
    38: ((48, 278), "lateral"),
    40: ((48, 278), "up"),
}
UPPER_FACE = {1, 2, 4, 5, 6, 7, 9, 38, 40}


@pytest.fixture(scope="module")
def landmarks(demo_portrait_landmarks) -> np.ndarray:
    return demo_portrait_landmarks


def face_components(axes: actions.FaceAxes, vector: np.ndarray, side: int) -> tuple[float, float]:
    """(medial, up) parts of a pixel vector at a point on side 0 (subject's right) or 1 (left)."""
    across = float(vector @ axes.x)
    return (across if side == 0 else -across), -float(vector @ axes.y)


def field_at(field: np.ndarray, point: np.ndarray) -> np.ndarray:
    x, y = np.round(point).astype(int)
    return field[y, x]


def test_every_listed_au_has_a_truth_row():
    listed = {n for c in CLASSES.values() for combo in c.combinations for n in classes.parse_combination(combo)}
    assert listed <= set(actions.ACTION_UNITS) == set(AU_TRUTH)


@pytest.mark.parametrize("unit", sorted(AU_TRUTH))
def test_each_au_moves_its_region_the_facs_way_and_nothing_far_away(landmarks, unit):
    points, way = AU_TRUTH[unit]
    axes = actions.FaceAxes.from_landmarks(landmarks)
    result = actions.expression_field(landmarks, (AppliedUnit(unit, "both", "C"),), (200, 200), peak_px=2.0)
    for side, index in enumerate(points):
        d = field_at(result.field, landmarks[index])
        medial, up = face_components(axes, d, side)
        size = float(np.hypot(*d))
        assert size > 0.5, (unit, index, size)
        expected = {"up": up > 0.7 * size, "down": up < -0.7 * size,
                    "medial": medial > 0.7 * size, "lateral": medial < -0.7 * size,
                    "up-lateral": up > 0.4 * size and medial < -0.4 * size}[way]
        assert expected, (unit, index, way, medial, up)
    far = topology.CHIN_BOTTOM if unit in UPPER_FACE else topology.FOREHEAD_TOP
    assert np.hypot(*field_at(result.field, landmarks[far])) < 0.05


@pytest.mark.parametrize("unit", sorted(classes.SIDED_UNITS))
def test_a_unilateral_au_moves_only_its_side_and_an_asymmetric_one_both_unequally(landmarks, unit):
    right, left = AU_TRUTH[unit][0]
    for side, moving, still in (("R", right, left), ("L", left, right)):
        result = actions.expression_field(landmarks, (AppliedUnit(unit, side, "C"),), (200, 200), peak_px=2.0)
        moved = np.hypot(*field_at(result.field, landmarks[moving]))
        # The other side stays (nearly) still; the lip's midline moves with either side.
        assert moved > 0.5 and np.hypot(*field_at(result.field, landmarks[still])) < 0.25 * moved
    result = actions.expression_field(landmarks, (AppliedUnit(unit, "A", "C", "L"),), (200, 200), peak_px=2.0)
    strong, weak = (np.hypot(*field_at(result.field, landmarks[i])) for i in (right, left))
    assert 0.3 * strong < weak < 0.7 * strong


def test_intensity_letters_order_the_aus_of_a_clip(landmarks):
    units = (AppliedUnit(1, "both", "E"), AppliedUnit(12, "both", "A"))
    result = actions.expression_field(landmarks, units, (200, 200), peak_px=2.0)
    assert result.unit_peaks_px[12] == pytest.approx(result.unit_peaks_px[1] * 0.35 / 1.0, rel=0.05)


def test_a_blink_closes_the_upper_lids_and_moves_nothing_else(landmarks):
    field = distractors.blink_field(landmarks, (200, 200))
    axes = actions.FaceAxes.from_landmarks(landmarks)
    for lid in (159, 386):
        d = field_at(field, landmarks[lid])
        assert float(d @ axes.y) > 2.0  # down by most of the eye's opening
    for still in (topology.MOUTH_RIGHT_CORNER, topology.NOSE_TIP, topology.CHIN_BOTTOM):
        assert np.hypot(*field_at(field, landmarks[still])) < 0.05
    blink = distractors.Blink(start=3.0, closed=6.0, end=14.0, depth=0.8)
    closure = blink.profile(20)
    assert closure[:4].max() == 0 and closure[6] == pytest.approx(0.8) and closure[14:].max() == 0


def test_yaw_moves_the_nose_more_than_the_cheeks_and_the_background_not_at_all(landmarks):
    field = distractors.yaw_field(landmarks, (200, 200))
    nose = np.hypot(*field_at(field, landmarks[topology.NOSE_TIP]))
    cheek = np.hypot(*field_at(field, landmarks[topology.RIGHT_FACE_EDGE]))
    assert nose > 2 * cheek and np.hypot(*field[2, 2]) == 0


# --- classes, notation -------------------------------------------------------------------------


@pytest.mark.parametrize("notation", ["casme2", "samm"])
def test_every_combination_in_every_notation_parses_back_to_its_units_and_class(notation):
    for name, cls in CLASSES.items():
        for combo in cls.combinations:
            numbers = classes.parse_combination(combo)
            variants = [tuple(AppliedUnit(n, "both", "B") for n in numbers)]
            for i, n in enumerate(numbers):
                for side, weaker in (("L", ""), ("R", ""), ("A", "L")):
                    if n in classes.SIDED_UNITS:
                        units = [AppliedUnit(m, "both", "D") for m in numbers]
                        units[i] = AppliedUnit(n, side, "A", weaker)
                        variants.append(tuple(units))
            for units in variants:
                text = classes.au_text(units, notation)
                assert parse_action_units(text) == [frozenset(numbers)], text
                assert objective_from_aus(text) == name, (text, name)


def test_notations_write_what_each_database_writes():
    units = (AppliedUnit(12, "R", "B"), AppliedUnit(14, "A", "A", "L"), AppliedUnit(6, "both", "C"))
    assert classes.au_text(units, "casme2") == "6+R12+14"
    assert classes.au_text(units, "samm") == "6C+R12B+A14A"


def test_draws_cover_the_class_lists_with_realistic_side_shares():
    rng = np.random.default_rng(0)
    drawn = [classes.draw_units(CLASSES["I"], rng) for _ in range(3000)]
    combos = {"+".join(str(u.number) for u in units) for units in drawn}
    assert combos == set(CLASSES["I"].combinations)
    sided = np.mean([any(u.side in ("L", "R") for u in units) for units in drawn])
    asymmetric = np.mean([any(u.side == "A" for u in units) for units in drawn])
    assert 0.15 < sided < 0.25 and 0.05 < asymmetric < 0.11
    letters = [u.intensity for units in drawn for u in units]
    assert letters.count("A") + letters.count("B") + letters.count("C") > 0.85 * len(letters)


@pytest.mark.parametrize("balance", ["casme2", "samm"])
def test_database_shares_follow_the_real_database(balance):
    params = DemoParams(subjects=26, clips_per_subject=10, balance=balance)
    dealt = build.subject_classes(params)
    found = [name for names in dealt.values() for name in names]
    shares = classes.BALANCES[balance]
    total = sum(shares.values())
    for name in CLASSES:
        assert abs(found.count(name) - 260 * shares[name] / total) < 1, name
    # Subjects do not all show every class (as in CASME II and SAMM).
    assert any(len(set(names)) < len(CLASSES) for names in dealt.values())


def test_a_class_subset_is_drawn_alone_and_balanced_or_at_the_restricted_shares():
    dealt = build.subject_classes(DemoParams(subjects=4, clips_per_subject=12, classes="iv, I,II"))
    for names in dealt.values():
        assert sorted(names) == sorted(["I", "II", "IV"] * 4)  # 4 of each class in every subject
    found = [n for names in build.subject_classes(
        DemoParams(subjects=26, clips_per_subject=10, classes="I,II,IV", balance="casme2")).values() for n in names]
    shares = classes.BALANCES["casme2"]
    total = shares["I"] + shares["II"] + shares["IV"]
    for name in ("I", "II", "IV"):
        assert abs(found.count(name) - 260 * shares[name] / total) < 1, name
    for bad in ("I", "I,VIII", "1,2"):
        with pytest.raises(ConfigError, match="--classes"):
            DemoParams(classes=bad).validate()


def test_the_default_bench_demo_is_three_composite_groups_at_smic_timing():
    from occmer.bench.demo import BENCH_DEMO
    from occmer.demo.cache import cached_demo_params
    from occmer.labels import composite_label

    params = cached_demo_params(BENCH_DEMO)
    plans = build.plan_database(params)
    emotions = {plan.emotion for plan in plans}
    assert emotions == {"happiness", "surprise", "disgust"}
    assert sorted(composite_label("demo", e) for e in emotions) == ["negative", "positive", "surprise"]
    assert params.recording.fps == 100 and 1.0 <= params.amplitude_median_px <= 4.0


# --- presets: timing, amplitude, distractors ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_give_their_frame_rate_and_phase_durations(name):
    recording = PRESETS[name]
    plans = build.plan_database(DemoParams(preset=name, subjects=3, clips_per_subject=14))
    frame_ms = 1000.0 / recording.fps
    for plan in plans:
        t = plan.timeline
        rise_ms, fall_ms = (t.apex - t.onset) * frame_ms, (t.offset - t.apex) * frame_ms
        low, high = recording.onset_to_apex_ms
        assert low - frame_ms <= rise_ms <= high + frame_ms, (name, rise_ms)
        low, high = recording.apex_to_offset_ms
        assert low - frame_ms <= fall_ms <= high + frame_ms, (name, fall_ms)
        assert (t.onset - t.first) * frame_ms <= recording.lead_ms[1] + frame_ms
        assert (t.first + t.count - 1 - t.offset) * frame_ms <= recording.tail_ms[1] + frame_ms
        assert len(plan.gain) == len(plan.head.roll_deg) == t.count
    if name == "smic":  # SMIC's clips are the movement: onset first frame, offset last
        assert all(p.timeline.onset == p.timeline.first for p in plans)
        assert all(p.timeline.offset == p.timeline.first + p.timeline.count - 1 for p in plans)
    lengths = [p.timeline.count for p in plans]
    whole_ms = (recording.onset_to_apex_ms[1] + recording.apex_to_offset_ms[1]) + 2 * frame_ms
    assert max(lengths) * frame_ms <= whole_ms + recording.lead_ms[1] + recording.tail_ms[1]


def test_amplitudes_are_log_normal_with_many_sub_pixel_clips():
    params = DemoParams()
    rng = np.random.default_rng(1)
    values = np.array([build.draw_amplitude(params, rng) for _ in range(4000)])
    assert 0.3 < np.mean(values < 1.0) < 0.5
    assert np.median(values) == pytest.approx(params.amplitude_median_px, rel=0.08)
    assert values.min() >= build.AMPLITUDE_BOUNDS_PX[0] and values.max() <= build.AMPLITUDE_BOUNDS_PX[1]


def test_blinks_head_motion_and_light_carry_no_class():
    params = DemoParams()
    for index in range(1, 15):
        plans = [build.plan_clip(params, 1, index, name) for name in CLASSES]
        first = plans[0]
        for other in plans[1:]:
            assert other.timeline == first.timeline and other.peak_px == first.peak_px
            assert other.blink == first.blink
            assert np.array_equal(other.head.translation, first.head.translation)
            assert np.array_equal(other.head.yaw_deg, first.head.yaw_deg)
            assert np.array_equal(other.gain, first.gain)
    plans = build.plan_database(DemoParams(subjects=20, clips_per_subject=14))
    for name in CLASSES:  # every class has blinking clips
        assert any(p.blink is not None for p in plans if p.objective_class == name), name


def test_head_motion_and_light_stay_in_their_bounds():
    extra = distractors.DistractorParams()
    rng = np.random.default_rng(2)
    for _ in range(50):
        head = distractors.draw_head_motion(80, rng, extra, 1.0)
        assert np.hypot(*head.translation.T).max() <= extra.translation_px + 1e-9
        assert np.abs(head.roll_deg).max() <= extra.roll_deg + 1e-9
        assert np.abs(head.zoom - 1).max() <= extra.zoom + 1e-9
        assert np.abs(head.yaw_deg).max() <= extra.yaw_deg + 1e-9
        assert head.translation[0].tolist() == [0.0, 0.0] and head.roll_deg[0] == 0.0
        gain = distractors.draw_illumination(80, 200.0, rng, extra.flicker)
        assert np.abs(gain - 1).max() <= extra.flicker + 1e-9


def test_switched_off_distractors_leave_the_head_still_and_the_light_steady():
    params = replace(DemoParams(), head_motion=0.0, blink_share=0.0, flicker=0.0)
    for plan in build.plan_database(replace(params, subjects=2)):
        assert plan.blink is None and not np.any(plan.head.translation) and np.all(plan.gain == 1.0)


def test_samm_preset_writes_gray_frames_and_samm_notation(tmp_path: Path):
    root = build_demo_database(tmp_path / "samm", preset="samm", subjects=1, clips_per_subject=7, frames=12,
                               size=160)
    manifest = read_manifest(root)
    clip = manifest["clips"][0]
    image = cv2.imread(str(root / clip["folder"] / f"img{clip['onset']}.jpg"), cv2.IMREAD_UNCHANGED)
    assert image.ndim == 2 and manifest["au_notation"] == "samm"
    coding = pd.read_excel(root / CODING_SHEET, dtype={"Action Units": str})
    for row, clip in zip(coding.itertuples(index=False), manifest["clips"], strict=True):
        text = row[7]
        assert text == clip["action_units_text"]
        assert all(token[-1] in "ABCDE" for token in text.split("+"))
        assert parse_action_units(text) == [frozenset(clip["action_units"])]


@pytest.mark.parametrize(("name", "size"), [("casme2", (26, 10)), ("samm", (29, 5)), ("smic", (16, 10))])
def test_database_size_mirrors_the_real_database(name, size):
    assert PRESETS[name].database_size() == size
    DemoParams(preset=name, subjects=size[0], clips_per_subject=size[1]).validate()


@pytest.mark.slow
def test_enough_faces_for_the_largest_database_sized_preset_we_promise():
    """At least 29 distinct identities are detected (SAMM's 29 subjects), gray for the samm preset."""
    from occmer.demo import faces
    from occmer.faces.landmarks import MediapipeBackend
    from occmer.seeding import sample_rng

    backend = MediapipeBackend()
    try:
        found = faces.collect_faces(29, 200, backend, sample_rng(0, "demo", "identities"))
    finally:
        backend.close()
    assert len({face.source for face in found}) == 29


def test_region_report_splits_predictions_by_where_the_aus_act(tmp_path: Path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("demo_regions", Path(__file__).parents[1] / "benchmark" / "demo_regions.py")
    regions_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regions_module)
    assert [regions_module.region_of(u) for u in ([1, 2], [12], [4, 9], [6, 12])] == [
        "upper face", "lower face", "both", "both"]
    fold = tmp_path / "folds" / "ststnet" / "glasses" / "seed0" / "f.json"
    fold.parent.mkdir(parents=True)
    fold.write_text(json.dumps({"model": "ststnet", "condition": "glasses", "sample_id": ["demo_sub01_EP01_01",
                    "demo_sub01_EP02_01"], "true": ["surprise", "happiness"], "pred": ["surprise", "others"]}))
    regions = {"demo_sub01_EP01_01": "upper face", "demo_sub01_EP02_01": "lower face"}
    clean = tmp_path / "shard2" / "folds" / "ststnet" / "clean" / "seed0" / "f.json"
    clean.parent.mkdir(parents=True)
    clean.write_text(json.dumps({"model": "ststnet", "condition": "clean", "sample_id": ["demo_sub01_EP01_01",
                     "demo_sub01_EP02_01"], "true": ["surprise", "happiness"], "pred": ["surprise", "happiness"]}))
    counts = regions_module.tally([tmp_path, tmp_path / "shard2"], regions)
    assert counts[("ststnet", "glasses")]["upper face"] == [1, 1]
    assert counts[("ststnet", "glasses")]["lower face"] == [0, 1]
    assert "| ststnet | glasses | 1.000 (1) | 0.000 (1) | - |" in regions_module.table(counts)
    assert "| ststnet | glasses | +0.000 | -1.000 | - |" in regions_module.effects(counts)
