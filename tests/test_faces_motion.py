"""Per-clip head motion: identity at onset, tracking of rigid points only, lost tracking reported."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from occmer.errors import ConfigError
from occmer.faces.align import similarity_from_params, transform_points
from occmer.faces.motion import (
    HeadTrackingError,
    MotionConfig,
    _match_brightness,
    chi2_sf,
    estimate_head_motion,
    fit_similarity,
    track_head_motion,
)
from occmer.faces.synthetic import add_sensor_noise, moved_frame, rigid_clip
from occmer.faces.topology import face_region_mask


@pytest.fixture(scope="module")
def face(aligned_hopper) -> tuple[np.ndarray, np.ndarray]:
    """(aligned onset RGB crop, its 478 landmarks): the shared bundled portrait (conftest)."""
    return aligned_hopper


def shift(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])


def test_onset_in_the_middle_is_exact_identity_and_others_follow(face):
    onset, lm = face
    truth = [shift(0.1 * (i - 4), -0.08 * (i - 4)) for i in range(9)]
    frames = rigid_clip(onset, truth, 2.0, np.random.default_rng(0))
    result = track_head_motion(frames, 4, lm)
    assert result.transforms.shape == (9, 2, 3) and result.transforms.dtype == np.float64
    np.testing.assert_array_equal(result.transforms[4], np.eye(2, 3))
    assert np.abs(result.transforms[[0, 8], :, 2] - np.array([[-0.4, 0.32], [0.4, -0.32]])).max() < 0.1
    assert result.moved[0] and result.moved[8] and not result.lost.any()
    assert (result.inliers >= 0.8 * result.n_points).all() and np.nanmax(result.residual_px) < 0.1


def test_gray_frames_give_the_same_motion(face):
    onset, lm = face
    gray = cv2.cvtColor(onset, cv2.COLOR_RGB2GRAY)[:, :, None]
    truth = [similarity_from_params(1.0, np.radians(1.5 * i), 0.3 * i, 0.0) for i in range(4)]
    rgb_motion = estimate_head_motion(rigid_clip(onset, truth, 0.0, np.random.default_rng(1)), 0, lm)
    gray_motion = estimate_head_motion(rigid_clip(gray, truth, 0.0, np.random.default_rng(1)), 0, lm)
    np.testing.assert_allclose(rgb_motion, gray_motion, atol=0.02)


def test_face_moving_over_a_static_background(face):
    """Real clips: only the face moves. Contour points would see the background; interior ones do not."""
    onset, lm = face
    soft = cv2.GaussianBlur(face_region_mask(lm, onset.shape[:2]).astype(np.float32), (0, 0), 2)[:, :, None]
    truth = [similarity_from_params(1.0, np.radians(0.8 * s), 1.5 * s, 0.75 * s) for s in np.linspace(0, 1, 6)]
    rng = np.random.default_rng(2)
    frames = []
    for m in truth:
        face_part = moved_frame(onset, m).astype(np.float32) * moved_frame(soft, m).reshape(soft.shape)
        background = onset.astype(np.float32) * (1 - moved_frame(soft, m).reshape(soft.shape))
        frames.append(add_sensor_noise(face_part + background, 2.0, rng))
    motion = estimate_head_motion(frames, 0, lm)
    probe = lm[[33, 263, 61, 291, 168]]
    err = max(np.abs(transform_points(probe, a) - transform_points(probe, b)).max() for a, b in zip(motion, truth, strict=True))
    assert err < 0.25


def test_lost_tracking_raises_naming_sample_and_frame(face):
    onset, lm = face
    frames = rigid_clip(onset, [np.eye(2, 3)] * 5, 2.0, np.random.default_rng(3))
    frames[3] = np.random.default_rng(4).integers(0, 255, onset.shape, dtype=np.uint8)
    with pytest.raises(HeadTrackingError, match=r"casme2_sub01_EP02.*frame 49"):
        estimate_head_motion(frames, 0, lm, sample_id="casme2_sub01_EP02", frame_numbers=[46, 47, 48, 49, 50])
    held = track_head_motion(frames, 0, lm, config=MotionConfig(on_lost="hold"))
    assert held.lost.tolist() == [False, False, False, True, False]
    np.testing.assert_array_equal(held.transforms[3], np.eye(2, 3))


def test_too_few_points_inside_the_frame_fail(face):
    onset, lm = face
    far = lm + 1000.0
    with pytest.raises(HeadTrackingError, match="rigid landmark"):
        estimate_head_motion([onset, onset], 0, far, sample_id="x")


def test_smoothing_removes_a_one_frame_spike(face):
    onset, lm = face
    truth = [shift(0.5 * i / 9, 0.0) for i in range(10)]
    truth[5] = shift(0.5 * 5 / 9 + 0.6, 0.0)
    frames = rigid_clip(onset, truth, 1.0, np.random.default_rng(5))
    raw = estimate_head_motion(frames, 0, lm, smooth=0)
    smooth = estimate_head_motion(frames, 0, lm, smooth=2.0)
    assert abs(raw[5, 0, 2] - truth[5][0, 2]) < 0.1
    assert abs(smooth[5, 0, 2] - 0.5 * 5 / 9) < abs(raw[5, 0, 2] - 0.5 * 5 / 9) / 2


def test_fit_similarity_rejects_dragged_minority():
    rng = np.random.default_rng(6)
    src = rng.uniform(0, 200, (30, 2))
    true = similarity_from_params(1.01, np.radians(2), 0.7, -0.4)
    dst = transform_points(src, true) + rng.normal(0, 0.01, src.shape)
    dst[:10, 1] -= 0.4  # points pulled up by an expression
    fit = fit_similarity(src, dst, ransac_px=1.0, noise_floor_px=0.01)
    assert not fit.inliers[:10].any() and fit.inliers[10:].sum() >= 18
    error = np.abs(transform_points(src, fit.transform) - transform_points(src, true)).max()
    assert error < 0.02


def test_chi2_survival_function_matches_known_quantile():
    # Tabulated 0.999 quantiles of chi-square with 2, 3 and 4 degrees of freedom.
    for dof, quantile in ((2, 13.8155), (3, 16.2662), (4, 18.4668)):
        assert abs(chi2_sf(quantile, dof) - 1e-3) < 1e-6
        assert abs(chi2_sf(0.0, dof) - 1.0) < 1e-12


def test_68_point_landmarks_are_enough_to_track(face):
    from occmer.faces.pointsets import IBUG68_TO_MEDIAPIPE, POINT_SETS

    onset, lm = face
    lm68 = POINT_SETS["ibug68"].to_mediapipe(lm[list(IBUG68_TO_MEDIAPIPE)])
    truth = [shift(0.4 * i, 0.2 * i) for i in range(4)]
    result = track_head_motion(rigid_clip(onset, truth, 2.0, np.random.default_rng(7)), 0, lm68)
    assert result.n_points >= 6
    np.testing.assert_allclose(result.transforms[:, :, 2], [m[:, 2] for m in truth], atol=0.1)
    summary = result.summary()
    assert summary["frames_moved"] == 3 and summary["frames_lost"] == 0
    assert 1.2 < summary["max_displacement_px"] < 1.5


def test_summary_of_a_still_clip(face):
    onset, lm = face
    result = track_head_motion(rigid_clip(onset, [np.eye(2, 3)] * 4, 2.0, np.random.default_rng(8)), 0, lm)
    assert result.summary()["max_displacement_px"] == 0.0 and result.summary()["frames_moved"] == 0
    assert (result.transforms == np.eye(2, 3)).all()


def test_motion_models_similarity_follows_zoom_rigid_does_not(face):
    onset, lm = face
    centre = lm[168].astype(float)
    zoom = similarity_from_params(1.02, 0.0, *(centre - 1.02 * centre))
    frames = rigid_clip(onset, [np.eye(2, 3), zoom], 1.0, np.random.default_rng(9))
    similarity = estimate_head_motion(frames, 0, lm, config=MotionConfig(model="similarity"))
    rigid = estimate_head_motion(frames, 0, lm)
    assert abs(np.hypot(*similarity[1][:, 0]) - 1.02) < 2e-3
    assert abs(np.hypot(*rigid[1][:, 0]) - 1.0) < 1e-9
    with pytest.raises(ConfigError, match="model"):
        estimate_head_motion(frames, 0, lm, config=MotionConfig(model="homography"))


def test_flickering_light_on_a_low_texture_face_keeps_the_head(face):
    """A lamp's flicker (a global gain of up to 2 %, as the demo renders it) on a smooth face.

    Lucas-Kanade assumes constant brightness: before each frame was matched to the onset's
    mean brightness, this clip lost the head on 2 frames (9 of 34 inliers at worst); now
    every frame keeps more than 80 % of the rigid points.
    """
    onset, lm = face
    smooth = cv2.GaussianBlur(onset, (0, 0), 6)
    gains = 1 + 0.02 * np.sin(2 * np.pi * np.arange(16) / 7.0)
    rng = np.random.default_rng(0)
    frames = []
    for i, gain in enumerate(gains):
        moved = moved_frame(smooth, similarity_from_params(1.0, np.radians(0.1 * i), 0.05 * i, -0.03 * i))
        lit = np.clip(moved.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        frames.append(add_sensor_noise(lit, 1.5, rng))
    result = track_head_motion(frames, 0, lm)  # on_lost="raise": a lost frame fails here
    assert not result.lost.any() and (result.inliers >= 0.8 * result.n_points).all()
    assert np.abs(result.transforms[15, :, 2] - np.array([0.75, -0.45])).max() < 0.3


def test_steady_light_frames_are_tracked_unchanged():
    """A frame within 1e-3 of the onset's mean brightness is passed to LK as it is (bit-identical outputs)."""
    gray = np.tile(np.arange(60, 190, dtype=np.uint8), (32, 1))
    assert _match_brightness(gray, float(gray.mean()) * 1.0005) is gray
    brighter = _match_brightness(gray, float(gray.mean()) * 1.02)
    assert abs(float(brighter.mean()) / float(gray.mean()) - 1.02) < 1e-3
    assert _match_brightness(np.zeros_like(gray), 100.0).max() == 0  # a black frame is left alone
