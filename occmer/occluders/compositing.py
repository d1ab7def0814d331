"""Blend an occluder layer into frames, moved by each frame's rigid head motion.

Also the placement-time helpers every family shares: feathered alpha edges, matching the
occluder's brightness and colour to the face's local illumination, and the covered
fraction of the face. These run once per clip on the onset frame, so nothing they do
can flicker between frames.
"""

from __future__ import annotations

import cv2
import numpy as np

from occmer.faces import topology as topo
from occmer.occluders.base import OccluderLayer

# Transforms closer to the identity than this (in pixels of displacement at the frame
# corners) are treated as the identity, so a still face gets bit-identical occluders.
IDENTITY_TOLERANCE_PX = 1e-3
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def is_identity(transform: np.ndarray | None, shape: tuple[int, int]) -> bool:
    """True when a 2x3 affine moves no pixel of a (H, W) frame by more than the tolerance."""
    if transform is None:
        return True
    h, w = shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
    moved = corners @ np.asarray(transform, np.float64).T
    return float(np.abs(moved - corners[:, :2]).max()) < IDENTITY_TOLERANCE_PX


def warp_layer(layer: OccluderLayer, transform: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied colour, alpha) of the whole layer moved by a 2x3 affine transform."""
    compositor = Compositor(layer)
    h, w = layer.alpha.shape
    color = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    box = compositor.target_box(transform)
    if box is not None:
        (y0, y1, x0, x1), (c, a) = box, compositor.warp(transform, box)
        color[y0:y1, x0:x1], alpha[y0:y1, x0:x1] = c, a
    return color, alpha


class Compositor:
    """Composites one layer into many frames, touching only the pixels the occluder can reach.

    The premultiplied colour and the layer's bounding box are computed once per clip; each
    frame warps and blends only the box moved by that frame's transform (a glasses layer
    covers a tenth of the crop, so this is most of the compositing cost saved).
    """

    PAD_PX = 2  # bilinear footprint and rounding margin around the moved box

    def __init__(self, layer: OccluderLayer) -> None:
        self.alpha = np.ascontiguousarray(layer.alpha, dtype=np.float32)
        self.premult = np.ascontiguousarray(layer.color * self.alpha[:, :, None], dtype=np.float32)
        self.shape = self.alpha.shape
        rows, cols = np.nonzero(self.alpha > 0)
        self.source_box = None if rows.size == 0 else (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)

    def target_box(self, transform: np.ndarray | None) -> tuple[int, int, int, int] | None:
        """(y0, y1, x0, x1) of the frame region the moved layer can cover, or None if empty."""
        if self.source_box is None:
            return None
        h, w = self.shape
        y0, y1, x0, x1 = self.source_box
        if is_identity(transform, self.shape):
            return self.source_box
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
        moved = corners @ np.asarray(transform, np.float64).T
        pad = self.PAD_PX
        bx0, by0 = np.floor(moved.min(axis=0)).astype(int) - pad
        bx1, by1 = np.ceil(moved.max(axis=0)).astype(int) + pad
        bx0, by0, bx1, by1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
        return None if bx0 >= bx1 or by0 >= by1 else (by0, by1, bx0, bx1)

    def warp(self, transform: np.ndarray | None, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(premultiplied colour, alpha) of the moved layer inside `box` of the frame."""
        y0, y1, x0, x1 = box
        if is_identity(transform, self.shape):
            return self.premult[y0:y1, x0:x1], self.alpha[y0:y1, x0:x1]
        m = np.asarray(transform, np.float64).copy()
        m[:, 2] -= (x0, y0)  # the same mapping, written into a box-sized image
        size = (x1 - x0, y1 - y0)
        kwargs = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
        return cv2.warpAffine(self.premult, m, size, **kwargs), cv2.warpAffine(self.alpha, m, size, **kwargs)

    def composite(self, frame: np.ndarray, transform: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(occluded frame uint8, occlusion alpha uint8 0..255); see `composite`."""
        squeeze = frame.ndim == 2
        image = frame[:, :, None] if squeeze else frame
        occluded = image.copy()
        alpha_u8 = np.zeros(self.shape, np.uint8)
        box = self.target_box(transform)
        if box is not None:
            y0, y1, x0, x1 = box
            color, alpha = self.warp(transform, box)
            if image.shape[2] == 1:
                color = (color @ LUMA)[:, :, None]
            a = alpha[:, :, None]
            out = image[y0:y1, x0:x1].astype(np.float32) * (1.0 - a) + color
            occluded[y0:y1, x0:x1] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
            alpha_u8[y0:y1, x0:x1] = np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
        return (occluded[:, :, 0] if squeeze else occluded), alpha_u8


def composite(frame: np.ndarray, layer: OccluderLayer, transform: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(occluded frame uint8, occlusion alpha uint8 0..255) for one frame.

    frame: (H, W, C) uint8 with C = 3 (RGB) or 1 (gray), or (H, W) gray; gray frames get
    the layer's luminance, so an occluder on SAMM or SMIC-NIR stays gray. The output has
    the input's shape. For many frames of one clip, make one `Compositor` instead.
    """
    return Compositor(layer).composite(frame, transform)


def feather(alpha: np.ndarray, sigma_px: float) -> np.ndarray:
    """Soften alpha edges with a Gaussian of `sigma_px` pixels (0 = unchanged).

    A hard 0/1 edge on a face looks pasted on; a one-pixel soft edge looks printed on.
    """
    if sigma_px <= 0:
        return alpha.astype(np.float32, copy=True)
    soft = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), sigmaX=float(sigma_px), borderType=cv2.BORDER_CONSTANT)
    return np.clip(soft, 0.0, 1.0)


