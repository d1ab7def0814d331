"""Time in a demo clip: onset-apex-offset timing, intensity profile, rendering.

A frame is the neutral face warped by the sum of its non-rigid displacements (expression x
intensity[t], blink, yaw), then moved by the head's rigid pose, lit by a gain, given sensor
noise. The warp is solved as a forward displacement (the content at p goes to
A(p + d(p))), so that the fields recorded in demo.json are the motion a flow method should see.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from occmer.demo.presets import Durations

MIN_FRAMES = 12  # room for neutral frames, a rise, an apex, a fall and neutral frames again
MAX_FRAMES = 2000  # 10 s at 200 fps: far beyond any micro-expression clip
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


def timeline_from(durations: Durations, rng: np.random.Generator) -> Timeline:
    """The frame numbers of a clip whose phase lengths come from a recording preset."""
    first = int(rng.integers(1, 61))
    onset = first + durations.lead
    apex = onset + durations.rise
    offset = apex + durations.fall
    return Timeline(first=first, count=durations.count, onset=onset, apex=apex, offset=offset)


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


def pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(grid_x, grid_y) float32 pixel coordinates of a frame (made once per clip)."""
    grid_y, grid_x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return grid_x, grid_y


def backward_map(
    field: np.ndarray,
    affine: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    steps: int = INVERSION_STEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) for cv2.remap so that content at p lands at affine(p + field(p))."""
    grid_x, grid_y = grid if grid is not None else pixel_grid(field.shape[:2])
    inverse = cv2.invertAffineTransform(affine).astype(np.float32)
    target_x = inverse[0, 0] * grid_x + inverse[0, 1] * grid_y + inverse[0, 2]
    target_y = inverse[1, 0] * grid_x + inverse[1, 1] * grid_y + inverse[1, 2]
    source_x, source_y = target_x, target_y
    if not np.any(field):
        return source_x, source_y
    field = np.ascontiguousarray(field, np.float32)
    for _ in range(steps):
        at_source = cv2.remap(field, source_x, source_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        source_x = target_x - at_source[..., 0]
        source_y = target_y - at_source[..., 1]
    return source_x, source_y


def render_frame(
    face: np.ndarray,
    field: np.ndarray,
    affine: np.ndarray,
    gain: float,
    noise: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    steps: int = INVERSION_STEPS,
) -> np.ndarray:
    """One uint8 frame (H, W, 3) or (H, W): the neutral face moved by `field` then `affine`, lit, noisy.

    `face` is float32 (H, W[, 3]); `steps` fixed-point steps invert the field (3 suffice for
    sub-pixel fields, whose gradient is far below 1).
    """
    map_x, map_y = backward_map(field, affine, grid, steps)
    warped = cv2.remap(face, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if warped.ndim == 3:
        noise = noise[:, :, None]
    warped *= np.float32(gain)
    warped += noise
    warped += np.float32(0.5)
    return np.clip(warped, 0, 255).astype(np.uint8)
