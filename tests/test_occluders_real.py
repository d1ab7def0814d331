"""Occluders as they behave on real faces (issue 16): shading, contact shadow, lenses,
skin-following masks and hands, on the bundled portrait (conftest's aligned_hopper).

The skin-motion evidence uses faces.synthetic.expression_clip: a still head whose lip
corners (and brows) move by a known amount, so where the skin moves is ground truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from occmer.errors import ConfigError
from occmer.faces.motion import estimate_head_motion
from occmer.faces.synthetic import expression_clip, expression_displacement, rigid_clip
from occmer.faces.topology import MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER, NOSE_TIP
from occmer.occluders import make_occluder
from occmer.occluders.compositing import Compositor, composite, luminance, occluder_motion_arrays
from occmer.occluders.hand import parse_hand_path, skin_tone
from occmer.occluders.shading import DIOPTER_RANGE, VERTEX_DISTANCE_M

N_FRAMES, APEX = 14, 7
STILL_POINTS = (1, 195, 234, 454, 152, 4)  # nose, face sides, chin: the expression does not move them


@pytest.fixture(scope="module")
def face(aligned_hopper):
    return aligned_hopper


def _skin_mask(face, frames):
    onset, landmarks = face
    motion = estimate_head_motion(frames, 0, landmarks)
    occluder = make_occluder("surgical", {"variant": "blue", "mask_motion": "skin"})
    layer = occluder.place(frames[0], landmarks, np.random.default_rng(0))
    layer = occluder.follow(layer, frames, 0, motion, landmarks)
    compositor = Compositor(layer)
    pairs = [compositor.composite(f, m, i) for i, (f, m) in enumerate(zip(frames, motion, strict=True))]
    return layer, [p[0] for p in pairs], [p[1] for p in pairs]


def test_skin_mask_moves_where_the_skin_moves_and_nowhere_else(face):
    onset, landmarks = face
    frames = expression_clip(onset, landmarks, N_FRAMES, APEX, 3.0, 2.0, np.random.default_rng(3), radius_px=8.0)
    layer, images, alphas = _skin_mask(face, frames)
    indices = layer.params["mask_motion"]["control_landmarks"]
    shift = layer.motion.control_dst[APEX] - layer.motion.control_src
    moved = dict(zip(indices, np.linalg.norm(shift, axis=1), strict=True))
    truth = expression_displacement(landmarks, onset.shape[:2], 3.0, 8.0)
    for corner in (MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER):
        # the lip corners move 3 px; the fabric over them follows, smoothed and attenuated (0.6)
        assert 0.4 < moved[corner] < 3.0
        x, y = np.round(landmarks[corner]).astype(int)
        direction = shift[indices.index(corner)]
        cosine = direction @ truth[y, x] / (np.linalg.norm(direction) * np.linalg.norm(truth[y, x]))
        assert cosine > 0.8  # and in the direction the skin moved
    for point in STILL_POINTS:
        assert moved[point] < 0.1
    # the fabric (its pleats) moves over the mouth at apex; the mask does not move over the nose bridge
    opaque = (alphas[0] == 255) & (alphas[APEX] == 255)
    change = np.abs(images[APEX].astype(int) - images[0].astype(int)).max(axis=2) * opaque
    corner = np.round(landmarks[MOUTH_LEFT_CORNER]).astype(int)
    assert change[corner[1] - 12 : corner[1] + 12, corner[0] - 12 : corner[0] + 12].max() >= 3
    nose = np.round(landmarks[195]).astype(int)
    assert change[nose[1] - 6 : nose[1] + 6, nose[0] - 6 : nose[0] + 6].max() <= 1


def test_skin_mask_is_bit_still_on_a_still_face(face):
    onset, _ = face
    frames = rigid_clip(onset, [np.eye(2, 3)] * N_FRAMES, 2.0, np.random.default_rng(1))
    layer, _, alphas = _skin_mask(face, frames)
    assert layer.params["mask_motion"]["moving_frames"] == 0
    assert all(a.tobytes() == alphas[0].tobytes() for a in alphas)
    arrays = occluder_motion_arrays(layer, np.repeat(np.eye(2, 3)[None], N_FRAMES, axis=0))
    assert arrays["occluder_control_points"].shape == (N_FRAMES, len(layer.params["mask_motion"]["control_landmarks"]), 2)


@pytest.mark.parametrize("spec", ["glasses", "sunglasses", "cloth", "hand"])
def test_shaded_occluders_stay_bit_identical_on_a_still_head(face, spec):
    onset, landmarks = face
    layer = make_occluder(spec, {}).place(onset, landmarks, np.random.default_rng(2))
    noisy = rigid_clip(onset, [np.eye(2, 3)] * 6, 2.0, np.random.default_rng(4))
    motion = estimate_head_motion(noisy, 0, landmarks)
    compositor = Compositor(layer)
    alphas = [compositor.composite(f, m)[1] for f, m in zip(noisy, motion, strict=True)]
    assert all(a.tobytes() == alphas[0].tobytes() for a in alphas)
    images = [compositor.composite(onset.copy(), np.eye(2, 3))[0] for _ in range(3)]
    assert all(i.tobytes() == images[0].tobytes() for i in images)


def test_mask_is_darker_where_the_face_is_darker(face):
    onset, landmarks = face
    ramp = np.linspace(0.45, 1.0, onset.shape[1], dtype=np.float32)[None, :, None]
    side_lit = np.clip(onset * ramp, 0, 255).astype(np.uint8)  # lit from the image's right
    options = {"variant": "white"}
    shaded = make_occluder("surgical", options).place(side_lit, landmarks, np.random.default_rng(0))
    flat = make_occluder("surgical", {**options, "shading": "off"}).place(side_lit, landmarks, np.random.default_rng(0))
    nose_x = int(landmarks[NOSE_TIP][0])

    def left_right_ratio(layer):
        lum, inside = luminance(layer.color), layer.alpha > 0.9
        left, right = inside.copy(), inside.copy()
        left[:, nose_x - 20 :], right[:, : nose_x + 20] = False, False
        return lum[left].mean() / lum[right].mean()

    assert left_right_ratio(shaded) < 0.85
    assert left_right_ratio(shaded) < left_right_ratio(flat) - 0.015  # finer than the old broad gain
    assert shaded.params["shading"]["light_tilt"][0] > 0.05  # the light is found on the right
    # the contact shadow lies on the skin just below the mask edge, and nowhere far from it
    assert shaded.shadow is not None and shaded.shadow.max() > 0.1
    chin = np.round(landmarks[152]).astype(int)
    assert shaded.shadow[: int(landmarks[6][1])].max() == 0.0  # nothing near the eyes
    below = shaded.shadow[chin[1] : chin[1] + 12, chin[0] - 5 : chin[0] + 5]
    assert below.max() > 0.05


def test_clear_lenses_refract_within_the_documented_range(face):
    onset, landmarks = face
    low, high = (1 / (1 - VERTEX_DISTANCE_M * p) for p in DIOPTER_RANGE)
    seen = set()
    for seed in range(4):
        layer = make_occluder("glasses", {}).place(onset, landmarks, np.random.default_rng(seed))
        lens = layer.params["shading"]["lens"]
        assert DIOPTER_RANGE[0] <= lens["diopters"] <= DIOPTER_RANGE[1]
        assert low <= lens["magnification"] <= high
        seen.add(lens["diopters"])
        assert layer.lens is not None and np.abs(layer.lens).max() > 0.2  # a visible, slight bend
        assert np.abs(layer.lens).max() < 4.0
        again = make_occluder("glasses", {}).place(onset, landmarks, np.random.default_rng(seed))
        assert again.params == layer.params  # deterministic per clip
    assert len(seen) == 4
    assert make_occluder("sunglasses", {}).place(onset, landmarks, np.random.default_rng(0)).lens is None


def test_gray_frames_keep_gray_occluders(face):
    onset, landmarks = face
    gray = luminance(onset).astype(np.uint8)[:, :, None]
    for spec in ("glasses", "surgical", "hand"):
        layer = make_occluder(spec, {}).place(gray, landmarks, np.random.default_rng(0))
        out, alpha = composite(gray, layer)
        assert out.shape == gray.shape and alpha.max() > 0


def test_resting_hand_has_the_face_skin_tone(face):
    onset, landmarks = face
    tone = skin_tone(onset, landmarks)
    for pose, near in (("chin", 152), ("cheek-left", None), ("cheek-right", None)):
        layer = make_occluder("hand", {"variant": pose}).place(onset, landmarks, np.random.default_rng(1))
        solid = layer.alpha > 0.95
        assert solid.sum() > 1500
        mean = layer.color[solid].mean(0)
        assert np.abs(mean - tone).max() < 45  # lit like the face, same tone
        if near is not None:
            x, y = np.round(landmarks[near]).astype(int)
            assert layer.alpha[y, x] > 0.5
    left = make_occluder("hand", {"variant": "cheek-left"}).place(onset, landmarks, np.random.default_rng(1))
    xs = np.nonzero(left.alpha > 0.5)[1]
    assert xs.mean() < landmarks[NOSE_TIP][0]


def test_passing_hand_enters_and_leaves_on_the_chosen_frames(face):
    onset, landmarks = face
    n = 12
    frames = [onset] * n
    occluder = make_occluder("hand", {"hand_path": "right:2:9"})
    layer = occluder.place(onset, landmarks, np.random.default_rng(0))
    layer = occluder.follow(layer, frames, 0, np.repeat(np.eye(2, 3)[None], n, axis=0), landmarks)
    compositor = Compositor(layer)
    alphas = [compositor.composite(f, None, t)[1] for t, f in enumerate(frames)]
    covered = [int((a > 0).sum()) for a in alphas]
    assert covered[:3] == [0, 0, 0] and covered[9:] == [0, 0, 0]
    assert all(c > 0 for c in covered[3:9])
    xs = [np.nonzero(a)[1].mean() for a in alphas[3:9]]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False))  # it travels right
    arrays = occluder_motion_arrays(layer, np.repeat(np.eye(2, 3)[None], n, axis=0))
    assert arrays["occluder_visible"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert np.all(np.diff(arrays["occluder_motion"][2:10, 0, 2]) > 0)


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        ("glasses", {"mask_motion": "skin"}),
        ("block", {"mask_motion": "skin"}),
        ("hand", {"mask_motion": "skin"}),
        ("surgical", {"mask_motion": "wobbly"}),
        ("surgical", {"shading": "maybe"}),
        ("hand", {"hand_path": "sideways"}),
        ("hand", {"hand_path": "left:0.5"}),
        ("hand", {"hand_path": "left:0.2:1.5"}),
        ("hand", {"variant": "chin", "hand_path": "left"}),
        ("hand", {"variant": "forehead"}),
    ],
)
def test_bad_options_are_refused(spec, options):
    with pytest.raises(ConfigError):
        make_occluder(spec, options)


def test_random_keeps_rigid_families_rigid_under_skin_motion(face):
    onset, landmarks = face
    occluder = make_occluder("random", {"choices": ["glasses", "cloth"], "mask_motion": "skin"})
    chosen = {occluder.place(onset, landmarks, np.random.default_rng(s)).params["random"]["chosen"] for s in range(6)}
    assert chosen == {"glasses", "cloth"}


def test_hand_path_frames():
    assert parse_hand_path("up:0.25:0.75").frames(9) == (2, 6)
    assert parse_hand_path("down:1:-2").frames(10) == (1, 8)
    with pytest.raises(ConfigError):
        parse_hand_path("left:5:3").frames(10)


def test_pipeline_stores_the_motion_of_occluders_that_move(small_demo_clips):
    """End to end: a skin-following mask and a passing hand store their per-frame motion."""
    from occmer.pipeline import SynthesisSettings, process_clip

    clip = small_demo_clips[0]
    skin = process_clip(clip, SynthesisSettings(database="demo", mask="cloth", size=96,
                                                mask_options={"mask_motion": "skin"}))
    record = skin.record()
    t = len(skin.frame_numbers)
    points = record.extra["occluder_control_points"]
    assert points.shape[0] == t and points.shape[2] == 2
    assert skin.placement["parameters"]["mask_motion"]["mode"] == "skin"
    onset = list(skin.frame_numbers).index(clip.onset)
    np.testing.assert_allclose(points[onset], skin.landmarks[onset][skin.placement["parameters"]["mask_motion"][
        "control_landmarks"]], atol=1e-3)
    hand = process_clip(clip, SynthesisSettings(database="demo", mask="hand", size=96,
                                                mask_options={"hand_path": "left:0.0:1.0"}))
    visible = hand.record().extra["occluder_visible"]
    assert visible[0] == 0 and visible[-1] == 0 and visible.sum() == t - 2
    covered = hand.occlusion.reshape(t, -1).max(axis=1)
    assert covered[0] == 0 and covered[t // 2] == 255
    rigid = process_clip(clip, SynthesisSettings(database="demo", mask="cloth", size=96))
    assert "occluder_motion" not in rigid.record().extra


@pytest.mark.parametrize(
    "args",
    [
        ["--mask", "block", "--hand-path", "left"],
        ["--mask", "glasses", "--mask-motion", "skin"],
        ["--mask", "custom:x.json", "--mask-motion", "skin"],
        ["--mask", "hand", "--hand-path", "sideways"],
    ],
)
def test_cli_refuses_options_the_occluder_would_ignore(tmp_path, args):
    from click.testing import CliRunner

    from occmer.cli import cli

    result = CliRunner().invoke(cli, ["synthesize", "--db", "demo", "--out", str(tmp_path / "x.h5"), *args])
    assert result.exit_code != 0
    assert "error:" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.h5").exists()
