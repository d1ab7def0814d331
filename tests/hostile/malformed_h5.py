"""Malformed and hostile occmer HDF5 files, built by code (nothing binary is committed).

`valid_file` writes a small, correct occmer v1 file with plain h5py (independent of occmer's
writer); each function in DEFECTS copies that layout with one defect and returns a `Malformed`
describing what a reader must say. Future tests reuse them:

    from malformed_h5 import DEFECTS, valid_file
    case = DEFECTS["external_storage"](tmp_path)
    # case.path, case.names (text the one-line error must contain), case.secret, case.stage
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

IDS = ("s0", "s1", "s2")
SUBJECTS = ("demo/a", "demo/b", "demo/c")
EMOTIONS = ("happiness", "surprise", "disgust")
T, SIDE, C = 5, 32, 3
FEATURE = "flow_tvl1_28"
FEATURE_SIDE = 28
CHANNELS = ["u", "v", "strain"]
FIRST_FRAME = 10
SECRET = b"TOP-SECRET-OCCMER-PROBE!"  # 24 bytes: tiled into the 'secret' file a hostile file points at

# The stage at which a reader meets a defect: "open" (every reader refuses the file), "clip"
# (reading a clip's arrays refuses), "features" (reading the feature set refuses).
OPEN, CLIP, FEATURES = "open", "clip", "features"


@dataclass(frozen=True)
class Malformed:
    """One hostile file and what a reader must say about it."""

    name: str
    path: Path
    names: str  # text the one-line error (and a verify line) must contain: the dataset or sample
    stage: str  # OPEN, CLIP or FEATURES
    secret: bytes | None = None  # bytes of a file outside this one that must never reach any output


def _strings(group: h5py.Group, name: str, values) -> None:
    group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=h5py.string_dtype("utf-8"))


def write_samples(f: h5py.File, ids=IDS, n_frames: int = T) -> None:
    """The /samples table of IDS (every v1 column)."""
    n = len(ids)
    samples = f.create_group("samples")
    _strings(samples, "sample_id", ids)
    _strings(samples, "database", ["demo"] * n)
    _strings(samples, "subject", [SUBJECTS[i % 3] for i in range(n)])
    _strings(samples, "filename", ids)
    _strings(samples, "emotion", [EMOTIONS[i % 3] for i in range(n)])
    _strings(samples, "objective_class", ["I"] * n)
    _strings(samples, "composite", ["positive"] * n)
    _strings(samples, "action_units", ["12"] * n)
    _strings(samples, "apex_source", ["annotated"] * n)
    _strings(samples, "objective_source", ["given"] * n)
    _strings(samples, "fixes", ["[]"] * n)
    samples.create_dataset("onset", data=np.full(n, FIRST_FRAME, np.int32))
    samples.create_dataset("apex", data=np.full(n, FIRST_FRAME + 2, np.int32))
    samples.create_dataset("offset", data=np.full(n, FIRST_FRAME + T - 1, np.int32))
    samples.create_dataset("n_frames", data=np.full(n, n_frames, np.int32))
    samples.create_dataset("occlusion_ratio", data=np.full(n, 0.25, np.float32))


def write_features(f: h5py.File, ids=IDS, seed: int = 0) -> None:
    """A complete /features/flow_tvl1_28 set (3 channels) following IDS."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    group = f.create_group(f"features/{FEATURE}")
    group.create_dataset("data", data=rng.normal(size=(n, 3, FEATURE_SIDE, FEATURE_SIDE)).astype(np.float32))
    group.create_dataset("occlusion", data=np.zeros((n, FEATURE_SIDE, FEATURE_SIDE), np.float32))
    group.create_dataset("scale", data=np.ones((n, 3), np.float32))
    _strings(group, "sample_id", ids)
    group.attrs.update({"channels": json.dumps(CHANNELS), "params": "{}", "complete": True,
                        "spec": json.dumps({"method": "tvl1", "size": FEATURE_SIDE})})


def _root_attrs(f: h5py.File, contents: str | None = None) -> None:
    f.attrs.update({
        "format": "occmer", "schema_version": 1, "occmer_version": "0.1.0", "database": "demo",
        "occluder": json.dumps({"spec": "block", "options": {}}), "seed": 0,
        "created_utc": "2026-01-01T00:00:00+00:00", "command": "tests/hostile", "complete": True,
        "settings": "{}", "skipped": "[]", "invalid": "[]",
    })
    if contents is not None:
        f.attrs["contents"] = contents


