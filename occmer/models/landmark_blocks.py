"""HTNet's input: flow blocks cut around five facial points, tiled into one square.

The authors (wangzhifengharrison/HTNet main_HTNet.py) find five points with MTCNN on the
apex face resized to the flow grid (28x28): left eye, right eye, nose, left and right mouth
corner ("left" = the image's left). Each coordinate is clamped to [7, 21] (a quarter of the
grid from each border, so a 14x14 block always lies inside) and truncated to an integer;
a face MTCNN misses gets the fixed FALLBACK_POINTS. Blocks are cut as
`flow[p[0]-7:p[0]+7, p[1]-7:p[1]+7]`: the point's x indexes the ROWS. That transposes the
point (the paper says blocks around the landmarks); occmer follows the code (axes
"reference"), `axes="image"` cuts around the point as drawn. The model reads the blocks of
points 0, 1, 3, 4 tiled [[0, 1], [3, 4]]; the nose block is cut but not used by the code.

occmer's points come from its own landmarks (mediapipe 478-point topology) through
`five_points`, the one conversion: the bench passes them as batch `points`, computed from the
landmarks its region boxes come from. Without them HTNet approximates them from the boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from occmer.errors import ModelError
from occmer.faces import topology as topo
from occmer.models.regions import REGION_NAMES

POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
# mediapipe indices of the nose and mouth points; the image's left side is the subject's right.
# The eyes are topology.eye_centers (iris centres of 478-point sets, else the corners' midpoints).
MEDIAPIPE_POINTS = (topo.NOSE_TIP, topo.MOUTH_RIGHT_CORNER, topo.MOUTH_LEFT_CORNER)
# main_HTNet.py's points for a face MTCNN did not find (and CausalNet's for every face), 28x28 grid.
FALLBACK_POINTS = np.array([[9.528073, 11.062551], [21.396168, 10.919773], [15.380184, 17.380562],
                            [10.255435, 22.121233], [20.583706, 22.25584]], dtype=np.float32)
REFERENCE_GRID = 28
TILED_POINTS = (0, 1, 3, 4)
BLOCK_AXES = ("reference", "image")


def five_points(landmarks: np.ndarray, face_size: tuple[int, int] | int, grid: int = REFERENCE_GRID) -> np.ndarray:
    """(5, 2) float32 (x, y) points on the grid x grid image from mediapipe landmarks (K, 2) in pixels of a
    (W, H) face image (the face the flow was computed on, resized to the grid as the authors resize it)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 468:
        raise ModelError(f"five_points: landmarks must be (478, 2) or (468, 2) mediapipe points, got "
                         f"{points.shape}; convert other landmark sets with occmer.faces.pointsets")
    width, height = (face_size, face_size) if isinstance(face_size, int) else face_size
    if min(width, height) <= 0:
        raise ModelError(f"five_points: face size must be positive, got {face_size!r}")
    right_eye, left_eye = topo.eye_centers(points)
    nose, mouth_left, mouth_right = points[list(MEDIAPIPE_POINTS)]
    chosen = np.stack([right_eye, left_eye, nose, mouth_left, mouth_right])
    if not np.isfinite(chosen).all():
        raise ModelError("five_points: the landmarks lack an eye, nose tip or mouth corner point (NaN rows)")
    return (chosen * np.array([grid / width, grid / height])).astype(np.float32)


def points_from_region_boxes(boxes: torch.Tensor, grid: int, pad: float = 0.04) -> torch.Tensor:
    """(B, 5, 2) points on the grid from region boxes (B, R, 4) in occmer.models.regions order.

    Eyes: the eye boxes' centres; nose: the nose box's centre (the code never reads the nose
    block); mouth corners: the mouth box's left and right edges moved in by the regions'
    padding (`pad` face-box widths) at the box's mid-height.
    """
    if boxes.ndim != 3 or boxes.shape[1] != len(REGION_NAMES) or boxes.shape[2] != 4:
        raise ModelError(f"htnet: regions must be (B, {len(REGION_NAMES)}, 4) boxes from region_boxes(), "
                         f"got {tuple(boxes.shape)}; or pass `points` (B, 5, 2)")
    idx = {name: REGION_NAMES.index(name) for name in ("right_eye", "left_eye", "nose", "mouth", "face")}

    def centre(name: str) -> torch.Tensor:
        b = boxes[:, idx[name]]
        return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], dim=1)

    mouth = boxes[:, idx["mouth"]]
    inset = pad * (boxes[:, idx["face"], 2] - boxes[:, idx["face"], 0])
    mid = (mouth[:, 1] + mouth[:, 3]) / 2
    left = torch.stack([mouth[:, 0] + inset, mid], dim=1)
    right = torch.stack([mouth[:, 2] - inset, mid], dim=1)
    points = torch.stack([centre("right_eye"), centre("left_eye"), centre("nose"), left, right], dim=1)
    return points * grid


def block_corners(points: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, 5, 2) long: each point clamped to [grid/4, 3*grid/4] then truncated, minus grid/4 (block start)."""
    half = grid // 4
    return points.float().clamp(half, grid - half).floor().long() - half


def tile_blocks(x: torch.Tensor, points: torch.Tensor, axes: str = "reference") -> torch.Tensor:
    """(B, C, S, S) flow + (B, 5, 2) points -> (B, C, S, S) tiles [[p0, p1], [p3, p4]] of S/2 blocks.

    `axes="reference"`: point (a, b) cuts rows a-S/4..a+S/4, columns b-S/4..b+S/4, as main_HTNet.py does;
    `"image"`: rows from y, columns from x.
    """
    if axes not in BLOCK_AXES:
        raise ModelError(f"htnet: block_axes {axes!r} is not one of {', '.join(BLOCK_AXES)}")
    b, _, s, s2 = x.shape
    if s != s2 or s % 4:
        raise ModelError(f"htnet: the flow grid must be square with a side divisible by 4, got {s2}x{s}")
    if points.shape != (b, len(POINT_NAMES), 2):
        raise ModelError(f"htnet: points must be (B, 5, 2), got {tuple(points.shape)}")
    corners = block_corners(points, s)
    if axes == "image":
        corners = corners.flip(-1)
    side = s // 2
    offsets = torch.arange(side, device=x.device)
    rows = corners[:, list(TILED_POINTS), 0, None] + offsets  # (B, 4, side)
    cols = corners[:, list(TILED_POINTS), 1, None] + offsets
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    blocks = x.permute(0, 2, 3, 1)[batch, rows[:, :, :, None], cols[:, :, None, :]]  # (B, 4, side, side, C)
    blocks = blocks.permute(0, 1, 4, 2, 3)
    top = torch.cat([blocks[:, 0], blocks[:, 1]], dim=3)
    bottom = torch.cat([blocks[:, 2], blocks[:, 3]], dim=3)
    return torch.cat([top, bottom], dim=2)


def fallback_points(batch: int, grid: int, device: torch.device | None = None) -> torch.Tensor:
    """The authors' no-face points scaled to the grid, repeated over the batch."""
    points = torch.as_tensor(FALLBACK_POINTS * (grid / REFERENCE_GRID), device=device)
    return points.expand(batch, -1, -1)


def point_distances(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 5) Euclidean distances between two sets of five points (e.g. occmer's and MTCNN's)."""
    return np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis=-1)
