"""Per-clip rigid head motion: how each frame's face moved relative to the onset frame.

The occluder is placed once, on the onset frame; for the other frames only this motion
moves it. Only rigid points inside the face are tracked (eye corners, nose bridge and
walls, lateral orbits: topology.HEAD_MOTION_POINTS), from the onset frame directly to each
frame (no drift), with pyramidal Lucas-Kanade checked forward-backward. A similarity is
fitted by least median of squares and refined by least squares on the inliers (threshold
from the robust noise level, so sub-pixel drags count too): points dragged by an
expression are rejected. A frame's motion counts only if it is statistically
distinguishable from the tracking noise (chi-square test on the fitted parameters) and
larger than a dead band; otherwise it is exactly the identity, which keeps occluders on
still faces bit-identical. The surviving parameters are smoothed over time by a local
linear (Gaussian-weighted) fit. No landmark detector runs per frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from occmer.errors import ConfigError, DataError
from occmer.faces.align import fit_similarity_params, identity
from occmer.faces.topology import HEAD_MOTION_POINTS
from occmer.frames import to_gray


class HeadTrackingError(DataError):
    """The rigid face points could not be followed from the onset to some frame."""


@dataclass(frozen=True)
class MotionConfig:
    """Knobs of estimate_head_motion; the defaults suit aligned 150-300 px face crops.

    smooth: Gaussian sigma (frames) of the temporal local-linear smoothing; 0 turns it off.
    dead_band_px: motion whose largest point displacement is below this is the identity.
    p_value: motion must also reject "no motion" at this level (chi-square, 4 dof).
    noise_floor_px: lower bound on the per-coordinate tracking noise used by the test.
    fb_max_px: forward-backward error above which a tracked point is dropped.
    ransac_px: largest inlier residual of the robust similarity fit, whatever the noise.
    min_inliers: fewer inliers than this (or than min_fraction of the points) = lost.
    on_lost: "raise" (HeadTrackingError) or "hold" (interpolate from the other frames, flag it).
    points: landmark indices to track (those that are NaN or too near the face outline are skipped).
    model: "rigid" (rotation + translation, the default: a head does not change size within an ME
    clip, and symmetric expressions look like scale), "similarity" or "translation" (MOTION_MODELS).
    """

    smooth: float = 1.5
    dead_band_px: float = 0.05
    p_value: float = 1e-3
    noise_floor_px: float = 0.01
    fb_max_px: float = 0.5
    ransac_px: float = 1.0
    min_inliers: int = 6
    min_fraction: float = 0.4
    window: int = 15
    levels: int = 3
    on_lost: str = "raise"
    points: tuple[int, ...] = HEAD_MOTION_POINTS
    model: str = "rigid"


ON_LOST_CHOICES = ("raise", "hold")


@dataclass
class HeadMotion:
    """Per-frame result: transforms (T, 2, 3) onset -> frame t, and how much to trust each.

    tracked: points that passed the forward-backward check; inliers: of those, the
    inliers of the robust fit; residual_px: RMS inlier residual; moved: motion passed the test and dead band;
    lost: tracking failed (only with on_lost="hold"; the transform is interpolated).
    track_points: (N, 2) the onset points that were tracked (n_points = N).
    """

    transforms: np.ndarray
    tracked: np.ndarray
    inliers: np.ndarray
    residual_px: np.ndarray
    moved: np.ndarray
    lost: np.ndarray
    n_points: int
    track_points: np.ndarray
    config: MotionConfig = field(default_factory=MotionConfig)

    def summary(self) -> dict[str, float | int]:
        """A JSON-serialisable record of the clip's tracking quality (for the stored placement params)."""
        residual = self.residual_px[np.isfinite(self.residual_px)]
        return {
            "points": int(self.n_points),
            "min_inliers": int(self.inliers.min()),
            "max_residual_px": round(float(residual.max()), 4) if len(residual) else 0.0,
            "frames_moved": int(self.moved.sum()),
            "frames_lost": int(self.lost.sum()),
            "max_displacement_px": round(max(max_displacement(m, self.track_points) for m in self.transforms), 4),
        }


