"""The checks every reader of an occmer file runs, shared by `OccmerFile` and `occmer verify`.

An occmer file is untrusted input (files travel between labs). Each check looks only at
metadata (links, shapes, dtypes, attributes) before any array is read, so a hostile file can
neither point occmer at another file (external storage, virtual datasets, external or soft
links) nor make it allocate what the file merely claims (a frames dataset of 200000 frames).
Every function returns problems as one-line strings naming the dataset or sample; none raises
on a malformed file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from occmer.store import schema

# Sane limits, checked before anything is allocated. Far above any real ME database
# (the longest clips are a few hundred frames of a 224 px crop), far below a machine's memory.
MAX_ROWS = 1_000_000
MAX_FRAMES = 20_000
MAX_SIDE = 4096
MAX_LANDMARKS = 10_000
MAX_CHANNELS = 64
MAX_FEATURE_SIDE = 1024
MAX_READ_BYTES = 2 << 30
MAX_OBJECTS = 10_000_000
MAX_DEPTH = 32

FEATURES_ONLY = "features"
CONTENTS = ("clips", FEATURES_ONLY, schema.LONG_VIDEOS)
ROOT_JSON_ATTRS = ("occluder", "settings", "skipped", "invalid")
FEATURE_JSON_ATTRS = ("channels", "params", "spec")
OPTIONAL_STRING_COLUMNS = ("objective_source", "fixes", "offset_source")  # v1 extensions: "" when absent


class Bad(Exception):
    """A problem found while checking; its message is the one-line report."""


# ---------------------------------------------------------------- values


def text(value: Any) -> str | None:
    """A string attribute as str (h5py gives str or bytes), None for anything else."""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "OSU":
        value = value[()]
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(value) if isinstance(value, str) else None


def plain(value: Any) -> Any:
    """numpy scalars and bytes as Python values (for printing and JSON)."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def attr(obj: h5py.HLObject, key: str, where: str) -> Any:
    """One attribute, or Bad when it cannot be read (an unknown type, a broken heap)."""
    try:
        return obj.attrs.get(key)
    except Exception as exc:  # h5py raises OSError, TypeError, ValueError... for odd types
        raise Bad(f"{where}: attribute {key!r} cannot be read ({type(exc).__name__}: {exc})") from None


def json_attr(obj: h5py.HLObject, key: str, where: str, default: Any = None) -> Any:
    """A JSON-valued attribute parsed, or Bad naming it."""
    value = attr(obj, key, where)
    if value is None:
        return default
    raw = text(value)
    if raw is None:
        raise Bad(f"{where}: attribute {key!r} must be a JSON string, got {type(plain(value)).__name__}")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Bad(f"{where}: attribute {key!r} is not valid JSON ({str(exc)[:80]})") from None


def decode_strings(values: np.ndarray, where: str) -> list[str]:
    """h5py string datasets come back as bytes or str: always str, Bad if not UTF-8."""
    try:
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
    except UnicodeDecodeError as exc:
        raise Bad(f"{where}: strings are not UTF-8 ({exc})") from None


# ---------------------------------------------------------------- links and storage


def child(group: h5py.Group, name: str, where: str) -> h5py.HLObject | None:
    """A member reached through a hard link only (None when absent); links elsewhere are Bad."""
    try:
        link = group.get(name, getlink=True)
    except Exception as exc:
        raise Bad(f"{where}: link cannot be read ({type(exc).__name__}: {exc})") from None
    if link is None:
        return None
    if isinstance(link, h5py.SoftLink):
        raise Bad(f"{where}: soft link to {link.path!r}; occmer files hold no links (rewrite the file)")
    if isinstance(link, h5py.ExternalLink):
        raise Bad(f"{where}: external link to {link.filename}:{link.path}; an occmer file must hold its own data")
    if not isinstance(link, h5py.HardLink):
        raise Bad(f"{where}: link of unknown kind {type(link).__name__}")
    try:
        return group[name]
    except Exception as exc:
        raise Bad(f"{where}: cannot be opened ({type(exc).__name__}: {exc})") from None


