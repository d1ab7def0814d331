"""Animated clips: onset to offset, side by side panels, as small palette GIFs.

Stills cannot show what occmer is built around: the occluder stays put while the face
moves. A clip panel strip shows, frame by frame, the clean face (when known), the occluded
face, the occluder alpha and the magnitude of the optical flow from the onset frame, all on
one fixed scale per clip, so growing motion reads as growing brightness.

Files stay small: panels are downscaled crops (default 128 px), at most `max_frames`
frames (a stride over onset..offset). Pages embed animated WebP (lossy, quality 80: about
80 KB a clip); `occmer preview --gif` writes GIF (one shared palette without dithering,
about 5x larger, but every viewer plays it).
Everything here is pure computation on arrays, apart from `save_gif`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PANEL = 128
MAX_FRAMES = 24
FRAME_MS = 90  # micro-expressions last < 0.5 s: a 200 fps clip slowed ~18x so the motion can be seen
HOLD_MS = 700  # the last (offset) frame is held before the loop restarts
FLOW_FLOOR = 1.0  # px: the flow colour scale spans at least this much, so noise never fills the range


@dataclass
class ClipPanels:
    """The panels of one clip as (T, P, P, 3) uint8 arrays, left to right, with their titles."""

    sample_id: str
    titles: list[str]
    panels: list[np.ndarray]
    frame_numbers: list[int]
    flow_scale: float  # px of flow at the top of the colour scale

    @property
    def n_frames(self) -> int:
        return len(self.frame_numbers)


def frame_stride(n_frames: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Indices of at most `max_frames` frames spread over the clip, first and last always kept."""
    if n_frames <= max_frames:
        return np.arange(n_frames)
    return np.unique(np.linspace(0, n_frames - 1, max_frames).round().astype(int))


def clip_window(frame_numbers: Sequence[int], onset: int, offset: int) -> np.ndarray:
    """Positions of the stored frames from onset to offset (all frames when the numbers do not match)."""
    numbers = np.asarray(frame_numbers)
    keep = np.flatnonzero((numbers >= onset) & (numbers <= offset)) if offset >= onset else np.array([], int)
    return keep if len(keep) >= 2 else np.arange(len(numbers))


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 from RGB or one-channel frames."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    return np.repeat(frames, 3, axis=3) if frames.shape[3] == 1 else frames[..., :3]


def resize_stack(frames: np.ndarray, side: int) -> np.ndarray:
    """Each (H, W, 3) frame resized so its longer side is `side` and padded to a square."""
    out = []
    for frame in frames:
        image = Image.fromarray(np.ascontiguousarray(frame))
        scale = side / max(image.size)
        image = image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))),
                             Image.BILINEAR)
        canvas = Image.new("RGB", (side, side), (0, 0, 0))
        canvas.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
        out.append(np.asarray(canvas))
    return np.stack(out)


def colourise(values: np.ndarray, vmax: float, cmap: str = "magma") -> np.ndarray:
    """(..., 3) uint8 colours of `values` on a fixed 0..vmax scale."""
    from matplotlib import colormaps

    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    index = np.clip(values / max(vmax, 1e-6) * 255, 0, 255).astype(np.uint8)
    return lut[index]


def flow_magnitudes(frames: np.ndarray, method: str = "farneback") -> np.ndarray:
    """(T, H, W) float32: |flow| in px from the first frame to each frame (0 for the first)."""
    from occmer.features.flow import compute_flow

    onset = frames[0]
    out = np.zeros(frames.shape[:3], np.float32)
    for t in range(1, len(frames)):
        flow = compute_flow(onset, frames[t], method=method)
        out[t] = np.hypot(flow[..., 0], flow[..., 1])
    return out


