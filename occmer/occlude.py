"""`occmer occlude`: occlude precomputed inputs (a file made by `occmer import`) on the faces they came from.

Per sample: find the face image the inputs were computed on (a folder of `<subject>_<clip>.<ext>`
or a CSV column of file names), find its landmarks (mediapipe, cached per image content under
occmer's cache folder), place the occluder exactly as `occmer synthesize` does (same registry,
options and per-sample generator `sample_rng(seed, sample_id, "occluder")`, landmarks in the face
image's pixels), render its alpha on the face (Compositor, identity motion), area-average that
alpha onto the S x S feature grid and apply a motion model to every channel
(occmer.features.occlusion_models). The face crops are taken to be in the frame of the flow
(the whole image maps onto the grid), as HTNet's code assumes. Output: a new features-only
file written through occmer.store (docs/occlude.md).
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from occmer.errors import ConfigError, DataError, FaceNotFoundError, OccmerError, StoreError
from occmer.features.clip import occlusion_map
from occmer.features.occlusion_models import MOTION_MODELS, apply_motion_model, check_model, normalisation_note
from occmer.frames import is_gray_rgb, read_frame
from occmer.hashing import file_sha256
from occmer.importing import COLUMN_ALIASES, NORMALISATIONS, SampleRow, index_images
from occmer.occluders import Occluder, make_occluder
from occmer.occluders.compositing import Compositor, occlusion_ratio
from occmer.progress import command_seconds
from occmer.seeding import MAX_SEED, sample_rng
from occmer.store import OccmerFile, Sample, SplitSet
from occmer.store.imported import ImportedFeatures, write_feature_file
from occmer.store.occluded import FaceLayers
from occmer.store.writer import SplitMaker, to_json
from occmer.workers import WorkerPool, check_workers

NO_FACE_POLICIES = ("refuse", "keep-clean", "drop")
FACE_PATTERN = "<subject>_<clip>.<png|jpg|jpeg|bmp|tif|tiff>"
GRID_ALPHA_DOC = ("the occluder's alpha on the face image (uint8/255), area-averaged onto the S x S grid "
                  "(cv2.resize INTER_AREA): the face image is taken to span the feature grid")
LANDMARK_BACKEND = "mediapipe"


class NotAnImportError(DataError):
    """`occmer occlude` was given a file that is not a features-only import."""


@dataclass(frozen=True)
class OccludeSettings:
    """Everything that decides the output arrays (recorded in the file's `settings`)."""

    mask: str = "surgical"
    mask_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    motion_model: str = "affine"
    robust: bool = False
    no_face: str = "refuse"
    normalisation: str | None = None  # overrides the feature set's `unknown`
    feature: str | None = None

    def __post_init__(self) -> None:
        if self.motion_model not in MOTION_MODELS:
            raise ConfigError(f"--motion-model {self.motion_model!r}: choose one of {', '.join(MOTION_MODELS)}")
        if self.no_face not in NO_FACE_POLICIES:
            raise ConfigError(f"--no-face {self.no_face!r}: choose one of {', '.join(NO_FACE_POLICIES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")


@dataclass(frozen=True)
class FaceLookup:
    """Where the face images are: a folder, and optionally a CSV column naming each sample's file."""

    folder: Path
    csv: Path | None = None
    column: str | None = None
    db_map: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.csv is not None:
            return f"files named by column {self.column!r} of {self.csv}, in {self.folder}"
        return f"{self.folder}/{FACE_PATTERN}"


@dataclass
class SampleTask:
    """One sample's work: its inputs and its face image."""

    sample_id: str
    face: Path
    data: np.ndarray  # float32 (C, S, S)


@dataclass
class SampleResult:
    """One sample after occlusion (alpha all zero and data unchanged when no face was found)."""

    sample_id: str
    data: np.ndarray
    grid_alpha: np.ndarray  # float32 (S, S)
    face_alpha: np.ndarray  # uint8 (H, W)
    landmarks: np.ndarray | None  # float32 (K, 2) in face pixels, None = no face
    ratio: float
    placement: dict[str, Any]


@dataclass
class OccludeSummary:
    out: Path
    samples: int  # written
    processed: int  # read (samples + dropped)
    no_face: list[str]
    seconds: float
    detected: int  # faces run through the landmark model (the rest came from the cache)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (f"wrote {self.out}: {self.samples} samples in {command_seconds(self.seconds):.1f} s (landmarks: {self.detected} "
                f"detected, {self.processed - self.detected} from the cache)")
        if self.no_face:
            text += f"; {len(self.no_face)} without landmarks (listed in the file's settings)"
        return text


