"""`occmer verify`: completeness and shape consistency of every clip, each problem named."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from occmer.errors import StoreError
from occmer.store import schema
from occmer.store.imported import feature_file_problems, is_feature_file
from occmer.store.reader import check_header, decode


def verify_store(path: str | Path, read_data: bool = True) -> list[str]:
    """Every problem found in a file (empty list = valid). read_data decodes every chunk."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        return [f"{path}: not a readable HDF5 file ({exc})"]
    with f:
        problems: list[str] = []
        try:
            check_header(f, path, require_complete=True)
        except StoreError as exc:
            problems.append(str(exc))
        missing_attrs = [a for a in schema.ROOT_ATTRS if a not in f.attrs]
        if missing_attrs:
            problems.append(f"{path}: root attributes missing: {', '.join(missing_attrs)}")
        if is_feature_file(f):
            return problems + feature_file_problems(f, path)
        if schema.SAMPLES not in f or schema.CLIPS not in f:
            problems.append(f"{path}: /{schema.SAMPLES} or /{schema.CLIPS} missing")
            return problems
        problems += _check_samples(f)
        if problems:
            return problems
        ids = decode(f[schema.SAMPLES]["sample_id"][()])
        samples = f[schema.SAMPLES]
        n_frames = samples["n_frames"][()]
        keys = {col: samples[col][()] for col in ("onset", "apex", "offset")}
        for i, sid in enumerate(ids):
            problems += _check_clip(f, sid, int(n_frames[i]), read_data)
            problems += _check_key_frames(f, sid, {col: int(v[i]) for col, v in keys.items()})
        extra = sorted(set(f[schema.CLIPS]) - set(ids))
        if extra:
            problems.append(f"/{schema.CLIPS} has groups not in /samples: {', '.join(extra[:5])}")
        problems += _check_features(f, len(ids))
        return problems


def _check_samples(f: h5py.File) -> list[str]:
    samples = f[schema.SAMPLES]
    problems = [f"/samples/{c} missing" for c in schema.SAMPLE_COLUMNS if c not in samples]
    if problems:
        return problems
    lengths = {name: samples[name].shape[0] for name in samples}
    if len(set(lengths.values())) > 1:
        problems.append(f"/samples columns differ in length: {lengths}")
        return problems
    ids = decode(samples["sample_id"][()])
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        problems.append(f"duplicate sample_id values: {', '.join(dup[:5])}")
    bad = [s for s in ids if "/" in s or not s or not s.isascii()]
    if bad:
        problems.append(f"invalid sample_id values (empty, non-ASCII or containing '/'): {bad[:5]}")
    ratio = samples["occlusion_ratio"][()]
    if np.any(~np.isfinite(ratio)) or np.any(ratio < 0) or np.any(ratio > 1):
        problems.append("occlusion_ratio outside [0, 1]")
    return problems


def _check_clip(f: h5py.File, sid: str, n_frames: int, read_data: bool) -> list[str]:
    where = f"clip {sid}"
    if sid not in f[schema.CLIPS]:
        return [f"{where}: group /{schema.CLIPS}/{sid} missing"]
    group = f[schema.CLIPS][sid]
    missing = [d for d in schema.CLIP_DATASETS if d not in group]
    if missing:
        return [f"{where}: datasets missing: {', '.join(missing)}"]
    frames, occ, lm, nums = (group[d] for d in schema.CLIP_DATASETS)
    problems = []
    if frames.ndim != 4 or frames.shape[3] not in (1, 3) or frames.dtype != np.uint8:
        problems.append(f"{where}: frames must be uint8 (T,H,W,C) with C 1 or 3, got {frames.dtype} {frames.shape}")
        return problems
    t, h, w, _ = frames.shape
    if t != n_frames:
        problems.append(f"{where}: {t} frames stored but /samples/n_frames says {n_frames}")
    if occ.shape != (t, h, w) or occ.dtype != np.uint8:
        problems.append(f"{where}: occlusion shape {occ.shape} {occ.dtype}, expected uint8 {(t, h, w)}")
    if lm.ndim != 3 or lm.shape[0] != t or lm.shape[2] != 2:
        problems.append(f"{where}: landmarks shape {lm.shape}, expected ({t}, K, 2)")
    if nums.shape != (t,):
        problems.append(f"{where}: frame_numbers shape {nums.shape}, expected ({t},)")
    elif t > 1 and np.any(np.diff(nums[()]) <= 0):
        problems.append(f"{where}: frame_numbers not strictly increasing")
    if "placement" not in group.attrs:
        problems.append(f"{where}: attribute 'placement' missing")
    if read_data and not problems:
        try:
            for k in range(t):
                frames[k]
                occ[k]
            lm[()]
        except (OSError, RuntimeError) as exc:
            problems.append(f"{where}: data cannot be read ({exc})")
    return problems


def _check_key_frames(f: h5py.File, sid: str, keys: dict[str, int]) -> list[str]:
    group = f[schema.CLIPS].get(sid)
    if group is None or "frame_numbers" not in group:
        return []
    stored = set(group["frame_numbers"][()].tolist())
    return [
        f"clip {sid}: {col} frame {number} is not among the stored frame_numbers"
        for col, number in keys.items()
        if number not in stored
    ]


def _check_features(f: h5py.File, n: int) -> list[str]:
    if schema.FEATURES not in f:
        return []
    problems = []
    for name, group in f[schema.FEATURES].items():
        if name.startswith("."):
            problems.append(f"/features/{name}: leftover of an interrupted write; rerun `occmer features` on the file")
            continue
        if not bool(group.attrs.get("complete", False)):
            problems.append(f"/features/{name}: not marked complete; recompute it with `occmer features --overwrite`")
        if "data" not in group:
            problems.append(f"/features/{name}: dataset 'data' missing")
            continue
        if group["data"].shape[0] != n:
            problems.append(f"/features/{name}/data has {group['data'].shape[0]} rows, /samples has {n}")
        if "occlusion" in group and group["occlusion"].shape[0] != n:
            problems.append(f"/features/{name}/occlusion has {group['occlusion'].shape[0]} rows, /samples has {n}")
    return problems
