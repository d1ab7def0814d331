"""`occmer inspect`: a human summary of an occmer file (provenance, counts, sizes, occlusion).

Clip files and long-video files (contents="long-videos") each get their own summary; both read
attributes and small arrays only, never frames.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from occmer.errors import StoreError
from occmer.progress import size_text
from occmer.store import schema
from occmer.store.long_video import LongVideoFile
from occmer.store.opening import file_contents
from occmer.store.reader import OccmerFile


def _counts(title: str, values: list[str]) -> list[str]:
    counts = Counter(v if v else "(none)" for v in values)
    body = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    return [f"{title}: {body}"]


def occluder_text(occluder: Any) -> str:
    """An occluder attribute as a user writes it on the command line (`glasses --frame-color 30`)."""
    if isinstance(occluder, dict):
        options = " ".join(f"--{str(k).replace('_', '-')} {v}" for k, v in (occluder.get("options") or {}).items())
        return f"{occluder.get('spec', occluder.get('name', '?'))} {options}".strip()
    return str(occluder)


def summarize(path: str | Path) -> str:
    """The text `occmer inspect` prints (a long-video file's own summary when it holds long videos)."""
    return (summarize_long if file_contents(Path(path)) == schema.LONG_VIDEOS else summarize_clips)(path)


def summarize_clips(path: str | Path) -> str:
    """The summary of a clip (or features-only) file."""
    path = Path(path)
    with OccmerFile.open(path, require_complete=False) as f:
        attrs = f.attrs()
        samples = f.columns()
        ids = list(samples["sample_id"])
        shapes: Counter[str] = Counter()
        channels: Counter[str] = Counter()
        if f.has_frames:
            for sid in ids:
                h, w, c = f.frame_size(sid)
                shapes[f"{h}x{w}"] += 1
                channels["gray" if c == 1 else "RGB"] += 1
        features = f.feature_names()
        feature_lines = []
        for name in features:
            info = f.feature_info(name)
            shape = " x ".join(str(n) for n in info.shape)
            feature_lines.append(f"  {name}: {shape}, channels {', '.join(info.channels)}")
    lines = _provenance(path, attrs)
    subjects = list(samples["subject"])
    n_frames = np.asarray(samples["n_frames"])
    lines.append(
        f"clips: {len(ids)}  subjects: {len(set(subjects))}  frames: {int(n_frames.sum())} "
        f"(per clip min {int(n_frames.min()) if len(ids) else 0}, max {int(n_frames.max()) if len(ids) else 0})"
    )
    if shapes:
        lines.append("frame size: " + ", ".join(f"{k} ({n} clips)" for k, n in sorted(shapes.items())))
        lines.append("colour: " + ", ".join(f"{k} ({n} clips)" for k, n in sorted(channels.items())))
    else:
        lines.append(f"contents: features only (imported from {attrs.get('imported_from', '?')}; no frames)")
    lines += _counts("emotion", list(samples["emotion"]))
    lines += _counts("objective class", list(samples["objective_class"]))
    lines += _counts("MEGC 2019 composite", list(samples["composite"]))
    lines += _counts("apex source", list(samples["apex_source"]))
    per_subject = Counter(subjects)
    lines.append("clips per subject: " + ", ".join(f"{k} {n}" for k, n in sorted(per_subject.items())))
    ratio = np.asarray(samples["occlusion_ratio"], dtype=float)
    if len(ratio):
        q = np.percentile(ratio, [0, 25, 50, 75, 100])
        lines.append(
            "occlusion ratio: min {:.3f}  q1 {:.3f}  median {:.3f}  q3 {:.3f}  max {:.3f}  mean {:.3f}".format(
                *q, ratio.mean()
            )
        )
    for key in ("skipped", "invalid"):
        entries = attrs.get(key) or []
        if entries:
            lines.append(f"{key}: {len(entries)} clips")
            lines += [f"  {e.get('sample_id')}: {e.get('reason')}" for e in entries if isinstance(e, dict)]
    lines.append("features: " + ("none" if not features else ""))
    lines += feature_lines
    lines += _split_lines(path)
    return "\n".join(lines)


def _split_lines(path: Path) -> list[str]:
    """One line per stored protocol split (/splits), or how to add them."""
    with OccmerFile.open(path, require_complete=False) as f:
        names = f.split_names()
        if not names:
            return [f"splits: none (add them with `occmer splits {path}`)"]
        lines = ["splits:"]
        for name in names:
            split = f.split(name)
            lines.append(f"  {name}: {len(split.members)} samples, {len(split.fold_names)} folds, labels "
                         f"{split.label_scheme}, membership {'official list' if split.official else 'rules'}")
    return lines


def _provenance(path: Path, attrs: dict[str, Any]) -> list[str]:
    return [
        f"file: {path} ({size_text(path.stat().st_size)})",
        f"complete: {attrs.get('complete')}  format: {attrs.get('format')} v{attrs.get('schema_version')}  "
        f"written by occmer {attrs.get('occmer_version')} at {attrs.get('created_utc')}",
        f"database: {attrs.get('database')}  seed: {attrs.get('seed')}",
        f"occluder: {occluder_text(attrs.get('occluder'))}",
        f"command: {attrs.get('command')}",
    ]


def _settings_text(settings: Any) -> str:
    """The synthesis settings on one line, key=value (nested ones as JSON), the options' order kept."""
    if not isinstance(settings, dict) or not settings:
        return "(none recorded)"
    return "  ".join(f"{k}={v if not isinstance(v, dict | list) else json.dumps(v, separators=(',', ':'))}"
                     for k, v in settings.items())


def _track_text(summary: dict[str, Any]) -> str:
    """The face track record's counts in the schema's order (tracked, placed, lost, ...)."""
    names = [name for name in schema.TRACK_STATES.values() if name in summary]
    return ", ".join(f"{name} {summary[name]}" for name in names) or "(no record)"


def summarize_long(path: str | Path) -> str:
    """The text `occmer inspect` prints for a long-video file: provenance, each video, totals.

    Attributes, the intervals tables and dataset storage sizes only: a file of hours of video
    is summarised without decoding a frame. A video that cannot be read is named with why.
    """
    path = Path(path)
    lines: list[str] = []
    totals: Counter[str] = Counter()
    subjects: set[str] = set()
    with LongVideoFile.open(path, require_complete=False) as f:
        attrs = f.attrs()
        lines += _provenance(path, attrs)
        lines.append(f"settings: {_settings_text(attrs.get('settings'))}")
        lines.append(f"contents: long videos ({len(f.video_ids)})")
        for video_id in f.video_ids:
            try:
                meta = f.info(video_id)
                kinds = Counter(i.kind for i in f.intervals(video_id))
                stored = f.stored_bytes(video_id)
            except StoreError as exc:
                lines.append(f"  {video_id}: cannot be read: {exc}")
                totals["unreadable"] += 1
                continue
            seconds = meta.n_frames / meta.fps
            reasons = Counter(str(p.get("reason", "?")) for p in meta.placements if isinstance(p, dict))
            lines += [
                f"  {video_id}: subject {meta.subject}, {meta.n_frames} frames at {meta.fps:g} fps ({seconds:.1f} s), "
                f"{meta.height}x{meta.width} {'gray' if meta.channels == 1 else 'RGB'}, {size_text(stored)} stored, "
                f"complete {meta.complete}",
                f"    intervals: micro {kinds['micro']}, macro {kinds['macro']}",
                f"    face track: {_track_text(meta.track_summary)}; placements {len(meta.placements)}"
                + (f" ({', '.join(f'{r} {n}' for r, n in sorted(reasons.items()))})" if reasons else ""),
            ]
            subjects.add(meta.subject)
            totals.update({"videos": 1, "frames": meta.n_frames, "micro": kinds["micro"], "macro": kinds["macro"],
                           "placements": len(meta.placements), "incomplete": int(not meta.complete)})
            totals["seconds"] += seconds
            totals.update({f"track {k}": int(v) for k, v in meta.track_summary.items() if isinstance(v, int)})
    lines.append(
        f"total: {totals['videos']} videos, {len(subjects)} subjects, {totals['frames']} frames "
        f"({totals['seconds']:.1f} s = {totals['seconds'] / 60:.1f} min), intervals micro {totals['micro']} macro {totals['macro']}, "
        f"placements {totals['placements']}, frames lost {totals['track lost']}, re-acquired {totals['track reacquired']}"
    )
    incomplete = totals["incomplete"] + totals["unreadable"]
    lines.append("every video complete" if not incomplete else
                 f"{incomplete} videos incomplete or unreadable: `occmer verify {path}` names every problem")
    return "\n".join(lines)