def valid_file(path: Path, seed: int = 0) -> Path:
    """A small correct occmer v1 file: 3 clips of 5 RGB 32 px frames, one 28 px feature set."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        _root_attrs(f)
        write_samples(f)
        clips = f.create_group("clips")
        for sid in IDS:
            clip = clips.create_group(sid)
            clip.create_dataset("frames", data=rng.integers(0, 255, (T, SIDE, SIDE, C), dtype=np.uint8),
                                chunks=(1, SIDE, SIDE, C), compression="gzip", compression_opts=1)
            clip.create_dataset("occlusion", data=np.zeros((T, SIDE, SIDE), np.uint8), chunks=(1, SIDE, SIDE))
            clip.create_dataset("landmarks", data=rng.uniform(4, 28, (T, 478, 2)).astype(np.float32))
            clip.create_dataset("frame_numbers", data=np.arange(FIRST_FRAME, FIRST_FRAME + T, dtype=np.int32))
            clip.attrs["placement"] = json.dumps({"occluder": "block", "parameters": {"family": "block"}})
        write_features(f)
    return path


def features_only_file(path: Path) -> Path:
    """A file without frames (the `occmer import` contract): contents="features", no /clips, n_frames 0."""
    with h5py.File(path, "w") as f:
        _root_attrs(f, contents="features")
        write_samples(f, n_frames=0)
        write_features(f)
    return path


def secret_file(directory: Path, size: int) -> tuple[Path, bytes]:
    """A file outside any occmer file, holding `size` bytes of the SECRET pattern."""
    data = (SECRET * (size // len(SECRET) + 1))[:size]
    path = directory / "secret.bin"
    path.write_bytes(data)
    return path, data


# ---------------------------------------------------------------- defects


def _base(directory: Path, name: str) -> Path:
    return valid_file(directory / f"{name}.h5")


def external_storage(directory: Path) -> Malformed:
    """/clips/s0/frames stored in an external 'secret' file (HDF5 external storage)."""
    path = _base(directory, "external_storage")
    nbytes = T * SIDE * SIDE * C
    secret, data = secret_file(directory, nbytes)
    with h5py.File(path, "r+") as f:
        del f["clips/s0/frames"]
        f["clips/s0"].create_dataset("frames", shape=(T, SIDE, SIDE, C), dtype=np.uint8,
                                     external=[(str(secret), 0, nbytes)])
    return Malformed("external_storage", path, "/clips/s0/frames", OPEN, SECRET)


def external_features(directory: Path) -> Malformed:
    """The feature set's data stored in an external 'secret' file."""
    path = _base(directory, "external_features")
    nbytes = len(IDS) * 3 * FEATURE_SIDE * FEATURE_SIDE * 4
    secret, _ = secret_file(directory, nbytes)
    with h5py.File(path, "r+") as f:
        del f[f"features/{FEATURE}/data"]
        f[f"features/{FEATURE}"].create_dataset("data", shape=(len(IDS), 3, FEATURE_SIDE, FEATURE_SIDE),
                                                dtype=np.float32, external=[(str(secret), 0, nbytes)])
    return Malformed("external_features", path, f"/features/{FEATURE}/data", OPEN, SECRET)


def virtual_dataset(directory: Path) -> Malformed:
    """/clips/s1/frames a virtual dataset mapping another file's bytes."""
    path = _base(directory, "virtual_dataset")
    source = directory / "virtual_source.h5"
    nbytes = T * SIDE * SIDE * C
    _, data = secret_file(directory, nbytes)
    with h5py.File(source, "w") as s:
        s.create_dataset("x", data=np.frombuffer(data, np.uint8).reshape(T, SIDE, SIDE, C))
    layout = h5py.VirtualLayout(shape=(T, SIDE, SIDE, C), dtype=np.uint8)
    layout[:] = h5py.VirtualSource(str(source), "x", shape=(T, SIDE, SIDE, C))
    with h5py.File(path, "r+") as f:
        del f["clips/s1/frames"]
        f["clips/s1"].create_virtual_dataset("frames", layout)
    return Malformed("virtual_dataset", path, "/clips/s1/frames", OPEN, SECRET)


