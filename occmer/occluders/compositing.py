"""Blend an occluder layer into frames, moved by each frame's rigid head motion.

Also the placement-time helpers every family shares: feathered alpha edges, matching the
occluder's brightness and colour to the face's local illumination, and the covered
fraction of the face. These run once per clip on the onset frame, so nothing they do
can flicker between frames.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from occmer.faces import topology as topo
from occmer.frames import LUMA
from occmer.occluders.base import OccluderLayer
from occmer.occluders.warps import _tps_eval, _tps_fit

# Transforms closer to the identity than this (in pixels of displacement at the frame
# corners) are treated as the identity, so a still face gets bit-identical occluders.
IDENTITY_TOLERANCE_PX = 1e-3
BEND_STEP_PX = 4  # grid step of the thin-plate spline behind a bent (skin-following) layer


def is_identity(transform: np.ndarray | None, shape: tuple[int, int]) -> bool:
    """True when a 2x3 affine moves no pixel of a (H, W) frame by more than the tolerance."""
    if transform is None:
        return True
    h, w = shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
    moved = corners @ np.asarray(transform, np.float64).T
    return float(np.abs(moved - corners[:, :2]).max()) < IDENTITY_TOLERANCE_PX


class Compositor:
    """Composites one layer into many frames, touching only the pixels the occluder can reach.

    The premultiplied colour and the layer's bounding box are computed once per clip; each
    frame warps and blends only the box moved by that frame's transform (a glasses layer
    covers a tenth of the crop, so this is most of the compositing cost saved).

    A layer may also darken the skin around it (`shadow`), show the face through a lens
    from displaced positions (`lens`) and move by itself (`motion`: see LayerMotion); each
    of these is warped with the same transform, so a still head still gets bit-identical
    occlusion.
    """

    PAD_PX = 2  # bilinear footprint and rounding margin around the moved box

    def __init__(self, layer: OccluderLayer) -> None:
        self.layer = layer
        self.alpha = np.ascontiguousarray(layer.alpha, dtype=np.float32)
        self.premult = np.ascontiguousarray(layer.color * self.alpha[:, :, None], dtype=np.float32)
        self.shape = self.alpha.shape
        self.shadow = None if layer.shadow is None else np.ascontiguousarray(layer.shadow, dtype=np.float32)
        self.lens = None if layer.lens is None else np.ascontiguousarray(layer.lens, dtype=np.float32)
        self.motion = layer.motion
        self._rigid: Compositor | None = None  # the same layer without motion (built on first need)
        reach = self.alpha > 0
        if self.shadow is not None:
            reach |= self.shadow > 0
        rows, cols = np.nonzero(reach)
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

    def _planes(self, image: np.ndarray, transform: np.ndarray | None, box: tuple[int, int, int, int]) -> np.ndarray:
        """`image` (H, W[, C]) of the layer moved by `transform`, cut to `box` of the frame."""
        y0, y1, x0, x1 = box
        if is_identity(transform, self.shape):
            return image[y0:y1, x0:x1]
        m = np.asarray(transform, np.float64).copy()
        m[:, 2] -= (x0, y0)  # the same mapping, written into a box-sized image
        size = (x1 - x0, y1 - y0)
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def warp(self, transform: np.ndarray | None, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(premultiplied colour, alpha) of the moved layer inside `box` of the frame."""
        return self._planes(self.premult, transform, box), self._planes(self.alpha, transform, box)

    def _refracted(self, image: np.ndarray, transform: np.ndarray | None, box: tuple[int, int, int, int]) -> np.ndarray:
        """The frame's pixels in `box` as seen through the lenses (float32 (h, w, C))."""
        assert self.lens is not None
        y0, y1, x0, x1 = box
        shift = self._planes(self.lens, transform, box)
        if not is_identity(transform, self.shape):  # displacement vectors turn and scale with the head
            shift = shift @ np.asarray(transform, np.float32)[:, :2].T
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        source = image.astype(np.float32)
        seen = cv2.remap(source, xs + shift[:, :, 0], ys + shift[:, :, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return seen.reshape(y1 - y0, x1 - x0, -1)

    def composite(
        self, frame: np.ndarray, transform: np.ndarray | None = None, index: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(occluded frame uint8, occlusion alpha uint8 0..255); see `composite`.

        index: the frame's position in the clip, needed only when the layer moves by itself.
        """
        if self.motion is not None and index is not None:
            return self._composite_moving(frame, transform, index)
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
            behind = image[y0:y1, x0:x1].astype(np.float32) if self.lens is None else self._refracted(image, transform, box)
            if self.shadow is not None:
                behind = behind * (1.0 - self._planes(self.shadow, transform, box))[:, :, None]
            out = behind * (1.0 - a) + color
            occluded[y0:y1, x0:x1] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
            alpha_u8[y0:y1, x0:x1] = np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
        return (occluded[:, :, 0] if squeeze else occluded), alpha_u8

    def _composite_moving(self, frame: np.ndarray, transform: np.ndarray | None, index: int) -> tuple[np.ndarray, np.ndarray]:
        """One frame of a layer that moves by itself: bend and/or move it, then composite rigidly."""
        motion = self.motion
        assert motion is not None
        if not bool(motion.visible[index]):
            return frame.copy(), np.zeros(self.shape, np.uint8)
        head = np.eye(2, 3) if transform is None else np.asarray(transform, np.float64)
        local = np.asarray(motion.local[index], np.float64)
        combined = np.hstack([head[:, :2] @ local[:, :2], (head[:, :2] @ local[:, 2] + head[:, 2])[:, None]])
        if self._rigid is None:
            self._rigid = Compositor(replace(self.layer, motion=None))
        if motion.control_src is None or motion.control_dst is None:
            return self._rigid.composite(frame, combined)
        moved = np.abs(np.asarray(motion.control_dst[index]) - motion.control_src).max()
        if moved < IDENTITY_TOLERANCE_PX:  # the fabric is at rest: the rigid (bit-stable) path
            return self._rigid.composite(frame, combined)
        bent = bend_layer(self.layer, motion.control_src, motion.control_dst[index], self.source_box)
        return Compositor(bent).composite(frame, combined)


def bend_layer(
    layer: OccluderLayer, src: np.ndarray, dst: np.ndarray, box: tuple[int, int, int, int] | None, pad: int = 6
) -> OccluderLayer:
    """The layer (no motion) bent by the thin-plate spline taking control points `src` to `dst`.

    Only `box` (the layer's reach) grown by `pad` pixels is resampled: the fabric moves by a
    few pixels at most, so nothing outside can be reached.
    """
    h, w = layer.alpha.shape
    if box is None:
        return replace(layer, motion=None)
    y0, y1, x0, x1 = max(box[0] - pad, 0), min(box[1] + pad, h), max(box[2] - pad, 0), min(box[3] + pad, w)
    inverse = _tps_fit(np.asarray(dst, np.float64), np.asarray(src, np.float64), 1e-3)
    # the spline is smooth: evaluate it every BEND_STEP_PX pixels and interpolate the maps linearly
    ys, xs = np.mgrid[y0 : y1 + BEND_STEP_PX : BEND_STEP_PX, x0 : x1 + BEND_STEP_PX : BEND_STEP_PX]
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    coarse = (_tps_eval(np.asarray(dst, np.float64), inverse, grid) - grid).reshape(*ys.shape, 2).astype(np.float32)
    fine = cv2.resize(coarse, ((xs.shape[1] - 1) * BEND_STEP_PX + 1, (ys.shape[0] - 1) * BEND_STEP_PX + 1),
                      interpolation=cv2.INTER_LINEAR)[: y1 - y0, : x1 - x0]
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    map_x, map_y = gx + fine[:, :, 0], gy + fine[:, :, 1]

    def resample(plane: np.ndarray | None) -> np.ndarray | None:
        if plane is None:
            return None
        out = np.zeros_like(plane, dtype=np.float32)
        out[y0:y1, x0:x1] = cv2.remap(
            plane.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        ).reshape(out[y0:y1, x0:x1].shape)
        return out

    alpha = resample(layer.alpha)
    premult = resample(layer.color * layer.alpha[:, :, None])
    assert alpha is not None and premult is not None
    color = np.where(alpha[:, :, None] > 1e-4, premult / np.maximum(alpha[:, :, None], 1e-4), 0.0).astype(np.float32)
    return replace(layer, color=color, alpha=alpha, shadow=resample(layer.shadow), motion=None)


def occluder_motion_arrays(layer: OccluderLayer, head_motion: np.ndarray) -> dict[str, np.ndarray]:
    """The per-frame arrays stored with a clip whose occluder moves by itself (none otherwise).

    occluder_motion (T, 2, 3): the occluder's own transform in onset coordinates (before the
    head motion); occluder_visible (T,) uint8; occluder_control_points (T, K, 2): where each
    fabric control point is on frame t, in stored-frame coordinates (head motion included).
    """
    motion = layer.motion
    if motion is None:
        return {}
    arrays = {
        "occluder_motion": np.asarray(motion.local, np.float64),
        "occluder_visible": np.asarray(motion.visible, np.uint8),
    }
    if motion.control_dst is not None:
        dst = np.asarray(motion.control_dst, np.float64)
        head = np.asarray(head_motion, np.float64)
        arrays["occluder_control_points"] = (np.einsum("tkj,tij->tki", dst, head[:, :, :2]) + head[:, None, :, 2]).astype(
            np.float32
        )
    return arrays


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
