"""Reading occmer HDF5 files: open with checks, the sample table, one clip's arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer.errors import StoreError
from occmer.store import schema
from occmer.store.writer import parts_dir


def open_store(path: str | Path, require_complete: bool = True) -> h5py.File:
    """Open an occmer file read-only, refusing files that are not occmer v1 or incomplete."""
    path = Path(path)
    if not path.exists():
        hint = ""
        if parts_dir(path).exists():
            hint = f"; an interrupted run is in {parts_dir(path)}: rerun the same command with --resume"
        raise StoreError(f"file not found: {path}{hint}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path} is not a readable HDF5 file ({exc})") from exc
    try:
        check_header(f, path, require_complete)
    except StoreError:
        f.close()
        raise
    return f


def check_header(f: h5py.File, path: Path, require_complete: bool = True) -> None:
    """Raise StoreError unless the root attributes say occmer v1 (and complete)."""
    if f.attrs.get("format") != schema.FORMAT_NAME:
        raise StoreError(f"{path} is not an occmer file (root attribute format={f.attrs.get('format')!r})")
    version = int(f.attrs.get("schema_version", -1))
    if version != schema.SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema_version {version}; this occmer reads version {schema.SCHEMA_VERSION}"
        )
    if require_complete and not bool(f.attrs.get("complete", False)):
        raise StoreError(f"{path} is incomplete (complete=False): the run that wrote it did not finish")


def decode(values: np.ndarray) -> list[str]:
    """h5py string datasets come back as bytes or str depending on version: always str."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def read_samples(f: h5py.File) -> dict[str, np.ndarray | list[str]]:
    """All /samples columns (known and extra), strings decoded."""
    group = f[schema.SAMPLES]
    out: dict[str, np.ndarray | list[str]] = {}
    for name, dataset in group.items():
        values = dataset[()]
        out[name] = decode(values) if dataset.dtype.kind in "OS" else values
    return out


def root_attrs(f: h5py.File) -> dict[str, Any]:
    """Root attributes with JSON-valued ones (occluder, skipped, invalid) parsed."""
    attrs: dict[str, Any] = {}
    for key, value in f.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, np.generic):
            value = value.item()
        if key in ("occluder", "skipped", "invalid", "settings") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        attrs[key] = value
    return attrs


@dataclass
class ClipArrays:
    """One clip read back from a file."""

    sample_id: str
    frames: np.ndarray
    occlusion: np.ndarray
    landmarks: np.ndarray
    frame_numbers: np.ndarray
    placement: dict[str, Any]


def read_clip(f: h5py.File, sample_id: str) -> ClipArrays:
    """The arrays and placement of one clip."""
    try:
        group = f[schema.CLIPS][sample_id]
    except KeyError as exc:
        raise StoreError(f"{f.filename}: no clip {sample_id!r} under /{schema.CLIPS}") from exc
    placement = group.attrs.get("placement", "{}")
    return ClipArrays(
        sample_id=sample_id,
        frames=group["frames"][()],
        occlusion=group["occlusion"][()],
        landmarks=group["landmarks"][()],
        frame_numbers=group["frame_numbers"][()],
        placement=json.loads(placement),
    )