def storage_problem(dataset: h5py.Dataset, where: str) -> str | None:
    """Why a dataset's bytes may not live in this file (virtual or external storage), else None."""
    try:
        if dataset.is_virtual:
            return f"{where}: virtual dataset (maps data from other files); an occmer file must hold its own data"
        external = dataset.external
    except Exception as exc:
        return f"{where}: storage cannot be inspected ({type(exc).__name__}: {exc})"
    if external:
        return f"{where}: data stored in external file {plain(external[0][0])!r}; an occmer file must hold its own data"
    return None


def _member(group: h5py.Group, name: str, where: str, required: bool, kind: type) -> h5py.HLObject | None:
    obj = child(group, name, where)
    if obj is None:
        if required:
            raise Bad(f"{where}: {kind.__name__.lower()} missing")
        return None
    if not isinstance(obj, kind):
        raise Bad(f"{where}: expected a {kind.__name__.lower()}, found a {type(obj).__name__.lower()}")
    return obj


def dataset(group: h5py.Group, name: str, where: str, required: bool = True) -> h5py.Dataset | None:
    """A dataset stored in this file, reached by a hard link; Bad when missing (if required) or unsafe."""
    obj = _member(group, name, where, required, h5py.Dataset)
    problem = storage_problem(obj, where) if obj is not None else None
    if problem:
        raise Bad(problem)
    return obj


def subgroup(group: h5py.Group, name: str, where: str, required: bool = True) -> h5py.Group | None:
    """A group reached by a hard link; Bad when missing (if required) or not a group."""
    return _member(group, name, where, required, h5py.Group)


def link_problems(f: h5py.File) -> list[str]:
    """Every soft or external link, virtual dataset and externally stored dataset in the file.

    Uses HDF5's own traversal (H5Lvisit, H5Ovisit): it follows hard links only and visits each
    object once, so link loops and hard-link cycles end. Each dataset's creation properties are
    read (layout, external file list); no data is.
    """
    problems: list[str] = []
    datasets: list[bytes] = []
    count = 0

    def on_link(name: bytes, info: h5py.h5l.LinkInfo) -> int | None:
        nonlocal count
        count += 1
        where = "/" + name.decode("utf-8", errors="replace")
        if count > MAX_OBJECTS:
            problems.append(f"more than {MAX_OBJECTS} links; not an occmer file")
            return 1
        if name.count(b"/") >= MAX_DEPTH:
            problems.append(f"{where}: groups nested deeper than {MAX_DEPTH}; not an occmer file")
            return 1
        if info.type == h5py.h5l.TYPE_HARD:
            return None
        try:
            target = f.id.links.get_val(name)
        except Exception:
            target = "?"
        if info.type == h5py.h5l.TYPE_SOFT:
            problems.append(f"{where}: soft link to {plain(target)!r}; occmer files hold no links (rewrite the file)")
        elif info.type == h5py.h5l.TYPE_EXTERNAL:
            file, path = (plain(t) for t in target) if isinstance(target, tuple) else (target, "")
            problems.append(f"{where}: external link to {file}:{path}; an occmer file must hold its own data")
        else:
            problems.append(f"{where}: link of unknown kind {info.type}; occmer files hold hard links only")
        return None

    def on_object(name: bytes, info: h5py.h5o.ObjInfo) -> None:
        if info.type == h5py.h5o.TYPE_DATASET:
            datasets.append(name)

    try:
        f.id.links.visit(on_link, info=True)
        if count > MAX_OBJECTS or any("nested deeper" in p for p in problems):
            return problems  # the walk stopped early: not an occmer file
        h5py.h5o.visit(f.id, on_object, info=True)
    except Exception as exc:
        problems.append(f"the file's links cannot be walked ({type(exc).__name__}: {exc})")
        return problems
    for name in datasets:
        where = "/" + name.decode("utf-8", errors="replace")
        try:
            plist = h5py.h5d.open(f.id, name).get_create_plist()
            virtual = plist.get_layout() == h5py.h5d.VIRTUAL
            external = plist.get_external_count() > 0
            first = plist.get_external(0)[0] if external else b""
        except Exception as exc:
            problems.append(f"{where}: storage cannot be inspected ({type(exc).__name__}: {exc})")
            continue
        if virtual:
            problems.append(f"{where}: virtual dataset (maps data from other files); an occmer file must hold its own data")
        elif external:
            problems.append(
                f"{where}: data stored in external file {plain(first)!r}; an occmer file must hold its own data"
            )
    return problems


