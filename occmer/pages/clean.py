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
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from occmer.errors import ConfigError, OccmerError


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
    fields = SynthesisSettings.__dataclass_fields__
    values = {k: v for k, v in recorded.items() if k in fields}
    for key, value in values.items():
        spec = fields[key]
        expected = type(spec.default_factory() if spec.default_factory is not MISSING else spec.default)
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise OccmerError(f"the file's settings.{key} is {value!r}, not a {expected.__name__}: "
                              "the file was altered or written by another program")
    return SynthesisSettings(**values)


@dataclass(frozen=True)
class UserPaths:
    """Paths the user gave `inspect` again: a file never names a path occmer opens on its own word."""

    templates: tuple[Path, ...] = ()
    landmarks_dir: Path | None = None


def _custom_specs(settings) -> list[str]:
    """Every `custom:PATH` a synthesis names (--mask and any option value listing masks)."""
    texts = [settings.mask] + [v for v in settings.mask_options.values() if isinstance(v, str)]
    return [item.strip() for text in texts for item in text.split(",") if item.strip().startswith("custom:")]


def _given_template(stored: str, given: Sequence[Path]) -> Path:
    name = Path(stored).name
    matches = [p for p in given if p.name == name] or (list(given) if len(given) == 1 else [])
    if not matches:
        raise ConfigError(f"the file was synthesized with the template {name!r}; occmer does not open a path "
                          f"stored in a file: pass the template again with --template PATH/{name} "
                          "(or --no-clean to leave the clean frames out)")
    return matches[0]


def with_user_paths(settings, paths: UserPaths):
    """`settings` with every path it names replaced by the one the user passed on the command line
    (a ConfigError saying which option to pass when one is missing)."""
    mapping = {spec: f"custom:{_given_template(spec.split(':', 1)[1], paths.templates)}"
               for spec in _custom_specs(settings)}

    def swap(text: str) -> str:
        return ",".join(mapping.get(item.strip(), item) for item in text.split(","))

    options = {k: swap(v) if isinstance(v, str) else v for k, v in settings.mask_options.items()}
    landmark_options = dict(settings.landmark_options)
    if settings.landmarks == "file" or "folder" in landmark_options:
        if paths.landmarks_dir is None:
            raise ConfigError("the file was synthesized with landmarks read from a folder; occmer does not open a "
                              "path stored in a file: pass that folder again with --landmarks-dir DIR "
                              "(or --no-clean to leave the clean frames out)")
        landmark_options["folder"] = str(paths.landmarks_dir.expanduser().resolve())
    return replace(settings, mask=swap(settings.mask), mask_options=options, landmark_options=landmark_options)


def recover_clean_frames(attrs: Mapping[str, Any], stored: Mapping[str, np.ndarray], roots: Sequence[str] = (),
                         progress: bool = False, paths: UserPaths = UserPaths()) -> CleanFrames:
    """Clean frames of the clips in `stored` (sample id -> stored occluded frames), verified.

    Paths the file's settings name (a custom template, a landmark folder) are never opened:
    `paths` gives them again, from the command line, or a ConfigError says which option to pass.
    """
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.demo import demo_fallback_roots
    from occmer.pipeline import ClipProcessor

    result = CleanFrames()
    try:
        settings = _settings(attrs)
    except (OccmerError, TypeError, ValueError) as exc:
        result.missing = {sid: f"source database not available ({exc})".replace("\n", " ") for sid in stored}
        return result
    settings = with_user_paths(settings, paths)
    try:
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
