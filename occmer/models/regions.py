"""Facial regions as boxes: the nodes of the region-based models (RRRN, RAN).

Boxes are `(x0, y0, x1, y1)` normalised to `[0, 1]` of the aligned crop, so the same
boxes index any feature grid computed from that crop (28x28 flow or 112x112 flow alike).
The global node (the whole face) is always the LAST region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occmer.errors import DataError, ModelError
from occmer.faces import topology as topo

# Fractions of the face width (the width of the face-oval box) used to pad region boxes.
_PAD = 0.04
_MIN_SIDE = 0.16
_BROW_UP = 0.08  # brows rise into the forehead: look above them too


@dataclass(frozen=True)
class RegionSpec:
    """One named region: its landmark group, how far to extend it upwards, and fallback anchors.

    `anchors` are used when the group itself is missing (NaN rows of a converted 68-point set):
    e.g. a cheek is the box spanned by the lower eyelid, the face edge, the nostril and the
    mouth corner on that side, points a 68-point set does provide.
    """

    name: str
    points: tuple[int, ...]
    extend_up: float = 0.0
    anchors: tuple[int, ...] = ()


REGION_SPECS: tuple[RegionSpec, ...] = (
    RegionSpec("right_brow", topo.RIGHT_BROW, _BROW_UP),
    RegionSpec("left_brow", topo.LEFT_BROW, _BROW_UP),
    RegionSpec("right_eye", topo.RIGHT_EYE),
    RegionSpec("left_eye", topo.LEFT_EYE),
    RegionSpec("nose", topo.NOSE),
    RegionSpec("mouth", topo.MOUTH),
    RegionSpec("right_cheek", topo.RIGHT_CHEEK, anchors=(144, 153, topo.RIGHT_FACE_EDGE, 98, topo.MOUTH_RIGHT_CORNER)),
    RegionSpec("left_cheek", topo.LEFT_CHEEK, anchors=(373, 380, topo.LEFT_FACE_EDGE, 327, topo.MOUTH_LEFT_CORNER)),
    RegionSpec("chin", topo.CHIN),
    RegionSpec("face", topo.FACE_OVAL),
)
REGION_NAMES: tuple[str, ...] = tuple(spec.name for spec in REGION_SPECS)
GLOBAL_REGION = "face"
N_REGIONS = len(REGION_NAMES)

# Anatomical prior: symmetric pairs and neighbours on the face; the global node touches all.
_NEIGHBOURS = (
    ("right_brow", "left_brow"),
    ("right_eye", "left_eye"),
    ("right_cheek", "left_cheek"),
    ("right_brow", "right_eye"),
    ("left_brow", "left_eye"),
    ("right_eye", "nose"),
    ("left_eye", "nose"),
    ("right_eye", "right_cheek"),
    ("left_eye", "left_cheek"),
    ("nose", "right_cheek"),
    ("nose", "left_cheek"),
    ("nose", "mouth"),
    ("mouth", "right_cheek"),
    ("mouth", "left_cheek"),
    ("mouth", "chin"),
    ("right_cheek", "chin"),
    ("left_cheek", "chin"),
)


def _adjacency(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    """Symmetric 0/1 adjacency with self-loops, the last node (global) joined to every node."""
    adj = np.eye(n, dtype=np.float32)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1.0
    adj[-1, :] = adj[:, -1] = 1.0
    return adj


ANATOMICAL_ADJACENCY: np.ndarray = _adjacency(
    N_REGIONS, [(REGION_NAMES.index(a), REGION_NAMES.index(b)) for a, b in _NEIGHBOURS]
)
ANATOMICAL_ADJACENCY.setflags(write=False)


def region_boxes(landmarks: np.ndarray, frame_size: tuple[int, int], sample_id: str = "") -> np.ndarray:
    """(R, 4) float32 boxes of REGION_NAMES from mediapipe landmarks (K, 2) in pixels of a (W, H) frame.

    Pass the landmarks of the aligned onset frame and the crop size: the boxes then index the
    motion features of that crop at any resolution. NaN rows (points a converted landmark set
    lacks) are skipped; the global `face` box covers the face oval and every local box.
    """
    points = _check_landmarks(landmarks, sample_id)
    width, height = _check_frame_size(frame_size)
    oval = _finite(points, topo.FACE_OVAL)
    if len(oval) < 3 or np.ptp(oval[:, 0]) <= 0:
        raise DataError(
            f"region_boxes: sample {sample_id or '?'}: the face-oval landmarks are missing or degenerate; "
            "use 478-point mediapipe landmarks of the aligned onset frame, or grid_boxes() without landmarks"
        )
    face_w = float(np.ptp(oval[:, 0]))
    local = np.stack([_spec_box(points, spec, face_w, sample_id) for spec in REGION_SPECS[:-1]])
    face = np.concatenate([oval.min(axis=0), oval.max(axis=0)])
    face[:2] = np.minimum(face[:2], local[:, :2].min(axis=0))
    face[2:] = np.maximum(face[2:], local[:, 2:].max(axis=0))
    boxes = np.concatenate([local, face[None]])
    boxes[:, [0, 2]] /= width
    boxes[:, [1, 3]] /= height
    return np.clip(boxes, 0.0, 1.0).astype(np.float32)


def _finite(points: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    group = points[list(indices)]
    return group[np.isfinite(group).all(axis=1)]


def _spec_box(points: np.ndarray, spec: RegionSpec, face_w: float, sample_id: str) -> np.ndarray:
    """Padded box of one region in pixels, at least _MIN_SIDE face widths on each side."""
    group = _finite(points, spec.points)
    if len(group) < 2 and spec.anchors:
        group = _finite(points, spec.anchors)
    if len(group) < 2:
        raise DataError(
            f"region_boxes: sample {sample_id or '?'}: the landmarks lack the points of region {spec.name!r}; "
            "use 478-point mediapipe landmarks, or grid_boxes() without landmarks"
        )
    x0, y0 = group.min(axis=0) - _PAD * face_w
    x1, y1 = group.max(axis=0) + _PAD * face_w
    y0 -= spec.extend_up * face_w
    half = _MIN_SIDE * face_w / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0, x1 = min(x0, cx - half), max(x1, cx + half)
    y0, y1 = min(y0, cy - half), max(y1, cy + half)
    return np.array([x0, y0, x1, y1], dtype=np.float64)


def grid_boxes(rows: int = 3, cols: int = 3) -> np.ndarray:
    """(rows*cols + 1, 4) float32 boxes: a row-major grid of cells, then the whole frame (global node) last.

    The fallback when no landmarks are given; 3x3 gives as many nodes as REGION_NAMES.
    """
    if rows < 1 or cols < 1:
        raise ModelError(f"grid_boxes: rows and cols must be >= 1 (got {rows}x{cols})")
    ys = np.linspace(0.0, 1.0, rows + 1)
    xs = np.linspace(0.0, 1.0, cols + 1)
    cells = [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(rows) for c in range(cols)]
    cells.append((0.0, 0.0, 1.0, 1.0))
    return np.array(cells, dtype=np.float32)


def grid_region_names(rows: int = 3, cols: int = 3) -> tuple[str, ...]:
    """Names of grid_boxes(rows, cols), for plots: `cell_r{row}c{col}` then `face`."""
    return tuple(f"cell_r{r}c{c}" for r in range(rows) for c in range(cols)) + (GLOBAL_REGION,)


def grid_adjacency(rows: int = 3, cols: int = 3) -> np.ndarray:
    """(rows*cols + 1) square prior for grid_boxes: 4-neighbour cells, self-loops, global node to all."""
    edges = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                edges.append((i, i + 1))
            if r + 1 < rows:
                edges.append((i, i + cols))
    return _adjacency(rows * cols + 1, edges)


def _check_landmarks(landmarks: np.ndarray, sample_id: str) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 468:
        raise DataError(
            f"region_boxes: sample {sample_id or '?'}: landmarks must be (K, 2) mediapipe face-mesh points with "
            f"K >= 468, got {points.shape}; convert other landmark sets with occmer.faces.pointsets or use grid_boxes()"
        )
    return points


def _check_frame_size(frame_size: tuple[int, int]) -> tuple[float, float]:
    if len(frame_size) != 2 or min(frame_size) <= 0:
        raise DataError(f"region_boxes: frame_size must be (W, H) with positive sides, got {frame_size!r}")
    return float(frame_size[0]), float(frame_size[1])
