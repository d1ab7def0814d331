"""Time in a demo clip: onset-apex-offset timing, intensity profile, head drift, rendering.

A frame is the neutral face warped by `intensity[t] * apex field + drift[t]`, then given
sensor noise. The warp is solved as a forward displacement (the content at p goes to
p + d(p)), so that the field recorded in demo.json is the motion a flow method should see.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_FRAMES = 12  # room for neutral frames, a rise, an apex, a fall and neutral frames again
INVERSION_STEPS = 5  # fixed-point iterations of the backward map (contraction: field gradient < 1)


@dataclass(frozen=True)
class Timeline:
    """Frame numbers of one clip, absolute as they appear in the file names (CASME II style)."""

    first: int  # number of the first image file
    count: int
    onset: int
    apex: int
    offset: int

    @property
    def numbers(self) -> list[int]:
        return list(range(self.first, self.first + self.count))

    def index(self, number: int) -> int:
        return number - self.first


def draw_timeline(count: int, rng: np.random.Generator) -> Timeline:
    """Onset a few frames in, apex near the middle (varied per clip), offset a few frames before the end."""
    first = int(rng.integers(1, 61))
    onset = int(rng.integers(2, 5))
    offset = count - 1 - int(rng.integers(2, 5))
    apex = onset + int(round((offset - onset) * rng.uniform(0.35, 0.6)))
    apex = min(max(apex, onset + 1), offset - 1)
    return Timeline(first=first, count=count, onset=first + onset, apex=first + apex, offset=first + offset)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero slope at both ends (no jerk at onset, apex or offset)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def intensity_profile(timeline: Timeline) -> np.ndarray:
    """(T,) expression intensity: 0 outside onset..offset, rising to exactly 1 at the apex."""
    t = np.arange(timeline.first, timeline.first + timeline.count, dtype=np.float64)
    rise = smoothstep((t - timeline.onset) / (timeline.apex - timeline.onset))
    fall = smoothstep((timeline.offset - t) / (timeline.offset - timeline.apex))
    return np.where(t <= timeline.apex, rise, fall)


def head_drift(count: int, rng: np.random.Generator, max_px: float) -> np.ndarray:
    """(T, 2) slow sub-pixel translation of the whole frame: two low-frequency sines per axis."""
    t = np.linspace(0.0, 1.0, count)
    drift = np.zeros((count, 2))
    for axis in range(2):
        for _ in range(2):
            cycles = rng.uniform(0.2, 1.0)
            drift[:, axis] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * (cycles * t + rng.uniform()))
    norm = float(np.hypot(drift[:, 0], drift[:, 1]).max())
    return drift * (rng.uniform(0.4, 1.0) * max_px / max(norm, 1e-12))


def backward_map(field: np.ndarray, scale: float, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) for cv2.remap so that content at p lands at p + scale * field(p) + shift."""
    h, w = field.shape[:2]
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    target_x, target_y = grid_x - np.float32(shift[0]), grid_y - np.float32(shift[1])
    source_x, source_y = target_x.copy(), target_y.copy()
    if scale == 0.0:
        return source_x, source_y
    scaled = (field * np.float32(scale)).astype(np.float32)
    for _ in range(INVERSION_STEPS):
        at_source = cv2.remap(scaled, source_x, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        source_x = target_x - at_source[..., 0]
        source_y = target_y - at_source[..., 1]
    return source_x, source_y


def render_frame(
    face: np.ndarray, field: np.ndarray, intensity: float, shift: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """One RGB uint8 frame: the neutral face moved by the expression and the drift, plus noise (H, W)."""
    map_x, map_y = backward_map(field, intensity, shift)
    warped = cv2.remap(face.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(warped + noise[:, :, None] + 0.5, 0, 255).astype(np.uint8)
