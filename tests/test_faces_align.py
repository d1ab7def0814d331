"""Alignment: one similarity per clip with the eyes at documented canonical positions."""

from __future__ import annotations

import numpy as np
import pytest

from occmer.errors import FaceNotFoundError
from occmer.faces.align import (
    CANONICAL_LEFT_EYE,
    CANONICAL_RIGHT_EYE,
    alignment_transform,
    compose,
    invert,
    similarity_from_params,
    similarity_params,
    transform_points,
    warp_frame,
)
from occmer.faces.topology import CHIN_BOTTOM, LEFT_BROW, N_POINTS, RIGHT_BROW, eye_corner_centers


def face_like_landmarks(roll_deg: float = 12.0, scale: float = 1.7, offset=(300.0, 210.0)) -> np.ndarray:
    """478 points with eye corners, brows and chin in face proportions (inter-ocular = 1), rolled and scaled."""
    lm = np.zeros((N_POINTS, 2))
    lm[33], lm[133], lm[362], lm[263] = (-0.75, 0), (-0.25, 0), (0.25, 0), (0.75, 0)
    lm[list(RIGHT_BROW)] = (-0.5, -0.35)
    lm[list(LEFT_BROW)] = (0.5, -0.35)
    lm[CHIN_BOTTOM] = (0.0, 1.75)
    m = similarity_from_params(scale * 40, np.radians(roll_deg), *offset)
    return transform_points(lm, m)


def test_eyes_land_level_at_canonical_positions_and_face_fits():
    size = 224
    lm = face_like_landmarks()
    m = alignment_transform(lm, size)
    right, left = eye_corner_centers(transform_points(lm, m))
    np.testing.assert_allclose(right, np.array(CANONICAL_RIGHT_EYE) * size, atol=1e-9)
    np.testing.assert_allclose(left, np.array(CANONICAL_LEFT_EYE) * size, atol=1e-9)
    aligned = transform_points(lm, m)
    assert 0 < aligned[CHIN_BOTTOM, 1] < size and aligned[list(RIGHT_BROW), 1].min() > 0
    scale, angle, _, _ = similarity_params(m)
    assert abs(np.degrees(angle) + 12.0) < 1e-9  # the roll is undone
    assert scale > 0


def test_alignment_is_a_similarity_and_invertible():
    m = alignment_transform(face_like_landmarks(roll_deg=-7, scale=0.6), 128)
    assert abs(m[0, 0] - m[1, 1]) < 1e-12 and abs(m[0, 1] + m[1, 0]) < 1e-12
    pts = np.random.default_rng(0).uniform(0, 500, (20, 2))
    np.testing.assert_allclose(transform_points(transform_points(pts, m), invert(m)), pts, atol=1e-9)
    np.testing.assert_allclose(compose(invert(m), m), np.eye(2, 3), atol=1e-12)


def test_compose_applies_inner_first():
    shift = np.array([[1.0, 0, 5], [0, 1.0, 0]])
    double = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    p = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(transform_points(p, compose(double, shift)), [[12.0, 2.0]])


def test_missing_eye_corners_fail_clearly():
    lm = face_like_landmarks()
    lm[33] = np.nan
    with pytest.raises(FaceNotFoundError, match="clip7"):
        alignment_transform(lm, 224, sample_id="clip7")


@pytest.mark.parametrize("channels", [1, 3])
def test_warp_frame_keeps_channels_and_replicates_border(channels):
    frame = np.random.default_rng(1).integers(0, 255, (60, 80, channels), dtype=np.uint8)
    m = np.array([[1.0, 0.0, 30.0], [0.0, 1.0, 0.0]])  # shift right: the left columns come from the border
    out = warp_frame(frame, m, 64)
    assert out.shape == (64, 64, channels) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:60, 0], frame[:, 0])
    np.testing.assert_array_equal(out[:60, 30:64], frame[:, :34])


def test_transform_points_keeps_nan_and_float32():
    pts = np.array([[1.0, 2.0], [np.nan, np.nan]], np.float32)
    out = transform_points(pts, np.array([[1.0, 0, 1], [0, 1.0, 1]]))
    assert out.dtype == np.float32 and np.isnan(out[1]).all()
    np.testing.assert_allclose(out[0], [2.0, 3.0])
