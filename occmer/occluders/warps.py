"""Geometric warps from a template's anchor points onto a face's landmarks.

Each warp is fitted from (template points, face points) and can move points forward
and render an image into the frame. Registry: name -> fit function; the minimum number
of anchors each warp needs is in MIN_ANCHORS.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import cv2
import numpy as np

from occmer.errors import TemplateError
from occmer.faces.align import fit_similarity_params


class Warp(ABC):
    """A fitted map from template pixel coordinates to frame pixel coordinates."""

    kind: str = ""

    @abstractmethod
    def forward(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) template points into the frame."""

    @abstractmethod
    def render(self, image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Warp a float32 (h, w, C) template image into a frame of `shape` (H, W); zero outside."""

    @abstractmethod
    def record(self) -> dict:
        """JSON-serialisable description of the fitted transform (for the placement record)."""


class MatrixWarp(Warp):
    """A 3x3 projective matrix (similarity and affine warps are special cases)."""

    def __init__(self, matrix: np.ndarray, kind: str) -> None:
        self.matrix = np.asarray(matrix, np.float64)
        self.kind = kind

    def forward(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.matrix).reshape(-1, 2)

    def render(self, image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        out = cv2.warpPerspective(
            image, self.matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return out.reshape(h, w, -1)

    def record(self) -> dict:
        return {"kind": self.kind, "matrix": [[round(float(v), 6) for v in row] for row in self.matrix]}


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> Warp:
    """Rotation, uniform scale and translation (least squares, exact for two points)."""
    params = fit_similarity_params(src, dst)
    if params is None:
        raise TemplateError("the template's anchor points all coincide; give at least two distinct anchors")
    a, b, tx, ty = params
    return MatrixWarp(np.array([[a, -b, tx], [b, a, ty], [0.0, 0.0, 1.0]]), "similarity")


def fit_affine(src: np.ndarray, dst: np.ndarray) -> Warp:
    """A full affine (least squares over all anchors)."""
    a = np.hstack([src, np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return MatrixWarp(np.vstack([sol.T, [0, 0, 1]]), "affine")


def fit_perspective(src: np.ndarray, dst: np.ndarray) -> Warp:
    """A homography (least squares): follows moderate yaw with foreshortening.

    Falls back to the affine fit when the homography is nearly singular or folds the
    template (which noisy landmarks on a strongly turned face can cause).
    """
    h, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), 0)
    if h is None or not _orientation_preserving(h, src):
        return fit_affine(src, dst)
    return MatrixWarp(h / h[2, 2], "perspective")


def _orientation_preserving(h: np.ndarray, src: np.ndarray) -> bool:
    """True when the homography keeps the anchors' hull on one side of its horizon."""
    lo, hi = src.min(0), src.max(0)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    w = corners @ h[2, :2] + h[2, 2]
    return bool(np.all(w > 0.2 * abs(h[2, 2])))


class ThinPlateSpline(Warp):
    """A thin-plate spline through the anchors: bends the template to hug a face's shape.

    Fitted in both directions: forward (template -> frame) for points, inverse (frame ->
    template) to sample the template at each frame pixel with cv2.remap.
    """

    kind = "tps"

    def __init__(self, src: np.ndarray, dst: np.ndarray, regularization: float = 1e-3) -> None:
        self.src = np.asarray(src, np.float64)
        self.dst = np.asarray(dst, np.float64)
        self.regularization = regularization
        self._fwd = _tps_fit(self.src, self.dst, regularization)
        self._inv = _tps_fit(self.dst, self.src, regularization)

    def forward(self, points: np.ndarray) -> np.ndarray:
        return _tps_eval(self.src, self._fwd, np.asarray(points, np.float64).reshape(-1, 2))

    def render(self, image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        th, tw = image.shape[:2]
        border = np.concatenate(
            [
                np.stack([np.linspace(0, tw, 17), np.zeros(17)], 1),
                np.stack([np.linspace(0, tw, 17), np.full(17, th)], 1),
                np.stack([np.zeros(17), np.linspace(0, th, 17)], 1),
                np.stack([np.full(17, tw), np.linspace(0, th, 17)], 1),
            ]
        )
        moved = self.forward(border)
        x0, y0 = np.floor(np.clip(moved.min(0) - 2, 0, [w, h])).astype(int)
        x1, y1 = np.ceil(np.clip(moved.max(0) + 2, 0, [w, h])).astype(int)
        out = np.zeros((h, w, image.shape[2] if image.ndim == 3 else 1), np.float32)
        if x1 <= x0 or y1 <= y0:
            return out
        ys, xs = np.mgrid[y0:y1, x0:x1]
        grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        src = _tps_eval(self.dst, self._inv, grid).astype(np.float32)
        map_x = src[:, 0].reshape(ys.shape)
        map_y = src[:, 1].reshape(ys.shape)
        patch = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[y0:y1, x0:x1] = patch.reshape(y1 - y0, x1 - x0, -1)
        return out

    def record(self) -> dict:
        return {
            "kind": self.kind,
            "regularization": self.regularization,
            "template_points": np.round(self.src, 3).tolist(),
            "frame_points": np.round(self.dst, 3).tolist(),
        }


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r, written with r^2 (0 at r = 0)."""
    return 0.5 * r2 * np.log(np.maximum(r2, 1e-300))


def _tps_fit(src: np.ndarray, dst: np.ndarray, regularization: float) -> np.ndarray:
    """Coefficients (N + 3, 2) of the spline mapping src points onto dst points."""
    n = len(src)
    scale = float(np.sqrt(((src - src.mean(0)) ** 2).sum(1).mean())) or 1.0
    d2 = ((src[:, None, :] - src[None, :, :]) ** 2).sum(-1)
    k = _tps_kernel(d2) + regularization * scale**2 * np.eye(n)
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError as exc:
        raise TemplateError("the template's anchors are collinear or repeated; a spline warp needs 3+ spread points") from exc


def _tps_eval(src: np.ndarray, coef: np.ndarray, points: np.ndarray) -> np.ndarray:
    n = len(src)
    out = coef[n] + points @ coef[n + 1 :]
    for start in range(0, len(points), 65536):
        chunk = points[start : start + 65536]
        d2 = (chunk[:, 0:1] - src[None, :, 0]) ** 2 + (chunk[:, 1:2] - src[None, :, 1]) ** 2
        out[start : start + 65536] += _tps_kernel(d2) @ coef[:n]
    return out


WARPS: dict[str, Callable[[np.ndarray, np.ndarray], Warp]] = {
    "similarity": fit_similarity,
    "affine": fit_affine,
    "perspective": fit_perspective,
    "tps": ThinPlateSpline,
}
MIN_ANCHORS = {"similarity": 2, "affine": 3, "perspective": 4, "tps": 3}