def luminance(frame: np.ndarray) -> np.ndarray:
    """Float32 (H, W) luminance 0..255 of an RGB or gray frame."""
    image = frame.astype(np.float32)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return image @ LUMA


def illumination_gain(
    frame: np.ndarray, landmarks: np.ndarray, reference: float = 170.0, strength: float = 0.7
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(gain map (H, W), colour cast (3,), record) that lights an occluder like the face.

    The gain map is the face's low-frequency luminance (shadows, a lit side) relative to
    `reference` (a well lit face), tempered by `strength` so an occluder on a dark face is
    darker but still readable. The colour cast is the face's mean colour relative to its
    own luminance (a warm or a blue light), also tempered; gray frames get no cast.
    """
    h, w = frame.shape[:2]
    face = topo.face_region_mask(landmarks, (h, w))
    lum = luminance(frame)
    face_size = max(4.0, float(np.sqrt(face.sum())))
    sigma = face_size / 6.0
    weight = cv2.GaussianBlur(face.astype(np.float32), (0, 0), sigma) + 1e-6
    local = cv2.GaussianBlur(lum * face, (0, 0), sigma) / weight
    face_mean = float(lum[face].mean()) if face.any() else reference
    local = np.where(weight > 0.05, local, face_mean)
    gain = (local / reference) ** strength
    gain = np.clip(gain, 0.25, 1.4).astype(np.float32)
    cast = np.ones(3, np.float32)
    if frame.ndim == 3 and frame.shape[2] == 3 and face.any():
        mean_rgb = frame[face].astype(np.float32).mean(0)
        cast = (mean_rgb / max(1.0, float(mean_rgb @ LUMA))) ** (0.25 * strength)
        cast = (cast / float(cast @ LUMA)).astype(np.float32)
    record = {
        "reference": reference,
        "strength": strength,
        "face_luminance": round(face_mean, 3),
        "cast": [round(float(c), 4) for c in cast],
    }
    return gain, cast, record


def match_illumination(
    color: np.ndarray, frame: np.ndarray, landmarks: np.ndarray, strength: float = 0.7
) -> tuple[np.ndarray, dict]:
    """The occluder colour lit like the face around it (see illumination_gain)."""
    gain, cast, record = illumination_gain(frame, landmarks, strength=strength)
    lit = color * gain[:, :, None] * cast[None, None, :]
    return np.clip(lit, 0.0, 255.0).astype(np.float32), record


def occlusion_ratio(alpha: np.ndarray, landmarks: np.ndarray) -> float:
    """Covered fraction of the face region (convex hull of the mesh), alpha-weighted.

    alpha: (H, W) float in 0..1 or uint8 in 0..255.
    """
    a = alpha.astype(np.float32)
    if alpha.dtype == np.uint8:
        a = a / 255.0
    face = topo.face_region_mask(landmarks, a.shape[:2])
    area = int(face.sum())
    if area == 0:
        return 0.0
    return float(a[face].sum() / area)
