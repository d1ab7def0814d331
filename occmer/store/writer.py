"""Atomic, resumable writing of an occmer HDF5 file.

A run never writes OUT directly. Each finished clip becomes its own small shard file in
`OUT.parts/clips/` (written to a temporary name, then renamed), so a kill -9 loses at most
the clips in flight. When every clip is done the shards are assembled into `OUT.partial`
(root attribute complete=False while it is built), which is marked complete and renamed
to OUT. `--resume` reuses the shards of a run whose settings match.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer import __version__
from occmer.errors import ResumeError, StoreError
from occmer.outputs import ensure_space, is_write_failure
from occmer.store import schema

RUN_FILE = "run.json"
# Computes the /splits sets from a file's /samples columns ({column: values}); given by the caller
# (occmer.protocols.splits.compute_splits), so that the protocol logic stays out of the store.
SplitMaker = Callable[[dict[str, list[Any]]], list[Any]]
SOURCE_KEY = "source"  # run.json: what the run read (checked by the caller on --resume)
SHARD_SUFFIX = ".h5"


@dataclass
class ClipRecord:
    """Everything stored for one clip: its /samples row and its /clips/<id> arrays."""

    row: dict[str, Any]  # the /samples columns (schema.SAMPLE_COLUMNS)
    frames: np.ndarray  # uint8 (T, H, W, C)
    occlusion: np.ndarray  # uint8 (T, H, W)
    landmarks: np.ndarray  # float32 (T, K, 2)
    frame_numbers: np.ndarray  # int32 (T,)
    placement: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # documented extensions (e.g. head_motion)

    @property
    def sample_id(self) -> str:
        return str(self.row["sample_id"])


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    """Stable JSON for attributes (sorted keys, numpy values converted)."""
    return json.dumps(value, sort_keys=True, default=_json_default)


def write_shard(directory: Path, record: ClipRecord, compression: int = 1) -> Path:
    """Write one clip to `directory/<sample_id>.h5` atomically (temp file + rename)."""
    _, h, w, c = record.frames.shape
    gzip = gzip_options(compression)

    def fill(f: h5py.File) -> None:
        group = f.create_group("clip")
        group.create_dataset("frames", data=record.frames, chunks=(1, h, w, c), **gzip)
        group.create_dataset("occlusion", data=record.occlusion, chunks=(1, h, w), **gzip)
        group.create_dataset("landmarks", data=record.landmarks.astype(np.float32))
        group.create_dataset("frame_numbers", data=record.frame_numbers.astype(np.int32))
        for name, array in record.extra.items():
            group.create_dataset(name, data=array)
        for name, notes in schema.CLIP_DATASET_NOTES.items():
            if name in group:
                group[name].attrs.update(notes)
        group.attrs["placement"] = to_json(record.placement)
        group.attrs["row"] = to_json(record.row)

    return write_small_file(directory, f"{record.sample_id}{SHARD_SUFFIX}", fill)


def gzip_options(compression: int) -> dict[str, Any]:
    """h5py dataset options of a gzip level (none at level 0)."""
    return {"compression": "gzip", "compression_opts": compression} if compression else {}


def write_small_file(directory: Path, name: str, fill: Callable[[h5py.File], None]) -> Path:
    """An HDF5 file `directory/name` built by `fill` in memory, then written atomically (temp + rename).

    Built in memory, then written with plain file I/O: a full disk or a read-only folder is then
    an OSError (reported cleanly), not an HDF5 write failure that can crash the process on close.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    with h5py.File(str(tmp), "w", driver="core", backing_store=False) as f:
        fill(f)
        f.flush()
        image = f.id.get_file_image()
    try:
        with open(tmp, "wb") as handle:
            handle.write(image)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    return final


def shard_ids(directory: Path) -> set[str]:
    """Sample ids whose shard is complete (temporary files are ignored)."""
    if not directory.is_dir():
        return set()
    return {p.name[: -len(SHARD_SUFFIX)] for p in directory.iterdir() if p.suffix == SHARD_SUFFIX and not p.name.startswith(".")}


