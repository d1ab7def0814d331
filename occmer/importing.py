"""`occmer import`: preprocessed inputs released with papers -> an occmer file without frames.

Four layouts are read, each with a CSV that names database, subject, clip and label per row:
a flat folder of images (`<subject>_<clip>.png`; trailing spaces before the extension, as in
STSTNet's release, are tolerated), a flat folder of four maps per sample (`maps`: `<key>.png`,
`<key>_1.png`, `<key>_2.png`, `<key>_3.png`, CausalNet's release, stacked on the channels in
that order), a leave-one-subject-out tree
(`<held-out subject>/<train dir|test dir>/<class>/<image>`: every copy of a sample must be
identical, and is checked), and a NumPy array (N, C, H, W) whose rows follow the CSV.
Values are stored as they are (no rescaling); the normalisation their producer applied is
recorded. Database names must be occmer's (or mapped with `db_map`), never guessed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occmer.databases import DATABASES
from occmer.databases.common import sanitise_id
from occmer.databases.sheets import decode_text
from occmer.errors import ConfigError, DataError
from occmer.features.maps import MAP_SUFFIXES, map_channel_names  # CausalNet's four maps, in the order it reads them
from occmer.labels import COMPOSITE_CLASSES, OBJECTIVE_CLASSES, composite_label, normalise_emotion
from occmer.store.imported import ImportedFeatures, write_feature_file
from occmer.store.writer import SplitMaker, to_json


def provenance_key(database: str, subject: str, clip: str) -> str:
    """How export.json names a sample: the database, subject and clip columns of samples.csv."""
    return f"{database}/{subject}/{clip}"


LAYOUTS = ("flat", "maps", "loso", "npy")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NORMALISATIONS = {
    "minmax-per-image": "each image was min-max scaled to 0..255 by its producer (all channels together)",
    "minmax-per-channel": "each channel of each image was min-max scaled to 0..255 by its producer",
    "none": "raw values (e.g. flow in pixels) as the producer computed them",
    "unknown": "the producer's normalisation was not stated at import",
}
PIXEL_ORDERS = ("rgb", "bgr")
LABEL_TARGETS = ("megc2019", "emotion", "objective")
# Default label maps: the integer codes the community's releases use.
DEFAULT_LABEL_MAPS = {
    "megc2019": {"0": "negative", "1": "positive", "2": "surprise"},
    "objective": {str(i + 1): c for i, c in enumerate(OBJECTIVE_CLASSES)},
    "emotion": {},
}
COLUMN_ALIASES = {
    "database": ("database", "dataset", "db"),
    "subject": ("subject", "sub"),
    "clip": ("clip", "filename", "filename_o"),
    "label": ("label", "class", "emotion"),
}


@dataclass(frozen=True)
class ImportOptions:
    """How to read and name the inputs; every field is recorded in the file's `settings`."""

    channels: tuple[str, ...] = ("u", "v", "strain")
    pixel_order: str = "rgb"
    normalisation: str = "unknown"
    labels: str = "megc2019"
    label_map: Mapping[str, str] = field(default_factory=dict)
    db_map: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    feature_name: str | None = None
    train_dir: str = "train"
    test_dir: str = "test"

    def __post_init__(self) -> None:
        if self.pixel_order not in PIXEL_ORDERS:
            raise ConfigError(f"--pixel-order {self.pixel_order!r}: choose one of {', '.join(PIXEL_ORDERS)}")
        if self.normalisation not in NORMALISATIONS:
            raise ConfigError(f"--normalisation {self.normalisation!r}: choose one of {', '.join(NORMALISATIONS)}")
        if self.labels not in LABEL_TARGETS:
            raise ConfigError(f"--labels {self.labels!r}: choose one of {', '.join(LABEL_TARGETS)}")
        if not self.channels or len(set(self.channels)) != len(self.channels) or not all(self.channels):
            raise ConfigError(f"--channels {','.join(self.channels)!r}: give distinct, non-empty names")
        unknown = sorted(set(self.db_map.values()) - set(DATABASES))
        if unknown:
            raise ConfigError(f"--db-map maps to {unknown[0]!r}, which is not an occmer database; "
                              f"occmer's names: {', '.join(sorted(DATABASES))}")

    def resolved_label_map(self) -> dict[str, str]:
        return {**DEFAULT_LABEL_MAPS[self.labels], **{str(k): v for k, v in self.label_map.items()}}


