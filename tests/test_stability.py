"""Temporal stability of occluders moved by the estimated head motion (issue 3, section 4).

Clips are synthesised from a real face (matplotlib's bundled Grace Hopper portrait):
aligned once on the onset, then repeated with sensor noise, moved by known sub-pixel
similarities, or deformed only at the brows and lip corners. The occluder is a feathered,
textured ellipse over the eyes placed once on the onset and moved by estimate_head_motion.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from occmer.faces.align import similarity_params
from occmer.faces.motion import estimate_head_motion
from occmer.faces.synthetic import expression_clip, rigid_clip
from occmer.faces.topology import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from occmer.occluders.base import OccluderLayer
from occmer.occluders.compositing import composite

NOISE = 2.0
N_FRAMES = 16
APEX = 8


@pytest.fixture(scope="module")
def face(aligned_hopper) -> tuple[np.ndarray, np.ndarray]:
    """(aligned onset RGB crop, its 478 landmarks): the shared bundled portrait (conftest)."""
    return aligned_hopper


def eye_band_layer(landmarks: np.ndarray, shape: tuple[int, int]) -> OccluderLayer:
    """A textured ellipse covering both eyes, anti-aliased and feathered (a hand-built occluder)."""
    h, w = shape
    right, left = landmarks[RIGHT_EYE_OUTER].astype(float), landmarks[LEFT_EYE_OUTER].astype(float)
    centre = (right + left) / 2
    half_width = np.linalg.norm(left - right) / 2 + 12
    angle = np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))
    mask = np.zeros((h * 4, w * 4), np.uint8)
    cv2.ellipse(mask, (int(centre[0] * 4), int(centre[1] * 4)), (int(half_width * 4), 18 * 4), angle, 0, 360, 255, -1, cv2.LINE_AA)
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5) * 0.95
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    texture = 90 + 50 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    color = np.stack([texture, texture * 0.8, texture * 0.6], axis=2).astype(np.float32)
    return OccluderLayer(color, alpha, {"kind": "test-ellipse"})


def alpha_centroid(alpha: np.ndarray) -> np.ndarray:
    """(x, y) centroid of an alpha map (uint8 or float)."""
    a = alpha.astype(np.float64)
    yy, xx = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return np.array([(a * xx).sum(), (a * yy).sum()]) / a.sum()


def occlude(frames: list[np.ndarray], layer: OccluderLayer, motion: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    pairs = [composite(f, layer, m) for f, m in zip(frames, motion, strict=True)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def mean_flow_inside(onset: np.ndarray, apex: np.ndarray, inside: np.ndarray) -> float:
    """Mean |Farneback flow| (px) between two RGB frames over a boolean region."""
    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (onset, apex))
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return float(np.linalg.norm(flow, axis=2)[inside].mean())


def roll_translation(angle_deg: float, tx: float, ty: float, centre: np.ndarray) -> np.ndarray:
    """The similarity rotating by angle_deg about centre, then translating by (tx, ty)."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -angle_deg, 1.0)
    m[:, 2] += (tx, ty)
    return m


def test_static_clip_keeps_occluder_bit_still(face):
    onset, landmarks = face
    frames = rigid_clip(onset, [np.eye(2, 3)] * N_FRAMES, NOISE, np.random.default_rng(1))
    motion = estimate_head_motion(frames, 0, landmarks)
    _, alphas = occlude(frames, eye_band_layer(landmarks, onset.shape[:2]), motion)
    centroids = np.array([alpha_centroid(a) for a in alphas])
    assert np.abs(centroids - centroids[0]).max() < 0.05
    change = max(int(np.abs(a.astype(int) - alphas[0].astype(int)).max()) for a in alphas)
    assert change <= 2
    # Control: a tenth of a pixel of occluder motion already breaks the per-pixel bound.
    nudged = composite(frames[1], eye_band_layer(landmarks, onset.shape[:2]), np.array([[1.0, 0, 0.1], [0, 1.0, 0]]))[1]
    assert np.abs(nudged.astype(int) - alphas[0].astype(int)).max() > 2