def build_panels(sample_id: str, frames: np.ndarray, occlusion: np.ndarray, frame_numbers: Sequence[int],
                 onset: int, offset: int, clean_frames: np.ndarray | None = None, *, side: int = PANEL,
                 max_frames: int = MAX_FRAMES, flow: bool = True) -> ClipPanels:
    """Panels of one clip from onset to offset: [clean |] occluded | occluder alpha [| flow magnitude].

    `occlusion` is the stored uint8 (T, H, W) alpha; the flow is computed on the occluded
    frames (what a model sees), from the onset frame to each frame, on the full-size crop.
    """
    window = clip_window(frame_numbers, onset, offset)
    picks = window[frame_stride(len(window), max_frames)]
    occluded = to_rgb(frames[window])
    titles, panels = [], []
    if clean_frames is not None:
        titles.append("clean")
        panels.append(resize_stack(to_rgb(clean_frames[picks]), side))
    titles.append("occluded")
    panels.append(resize_stack(occluded[frame_stride(len(window), max_frames)], side))
    alpha = np.asarray(occlusion)[picks]
    titles.append("occluder alpha")
    panels.append(resize_stack(np.repeat(alpha[..., None], 3, axis=3).astype(np.uint8), side))
    scale = FLOW_FLOOR
    if flow:
        magnitude = flow_magnitudes(occluded)[frame_stride(len(window), max_frames)]
        scale = max(FLOW_FLOOR, float(np.percentile(magnitude, 99.5)))
        titles.append(f"flow magnitude 0-{scale:.1f} px")
        panels.append(resize_stack(colourise(magnitude, scale), side))
    numbers = [int(n) for n in np.asarray(frame_numbers)[picks]]
    return ClipPanels(sample_id, titles, panels, numbers, scale)


def strip_frames(rows: Sequence[ClipPanels], gap: int = 4, background: int = 255) -> list[np.ndarray]:
    """Animation frames: each clip a row of panels, rows stacked; shorter clips hold their last frame."""
    length = max(r.n_frames for r in rows)
    width = max(len(r.panels) for r in rows)
    side = rows[0].panels[0].shape[1]
    canvas_h = len(rows) * side + (len(rows) - 1) * gap
    canvas_w = width * side + (width - 1) * gap
    out = []
    for t in range(length):
        canvas = np.full((canvas_h, canvas_w, 3), background, np.uint8)
        for r, row in enumerate(rows):
            k = min(t, row.n_frames - 1)
            for p, panel in enumerate(row.panels):
                y, x = r * (side + gap), p * (side + gap)
                canvas[y:y + side, x:x + side] = panel[k]
        out.append(canvas)
    return out


def gif_bytes(frames: Sequence[np.ndarray], frame_ms: int = FRAME_MS, hold_ms: int = HOLD_MS,
              colors: int = 128) -> bytes:
    """An endlessly looping GIF with one palette shared by every frame (no dither: small, no flicker)."""
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    # The palette comes from a mosaic of frames spread over the clip, so late colours (flow) are in it.
    sample = images[:: max(1, len(images) // 6)][:6]
    mosaic = Image.new("RGB", (sample[0].width, sample[0].height * len(sample)))
    for i, image in enumerate(sample):
        mosaic.paste(image, (0, i * image.height))
    palette = mosaic.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [frame_ms] * len(quantized)
    durations[-1] = hold_ms
    buffer = io.BytesIO()
    quantized[0].save(buffer, format="GIF", save_all=True, append_images=quantized[1:], duration=durations,
                      loop=0, optimize=False, disposal=1)
    return buffer.getvalue()


def webp_bytes(frames: Sequence[np.ndarray], frame_ms: int = FRAME_MS, hold_ms: int = HOLD_MS,
               quality: int = 80) -> bytes:
    """An endlessly looping animated WebP (what the HTML pages embed: several times smaller than GIF)."""
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    durations = [frame_ms] * len(images)
    durations[-1] = hold_ms
    buffer = io.BytesIO()
    images[0].save(buffer, format="WEBP", save_all=True, append_images=images[1:], duration=durations, loop=0,
                   quality=quality, method=4)
    return buffer.getvalue()


def save_gif(data: bytes, path: str | Path) -> Path:
    """Write an encoded animation (GIF or WebP bytes)."""
    path = Path(path)
    path.write_bytes(data)
    return path
