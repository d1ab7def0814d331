"""`occmer preview --gif`: one animated GIF of a few clips, for a one-off check by eye.

From a fresh synthesis (--db) the clean frames are known: rows are clean | occluded |
occluder alpha | flow magnitude. From an existing file (--from) they are not (a file stores
the occluded frames only; `occmer inspect --html` recovers them): rows are occluded | alpha |
flow magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from occmer.errors import StoreError
from occmer.reports import clips as anim


def panels_from_store(path: str | Path, sample_ids_of: Any, n: int, side: int = anim.PANEL,
                      max_frames: int = anim.MAX_FRAMES) -> list[anim.ClipPanels]:
    """Panels of n clips of a file, chosen by `sample_ids_of(ids, n)` (e.g. spread evenly)."""
    from occmer.store.reader import open_store, read_clip, read_samples

    with open_store(path) as f:
        samples = read_samples(f)
        ids = list(samples["sample_id"])
        if not ids:
            raise StoreError(f"{path}: the file has no clips to preview")
        position = {sid: i for i, sid in enumerate(ids)}
        rows = []
        for sid in sample_ids_of(ids, n):
            i = position[sid]
            clip = read_clip(f, sid)
            rows.append(anim.build_panels(sid, clip.frames, clip.occlusion, clip.frame_numbers,
                                          int(samples["onset"][i]), int(samples["offset"][i]),
                                          side=side, max_frames=max_frames))
    return rows


def panels_from_processed(processed: Any, side: int = anim.PANEL, max_frames: int = anim.MAX_FRAMES) -> anim.ClipPanels:
    """Panels of a freshly synthesized clip (occmer.pipeline.ProcessedClip): clean frames included."""
    clip = processed.clip
    return anim.build_panels(clip.sample_id, processed.frames, processed.occlusion, processed.frame_numbers,
                             clip.onset, clip.offset, processed.clean_frames, side=side, max_frames=max_frames)


def write_preview_gif(rows: Sequence[anim.ClipPanels], out: str | Path) -> Path:
    """Rows stacked into one looping GIF at `out`."""
    return anim.save_gif(anim.gif_bytes(anim.strip_frames(rows)), out)
