"""/features/<name>/ in occmer files: compute over clips (optionally in worker processes),
then write each group under a temporary name and rename it, so no reader ever sees half a group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np

from occmer import __version__
from occmer.errors import ConfigError, FeatureError, StoreError
from occmer.features.clip import (
    DIFF_DOC,
    OCCLUSION_DOC,
    RESIZE_DOC,
    ClipFeatures,
    clip_features,
    key_frame_index,
)
from occmer.features.flow import GRAYSCALE, compute_flow
from occmer.features.spec import NORMALISATION_DOC, FlowSpec
from occmer.features.strain import STRAIN_DEFINITION
from occmer.progress import progress_bar
from occmer.store import schema
from occmer.store.reader import check_header, decode, open_store

TMP_PREFIX = ".partial-"
JSON_ATTRS = ("channels", "params", "spec")


@dataclass
class FeatureSet:
    """One feature set read back: rows follow /samples order.

    data: float32 (N, C, S, S); occlusion: float32 (N, S, S) in [0, 1]; scale: float32 (N, C)
    the per-sample divisors of the normalisation (all 1 when none).
    """

    data: np.ndarray
    occlusion: np.ndarray
    channels: list[str]
    attrs: dict[str, Any]
    sample_ids: list[str]
    scale: np.ndarray


@dataclass(frozen=True)
class SampleKeys:
    """What a worker needs to find one clip's onset and apex frames."""

    index: int
    sample_id: str
    onset: int
    apex: int


# ---------------------------------------------------------------- reading


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
    return value


def group_attrs(group: h5py.Group) -> dict[str, Any]:
    """A feature group's attributes with the JSON-valued ones parsed."""
    attrs = {key: _attr(value) for key, value in group.attrs.items()}
    for key in JSON_ATTRS:
        if isinstance(attrs.get(key), str):
            attrs[key] = json.loads(attrs[key])
    return attrs


def _complete_groups(f: h5py.File) -> dict[str, h5py.Group]:
    root = f.get(schema.FEATURES)
    if root is None:
        return {}
    return {
        name: group for name, group in root.items()
        if not name.startswith(".") and isinstance(group, h5py.Group) and bool(group.attrs.get("complete", False))
    }


def feature_names(path: str | Path) -> list[str]:
    """Names of the complete feature sets in a file, sorted."""
    with open_store(path) as f:
        return sorted(_complete_groups(f))


@dataclass(frozen=True)
class FeatureInfo:
    """What a feature set holds, without its arrays."""

    name: str
    shape: tuple[int, ...]
    channels: list[str]
    attrs: dict[str, Any]


def describe_features(path: str | Path) -> list[FeatureInfo]:
    """Shape, channels and attributes of every complete feature set, sorted by name (no data read)."""
    with open_store(path) as f:
        groups = _complete_groups(f)
        infos = []
        for name in sorted(groups):
            attrs = group_attrs(groups[name])
            infos.append(FeatureInfo(name, tuple(groups[name]["data"].shape), list(attrs["channels"]), attrs))
        return infos


def read_features(path: str | Path, name: str) -> FeatureSet:
    """The feature set `name`, checked against the file's /samples order."""
    with open_store(path) as f:
        groups = _complete_groups(f)
        if name not in groups:
            available = ", ".join(sorted(groups)) or "none"
            raise FeatureError(
                f"{path}: no feature set {name!r} (available: {available}); compute it with "
                f"`occmer features {path} --flow tvl1 --size 28` (names are flow_<method>_<size>)"
            )
        group = groups[name]
        table_ids = decode(f[schema.SAMPLES]["sample_id"][()])
        stored_ids = decode(group["sample_id"][()]) if "sample_id" in group else table_ids
        if stored_ids != table_ids:
            raise FeatureError(
                f"{path}: /features/{name} rows do not follow /samples (the file changed after the features "
                f"were computed); recompute with `occmer features {path} --overwrite ...`"
            )
        attrs = group_attrs(group)
        data = group["data"][()]
        scale = group["scale"][()] if "scale" in group else np.ones(data.shape[:2], np.float32)
        return FeatureSet(
            data=data, occlusion=group["occlusion"][()], channels=list(attrs["channels"]),
            attrs=attrs, sample_ids=stored_ids, scale=scale,
        )


def read_sample_keys(path: str | Path) -> list[SampleKeys]:
    """(index, sample id, onset, apex) for every row of /samples."""
    with open_store(path) as f:
        samples = f[schema.SAMPLES]
        ids = decode(samples["sample_id"][()])
        onset, apex = samples["onset"][()], samples["apex"][()]
    return [SampleKeys(i, sid, int(onset[i]), int(apex[i])) for i, sid in enumerate(ids)]


