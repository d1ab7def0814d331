"""Clips with known motion built from one face image, to check head-motion tracking.

A still face, a face that moves rigidly by known similarities, and a face whose brows
and lip corners move (an expression) without head motion: the three cases an occluder
must handle (stay bit-still, follow the head, ignore the expression). Tests and the
stability check use them; every random choice comes from the generator passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from occmer.faces.topology import LEFT_BROW, MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER, RIGHT_BROW


def add_sensor_noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The frame plus Gaussian noise of `sigma` gray levels, rounded and clipped to uint8."""
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def moved_frame(frame: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """The frame's content moved by a 2x3 transform (onset coordinates -> new coordinates), bilinear."""
    h, w = frame.shape[:2]
    out = cv2.warpAffine(frame, np.asarray(transform, np.float64), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(frame.shape)


def rigid_clip(onset: np.ndarray, transforms: Sequence[np.ndarray], noise_sigma: float, rng: np.random.Generator) -> list[np.ndarray]:
    """One frame per transform: the onset moved by it, with fresh sensor noise in every frame."""
    return [add_sensor_noise(moved_frame(onset, m), noise_sigma, rng) for m in transforms]


def expression_displacement(landmarks: np.ndarray, shape: tuple[int, int], amplitude_px: float, radius_px: float) -> np.ndarray:
    """(H, W, 2) displacement field: brows rise and lip corners pull out and up by amplitude_px.

    Each moving point drags its neighbourhood with a Gaussian fall-off of radius_px; the
    eye corners, nose and face sides stay where they are.
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w, 2), np.float32)
    lm = np.asarray(landmarks, np.float32)
    mouth_mid = (lm[MOUTH_RIGHT_CORNER] + lm[MOUTH_LEFT_CORNER]) / 2
    moves = [(lm[i], np.array([0.0, -1.0])) for i in RIGHT_BROW + LEFT_BROW]
    for corner in (MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER):
        outward = lm[corner] - mouth_mid
        direction = outward / max(float(np.linalg.norm(outward)), 1e-6) + np.array([0.0, -1.0])
        moves.append((lm[corner], direction / np.linalg.norm(direction)))
    weight_sum = np.zeros((h, w), np.float32)
    for centre, direction in moves:
        weight = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius_px**2))
        field += weight[:, :, None] * direction.astype(np.float32)
        weight_sum += weight
    # Normalise where points overlap (along a brow) so the peak displacement is amplitude_px.
    return field * (amplitude_px / np.maximum(weight_sum, 1.0))[:, :, None]


def deformed_frame(frame: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """The frame with each pixel's content moved by the (H, W, 2) displacement (small-motion backward map)."""
    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xx - displacement[:, :, 0]
    map_y = yy - displacement[:, :, 1]
    out = cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(frame.shape)


def expression_clip(
    onset: np.ndarray,
    landmarks: np.ndarray,
    n_frames: int,
    apex_index: int,
    amplitude_px: float,
    noise_sigma: float,
    rng: np.random.Generator,
    radius_px: float = 6.0,
) -> list[np.ndarray]:
    """A still head whose brows and lip corners rise from 0 at frame 0 to amplitude_px at apex and back."""
    unit = expression_displacement(landmarks, onset.shape[:2], 1.0, radius_px)
    frames = []
    for i in range(n_frames):
        if i <= apex_index:
            level = i / max(apex_index, 1)
        else:
            level = (n_frames - 1 - i) / max(n_frames - 1 - apex_index, 1)
        frames.append(add_sensor_noise(deformed_frame(onset, unit * amplitude_px * level), noise_sigma, rng))
    return frames
