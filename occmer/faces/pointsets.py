"""Landmark point sets other tools write, converted to occmer's 478-point layout.

occmer's stages index landmarks by mediapipe face-mesh numbers (topology.py). A
68-point set (iBUG 300-W order, written by dlib and OpenFace) is placed at the mediapipe
indices of the anatomically closest mesh vertices; every other row is NaN, so a stage
asking for a group the 68 points cannot serve (irises, cheeks, forehead) fails through
topology.group_points instead of using invented points. The iris centres are the one
exception: they are filled with the mean of each eye's six points, so `eye_centers`
works (the 68-point eye centre is the eye-ring centre, not the pupil).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occmer.errors import DataError
from occmer.faces.topology import LEFT_IRIS_CENTER, N_POINTS, RIGHT_IRIS_CENTER

# iBUG 68 index -> mediapipe index. Sides as in iBUG: points 0-8 and the first brow/eye
# are on the image's left (the subject's right).
IBUG68_TO_MEDIAPIPE: tuple[int, ...] = (
    # jaw 0-16, from the right ear down to the chin (8) and up to the left ear
    127, 234, 93, 132, 58, 172, 150, 176, 152, 400, 379, 397, 288, 361, 323, 454, 356,
    # right brow 17-21 (outer -> inner), left brow 22-26 (inner -> outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30 (top -> tip), nostrils 31-35 (right -> left)
    168, 6, 195, 1, 98, 97, 2, 326, 327,
    # right eye 36-41 (outer corner, upper lid, inner corner, lower lid)
    33, 160, 158, 133, 153, 144,
    # left eye 42-47 (inner corner, upper lid, outer corner, lower lid)
    362, 385, 387, 263, 373, 380,
    # outer lips 48-59 (right corner, upper lip, left corner, lower lip)
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lips 60-67
    78, 82, 13, 312, 308, 317, 14, 87,
)
IBUG68_RIGHT_EYE = tuple(range(36, 42))
IBUG68_LEFT_EYE = tuple(range(42, 48))


@dataclass(frozen=True)
class PointSet:
    """A landmark layout a file may use: its name, point count and converter to 478 points."""

    name: str
    n_points: int
    description: str

    def to_mediapipe(self, points: np.ndarray, source: str = "") -> np.ndarray:
        """(478, 2) float32 in mediapipe order; rows this set cannot provide are NaN."""
        pts = np.asarray(points, np.float32)
        if pts.shape != (self.n_points, 2):
            raise DataError(
                f"{source or 'landmarks'}: expected {self.n_points} points (x, y) for point set {self.name!r}, "
                f"got array of shape {pts.shape}; check the file's point count or its columns"
            )
        return CONVERTERS[self.name](pts)


def _from_mediapipe(points: np.ndarray) -> np.ndarray:
    return points.copy()


def _from_mediapipe468(points: np.ndarray) -> np.ndarray:
    out = np.full((N_POINTS, 2), np.nan, np.float32)
    out[:468] = points
    return out


def _from_ibug68(points: np.ndarray) -> np.ndarray:
    out = np.full((N_POINTS, 2), np.nan, np.float32)
    out[list(IBUG68_TO_MEDIAPIPE)] = points
    out[RIGHT_IRIS_CENTER] = points[list(IBUG68_RIGHT_EYE)].mean(axis=0)
    out[LEFT_IRIS_CENTER] = points[list(IBUG68_LEFT_EYE)].mean(axis=0)
    return out


CONVERTERS = {"mediapipe478": _from_mediapipe, "mediapipe468": _from_mediapipe468, "ibug68": _from_ibug68}

POINT_SETS: dict[str, PointSet] = {
    "mediapipe478": PointSet("mediapipe478", 478, "mediapipe face mesh with iris refinement (occmer's own)"),
    "mediapipe468": PointSet("mediapipe468", 468, "mediapipe face mesh without irises (iris rows become NaN)"),
    "ibug68": PointSet("ibug68", 68, "iBUG 300-W 68 points as written by dlib and OpenFace"),
}
POINT_SETS_BY_COUNT: dict[int, PointSet] = {ps.n_points: ps for ps in POINT_SETS.values()}


def point_set_for(n_points: int, source: str = "") -> PointSet:
    """The point set a file with n_points landmarks per frame uses."""
    if n_points not in POINT_SETS_BY_COUNT:
        known = ", ".join(f"{ps.n_points} ({ps.name})" for ps in POINT_SETS.values())
        raise DataError(f"{source or 'landmarks'}: {n_points} points per frame is not a known point set; use {known}")
    return POINT_SETS_BY_COUNT[n_points]
