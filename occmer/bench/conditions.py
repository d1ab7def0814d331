"""Conditions: named groups of occmer files (clean, glasses, ...) read into arrays for training.

A condition is one occluder setting; it may span several files (one per database, e.g.
CASME II and SAMM for MEGC 2018), which are concatenated. `--data NAME=FILE` names it; a
bare `--data FILE` is named after the file's stem (`mask.h5` -> `mask`), the name the user
typed and will type again in --train-on/--test-on. Files sharing a name form one condition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from occmer.data import read_index
from occmer.errors import BenchError, FeatureError
from occmer.features import feature_names, read_features
from occmer.features.maps import MAP_SUFFIXES
from occmer.features.spec import four_map_feature_name
from occmer.labels import label_of
from occmer.models.landmark_blocks import five_points
from occmer.models.regions import region_boxes
from occmer.progress import info
from occmer.store import OccmerFile
from occmer.store.occluded import FaceLayers

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
LANDMARKS_ONSET = "occmer mediapipe landmarks: onset frame"  # a synthesized file: each clip's aligned onset frame
LANDMARKS_FACES = "occmer mediapipe landmarks: face image (/faces)"  # an `occmer occlude` output


@dataclass
class ConditionData:
    """One condition's samples, labels and model inputs, rows in `table` order."""

    name: str
    files: tuple[str, ...]
    feature: str
    channels: tuple[str, ...]
    table: pd.DataFrame  # sample_id, database, subject, label, ... (one row per sample)
    x: np.ndarray  # float32 (N, C, S, S)
    occlusion: np.ndarray  # float32 (N, S, S)
    regions: np.ndarray | None  # float32 (N, R, 4) normalised boxes, None when not asked for
    points: np.ndarray | None = None  # float32 (N, 5, 2) HTNet's five points on the S x S grid, None when not asked for
    landmark_source: str | None = None  # where the landmarks of the regions and points come from

    def take(self, sample_ids: Sequence[str]) -> ConditionData:
        """The rows of `sample_ids`, in that order (a BenchError names the first missing id)."""
        position = {sid: i for i, sid in enumerate(self.table["sample_id"])}
        missing = [sid for sid in sample_ids if sid not in position]
        if missing:
            raise BenchError(
                f"condition {self.name} ({', '.join(self.files)}) has no sample {missing[0]!r} "
                f"({len(missing)} missing); cross-condition runs need files of the same clips"
            )
        rows = np.array([position[sid] for sid in sample_ids], dtype=np.int64)
        return ConditionData(
            self.name, self.files, self.feature, self.channels, self.table.iloc[rows].reset_index(drop=True),
            self.x[rows], self.occlusion[rows], None if self.regions is None else self.regions[rows],
            None if self.points is None else self.points[rows], self.landmark_source,
        )


def parse_data_option(value: str) -> tuple[str | None, Path]:
    """`NAME=FILE` or `FILE` -> (name or None, path)."""
    name, sep, path = value.partition("=")
    if sep and _NAME.match(name) and not Path(value).exists():
        return name, Path(path).expanduser()
    return None, Path(value).expanduser()


def file_condition_name(path: Path) -> str:
    """The condition name of a bare `--data FILE`: the file name without its suffix,
    characters outside [A-Za-z0-9_.+-] replaced by '_'."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem)
    return name if _NAME.match(name) else f"data_{name}"


def group_conditions(values: Sequence[str]) -> dict[str, tuple[Path, ...]]:
    """`--data` values -> {condition name: files}, in first-seen order."""
    groups: dict[str, list[Path]] = {}
    for value in values:
        name, path = parse_data_option(value)
        if not path.exists():
            raise BenchError(f"--data {value}: file {path} not found")
        name = name or file_condition_name(path)
        if path.resolve() in [p.resolve() for p in groups.get(name, [])]:
            raise BenchError(f"--data {value}: {path} is given twice for condition {name}")
        groups.setdefault(name, []).append(path)
    return {name: tuple(paths) for name, paths in groups.items()}


def choose_feature(files: Sequence[Path], size: int, requested: str | None, maps: int = 1) -> str:
    """The feature set to read: `requested`, else flow at the model's size (TV-L1 first), else the only one.

    A model reading four maps (CausalNet) reads the four-map counterpart of a flow set
    (`--features flow_tvl1_28` -> flow4_tvl1_28) where the file has it, and looks for flow4_* sets.
    """
    have = set(feature_names(files[0]))
    for path in files[1:]:
        have &= set(feature_names(path))
    listing = ", ".join(sorted(have)) or "none"
    four = maps == len(MAP_SUFFIXES)
    hint = f"compute one with `occmer features FILE --flow tvl1 --size S{' --four-maps' if four else ''}`"
    if requested:
        for name in ([four_map_feature_name(requested)] if four else []) + [requested]:
            if name in have:
                return name
        raise FeatureError(f"--features {requested}: not in every file of {[str(p) for p in files]} "
                           f"(common features: {listing}); {hint}")
    prefix = "flow4_" if four else "flow_"
    preferred = [f"{prefix}tvl1_{size}"] + sorted(n for n in have if n.startswith(prefix) and n.endswith(f"_{size}"))
    for name in preferred:
        if name in have:
            return name
    if len(have) == 1:
        return next(iter(have))
    raise FeatureError(
        f"no {'four-map ' if four else ''}feature set of size {size} in {[str(p) for p in files]} (common features: "
        f"{listing}); pass --features NAME or {hint}"
    )


def label_table(files: Sequence[Path], scheme: str) -> pd.DataFrame:
    """The /samples tables of `files` stacked, with `label`, `file` and `row` columns added."""
    parts = []
    for number, path in enumerate(files):
        index = read_index(path)
        index["file"] = number
        index["row"] = np.arange(len(index))
        parts.append(index)
    table = pd.concat(parts, ignore_index=True)
    duplicated = table["sample_id"][table["sample_id"].duplicated()]
    if len(duplicated):
        raise BenchError(
            f"sample {duplicated.iloc[0]!r} appears in more than one of {[str(p) for p in files]}; "
            "give each file its own condition name with --data NAME=FILE"
        )
    table["label"] = [label_of(row, scheme) for row in table.to_dict("records")]
    return table


def onset_landmarks(path: Path, sample_ids: Sequence[str], onsets: Sequence[int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Landmarks (N, K, 2) of the face each sample's features were computed on, and that face's size (W, H)
    (their source: `landmark_source`).

    A synthesized file: each clip's aligned onset frame. A features-only file made by `occmer
    occlude`: the landmarks found on each sample's face image (/faces), in the frame of the
    features; a face without landmarks takes the mean of the others (BenchError when none has any).
    """
    with OccmerFile.open(path) as f:
        if f.has_frames:
            out = [f.landmarks(sid, [f.position(sid, int(onset), "onset")])[0]
                   for sid, onset in zip(sample_ids, onsets, strict=True)]
            h, w, _ = f.frame_size(sample_ids[-1]) if sample_ids else (0, 0, 0)
            return np.stack(out).astype(np.float32), (w, h)
        faces = f.face_layers()
        all_ids = f.sample_ids
    if faces is None:
        raise BenchError(
            f"{path} holds features only (contents='features'): no landmarks for the region boxes this model "
            "needs; run `occmer occlude` on it with the face images (--mask none keeps the inputs as they are), "
            "use a synthesized file, or a model without regions"
        )
    return face_image_landmarks(path, faces, [all_ids.index(sid) for sid in sample_ids])


