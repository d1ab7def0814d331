"""Blend an occluder layer into frames, moved by each frame's rigid head motion."""

from __future__ import annotations

import cv2
import numpy as np

from occmer.occluders.base import OccluderLayer

# Transforms closer to the identity than this (in pixels of displacement at the frame
# corners) are treated as the identity, so a still face gets bit-identical occluders.
IDENTITY_TOLERANCE_PX = 1e-3


def is_identity(transform: np.ndarray | None, shape: tuple[int, int]) -> bool:
    """True when a 2x3 affine moves no pixel of a (H, W) frame by more than the tolerance."""
    if transform is None:
        return True
    h, w = shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
    moved = corners @ np.asarray(transform, np.float64).T
    return float(np.abs(moved - corners[:, :2]).max()) < IDENTITY_TOLERANCE_PX


def warp_layer(layer: OccluderLayer, transform: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied colour, alpha) of the layer moved by a 2x3 affine transform."""
    premult = layer.color * layer.alpha[:, :, None]
    if is_identity(transform, layer.alpha.shape):
        return premult, layer.alpha
    h, w = layer.alpha.shape
    m = np.asarray(transform, np.float64)
    flags = cv2.INTER_LINEAR
    border = cv2.BORDER_CONSTANT
    alpha = cv2.warpAffine(layer.alpha, m, (w, h), flags=flags, borderMode=border, borderValue=0)
    color = cv2.warpAffine(premult, m, (w, h), flags=flags, borderMode=border, borderValue=0)
    return color, alpha


def composite(frame: np.ndarray, layer: OccluderLayer, transform: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(occluded frame uint8, occlusion alpha uint8 0..255) for one frame.

    frame: (H, W, C) uint8 with C = 3 (RGB) or 1 (gray); gray frames get the layer's
    luminance, so an occluder on SAMM or SMIC-NIR stays gray.
    """
    color, alpha = warp_layer(layer, transform)
    if frame.shape[2] == 1:
        color = (color @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
    a = alpha[:, :, None]
    out = frame.astype(np.float32) * (1.0 - a) + color
    occluded = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return occluded, np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
