"""The random block: a rectangle covering a chosen fraction of the face region.

Coverage is measured as area(block ∩ face region) / area(face region), where the face
region is the convex hull of the mesh points (topology.face_region_mask). The block's
centre and aspect ratio are random; its size is then solved so that the coverage hits
the requested fraction, which keeps conditions comparable across faces of any size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError
from occmer.faces import topology as topo
from occmer.occluders.base import Occluder, OccluderLayer
from occmer.occluders.options import OccluderOption

ASPECT_RANGE = (2.0 / 3.0, 3.0 / 2.0)  # width / height of the block
GRAY_LEVEL = 128.0


@dataclass(frozen=True)
class Box:
    """An integer pixel rectangle [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def _points_box(points: np.ndarray) -> tuple[float, float, float, float]:
    return float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max())


def _group_box(groups: tuple[tuple[int, ...], ...]) -> Callable[[np.ndarray, np.ndarray], tuple[float, ...]]:
    def box(landmarks: np.ndarray, face: np.ndarray) -> tuple[float, ...]:
        index = [i for group in groups for i in group]
        return _points_box(landmarks[index])

    return box


def _face_rows_box(upper: bool) -> Callable[[np.ndarray, np.ndarray], tuple[float, ...]]:
    """The face's bounding box above (upper) or below (lower) the nose tip."""

    def box(landmarks: np.ndarray, face: np.ndarray) -> tuple[float, ...]:
        x0, y0, x1, y1 = _points_box(landmarks[:468])
        nose_y = float(landmarks[topo.NOSE_TIP, 1])
        return (x0, y0, x1, nose_y) if upper else (x0, nose_y, x1, y1)

    return box


# Where the block's centre may fall, per --region.
REGIONS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[float, ...]]] = {
    "eyes": _group_box((topo.RIGHT_EYE, topo.LEFT_EYE, topo.RIGHT_BROW, topo.LEFT_BROW)),
    "mouth": _group_box((topo.MOUTH,)),
    "nose": _group_box((topo.NOSE,)),
    "upper": _face_rows_box(upper=True),
    "lower": _face_rows_box(upper=False),
    "any": _group_box((tuple(range(468)),)),
}


def _fill_black(frame: np.ndarray, face: np.ndarray, shape: tuple[int, int], rng: np.random.Generator):
    return np.zeros(3, np.float32), [0.0, 0.0, 0.0]


def _fill_gray(frame: np.ndarray, face: np.ndarray, shape: tuple[int, int], rng: np.random.Generator):
    return np.full(3, GRAY_LEVEL, np.float32), [GRAY_LEVEL] * 3


def _fill_mean(frame: np.ndarray, face: np.ndarray, shape: tuple[int, int], rng: np.random.Generator):
    pixels = frame[face].astype(np.float64)
    mean = pixels.mean(axis=0) if len(pixels) else np.full(frame.shape[2], GRAY_LEVEL)
    rgb = np.broadcast_to(mean, (3,)) if mean.size == 1 else mean
    rgb = np.asarray(rgb, np.float32)
    return rgb, [round(float(v), 3) for v in rgb]


def _fill_noise(frame: np.ndarray, face: np.ndarray, shape: tuple[int, int], rng: np.random.Generator):
    # One noise pattern per clip: it moves with the head but never changes between frames.
    gray = rng.integers(0, 256, size=shape).astype(np.float32)
    return np.repeat(gray[:, :, None], 3, axis=2), "uniform gray noise 0..255"


FILLS: dict[str, Callable[..., tuple[np.ndarray, Any]]] = {
    "black": _fill_black,
    "gray": _fill_gray,
    "mean": _fill_mean,
    "noise": _fill_noise,
}


def _box_sum(integral: np.ndarray, box: Box) -> float:
    return float(integral[box.y1, box.x1] - integral[box.y0, box.x1] - integral[box.y1, box.x0] + integral[box.y0, box.x0])


def _box_at(cx: float, cy: float, half_h: float, aspect: float, shape: tuple[int, int]) -> Box:
    h, w = shape
    half_w = half_h * aspect
    x0 = int(np.clip(round(cx - half_w), 0, w))
    x1 = int(np.clip(round(cx + half_w), 0, w))
    y0 = int(np.clip(round(cy - half_h), 0, h))
    y1 = int(np.clip(round(cy + half_h), 0, h))
    return Box(x0, y0, max(x1, x0), max(y1, y0))


