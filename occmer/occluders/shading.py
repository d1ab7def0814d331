"""Shading and contact: an occluder lit by the face under it, its shadow on the skin, lenses.

Everything here runs once per clip, on the onset frame, and returns planes of the layer
(colour, alpha, a shadow on the skin, a lens displacement) that the compositor moves with
the head like the occluder itself. So a still head still gets bit-identical occlusion, and
the shading costs nothing per frame.

- Shading: the face's luminance with its small dark features (eyes, nostrils, lips)
  closed away and blurred at about a twelfth of the face, relative to a well lit face.
  A mask is darker where the cheek turns away from the light and brighter on the nose.
- Contact shadow: the occluder's solid parts, blurred and shifted away from the light,
  darken the skin just around them (glasses frames, mask edges).
- Specular highlight: a soft spot on each lens, offset towards the light; it is part of
  the layer, so it follows the head.
- Lenses: a clear lens of power P diopters at a vertex distance d (12 mm) in front of the
  eye shows what is behind it magnified by M = 1 / (1 - d P) (a virtual image); P is drawn
  per clip from DIOPTER_RANGE, so M is 0.94 (-5 D, myopia) to 1.04 (+3 D).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from occmer.faces import topology as topo
from occmer.occluders.compositing import luminance

DIOPTER_RANGE = (-5.0, 3.0)  # typical spectacle powers; myopia (negative) is the more common
VERTEX_DISTANCE_M = 0.012
SHADOW_STRENGTH = 0.35  # the darkest the skin gets right at an occluder's edge (fraction)


def _face_size(face: np.ndarray) -> float:
    return max(8.0, float(np.sqrt(face.sum())))


def face_shading(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, tuple[float, float], float]:
    """(shading map (H, W) float32 in luminance units, light direction (x, y), face size px).

    The light direction is a unit-less tilt: (right half - left half, lower - upper) of the
    shading over the face, relative to its mean (positive x = lit from the image's right).
    """
    h, w = frame.shape[:2]
    face = topo.face_region_mask(landmarks, (h, w))
    size = _face_size(face)
    lum = luminance(frame)
    k = max(3, int(round(size / 14)) | 1)
    closed = cv2.morphologyEx(lum, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    sigma = size / 12.0
    weight = cv2.GaussianBlur(face.astype(np.float32), (0, 0), sigma) + 1e-6
    local = cv2.GaussianBlur(closed * face, (0, 0), sigma) / weight
    mean = float(closed[face].mean()) if face.any() else 170.0
    shading = np.where(weight > 0.05, local, mean).astype(np.float32)
    if not face.any():
        return shading, (0.0, 0.0), size
    ys, xs = np.nonzero(face)
    cx, cy = xs.mean(), ys.mean()
    values = shading[ys, xs]
    tilt_x = (values[xs > cx].mean() - values[xs <= cx].mean()) / max(mean, 1.0) if (xs > cx).any() else 0.0
    tilt_y = (values[ys > cy].mean() - values[ys <= cy].mean()) / max(mean, 1.0) if (ys > cy).any() else 0.0
    return shading, (float(tilt_x), float(tilt_y)), size


def shade_color(
    color: np.ndarray, frame: np.ndarray, shading: np.ndarray, landmarks: np.ndarray, strength: float,
    reference: float = 170.0, with_cast: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The occluder's colour times the face's shading under it (and the face's colour cast,
    unless `with_cast` is False: a colour already taken from the face has it)."""
    from occmer.occluders.compositing import illumination_gain

    _, cast, record = illumination_gain(frame, landmarks, reference=reference, strength=strength)
    if not with_cast:
        cast = np.ones(3, np.float32)
        record = {**record, "cast": [1.0, 1.0, 1.0]}
    gain = np.clip((shading / reference) ** strength, 0.25, 1.4).astype(np.float32)
    lit = np.clip(color * gain[:, :, None] * cast[None, None, :], 0.0, 255.0).astype(np.float32)
    under = gain[shading > 0]
    record = {**record, "model": "closed-luminance", "gain_range": [round(float(under.min()), 4), round(float(under.max()), 4)]}
    return lit, record


def contact_shadow(
    alpha: np.ndarray, light: tuple[float, float], face_size: float, strength: float = SHADOW_STRENGTH
) -> tuple[np.ndarray, dict[str, Any]]:
    """(shadow (H, W) float32 0..strength, record): the solid parts blurred and shifted from the light.

    alpha**2 is the caster, so a clear lens (alpha ~0.15) casts almost nothing and a frame or
    a mask edge casts fully. The shadow falls mostly downwards (light from above) and away
    from the lit side.
    """
    direction = np.array([-np.clip(3.0 * light[0], -1.0, 1.0), 1.0])
    offset = direction / np.linalg.norm(direction) * face_size * 0.012
    sigma = max(0.8, face_size * 0.012)
    m = np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]]])
    h, w = alpha.shape
    caster = cv2.warpAffine(alpha.astype(np.float32) ** 2, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    shadow = cv2.GaussianBlur(caster, (0, 0), sigma) * strength
    shadow[shadow < 1e-3] = 0.0  # keep the compositor's box tight
    record = {"strength": strength, "offset_px": [round(float(v), 3) for v in offset], "sigma_px": round(sigma, 3)}
    return shadow.astype(np.float32), record


def lens_interiors(alpha: np.ndarray, centres: list[np.ndarray]) -> np.ndarray:
    """(H, W) float32 1 inside each lens: the see-through region around each centre, inside the rim."""
    h, w = alpha.shape
    inside = np.zeros((h, w), np.float32)
    if len(centres) < 2:
        return inside
    spacing = float(np.linalg.norm(centres[1] - centres[0]))
    clear = (alpha < 0.6).astype(np.uint8)
    for centre in centres:
        disc = np.zeros((h, w), np.uint8)
        cv2.circle(disc, (int(round(centre[0])), int(round(centre[1]))), max(2, int(spacing * 0.55)), 1, -1)
        region = clear & disc
        x, y = int(round(centre[0])), int(round(centre[1]))
        if not (0 <= x < w and 0 <= y < h) or not region[y, x]:
            continue
        _, labels = cv2.connectedComponents(region, connectivity=4)
        inside[labels == labels[y, x]] = 1.0
    return cv2.GaussianBlur(inside, (0, 0), 1.0)


def lens_displacement(interior: np.ndarray, centres: list[np.ndarray], diopters: float) -> tuple[np.ndarray, float]:
    """((H, W, 2) float32 where each lens pixel shows the face from, magnification M)."""
    magnification = 1.0 / (1.0 - VERTEX_DISTANCE_M * diopters)
    h, w = interior.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    shift = np.zeros((h, w, 2), np.float32)
    nearest = np.zeros((h, w), np.int64)
    if len(centres) == 2:  # each pixel refracts about the centre of its own lens
        d0 = (xs - centres[0][0]) ** 2 + (ys - centres[0][1]) ** 2
        d1 = (xs - centres[1][0]) ** 2 + (ys - centres[1][1]) ** 2
        nearest = (d1 < d0).astype(np.int64)
    factor = 1.0 - 1.0 / magnification
    for i, centre in enumerate(centres):
        own = (nearest == i) * interior
        shift[:, :, 0] += own * (centre[0] - xs) * factor
        shift[:, :, 1] += own * (centre[1] - ys) * factor
    return shift, magnification


def add_specular(
    color: np.ndarray, alpha: np.ndarray, centres: list[np.ndarray], light: tuple[float, float], intensity: float
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A soft white spot on each lens, offset towards the light (straight colour, alpha, record)."""
    if len(centres) < 2 or intensity <= 0:
        return color, alpha, {}
    spacing = float(np.linalg.norm(centres[1] - centres[0]))
    h, w = alpha.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    offset = np.array([np.clip(3.0 * light[0], -1.0, 1.0) * 0.15, -0.12]) * spacing
    sigma = spacing * 0.07
    spot = np.zeros((h, w), np.float32)
    spots = []
    for centre in centres:
        at = np.asarray(centre, np.float64) + offset
        spots.append([round(float(v), 3) for v in at])
        spot = np.maximum(spot, np.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / (2 * sigma**2)))
    spot[spot < 0.01] = 0.0  # a spot, not a haze over the frame
    spot *= intensity
    new_alpha = alpha + spot * (1.0 - alpha)
    premult = color * alpha[:, :, None] + 255.0 * (spot * (1.0 - alpha))[:, :, None]
    new_color = np.where(new_alpha[:, :, None] > 1e-4, premult / np.maximum(new_alpha[:, :, None], 1e-4), 0.0)
    return new_color.astype(np.float32), new_alpha.astype(np.float32), {"intensity": intensity, "spots": spots,
                                                                        "sigma_px": round(sigma, 3)}