@dataclass
class SampleRow:
    """One CSV row, resolved: where it came from and what it becomes in /samples."""

    line: int  # 1-based line in the CSV (header = line 1)
    database: str
    subject: str  # without the database prefix, as in the release
    clip: str
    label: str  # the scheme's class name
    raw_label: str

    @property
    def key(self) -> str:
        """How the releases name a sample's image: `<subject>_<clip>`."""
        return f"{self.subject}_{self.clip}"

    @property
    def sample_id(self) -> str:
        return sanitise_id(f"{self.database}_{self.subject}_{self.clip}")


@dataclass
class ImportResult:
    out: Path
    n_samples: int
    feature: str
    channels: list[str]
    notes: list[str]


# ---------------------------------------------------------------- the CSV


def _pick_columns(header: Sequence[str], requested: Mapping[str, str], path: Path) -> dict[str, str]:
    chosen = {}
    for role, aliases in COLUMN_ALIASES.items():
        if role in requested:
            if requested[role] not in header:
                raise DataError(f"{path}: --columns {role}={requested[role]}: no such column (columns: "
                                f"{', '.join(header)})")
            chosen[role] = requested[role]
            continue
        found = [h for h in header if h.strip().lower() in aliases]
        if not found:
            raise DataError(f"{path}: no {role} column (looked for {', '.join(aliases)}; columns: "
                            f"{', '.join(header)}); name it with --columns {role}=COLUMN")
        chosen[role] = found[0]
    return chosen


def read_rows(path: Path, options: ImportOptions) -> list[SampleRow]:
    """The CSV's rows with databases mapped, labels mapped to the scheme; errors name the line."""
    path = Path(path)
    try:
        text = decode_text(path.read_bytes(), path)  # the encodings the database sheets accept (cp1252, UTF-16)
        reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
        header = list(reader.fieldnames or [])
        records = list(reader)
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the CSV ({exc})") from exc
    if not records:
        raise DataError(f"{path}: no rows under the header")
    cols = _pick_columns(header, options.columns, path)
    label_map = options.resolved_label_map()
    rows: list[SampleRow] = []
    unknown_db: dict[str, int] = {}
    for number, record in enumerate(records, start=2):
        values = {role: (record.get(col) or "").strip() for role, col in cols.items()}
        empty = [role for role, value in values.items() if not value]
        if empty:
            raise DataError(f"{path}, line {number}: empty {', '.join(empty)}")
        database = options.db_map.get(values["database"], values["database"])
        if database not in DATABASES:
            unknown_db.setdefault(values["database"], number)
            continue
        subject = values["subject"]
        prefix = f"{database}/"
        subject = subject[len(prefix):] if subject.startswith(prefix) else subject
        rows.append(SampleRow(number, database, subject, values["clip"],
                              _map_label(values["label"], label_map, options.labels, path, number),
                              values["label"]))
    if unknown_db:
        listing = ", ".join(f"{name!r} (first on line {line})" for name, line in unknown_db.items())
        hint = " ".join(f"--db-map {name}=NAME" for name in unknown_db)
        raise DataError(
            f"{path}: database {listing} is not an occmer database name; occmer's names: "
            f"{', '.join(sorted(DATABASES))}. Say which one is meant with {hint} (e.g. --db-map smic=smic-hs): "
            "occmer does not guess, since a wrong name drops the clips from a protocol's selection"
        )
    seen: dict[str, int] = {}
    for row in rows:
        if row.sample_id in seen:
            raise DataError(f"{path}, line {row.line}: {row.database} subject {row.subject} clip {row.clip} is "
                            f"already on line {seen[row.sample_id]}")
        seen[row.sample_id] = row.line
    return rows


def _map_label(raw: str, label_map: Mapping[str, str], scheme: str, path: Path, line: int) -> str:
    label = label_map.get(raw, raw)
    if scheme == "megc2019":
        label = normalise_emotion(label)
        valid: Sequence[str] = COMPOSITE_CLASSES
    elif scheme == "objective":
        valid = OBJECTIVE_CLASSES
    else:
        if raw not in label_map and raw.strip().lstrip("+-").isdigit():
            known = ", ".join(f"{k}={v}" for k, v in label_map.items()) or "none given"
            raise DataError(f"{path}, line {line}: label code {raw!r} is not in the label map ({known}), so it "
                            f"names no {scheme} class; map it with --label-map {raw}=CLASS")
        return normalise_emotion(label)
    if label not in valid:
        known = ", ".join(f"{k}={v}" for k, v in label_map.items()) or "none"
        raise DataError(f"{path}, line {line}: label {raw!r} is not a {scheme} class ({', '.join(valid)}; "
                        f"label map: {known}); map it with --label-map {raw}=CLASS")
    return label


