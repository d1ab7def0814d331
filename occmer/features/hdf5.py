"""/features/<name>/ in occmer files: compute over clips (optionally in worker processes),
then write each group under a temporary name and rename it, so no reader ever sees half a group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occmer import __version__
from occmer.errors import ConfigError, FeatureError
from occmer.features.clip import (
    DIFF_DOC,
    OCCLUSION_DOC,
    RESIZE_DOC,
    ClipFeatures,
    clip_features,
    four_map_features,
    key_frame_index,
)
from occmer.features.flow import GRAYSCALE, compute_flow
from occmer.features.spec import FOUR_MAPS_DOC, NORMALISATION_DOC, FlowSpec
from occmer.features.strain import STRAIN_DEFINITION
from occmer.outputs import ensure_space
from occmer.progress import progress_bar
from occmer.store import schema
from occmer.store.reader import FeatureInfo, FeatureSet, OccmerFile
from occmer.workers import WorkerPool, check_workers

TMP_PREFIX = schema.FEATURE_TMP_PREFIX


@dataclass(frozen=True)
class SampleKeys:
    """What a worker needs to find one clip's onset and apex frames."""

    index: int
    sample_id: str
    onset: int
    apex: int
    offset: int = -1  # read only by four-map specs (CausalNet's apex->offset flow)


# ---------------------------------------------------------------- reading (through occmer.store)


def feature_names(path: str | Path) -> list[str]:
    """Names of the complete feature sets in a file, sorted."""
    with OccmerFile.open(path) as f:
        return f.feature_names()


def describe_features(path: str | Path) -> list[FeatureInfo]:
    """Shape, channels and attributes of every complete feature set, sorted by name (no data read)."""
    with OccmerFile.open(path) as f:
        return [f.feature_info(name) for name in f.feature_names()]


def read_features(path: str | Path, name: str) -> FeatureSet:
    """The feature set `name`, checked against the file's /samples order and for finite values."""
    with OccmerFile.open(path) as f:
        return f.features(name)


def read_sample_keys(path: str | Path) -> list[SampleKeys]:
    """(index, sample id, onset, apex) for every row of /samples."""
    with OccmerFile.open(path) as f:
        return [SampleKeys(s.row, s.sample_id, s.onset, s.apex, s.offset) for s in f.samples()]


def sample_features(f: OccmerFile, keys: SampleKeys, specs: Sequence[FlowSpec]) -> list[ClipFeatures]:
    """Features of one clip for every spec; specs with the same flow settings share one flow."""
    numbers = f.frame_numbers(keys.sample_id)
    i_onset = key_frame_index(numbers, keys.onset, "onset", keys.sample_id, str(f.path))
    i_apex = key_frame_index(numbers, keys.apex, "apex", keys.sample_id, str(f.path))
    onset, apex = f.frames(keys.sample_id, [i_onset, i_apex])
    occlusion = f.occlusion(keys.sample_id, [i_onset, i_apex])
    flows: dict[str, np.ndarray] = {}
    out = []
    for spec in specs:
        key = spec.flow_key()
        if key not in flows:
            flows[key] = compute_flow(onset, apex, spec.method, **spec.settings())
        if spec.four_maps:
            out.append(_four_maps(f, keys, numbers, spec, (onset, apex), flows))
        else:
            out.append(clip_features(onset, apex, spec, occlusion, flows[key]))
    return out


def _four_maps(f: OccmerFile, keys: SampleKeys, numbers: np.ndarray, spec: FlowSpec,
               onset_apex: tuple[np.ndarray, np.ndarray], flows: dict[str, np.ndarray]) -> ClipFeatures:
    """CausalNet's four maps of one clip: the offset frame is read, the apex->offset flow computed once."""
    positions = [key_frame_index(numbers, n, role, keys.sample_id, str(f.path))
                 for n, role in ((keys.onset, "onset"), (keys.apex, "apex"), (keys.offset, "offset"))]
    offset = f.frames(keys.sample_id, positions[2:])[0]
    key = spec.flow_key()
    later = f"apex->offset {key}"
    if later not in flows:
        flows[later] = compute_flow(onset_apex[1], offset, spec.method, **spec.settings())
    return four_map_features((*onset_apex, offset), spec, f.occlusion(keys.sample_id, positions),
                             (flows[key], flows[later]))


# ---------------------------------------------------------------- planning


def plan(path: str | Path, specs: Sequence[FlowSpec], overwrite: bool) -> list[FlowSpec]:
    """The specs that need computing: new names, or all named ones when overwriting.

    A name already present with the same settings and rows is up to date and skipped;
    with other settings it is an error unless `overwrite`.
    """
    names = [s.feature_name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"two feature sets would both be called {', '.join(repeated)}; give them distinct names")
    with OccmerFile.open(path) as f:
        if not f.has_frames:
            raise FeatureError(f"{path} holds features only (contents='features'): there are no frames to compute from")
        have = set(f.feature_names())
        todo = []
        for spec in specs:
            if spec.feature_name not in have or overwrite:
                todo.append(spec)
                continue
            same_rows = f.feature_rows_match(spec.feature_name)
            stored = f.feature_info(spec.feature_name).attrs.get("spec") if same_rows else None
            current = json.loads(json.dumps(spec.identity()))
            if stored == current and same_rows:
                continue
            differ = sorted(k for k in current if (stored or {}).get(k) != current[k]) if same_rows else ["rows"]
            raise FeatureError(
                f"{path}: /features/{spec.feature_name} already exists with other settings "
                f"(differs in: {', '.join(differ or ['spec'])}); pass --overwrite to replace it"
            )
    return todo