# ---------------------------------------------------------------- root attributes


@dataclass(frozen=True)
class Header:
    """What the root attributes say, once checked."""

    complete: bool
    contents: str  # "clips" (synthesized) or "features" (no frames)


def header(f: h5py.File, require_complete: bool) -> Header:
    """The checked root attributes; Bad for the first problem (exact types: complete is a bool)."""
    fmt = attr(f, "format", "root")
    if text(fmt) != schema.FORMAT_NAME:
        raise Bad(f"not an occmer file (root attribute format={plain(fmt)!r})")
    version = attr(f, "schema_version", "root")
    if not is_int(version):
        raise Bad(f"root attribute schema_version must be an integer, got {plain(version)!r}")
    if int(version) != schema.SCHEMA_VERSION:
        raise Bad(f"schema_version {int(version)}; this occmer reads version {schema.SCHEMA_VERSION}")
    complete = attr(f, "complete", "root")
    if not is_bool(complete):
        raise Bad(f"root attribute complete must be a boolean, got {plain(complete)!r}; the file was not written by occmer")
    if require_complete and not bool(complete):
        raise Bad("incomplete (complete=False): the run that wrote it did not finish")
    contents = attr(f, "contents", "root")
    contents_text = "clips" if contents is None else text(contents)
    if contents_text not in CONTENTS:
        raise Bad(f"root attribute contents must be one of {', '.join(CONTENTS)}, got {plain(contents)!r}")
    return Header(bool(complete), contents_text)


def root_json_problems(f: h5py.File) -> list[str]:
    """Root attributes that must hold JSON (skipped/invalid: lists of {sample_id, reason})."""
    problems = []
    for key in ROOT_JSON_ATTRS:
        try:
            value = json_attr(f, key, "root")
        except Bad as exc:
            problems.append(str(exc))
            continue
        if key in ("skipped", "invalid") and value is not None:
            if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
                problems.append(f"root: attribute {key!r} must be a JSON list of {{sample_id, reason}} objects")
    return problems


# ---------------------------------------------------------------- /samples


def _column_kind(column: str) -> str:
    if column in schema.INT_COLUMNS:
        return "int"
    if column in schema.FLOAT_COLUMNS:
        return "float"
    return "str"


def _kind_ok(ds: h5py.Dataset, kind: str) -> bool:
    dtype = ds.dtype
    if kind == "str":
        return h5py.check_string_dtype(dtype) is not None
    if kind == "int":
        return dtype.kind in "iu"
    return dtype.kind in "iuf"


def samples_table(f: h5py.File) -> dict[str, np.ndarray | list[str]]:
    """Every /samples column checked (1-D, dtype, one length) and read; Bad for the first problem.

    Unknown extra columns are kept when they are 1-D numbers or strings of the same length
    and ignored otherwise (forward compatibility).
    """
    group = subgroup(f, schema.SAMPLES, f"/{schema.SAMPLES}")
    columns: dict[str, h5py.Dataset] = {}
    for column in schema.SAMPLE_COLUMNS:
        where = f"/{schema.SAMPLES}/{column}"
        ds = dataset(group, column, where, required=column not in OPTIONAL_STRING_COLUMNS)
        if ds is None:
            continue
        kind = _column_kind(column)
        if ds.ndim != 1 or not _kind_ok(ds, kind):
            raise Bad(f"{where}: expected a 1-D {kind} column, got {ds.dtype} {ds.shape}")
        if ds.shape[0] > MAX_ROWS:
            raise Bad(f"{where}: {ds.shape[0]} rows (limit {MAX_ROWS})")
        columns[column] = ds
    lengths = {name: ds.shape[0] for name, ds in columns.items()}
    if len(set(lengths.values())) > 1:
        raise Bad(f"/{schema.SAMPLES} columns differ in length: {lengths}")
    n = lengths["sample_id"]
    for name in sorted(set(group) - set(columns)):
        try:
            ds = dataset(group, name, f"/{schema.SAMPLES}/{name}")
        except Bad:
            continue  # the link walk reports unsafe ones; unknown ones are ignored
        if ds.ndim == 1 and ds.shape[0] == n and (ds.dtype.kind in "biuf" or h5py.check_string_dtype(ds.dtype)):
            columns[name] = ds
    table: dict[str, np.ndarray | list[str]] = {}
    for name, ds in columns.items():
        where = f"/{schema.SAMPLES}/{name}"
        try:
            values = ds[()]
        except Exception as exc:
            raise Bad(f"{where}: cannot be read ({type(exc).__name__}: {exc})") from None
        table[name] = decode_strings(values, where) if h5py.check_string_dtype(ds.dtype) else values
    for name in OPTIONAL_STRING_COLUMNS:
        table.setdefault(name, [""] * n)
    return table