# ---------------------------------------------------------------- images


def read_image(path: Path, options: ImportOptions) -> np.ndarray:
    """(C, H, W) float32 planes named by options.channels, in that order."""
    buffer = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image")
    if image.dtype != np.uint8:
        raise DataError(f"{path}: {image.dtype} pixels; only 8-bit images are imported (use the npy layout)")
    if image.ndim == 2:
        planes = image[None]
    elif image.shape[2] == 3:
        planes = image[:, :, ::-1].transpose(2, 0, 1)  # cv2 decodes BGR: planes in R, G, B order
        if options.pixel_order == "bgr":
            planes = planes[::-1]
    else:
        raise DataError(f"{path}: {image.shape[2]} colour planes; expected gray or 3-channel images")
    if planes.shape[0] != len(options.channels):
        raise DataError(f"{path}: {planes.shape[0]} planes but --channels names {len(options.channels)} "
                        f"({', '.join(options.channels)})")
    if planes.shape[1] != planes.shape[2]:
        raise DataError(f"{path}: {planes.shape[2]}x{planes.shape[1]} image; feature grids must be square")
    return np.ascontiguousarray(planes, dtype=np.float32)


def _image_key(path: Path) -> str:
    return path.stem.strip()


def index_images(folder: Path) -> dict[str, Path]:
    """`<subject>_<clip>` -> image file in one folder (trailing spaces of the stem ignored)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    index: dict[str, Path] = {}
    root = folder.resolve()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not path.is_file():
            raise DataError(f"{path}: not a regular file")
        if not path.resolve().is_relative_to(root):
            raise DataError(f"{path}: a link to {path.resolve()}, outside {folder}; copy the file in instead")
        key = _image_key(path)
        if key in index:
            raise DataError(f"{folder}: {index[key].name!r} and {path.name!r} both name sample {key!r}")
        index[key] = path
    return index


def _stack(images: Sequence[np.ndarray], paths: Sequence[Path]) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        first = images[0].shape
        odd = next(p for im, p in zip(images, paths, strict=True) if im.shape != first)
        raise DataError(f"{odd}: shape {dict(zip('CHW', images[list(paths).index(odd)].shape, strict=True))} "
                        f"differs from {paths[0]} {dict(zip('CHW', first, strict=True))}")
    return np.stack(images)


def _unlisted_error(csv_path: Path, where: Path, extra: Sequence[str]) -> DataError:
    return DataError(f"{where}: {len(extra)} image(s) have no row in {csv_path} (first: {sorted(extra)[:3]}); "
                     "add their rows, or move them out of the folder")


def load_flat(folder: Path, rows: Sequence[SampleRow], csv_path: Path, options: ImportOptions
              ) -> tuple[np.ndarray, list[str]]:
    index = index_images(folder)
    paths = []
    for row in rows:
        if row.key not in index:
            raise DataError(f"{csv_path}, line {row.line}: no image {row.key}.<png|jpg|bmp> in {folder}")
        paths.append(index[row.key])
    extra = sorted(set(index) - {r.key for r in rows})
    if extra:
        raise _unlisted_error(csv_path, folder, extra)
    data = _stack([read_image(p, options) for p in paths], paths)
    return data, [f"{len(rows)} images read from {folder}"]


def _is_maps_folder(stems: set[str]) -> bool:
    """True when every image is `<key>` or `<key>_1/_2/_3` and each key has all four."""
    keys = {s for s in stems if not any(s.endswith(x) and s[: -len(x)] in stems for x in MAP_SUFFIXES[1:])}
    return bool(keys) and all(f"{k}{x}" in stems for k in keys for x in MAP_SUFFIXES) and \
        len(stems) == len(keys) * len(MAP_SUFFIXES)


def load_maps(folder: Path, rows: Sequence[SampleRow], csv_path: Path, options: ImportOptions
              ) -> tuple[np.ndarray, list[str]]:
    """(N, 4*C, S, S): each row's four maps `<key>`, `<key>_1`, `<key>_2`, `<key>_3` stacked on the channels."""
    index = index_images(folder)
    images, paths, used = [], [], set()
    for row in rows:
        planes = []
        for suffix in MAP_SUFFIXES:
            key = f"{row.key}{suffix}"
            if key not in index:
                raise DataError(f"{csv_path}, line {row.line}: no map {key}.<png|jpg|bmp> in {folder} (the maps "
                                f"layout needs {', '.join(row.key + x for x in MAP_SUFFIXES)})")
            planes.append(read_image(index[key], options))
            used.add(key)
        _stack(planes, [index[f"{row.key}{x}"] for x in MAP_SUFFIXES])
        images.append(np.concatenate(planes))
        paths.append(index[row.key])
    extra = sorted(set(index) - used)
    if extra:
        raise _unlisted_error(csv_path, folder, extra)
    return _stack(images, paths), [f"{len(rows)} samples x {len(MAP_SUFFIXES)} maps read from {folder}"]