def external_link(directory: Path) -> Malformed:
    """/clips/s1/frames an external link into another HDF5 file."""
    path = _base(directory, "external_link")
    target = directory / "link_target.h5"
    _, data = secret_file(directory, T * SIDE * SIDE * C)
    with h5py.File(target, "w") as t:
        t.create_dataset("x", data=np.frombuffer(data, np.uint8).reshape(T, SIDE, SIDE, C))
    with h5py.File(path, "r+") as f:
        del f["clips/s1/frames"]
        f["clips/s1/frames"] = h5py.ExternalLink(str(target), "/x")
    return Malformed("external_link", path, "/clips/s1/frames", OPEN, SECRET)


def soft_link_loop(directory: Path) -> Malformed:
    """/clips/s2/frames a soft link into a loop of soft links."""
    path = _base(directory, "soft_link_loop")
    with h5py.File(path, "r+") as f:
        del f["clips/s2/frames"]
        f["clips/s2/frames"] = h5py.SoftLink("/clips/s2/loop")
        f["clips/s2/loop"] = h5py.SoftLink("/clips/s2/frames")
    return Malformed("soft_link_loop", path, "/clips/s2/frames", OPEN)


def soft_link(directory: Path) -> Malformed:
    """/clips/s1/frames a soft link to another clip's frames (one clip's data read as another's)."""
    path = _base(directory, "soft_link")
    with h5py.File(path, "r+") as f:
        del f["clips/s1/frames"]
        f["clips/s1/frames"] = h5py.SoftLink("/clips/s0/frames")
    return Malformed("soft_link", path, "/clips/s1/frames", OPEN)


def _deleted(directory: Path, name: str, target: str, names: str, stage: str) -> Malformed:
    path = _base(directory, name)
    with h5py.File(path, "r+") as f:
        del f[target]
    return Malformed(name, path, names, stage)


def deleted_dataset(directory: Path) -> Malformed:
    """/clips/s1/occlusion deleted."""
    return _deleted(directory, "deleted_dataset", "clips/s1/occlusion", "/clips/s1/occlusion", CLIP)


def deleted_column(directory: Path) -> Malformed:
    """/samples/subject deleted."""
    return _deleted(directory, "deleted_column", "samples/subject", "/samples/subject", OPEN)


def deleted_clip(directory: Path) -> Malformed:
    """/clips/s2 deleted while /samples still lists it."""
    return _deleted(directory, "deleted_clip", "clips/s2", "clip s2", CLIP)


def frames_3d(directory: Path) -> Malformed:
    """/clips/s1/frames 3-D (T, H, W): no channel axis."""
    path = _base(directory, "frames_3d")
    with h5py.File(path, "r+") as f:
        del f["clips/s1/frames"]
        f["clips/s1"].create_dataset("frames", data=np.zeros((T, SIDE, SIDE), np.uint8))
    return Malformed("frames_3d", path, "clip s1", CLIP)


def frames_float(directory: Path) -> Malformed:
    """/clips/s0/frames float64 instead of uint8."""
    path = _base(directory, "frames_float")
    with h5py.File(path, "r+") as f:
        del f["clips/s0/frames"]
        f["clips/s0"].create_dataset("frames", data=np.zeros((T, SIDE, SIDE, C), np.float64))
    return Malformed("frames_float", path, "clip s0", CLIP)


def claimed_frames(directory: Path) -> Malformed:
    """A frames dataset claiming 200000 frames (5.5 GiB if read) in a small file, /samples agreeing."""
    path = _base(directory, "claimed_frames")
    big = 200_000
    with h5py.File(path, "r+") as f:
        group = f["clips/s0"]
        for name in ("frames", "occlusion", "frame_numbers"):
            del group[name]
        group.create_dataset("frames", shape=(big, 96, 96, 3), dtype=np.uint8, chunks=(1, 96, 96, 3))
        group.create_dataset("occlusion", shape=(big, 96, 96), dtype=np.uint8, chunks=(1, 96, 96))
        group.create_dataset("frame_numbers", shape=(big,), dtype=np.int32, chunks=(4096,))
        f["samples/n_frames"][0] = big
    return Malformed("claimed_frames", path, "sample s0", OPEN)


def claimed_frames_mismatch(directory: Path) -> Malformed:
    """A frames dataset claiming 200000 frames while /samples says 5."""
    path = _base(directory, "claimed_frames_mismatch")
    with h5py.File(path, "r+") as f:
        del f["clips/s1/frames"]
        f["clips/s1"].create_dataset("frames", shape=(200_000, 96, 96, 3), dtype=np.uint8, chunks=(1, 96, 96, 3))
    return Malformed("claimed_frames_mismatch", path, "clip s1", CLIP)


