"""Synthetic action units: smooth local displacement fields placed by the face's landmarks.

An action unit is a set of regions; a region is a named landmark group (mediapipe face-mesh
indices), a part of it (the inner half of a brow, the upper lid, ...), a
direction in face axes and a relative weight. Its field is a sum of Gaussians around the
selected points, normalised to a peak of 1, times the direction. An expression sums its
action units' fields and is scaled so that the largest displacement in the frame equals the
clip's apex amplitude. Everything here is pure computation on arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from occmer.demo.classes import AppliedUnit
from occmer.faces import topology


@dataclass(frozen=True)
class FaceAxes:
    """Face-centred axes: origin between the eyes, x toward the subject's left eye, y down.

    `iod` (inter-ocular distance, px) is the length unit of region sizes.
    """

    origin: np.ndarray
    x: np.ndarray
    y: np.ndarray
    iod: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceAxes:
        right, left = (np.asarray(p, np.float64) for p in topology.eye_centers(landmarks))
        axis = left - right
        iod = float(np.hypot(*axis))
        x = axis / max(iod, 1e-9)
        return cls(origin=(left + right) / 2, x=x, y=np.array([-x[1], x[0]]), iod=iod)

    def to_face(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) pixel points as (N, 2) face coordinates (x right-ward, y down-ward)."""
        rel = np.asarray(points, np.float64) - self.origin
        return np.stack([rel @ self.x, rel @ self.y], axis=1)

    def direction(self, medial: float, up: float, side: str) -> np.ndarray:
        """Pixel-space unit vector from face-relative components on one side of the face."""
        toward_midline = self.x if side == "right" else -self.x
        vector = medial * toward_midline - up * self.y
        return vector / max(float(np.hypot(*vector)), 1e-9)


def _split(points: np.ndarray, axes: FaceAxes, keep: str) -> np.ndarray:
    """Indices of a group's points in one half: inner/outer (by |x|) or upper/lower (by y)."""
    face = axes.to_face(points)
    if keep in ("inner", "outer"):
        distance = np.abs(face[:, 0])
        cut = np.median(distance)
        return np.flatnonzero(distance <= cut) if keep == "inner" else np.flatnonzero(distance > cut)
    if keep in ("upper", "lower"):
        cut = np.median(face[:, 1])
        return np.flatnonzero(face[:, 1] < cut) if keep == "upper" else np.flatnonzero(face[:, 1] > cut)
    return np.arange(len(points))


SELECTORS: dict[str, Callable[[np.ndarray, FaceAxes], np.ndarray]] = {
    "all": lambda points, axes: _split(points, axes, "all"),
    "inner": lambda points, axes: _split(points, axes, "inner"),
    "outer": lambda points, axes: _split(points, axes, "outer"),
    "upper": lambda points, axes: _split(points, axes, "upper"),
    "lower": lambda points, axes: _split(points, axes, "lower"),
}

# Named groups per side ("right" is the subject's right: the image's left). Midline points
# (lip centres, chin tip, nasal root) belong to both halves, so a unilateral AU stays smooth.
GROUPS: dict[str, dict[str, tuple[int, ...]]] = {
    "brow": {"right": topology.RIGHT_BROW, "left": topology.LEFT_BROW},
    "eye": {"right": topology.RIGHT_EYE, "left": topology.LEFT_EYE},
    "cheek": {"right": topology.RIGHT_CHEEK, "left": topology.LEFT_CHEEK},
    "mouth_corner": {"right": (topology.MOUTH_RIGHT_CORNER,), "left": (topology.MOUTH_LEFT_CORNER,)},
    "upper_lip": {"right": (0, 37, 39, 40, 185), "left": (0, 267, 269, 270, 409)},
    "lower_lip": {"right": (17, 84, 181, 91), "left": (17, 314, 405, 321)},
    "chin": {"right": (152, 175, 199, 148, 176), "left": (152, 175, 199, 377, 400)},
    "nose_wing": {"right": (64, 48, 98, 102), "left": (294, 278, 327, 331)},
    "nose_root": {"right": (193, 168, 122), "left": (417, 168, 351)},
}
SIDES = ("right", "left")