def _split_dirs(subject_dir: Path, options: ImportOptions, source: Path) -> tuple[list[Path], list[Path]]:
    dirs = _folders_inside(subject_dir, source)
    train = [p for p in dirs if options.train_dir in p.name.lower()]
    test = [p for p in dirs if options.test_dir in p.name.lower()]
    other = [p for p in dirs if p not in train and p not in test]
    if not test or other:
        raise DataError(f"{subject_dir}: expected <train dir>/ and <test dir>/ folders (names containing "
                        f"{options.train_dir!r} / {options.test_dir!r}: --train-dir/--test-dir), found "
                        f"{[p.name for p in dirs]}")
    return train, test


def _folders_inside(parent: Path, source: Path, skip_hidden: bool = False) -> list[Path]:
    """The sub-folders of `parent`, sorted; DataError for one that is a symlink leading out of `source`
    (as for linked images: only what lies inside SOURCE is read)."""
    folders = sorted(p for p in parent.iterdir() if p.is_dir() and not (skip_hidden and p.name.startswith(".")))
    for folder in folders:
        real = folder.resolve()
        if not real.is_relative_to(source):
            raise DataError(f"{folder}: a link to {real}, outside {source}; copy the folder in instead")
    return folders


def load_loso(root: Path, rows: Sequence[SampleRow], csv_path: Path, options: ImportOptions
              ) -> tuple[np.ndarray, list[str]]:
    """The test copy of every sample, after checking every copy (test and train) is identical."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    label_map = options.resolved_label_map()
    by_key = {r.key: r for r in rows}
    copies: dict[str, list[tuple[Path, bool]]] = defaultdict(list)  # key -> [(path, is_test)]
    source = root.resolve()
    folds = _folders_inside(root, source, skip_hidden=True)
    if not folds:
        raise DataError(f"{root}: no subject folders")
    for fold in folds:
        train, test = _split_dirs(fold, options, source)
        for split in train + test:
            for class_dir in _folders_inside(split, source):
                for key, path in index_images(class_dir).items():
                    row = by_key.get(key)
                    if row is None:
                        raise _unlisted_error(csv_path, class_dir, [key])
                    folder_label = _map_label(class_dir.name, label_map, options.labels, csv_path, row.line)
                    if folder_label != row.label:
                        raise DataError(f"{path}: in class folder {class_dir.name!r} ({folder_label}) but "
                                        f"{csv_path}, line {row.line} says {row.raw_label!r} ({row.label})")
                    is_test = split in test
                    if is_test and fold.name != row.subject:
                        raise DataError(f"{path}: a test image of held-out subject {fold.name} but {csv_path}, "
                                        f"line {row.line} gives subject {row.subject}")
                    if not is_test and fold.name == row.subject:
                        raise DataError(f"{path}: subject {row.subject}'s own sample in the training folder of "
                                        "its own fold (the tree leaks test data)")
                    copies[key].append((path, is_test))
    images, paths, n_copies = [], [], []
    n_folds = len(folds)
    for row in rows:
        found = copies.get(row.key, [])
        tests = [p for p, is_test in found if is_test]
        if len(tests) != 1:
            raise DataError(f"{csv_path}, line {row.line}: sample {row.key} is in {len(tests)} test folders of "
                            f"{root} (expected exactly one, under {row.subject}/)")
        reference = read_image(tests[0], options)
        for path, _ in found:
            if path != tests[0] and not np.array_equal(read_image(path, options), reference):
                raise DataError(f"{path} differs from {tests[0]}: the copies of sample {row.key} are not identical")
        if len(found) != n_folds:
            raise DataError(f"{csv_path}, line {row.line}: sample {row.key} has {len(found)} copies in {root}, "
                            f"expected {n_folds} (one test copy and one per other fold)")
        images.append(reference)
        paths.append(tests[0])
        n_copies.append(len(found))
    note = (f"{len(rows)} samples read from {n_folds} folds of {root}; every sample has {n_copies[0]} copies "
            f"(1 test + {n_copies[0] - 1} train), all pixel-identical")
    return _stack(images, paths), [note]


def load_npy(path: Path, rows: Sequence[SampleRow], csv_path: Path, options: ImportOptions
             ) -> tuple[np.ndarray, list[str]]:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy array without pickled objects ({exc})") from exc
    if array.ndim != 4 or array.shape[2] != array.shape[3]:
        raise DataError(f"{path}: shape {array.shape}; expected (N, C, S, S)")
    if array.dtype.kind not in "uif":
        raise DataError(f"{path}: dtype {array.dtype}; expected numbers")
    if array.shape[0] != len(rows):
        raise DataError(f"{path}: {array.shape[0]} rows but {csv_path} has {len(rows)} (row i of the array is "
                        "the i-th data line of the CSV)")
    if array.shape[1] != len(options.channels):
        raise DataError(f"{path}: {array.shape[1]} channels but --channels names {len(options.channels)}")
    data = np.asarray(array, dtype=np.float32)
    bad = ~np.isfinite(data).reshape(len(data), -1).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: row {i} ({csv_path}, line {rows[i].line}) holds NaN or infinite values")
    return data, [f"{len(rows)} rows read from {path}"]


def detect_layout(source: Path) -> str:
    if source.is_file() and source.suffix == ".npy":
        return "npy"
    if source.is_dir():
        images = [p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            return "maps" if _is_maps_folder({_image_key(p) for p in images}) else "flat"
        return "loso"
    raise DataError(f"{source}: neither a folder nor a .npy file; pass --layout")


# ---------------------------------------------------------------- the file


@dataclass(frozen=True)
class Provenance:
    """What an `occmer export` recorded about its source (export.json beside the CSV): the occluder
    and each sample's occlusion ratio, carried into the imported file so an exported glasses
    condition does not come back as occluder "none"."""

    occluder: Mapping[str, Any]
    occlusion_ratio: Mapping[str, float]
    source: str = ""


NO_PROVENANCE = Provenance({"name": "none", "spec": "none"}, {})


def read_provenance(csv_path: Path) -> Provenance:
    """The provenance in the export.json beside `csv_path`, or none when there is no such file."""
    info_path = csv_path.parent / "export.json"
    if not info_path.is_file():
        return NO_PROVENANCE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{info_path}: cannot read it as JSON ({exc}); fix or remove it") from exc
    if not isinstance(info, dict) or info.get("format") != "occmer-export" or "provenance" not in info:
        return NO_PROVENANCE  # not ours, or an export from before provenance was recorded
    given = info["provenance"]
    occluder = given.get("occluder") if isinstance(given, dict) else None
    ratios = given.get("occlusion_ratio") if isinstance(given, dict) else None
    if (not isinstance(occluder, dict) or not isinstance(occluder.get("spec"), str) or not isinstance(ratios, dict)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0
                       for v in ratios.values())):
        raise DataError(f"{info_path}: 'provenance' must hold an occluder (with a spec) and occlusion ratios "
                        "in [0, 1] per database/subject/clip; fix or remove it")
    return Provenance(occluder, {str(k): float(v) for k, v in ratios.items()}, str(info_path))


def sample_rows(rows: Sequence[SampleRow], scheme: str, provenance: Provenance = NO_PROVENANCE) -> list[dict[str, Any]]:
    """/samples rows: labels in the scheme's column (composite, emotion or objective_class)."""
    out = []
    for row in rows:
        emotion = row.label if scheme == "emotion" else ""
        composite = row.label if scheme == "megc2019" else composite_label(row.database, emotion) if emotion else ""
        out.append({
            "sample_id": row.sample_id, "database": row.database, "subject": f"{row.database}/{row.subject}",
            "filename": row.clip, "emotion": emotion,
            "objective_class": row.label if scheme == "objective" else "", "composite": composite,
            "action_units": "", "apex_source": "", "objective_source": "given" if scheme == "objective" else "",
            "fixes": "[]", "onset": 0, "apex": 0, "offset": 0, "n_frames": 0,
            "occlusion_ratio": provenance.occlusion_ratio.get(
                provenance_key(row.database, row.subject, row.clip), 0.0),
        })
    return out