class RunDirectory:
    """The `OUT.parts` folder of one run: its settings and finished clip shards."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = parts_dir(out)
        self.clips = self.path / "clips"

    def start(
        self, settings: Mapping[str, Any], resume: bool, overwrite: bool, source: Mapping[str, Any] | None = None
    ) -> set[str]:
        """Prepare the folder; return the sample ids already finished (resume only).

        `source` (what the run reads: roots, sheet digests, clip list) is kept in run.json
        under SOURCE_KEY; the caller compares it on resume (`saved_source`).
        """
        if self.out.exists() and not overwrite:
            raise StoreError(f"{self.out} already exists; pass --overwrite to replace it or choose another --out")
        run_file = self.path / RUN_FILE
        if self.path.exists():
            if resume:
                self._check_settings(run_file, settings)
                return shard_ids(self.clips)
            if not overwrite:
                raise ResumeError(
                    f"an interrupted run exists in {self.path}; rerun with --resume to continue it, "
                    "or --overwrite to start over"
                )
            shutil.rmtree(self.path)
        elif resume:
            raise ResumeError(f"nothing to resume: {self.path} does not exist; run without --resume")
        self.clips.mkdir(parents=True, exist_ok=True)
        tmp = run_file.with_suffix(".tmp")
        record = dict(settings)
        if source is not None:
            record[SOURCE_KEY] = dict(source)
        tmp.write_text(to_json(record))
        os.replace(tmp, run_file)
        return set()

    def saved_source(self) -> dict[str, Any] | None:
        """What the interrupted run recorded it read (None when the run did not record it)."""
        try:
            return json.loads((self.path / RUN_FILE).read_text()).get(SOURCE_KEY)
        except (OSError, ValueError, AttributeError):
            return None

    def _check_settings(self, run_file: Path, settings: Mapping[str, Any]) -> None:
        try:
            saved = json.loads(run_file.read_text())
            saved.pop(SOURCE_KEY, None)
        except (OSError, ValueError, AttributeError) as exc:
            raise ResumeError(f"cannot read {run_file} ({exc}); start over with --overwrite") from exc
        current = json.loads(to_json(dict(settings)))
        differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        if differ:
            details = "; ".join(f"{k}: was {saved.get(k)!r}, now {current.get(k)!r}" for k in differ)
            raise ResumeError(
                f"cannot resume {self.path}: settings differ ({details}); rerun the original command "
                "with --resume, or pass --overwrite to start over"
            )

    def write(self, record: ClipRecord, compression: int = 1) -> Path:
        return write_shard(self.clips, record, compression)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _string_dataset(group: h5py.Group, name: str, values: Iterable[str]) -> None:
    group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=h5py.string_dtype("utf-8"))


def write_root_attrs(f: h5py.File, attrs: dict[str, Any]) -> None:
    """The root attributes of a file being written: the caller's, the format's, and complete=False
    (set to True only once the file is whole)."""
    for key, value in attrs.items():
        f.attrs[key] = value
    f.attrs["format"] = schema.FORMAT_NAME
    f.attrs["schema_version"] = schema.SCHEMA_VERSION
    f.attrs["occmer_version"] = __version__
    if "created_utc" not in f.attrs:
        f.attrs["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    f.attrs["complete"] = False


def assemble(
    out: Path,
    order: list[str],
    attrs: Mapping[str, Any],
    extra_attrs: Mapping[str, Any] | None = None,
    splits: SplitMaker | None = None,
) -> Path:
    """Build OUT from the shards of `OUT.parts`, in `order`, then rename it into place.

    Chunks are copied as they are (no recompression). OUT.partial carries complete=False
    until the last step, so a crash here leaves a file clearly marked incomplete. `splits`
    computes the /splits sets from the /samples columns (occmer.protocols.splits.compute_splits).
    """
    run = RunDirectory(out)
    partial = partial_path(out)
    missing = [sid for sid in order if not (run.clips / f"{sid}{SHARD_SUFFIX}").exists()]
    if missing:
        raise StoreError(f"cannot assemble {out}: {len(missing)} clips have no shard (first: {missing[0]})")
    shard_bytes = sum((run.clips / f"{sid}{SHARD_SUFFIX}").stat().st_size for sid in order)
    ensure_space(out.parent, shard_bytes, str(out))
    with h5py.File(partial, "w") as f:
        write_root_attrs(f, {**attrs, **(extra_attrs or {})})
        clips = f.create_group(schema.CLIPS)
        rows = []
        for sid in order:
            shard_path = run.clips / f"{sid}{SHARD_SUFFIX}"
            try:
                with h5py.File(shard_path, "r") as shard:
                    rows.append(json.loads(shard["clip"].attrs["row"]))
                    shard.copy(shard["clip"], clips, name=sid)
                    del clips[sid].attrs["row"]
            except (OSError, KeyError, ValueError) as exc:
                if isinstance(exc, OSError) and is_write_failure(exc):
                    raise
                raise StoreError(f"cannot assemble {out}: the shard {shard_path} of clip {sid} is damaged "
                                 f"({exc}); delete it and rerun with --resume (that clip is processed again)") from None
        samples = f.create_group(schema.SAMPLES)
        for name in schema.STRING_COLUMNS:
            _string_dataset(samples, name, (str(r.get(name, "")) for r in rows))
        for name in schema.INT_COLUMNS:
            samples.create_dataset(name, data=np.array([int(r[name]) for r in rows], dtype=np.int32))
        for name in schema.FLOAT_COLUMNS:
            samples.create_dataset(name, data=np.array([float(r[name]) for r in rows], dtype=np.float32))
        write_splits_of(f, rows, splits)
        f.attrs["complete"] = True
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, out)
    run.remove()
    return out


def sample_columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """/samples rows -> {column: values}, the shape `OccmerFile.columns()` and `read_index` give."""
    rows = list(rows)
    return {name: [r.get(name, "" if name in schema.STRING_COLUMNS else 0) for r in rows]
            for name in schema.SAMPLE_COLUMNS}


def write_splits_of(f: h5py.File, rows: list[Mapping[str, Any]], splits: SplitMaker | None) -> None:
    """/splits of a file being written, from its /samples rows (nothing when `splits` is None)."""
    if splits is None:
        return
    from occmer.store.splits import write_split_group

    write_split_group(f, splits(sample_columns(rows)), [str(r["sample_id"]) for r in rows])