def slash_in_id(directory: Path) -> Malformed:
    """A sample id with '/' (names a nested group)."""
    path = _base(directory, "slash_in_id")
    with h5py.File(path, "r+") as f:
        f["samples/sample_id"][1] = "s1/x"
        f.move("clips/s1", "clips/tmp")
        f.create_group("clips/s1")
        f.move("clips/tmp", "clips/s1/x")
    return Malformed("slash_in_id", path, "s1/x", OPEN)


def dot_id(directory: Path) -> Malformed:
    """A sample id '.' (names /clips itself)."""
    path = _base(directory, "dot_id")
    with h5py.File(path, "r+") as f:
        f["samples/sample_id"][0] = "."
    return Malformed("dot_id", path, "'.'", OPEN)


def duplicate_ids(directory: Path) -> Malformed:
    """Two rows with the id s0."""
    path = _base(directory, "duplicate_ids")
    with h5py.File(path, "r+") as f:
        f["samples/sample_id"][1] = "s0"
    return Malformed("duplicate_ids", path, "s0", OPEN)


def non_utf8_id(directory: Path) -> Malformed:
    """/samples/sample_id as fixed-length bytes that are not UTF-8."""
    path = _base(directory, "non_utf8_id")
    with h5py.File(path, "r+") as f:
        del f["samples/sample_id"]
        f["samples"].create_dataset("sample_id", data=np.array([b"s0", b"s\xff1", b"s2"], dtype="S4"))
    return Malformed("non_utf8_id", path, "/samples/sample_id", OPEN)


def string_n_frames(directory: Path) -> Malformed:
    """/samples/n_frames stored as strings."""
    path = _base(directory, "string_n_frames")
    with h5py.File(path, "r+") as f:
        del f["samples/n_frames"]
        _strings(f["samples"], "n_frames", ["5"] * len(IDS))
    return Malformed("string_n_frames", path, "/samples/n_frames", OPEN)


def short_column(directory: Path) -> Malformed:
    """/samples/emotion one row short."""
    path = _base(directory, "short_column")
    with h5py.File(path, "r+") as f:
        del f["samples/emotion"]
        _strings(f["samples"], "emotion", ["happiness", "surprise"])
    return Malformed("short_column", path, "emotion", OPEN)


def _attribute(directory: Path, name: str, target: str, key: str, value, names: str, stage: str) -> Malformed:
    path = _base(directory, name)
    with h5py.File(path, "r+") as f:
        f[target].attrs[key] = value
    return Malformed(name, path, names, stage)


def non_json_placement(directory: Path) -> Malformed:
    """/clips/s1 placement attribute that is not JSON."""
    return _attribute(directory, "non_json_placement", "clips/s1", "placement", "{not json", "clip s1", CLIP)


def non_json_occluder(directory: Path) -> Malformed:
    """Root attribute occluder that is not JSON."""
    return _attribute(directory, "non_json_occluder", "/", "occluder", "{oops", "occluder", OPEN)


def deep_json_settings(directory: Path) -> Malformed:
    """Root attribute settings nested 100000 deep (a recursion bomb)."""
    return _attribute(directory, "deep_json_settings", "/", "settings", "[" * 100_000 + "]" * 100_000, "settings", OPEN)


def skipped_not_list(directory: Path) -> Malformed:
    """Root attribute skipped: JSON, but not a list of {sample_id, reason}."""
    return _attribute(directory, "skipped_not_list", "/", "skipped", json.dumps([1, 2]), "skipped", OPEN)


def non_json_channels(directory: Path) -> Malformed:
    """The feature set's channels attribute that is not JSON."""
    return _attribute(directory, "non_json_channels", f"features/{FEATURE}", "channels", "[u, v", f"/features/{FEATURE}", FEATURES)


def schema_version_text(directory: Path) -> Malformed:
    """schema_version="abc"."""
    return _attribute(directory, "schema_version_text", "/", "schema_version", "abc", "schema_version", OPEN)


def complete_text(directory: Path) -> Malformed:
    """complete="False" (a string: truthy to a careless reader)."""
    return _attribute(directory, "complete_text", "/", "complete", "False", "complete", OPEN)