@dataclass
class SimilarityFit:
    """A least-squares fit on inliers as similarity params (a, b, tx, ty): x' = a x - b y + tx, y' = b x + a y + ty.

    Rigid and translation fits are similarities too (a^2 + b^2 = 1; a = 1, b = 0).
    n_params: the model's free parameters (the degrees of freedom of its chi2 test).
    """

    params: np.ndarray
    inliers: np.ndarray
    residual_px: float
    chi2: float
    n_params: int = 4

    @property
    def transform(self) -> np.ndarray:
        a, b, tx, ty = self.params
        return np.array([[a, -b, tx], [b, a, ty]], dtype=np.float64)


def tracking_points(
    landmarks: np.ndarray, shape: tuple[int, int], margin: float, indices: Sequence[int] = HEAD_MOTION_POINTS
) -> np.ndarray:
    """(N, 2) float32 rigid points that exist (not NaN), lie `margin` px inside the frame and inside the face.

    "Inside the face" means at least margin / 2 px within the convex hull of the landmarks,
    so no tracking window straddles the face outline and sees the (static) background.
    """
    lm = np.asarray(landmarks, np.float64)
    pts = lm[list(indices)]
    h, w = shape
    ok = np.all(np.isfinite(pts), axis=1)
    ok &= (pts[:, 0] >= margin) & (pts[:, 0] <= w - 1 - margin) & (pts[:, 1] >= margin) & (pts[:, 1] <= h - 1 - margin)
    outline = lm[: min(len(lm), 468)]
    outline = outline[np.all(np.isfinite(outline), axis=1)].astype(np.float32)
    if len(outline) >= 3:
        hull = cv2.convexHull(outline.reshape(-1, 1, 2))
        depth = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), True) if good else -1.0
                          for (x, y), good in zip(pts, ok, strict=True)])
        ok &= depth >= margin / 2
    return pts[ok].astype(np.float32)


def _apply(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) mapped by similarity params (a, b, tx, ty)."""
    a, b, tx, ty = params
    return np.stack([a * points[:, 0] - b * points[:, 1] + tx, b * points[:, 0] + a * points[:, 1] + ty], axis=1)


def _fit_similarity_ls(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (scale, rotation, translation); a translation when the points coincide."""
    params = fit_similarity_params(src, dst)
    return _fit_translation_ls(src, dst) if params is None else params


def _fit_rigid_ls(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation and translation, no scale (2D Procrustes)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - cs, dst - cd
    angle = np.arctan2(np.sum(s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]), np.sum(s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]))
    a, b = np.cos(angle), np.sin(angle)
    t = cd - np.array([a * cs[0] - b * cs[1], b * cs[0] + a * cs[1]])
    return np.array([a, b, t[0], t[1]])


