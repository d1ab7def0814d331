"""Tiny occmer files for the bench tests (no tests here): written with h5py per docs/architecture.md.

Features carry a class-dependent motion blob plus noise, so a small model can learn them;
the occluded variant zeroes the lower half of the grid, like a mask over the mouth.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

CLASSES = ("happiness", "surprise", "disgust")
SIZE = 28
FRAME = 64


def _blob(cls: int, rng: np.random.Generator) -> np.ndarray:
    """(3, S, S) u, v, strain with a blob whose position depends on the class."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cy, cx = [(20, 14), (6, 8), (14, 20)][cls]
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
    data = np.stack([blob, -blob, 0.5 * blob]) + 0.2 * rng.standard_normal((3, SIZE, SIZE))
    return data.astype(np.float32)


def write_tiny(path: Path, *, occluded: bool = False, subjects: int = 4, clips_per_class: int = 1,
               database: str = "demo", seed: int = 0, prefix: str = "") -> Path:
    """A complete v1 file: subjects x classes x clips_per_class clips with flow_tvl1_28 features."""
    rng = np.random.default_rng(seed)
    rows, data, occlusion = [], [], []
    for s in range(subjects):
        for c, emotion in enumerate(CLASSES):
            for k in range(clips_per_class):
                sid = f"{prefix}{database}_s{s}_c{c}_{k}"
                rows.append({"sample_id": sid, "database": database, "subject": f"{database}/s{s:02d}",
                             "filename": sid, "emotion": emotion, "objective_class": ["I", "II", "IV"][c],
                             "composite": ["positive", "surprise", "negative"][c]})
                mask = np.zeros((SIZE, SIZE), np.float32)
                if occluded:
                    mask[SIZE // 2:] = 1.0
                sample = _blob(c, rng) * (1 - mask)
                data.append(sample)
                occlusion.append(mask)
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "occmer", "schema_version": 1, "occmer_version": "0.1.0", "database": database,
                        "occluder": json.dumps({"spec": "surgical" if occluded else "none", "options": {}}),
                        "seed": seed, "created_utc": "2026-01-01T00:00:00+00:00", "command": "test",
                        "complete": True})
        samples = f.create_group("samples")
        text = h5py.string_dtype("utf-8")
        for column in ("sample_id", "database", "subject", "filename", "emotion", "objective_class", "composite",
                       "action_units", "apex_source"):
            samples.create_dataset(column, data=np.array([r.get(column, "") for r in rows], dtype=object), dtype=text)
        n = len(rows)
        for column, value in (("onset", 1), ("apex", 3), ("offset", 5), ("n_frames", 5)):
            samples.create_dataset(column, data=np.full(n, value, np.int32))
        samples.create_dataset("occlusion_ratio", data=np.full(n, 0.3 if occluded else 0.0, np.float32))
        clips = f.create_group("clips")
        for row in rows:
            clip = clips.create_group(row["sample_id"])
            clip.create_dataset("frames", data=np.zeros((5, FRAME, FRAME, 1), np.uint8))
            clip.create_dataset("occlusion", data=np.zeros((5, FRAME, FRAME), np.uint8))
            points = rng.uniform(16, 48, size=(478, 2)).astype(np.float32)
            clip.create_dataset("landmarks", data=np.repeat(points[None], 5, axis=0))
            clip.create_dataset("frame_numbers", data=np.arange(1, 6, dtype=np.int32))
        group = f.create_group("features").create_group(f"flow_tvl1_{SIZE}")
        group.create_dataset("data", data=np.stack(data))
        group.create_dataset("occlusion", data=np.stack(occlusion))
        group.create_dataset("sample_id", data=np.array([r["sample_id"] for r in rows], dtype=object), dtype=text)
        group.attrs.update({"method": "tvl1", "size": SIZE, "channels": json.dumps(["u", "v", "strain"]),
                            "params": json.dumps({}), "normalisation": "none", "occmer_version": "0.1.0",
                            "complete": True})
    return path