def incomplete(directory: Path) -> Malformed:
    """complete=False (an interrupted write)."""
    return _attribute(directory, "incomplete", "/", "complete", False, "incomplete", OPEN)


def wrong_format(directory: Path) -> Malformed:
    """An HDF5 file that is not an occmer file."""
    path = directory / "wrong_format.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    return Malformed("wrong_format", path, "not an occmer file", OPEN)


def not_hdf5(directory: Path) -> Malformed:
    """Text bytes with an .h5 name."""
    path = directory / "not_hdf5.h5"
    path.write_bytes(b"sample_id,subject\ns0,a\n")
    return Malformed("not_hdf5", path, "not a readable HDF5 file", OPEN)


def truncated(directory: Path) -> Malformed:
    """A valid file cut in half (a copy interrupted)."""
    full = _base(directory, "truncated_full")
    path = directory / "truncated.h5"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Malformed("truncated", path, "truncated.h5", OPEN)


def nan_features(directory: Path) -> Malformed:
    """NaN in the feature row of s1."""
    path = _base(directory, "nan_features")
    with h5py.File(path, "r+") as f:
        f[f"features/{FEATURE}/data"][1, 0, 3, 3] = np.nan
    return Malformed("nan_features", path, "s1", FEATURES)


def inf_features(directory: Path) -> Malformed:
    """inf in the feature row of s2."""
    path = _base(directory, "inf_features")
    with h5py.File(path, "r+") as f:
        f[f"features/{FEATURE}/data"][2, 1, 0, 0] = np.inf
    return Malformed("inf_features", path, "s2", FEATURES)


def feature_rows_reordered(directory: Path) -> Malformed:
    """Feature rows computed for another /samples order."""
    path = _base(directory, "feature_rows_reordered")
    with h5py.File(path, "r+") as f:
        del f[f"features/{FEATURE}/sample_id"]
        _strings(f[f"features/{FEATURE}"], "sample_id", ["s1", "s0", "s2"])
    return Malformed("feature_rows_reordered", path, f"/features/{FEATURE}", FEATURES)


def feature_rows_short(directory: Path) -> Malformed:
    """A feature set with fewer rows than /samples."""
    path = _base(directory, "feature_rows_short")
    with h5py.File(path, "r+") as f:
        group = f[f"features/{FEATURE}"]
        for name in ("data", "occlusion", "scale", "sample_id"):
            del group[name]
        group.create_dataset("data", data=np.zeros((2, 3, FEATURE_SIDE, FEATURE_SIDE), np.float32))
    return Malformed("feature_rows_short", path, f"/features/{FEATURE}/data", FEATURES)


def missing_key_frame(directory: Path) -> Malformed:
    """/samples/apex of s1 not among its stored frame_numbers."""
    path = _base(directory, "missing_key_frame")
    with h5py.File(path, "r+") as f:
        f["samples/apex"][1] = 999
    return Malformed("missing_key_frame", path, "clip s1: apex frame 999", CLIP)


def features_only_with_frames_claimed(directory: Path) -> Malformed:
    """contents="features" but /samples/n_frames is not 0."""
    path = features_only_file(directory / "features_only_bad.h5")
    with h5py.File(path, "r+") as f:
        f["samples/n_frames"][:] = 5
    return Malformed("features_only_with_frames_claimed", path, "/samples/n_frames", OPEN)


DEFECTS: dict[str, Callable[[Path], Malformed]] = {
    fn.__name__: fn
    for fn in (
        external_storage, external_features, virtual_dataset, external_link, soft_link_loop, soft_link,
        deleted_dataset, deleted_column, deleted_clip, frames_3d, frames_float, claimed_frames,
        claimed_frames_mismatch, slash_in_id, dot_id, duplicate_ids, non_utf8_id, string_n_frames, short_column,
        non_json_placement, non_json_occluder, deep_json_settings, skipped_not_list, non_json_channels,
        schema_version_text, complete_text, incomplete, wrong_format, not_hdf5, truncated, nan_features,
        inf_features, feature_rows_reordered, feature_rows_short, missing_key_frame,
        features_only_with_frames_claimed,
    )
}


def copy_of(case: Malformed, directory: Path) -> Path:
    """A copy of a hostile file (for commands that write into their input)."""
    target = directory / f"copy_{case.path.name}"
    shutil.copy(case.path, target)
    return target
