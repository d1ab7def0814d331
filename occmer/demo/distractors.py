"""Motion and light that real clips carry and that belong to no class.

Blinks (AU45) close the upper lids at any time of a clip of any class; the head moves
rigidly (slow translation, in-plane roll, a small zoom and a small yaw that shifts near
parts of the face more than far ones); the light flickers and drifts. Each is drawn per
clip from its own seeded stream, sized as a 200 px frame (scaled with --size), and
recorded frame by frame in demo.json. None of them depends on the clip's class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occmer.demo.actions import GROUPS, SELECTORS, FaceAxes
from occmer.faces import topology


@dataclass(frozen=True)
class DistractorParams:
    """Sizes of the distractors (a 200 px frame; 0 switches one off)."""

    blink_share: float = 0.3  # share of clips with a blink
    translation_px: float = 1.0  # largest head translation over a clip
    roll_deg: float = 0.5  # largest in-plane rotation
    zoom: float = 0.006  # largest relative scale change (toward / away from the camera)
    yaw_deg: float = 1.0  # largest out-of-plane turn
    flicker: float = 0.015  # largest relative brightness change (flicker + drift)


@dataclass(frozen=True)
class HeadMotion:
    """Per-frame rigid head pose relative to the first frame."""

    translation: np.ndarray  # (T, 2) px
    roll_deg: np.ndarray  # (T,)
    zoom: np.ndarray  # (T,) relative scale, 1 = unchanged
    yaw_deg: np.ndarray  # (T,)

    def similarity(self, t: int, centre: np.ndarray) -> np.ndarray:
        """(2, 3) affine of frame t: zoom and roll about `centre`, then the translation."""
        angle = np.deg2rad(self.roll_deg[t])
        linear = self.zoom[t] * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        offset = centre - linear @ centre + self.translation[t]
        return np.hstack([linear, offset[:, None]])

    def record(self) -> dict:
        r = lambda values, digits: [round(float(v), digits) for v in values]  # noqa: E731
        return {
            "translation_px": [r(p, 4) for p in self.translation],
            "roll_deg": r(self.roll_deg, 4),
            "zoom": r(self.zoom, 6),
            "yaw_deg": r(self.yaw_deg, 4),
        }


def smooth_path(count: int, rng: np.random.Generator, largest: float) -> np.ndarray:
    """(T,) slow wandering that starts at 0: two low-frequency sines, largest |value| drawn up to `largest`."""
    t = np.linspace(0.0, 1.0, count)
    path = np.zeros(count)
    for _ in range(2):
        path += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * (rng.uniform(0.2, 1.0) * t + rng.uniform()))
    path -= path[0]
    peak = float(np.abs(path).max())
    return path * (rng.uniform(0.2, 1.0) * largest / peak) if peak > 1e-12 else path


def draw_head_motion(count: int, rng: np.random.Generator, params: DistractorParams, scale: float) -> HeadMotion:
    """A clip's head pose path: translation (px, scaled with the frame), roll, zoom and yaw."""
    translation = np.stack([smooth_path(count, rng, params.translation_px * scale) for _ in range(2)], axis=1)
    norm = float(np.hypot(translation[:, 0], translation[:, 1]).max())
    if norm > params.translation_px * scale > 0:
        translation *= params.translation_px * scale / norm
    return HeadMotion(
        translation=translation,
        roll_deg=smooth_path(count, rng, params.roll_deg),
        zoom=1.0 + smooth_path(count, rng, params.zoom),
        yaw_deg=smooth_path(count, rng, params.yaw_deg),
    )