# ---------------------------------------------------------------- faces


def sample_key(sample: Sample) -> str:
    """How the community's releases name a sample's image: `<subject without database>_<clip>`."""
    prefix = f"{sample.database}/"
    subject = sample.subject[len(prefix):] if sample.subject.startswith(prefix) else sample.subject
    return f"{subject}_{sample.filename}"


def _csv_faces(lookup: FaceLookup, columns: Mapping[str, str]) -> dict[str, str]:
    """sample_id -> file name from the CSV column, rows matched as `occmer import` matches them."""
    assert lookup.csv is not None and lookup.column is not None
    try:
        with open(lookup.csv, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{lookup.csv}: cannot read the CSV ({exc})") from exc
    if lookup.column not in header:
        raise DataError(f"{lookup.csv}: no column {lookup.column!r} (columns: {', '.join(header)})")
    chosen = {}
    for role in ("database", "subject", "clip"):
        found = [columns[role]] if role in columns else [h for h in header if h.strip().lower() in COLUMN_ALIASES[role]]
        if not found or found[0] not in header:
            raise DataError(f"{lookup.csv}: no {role} column (looked for {', '.join(COLUMN_ALIASES[role])})")
        chosen[role] = found[0]
    names: dict[str, str] = {}
    for record in records:
        values = {role: (record.get(col) or "").strip() for role, col in chosen.items()}
        database = lookup.db_map.get(values["database"], values["database"])
        subject = values["subject"].removeprefix(f"{database}/")
        row = SampleRow(0, database, subject, values["clip"], "", "")
        names[row.sample_id] = (record.get(lookup.column) or "").strip()
    return names


def find_faces(samples: Sequence[Sample], lookup: FaceLookup, columns: Mapping[str, str] | None = None) -> list[Path]:
    """The face image of every sample, in order; DataError naming every sample without one.

    Only regular files directly in the folder are candidates (importing.index_images: links out
    of it are refused); a CSV value is a file name looked up among them, never a path followed.
    """
    folder = Path(lookup.folder).expanduser()
    index = index_images(folder)
    by_name = {path.name: path for path in index.values()}
    names = _csv_faces(lookup, columns or {}) if lookup.csv is not None else {}
    found: list[Path] = []
    missing: list[str] = []
    for sample in samples:
        if lookup.csv is not None:
            path = by_name.get(names.get(sample.sample_id, ""))
        else:
            path = index.get(sample_key(sample))
        if path is None:
            missing.append(sample.sample_id)
        else:
            found.append(path.resolve())
    if missing:
        raise DataError(
            f"{len(missing)} of {len(samples)} samples have no face image ({lookup.describe()}): "
            f"{', '.join(missing)}; give the folder the inputs were computed from (or --faces-csv/--faces-column)"
        )
    return found


class LandmarkCache:
    """Landmarks per image content (sha256), one .npy per image under `folder`; (0, 2) = no face."""

    def __init__(self, folder: Path) -> None:
        from importlib.metadata import version

        self.folder = Path(folder) / "landmarks" / f"{LANDMARK_BACKEND}-{version('mediapipe')}"
        self._backend: Any = None
        self.detected = 0

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.npy"

    def landmarks(self, image: np.ndarray, digest: str, sample_id: str) -> np.ndarray | None:
        path = self._path(digest)
        if path.is_file():
            try:
                points = np.load(path, allow_pickle=False)
                if points.ndim == 2 and points.shape[1] == 2:
                    return points.astype(np.float32) if len(points) else None
            except (OSError, ValueError):
                pass  # a damaged cache entry is recomputed
        if self._backend is None:
            from occmer.faces.landmarks import LANDMARK_BACKENDS

            self._backend = LANDMARK_BACKENDS[LANDMARK_BACKEND]()
        points = self._backend.detect(image, sample_id)
        self.detected += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, np.zeros((0, 2), np.float32) if points is None else np.asarray(points, np.float32))
        os.replace(tmp, path)
        return points

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


