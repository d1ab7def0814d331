"""Features of one clip from its onset and apex frames: pure computation, no file access."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from occmer.errors import FeatureError
from occmer.features.flow import compute_flow, to_gray
from occmer.features.maps import DIRECTION_OF, FLOW_MAPS, MAP_SUFFIXES, direction_planes, minmax_255
from occmer.features.spec import FLOW_CHANNELS, NORMALISERS, FlowSpec
from occmer.features.strain import optical_strain
from occmer.frames import frame_position

RESIZE_DOC = (
    "cv2.resize, INTER_AREA when shrinking (the mean over each output cell), INTER_LINEAR when enlarging; "
    "u scaled by S/W and v by S/H"
)
OCCLUSION_DOC = "max of the onset and apex occluder alpha (0..255 -> 0..1), resized like the flow"
DIFF_DOC = "apex minus onset luma, divided by 255 (range -1..1), resized like the flow"


@dataclass
class ClipFeatures:
    """data: float32 (C, S, S) in spec.channels order; occlusion: float32 (S, S) in [0, 1];
    scale: float32 (C,) the divisors the normalisation applied (1 = none)."""

    data: np.ndarray
    occlusion: np.ndarray
    scale: np.ndarray


def resize_map(values: np.ndarray, size: int) -> np.ndarray:
    """An (H, W) or (H, W, C) float map on an S x S grid (area mean when shrinking)."""
    h, w = values.shape[:2]
    shrink = size <= h and size <= w
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(values, dtype=np.float32), (size, size), interpolation=interpolation)


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """(S, S, 2) flow whose vectors are in pixels of the S x S grid."""
    h, w = flow.shape[:2]
    out = resize_map(flow, size)
    out[:, :, 0] *= size / w
    out[:, :, 1] *= size / h
    return out


def occlusion_map(occlusion: np.ndarray | None, shape: tuple[int, int], size: int) -> np.ndarray:
    """(S, S) float32 in [0, 1]: union (max) of the given uint8 alpha maps, or zeros."""
    if occlusion is None:
        return np.zeros((size, size), np.float32)
    alpha = np.asarray(occlusion)
    if alpha.ndim == 3:
        alpha = alpha.max(axis=0)
    if alpha.shape != shape:
        raise FeatureError(f"occlusion map is {alpha.shape} but frames are {shape}")
    scale = 255.0 if alpha.dtype == np.uint8 else 1.0
    return np.clip(resize_map(alpha.astype(np.float32) / scale, size), 0.0, 1.0)


def clip_features(
    onset: np.ndarray,
    apex: np.ndarray,
    spec: FlowSpec,
    occlusion: np.ndarray | None = None,
    flow: np.ndarray | None = None,
) -> ClipFeatures:
    """Channels (u, v, strain[, diff]) and the occluder alpha on the spec's S x S grid.

    onset, apex: uint8 (H, W, C) frames as stored (aligned, occluded). occlusion: uint8
    (H, W) or (k, H, W) alpha maps (their max is used). flow: the (H, W, 2) onset->apex flow
    when already computed with the same method and settings (several sizes share one).
    """
    if flow is None:
        flow = compute_flow(onset, apex, spec.method, **spec.settings())
    shape = flow.shape[:2]
    size = int(spec.size)
    planes = [flow_planes(flow, size)]
    if spec.diff:
        change = (to_gray(apex).astype(np.float32) - to_gray(onset).astype(np.float32)) / 255.0
        planes.append(resize_map(change, size)[None])
    data = np.concatenate(planes, axis=0).astype(np.float32)
    scale = NORMALISERS[spec.normalise](data, spec.channels).astype(np.float32)
    data /= scale[:, None, None]
    return ClipFeatures(data=data, occlusion=occlusion_map(occlusion, shape, size), scale=scale)


def flow_planes(flow: np.ndarray, size: int) -> np.ndarray:
    """(3, S, S) u, v, strain of a full-resolution (H, W, 2) flow on the S x S grid."""
    grid_flow = resize_flow(flow, size)
    return np.concatenate([grid_flow.transpose(2, 0, 1), optical_strain(grid_flow)[None]], axis=0)


def four_map_features(
    frames: tuple[np.ndarray, np.ndarray, np.ndarray],
    spec: FlowSpec,
    occlusion: np.ndarray | None = None,
    flows: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> ClipFeatures:
    """CausalNet's four maps (occmer.features.maps) from the (onset, apex, offset) frames: the onset->apex
    and apex->offset flow images (u, v, strain min-max scaled to 0..255) and their direction maps.

    flows: the (H, W, 2) onset->apex and apex->offset flows when already computed with the spec's method.
    occlusion: uint8 alpha of the three frames (their max is used).
    """
    onset, apex, offset = frames
    pairs = ((onset, apex), (apex, offset))
    flows = tuple(f if f is not None else compute_flow(a, b, spec.method, **spec.settings())
                  for f, (a, b) in zip(flows, pairs, strict=True))
    size = int(spec.size)
    maps = {suffix: minmax_255(flow_planes(flow, size)) for suffix, flow in zip(FLOW_MAPS, flows, strict=True)}
    maps.update({suffix: direction_planes(maps[source], FLOW_CHANNELS) for suffix, source in DIRECTION_OF.items()})
    data = np.concatenate([maps[suffix] for suffix in MAP_SUFFIXES], axis=0).astype(np.float32)
    shape = flows[0].shape[:2]
    return ClipFeatures(data=data, occlusion=occlusion_map(occlusion, shape, size),
                        scale=np.ones(len(spec.channels), np.float32))


def key_frame_index(frame_numbers: np.ndarray, number: int, role: str, sample_id: str, path: str) -> int:
    """Position of the frame numbered `number` in a clip, or a FeatureError naming the sample."""
    index = frame_position(frame_numbers, number)
    if index is None:
        stored = np.asarray(frame_numbers)
        span = f"{stored.min()}..{stored.max()}" if stored.size else "none"
        raise FeatureError(
            f"{path}: sample {sample_id}: {role} frame {number} is not among its stored frames ({span}); "
            "the file does not match its /samples table: re-run `occmer synthesize` for it"
        )
    return index
