"""Contact sheets that let a person judge occluder placement at a glance.

One row per clip: onset and apex, clean and occluded (from a fresh synthesis), or
onset, apex and the stored occlusion map (from an existing HDF5 file), captioned with
the sample id, the occluder and the clip's occlusion ratio. Building rows (pure, from
arrays) is separate from reading data and from writing the PNG.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from occmer.errors import ConfigError, StoreError
from occmer.frames import frame_position

BACKGROUND = (246, 246, 244)
INK = (30, 30, 34)
MUTED = (110, 110, 118)
OVERLAY_RGB = np.array([255, 40, 60], np.float32)


@dataclass
class PreviewRow:
    """One clip on the sheet: captioned images in column order."""

    sample_id: str
    occluder: str
    occlusion_ratio: float
    images: list[np.ndarray]  # (H, W, 3) or (H, W, 1) uint8, all the same size
    column_titles: list[str]


def key_indices(frame_numbers: Sequence[int], onset: int, apex: int) -> tuple[int, int]:
    """Positions of the onset and apex frames (apex: the nearest stored frame; middle if unknown)."""
    numbers = np.asarray(frame_numbers)
    found = frame_position(numbers, onset)
    i_onset = 0 if found is None else found
    if apex is None or apex < 0:
        return i_onset, len(numbers) // 2
    return i_onset, int(np.argmin(np.abs(numbers - apex)))


def describe_placement(params: dict[str, Any]) -> str:
    """A short human label for an occluder's recorded parameters."""
    family = params.get("family", "none") if isinstance(params, dict) and params else "none"
    if family == "block":
        target = params.get("coverage_target")
        target_text = f" target {target:.2f}" if isinstance(target, int | float) else ""
        return f"block {params.get('region')}/{params.get('fill')}{target_text}"
    if params.get("variant"):
        return f"{family} {params['variant']}"
    if params.get("template"):
        return f"{family} {params['template']}"
    return str(family)


def choose_evenly(ids: Sequence[str], n: int) -> list[str]:
    """n ids spread evenly over the sorted list (deterministic: the same sheet every time)."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    ordered = sorted(ids)
    if len(ordered) <= n:
        return ordered
    picks = np.linspace(0, len(ordered) - 1, n).round().astype(int)
    return [ordered[i] for i in picks]


def occlusion_overlay(frame: np.ndarray, occlusion: np.ndarray) -> np.ndarray:
    """The frame dimmed to gray with the occluder's alpha painted in red over it."""
    gray = frame.astype(np.float32).mean(axis=2, keepdims=True) if frame.ndim == 3 else frame[:, :, None] * 1.0
    base = np.repeat(gray * 0.6 + 40.0, 3, axis=2)
    a = (occlusion.astype(np.float32) / 255.0)[:, :, None]
    return np.clip(base * (1 - 0.75 * a) + OVERLAY_RGB * 0.75 * a, 0, 255).astype(np.uint8)


def row_from_arrays(
    sample_id: str,
    frames: np.ndarray,
    frame_numbers: Sequence[int],
    onset: int,
    apex: int,
    placement: dict[str, Any],
    occlusion_ratio: float,
    clean_frames: np.ndarray | None = None,
    occlusion: np.ndarray | None = None,
) -> PreviewRow:
    """A sheet row from a clip's arrays: clean + occluded when the clean frames are known,
    else occluded + the occlusion map."""
    i_onset, i_apex = key_indices(frame_numbers, onset, apex)
    params = placement.get("parameters", placement)
    if clean_frames is not None:
        images = [clean_frames[i_onset], frames[i_onset], clean_frames[i_apex], frames[i_apex]]
        titles = ["onset clean", "onset occluded", "apex clean", "apex occluded"]
    else:
        images = [frames[i_onset], frames[i_apex]]
        titles = ["onset", "apex"]
        if occlusion is not None:
            images.append(occlusion_overlay(frames[i_onset], occlusion[i_onset]))
            titles.append("occlusion (onset)")
    return PreviewRow(sample_id, describe_placement(params), float(occlusion_ratio), images, titles)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def _thumb(image: np.ndarray, side: int) -> Image.Image:
    rgb = np.repeat(image, 3, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image
    im = Image.fromarray(np.ascontiguousarray(rgb.astype(np.uint8)))
    scale = side / max(im.size)
    return im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.LANCZOS)