# ---------------------------------------------------------------- one sample


class SampleOccluder:
    """Occludes samples one at a time with one occluder and one landmark cache (per worker)."""

    def __init__(self, settings: OccludeSettings, channels: list[str], normalisation: str, cache_dir: Path) -> None:
        self.settings = settings
        self.channels = channels
        self.normalisation = normalisation
        self.occluder: Occluder = make_occluder(settings.mask, settings.mask_options)
        self.cache = LandmarkCache(cache_dir)

    def process(self, task: SampleTask) -> SampleResult:
        s = self.settings
        face = read_frame(task.face, task.sample_id)
        if is_gray_rgb(face):
            face = face[:, :, :1]
        digest = file_sha256(task.face)
        record: dict[str, Any] = {"face": task.face.name, "face_sha256": digest, "landmark_backend": LANDMARK_BACKEND}
        points = self.cache.landmarks(face, digest, task.sample_id)
        size = task.data.shape[-1]
        if points is None:
            record["no_face"] = s.no_face
            return SampleResult(task.sample_id, task.data, np.zeros((size, size), np.float32),
                                np.zeros(face.shape[:2], np.uint8), None, 0.0, record)
        points = np.asarray(points, np.float32)
        rng = sample_rng(s.seed, task.sample_id, "occluder")
        layer = self.occluder.place(face, points, rng)
        _, face_alpha = Compositor(layer).composite(face, np.eye(2, 3))
        grid_alpha = occlusion_map(face_alpha, face.shape[:2], size)
        outcome = apply_motion_model(task.data, self.channels, grid_alpha, s.motion_model, self.normalisation, s.robust)
        record.update({"occluder": self.occluder.name, "spec": s.mask, "parameters": layer.params,
                       "motion": outcome.record})
        return SampleResult(task.sample_id, outcome.data, grid_alpha, face_alpha, points,
                            occlusion_ratio(face_alpha, points), record)

    def close(self) -> None:
        self.cache.close()


def _run_one(worker: SampleOccluder, task: SampleTask) -> tuple[SampleResult, int]:
    """One sample on a worker's SampleOccluder (the state WorkerPool's start built): result, new detections."""
    before = worker.cache.detected
    return worker.process(task), worker.cache.detected - before


# ---------------------------------------------------------------- the file


@dataclass
class ImportedSource:
    """What is read from the input file."""

    path: Path
    samples: list[Sample]
    feature: str
    data: np.ndarray
    channels: list[str]
    feature_attrs: dict[str, Any]
    normalisation: str  # the one used: --normalisation, else the recorded one
    recorded_normalisation: str
    attrs: dict[str, Any]
    splits: list[SplitSet]