def sample_problems(table: dict[str, np.ndarray | list[str]], contents: str) -> list[str]:
    """Row-level problems of a /samples table: ids, frame counts, occlusion ratios."""
    ids = list(table["sample_id"])
    problems = []
    counts: dict[str, int] = {}
    for sid in ids:
        counts[sid] = counts.get(sid, 0) + 1
    dup = [sid for sid, k in counts.items() if k > 1]
    if dup:
        problems.append(f"/samples/sample_id: duplicate sample ids: {', '.join(repr(s) for s in dup[:5])}")
    bad = [s for s in ids if not valid_sample_id(s)]
    if bad:
        problems.append(
            f"/samples/sample_id: invalid sample ids (empty, '.', '..', non-printable ASCII or containing '/'): "
            f"{', '.join(repr(s) for s in bad[:5])}"
        )
    n_frames = np.asarray(table["n_frames"])
    if contents == FEATURES_ONLY:
        if np.any(n_frames != 0):
            problems.append("/samples/n_frames: must be 0 in a file without frames (contents='features')")
    else:
        out = [ids[i] for i in np.flatnonzero((n_frames < 1) | (n_frames > MAX_FRAMES))]
        if out:
            problems.append(f"sample {out[0]}: /samples/n_frames must be in 1..{MAX_FRAMES} ({len(out)} rows outside)")
    ratio = np.asarray(table["occlusion_ratio"], dtype=np.float64)
    wrong = np.flatnonzero(~np.isfinite(ratio) | (ratio < 0) | (ratio > 1))
    if wrong.size:
        problems.append(f"sample {ids[wrong[0]]}: /samples/occlusion_ratio {ratio[wrong[0]]} outside [0, 1]")
    return problems


def valid_sample_id(sid: str) -> bool:
    """Usable as an HDF5 group name: non-empty printable ASCII, no '/', not '.' or '..'."""
    return bool(sid) and sid not in (".", "..") and "/" not in sid and sid.isascii() and sid.isprintable()


# ---------------------------------------------------------------- /clips


@dataclass(frozen=True)
class ClipLayout:
    """The checked shapes of one clip's datasets (nothing read but frame_numbers)."""

    frames: h5py.Dataset
    occlusion: h5py.Dataset
    landmarks: h5py.Dataset
    frame_numbers: np.ndarray
    group: h5py.Group