@dataclass(frozen=True)
class Region:
    """A part of a landmark group that moves in one face-relative direction."""

    group: str  # key of GROUPS
    select: str  # key of SELECTORS
    medial: float  # direction component toward the face midline (negative: outward)
    up: float  # direction component upward (negative: downward)
    weight: float = 1.0  # relative strength within the action unit
    sigma_iod: float = 0.16  # Gaussian radius as a fraction of the inter-ocular distance


@dataclass(frozen=True)
class ActionUnit:
    """A FACS action unit as a set of regions that move together (both sides unless sided)."""

    number: int
    name: str
    regions: tuple[Region, ...]


ACTION_UNITS: dict[int, ActionUnit] = {
    unit.number: unit
    for unit in (
        ActionUnit(1, "inner brow raiser", (Region("brow", "inner", 0.0, 1.0),)),
        ActionUnit(2, "outer brow raiser", (Region("brow", "outer", 0.0, 1.0),)),
        ActionUnit(4, "brow lowerer", (Region("brow", "all", 0.5, -1.0, sigma_iod=0.18),)),
        ActionUnit(5, "upper lid raiser", (Region("eye", "upper", 0.0, 1.0, weight=0.6, sigma_iod=0.1),)),
        ActionUnit(
            6,
            "cheek raiser",
            (Region("cheek", "outer", 0.0, 1.0, sigma_iod=0.12), Region("eye", "lower", 0.0, 1.0, 0.4, 0.08)),
        ),
        ActionUnit(7, "lid tightener", (Region("eye", "lower", 0.0, 1.0, weight=0.8, sigma_iod=0.1),)),
        ActionUnit(
            9,
            "nose wrinkler",
            (
                Region("nose_wing", "all", 0.2, 1.0, sigma_iod=0.12),
                Region("nose_root", "all", 0.3, 1.0, weight=0.6, sigma_iod=0.1),
                Region("brow", "inner", 0.3, -1.0, weight=0.3, sigma_iod=0.12),
            ),
        ),
        ActionUnit(
            10,
            "upper lip raiser",
            (Region("upper_lip", "all", 0.0, 1.0, sigma_iod=0.12), Region("nose_wing", "all", 0.0, 1.0, 0.4, 0.1)),
        ),
        ActionUnit(12, "lip corner puller", (Region("mouth_corner", "all", -0.8, 0.6, sigma_iod=0.14),)),
        ActionUnit(14, "dimpler", (Region("mouth_corner", "all", 0.9, 0.15, sigma_iod=0.12),)),
        ActionUnit(
            15,
            "lip corner depressor",
            (Region("mouth_corner", "all", -0.2, -1.0, sigma_iod=0.14), Region("lower_lip", "outer", 0, -1, 0.4, 0.1)),
        ),
        ActionUnit(
            17,
            "chin raiser",
            (Region("chin", "all", 0.0, 1.0, sigma_iod=0.18), Region("lower_lip", "all", 0.0, 1.0, 0.6, 0.12)),
        ),
        ActionUnit(20, "lip stretcher", (Region("mouth_corner", "all", -1.0, -0.15, sigma_iod=0.14),)),
        ActionUnit(
            23,
            "lip tightener",
            (
                Region("mouth_corner", "all", 1.0, 0.0, weight=0.6, sigma_iod=0.08),
                Region("upper_lip", "all", 0.0, -1.0, weight=0.5, sigma_iod=0.08),
                Region("lower_lip", "all", 0.0, 1.0, weight=0.5, sigma_iod=0.08),
            ),
        ),
        ActionUnit(
            24,
            "lip pressor",
            (Region("upper_lip", "all", 0.0, -1.0, 0.8, 0.1), Region("lower_lip", "all", 0.0, 1.0, 0.8, 0.1)),
        ),
        ActionUnit(
            25,
            "lips part",
            (Region("lower_lip", "all", 0.0, -1.0, sigma_iod=0.1), Region("upper_lip", "all", 0.0, 1.0, 0.3, 0.1)),
        ),
        ActionUnit(
            26,
            "jaw drop",
            (Region("chin", "all", 0.0, -1.0, sigma_iod=0.25), Region("lower_lip", "all", 0.0, -1.0, 0.8, 0.14)),
        ),
        ActionUnit(38, "nostril dilator", (Region("nose_wing", "all", -1.0, 0.0, sigma_iod=0.08),)),
        ActionUnit(40, "sniff", (Region("nose_wing", "all", 0.3, 0.7, sigma_iod=0.08),)),
    )
}


