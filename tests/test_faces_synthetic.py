"""The synthetic clips used to check head motion: known motion where it should be, none elsewhere."""

from __future__ import annotations

import numpy as np

from occmer.faces.synthetic import (
    add_sensor_noise,
    deformed_frame,
    expression_displacement,
    moved_frame,
    rigid_clip,
)
from occmer.faces.topology import (
    LEFT_BROW,
    MOUTH_LEFT_CORNER,
    MOUTH_RIGHT_CORNER,
    N_POINTS,
    NOSE_BRIDGE,
    RIGHT_BROW,
    RIGHT_EYE_INNER,
)


def layout() -> np.ndarray:
    lm = np.full((N_POINTS, 2), 10.0, np.float32)
    lm[list(RIGHT_BROW)] = np.linspace([40, 60], [80, 60], len(RIGHT_BROW))
    lm[list(LEFT_BROW)] = np.linspace([120, 60], [160, 60], len(LEFT_BROW))
    lm[MOUTH_LEFT_CORNER], lm[MOUTH_RIGHT_CORNER] = (130, 150), (70, 150)
    lm[RIGHT_EYE_INNER] = (90, 85)
    lm[list(NOSE_BRIDGE)] = (100, 100)
    return lm


def test_expression_moves_brows_and_lip_corners_only():
    field = expression_displacement(layout(), (200, 200), 2.0, 6.0)
    brow = field[60, 140]
    assert abs(brow[1] + 2.0) < 0.3 and abs(brow[0]) < 0.1  # brows rise by ~2 px
    corner = field[150, 130]
    assert corner[0] > 0.5 and corner[1] < -0.5  # the left corner pulls out and up
    assert np.abs(field[100, 100]).max() < 1e-3  # the nose bridge stays
    assert np.abs(field).max() <= 2.0 + 1e-5


def test_deformed_and_moved_frames_shift_content():
    rng = np.random.default_rng(0)
    frame = np.zeros((40, 40, 1), np.uint8)
    frame[20, 20] = 255
    shifted = moved_frame(frame, np.array([[1.0, 0, 3], [0, 1.0, 0]]))
    assert shifted.shape == frame.shape and shifted[20, 23, 0] == 255
    field = np.zeros((40, 40, 2), np.float32)
    field[..., 1] = -2.0
    assert deformed_frame(frame, field)[18, 20, 0] == 255
    noisy = add_sensor_noise(np.full((50, 50, 3), 100, np.uint8), 2.0, rng)
    assert 1.5 < noisy.astype(float).std() < 2.5
    clip = rigid_clip(frame, [np.eye(2, 3)] * 3, 1.0, rng)
    assert len(clip) == 3 and not np.array_equal(clip[0], clip[1])