def read_import(path: Path, feature: str | None, normalisation: str | None) -> ImportedSource:
    """The samples, one feature set and the splits of a features-only file; NotAnImportError otherwise."""
    with OccmerFile.open(path) as f:
        if f.has_frames:
            raise NotAnImportError(
                f"{path} holds frames (made by `occmer synthesize`): `occmer occlude` occludes inputs made by "
                "`occmer import`; occlude a synthesized database with `occmer synthesize --mask ...` instead"
            )
        names = f.feature_names()
        if not names:
            raise NotAnImportError(f"{path}: no feature set; make the file with `occmer import`")
        if feature is None:
            if len(names) > 1:
                raise ConfigError(f"{path} holds feature sets {', '.join(names)}: choose one with --feature")
            feature = names[0]
        info = f.feature_info(feature)
        stored = str(info.attrs.get("normalisation", "unknown"))
        features = f.features(feature)
        return ImportedSource(
            path=path, samples=f.samples(), feature=feature, data=features.data, channels=features.channels,
            feature_attrs=dict(info.attrs), normalisation=normalisation or stored, recorded_normalisation=stored,
            attrs=f.attrs(),
            splits=[f.split(name) for name in f.split_names()],
        )


def _row(sample: Sample, ratio: float) -> dict[str, Any]:
    values = {f.name: getattr(sample, f.name) for f in fields(Sample) if f.name != "row"}
    values["occlusion_ratio"] = ratio
    return values


def _kept_splits(sets: list[SplitSet]) -> SplitMaker:
    return lambda columns: sets


def occlude(
    source: Path, lookup: FaceLookup, out: Path, settings: OccludeSettings, *, workers: int = 1,
    overwrite: bool = False, progress: bool = True, command: str = "", cache_dir: Path | None = None,
    recompute_splits: SplitMaker | None = None,
) -> OccludeSummary:
    """Write the occluded copy of the import `source` to `out` (docs/occlude.md).

    /splits are carried over unchanged; when --no-face drop removes samples they are computed
    again for the remaining rows with `recompute_splits` (occmer.protocols.splits.compute_splits;
    the CLI passes it) and left out without it.
    """
    from occmer.demo.cache import default_cache_dir
    from occmer.progress import detail, progress_bar

    check_workers(workers)
    source, out = Path(source).expanduser().resolve(), Path(out).expanduser().resolve()
    if out == source:
        raise ConfigError(f"--out {out} is the input file; choose another --out")
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; pass --overwrite to replace it or choose another --out")
    imported = read_import(source, settings.feature, settings.normalisation)
    check_model(settings.motion_model, imported.normalisation, imported.channels)
    make_occluder(settings.mask, settings.mask_options)  # options checked before any work
    recorded = imported.attrs.get("settings")
    recorded = recorded if isinstance(recorded, dict) else {}
    if lookup.csv is not None and not lookup.db_map:  # the CSV of the import: its database names mapped alike
        lookup = replace(lookup, db_map=dict(recorded.get("db_map") or {}))
    faces = find_faces(imported.samples, lookup, recorded.get("columns") or {})
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    tasks = [SampleTask(s.sample_id, p, imported.data[s.row]) for s, p in zip(imported.samples, faces, strict=True)]
    start = time.perf_counter()
    results: list[SampleResult] = []
    detected = 0
    bar = progress_bar(len(tasks), "occlude", "sample", enabled=progress)
    n_workers = max(1, min(workers, len(tasks)))
    try:
        with WorkerPool(n_workers, SampleOccluder, (settings, imported.channels, imported.normalisation, cache)) as pool:
            for result, new in pool.map(_run_one, tasks):
                results.append(result)
                detected += new
                detail(f"done {result.sample_id}")
                bar.update(1)
    finally:
        bar.close()
    no_face = [r.sample_id for r in results if r.landmarks is None]
    if no_face and settings.no_face == "refuse":
        raise FaceNotFoundError(
            f"no face found on the face image of {len(no_face)} samples: {', '.join(no_face)} (landmarks are cached, a "
            "rerun is fast); pass --no-face keep-clean (leave them unoccluded) or --no-face drop (leave them out)"
        )
    kept = [(s, r) for s, r in zip(imported.samples, results, strict=True)
            if not (r.landmarks is None and settings.no_face == "drop")]
    if not kept:
        raise OccmerError(f"no sample has a face: nothing written to {out}")
    _write(imported, lookup, out, settings, kept, no_face, overwrite, command, recompute_splits)
    note = normalisation_note(imported.data, imported.normalisation)
    return OccludeSummary(out, len(kept), len(results), no_face, time.perf_counter() - start, detected,
                          [note] if note else [])