def sample_features(f: h5py.File, keys: SampleKeys, specs: Sequence[FlowSpec]) -> list[ClipFeatures]:
    """Features of one clip for every spec; specs with the same flow settings share one flow."""
    try:
        group = f[schema.CLIPS][keys.sample_id]
    except KeyError:
        raise FeatureError(
            f"{f.filename}: sample {keys.sample_id} has no /{schema.CLIPS} group; run `occmer verify {f.filename}`"
        ) from None
    numbers = group["frame_numbers"][()]
    i_onset = key_frame_index(numbers, keys.onset, "onset", keys.sample_id, f.filename)
    i_apex = key_frame_index(numbers, keys.apex, "apex", keys.sample_id, f.filename)
    onset, apex = group["frames"][i_onset], group["frames"][i_apex]
    occlusion = np.stack([group["occlusion"][i_onset], group["occlusion"][i_apex]])
    flows: dict[str, np.ndarray] = {}
    out = []
    for spec in specs:
        key = spec.flow_key()
        if key not in flows:
            flows[key] = compute_flow(onset, apex, spec.method, **spec.settings())
        out.append(clip_features(onset, apex, spec, occlusion, flows[key]))
    return out


# ---------------------------------------------------------------- planning


def _identity_of(group: h5py.Group) -> dict[str, Any] | None:
    spec = group.attrs.get("spec")
    return json.loads(_attr(spec)) if spec is not None else None


def plan(path: str | Path, specs: Sequence[FlowSpec], overwrite: bool) -> list[FlowSpec]:
    """The specs that need computing: new names, or all named ones when overwriting.

    A name already present with the same settings and rows is up to date and skipped;
    with other settings it is an error unless `overwrite`.
    """
    names = [s.feature_name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"two feature sets would both be called {', '.join(repeated)}; give them distinct names")
    with open_store(path) as f:
        groups = _complete_groups(f)
        table_ids = decode(f[schema.SAMPLES]["sample_id"][()])
        todo = []
        for spec in specs:
            group = groups.get(spec.feature_name)
            if group is None or overwrite:
                todo.append(spec)
                continue
            same_rows = "sample_id" in group and decode(group["sample_id"][()]) == table_ids
            stored = _identity_of(group)
            current = json.loads(json.dumps(spec.identity()))
            if stored == current and same_rows:
                continue
            differ = sorted(k for k in current if (stored or {}).get(k) != current[k]) or ["rows"]
            raise FeatureError(
                f"{path}: /features/{spec.feature_name} already exists with other settings "
                f"(differs in: {', '.join(differ)}); pass --overwrite to replace it"
            )
    return todo


# ---------------------------------------------------------------- computing

_WORKER_FILE: h5py.File | None = None


def _init_worker(path: str) -> None:
    global _WORKER_FILE
    cv2.setNumThreads(1)
    _WORKER_FILE = h5py.File(path, "r")


def _worker_task(job: tuple[SampleKeys, tuple[FlowSpec, ...]]) -> list[ClipFeatures]:
    keys, specs = job
    assert _WORKER_FILE is not None, "worker started without _init_worker"
    return sample_features(_WORKER_FILE, keys, specs)


