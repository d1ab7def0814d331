"""One similarity per clip: the onset frame's eyes fix where the whole clip is cropped.

Computing the crop once (not per frame) keeps alignment from adding motion: every frame
of the clip is warped by the same 2x3 matrix, so the only motion left is the subject's.

Canonical positions (fractions of the crop side `size`): the subject's right eye centre
(image left) at (0.33, 0.33), the left eye centre at (0.67, 0.33); eye centres are the
midpoints of the eye corners (stable under gaze, unlike the iris). With the inter-ocular
distance at 0.34 size, a typical face spans x 0.12..0.88, forehead top ~0.08, brows ~0.21,
chin ~0.93, so chin and brows stay inside the crop.

Transforms are 2x3 float64 matrices acting on column vectors (x, y, 1): p' = M @ [x, y, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

from occmer.errors import FaceNotFoundError
from occmer.faces.topology import eye_corner_centers

CANONICAL_RIGHT_EYE = (0.33, 0.33)
CANONICAL_LEFT_EYE = (0.67, 0.33)


def identity() -> np.ndarray:
    """The 2x3 identity transform."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def similarity_from_params(scale: float, angle_rad: float, tx: float, ty: float) -> np.ndarray:
    """The 2x3 similarity: scale, rotate by angle (positive = clockwise on screen, y points down), translate."""
    c, s = scale * np.cos(angle_rad), scale * np.sin(angle_rad)
    return np.array([[c, -s, tx], [s, c, ty]], dtype=np.float64)


def similarity_params(transform: np.ndarray) -> tuple[float, float, float, float]:
    """(scale, angle in radians, tx, ty) of a 2x3 similarity (inverse of similarity_from_params)."""
    m = np.asarray(transform, np.float64)
    return float(np.hypot(m[0, 0], m[1, 0])), float(np.arctan2(m[1, 0], m[0, 0])), float(m[0, 2]), float(m[1, 2])


def fit_similarity_params(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Least-squares similarity src -> dst as float64 (a, b, tx, ty), a = s cos θ, b = s sin θ.

    Closed form (deterministic, exact for two points); None when the src points all coincide.
    Template warps and the head-motion tracker both fit through this one function.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    s_mean, d_mean = src.mean(0), dst.mean(0)
    s, d = src - s_mean, dst - d_mean
    norm = (s**2).sum()
    if norm <= 0:
        return None
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / norm
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / norm
    tx, ty = d_mean - np.array([[a, -b], [b, a]]) @ s_mean
    return np.array([a, b, tx, ty])


def to_3x3(transform: np.ndarray) -> np.ndarray:
    """The homogeneous 3x3 form of a 2x3 affine transform."""
    out = np.eye(3)
    out[:2] = np.asarray(transform, np.float64)
    return out


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """outer after inner: the transform that applies `inner` first, then `outer`."""
    return (to_3x3(outer) @ to_3x3(inner))[:2]


def invert(transform: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform."""
    return np.linalg.inv(to_3x3(transform))[:2]


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """(K, 2) points mapped by a 2x3 transform; NaN points stay NaN; dtype is kept for float input."""
    pts = np.asarray(points)
    m = np.asarray(transform, np.float64)
    out = pts.astype(np.float64) @ m[:, :2].T + m[:, 2]
    return out.astype(pts.dtype) if np.issubdtype(pts.dtype, np.floating) else out


def alignment_transform(landmarks: np.ndarray, size: int, sample_id: str = "") -> np.ndarray:
    """The 2x3 float64 similarity mapping an onset frame into the canonical size x size crop.

    Eyes end level and at CANONICAL_RIGHT_EYE / CANONICAL_LEFT_EYE (times size).
    """
    right, left = eye_corner_centers(np.asarray(landmarks, np.float64))
    if not (np.all(np.isfinite(right)) and np.all(np.isfinite(left))):
        raise FaceNotFoundError(
            f"sample {sample_id or '?'}: the onset landmarks have no eye corners, so the face cannot be aligned; "
            "use a landmark set with eye corners (mediapipe 478 or 68-point files)"
        )
    src = left - right
    dst = (np.array(CANONICAL_LEFT_EYE) - np.array(CANONICAL_RIGHT_EYE)) * size
    src_len = float(np.hypot(*src))
    if src_len < 1e-6:
        raise FaceNotFoundError(
            f"sample {sample_id or '?'}: both eye centres fall on the same pixel; the landmarks are degenerate, "
            "check the landmark file or the detection on the onset frame"
        )
    scale = float(np.hypot(*dst)) / src_len
    angle = np.arctan2(dst[1], dst[0]) - np.arctan2(src[1], src[0])
    m = similarity_from_params(scale, angle, 0.0, 0.0)
    m[:, 2] = np.array(CANONICAL_RIGHT_EYE) * size - m[:, :2] @ right
    return m


def warp_frame(frame: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """The frame warped into a size x size crop (bilinear, border replicated); (H, W, C) stays (size, size, C)."""
    out = cv2.warpAffine(
        np.ascontiguousarray(frame),
        np.asarray(transform, np.float64),
        (int(size), int(size)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if frame.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out
