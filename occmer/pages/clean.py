"""Clean frames for a gallery: re-run a file's own synthesis on its source database.

A synthesized file stores the occluded frames only. When the source database can be found
(the demo database is always there; a real one through --root or its environment
variable), each chosen clip is processed again with the settings recorded in the file.
The synthesis is deterministic, so the occluded frames it produces must equal the stored
ones bit for bit; only then are its clean frames shown. Any difference (other source
files, another occmer version) drops the clean panel for that clip with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occmer.errors import OccmerError


@dataclass
class CleanFrames:
    """Clean frames per sample id, and why the others have none."""

    frames: dict[str, np.ndarray] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def _settings(attrs: Mapping[str, Any]):
    from occmer.pipeline import SynthesisSettings

    recorded = attrs.get("settings")
    if not isinstance(recorded, dict):
        raise OccmerError("the file records no synthesis settings (written by `occmer import` or an old occmer)")
    known = set(SynthesisSettings.__dataclass_fields__)
    return SynthesisSettings(**{k: v for k, v in recorded.items() if k in known})


def recover_clean_frames(attrs: Mapping[str, Any], stored: Mapping[str, np.ndarray], roots: Sequence[str] = (),
                         progress: bool = False) -> CleanFrames:
    """Clean frames of the clips in `stored` (sample id -> stored occluded frames), verified."""
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.demo import demo_fallback_roots
    from occmer.pipeline import ClipProcessor

    result = CleanFrames()
    try:
        settings = _settings(attrs)
        fallback = demo_fallback_roots(settings.database, tuple(roots), progress)
        databases = resolve_databases(settings.database, tuple(roots), apex_policy=settings.apex,
                                      offset_policy=settings.offset, fallback_roots=fallback)
        clips = {c.sample_id: c for c in scan_all(databases).clips}
    except (OccmerError, TypeError, ValueError) as exc:
        reason = f"source database not available ({exc})".replace("\n", " ")
        result.missing = {sid: reason for sid in stored}
        return result
    processor = ClipProcessor(settings)
    try:
        for sid, frames in stored.items():
            if sid not in clips:
                result.missing[sid] = "clip not found in the source database"
                continue
            try:
                processed = processor.process(clips[sid])
            except OccmerError as exc:
                result.missing[sid] = f"re-synthesis failed ({exc})"
                continue
            if processed.frames.shape != frames.shape or not np.array_equal(processed.frames, frames):
                result.missing[sid] = ("re-synthesis differs from the stored frames (other source files or occmer "
                                       "version): clean frames not shown")
                continue
            result.frames[sid] = processed.clean_frames
    finally:
        processor.close()
    return result