def _face_layers(kept: list[tuple[Sample, SampleResult]], folder: Path) -> FaceLayers:
    shapes = {r.face_alpha.shape for _, r in kept}
    if len(shapes) > 1:
        raise DataError(f"face images of different sizes in {folder}: {sorted(shapes)}; the faces of one file "
                        "must share one size (the crops the inputs were computed on)")
    points = [r.landmarks for _, r in kept if r.landmarks is not None]
    k = points[0].shape[0] if points else 0
    landmarks = np.zeros((len(kept), k, 2), np.float32)
    for i, (_, r) in enumerate(kept):
        if r.landmarks is not None:
            landmarks[i] = r.landmarks
    return FaceLayers(
        alpha=np.stack([r.face_alpha for _, r in kept]), landmarks=landmarks,
        found=np.array([r.landmarks is not None for _, r in kept]), placement=[r.placement for _, r in kept],
        sample_ids=[s.sample_id for s, _ in kept], folder=str(folder),
    )


def _write(imported: ImportedSource, lookup: FaceLookup, out: Path, settings: OccludeSettings,
           kept: list[tuple[Sample, SampleResult]], no_face: list[str], overwrite: bool, command: str,
           recompute_splits: SplitMaker | None) -> None:
    dropped = len(kept) < len(imported.samples)
    splits = (recompute_splits if dropped else _kept_splits(imported.splits)) if imported.splits else None
    folder = Path(lookup.folder).expanduser().resolve()
    feature_attrs = {k: v for k, v in imported.feature_attrs.items()
                     if k not in ("channels", "size", "complete", "occmer_version")}
    feature_attrs.update({
        "occlusion": GRID_ALPHA_DOC, "normalisation": imported.normalisation,
        "normalisation_doc": NORMALISATIONS.get(imported.normalisation, ""),
        "occlusion_model": to_json({"motion_model": settings.motion_model, "robust": settings.robust}),
    })
    run_settings = {
        **asdict(settings), "source": str(imported.path), "source_sha256": file_sha256(imported.path),
        "faces": str(folder), "faces_csv": str(lookup.csv) if lookup.csv else None, "faces_column": lookup.column,
        "db_map": dict(lookup.db_map), "feature": imported.feature, "normalisation": imported.normalisation,
        "recorded_normalisation": imported.recorded_normalisation,
        "channels": imported.channels, "no_face_samples": no_face, "landmark_backend": LANDMARK_BACKEND,
        "source_settings": imported.attrs.get("settings", {}),
    }
    skipped = [{"sample_id": sid, "reason": "no face found on its face image (--no-face drop)"}
               for sid in no_face if settings.no_face == "drop"]
    attrs = {
        "database": imported.attrs.get("database", ""),
        "occluder": to_json({"spec": settings.mask, "options": settings.mask_options}),
        "seed": int(settings.seed), "command": command, "settings": to_json(run_settings),
        "skipped": to_json(skipped), "invalid": "[]",
        "imported_from": str(imported.attrs.get("imported_from", "")), "occluded_from": str(imported.path),
        "source_sha256": run_settings["source_sha256"],
    }
    rows = [_row(s, r.ratio) for s, r in kept]
    features = ImportedFeatures(
        imported.feature, np.stack([r.data for _, r in kept]), imported.channels, feature_attrs,
        occlusion=np.stack([r.grid_alpha for _, r in kept]),
    )
    write_feature_file(out, rows, features, attrs, overwrite, splits=splits, faces=_face_layers(kept, folder))