def clip_layout(f: h5py.File, sid: str, n_frames: int, keys: dict[str, int]) -> ClipLayout:
    """One clip's datasets checked against /samples and the limits; Bad for the first problem."""
    where = f"clip {sid}"
    clips = subgroup(f, schema.CLIPS, f"/{schema.CLIPS}")
    group = subgroup(clips, sid, f"{where}: /{schema.CLIPS}/{sid}")
    found = {}
    for name in schema.CLIP_DATASETS:
        found[name] = dataset(group, name, f"{where}: /{schema.CLIPS}/{sid}/{name}")
    frames, occ, lm, nums = (found[d] for d in schema.CLIP_DATASETS)
    if frames.ndim != 4 or frames.shape[3] not in (1, 3) or frames.dtype != np.uint8:
        raise Bad(f"{where}: frames must be uint8 (T, H, W, C) with C 1 or 3, got {frames.dtype} {frames.shape}")
    t, h, w, c = frames.shape
    if t != n_frames:
        raise Bad(f"{where}: {t} frames stored but /samples/n_frames says {n_frames}")
    if not 1 <= t <= MAX_FRAMES or not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise Bad(f"{where}: frames {frames.shape} outside the limits (1..{MAX_FRAMES} frames of 1..{MAX_SIDE} px)")
    if t * h * w * c > MAX_READ_BYTES:
        raise Bad(f"{where}: frames {frames.shape} would take {t * h * w * c >> 20} MiB (limit {MAX_READ_BYTES >> 20})")
    if occ.shape != (t, h, w) or occ.dtype != np.uint8:
        raise Bad(f"{where}: occlusion {occ.dtype} {occ.shape}, expected uint8 {(t, h, w)}")
    if lm.ndim != 3 or lm.shape[0] != t or lm.shape[2] != 2 or lm.dtype.kind != "f" or lm.shape[1] > MAX_LANDMARKS:
        raise Bad(f"{where}: landmarks {lm.dtype} {lm.shape}, expected float ({t}, K, 2) with K <= {MAX_LANDMARKS}")
    if nums.shape != (t,) or nums.dtype.kind not in "iu":
        raise Bad(f"{where}: frame_numbers {nums.dtype} {nums.shape}, expected integers ({t},)")
    try:
        numbers = nums[()]
    except Exception as exc:
        raise Bad(f"{where}: frame_numbers cannot be read ({type(exc).__name__}: {exc})") from None
    if t > 1 and np.any(np.diff(numbers) <= 0):
        raise Bad(f"{where}: frame_numbers not strictly increasing")
    stored = set(numbers.tolist())
    for role, number in keys.items():
        if number not in stored:
            raise Bad(f"{where}: {role} frame {number} is not among the stored frame_numbers")
    if not isinstance(json_attr(group, "placement", f"{where}: /{schema.CLIPS}/{sid}", default={}), dict):
        raise Bad(f"{where}: attribute 'placement' must be a JSON object")
    return ClipLayout(frames, occ, lm, numbers, group)


# ---------------------------------------------------------------- /features


@dataclass(frozen=True)
class FeatureLayout:
    """The checked datasets of one complete feature set."""

    name: str
    data: h5py.Dataset
    occlusion: h5py.Dataset | None
    scale: h5py.Dataset | None
    attrs: dict[str, Any]
    channels: list[str]


def feature_groups(f: h5py.File) -> tuple[list[str], list[str]]:
    """(names of the complete feature sets, problems of the others), each sorted."""
    root = subgroup(f, schema.FEATURES, f"/{schema.FEATURES}", required=False)
    if root is None:
        return [], []
    complete, problems = [], []
    for name in sorted(root):
        where = f"/{schema.FEATURES}/{name}"
        if name.startswith("."):
            problems.append(f"{where}: leftover of an interrupted write; rerun `occmer features` on the file")
            continue
        try:
            group = subgroup(root, name, where)
            flag = attr(group, "complete", where)
        except Bad as exc:
            problems.append(str(exc))
            continue
        if flag is not None and not is_bool(flag):
            problems.append(f"{where}: attribute complete must be a boolean, got {plain(flag)!r}")
        elif not flag:
            problems.append(f"{where}: not marked complete; recompute it with `occmer features --overwrite`")
        else:
            complete.append(name)
    return complete, problems


