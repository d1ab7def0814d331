"""`occmer inspect`: a human summary of an occmer file (provenance, counts, sizes, occlusion)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from occmer.progress import size_text
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
    """The text `occmer inspect` prints."""
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
    lines = [
        f"file: {path} ({size_text(path.stat().st_size)})",
        f"complete: {attrs.get('complete')}  format: {attrs.get('format')} v{attrs.get('schema_version')}  "
        f"written by occmer {attrs.get('occmer_version')} at {attrs.get('created_utc')}",
        f"database: {attrs.get('database')}  seed: {attrs.get('seed')}",
        f"occluder: {occluder_text(attrs.get('occluder'))}",
        f"command: {attrs.get('command')}",
    ]
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