def yaw_field(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) shift per degree of yaw: depth of an ellipsoid head (nose nearest) times sin(1 deg).

    A small turn moves each point sideways by its depth times sin(yaw): the nose more than
    the cheeks, the background (depth 0 past the face outline) not at all.
    """
    axes = FaceAxes.from_landmarks(landmarks)
    oval = np.asarray(landmarks[list(topology.FACE_OVAL)], np.float64)
    centre = oval.mean(axis=0)
    face = axes.to_face(oval) - axes.to_face(centre[None])[0]
    half_w, half_h = float(np.abs(face[:, 0]).max()), float(np.abs(face[:, 1]).max())
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    grid = axes.to_face(np.stack([xs.ravel(), ys.ravel()], axis=1)) - axes.to_face(centre[None])[0]
    inside = 1.0 - (grid[:, 0] / half_w) ** 2 - (grid[:, 1] / half_h) ** 2
    depth = (half_w * np.sqrt(np.clip(inside, 0.0, None))).reshape(h, w)
    shift = depth * np.sin(np.deg2rad(1.0))
    return (shift[:, :, None] * axes.x[None, None, :]).astype(np.float32)


@dataclass(frozen=True)
class Blink:
    """One blink: frames (0-based indices into the clip) of closing start, full closure, reopened; depth."""

    start: float
    closed: float
    end: float
    depth: float  # share of the eye opening the upper lid travels (0..1)

    def profile(self, count: int) -> np.ndarray:
        """(T,) lid closure 0..1: a fast close, a slower reopening (as eyelids move)."""
        t = np.arange(count, dtype=np.float64)
        close = np.clip((t - self.start) / max(self.closed - self.start, 1e-9), 0.0, 1.0)
        reopen = np.clip((self.end - t) / max(self.end - self.closed, 1e-9), 0.0, 1.0)
        value = np.where(t <= self.closed, close, reopen)
        return value * value * (3.0 - 2.0 * value) * self.depth


def draw_blink(count: int, fps: float, rng: np.random.Generator, share: float) -> Blink | None:
    """A blink at any time of the clip (it may start before or end after it), or None for 1 - share of clips.

    Durations: closing 50-100 ms, reopening 100-250 ms (spontaneous blinks last 100-400 ms).
    """
    if rng.random() >= share:
        return None
    close_frames = rng.uniform(50.0, 100.0) * fps / 1000.0
    open_frames = rng.uniform(100.0, 250.0) * fps / 1000.0
    closed = rng.uniform(-0.2 * count, 1.2 * count)
    return Blink(closed - close_frames, closed, closed + open_frames, float(rng.uniform(0.5, 0.85)))


def blink_field(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) displacement of a full blink: both upper lids down by the eye's opening."""
    axes = FaceAxes.from_landmarks(landmarks)
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    total = np.zeros((h, w, 2))
    for side in ("right", "left"):
        eye = np.asarray(landmarks[list(GROUPS["eye"][side])], np.float64)
        upper = eye[SELECTORS["upper"](eye, axes)]
        lower = eye[SELECTORS["lower"](eye, axes)]
        opening = float(axes.to_face(lower)[:, 1].mean() - axes.to_face(upper)[:, 1].mean())
        sigma = max(opening, 1.0) * 1.1  # wide enough that the warp stays one-to-one
        bump = np.zeros((h, w))
        for px, py in upper:
            bump += np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2.0 * sigma**2))
        bump *= opening / max(float(bump.max()), 1e-12)
        total += bump[:, :, None] * axes.y[None, None, :]
    return total.astype(np.float32)


def draw_illumination(count: int, fps: float, rng: np.random.Generator, largest: float) -> np.ndarray:
    """(T,) brightness gain: a slow drift plus a flicker of 2-12 Hz (as aliased lamp flicker appears)."""
    t = np.arange(count) / fps
    drift = rng.uniform(-1.0, 1.0) * t / max(float(t[-1]), 1e-9)
    flicker = np.sin(2 * np.pi * rng.uniform(2.0, 12.0) * t + rng.uniform(0, 2 * np.pi))
    gain = 0.5 * drift + 0.5 * flicker
    peak = float(np.abs(gain).max())
    return 1.0 + gain * (rng.uniform(0.2, 1.0) * largest / peak if peak > 1e-12 else 0.0)
