"""The MEGC baseline spotter: LBP feature difference peaks (Moilanen, Zhao and Pietikäinen 2014).

Source: A. Moilanen, G. Zhao, M. Pietikäinen, "Spotting rapid facial movements from videos
using appearance-based feature difference analysis", ICPR 2014, pp. 1722-1727; used as the
LBP-chi2 method of the first spotting challenge (Li et al., "Spotting micro-expressions on long
videos sequences", FG 2019 / MEGC 2019) and as a baseline of the MEGC 2020-2021 long-video
spotting tasks. The method, as published:

1. The face is cut into a 6 x 6 grid of blocks; each block is described by its uniform LBP
   histogram (8 neighbours, radius 1: 59 bins).
2. For the current frame CF = frame i, the tail frame TF = i - k and the head frame HF = i + k
   give the average feature frame AFF = (TF + HF) / 2; each block's difference is the
   chi-squared distance between CF's and AFF's histograms, k = (N - 1) / 2 with N the mean
   length of the expressions sought (in frames).
3. F_i is the mean of the M = 12 largest block differences (a third of the 36 blocks).
4. Contrast: C_i = F_i - (F_{i+k} + F_{i-k}) / 2, negative values set to 0.
5. Threshold T = C_mean + p (C_max - C_mean), p in [0, 1] (`tau` here; tuned on the training
   subjects); peaks of C above T, at least k frames apart, are the spotted frames, and each
   spotted interval is [peak - k, peak + k] (as the MEGC 2019 comparison scores them).

Frames are read one at a time and only 2k + 1 histograms are held, so memory stays bounded
whatever the video's length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from skimage.feature import local_binary_pattern

from occmer.errors import ConfigError
from occmer.frames import to_gray
from occmer.spotting.intervals import MICRO, Interval

GRID = 6  # 6 x 6 blocks
TOP_BLOCKS = 12  # M: a third of the blocks
LBP_POINTS, LBP_RADIUS = 8, 1
LBP_BINS = LBP_POINTS * (LBP_POINTS - 1) + 3  # 59 for the non-rotation-invariant uniform LBP
EPSILON = 1e-10


@dataclass(frozen=True)
class FeatureDifferenceSettings:
    """The spotter's settings: k (half the expression length), p (threshold share), the grid."""

    k: int
    tau: float = 0.5
    grid: int = GRID
    top_blocks: int = TOP_BLOCKS

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"the feature-difference k must be at least 1 frame (got {self.k})")
        if not 0.0 <= self.tau <= 1.0:
            raise ConfigError(f"the feature-difference threshold p (tau) must be in 0..1 (got {self.tau})")
        if not 1 <= self.top_blocks <= self.grid * self.grid:
            raise ConfigError(f"top_blocks must be in 1..{self.grid * self.grid} (got {self.top_blocks})")

    @classmethod
    def for_length(cls, mean_length: float, tau: float = 0.5) -> FeatureDifferenceSettings:
        """k = (N - 1) / 2 for expressions N frames long on average (Moilanen et al.)."""
        return cls(k=max(1, int(round((mean_length - 1) / 2))), tau=tau)


