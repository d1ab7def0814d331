"""The one gateway to occmer HDF5 files: `OccmerFile` opens, checks and reads them.

No other module opens an occmer file. Opening checks the root attributes (exact types), walks
every link (no soft, external or virtual data anywhere) and reads the /samples table; each clip
and feature set is checked against that table and the size limits before its arrays are read
(occmer.store.checks). Any problem is a StoreError naming the file and the dataset or sample.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer.errors import StoreError
from occmer.frames import frame_position
from occmer.store import checks, schema
from occmer.store.checks import Bad
from occmer.store.occluded import FaceLayers, read_face_group
from occmer.store.opening import OpenFile, open_checked
from occmer.store.splits import SplitSet, read_split, split_names, write_split_group


@dataclass(frozen=True)
class Sample:
    """One /samples row (the schema's columns), with its position in the file."""

    row: int
    sample_id: str
    database: str
    subject: str
    filename: str
    emotion: str
    objective_class: str
    composite: str
    action_units: str
    apex_source: str
    objective_source: str
    fixes: str
    offset_source: str
    onset: int
    apex: int
    offset: int
    n_frames: int
    occlusion_ratio: float


@dataclass
class ClipArrays:
    """One clip read back from a file."""

    sample_id: str
    frames: np.ndarray
    occlusion: np.ndarray
    landmarks: np.ndarray
    frame_numbers: np.ndarray
    placement: dict[str, Any]


@dataclass
class FeatureSet:
    """One feature set read back: rows follow /samples order.

    data: float32 (N, C, S, S); occlusion: float32 (N, S, S) in [0, 1] (zeros when the set
    stores none); scale: float32 (N, C) the per-sample divisors of the normalisation (1 when none).
    """

    data: np.ndarray
    occlusion: np.ndarray
    channels: list[str]
    attrs: dict[str, Any]
    sample_ids: list[str]
    scale: np.ndarray


@dataclass(frozen=True)
class FeatureInfo:
    """What a feature set holds, without its arrays."""

    name: str
    shape: tuple[int, ...]
    channels: list[str]
    attrs: dict[str, Any]


class OccmerFile(OpenFile):
    """A checked, open occmer file. Use `with OccmerFile.open(path) as f:`.

    mode "r" reads; "r+" also allows `write_feature_set` (the file is checked the same way).
    """

    def __init__(self, path: Path, handle: h5py.File, header: checks.Header, table: dict[str, Any]) -> None:
        self.path = path
        self._f = handle
        self.header = header
        self._table = table
        self._position = {sid: i for i, sid in enumerate(table["sample_id"])}
        self._clips: dict[str, checks.ClipLayout] = {}
        self._features: dict[str, checks.FeatureLayout] = {}
        self._landmarks_checked: set[str] = set()  # clips whose landmarks passed checks.landmark_problem

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, require_complete: bool = True, mode: str = "r") -> OccmerFile:
        """Open and check a file; StoreError (naming the file and what is wrong) if it is not usable."""
        path = Path(path)

        def build(handle: h5py.File, header: checks.Header) -> OccmerFile:
            if header.contents == schema.LONG_VIDEOS:
                raise Bad("holds long videos (contents='long-videos'), not clips: read it with "
                          "occmer.store.long_video.LongVideoFile.open")
            problems = checks.link_problems(handle)
            if problems:
                more = f" (and {len(problems) - 1} more; `occmer verify {path}` lists them)" if len(problems) > 1 else ""
                raise Bad(problems[0] + more)
            table = checks.samples_table(handle)
            problems = checks.sample_problems(table, header.contents) + checks.root_json_problems(handle)
            if problems:
                raise Bad(problems[0])
            return cls(path, handle, header, table)

        return open_checked(path, mode, require_complete, build)

    def _error(self, exc: Bad) -> StoreError:
        return StoreError(f"{self.path}: {exc}")

    # ------------------------------------------------------------ table

    @property
    def has_frames(self) -> bool:
        """False for files of features only (root attribute contents="features")."""
        return self.header.contents != checks.FEATURES_ONLY

    @property
    def sample_ids(self) -> list[str]:
        return list(self._table["sample_id"])

    def columns(self) -> dict[str, np.ndarray | list[str]]:
        """All /samples columns (known and compatible extra ones), strings decoded."""
        return {k: (list(v) if isinstance(v, list) else v.copy()) for k, v in self._table.items()}

    def samples(self) -> list[Sample]:
        """One Sample per /samples row, in file order."""
        names = [f.name for f in fields(Sample) if f.name != "row"]
        out = []
        for i in range(len(self._position)):
            values = {}
            for name in names:
                value = self._table[name][i]
                if name in schema.INT_COLUMNS:
                    value = int(value)
                elif name in schema.FLOAT_COLUMNS:
                    value = float(value)
                values[name] = value
            out.append(Sample(row=i, **values))
        return out

    def row(self, sample_id: str) -> int:
        try:
            return self._position[sample_id]
        except KeyError:
            raise StoreError(f"{self.path}: no sample {sample_id!r} in /samples") from None

    def attrs(self) -> dict[str, Any]:
        """Root attributes, JSON-valued ones (occluder, settings, skipped, invalid) parsed."""
        out: dict[str, Any] = {}
        try:
            for key in self._f.attrs:
                out[key] = checks.plain(checks.attr(self._f, key, "root"))
            for key in checks.ROOT_JSON_ATTRS:
                if key in out:
                    out[key] = checks.json_attr(self._f, key, "root")
        except Bad as exc:
            raise self._error(exc) from None
        return out

    # ------------------------------------------------------------ clips

    def _layout(self, sample_id: str) -> checks.ClipLayout:
        if not self.has_frames:
            raise StoreError(
                f"{self.path} holds features only (contents='features'): no frames, occlusion maps or landmarks"
            )
        layout = self._clips.get(sample_id)
        if layout is None:
            i = self.row(sample_id)
            keys = {c: int(self._table[c][i]) for c in ("onset", "apex", "offset")}
            try:
                layout = checks.clip_layout(self._f, sample_id, int(self._table["n_frames"][i]), keys)
            except Bad as exc:
                raise self._error(exc) from None
            self._clips[sample_id] = layout
        return layout

    def frame_numbers(self, sample_id: str) -> np.ndarray:
        """The clip's original frame numbers (checked: strictly increasing, onset among them)."""
        return self._layout(sample_id).frame_numbers.copy()

    def frame_size(self, sample_id: str) -> tuple[int, int, int]:
        """(H, W, C) of the clip's stored frames, read from metadata only."""
        _, h, w, c = self._layout(sample_id).frames.shape
        return int(h), int(w), int(c)

    def position(self, sample_id: str, number: int, role: str) -> int:
        """Index of the frame numbered `number`, or a StoreError naming the sample and the role."""
        numbers = self._layout(sample_id).frame_numbers
        index = frame_position(numbers, number)
        if index is None:
            raise StoreError(
                f"{self.path}: sample {sample_id}: {role} frame {number} is not among its stored frames "
                f"({numbers.min()}..{numbers.max()}); the file does not match its /samples table"
            )
        return index

    def _read(self, ds: h5py.Dataset, positions: list[int] | None, sample_id: str, what: str) -> np.ndarray:
        try:
            if positions is None:
                return ds[()]
            return np.stack([ds[int(p)] for p in positions])
        except Exception as exc:
            raise StoreError(f"{self.path}: clip {sample_id}: {what} cannot be read ({type(exc).__name__}: {exc})") from None

    def frames(self, sample_id: str, positions: list[int] | None = None) -> np.ndarray:
        """uint8 (T, H, W, C): all frames, or those at `positions` (repeats allowed)."""
        return self._read(self._layout(sample_id).frames, positions, sample_id, "frames")

    def occlusion(self, sample_id: str, positions: list[int] | None = None) -> np.ndarray:
        """uint8 (T, H, W) occluder alpha, all frames or those at `positions`."""
        return self._read(self._layout(sample_id).occlusion, positions, sample_id, "occlusion")

    def landmarks(self, sample_id: str, positions: list[int] | None = None) -> np.ndarray:
        """float32 (T, K, 2) landmarks, all frames or those at `positions` (every frame is checked: see
        checks.landmark_problem)."""
        dataset = self._layout(sample_id).landmarks
        if sample_id not in self._landmarks_checked:
            problem = checks.landmark_problem(self._read(dataset, None, sample_id, "landmarks"))
            if problem is not None:
                raise StoreError(f"{self.path}: clip {sample_id}: {problem}; `occmer verify {self.path}` lists every "
                                 "such clip")
            self._landmarks_checked.add(sample_id)
        return self._read(dataset, positions, sample_id, "landmarks").astype(np.float32, copy=False)

    def placement(self, sample_id: str) -> dict[str, Any]:
        layout = self._layout(sample_id)
        try:
            return checks.json_attr(layout.group, "placement", f"clip {sample_id}", default={})
        except Bad as exc:
            raise self._error(exc) from None

    def clip(self, sample_id: str) -> ClipArrays:
        """Every array and the placement of one clip."""
        return ClipArrays(
            sample_id=sample_id,
            frames=self.frames(sample_id),
            occlusion=self.occlusion(sample_id),
            landmarks=self.landmarks(sample_id),
            frame_numbers=self.frame_numbers(sample_id),
            placement=self.placement(sample_id),
        )

    # ------------------------------------------------------------ features

    def feature_names(self) -> list[str]:
        """Names of the complete feature sets, sorted (sets being written or broken are left out)."""
        try:
            return checks.feature_groups(self._f)[0]
        except Bad as exc:
            raise self._error(exc) from None

    def _feature(self, name: str) -> checks.FeatureLayout:
        layout = self._features.get(name)
        if layout is None:
            names = self.feature_names()
            if name not in names:
                from occmer.errors import FeatureError

                raise FeatureError(
                    f"{self.path}: no feature set {name!r} (available: {', '.join(names) or 'none'}); compute it "
                    f"with `occmer features {self.path} --flow tvl1 --size 28` (names are flow_<method>_<size>)"
                )
            try:
                layout = checks.feature_layout(self._f, name, self.sample_ids)
            except Bad as exc:
                raise self._error(exc) from None
            self._features[name] = layout
        return layout

    def feature_info(self, name: str) -> FeatureInfo:
        """Shape, channels and attributes of a feature set (checked; no array read)."""
        layout = self._feature(name)
        return FeatureInfo(name, tuple(int(x) for x in layout.data.shape), list(layout.channels), dict(layout.attrs))

    def _finite(self, name: str, what: str, values: np.ndarray, first_row: int = 0) -> np.ndarray:
        bad = checks.nonfinite_row(values)
        if bad is not None:
            sid = self.sample_ids[first_row + bad]
            raise StoreError(
                f"{self.path}: /features/{name}/{what} holds NaN or inf for sample {sid}; "
                "recompute the features with `occmer features FILE --overwrite ...`"
            )
        return values

    def _read_feature(self, name: str, ds: h5py.Dataset, rows: slice | int) -> np.ndarray:
        try:
            return np.asarray(ds[rows], dtype=np.float32)
        except Exception as exc:
            raise StoreError(f"{self.path}: /features/{name} cannot be read ({type(exc).__name__}: {exc})") from None

    def features(self, name: str) -> FeatureSet:
        """The whole feature set `name`, rows in /samples order, every value checked finite."""
        layout = self._feature(name)
        n, c, s, _ = layout.data.shape
        data = self._finite(name, "data", self._read_feature(name, layout.data, slice(None)))
        occ = (self._finite(name, "occlusion", self._read_feature(name, layout.occlusion, slice(None)))
               if layout.occlusion is not None else np.zeros((n, s, s), np.float32))
        scale = (self._finite(name, "scale", self._read_feature(name, layout.scale, slice(None)))
                 if layout.scale is not None else np.ones((n, c), np.float32))
        return FeatureSet(data, occ, list(layout.channels), dict(layout.attrs), self.sample_ids, scale)

    def feature_row(self, name: str, row: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(data (C, S, S), occlusion (S, S) or None) of one row, checked finite."""
        layout = self._feature(name)
        data = self._finite(name, "data", self._read_feature(name, layout.data, row)[None], row)[0]
        occ = None
        if layout.occlusion is not None:
            occ = self._finite(name, "occlusion", self._read_feature(name, layout.occlusion, row)[None], row)[0]
        return data, occ

    def feature_rows_match(self, name: str) -> bool:
        """Whether the complete set `name` was computed for the rows /samples holds now."""
        where = f"/{schema.FEATURES}/{name}"
        try:
            group = checks.subgroup(checks.subgroup(self._f, schema.FEATURES, f"/{schema.FEATURES}"), name, where)
            return checks.feature_rows_match(group, where, self.sample_ids)
        except Bad as exc:
            raise self._error(exc) from None

    # ------------------------------------------------------------ splits

    def split_names(self) -> list[str]:
        """The protocols whose folds the file stores under /splits (sorted; empty for older files)."""
        try:
            return split_names(self._f)
        except Bad as exc:
            raise self._error(exc) from None

    def split(self, protocol: str) -> SplitSet:
        """/splits/<protocol>, checked against /samples; StoreError naming the fix when absent or broken."""
        names = self.split_names()
        if protocol not in names:
            raise StoreError(
                f"{self.path}: no stored splits for protocol {protocol!r} (stored: {', '.join(names) or 'none'}); "
                f"write them with `occmer splits {self.path}` (a protocol is stored when the file's data allows it)"
            )
        try:
            return read_split(self._f, protocol, self._table)
        except Bad as exc:
            raise self._error(exc) from None

    def write_splits(self, sets: list[SplitSet]) -> None:
        """Replace /splits by `sets` in one step (built under a temporary name, then renamed)."""
        if self._f.mode != "r+":
            raise StoreError(f"{self.path}: opened read-only; open with mode='r+' to write splits")
        try:
            write_split_group(self._f, sets, self.sample_ids)
        except ValueError as exc:
            raise StoreError(f"{self.path}: {exc}; nothing written") from None
        self._f.flush()

    # ------------------------------------------------------------ faces (`occmer occlude`)

    def face_layers(self) -> FaceLayers | None:
        """/faces of an occluded features-only file (occmer.store.occluded), None when absent."""
        return read_face_group(self._f, self.sample_ids, str(self.path))

    # ------------------------------------------------------------ writing

    def write_feature_set(
        self, name: str, data: np.ndarray, occlusion: np.ndarray, scale: np.ndarray, attrs: dict[str, Any]
    ) -> None:
        """Store one feature set atomically: write under `.partial-<name>`, mark complete, rename over
        any old set. Rows follow /samples; nothing else in the file changes."""
        if self._f.mode != "r+":
            raise StoreError(f"{self.path}: opened read-only; open with mode='r+' to write features")
        if data.shape[0] != len(self._position):
            raise StoreError(f"{self.path}: {data.shape[0]} feature rows for {len(self._position)} samples")
        bad = checks.nonfinite_row(data)
        if bad is not None:
            raise StoreError(f"feature set {name}: NaN or inf for sample {self.sample_ids[bad]}; nothing written")
        root = self._f.require_group(schema.FEATURES)
        tmp = schema.FEATURE_TMP_PREFIX + name
        if tmp in root:
            del root[tmp]
        group = root.create_group(tmp)
        n, c, s, _ = data.shape
        group.create_dataset("data", data=data.astype(np.float32, copy=False), chunks=(1, c, s, s))
        group.create_dataset("occlusion", data=occlusion.astype(np.float32, copy=False), chunks=(1, s, s))
        group.create_dataset("scale", data=scale.astype(np.float32, copy=False))
        group.create_dataset("sample_id", data=np.array(self.sample_ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
        for key, value in attrs.items():
            group.attrs[key] = value
        group.attrs["complete"] = True
        if name in root:
            del root[name]
        root.move(tmp, name)
        self._features.pop(name, None)
        self._f.flush()

    def remove_partial_feature_sets(self) -> None:
        """Delete `.partial-*` feature groups a crashed write left behind."""
        root = self._f.get(schema.FEATURES)
        if root is None:
            return
        for stale in [n for n in root if n.startswith(schema.FEATURE_TMP_PREFIX)]:
            del root[stale]


def decode(values: np.ndarray) -> list[str]:
    """Bytes or str values as str."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


__all__ = [
    "ClipArrays", "FeatureInfo", "FeatureSet", "OccmerFile", "Sample", "SplitSet", "decode",
]