def test_occluder_follows_subpixel_translation_and_roll(face):
    onset, landmarks = face
    pivot = landmarks[168].astype(float)
    steps = np.linspace(0.0, 1.0, N_FRAMES)
    truth = [roll_translation(3.0 * s, 0.6 * s, -0.35 * s, pivot) for s in steps]
    frames = rigid_clip(onset, truth, NOISE, np.random.default_rng(2))
    motion = estimate_head_motion(frames, 0, landmarks)
    layer = eye_band_layer(landmarks, onset.shape[:2])
    for estimated, true in zip(motion, truth, strict=True):
        got = alpha_centroid(composite(onset, layer, estimated)[1])
        want = alpha_centroid(composite(onset, layer, true)[1])
        assert np.linalg.norm(got - want) < 0.5
        assert abs(np.degrees(similarity_params(estimated)[1] - similarity_params(true)[1])) < 1.0
    # The last frame really moved: an occluder left in place would be off by more than the tolerance.
    still = alpha_centroid(composite(onset, layer, None)[1])
    assert np.linalg.norm(alpha_centroid(composite(onset, layer, truth[-1])[1]) - still) > 0.5


def test_expression_does_not_drag_occluder(face):
    onset, landmarks = face
    frames = expression_clip(onset, landmarks, N_FRAMES, APEX, 3.0, NOISE, np.random.default_rng(3))
    # The expression is real: brows moved by ~3 px at apex.
    brow = landmarks[105].astype(int)
    patch = (slice(brow[1] - 8, brow[1] + 8), slice(brow[0] - 8, brow[0] + 8))
    assert np.abs(frames[APEX][patch].astype(int) - onset[patch].astype(int)).mean() > 4
    motion = estimate_head_motion(frames, 0, landmarks)
    layer = eye_band_layer(landmarks, onset.shape[:2])
    _, alphas = occlude(frames, layer, motion)
    centroids = np.array([alpha_centroid(a) for a in alphas])
    assert np.abs(centroids - centroids[0]).max() < 0.05
    # Control: a plain least-squares fit to every mesh point is dragged by the same expression.
    naive = naive_mesh_motion(onset, frames[APEX], landmarks)
    assert np.linalg.norm(alpha_centroid(composite(onset, layer, naive)[1]) - centroids[0]) > 0.3


def naive_mesh_motion(onset: np.ndarray, frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """What a non-robust tracker does: LK on all 468 mesh points, least-squares similarity, no rejection."""
    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (onset, frame))
    src = landmarks[:468].astype(np.float32).reshape(-1, 1, 2)
    dst, status, _ = cv2.calcOpticalFlowPyrLK(a, b, src, None, winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    s, d = src.reshape(-1, 2)[ok].astype(np.float64), dst.reshape(-1, 2)[ok].astype(np.float64)
    design = np.zeros((2 * len(s), 4))
    design[0::2] = np.stack([s[:, 0], -s[:, 1], np.ones(len(s)), np.zeros(len(s))], axis=1)
    design[1::2] = np.stack([s[:, 1], s[:, 0], np.zeros(len(s)), np.ones(len(s))], axis=1)
    p, *_ = np.linalg.lstsq(design, d.reshape(-1), rcond=None)
    return np.array([[p[0], -p[1], p[2]], [p[1], p[0], p[3]]])


def test_occluder_adds_no_flow_on_static_clip(face):
    onset, landmarks = face
    frames = rigid_clip(onset, [np.eye(2, 3)] * N_FRAMES, NOISE, np.random.default_rng(4))
    motion = estimate_head_motion(frames, 0, landmarks)
    layer = eye_band_layer(landmarks, onset.shape[:2])
    occluded, _ = occlude(frames, layer, motion)
    inside = layer.alpha > 0.5
    assert mean_flow_inside(occluded[0], occluded[APEX], inside) < 0.05
    # Control: the same measurement sees an occluder that jitters by half a pixel.
    jitter = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    jittered = composite(frames[APEX], layer, jitter)[0]
    assert mean_flow_inside(occluded[0], jittered, inside) > 0.2