def block_histograms(face: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(grid * grid, 59) float32 normalised uniform-LBP histograms of a face crop (gray or RGB)."""
    gray = face if face.ndim == 2 else to_gray(face)
    gray = gray[..., 0] if gray.ndim == 3 else gray
    codes = local_binary_pattern(gray, LBP_POINTS, LBP_RADIUS, method="nri_uniform").astype(np.int64)
    h, w = codes.shape
    rows = np.linspace(0, h, grid + 1).astype(int)
    cols = np.linspace(0, w, grid + 1).astype(int)
    out = np.zeros((grid * grid, LBP_BINS), np.float32)
    for r in range(grid):
        for c in range(grid):
            block = codes[rows[r] : rows[r + 1], cols[c] : cols[c + 1]]
            hist = np.bincount(block.ravel(), minlength=LBP_BINS)[:LBP_BINS].astype(np.float32)
            out[r * grid + c] = hist / max(float(hist.sum()), 1.0)
    return out


def chi_squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chi-squared distance of histograms along the last axis: sum (a - b)^2 / (a + b)."""
    return np.sum((a - b) ** 2 / (a + b + EPSILON), axis=-1)


def crop(frame: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """The face box (x0, y0, x1, y1) of a frame, or the whole frame."""
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1]


def feature_difference(
    frames: Iterable[np.ndarray], settings: FeatureDifferenceSettings, box: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """(T,) F: the mean of the M largest block chi-squared distances of CF against AFF; 0 within k of the ends."""
    return feature_differences(frames, (settings.k,), box, settings.grid, settings.top_blocks)[settings.k]


def feature_differences(
    frames: Iterable[np.ndarray], ks: Iterable[int], box: tuple[int, int, int, int] | None = None,
    grid: int = GRID, top_blocks: int = TOP_BLOCKS,
) -> dict[int, np.ndarray]:
    """F for several k in one pass over the frames (each frame's histograms computed once).

    Only 2 max(k) + 1 histograms are held; leave-one-subject-out folds need several k (one per
    fold and kind), and reading (and occluding) a long video once instead of once per k is most
    of the spotter's cost.
    """
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise ConfigError(f"the feature-difference k must be at least 1 frame (got {ks})")
    reach = ks[-1]
    window: deque[np.ndarray] = deque(maxlen=2 * reach + 1)
    values: dict[int, list[float]] = {k: [] for k in ks}
    for frame in frames:
        window.append(block_histograms(crop(frame, box), grid))
        for k in ks:
            values[k].append(0.0)
            if len(window) >= 2 * k + 1:
                head, current, tail = window[-1], window[-1 - k], window[-1 - 2 * k]
                distances = np.sort(chi_squared(current, (tail + head) / 2.0))[::-1]
                values[k][-1 - k] = float(distances[:top_blocks].mean())
    return {k: np.asarray(v, np.float64) for k, v in values.items()}


def contrast(difference: np.ndarray, k: int) -> np.ndarray:
    """C_i = F_i - (F_{i+k} + F_{i-k}) / 2, clipped at 0.

    F is defined from frame k to T - 1 - k, so C only from 2k to T - 1 - 2k; 0 elsewhere.
    """
    out = np.zeros_like(difference)
    n = len(difference)
    if n > 4 * k:
        out[2 * k : n - 2 * k] = difference[2 * k : n - 2 * k] - 0.5 * (difference[3 * k : n - k] + difference[k : n - 3 * k])
    return np.clip(out, 0.0, None)


def threshold(curve: np.ndarray, tau: float) -> float:
    """T = C_mean + p (C_max - C_mean)."""
    if curve.size == 0:
        return 0.0
    mean = float(curve.mean())
    return mean + tau * (float(curve.max()) - mean)


def find_peaks(curve: np.ndarray, level: float, distance: int) -> np.ndarray:
    """Local maxima of `curve` above `level`, at least `distance` frames apart (highest kept first)."""
    if curve.size < 3:
        return np.zeros(0, np.int64)
    interior = np.flatnonzero((curve[1:-1] > level) & (curve[1:-1] >= curve[:-2]) & (curve[1:-1] > curve[2:])) + 1
    kept: list[int] = []
    for index in sorted(interior, key=lambda i: (-curve[i], i)):
        if all(abs(index - other) >= distance for other in kept):
            kept.append(int(index))
    return np.asarray(sorted(kept), np.int64)


def spot_curve(
    curve: np.ndarray,
    settings: FeatureDifferenceSettings,
    video: str,
    first_frame: int = 0,
    kind: str = MICRO,
    subject: str = "",
    database: str = "",
) -> list[Interval]:
    """The spotted intervals [peak - k, peak + k] (clipped to the video) of a contrast curve."""
    k, last = settings.k, first_frame + len(curve) - 1
    peaks = find_peaks(curve, threshold(curve, settings.tau), k)
    return [
        Interval(video, max(first_frame, first_frame + p - k), min(last, first_frame + p + k), kind, "", subject, database)
        for p in peaks.tolist()
    ]


def contrast_curve(
    frames: Iterable[np.ndarray], settings: FeatureDifferenceSettings, box: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """The curve the threshold is applied to (steps 1-4); computed once, thresholded for any p."""
    return contrast(feature_difference(frames, settings, box), settings.k)


def contrast_curves(
    frames: Iterable[np.ndarray], ks: Iterable[int], box: tuple[int, int, int, int] | None = None
) -> dict[int, np.ndarray]:
    """The contrast curves of several k from one pass over the frames."""
    return {k: contrast(f, k) for k, f in feature_differences(frames, ks, box).items()}
