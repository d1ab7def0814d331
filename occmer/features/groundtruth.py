"""Clips with a known motion, written as a real occmer file: the reference the flow is checked against.

A face photo that ships with scikit-image (NASA's astronaut portrait, public domain) is
cropped like an aligned face and deformed by smooth Gaussian displacement bumps placed
where an action unit moves the skin (AU4: brows down and together; AU12: lip corners out
and up). Tests and benchmark/perf/features.py use it; researchers can use it to check a
flow method's accuracy on their machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occmer.frames import to_gray
from occmer.occluders.base import OccluderLayer
from occmer.occluders.compositing import composite
from occmer.store.writer import ClipRecord, RunDirectory, assemble, to_json

# The astronaut's face cropped so that eyes sit at ~35 % / 65 % of the width, ~41 % of the height.
ASTRONAUT_FACE = (slice(36, 196), slice(144, 304))


@dataclass(frozen=True)
class Bump:
    """A Gaussian displacement: `shift` pixels (dx, dy) at `center` (x, y as fractions of the
    frame), falling off with standard deviation `sigma` (fraction of the width)."""

    center: tuple[float, float]
    shift: tuple[float, float]
    sigma: float = 0.05


# Displacements at apex on a 224 px face (~1.5-2 px: the size of a real micro-expression).
ACTION_UNITS: dict[str, tuple[Bump, ...]] = {
    "AU4": (Bump((0.36, 0.33), (1.0, 1.5)), Bump((0.64, 0.33), (-1.0, 1.5))),
    "AU12": (Bump((0.39, 0.68), (-1.5, -1.0), 0.04), Bump((0.61, 0.68), (1.5, -1.0), 0.04)),
}


@dataclass(frozen=True)
class GroundTruthClip:
    """One clip to generate: its id, subject, action unit (a key of ACTION_UNITS) and optional
    occluder box (x0, y0, x1, y1 as fractions of the frame, filled mid-gray)."""

    sample_id: str
    subject: str
    action_unit: str
    occluder_box: tuple[float, float, float, float] | None = None


def face_texture(size: int = 224, gray: bool = False) -> np.ndarray:
    """(size, size, 3) RGB or (size, size, 1) uint8 aligned-looking face from skimage's astronaut."""
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[ASTRONAUT_FACE])
    face = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if size < 160 else cv2.INTER_CUBIC)
    if gray:
        return to_gray(face)[:, :, None]
    return face


def displacement_field(shape: tuple[int, int], bumps: Sequence[Bump]) -> np.ndarray:
    """(H, W, 2) float64 sum of the bumps' displacements in pixels."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    field = np.zeros((h, w, 2))
    for bump in bumps:
        cx, cy = bump.center[0] * (w - 1), bump.center[1] * (h - 1)
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * (bump.sigma * w) ** 2))
        field[:, :, 0] += bump.shift[0] * weight
        field[:, :, 1] += bump.shift[1] * weight
    return field


def deform(frame: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """The frame with its content moved by `displacement` (to first order: out(x + d(x)) = in(x))."""
    h, w = frame.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xs - displacement[:, :, 0].astype(np.float32)
    map_y = ys - displacement[:, :, 1].astype(np.float32)
    out = cv2.remap(frame, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return out.reshape(frame.shape)


def box_layer(shape: tuple[int, int], box: tuple[float, float, float, float] | None) -> OccluderLayer:
    """A mid-gray rectangle occluder (or nothing) as an OccluderLayer on an (H, W) frame."""
    h, w = shape
    alpha = np.zeros((h, w), np.float32)
    if box is not None:
        x0, y0, x1, y1 = box
        alpha[int(round(y0 * h)) : int(round(y1 * h)), int(round(x0 * w)) : int(round(x1 * w))] = 1.0
    return OccluderLayer(np.full((h, w, 3), 128.0, np.float32), alpha, {"box": list(box) if box else None})


def clip_record(clip: GroundTruthClip, size: int, n_frames: int, first_frame: int, gray: bool) -> ClipRecord:
    """Frames that ramp from still (onset) to the full displacement (apex, middle) and back."""
    if clip.action_unit not in ACTION_UNITS:
        raise ValueError(f"unknown action unit {clip.action_unit!r}; choose one of {sorted(ACTION_UNITS)}")
    face = face_texture(size, gray)
    field = displacement_field((size, size), ACTION_UNITS[clip.action_unit])
    layer = box_layer((size, size), clip.occluder_box)
    apex_index = (n_frames - 1) // 2
    frames, alphas = [], []
    for t in range(n_frames):
        amount = np.sin(np.pi * t / (n_frames - 1)) if n_frames > 1 else 0.0
        frame, alpha = composite(deform(face, field * amount), layer)
        frames.append(frame)
        alphas.append(alpha)
    numbers = np.arange(first_frame, first_frame + n_frames, dtype=np.int32)
    occluded = float(np.mean(layer.alpha))
    row = {
        "sample_id": clip.sample_id, "database": "groundtruth", "subject": clip.subject,
        "filename": clip.sample_id, "emotion": "others", "objective_class": "", "composite": "",
        "action_units": clip.action_unit.removeprefix("AU"), "apex_source": "given",
        "onset": int(numbers[0]), "apex": int(numbers[apex_index]), "offset": int(numbers[-1]),
        "n_frames": n_frames, "occlusion_ratio": occluded,
    }
    return ClipRecord(
        row=row, frames=np.stack(frames), occlusion=np.stack(alphas),
        landmarks=np.zeros((n_frames, 0, 2), np.float32), frame_numbers=numbers, placement=layer.params,
    )


def write_groundtruth_file(
    path: str | Path,
    clips: Sequence[GroundTruthClip],
    size: int = 224,
    n_frames: int = 7,
    first_frame: int = 100,
    gray: bool = False,
) -> Path:
    """Write the clips as a complete occmer v1 file (through the store writer) and return its path."""
    out = Path(path)
    run = RunDirectory(out)
    settings = {"generator": "occmer.features.groundtruth", "size": size, "n_frames": n_frames}
    run.start(settings, resume=False, overwrite=True)
    for clip in clips:
        run.write(clip_record(clip, size, n_frames, first_frame, gray), compression=1)
    attrs = {
        "database": "groundtruth", "occluder": to_json({"name": "box"}), "seed": 0,
        "command": "occmer.features.groundtruth.write_groundtruth_file",
    }
    return assemble(out, [c.sample_id for c in clips], attrs)
