"""Named landmark groups of the 478-point mediapipe face mesh (468 + 10 iris points).

Every stage that needs "the eyes" or "the mouth" takes the indices from here, so a
landmark set with another topology only has to provide this one table.
"""

from __future__ import annotations

import numpy as np

N_POINTS = 478  # mediapipe face mesh with iris refinement

# Sides are the subject's own: "right" is on the image's left in a frontal, unmirrored frame.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
RIGHT_IRIS = (469, 470, 471, 472)
LEFT_IRIS = (474, 475, 476, 477)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSE_BRIDGE = (168, 6, 197, 195, 5)
NOSE_TIP = 1
NOSE = (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294, 326, 327, 344, 440)
MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER = 61, 291
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17
MOUTH = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_CHEEK = (50, 101, 118, 117, 123, 147, 187, 205, 36, 142)
LEFT_CHEEK = (280, 330, 347, 346, 352, 376, 411, 425, 266, 371)
CHIN = (152, 148, 176, 149, 150, 377, 400, 378, 379, 175, 199, 200)
FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
RIGHT_FACE_EDGE, LEFT_FACE_EDGE = 234, 454
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# Points that move with the head but hardly with an expression: inner eye corners, nose
# bridge and the sides of the face contour (not brows, lids' middles, lips or jaw).
RIGID_POINTS = (133, 362, 168, 6, 197, 195, 5, 4, 234, 454, 127, 356, 93, 323, 132, 361, 33, 263)
# The points head-motion tracking follows: the rigid points without the face contour (an
# LK window on the contour sees the static background and drags the estimate toward zero
# motion), plus interior points that move with the skull: beside the nose bridge (245, 465,
# 122, 351), the nose walls (196, 419, 236, 456, 198, 420, 131, 360, 45, 275, 217, 437), the
# lateral orbits (35, 265, 111, 340, 143, 372) and mid forehead (151). Spread over regions so
# that no single action unit moves most of them (brows drag the eye corners; a smile the
# orbits; only a strong nose wrinkle, AU9, moves a majority).
HEAD_MOTION_POINTS = (
    133, 362, 33, 263, 168, 6, 197, 195, 5, 4, 1, 245, 465, 122, 351,
    196, 419, 236, 456, 198, 420, 131, 360, 45, 275, 217, 437, 35, 265, 111, 340, 143, 372, 151,
)


# Named groups by the names other stages use; a landmark set that lacks points of a group
# (NaN rows, e.g. a 68-point file converted by occmer.faces.pointsets) serves only part of it.
GROUPS: dict[str, tuple[int, ...]] = {
    "right_eye_corners": (RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
    "left_eye_corners": (LEFT_EYE_INNER, LEFT_EYE_OUTER),
    "eye_centers": (RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER),
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "right_iris": RIGHT_IRIS,
    "left_iris": LEFT_IRIS,
    "right_brow": RIGHT_BROW,
    "left_brow": LEFT_BROW,
    "nose_bridge": NOSE_BRIDGE,
    "nose_tip": (NOSE_TIP,),
    "nose": NOSE,
    "mouth_corners": (MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER),
    "mouth": MOUTH,
    "right_cheek": RIGHT_CHEEK,
    "left_cheek": LEFT_CHEEK,
    "chin": CHIN,
    "chin_bottom": (CHIN_BOTTOM,),
    "forehead_top": (FOREHEAD_TOP,),
    "face_edges": (RIGHT_FACE_EDGE, LEFT_FACE_EDGE),
    "face_oval": FACE_OVAL,
    "rigid": RIGID_POINTS,
    "head_motion": HEAD_MOTION_POINTS,
}


def group_points(landmarks: np.ndarray, group: str, min_points: int = 1, sample_id: str = "") -> np.ndarray:
    """The finite points (N, 2) of a named group; raises DataError when fewer than min_points are present.

    Stages that may receive partial landmark sets (68-point files) call this instead of
    indexing, so a missing group fails with a message instead of spreading NaN.
    """
    from occmer.errors import DataError

    if group not in GROUPS:
        raise KeyError(f"unknown landmark group {group!r}; known: {', '.join(sorted(GROUPS))}")
    points = np.asarray(landmarks)[list(GROUPS[group])]
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) < min_points:
        raise DataError(
            f"sample {sample_id or '?'}: the landmarks provide {len(points)} of the {min_points} point(s) needed "
            f"for group {group!r}; this landmark set cannot serve it, use the mediapipe backend or 478-point files"
        )
    return points


def eye_corner_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres as the midpoints of each eye's two corners, in the landmarks' dtype."""
    right = (landmarks[RIGHT_EYE_OUTER] + landmarks[RIGHT_EYE_INNER]) / 2
    left = (landmarks[LEFT_EYE_OUTER] + landmarks[LEFT_EYE_INNER]) / 2
    return right, left


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres: iris centres when present, else the midpoints of the corners."""
    if len(landmarks) >= N_POINTS:
        return landmarks[RIGHT_IRIS_CENTER], landmarks[LEFT_IRIS_CENTER]
    return eye_corner_centers(landmarks)


def face_region_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask of the face: the convex hull of the 468 mesh points."""
    import cv2

    points = np.asarray(landmarks[: min(len(landmarks), 468)], dtype=np.float32)
    points = points[np.all(np.isfinite(points), axis=1)]
    hull = cv2.convexHull(points.reshape(-1, 1, 2)).reshape(-1, 2)
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)