def import_inputs(source: Path, csv_path: Path, out: Path, options: ImportOptions, layout: str | None = None,
                  overwrite: bool = False, splits: SplitMaker | None = None) -> ImportResult:
    """Read `source` (flat folder, LOSO tree or .npy) with the CSV and write an occmer file to `out`.

    `splits` (occmer.protocols.splits.compute_splits; the CLI passes it) writes /splits at assembly.
    """
    source, csv_path, out = Path(source), Path(csv_path), Path(out)
    if out.resolve() in (source.resolve(), csv_path.resolve()):
        raise ConfigError(f"--out {out} would replace an input")
    layout = layout or detect_layout(source)
    if layout not in LAYOUTS:
        raise ConfigError(f"--layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    rows = read_rows(csv_path, options)
    if options.labels == "megc2019":
        check_official_labels(rows, csv_path)
    loader = {"flat": load_flat, "maps": load_maps, "loso": load_loso, "npy": load_npy}[layout]
    data, notes = loader(source, rows, csv_path, options)
    provenance = read_provenance(csv_path)
    if provenance.source:
        notes.append(f"occluder {provenance.occluder['spec']} and occlusion ratios from {provenance.source}")
    channels = map_channel_names(options.channels) if layout == "maps" else list(options.channels)
    size = int(data.shape[-1])
    name = options.feature_name or f"imported_{size}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", name):
        raise ConfigError(f"--feature-name {name!r}: use letters, digits, _ . + -")
    settings = {
        "layout": layout, "source": str(source), "csv": str(csv_path), "channels": channels,
        "pixel_order": options.pixel_order, "normalisation": options.normalisation, "labels": options.labels,
        "label_map": options.resolved_label_map(), "db_map": dict(options.db_map),
        "columns": dict(options.columns), "feature": name,
        **({"provenance": provenance.source} if provenance.source else {}),
    }
    feature_attrs = {
        "method": "imported", "normalisation": options.normalisation,
        "normalisation_doc": NORMALISATIONS[options.normalisation],
        "params": to_json({"layout": layout, "pixel_order": options.pixel_order}),
        "source": "values as read from the imported files (images: 8-bit pixel values 0..255), not rescaled",
        "frame_pair": "unknown (computed by the producer of the imported inputs)",
    }
    databases = sorted({r.database for r in rows})
    attrs = {
        "database": ",".join(databases), "occluder": to_json(dict(provenance.occluder)), "seed": 0,
        "command": " ".join(shlex.quote(a) for a in sys.argv), "settings": to_json(settings),
        "skipped": "[]", "invalid": "[]", "imported_from": str(source),
    }
    write_feature_file(out, sample_rows(rows, options.labels, provenance),
                       ImportedFeatures(name, data, channels, feature_attrs), attrs, overwrite, splits=splits)
    return ImportResult(out, len(rows), name, channels, notes)


def check_official_labels(rows: Sequence[SampleRow], csv_path: Path) -> None:
    """A MEGC 2019 label that contradicts the official list is an error naming the CSV line.

    Clips the list does not hold are allowed here (bench reports the membership and refuses a
    partial protocol); a listed clip with another label would train and score on a wrong class.
    """
    from occmer.official import official_list

    listed = official_list("megc2019")
    for row in rows:
        official = listed.label(row.database, row.subject, row.clip)
        if official and official != row.label:
            raise DataError(
                f"{csv_path}:{row.line}: {row.database}/{row.subject}/{row.clip} is labelled {row.label!r} "
                f"({row.raw_label}) but the official MEGC 2019 list says {official!r}; check --label-map "
                "(default 0=negative, 1=positive, 2=surprise) or the CSV"
            )


def parse_pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """`A=B` values (repeatable or comma-separated) -> dict."""
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            key, sep, target = part.partition("=")
            if not sep or not key.strip() or not target.strip():
                raise ConfigError(f"{option} {part!r}: write FROM=TO, e.g. {option} smic=smic-hs")
            out[key.strip()] = target.strip()
    return out