@contextmanager
def _single_threaded_cv2() -> Iterator[None]:
    """One OpenCV thread, so `workers` alone sets the parallelism (and timings compare)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def compute_all(
    path: str | Path, specs: Sequence[FlowSpec], samples: Sequence[SampleKeys], workers: int, progress: bool
) -> Iterator[list[ClipFeatures]]:
    """Per sample, in order: the ClipFeatures of every spec."""
    specs = tuple(specs)
    bar = progress_bar(len(samples), "features", "clip", enabled=progress)
    with bar:
        if workers <= 1:
            with _single_threaded_cv2(), h5py.File(path, "r") as f:
                for keys in samples:
                    yield sample_features(f, keys, specs)
                    bar.update(1)
            return
        context = get_context("spawn")  # no inherited HDF5 or OpenCV state
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(str(path),))
        try:
            for result in pool.map(_worker_task, [(keys, specs) for keys in samples]):
                yield result
                bar.update(1)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # stop at the first error, not after every clip
            raise
        pool.shutdown(wait=True)


# ---------------------------------------------------------------- writing


def _attributes(spec: FlowSpec, grid: str) -> dict[str, Any]:
    s = int(spec.size)
    return {
        "method": spec.method,
        "size": s,
        "channels": json.dumps(spec.channels),
        "params": json.dumps(spec.settings(), sort_keys=True),
        "normalisation": spec.normalise,
        "normalisation_doc": NORMALISATION_DOC[spec.normalise],
        "diff": bool(spec.diff),
        "occmer_version": __version__,
        "frame_pair": "onset -> apex (frames whose frame_numbers equal /samples/onset and /samples/apex)",
        "grayscale": GRAYSCALE,
        "flow_grid": f"{grid} (flow computed at the stored resolution, then resized)",
        "flow_units": f"pixels of the {s}x{s} grid (u to the right, v downward)",
        "resize": RESIZE_DOC,
        "strain": STRAIN_DEFINITION,
        "diff_definition": DIFF_DOC,
        "occlusion": OCCLUSION_DOC,
        "spec": json.dumps(spec.identity(), sort_keys=True),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


@dataclass
class _Arrays:
    data: np.ndarray
    occlusion: np.ndarray
    scale: np.ndarray


def _collect(
    path: Path, specs: Sequence[FlowSpec], samples: Sequence[SampleKeys], workers: int, progress: bool
) -> dict[str, _Arrays]:
    """Every spec's (N, C, S, S) arrays, filled in /samples order."""
    n = len(samples)
    arrays = {
        s.feature_name: _Arrays(
            np.zeros((n, len(s.channels), s.size, s.size), np.float32),
            np.zeros((n, s.size, s.size), np.float32),
            np.ones((n, len(s.channels)), np.float32),
        )
        for s in specs
    }
    for keys, results in zip(samples, compute_all(path, specs, samples, workers, progress), strict=True):
        for spec, result in zip(specs, results, strict=True):
            target = arrays[spec.feature_name]
            target.data[keys.index] = result.data
            target.occlusion[keys.index] = result.occlusion
            target.scale[keys.index] = result.scale
    return arrays


def _open_for_writing(path: Path) -> h5py.File:
    try:
        f = h5py.File(path, "r+")
    except OSError as exc:
        raise StoreError(
            f"{path} cannot be opened for writing ({exc}); close every program that has it open "
            "(a reader, a training run) and rerun"
        ) from exc
    try:
        check_header(f, path, require_complete=True)
    except StoreError:
        f.close()
        raise
    return f


def _write_group(root: h5py.Group, spec: FlowSpec, arrays: _Arrays, ids: list[str], attrs: dict[str, Any]) -> None:
    """Write under a temporary name, mark complete, then rename over any old group."""
    name = spec.feature_name
    tmp = TMP_PREFIX + name
    if tmp in root:
        del root[tmp]
    group = root.create_group(tmp)
    n, c, s, _ = arrays.data.shape
    group.create_dataset("data", data=arrays.data, chunks=(1, c, s, s))
    group.create_dataset("occlusion", data=arrays.occlusion, chunks=(1, s, s))
    group.create_dataset("scale", data=arrays.scale)
    group.create_dataset("sample_id", data=np.array(ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
    for key, value in attrs.items():
        group.attrs[key] = value
    group.attrs["complete"] = True
    if name in root:
        del root[name]
    root.move(tmp, name)


def add_features(
    path: str | Path,
    specs: Sequence[FlowSpec],
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> list[str]:
    """Compute each spec for every clip and store it under /features/<name>/; names written.

    Sets already present with the same settings are left alone (not in the result); other
    settings under an existing name need `overwrite`. Nothing is written until every clip
    is done, and the file is opened for writing only then.
    """
    path = Path(path)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    todo = plan(path, specs, overwrite)
    if not todo:
        return []
    samples = read_sample_keys(path)
    if not samples:
        raise FeatureError(f"{path}: /samples is empty; there are no clips to compute features for")
    arrays = _collect(path, todo, samples, min(workers, len(samples)), progress)
    ids = [k.sample_id for k in samples]
    grid = frame_grid(path, ids)
    with _open_for_writing(path) as f:
        root = f.require_group(schema.FEATURES)
        for stale in [n for n in root if n.startswith(TMP_PREFIX)]:
            del root[stale]
        for spec in todo:
            _write_group(root, spec, arrays[spec.feature_name], ids, _attributes(spec, grid))
            f.flush()
    return [s.feature_name for s in todo]


def frame_grid(path: Path, sample_ids: Sequence[str]) -> str:
    """'HxW' of the stored frames, or the distinct sizes when clips differ (unaligned files)."""
    with open_store(path) as f:
        shapes = {tuple(f[schema.CLIPS][sid]["frames"].shape[1:3]) for sid in sample_ids}
    return ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