def feature_layout(f: h5py.File, name: str, ids: list[str]) -> FeatureLayout:
    """A feature set's shapes, attributes and row ids checked against /samples; Bad for the first problem."""
    where = f"/{schema.FEATURES}/{name}"
    group = subgroup(subgroup(f, schema.FEATURES, f"/{schema.FEATURES}"), name, where)
    data = dataset(group, "data", f"{where}/data")
    n = len(ids)
    if data.ndim != 4 or data.dtype.kind != "f":
        raise Bad(f"{where}/data: expected float (N, C, S, S), got {data.dtype} {data.shape}")
    rows, c, s, s2 = data.shape
    if rows != n:
        raise Bad(f"{where}/data has {rows} rows, /samples has {n}")
    if s != s2 or not (1 <= s <= MAX_FEATURE_SIDE) or not (1 <= c <= MAX_CHANNELS):
        raise Bad(f"{where}/data: shape {data.shape} outside the limits (square S <= {MAX_FEATURE_SIDE}, C <= {MAX_CHANNELS})")
    if n * c * s * s * 4 > MAX_READ_BYTES:
        raise Bad(f"{where}/data: {data.shape} would take {(n * c * s * s * 4) >> 20} MiB (limit {MAX_READ_BYTES >> 20})")
    occ = dataset(group, "occlusion", f"{where}/occlusion", required=False)
    if occ is not None and (occ.shape != (n, s, s) or occ.dtype.kind != "f"):
        raise Bad(f"{where}/occlusion: expected float {(n, s, s)}, got {occ.dtype} {occ.shape}")
    scale = dataset(group, "scale", f"{where}/scale", required=False)
    if scale is not None and (scale.shape != (n, c) or scale.dtype.kind != "f"):
        raise Bad(f"{where}/scale: expected float {(n, c)}, got {scale.dtype} {scale.shape}")
    if not feature_rows_match(group, where, ids):
        raise Bad(
            f"{where}: rows do not follow /samples (the file changed after the features were computed); "
            "recompute them with `occmer features FILE --overwrite ...`"
        )
    attrs = {}
    for key in group.attrs:
        attrs[key] = plain(attr(group, key, where))
    for key in FEATURE_JSON_ATTRS:
        if key in attrs:
            attrs[key] = json_attr(group, key, where)
    channels = attrs.get("channels")
    if not isinstance(channels, list) or len(channels) != c or not all(isinstance(x, str) for x in channels):
        raise Bad(f"{where}: attribute channels must be a JSON list of {c} names, got {channels!r}")
    return FeatureLayout(name, data, occ, scale, attrs, channels)


def feature_rows_match(group: h5py.Group, where: str, ids: list[str]) -> bool:
    """Whether a feature set's stored row ids equal /samples (sets without ids are taken to follow it)."""
    stored = dataset(group, "sample_id", f"{where}/sample_id", required=False)
    if stored is None:
        return True
    if stored.ndim != 1 or h5py.check_string_dtype(stored.dtype) is None or stored.shape[0] > MAX_ROWS:
        raise Bad(f"{where}/sample_id: expected {len(ids)} strings, got {stored.dtype} {stored.shape}")
    return stored.shape[0] == len(ids) and decode_strings(stored[()], f"{where}/sample_id") == ids


def landmark_problem(values: np.ndarray) -> str | None:
    """Why (T, K, 2) landmarks cannot be used, else None.

    A point a landmark set does not provide (a 68-point file mapped to the 478-point mesh,
    iris points of mediapipe468) is NaN in both coordinates on every frame; anything else must
    be finite. So inf, a half-NaN point, a point NaN on some frames only, or a frame without a
    single point is refused: a NaN where a point should be would spread into every later stage.
    """
    points = np.asarray(values, dtype=np.float64)
    if points.size == 0:
        return None
    if np.isinf(points).any():
        return "landmarks hold infinite values"
    missing = np.isnan(points)
    if np.any(missing[..., 0] != missing[..., 1]):
        return "landmarks hold a point with one coordinate NaN"
    absent = missing[..., 0]
    if np.any(absent != absent[:1]):
        frame = int(np.flatnonzero((absent != absent[:1]).any(axis=1))[0])
        return f"landmarks: frame {frame} has NaN points that other frames have (a point is missing on every frame or on none)"
    if absent[0].all():
        return "landmarks are NaN for every point"
    return None


def head_motion_problem(values: np.ndarray, t: int) -> str | None:
    """Why a clip's head_motion (T, 2, 3 affine transforms onset -> frame t) cannot be used, else None."""
    if values.shape != (t, 2, 3) or values.dtype.kind != "f":
        return f"head_motion {values.dtype} {values.shape}, expected float ({t}, 2, 3)"
    bad = nonfinite_row(values)
    if bad is not None:
        return f"head_motion holds NaN or inf on frame {bad}"
    return None


def nonfinite_row(values: np.ndarray) -> int | None:
    """The first row (axis 0) holding NaN or inf, None when all are finite."""
    bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1) if values.size else np.zeros(0, bool)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None