def render_sheet(rows: Sequence[PreviewRow], title: str = "", thumb: int = 160, grid_columns: int | None = None) -> np.ndarray:
    """The contact sheet as an RGB uint8 array: rows of thumbnails with captions."""
    if not rows:
        raise ConfigError("nothing to preview: no clip could be processed")
    grid_columns = grid_columns or (1 if len(rows) <= 4 else 2)
    n_images = max(len(r.images) for r in rows)
    pad, caption_h, title_h = 6, 20, 34 if title else 8
    cell_w = n_images * (thumb + pad) + pad
    cell_h = caption_h + thumb + pad * 2
    header_h = 18
    n_grid_rows = -(-len(rows) // grid_columns)
    width = grid_columns * cell_w + (grid_columns - 1) * pad * 2
    height = title_h + header_h + n_grid_rows * cell_h + pad
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, 8), title, fill=INK, font=_font(16))
    small = _font(12)
    for gc in range(min(grid_columns, len(rows))):
        x0 = gc * (cell_w + pad * 2)
        for k, column_title in enumerate(rows[0].column_titles):
            draw.text((x0 + pad + k * (thumb + pad), title_h), column_title, fill=MUTED, font=small)
    for index, row in enumerate(rows):
        gr, gc = divmod(index, grid_columns)
        x0 = gc * (cell_w + pad * 2)
        y0 = title_h + header_h + gr * cell_h
        caption = f"{row.sample_id}  {row.occluder}  ratio {row.occlusion_ratio:.3f}"
        draw.text((x0 + pad, y0 + 3), caption, fill=INK, font=small)
        for k, image in enumerate(row.images):
            sheet.paste(_thumb(image, thumb), (x0 + pad + k * (thumb + pad), y0 + caption_h))
    return np.asarray(sheet)


def save_sheet(sheet: np.ndarray, path: str | Path) -> Path:
    """Write the sheet as PNG (the folder must exist)."""
    path = Path(path)
    if not path.parent.exists():
        raise ConfigError(f"--out {path}: folder {path.parent} does not exist; create it first")
    Image.fromarray(sheet).save(path, format="PNG", optimize=True)
    return path


# ---------------------------------------------------------------- sources


def stored_clips(path: str | Path, n: int) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    """(clip arrays, its /samples row (a store Sample), the file's root attributes) for n clips
    spread over a file."""
    from occmer.store.reader import OccmerFile

    with OccmerFile.open(path) as f:
        attrs = f.attrs()
        samples = {s.sample_id: s for s in f.samples()}
        if not samples:
            raise StoreError(f"{path}: the file has no clips to preview")
        if not f.has_frames:
            raise StoreError(f"{path} holds features only (contents='features'): there are no frames to preview")
        for sid in choose_evenly(list(samples), n):
            yield f.clip(sid), samples[sid], attrs


def rows_from_store(path: str | Path, n: int = 8) -> tuple[list[PreviewRow], dict[str, Any]]:
    """Rows for n clips of an existing occmer HDF5 file (spread over its clips), and its root attributes."""
    rows, attrs = [], {}
    for clip, sample, file_attrs in stored_clips(path, n):
        attrs = file_attrs
        rows.append(
            row_from_arrays(
                clip.sample_id, clip.frames, clip.frame_numbers, sample.onset, sample.apex,
                clip.placement, sample.occlusion_ratio, occlusion=clip.occlusion,
            )
        )
    return rows, attrs


def row_from_processed(processed: Any) -> PreviewRow:
    """A row from occmer.pipeline.ProcessedClip (clean and occluded frames are both known)."""
    clip = processed.clip
    return row_from_arrays(
        clip.sample_id, processed.frames, processed.frame_numbers, clip.onset, clip.apex, processed.placement,
        processed.occlusion_ratio, clean_frames=processed.clean_frames,
    )