def _fit_translation_ls(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares translation."""
    t = (dst - src).mean(axis=0)
    return np.array([1.0, 0.0, t[0], t[1]])


@dataclass(frozen=True)
class MotionModel:
    """A family of head motions: its least-squares fit and number of free parameters."""

    fit: Callable[[np.ndarray, np.ndarray], np.ndarray]
    n_params: int


MOTION_MODELS: dict[str, MotionModel] = {
    "similarity": MotionModel(_fit_similarity_ls, 4),
    "rigid": MotionModel(_fit_rigid_ls, 3),
    "translation": MotionModel(_fit_translation_ls, 2),
}


def fit_motion(
    src: np.ndarray, dst: np.ndarray, ransac_px: float, noise_floor_px: float, model: str = "similarity"
) -> SimilarityFit | None:
    """Robust fit of a motion model src -> dst; None with fewer than 3 points.

    Least median of squares first (right while fewer than half the points are dragged,
    whatever the drag's size), then inliers within 2.5 robust sigmas (at least the noise
    floor, at most ransac_px), then least squares of the model on the inliers, twice.
    chi2 tests "no motion": the fitted displacements over the noise variance.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n = len(src)
    if n < 3:
        return None
    motion_model = MOTION_MODELS[model]
    start, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS, maxIters=500, confidence=0.999)
    params = _params_of(start) if start is not None else motion_model.fit(src, dst)
    for _ in range(2):
        resid = np.linalg.norm(_apply(params, src) - dst, axis=1)
        sigma = 1.4826 * (1 + 5 / max(n - 2, 1)) * float(np.sqrt(np.median(resid**2)))
        threshold = min(max(2.5 * sigma, 2.5 * noise_floor_px), ransac_px)
        inliers = resid <= threshold
        if inliers.sum() < 3:
            return SimilarityFit(np.array([1.0, 0.0, 0.0, 0.0]), inliers, float("inf"), 0.0, motion_model.n_params)
        params = motion_model.fit(src[inliers], dst[inliers])
    inlier_src = src[inliers]
    point_resid = np.linalg.norm(_apply(params, inlier_src) - dst[inliers], axis=1)
    dof = max(2 * len(inlier_src) - motion_model.n_params, 1)
    sigma2 = max(float(np.sum(point_resid**2)) / dof, noise_floor_px**2)
    shift = _apply(params, inlier_src) - inlier_src
    chi2 = float(np.sum(shift**2)) / sigma2
    return SimilarityFit(params, inliers, float(np.sqrt(np.mean(point_resid**2))), chi2, motion_model.n_params)


def fit_similarity(src: np.ndarray, dst: np.ndarray, ransac_px: float, noise_floor_px: float) -> SimilarityFit | None:
    """Robust similarity src -> dst (fit_motion with the similarity model)."""
    return fit_motion(src, dst, ransac_px, noise_floor_px, "similarity")


def _params_of(transform: np.ndarray) -> np.ndarray:
    return np.array([transform[0, 0], transform[1, 0], transform[0, 2], transform[1, 2]], dtype=np.float64)


def chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-square distribution with 2, 3 or 4 degrees of freedom (closed forms)."""
    half = x / 2.0
    if dof == 2:
        return float(np.exp(-half))
    if dof == 3:
        return float(math.erfc(math.sqrt(half)) + math.sqrt(2.0 * x / math.pi) * math.exp(-half))
    if dof == 4:
        return float(np.exp(-half) * (1.0 + half))
    raise ValueError(f"chi2_sf supports 2, 3 or 4 degrees of freedom, not {dof}")


def max_displacement(transform: np.ndarray, points: np.ndarray) -> float:
    """The largest distance a 2x3 transform moves any of the points (N, 2)."""
    pts = np.asarray(points, np.float64)
    moved = pts @ transform[:, :2].T + transform[:, 2]
    return float(np.max(np.linalg.norm(moved - pts, axis=1))) if len(pts) else 0.0


# Brightness gains outside this range are not a flickering lamp but a cut or a dark frame:
# matching them would only amplify noise, so the gain is clipped.
BRIGHTNESS_GAIN_RANGE = (0.5, 2.0)


def _match_brightness(gray: np.ndarray, reference_mean: float) -> np.ndarray:
    """`gray` (uint8) scaled to the mean brightness `reference_mean` (the onset frame's).

    Lucas-Kanade assumes brightness constancy: a global gain of 1-2 % (a flickering lamp,
    auto-exposure) biases each point's flow along its gradient by several tenths of a pixel,
    so points fail the forward-backward check or the robust fit and the head is lost on the
    frames farthest in brightness from the onset. A frame whose gain is within 1e-3 of 1 is
    returned unchanged (head motion or an expression alone can move a frame's mean past that,
    so steady light does not guarantee unchanged outputs).
    """
    mean = float(gray.mean())
    if mean <= 0.0:
        return gray
    gain = float(np.clip(reference_mean / mean, *BRIGHTNESS_GAIN_RANGE))
    if abs(gain - 1.0) < 1e-3:
        return gray
    return np.clip(np.rint(gray.astype(np.float32) * gain), 0, 255).astype(np.uint8)


class PointTracker:
    """Pyramidal LK from the onset frame's points to any frame, checked forward-backward.

    Each frame is first brought to the onset frame's mean brightness (_match_brightness).
    """

    def __init__(self, onset_gray: np.ndarray, points: np.ndarray, config: MotionConfig) -> None:
        self.config = config
        self.points = points.reshape(-1, 1, 2).astype(np.float32)
        self.win = (config.window, config.window)
        self.criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-3)
        self.onset = onset_gray
        self.onset_mean = float(onset_gray.mean())

    def track(self, gray: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(points in this frame (N, 2), ok mask (N,)) starting LK from the guessed positions."""
        gray = _match_brightness(gray, self.onset_mean)
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        lk = {"winSize": self.win, "maxLevel": self.config.levels, "criteria": self.criteria, "flags": flags}
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(self.onset, gray, self.points, guess.reshape(-1, 1, 2).copy(), **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, self.onset, fwd, self.points.copy(), **lk)
        fb = np.linalg.norm((back - self.points).reshape(-1, 2), axis=1)
        ok = st1.ravel().astype(bool) & st2.ravel().astype(bool) & (fb < self.config.fb_max_px)
        return fwd.reshape(-1, 2), ok


def _frame_order(n_frames: int, onset_index: int) -> list[int]:
    """Frames visited outward from the onset, so each frame's guess comes from a neighbour."""
    return list(range(onset_index + 1, n_frames)) + list(range(onset_index - 1, -1, -1))


def _smooth_params(params: np.ndarray, weights: np.ndarray, sigma: float, onset_index: int) -> np.ndarray:
    """Gaussian-weighted local linear fit of each parameter over time; weight 0 marks missing frames."""
    t = np.arange(len(params), dtype=np.float64)
    out = params.copy()
    if sigma <= 0:
        missing = weights == 0
        if missing.any() and (~missing).any():
            for k in range(params.shape[1]):
                out[missing, k] = np.interp(t[missing], t[~missing], params[~missing, k])
        return out
    radius = max(int(np.ceil(3 * sigma)), 1)
    for i in range(len(params)):
        lo, hi = max(0, i - radius), min(len(params), i + radius + 1)
        w = weights[lo:hi] * np.exp(-0.5 * ((t[lo:hi] - i) / sigma) ** 2)
        if w.sum() <= 0:
            continue
        x = t[lo:hi] - i
        design = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
        coef, *_ = np.linalg.lstsq(design, params[lo:hi] * np.sqrt(w)[:, None], rcond=None)
        out[i] = coef[0]
    out[onset_index] = 0.0
    return out


def track_head_motion(
    frames: Sequence[np.ndarray],
    onset_index: int,
    landmarks: np.ndarray,
    *,
    config: MotionConfig | None = None,
    sample_id: str = "",
    frame_numbers: Sequence[int] | None = None,
) -> HeadMotion:
    """Head motion of every frame relative to frames[onset_index], with per-frame quality.

    landmarks: (K, 2) onset landmarks in the frames' coordinates (only rigid points are used).
    """
    config = config or MotionConfig()
    if config.on_lost not in ON_LOST_CHOICES:
        raise ConfigError(f"on_lost must be one of {', '.join(ON_LOST_CHOICES)}, got {config.on_lost!r}")
    if config.model not in MOTION_MODELS:
        raise ConfigError(f"head motion model must be one of {', '.join(MOTION_MODELS)}, got {config.model!r}")
    n = len(frames)
    if not 0 <= onset_index < n:
        raise ValueError(f"onset_index {onset_index} outside 0..{n - 1}")
    numbers = list(frame_numbers) if frame_numbers is not None else list(range(n))
    onset_gray = to_gray(frames[onset_index])
    points = tracking_points(landmarks, onset_gray.shape, margin=config.window / 2 + 1, indices=config.points)
    if len(points) < config.min_inliers:
        raise HeadTrackingError(
            f"sample {sample_id or '?'}: only {len(points)} rigid landmark(s) lie inside the onset frame "
            f"{numbers[onset_index]} (need {config.min_inliers}); check the landmarks or use a larger crop"
        )
    tracker = PointTracker(onset_gray, points, config)
    params = np.zeros((n, 4))
    tracked = np.zeros(n, np.int64)
    inliers = np.zeros(n, np.int64)
    residual = np.zeros(n)
    moved = np.zeros(n, bool)
    lost = np.zeros(n, bool)
    tracked[onset_index] = inliers[onset_index] = len(points)
    last_good = {True: identity(), False: identity()}
    needed = max(config.min_inliers, int(np.ceil(config.min_fraction * len(points))))
    for i in _frame_order(n, onset_index):
        forward = i > onset_index
        guess = points @ last_good[forward][:, :2].T + last_good[forward][:, 2]
        found, ok = tracker.track(to_gray(frames[i]), guess.astype(np.float32))
        fit = fit_motion(points[ok], found[ok], config.ransac_px, config.noise_floor_px, config.model)
        tracked[i] = int(ok.sum())
        inliers[i] = 0 if fit is None else int(fit.inliers.sum())
        if fit is None or inliers[i] < needed:
            lost[i] = True
            residual[i] = float("nan")
            if config.on_lost == "raise":
                raise HeadTrackingError(
                    f"sample {sample_id or '?'}: head tracking lost at frame {numbers[i]} "
                    f"({inliers[i]} of {len(points)} rigid points followed, need {needed}); the face may leave the "
                    "frame, turn away or be covered; check the clip, or let the motion of such frames be interpolated "
                    "(`occmer synthesize --on-lost hold`; in Python MotionConfig(on_lost='hold'))"
                )
            continue
        residual[i] = fit.residual_px
        last_good[forward] = fit.transform
        significant = chi2_sf(fit.chi2, fit.n_params) < config.p_value
        moved[i] = significant and max_displacement(fit.transform, points[ok][fit.inliers]) >= config.dead_band_px
        if moved[i]:
            params[i] = fit.params - np.array([1.0, 0.0, 0.0, 0.0])
    weights = (~lost).astype(np.float64)
    smoothed = _smooth_params(params, weights, config.smooth, onset_index)
    transforms = np.repeat(identity()[None], n, axis=0)
    for i in range(n):
        a, b, tx, ty = smoothed[i] + np.array([1.0, 0.0, 0.0, 0.0])
        if MOTION_MODELS[config.model].n_params < 4:  # smoothing cos/sin pairs must not add scale
            norm = float(np.hypot(a, b))
            a, b = a / norm, b / norm
        candidate = np.array([[a, -b, tx], [b, a, ty]])
        if i != onset_index and max_displacement(candidate, points) >= config.dead_band_px / 2:
            transforms[i] = candidate
    return HeadMotion(transforms, tracked, inliers, residual, moved, lost, len(points), points, config)


def estimate_head_motion(
    frames: Sequence[np.ndarray],
    onset_index: int,
    landmarks: np.ndarray,
    *,
    smooth: float | None = None,
    sample_id: str = "",
    frame_numbers: Sequence[int] | None = None,
    config: MotionConfig | None = None,
) -> np.ndarray:
    """(T, 2, 3) float64 transforms mapping onset coordinates to each frame's; the onset is exactly identity.

    `smooth` (temporal Gaussian sigma in frames, 0 = off) overrides config.smooth when given.
    See track_head_motion for the per-frame quality record.
    """
    config = config or MotionConfig()
    if smooth is not None:
        config = replace(config, smooth=float(smooth))
    result = track_head_motion(
        frames, onset_index, landmarks, config=config, sample_id=sample_id, frame_numbers=frame_numbers
    )
    return result.transforms