def landmark_source(path: Path) -> str:
    """What `onset_landmarks` reads for `path`, in words, for the records."""
    with OccmerFile.open(path) as f:
        return LANDMARKS_ONSET if f.has_frames else LANDMARKS_FACES


def face_image_landmarks(path: Path, faces: FaceLayers, rows: Sequence[int]) -> tuple[np.ndarray, tuple[int, int]]:
    """The /faces landmarks of `rows`; rows without landmarks get the mean of the found ones (pixels of one face size)."""
    if not faces.found.any():
        raise BenchError(f"{path}: /faces holds no landmarks (no face was found); use a model without regions")
    mean = faces.landmarks[faces.found].mean(axis=0)
    missing = [faces.sample_ids[r] for r in rows if not faces.found[r]]
    if missing:
        info(f"{path}: {len(missing)} face(s) without landmarks take the mean landmarks for their region boxes: "
             f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    points = np.stack([faces.landmarks[r] if faces.found[r] else mean for r in rows]).astype(np.float32)
    _, h, w = faces.alpha.shape
    return points, (w, h)


def load_condition(
    name: str, files: Sequence[Path], scheme: str, feature: str, with_regions: bool, with_points: bool = False
) -> ConditionData:
    """Read every sample of a condition: labels, feature arrays, occlusion, and from the same landmarks the
    region boxes and HTNet's five points (on the features' grid) when asked for."""
    table = label_table(files, scheme)
    xs, occlusions, regions, points, sources, channels = [], [], [], [], [], None
    for number, path in enumerate(files):
        part = table[table["file"] == number]
        features = read_features(path, feature)
        if list(features.sample_ids) != list(part["sample_id"]):
            raise FeatureError(f"{path}: /features/{feature} rows do not match /samples; recompute the features")
        if channels is not None and tuple(features.channels) != channels:
            raise FeatureError(f"{path}: feature {feature} has channels {features.channels}, other files {channels}")
        channels = tuple(features.channels)
        xs.append(np.asarray(features.data, dtype=np.float32))
        occlusions.append(np.asarray(features.occlusion, dtype=np.float32))
        if with_regions or with_points:
            landmarks, size = onset_landmarks(path, list(part["sample_id"]), list(part["onset"]))
            sources.append(landmark_source(path))
        if with_regions:
            regions.append(np.stack([region_boxes(p, size) for p in landmarks]).astype(np.float32))
        if with_points:
            grid = int(xs[-1].shape[-1])
            points.append(np.stack([five_points(p, size, grid) for p in landmarks]).astype(np.float32))
    return ConditionData(
        name=name,
        files=tuple(str(p) for p in files),
        feature=feature,
        channels=channels or (),
        table=table,
        x=np.concatenate(xs),
        occlusion=np.concatenate(occlusions),
        regions=np.concatenate(regions) if with_regions else None,
        points=np.concatenate(points) if with_points else None,
        landmark_source="; ".join(dict.fromkeys(sources)) or None,
    )


def region_occlusion(regions: np.ndarray, occlusion: np.ndarray) -> np.ndarray:
    """Mean occluder alpha inside each region box: (N, R) in [0, 1] from boxes (N, R, 4) and maps (N, S, S)."""
    n, r = regions.shape[:2]
    size = occlusion.shape[-1]
    out = np.zeros((n, r), dtype=np.float32)
    for i in range(n):
        for j in range(r):
            x0, y0, x1, y1 = regions[i, j]
            c0, r0 = int(np.floor(np.clip(x0, 0, 1) * size)), int(np.floor(np.clip(y0, 0, 1) * size))
            c1, r1 = int(np.ceil(np.clip(x1, 0, 1) * size)), int(np.ceil(np.clip(y1, 0, 1) * size))
            window = occlusion[i, r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)]
            out[i, j] = float(window.mean()) if window.size else 0.0
    return out
