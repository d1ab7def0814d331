"""Writing occmer files without frames (contents="features"), as `occmer import` makes them.

Such a file has the root attributes and /samples table of v1, the root attribute
`contents = "features"`, no /clips group and one complete /features/<name> set; `n_frames`
is 0. It is written to `OUT.partial` with complete=False and renamed to OUT as the last step,
like a synthesized file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer import __version__
from occmer.errors import StoreError
from occmer.store import schema
from occmer.store.checks import FEATURES_ONLY
from occmer.store.occluded import FaceLayers, write_face_group
from occmer.store.writer import (
    SplitMaker,
    _string_dataset,
    partial_path,
    to_json,
    write_root_attrs,
    write_splits_of,
)


@dataclass
class ImportedFeatures:
    """One feature set for every row of /samples: data float32 (N, C, S, S), channels named."""

    name: str
    data: np.ndarray
    channels: list[str]
    attrs: dict[str, Any]
    occlusion: np.ndarray | None = None  # float32 (N, S, S) grid alpha in [0, 1]; None = all 0 (an import)


def write_feature_file(
    out: Path, rows: Sequence[Mapping[str, Any]], features: ImportedFeatures, attrs: Mapping[str, Any],
    overwrite: bool = False, splits: SplitMaker | None = None, faces: FaceLayers | None = None,
) -> Path:
    """Write /samples (one row per sample, schema.SAMPLE_COLUMNS), /features/<name> and, with `splits`
    (occmer.protocols.splits.compute_splits), /splits to OUT atomically. `faces` (`occmer occlude`):
    the occluder in face space per sample, written to /faces (occmer.store.occluded)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; pass --overwrite to replace it or choose another --out")
    data = np.ascontiguousarray(features.data, dtype=np.float32)
    if data.ndim != 4 or data.shape[2] != data.shape[3] or data.shape[0] != len(rows):
        raise StoreError(f"feature array of shape {data.shape} does not fit {len(rows)} samples as (N, C, S, S)")
    if data.shape[1] != len(features.channels):
        raise StoreError(f"{data.shape[1]} channels in the array but {len(features.channels)} names "
                         f"({', '.join(features.channels)})")
    ids = [str(r["sample_id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise StoreError("duplicate sample ids; every sample must be imported once")
    n, c, s, _ = data.shape
    partial = partial_path(out)
    with h5py.File(partial, "w") as f:
        write_root_attrs(f, {**attrs, "contents": FEATURES_ONLY})
        samples = f.create_group(schema.SAMPLES)
        for name in schema.STRING_COLUMNS:
            _string_dataset(samples, name, [str(r.get(name, "")) for r in rows])
        for name in schema.INT_COLUMNS:
            samples.create_dataset(name, data=np.array([int(r.get(name, 0)) for r in rows], dtype=np.int32))
        for name in schema.FLOAT_COLUMNS:
            samples.create_dataset(name, data=np.array([float(r.get(name, 0.0)) for r in rows], dtype=np.float32))
        group = f.create_group(schema.FEATURES).create_group(features.name)
        group.create_dataset("data", data=data, chunks=(1, c, s, s))
        occlusion = np.zeros((n, s, s), np.float32) if features.occlusion is None else features.occlusion
        group.create_dataset("occlusion", data=np.asarray(occlusion, np.float32), chunks=(1, s, s))
        group.create_dataset("scale", data=np.ones((n, c), np.float32))
        _string_dataset(group, "sample_id", ids)
        for key, value in features.attrs.items():
            group.attrs[key] = value if isinstance(value, (str, int, float, bool, np.generic)) else to_json(value)
        group.attrs["channels"] = json.dumps(list(features.channels))
        group.attrs["size"] = int(s)
        group.attrs["occmer_version"] = __version__
        group.attrs["complete"] = True
        write_splits_of(f, list(rows), splits)
        if faces is not None:
            write_face_group(f, faces)
        f.attrs["complete"] = True
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, out)
    return out