@dataclass(frozen=True)
class RegionPlacement:
    """Where one region acts in a given face: its centre points (px), direction and radius."""

    unit: int
    group: str  # key of GROUPS
    side: str
    points: np.ndarray  # (N, 2) px
    direction: np.ndarray  # (2,) px unit vector
    weight: float
    sigma: float  # px

    @property
    def centre(self) -> np.ndarray:
        return self.points.mean(axis=0)


def place_regions(landmarks: np.ndarray, units: tuple[AppliedUnit, ...]) -> list[RegionPlacement]:
    """Every region of the applied AUs located on one face, on the sides each AU moves."""
    axes = FaceAxes.from_landmarks(landmarks)
    placements = []
    for unit in units:
        weights = unit.side_weights()
        for region in ACTION_UNITS[unit.number].regions:
            for side in SIDES:
                if weights[side] == 0.0:
                    continue
                group = np.asarray(landmarks[list(GROUPS[region.group][side])], np.float64)
                chosen = group[SELECTORS[region.select](group, axes)]
                placements.append(
                    RegionPlacement(
                        unit=unit.number,
                        group=region.group,
                        side=side,
                        points=chosen,
                        direction=axes.direction(region.medial, region.up, side),
                        weight=region.weight * weights[side] * unit.strength,
                        sigma=region.sigma_iod * axes.iod,
                    )
                )
    return placements


def region_field(placement: RegionPlacement, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float32 displacement of one region: peak |d| = weight, smooth everywhere."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    bump = np.zeros(shape, np.float64)
    for px, py in placement.points:
        bump += np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2.0 * placement.sigma**2))
    bump *= placement.weight / max(float(bump.max()), 1e-12)
    return (bump[:, :, None] * placement.direction[None, None, :]).astype(np.float32)


@dataclass(frozen=True)
class ExpressionField:
    """The apex displacement (H, W, 2) px of one clip and what it is made of."""

    field: np.ndarray  # (H, W, 2) float32: where each pixel's content goes at apex
    peak_px: float  # max |field|: the apex displacement of the clip
    unit_peaks_px: dict[int, float]  # max |field| of each action unit alone
    placements: list[RegionPlacement]


def expression_field(
    landmarks: np.ndarray, units: tuple[AppliedUnit, ...], shape: tuple[int, int], peak_px: float
) -> ExpressionField:
    """The apex displacement of a set of action units, scaled so that its peak is `peak_px`."""
    placements = place_regions(landmarks, units)
    per_unit: dict[int, np.ndarray] = {}
    for placement in placements:
        contribution = region_field(placement, shape)
        per_unit[placement.unit] = per_unit.get(placement.unit, 0) + contribution
    total = np.sum(list(per_unit.values()), axis=0).astype(np.float32)
    scale = peak_px / max(float(np.hypot(total[..., 0], total[..., 1]).max()), 1e-12)
    unit_peaks = {u: float(np.hypot(f[..., 0], f[..., 1]).max() * scale) for u, f in per_unit.items()}
    return ExpressionField((total * scale).astype(np.float32), float(peak_px), unit_peaks, placements)
