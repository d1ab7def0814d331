"""Masks that follow the skin: fabric control points moved by the face's own motion under them.

A surgical or cloth mask rests on the cheeks, the nose and the chin; a lip-corner pull or
a jaw drop under it moves the fabric. `skin_control_motion` measures that motion on the
clean (unoccluded) clip, once per clip, and turns it into where each fabric control point
is on every frame:

1. dense Farneback flow from the onset to each frame, inside the mask's reach only;
2. spatially smoothed (a Gaussian of SPATIAL_SIGMA_FACE of the face size: fabric does not
   follow wrinkles), sampled at the control points (landmarks under the mask);
3. the head's rigid motion taken out (the compositor adds it back for the whole layer),
   and with it whatever small drift the rigid tracker left (its dead band): the motion of
   the nose points under the mask, rigid with the skull, is the zero of the fabric's motion;
4. smoothed over time (a Gaussian of TEMPORAL_SIGMA_FRAMES), attenuated (fabric moves less
   than the skin under it: ATTENUATION), and set exactly to zero on frames whose largest
   control-point displacement is under DEAD_BAND_PX, so a still face keeps a bit-still mask.

The compositor bends the onset layer by a thin-plate spline through the control points
(occmer.occluders.compositing.bend_layer); the control points of every frame are stored
with the clip (`occluder_control_points`), so the motion injected is measurable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from occmer.frames import to_gray

ATTENUATION = 0.6
SPATIAL_SIGMA_FACE = 0.04  # x face size (px): ~6 px on the aligned 224 px crop
TEMPORAL_SIGMA_FRAMES = 1.0
DEAD_BAND_PX = 0.05
MARGIN_PX = 24  # flow is computed on the mask's box grown by this much
# Interior lower-face landmarks the fabric also rests on, besides the template's anchors:
# lip corners, above the upper lip, below the lower lip.
EXTRA_CONTROL_LANDMARKS = (61, 291, 164, 200, 4, 5)
NOSE_REFERENCE_LANDMARKS = (1, 4, 5, 195)  # rigid with the skull: the fabric's still reference
MASK_MOTIONS = ("rigid", "skin")


@dataclass(frozen=True)
class SkinMotion:
    """Control points on the onset (K, 2) and on every frame (T, K, 2), onset coordinates."""

    source: np.ndarray
    targets: np.ndarray
    record: dict


def _sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples (K, C) of a (H, W, C) field at (K, 2) points."""
    pts = points.astype(np.float32)
    out = cv2.remap(field, pts[:, 0:1], pts[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(len(points), -1)


def _temporal_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge renormalisation (values (T, ...))."""
    if sigma <= 0 or len(values) < 2:
        return values
    t = np.arange(len(values), dtype=np.float64)
    weights = np.exp(-0.5 * ((t[:, None] - t[None, :]) / sigma) ** 2)
    weights /= weights.sum(1, keepdims=True)
    return np.tensordot(weights, values, axes=(1, 0))


def skin_control_motion(
    frames: Sequence[np.ndarray],
    onset_index: int,
    head_motion: np.ndarray,
    points: np.ndarray,
    box: tuple[int, int, int, int],
    face_size: float,
    *,
    reference: np.ndarray | None = None,
    attenuation: float = ATTENUATION,
    temporal_sigma: float = TEMPORAL_SIGMA_FRAMES,
    dead_band_px: float = DEAD_BAND_PX,
) -> SkinMotion:
    """Where the fabric control points `points` (onset coordinates) are on every frame.

    frames: the clean aligned clip; head_motion: (T, 2, 3) onset -> frame t; box: (y0, y1,
    x0, x1) of the layer's reach on the onset; reference: (K,) bool, the points whose mean
    motion is taken as the head's (the nose), or None.
    """
    h, w = frames[onset_index].shape[:2]
    y0, y1 = max(box[0] - MARGIN_PX, 0), min(box[1] + MARGIN_PX, h)
    x0, x1 = max(box[2] - MARGIN_PX, 0), min(box[3] + MARGIN_PX, w)
    local = np.asarray(points, np.float64) - (x0, y0)
    sigma = max(1.0, SPATIAL_SIGMA_FACE * face_size)
    onset = to_gray(frames[onset_index])[y0:y1, x0:x1]
    residual = np.zeros((len(frames), len(points), 2))
    for t, frame in enumerate(frames):
        if t == onset_index:
            continue
        flow = cv2.calcOpticalFlowFarneback(onset, to_gray(frame)[y0:y1, x0:x1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
        flow = cv2.GaussianBlur(flow, (0, 0), sigma)
        moved = np.asarray(points, np.float64) + _sample(flow, local)
        transform = np.asarray(head_motion[t], np.float64)
        rigid = np.asarray(points, np.float64) @ transform[:, :2].T + transform[:, 2]
        # back into onset coordinates: the compositor applies the head motion to the bent layer
        residual[t] = (moved - rigid) @ np.linalg.inv(transform[:, :2]).T
        if reference is not None and reference.any():
            residual[t] -= residual[t][reference].mean(axis=0)
    residual = _temporal_smooth(residual, temporal_sigma) * attenuation
    residual[onset_index] = 0.0
    largest = np.abs(residual).max(axis=(1, 2))
    residual[largest < dead_band_px] = 0.0
    magnitude = np.linalg.norm(residual, axis=2)
    record = {
        "mode": "skin",
        "source": "farneback flow of the clean clip, onset -> frame, rigid head motion removed",
        "reference_points": int(0 if reference is None else reference.sum()),
        "attenuation": attenuation,
        "spatial_sigma_px": round(sigma, 3),
        "temporal_sigma_frames": temporal_sigma,
        "dead_band_px": dead_band_px,
        "moving_frames": int((largest >= dead_band_px).sum()),
        "max_displacement_px": round(float(magnitude.max()), 4),
        "mean_displacement_px": round(float(magnitude.mean()), 4),
    }
    return SkinMotion(np.asarray(points, np.float64), np.asarray(points, np.float64)[None] + residual, record)