def solve_box(face: np.ndarray, center: tuple[float, float], aspect: float, coverage: float) -> tuple[Box, float]:
    """The block around `center` whose coverage of the face mask is closest to `coverage`.

    Coverage grows monotonically with the block's half-height, so a bisection on it finds
    the size; the result is the better of the two boxes bracketing the target.
    """
    shape = face.shape
    integral = np.zeros((shape[0] + 1, shape[1] + 1), np.float64)
    integral[1:, 1:] = np.cumsum(np.cumsum(face, axis=0, dtype=np.float64), axis=1)
    area = integral[-1, -1]
    if area <= 0:
        raise ConfigError("block occluder: the face region is empty; check the landmarks of this clip")

    def cover(half_h: float) -> tuple[Box, float]:
        box = _box_at(center[0], center[1], half_h, aspect, shape)
        return box, _box_sum(integral, box) / area

    lo, hi = 0.0, float(max(shape) * max(1.0, 1.0 / aspect) + 1)
    for _ in range(40):
        mid = (lo + hi) / 2
        if cover(mid)[1] >= coverage:
            hi = mid
        else:
            lo = mid
    below, above = cover(lo), cover(hi)
    return min((below, above), key=lambda result: abs(result[1] - coverage))


COVERAGE_OPTION = OccluderOption("coverage", "block: fraction of the face region to cover (0-1].", unit_interval=True)
REGION_OPTION = OccluderOption("region", "block: eyes, mouth, nose, upper, lower or any.")
FILL_OPTION = OccluderOption("fill", "block: black, gray, noise or mean.")


class BlockOccluder(Occluder):
    """A rectangle of black, gray, mean-face or noise fill covering `coverage` of the face."""

    name: ClassVar[str] = "block"
    description: ClassVar[str] = "random rectangle covering a fraction of the face (--coverage, --region, --fill)"
    options: ClassVar[tuple[str, ...]] = (COVERAGE_OPTION.key, REGION_OPTION.key, FILL_OPTION.key)

    def __init__(self, coverage: float = 0.2, region: str = "any", fill: str = "black") -> None:
        if not 0.0 < float(coverage) <= 1.0:
            raise ConfigError(f"block occluder: --coverage must be in (0, 1], got {coverage!r}; e.g. --coverage 0.2")
        if region not in REGIONS:
            raise ConfigError(f"block occluder: unknown --region {region!r}; choose one of {', '.join(REGIONS)}")
        if fill not in FILLS:
            raise ConfigError(f"block occluder: unknown --fill {fill!r}; choose one of {', '.join(FILLS)}")
        self.coverage = float(coverage)
        self.region = region
        self.fill = fill

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> BlockOccluder:
        if options.get("mask_motion") == "skin" and not options.get("within_random"):
            raise ConfigError("block occluder: --mask-motion skin is for the fabric masks (surgical, n95, cloth)")
        return cls(
            coverage=options.get("coverage") if options.get("coverage") is not None else 0.2,
            region=options.get("region") or "any",
            fill=options.get("fill") or "black",
        )

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        shape = frame.shape[:2]
        face = topo.face_region_mask(landmarks, shape)
        x0, y0, x1, y1 = REGIONS[self.region](landmarks, face)
        center = (float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)))
        aspect = float(np.exp(rng.uniform(np.log(ASPECT_RANGE[0]), np.log(ASPECT_RANGE[1]))))
        box, achieved = solve_box(face, center, aspect, self.coverage)
        fill_color, fill_record = FILLS[self.fill](frame, face, shape, rng)
        color = np.empty((*shape, 3), np.float32)
        color[...] = fill_color  # a (3,) colour or a (H, W, 3) pattern
        alpha = np.zeros(shape, np.float32)
        alpha[box.y0 : box.y1, box.x0 : box.x1] = 1.0
        params = {
            "family": self.name,
            "region": self.region,
            "region_box": [round(v, 3) for v in (x0, y0, x1, y1)],
            "fill": self.fill,
            "fill_value": fill_record,
            "coverage_target": self.coverage,
            "coverage": round(achieved, 6),
            "center": [round(c, 3) for c in center],
            "aspect": round(aspect, 6),
            "box": box.as_list(),
        }
        return OccluderLayer(color, alpha, params)
