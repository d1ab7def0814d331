"""`occmer preview --gif`: one animated GIF of a few clips, for a one-off check by eye.

From a fresh synthesis (--db) the clean frames are known: rows are clean | occluded |
occluder alpha | flow magnitude. From an existing file (--from) they are not (a file stores
the occluded frames only; `occmer inspect --html` recovers them): rows are occluded | alpha |
flow magnitude.

GIF is large for noisy face video (every pixel changes a little in every frame), so a GIF
preview keeps 16 frames and 64 colours, about 150 KB a clip at 112 px; an --out ending in
.webp writes animated WebP instead (5-10x smaller, lossy).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from occmer.pages import clips as anim
from occmer.pages.contact_sheet import stored_clips


def panels_from_store(path: str | Path, n: int, side: int = anim.PANEL,
                      max_frames: int = anim.MAX_FRAMES) -> list[anim.ClipPanels]:
    """Panels of n clips of a file, spread over its clips (as the contact sheet picks them)."""
    return [anim.build_panels(clip.sample_id, clip.frames, clip.occlusion, clip.frame_numbers, sample.onset,
                              sample.offset, side=side, max_frames=max_frames)
            for clip, sample, _attrs in stored_clips(path, n)]


def panels_from_processed(processed: Any, side: int = anim.PANEL, max_frames: int = anim.MAX_FRAMES) -> anim.ClipPanels:
    """Panels of a freshly synthesized clip (occmer.pipeline.ProcessedClip): clean frames included."""
    clip = processed.clip
    return anim.build_panels(clip.sample_id, processed.frames, processed.occlusion, processed.frame_numbers,
                             clip.onset, clip.offset, processed.clean_frames, side=side, max_frames=max_frames)


PREVIEW_FRAMES = 16
PREVIEW_COLORS = 64


def write_preview_gif(rows: Sequence[anim.ClipPanels], out: str | Path) -> Path:
    """Rows stacked into one looping animation at `out`: WebP when it ends in .webp, else GIF."""
    frames = anim.strip_frames(rows)
    if str(out).lower().endswith(".webp"):
        return anim.save_gif(anim.webp_bytes(frames), out)
    return anim.save_gif(anim.gif_bytes(frames, colors=PREVIEW_COLORS), out)