# ---------------------------------------------------------------- computing

@contextmanager
def one_opencv_thread() -> Iterator[None]:
    """OpenCV on one thread for the block, then as before: `workers` alone sets the parallelism,
    timings compare, and DIS (whose stripes follow the thread count) gives the same flow whatever
    the worker count. OpenCV's setting is process-wide, so it is scoped to each clip, never left
    changed in the process that asked for the features."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


class FeatureWorker:
    """One worker's state: the occmer file, open for reading for all its clips."""

    def __init__(self, path: str) -> None:
        self.file = OccmerFile.open(path)

    def features(self, job: tuple[SampleKeys, tuple[FlowSpec, ...]]) -> list[ClipFeatures]:
        keys, specs = job
        with one_opencv_thread():
            return sample_features(self.file, keys, specs)

    def close(self) -> None:
        self.file.close()


def _worker_task(worker: FeatureWorker, job: tuple[SampleKeys, tuple[FlowSpec, ...]]) -> list[ClipFeatures]:
    return worker.features(job)


def compute_all(
    path: str | Path, specs: Sequence[FlowSpec], samples: Sequence[SampleKeys], workers: int, progress: bool
) -> Iterator[list[ClipFeatures]]:
    """Per sample, in order: the ClipFeatures of every spec (on occmer's one worker pool)."""
    specs = tuple(specs)
    bar = progress_bar(len(samples), "features", "clip", enabled=progress)
    pool = WorkerPool(max(1, min(workers, len(samples))), FeatureWorker, (str(path),))
    with bar, pool:
        for result in pool.map(_worker_task, [(keys, specs) for keys in samples]):
            yield result
            bar.update(1)


# ---------------------------------------------------------------- writing


def _attributes(spec: FlowSpec, grid: str) -> dict[str, Any]:
    s = int(spec.size)
    return {
        "method": spec.method,
        "size": s,
        "channels": json.dumps(spec.channels),
        "params": json.dumps(spec.settings(), sort_keys=True),
        "normalisation": spec.normalisation,
        "normalisation_doc": FOUR_MAPS_DOC if spec.four_maps else NORMALISATION_DOC[spec.normalise],
        "diff": bool(spec.diff),
        "occmer_version": __version__,
        "frame_pair": ("onset -> apex (maps 0, 2) and apex -> offset (maps 1, 3), frames whose frame_numbers equal "
                       "/samples/onset, /samples/apex and /samples/offset" if spec.four_maps else
                       "onset -> apex (frames whose frame_numbers equal /samples/onset and /samples/apex)"),
        "grayscale": GRAYSCALE,
        "flow_grid": f"{grid} (flow computed at the stored resolution, then resized)",
        "flow_units": f"pixels of the {s}x{s} grid (u to the right, v downward)",
        "resize": RESIZE_DOC,
        "strain": STRAIN_DEFINITION,
        "diff_definition": DIFF_DOC,
        "occlusion": OCCLUSION_DOC.replace("onset and apex", "onset, apex and offset") if spec.four_maps
        else OCCLUSION_DOC,
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
    check_workers(workers)
    todo = plan(path, specs, overwrite)
    if not todo:
        return []
    samples = read_sample_keys(path)
    if not samples:
        raise FeatureError(f"{path}: /samples is empty; there are no clips to compute features for")
    arrays = _collect(path, todo, samples, min(workers, len(samples)), progress)
    ids = [k.sample_id for k in samples]
    grid = frame_grid(path, ids)
    size = sum(a.data.nbytes + a.occlusion.nbytes + a.scale.nbytes for a in arrays.values())
    ensure_space(path.parent, size, f"the features of {path}", grows=path)  # HDF5 does not fail cleanly when full
    with OccmerFile.open(path, mode="r+") as f:
        if f.sample_ids != ids:
            raise FeatureError(f"{path}: /samples changed while the features were computed; rerun the command")
        f.remove_partial_feature_sets()
        for spec in todo:
            computed = arrays[spec.feature_name]
            f.write_feature_set(spec.feature_name, computed.data, computed.occlusion, computed.scale,
                                _attributes(spec, grid))
    return [s.feature_name for s in todo]


def frame_grid(path: Path, sample_ids: Sequence[str]) -> str:
    """'HxW' of the stored frames, or the distinct sizes when clips differ (unaligned files)."""
    with OccmerFile.open(path) as f:
        shapes = {f.frame_size(sid)[:2] for sid in sample_ids}
    return ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
