"""Long videos in occmer's HDF5 format (issue 29): the layout, its resumable writer and its reader.

A long-video file (root attribute contents="long-videos") holds whole occluded recordings,
one group per video under /videos/<video_id> (docs/hdf5-format.md, "Long videos"): frames
and occluder alpha chunked a few frames per chunk, the per-frame face track record, the
annotated intervals and the video's attributes. Minutes of video never sit in memory:

- writing: synthesis hands over one segment (SEGMENT_FRAMES frames) at a time; each becomes
  its own small shard `OUT.parts/videos/<video_id>/<start>.h5` (written atomically), carrying
  the tracker state at its end, so an interrupted run continues from the last finished
  segment. `assemble_long` then copies the shards' compressed chunks into OUT.partial
  (complete=False, each video's complete attribute set when its last chunk is in) and renames
  it to OUT.
- reading: `LongVideoFile` opens through the same checks as `OccmerFile` (exact root
  attributes, no soft or external links, no virtual or external storage, shapes against
  limits before any read) and reads frame ranges or yields the frames chunk by chunk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer.databases.long_video import KINDS, LongInterval
from occmer.errors import StoreError
from occmer.outputs import ensure_space
from occmer.store import checks, schema
from occmer.store.checks import Bad
from occmer.store.opening import OpenFile, open_checked
from occmer.store.writer import (
    RunDirectory,
    gzip_options,
    partial_path,
    parts_dir,
    to_json,
    write_root_attrs,
    write_small_file,
)

FRAMES_PER_CHUNK = 8  # frames of one HDF5 chunk: a range read decodes at most 2 chunks it does not need
SEGMENT_FRAMES = 32 * FRAMES_PER_CHUNK  # frames of one resumable shard (and what synthesis holds in memory)
MAX_LONG_FRAMES = 2_000_000  # 3 h at 200 fps; never allocated at once (reads are ranges)
SEGMENT = "segment"
RESUME_ARRAYS = "resume"  # shard group of the arrays the next segment continues from (anchor landmarks)
STOP_FILE = "stop"  # in OUT.parts: the run asks its workers to stop (request_stop)
NO_APEX = -1  # intervals/apex of an interval the sheet leaves without apex


@dataclass
class VideoSegment:
    """Frames start..start+n of one video as synthesis made them, and the state to continue from."""

    start: int  # position of the first frame in the video (0-based)
    frames: np.ndarray  # uint8 (n, H, W, C)
    occlusion: np.ndarray  # uint8 (n, H, W)
    frame_numbers: np.ndarray  # int32 (n,)
    state: np.ndarray  # uint8 (n,), schema.TRACK_STATES
    transform: np.ndarray  # float64 (n, 2, 3)
    anchor: np.ndarray  # int32 (n,)
    placements: list[dict[str, Any]] = field(default_factory=list)  # placements made in this segment
    resume: dict[str, Any] = field(default_factory=dict)  # JSON state at the segment's end
    resume_arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.start + len(self.frame_numbers)


@dataclass(frozen=True)
class LongVideoMeta:
    """What /videos/<video_id> records besides its arrays."""

    video_id: str
    database: str
    subject: str
    fps: float
    first_frame: int
    n_frames: int
    intervals: tuple[LongInterval, ...] = ()
    alignment: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))  # source -> stored


@dataclass(frozen=True)
class LongVideoInfo:
    """One stored video's attributes and shapes (nothing read but attributes)."""

    video_id: str
    database: str
    subject: str
    fps: float
    first_frame: int
    n_frames: int
    height: int
    width: int
    channels: int
    complete: bool
    alignment: np.ndarray
    placements: list[dict[str, Any]]
    track_summary: dict[str, Any]


@dataclass(frozen=True)
class FaceTrack:
    """The face track record of a frame range: state (n,) uint8, transform (n, 2, 3), anchor (n,)."""

    state: np.ndarray
    transform: np.ndarray
    anchor: np.ndarray

    def lost(self) -> np.ndarray:
        return self.state == LOST


@dataclass(frozen=True)
class FrameBlock:
    """Consecutive stored frames start..start+n: pixels, alpha and frame numbers."""

    start: int
    frames: np.ndarray
    occlusion: np.ndarray
    frame_numbers: np.ndarray


TRACKED, PLACED, LOST, REACQUIRED, CHECKED = 0, 1, 2, 3, 4
assert {TRACKED, PLACED, LOST, REACQUIRED, CHECKED} == set(schema.TRACK_STATES)


# ---------------------------------------------------------------- writing: segment shards


def video_dir(out: Path, video_id: str) -> Path:
    return parts_dir(out) / schema.VIDEOS / video_id


def _shard_name(start: int) -> str:
    return f"{start:09d}.h5"


def write_segment(out: Path, video_id: str, segment: VideoSegment, compression: int = 1) -> Path:
    """One segment as its own shard, atomically; chunks as the final file has them (copied, not recompressed)."""
    n = len(segment.frame_numbers)
    if segment.start % FRAMES_PER_CHUNK:
        raise StoreError(f"{video_id}: a segment must start on a chunk boundary ({FRAMES_PER_CHUNK} frames), "
                         f"not at {segment.start}")
    _, h, w, c = segment.frames.shape
    gzip = gzip_options(compression)

    def fill(f: h5py.File) -> None:
        group = f.create_group(SEGMENT)
        group.create_dataset("frames", data=segment.frames, chunks=(min(FRAMES_PER_CHUNK, n), h, w, c), **gzip)
        group.create_dataset("occlusion", data=segment.occlusion, chunks=(min(FRAMES_PER_CHUNK, n), h, w), **gzip)
        group.create_dataset("frame_numbers", data=segment.frame_numbers.astype(np.int32))
        group.create_dataset("state", data=segment.state.astype(np.uint8))
        group.create_dataset("transform", data=segment.transform.astype(np.float64))
        group.create_dataset("anchor", data=segment.anchor.astype(np.int32))
        arrays = group.create_group(RESUME_ARRAYS)
        for name, array in segment.resume_arrays.items():
            arrays.create_dataset(name, data=array)
        group.attrs["start"] = segment.start
        group.attrs["compression"] = compression
        group.attrs["placements"] = to_json(segment.placements)
        group.attrs["resume"] = to_json(segment.resume)

    return write_small_file(video_dir(out, video_id), _shard_name(segment.start), fill)


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted video continues: the next frame position and the state saved there."""

    position: int
    state: dict[str, Any]
    arrays: dict[str, np.ndarray]


def shard_starts(out: Path, video_id: str) -> list[int]:
    """Starts of a video's finished shards on disk, sorted, from their names alone (temporary files ignored)."""
    folder = video_dir(out, video_id)
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.iterdir()
                  if p.suffix == ".h5" and not p.name.startswith(".") and p.stem.isdigit())


def frames_written(out: Path, video_id: str, n_frames: int, segment_frames: int, resumed_at: int = 0) -> int:
    """Frames of a video its shards hold so far, for progress (no shard opened): a run cuts every
    segment `segment_frames` long from `resumed_at` on, the last one short."""
    starts = [s for s in shard_starts(out, video_id) if s >= resumed_at]
    return max(resumed_at, min(n_frames, starts[-1] + segment_frames)) if starts else resumed_at


def request_stop(out: Path) -> None:
    """Ask the workers of a long-video run to stop at their next segment (another video failed, or Ctrl-C)."""
    if parts_dir(out).is_dir():
        (parts_dir(out) / STOP_FILE).touch()


def stop_requested(out: Path) -> bool:
    return (parts_dir(out) / STOP_FILE).exists()


def clear_stop(out: Path) -> None:
    (parts_dir(out) / STOP_FILE).unlink(missing_ok=True)


def segment_starts(out: Path, video_id: str) -> list[int]:
    """Starts of the finished segments of a video that follow each other from frame 0 (temporary files ignored)."""
    folder = video_dir(out, video_id)
    starts, expected = [], 0
    for start in shard_starts(out, video_id):
        if start != expected:
            break
        try:
            with h5py.File(folder / _shard_name(start), "r") as f:
                expected = start + int(f[SEGMENT]["frame_numbers"].shape[0])
        except (OSError, KeyError):
            break  # a damaged shard: that segment and the ones after it are made again
        starts.append(start)
    return starts


def resume_point(out: Path, video_id: str) -> ResumePoint | None:
    """The state at the end of the last finished segment of a video, None when it has none."""
    starts = segment_starts(out, video_id)
    if not starts:
        return None
    with h5py.File(video_dir(out, video_id) / _shard_name(starts[-1]), "r") as f:
        group = f[SEGMENT]
        arrays = {name: ds[()] for name, ds in group[RESUME_ARRAYS].items()}
        return ResumePoint(int(group.attrs["start"]) + int(group["frame_numbers"].shape[0]),
                           json.loads(group.attrs["resume"]), arrays)


def discard_segments_from(out: Path, video_id: str, position: int) -> None:
    """Delete a video's shards starting at or after `position` (those after a gap or damaged one)."""
    folder = video_dir(out, video_id)
    if folder.is_dir():
        for p in folder.iterdir():
            if p.suffix == ".h5" and p.stem.isdigit() and int(p.stem) >= position:
                p.unlink()


# ---------------------------------------------------------------- writing: assembly


def _string_column(group: h5py.Group, name: str, values: Sequence[str]) -> None:
    group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=h5py.string_dtype("utf-8"))


def _write_intervals(group: h5py.Group, intervals: Sequence[LongInterval]) -> None:
    table = group.create_group(schema.INTERVALS)
    table.create_dataset("onset", data=np.array([i.onset for i in intervals], np.int64).astype(np.int32))
    table.create_dataset("apex", data=np.array([NO_APEX if i.apex is None else i.apex for i in intervals], np.int32))
    table.create_dataset("offset", data=np.array([i.offset for i in intervals], np.int32))
    for name in schema.INTERVAL_STRING_COLUMNS:
        _string_column(table, name, [str(getattr(i, name)) for i in intervals])


def _copy_chunks(source: h5py.Dataset, target: h5py.Dataset, start: int) -> None:
    """Copy a shard dataset's stored chunks to `target` at frame `start` as they are (no recompression)."""
    if source.chunks[0] != FRAMES_PER_CHUNK or target.chunks != source.chunks:
        target[start:start + source.shape[0]] = source[()]  # a last short segment of one chunk: small
        return
    zeros = (0,) * (source.ndim - 1)
    for offset in range(0, source.shape[0], FRAMES_PER_CHUNK):
        mask, data = source.id.read_direct_chunk((offset, *zeros))
        target.id.write_direct_chunk((start + offset, *zeros), data, mask)


def _assemble_video(videos: h5py.Group, out: Path, meta: LongVideoMeta, compression: int) -> None:
    folder = video_dir(out, meta.video_id)
    starts = segment_starts(out, meta.video_id)
    with h5py.File(folder / _shard_name(starts[0]), "r") as first:
        _, h, w, c = first[SEGMENT]["frames"].shape
    t = meta.n_frames
    group = videos.create_group(meta.video_id)
    group.attrs["complete"] = False
    gzip = gzip_options(compression)
    chunk = min(FRAMES_PER_CHUNK, t)
    made = {
        "frames": group.create_dataset("frames", (t, h, w, c), np.uint8, chunks=(chunk, h, w, c), **gzip),
        "occlusion": group.create_dataset("occlusion", (t, h, w), np.uint8, chunks=(chunk, h, w), **gzip),
        "frame_numbers": group.create_dataset("frame_numbers", (t,), np.int32),
    }
    track = group.create_group(schema.TRACK)
    made |= {
        "state": track.create_dataset("state", (t,), np.uint8),
        "transform": track.create_dataset("transform", (t, 2, 3), np.float64),
        "anchor": track.create_dataset("anchor", (t,), np.int32),
    }
    for name, ds in made.items():
        ds.attrs.update(schema.LONG_DATASET_NOTES[name])
    placements: list[dict[str, Any]] = []
    stored = 0
    for start in starts:
        with h5py.File(folder / _shard_name(start), "r") as shard:
            segment = shard[SEGMENT]
            n = int(segment["frame_numbers"].shape[0])
            _copy_chunks(segment["frames"], made["frames"], start)
            _copy_chunks(segment["occlusion"], made["occlusion"], start)
            for name in ("frame_numbers", "state", "transform", "anchor"):
                made[name][start:start + n] = segment[name][()]
            placements += json.loads(segment.attrs["placements"])
            stored = start + n
    if stored != t:
        raise StoreError(f"cannot assemble {out}: video {meta.video_id} has {stored} of its {t} frames in "
                         f"{folder}; rerun the same command with --resume")
    _write_intervals(group, meta.intervals)
    states = made["state"][()]
    group.attrs.update({
        "video_id": meta.video_id, "database": meta.database, "subject": meta.subject, "fps": float(meta.fps),
        "first_frame": int(meta.first_frame), "n_frames": int(t), "alignment": to_json(meta.alignment),
        "placements": to_json(placements),
        "track_summary": to_json({name: int(np.sum(states == k)) for k, name in schema.TRACK_STATES.items()}),
    })
    group.attrs["complete"] = True


def assemble_long(out: Path, videos: Sequence[LongVideoMeta], attrs: Mapping[str, Any], compression: int = 1) -> Path:
    """Build OUT from the segment shards of `OUT.parts`, video after video, then rename it into place.

    OUT.partial carries complete=False (and each video group complete=False until its last
    chunk is in), so a crash here leaves a file clearly marked incomplete.
    """
    partial = partial_path(out)
    shard_bytes = sum(p.stat().st_size for v in videos for p in video_dir(out, v.video_id).glob("*.h5"))
    ensure_space(out.parent, shard_bytes, str(out))
    with h5py.File(partial, "w") as f:
        write_root_attrs(f, {**attrs, "contents": schema.LONG_VIDEOS})
        group = f.create_group(schema.VIDEOS)
        for meta in videos:
            if not checks.valid_sample_id(meta.video_id):
                raise StoreError(f"video id {meta.video_id!r} cannot name an HDF5 group (printable ASCII, no '/')")
            _assemble_video(group, out, meta, compression)
        f.attrs["complete"] = True
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, out)
    RunDirectory(out).remove()
    return out


# ---------------------------------------------------------------- checks (reader and verify)


@dataclass(frozen=True)
class VideoLayout:
    """The checked datasets of one stored video (only attributes read)."""

    group: h5py.Group
    frames: h5py.Dataset
    occlusion: h5py.Dataset
    frame_numbers: h5py.Dataset
    state: h5py.Dataset
    transform: h5py.Dataset
    anchor: h5py.Dataset
    intervals: dict[str, h5py.Dataset]


def _number_attr(group: h5py.Group, key: str, where: str, kind: str) -> float:
    value = checks.attr(group, key, where)
    ok = checks.is_int(value) if kind == "int" else (checks.is_int(value) or isinstance(value, float | np.floating))
    if not ok:
        raise Bad(f"{where}: attribute {key!r} must be {'an integer' if kind == 'int' else 'a number'}, "
                  f"got {checks.plain(value)!r}")
    return float(value)


def video_layout(f: h5py.File, video_id: str, require_complete: bool = True) -> VideoLayout:
    """One video's datasets and attributes checked against each other and the limits; Bad for the first problem."""
    where = f"video {video_id}"
    base = f"/{schema.VIDEOS}/{video_id}"
    group = checks.subgroup(checks.subgroup(f, schema.VIDEOS, f"/{schema.VIDEOS}"), video_id, f"{where}: {base}")
    complete = checks.attr(group, "complete", where)
    if not checks.is_bool(complete):
        raise Bad(f"{where}: attribute 'complete' must be a boolean, got {checks.plain(complete)!r}")
    if require_complete and not complete:
        raise Bad(f"{where}: incomplete (complete=False): the run that wrote it did not finish")
    for key in ("video_id", "database", "subject"):
        if checks.text(checks.attr(group, key, where)) is None:
            raise Bad(f"{where}: attribute {key!r} missing or not a string")
    fps = _number_attr(group, "fps", where, "float")
    if not (np.isfinite(fps) and fps > 0):
        raise Bad(f"{where}: attribute fps must be positive, got {fps}")
    _number_attr(group, "first_frame", where, "int")
    n = int(_number_attr(group, "n_frames", where, "int"))
    ds = {name: checks.dataset(group, name, f"{where}: {base}/{name}") for name in schema.VIDEO_DATASETS}
    track = checks.subgroup(group, schema.TRACK, f"{where}: {base}/{schema.TRACK}")
    ds |= {name: checks.dataset(track, name, f"{where}: {base}/{schema.TRACK}/{name}") for name in schema.TRACK_DATASETS}
    frames = ds["frames"]
    if frames.ndim != 4 or frames.shape[3] not in (1, 3) or frames.dtype != np.uint8:
        raise Bad(f"{where}: frames must be uint8 (T, H, W, C) with C 1 or 3, got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if t != n or not 1 <= t <= MAX_LONG_FRAMES or not (1 <= h <= checks.MAX_SIDE and 1 <= w <= checks.MAX_SIDE):
        raise Bad(f"{where}: frames {frames.shape} outside the limits (n_frames={n}, 1..{MAX_LONG_FRAMES} frames of "
                  f"1..{checks.MAX_SIDE} px)")
    if frames.chunks is None or frames.chunks[0] > 64:
        raise Bad(f"{where}: frames must be chunked a few frames per chunk, got chunks {frames.chunks}")
    expected = {"occlusion": ((t, h, w), "u"), "frame_numbers": ((t,), "iu"), "state": ((t,), "u"),
                "transform": ((t, 2, 3), "f"), "anchor": ((t,), "i")}
    for name, (shape, kinds) in expected.items():
        if ds[name].shape != shape or ds[name].dtype.kind not in kinds:
            raise Bad(f"{where}: {name} {ds[name].dtype} {ds[name].shape}, expected {shape}")
    occ = ds["occlusion"]
    if occ.dtype != np.uint8 or occ.chunks is None or occ.chunks[0] > 64:
        raise Bad(f"{where}: occlusion must be uint8 chunked a few frames per chunk, got {occ.dtype} chunks {occ.chunks}")
    table = checks.subgroup(group, schema.INTERVALS, f"{where}: {base}/{schema.INTERVALS}")
    columns = {}
    for name in schema.INTERVAL_INT_COLUMNS + schema.INTERVAL_STRING_COLUMNS:
        column = checks.dataset(table, name, f"{where}: {base}/{schema.INTERVALS}/{name}")
        strings = name in schema.INTERVAL_STRING_COLUMNS
        if column.ndim != 1 or column.shape[0] > checks.MAX_ROWS or (
                h5py.check_string_dtype(column.dtype) is None if strings else column.dtype.kind not in "iu"):
            raise Bad(f"{where}: intervals/{name} must be a 1-D {'string' if strings else 'integer'} column, "
                      f"got {column.dtype} {column.shape}")
        columns[name] = column
    if len({c.shape[0] for c in columns.values()}) > 1:
        raise Bad(f"{where}: intervals columns differ in length")
    return VideoLayout(group, frames, occ, ds["frame_numbers"], ds["state"], ds["transform"], ds["anchor"], columns)


def read_intervals(layout: VideoLayout, video_id: str) -> tuple[LongInterval, ...]:
    """The intervals table as LongInterval records; Bad for an unknown kind or onset > offset."""
    where = f"video {video_id}: intervals"
    ints = {name: layout.intervals[name][()].astype(np.int64) for name in schema.INTERVAL_INT_COLUMNS}
    texts = {name: checks.decode_strings(layout.intervals[name][()], f"{where}/{name}")
             for name in schema.INTERVAL_STRING_COLUMNS}
    out = []
    for i in range(len(ints["onset"])):
        onset, apex, offset, kind = int(ints["onset"][i]), int(ints["apex"][i]), int(ints["offset"][i]), texts["kind"][i]
        if kind not in KINDS:
            raise Bad(f"{where}: row {i} has kind {kind!r} (one of {', '.join(KINDS)})")
        if offset < onset or (apex != NO_APEX and not onset <= apex <= offset):
            raise Bad(f"{where}: row {i} frames onset {onset}, apex {apex}, offset {offset} out of order")
        out.append(LongInterval(onset, None if apex == NO_APEX else apex, offset, kind, texts["emotion"][i],
                                texts["objective_class"][i], texts["action_units"][i], f"{where} row {i}"))
    return tuple(out)


def video_ids_of(f: h5py.File) -> list[str]:
    """The video groups' names (sorted), each a valid id; Bad otherwise."""
    group = checks.subgroup(f, schema.VIDEOS, f"/{schema.VIDEOS}")
    ids = sorted(group)
    bad = [v for v in ids if not checks.valid_sample_id(v)]
    if bad:
        raise Bad(f"/{schema.VIDEOS}: invalid video ids {', '.join(repr(b) for b in bad[:5])}")
    if not ids:
        raise Bad(f"/{schema.VIDEOS}: no video")
    return ids


def _read_video_data(layout: VideoLayout, video_id: str) -> None:
    """Decode every chunk, a chunk at a time, and check the track record's values."""
    try:
        t = layout.frames.shape[0]
        for start in range(0, t, FRAMES_PER_CHUNK):
            layout.frames[start:start + FRAMES_PER_CHUNK]
            layout.occlusion[start:start + FRAMES_PER_CHUNK]
        numbers, state = layout.frame_numbers[()], layout.state[()]
        transform, anchor = layout.transform[()], layout.anchor[()]
    except Exception as exc:
        raise Bad(f"video {video_id}: data cannot be read ({type(exc).__name__}: {exc})") from None
    if t > 1 and np.any(np.diff(numbers.astype(np.int64)) <= 0):
        raise Bad(f"video {video_id}: frame_numbers not strictly increasing")
    unknown = np.setdiff1d(np.unique(state), list(schema.TRACK_STATES))
    if unknown.size:
        raise Bad(f"video {video_id}: track/state holds unknown values {unknown.tolist()}")
    bad = checks.nonfinite_row(transform)
    if bad is not None:
        raise Bad(f"video {video_id}: track/transform holds NaN or inf on frame {bad}")
    placed = np.isin(state, (PLACED, REACQUIRED))
    if np.any(anchor[placed] != numbers[placed]):
        raise Bad(f"video {video_id}: a frame where the occluder was placed does not name itself as its anchor")
    stray = (anchor != -1) & ~np.isin(anchor, numbers)
    if np.any(stray):
        raise Bad(f"video {video_id}: track/anchor names frame {int(anchor[stray][0])}, not a stored frame")


def long_video_problems(f: h5py.File, read_data: bool) -> list[str]:
    """Every problem of a long-video file's /videos (verify): one line each, never a crash."""
    problems: list[str] = []
    try:
        ids = video_ids_of(f)
    except Bad as exc:
        return [str(exc)]
    for video_id in ids:
        try:
            layout = video_layout(f, video_id)
            read_intervals(layout, video_id)
            if read_data:
                _read_video_data(layout, video_id)
        except Bad as exc:
            problems.append(str(exc))
        except Exception as exc:
            problems.append(f"video {video_id}: unexpected {type(exc).__name__} while checking: {exc}")
    return problems


# ---------------------------------------------------------------- reading


class LongVideoFile(OpenFile):
    """A checked, open long-video file. Use `with LongVideoFile.open(path) as f:`.

    Nothing is read at open beyond attributes and links; frames come by range
    (`frames(video_id, start, stop)`) or chunk by chunk (`iter_frames`).
    """

    def __init__(self, path: Path, handle: h5py.File, ids: list[str]) -> None:
        self.path = path
        self._f = handle
        self.video_ids = ids
        self._layouts: dict[str, VideoLayout] = {}

    @classmethod
    def open(cls, path: str | Path, require_complete: bool = True) -> LongVideoFile:
        """Open and check a long-video file; StoreError naming the file and the problem otherwise."""
        path = Path(path)

        def build(handle: h5py.File, header: checks.Header) -> LongVideoFile:
            if header.contents != schema.LONG_VIDEOS:
                raise Bad(f"holds {header.contents}, not long videos (contents='{schema.LONG_VIDEOS}'): read it "
                          "with occmer.store.reader.OccmerFile.open")
            problems = checks.link_problems(handle) + checks.root_json_problems(handle)
            if problems:
                raise Bad(problems[0])
            return cls(path, handle, video_ids_of(handle))

        return open_checked(path, "r", require_complete, build)

    def attrs(self) -> dict[str, Any]:
        """Root attributes, the JSON-valued ones (occluder, settings...) parsed."""
        try:
            out = {key: checks.plain(checks.attr(self._f, key, "root")) for key in self._f.attrs}
            for key in checks.ROOT_JSON_ATTRS:
                if key in out:
                    out[key] = checks.json_attr(self._f, key, "root")
        except Bad as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        return out

    def _layout(self, video_id: str) -> VideoLayout:
        layout = self._layouts.get(video_id)
        if layout is None:
            if video_id not in self.video_ids:
                raise StoreError(f"{self.path}: no video {video_id!r} (stored: {', '.join(self.video_ids[:5])}...)")
            try:
                layout = video_layout(self._f, video_id)
            except Bad as exc:
                raise StoreError(f"{self.path}: {exc}") from None
            self._layouts[video_id] = layout
        return layout

    def info(self, video_id: str) -> LongVideoInfo:
        """Attributes and shapes of one video."""
        layout = self._layout(video_id)
        group, where = layout.group, f"video {video_id}"
        try:
            values = {key: checks.plain(checks.attr(group, key, where)) for key in schema.VIDEO_ATTRS}
            extra = {key: checks.json_attr(group, key, where, default=default)
                     for key, default in (("alignment", [[1, 0, 0], [0, 1, 0]]), ("placements", []),
                                          ("track_summary", {}))}
        except Bad as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        _, h, w, c = layout.frames.shape
        return LongVideoInfo(
            video_id=str(values["video_id"]), database=str(values["database"]), subject=str(values["subject"]),
            fps=float(values["fps"]), first_frame=int(values["first_frame"]), n_frames=int(values["n_frames"]),
            height=int(h), width=int(w), channels=int(c), complete=bool(values["complete"]),
            alignment=np.asarray(extra["alignment"], np.float64), placements=list(extra["placements"]),
            track_summary=dict(extra["track_summary"]),
        )

    def stored_bytes(self, video_id: str) -> int:
        """Bytes one video's datasets take in the file (compressed; nothing decoded)."""
        layout = self._layout(video_id)
        datasets = (layout.frames, layout.occlusion, layout.frame_numbers, layout.state, layout.transform,
                    layout.anchor, *layout.intervals.values())
        return int(sum(ds.id.get_storage_size() for ds in datasets))

    def intervals(self, video_id: str) -> tuple[LongInterval, ...]:
        """The annotated expressions of one video (frame numbers as the source numbers them)."""
        try:
            return read_intervals(self._layout(video_id), video_id)
        except Bad as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _range(self, video_id: str, start: int, stop: int | None) -> tuple[VideoLayout, int, int]:
        layout = self._layout(video_id)
        t, h, w, c = layout.frames.shape
        stop = t if stop is None else stop
        if not 0 <= start <= stop <= t:
            raise StoreError(f"{self.path}: video {video_id}: frame range {start}..{stop} outside 0..{t}")
        if (stop - start) * h * w * c > checks.MAX_READ_BYTES:
            raise StoreError(f"{self.path}: video {video_id}: frames {start}..{stop} would take "
                             f"{((stop - start) * h * w * c) >> 20} MiB; read smaller ranges or use iter_frames")
        return layout, start, stop

    def _read(self, ds: h5py.Dataset, start: int, stop: int, video_id: str, what: str) -> np.ndarray:
        try:
            return ds[start:stop]
        except Exception as exc:
            raise StoreError(f"{self.path}: video {video_id}: {what} cannot be read ({type(exc).__name__}: {exc})") from None

    def frames(self, video_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """uint8 (n, H, W, C): stored frames at positions start..stop (0-based, stop exclusive)."""
        layout, start, stop = self._range(video_id, start, stop)
        return self._read(layout.frames, start, stop, video_id, "frames")

    def occlusion(self, video_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """uint8 (n, H, W) occluder alpha at positions start..stop."""
        layout, start, stop = self._range(video_id, start, stop)
        return self._read(layout.occlusion, start, stop, video_id, "occlusion")

    def frame_numbers(self, video_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """int32 (n,) source frame numbers of positions start..stop."""
        layout, start, stop = self._range(video_id, start, stop)
        return self._read(layout.frame_numbers, start, stop, video_id, "frame_numbers").astype(np.int64)

    def track(self, video_id: str, start: int = 0, stop: int | None = None) -> FaceTrack:
        """The face track record (state, transform, anchor) of positions start..stop."""
        layout, start, stop = self._range(video_id, start, stop)
        track = FaceTrack(*(self._read(ds, start, stop, video_id, name)
                            for name, ds in (("state", layout.state), ("transform", layout.transform),
                                             ("anchor", layout.anchor))))
        unknown = np.setdiff1d(np.unique(track.state), list(schema.TRACK_STATES))
        bad = checks.nonfinite_row(track.transform)
        if unknown.size or bad is not None:
            what = f"track/state holds unknown values {unknown.tolist()}" if unknown.size else \
                f"track/transform holds NaN or inf on frame {start + (bad or 0)}"
            raise StoreError(f"{self.path}: video {video_id}: {what}; `occmer verify {self.path}` lists every problem")
        return track

    def iter_frames(self, video_id: str, block: int = SEGMENT_FRAMES) -> Iterator[FrameBlock]:
        """The whole video in order, `block` frames at a time (memory: one block, whatever the length)."""
        layout = self._layout(video_id)
        t = layout.frames.shape[0]
        block = max(1, int(block))
        for start in range(0, t, block):
            stop = min(t, start + block)
            yield FrameBlock(start, self.frames(video_id, start, stop), self.occlusion(video_id, start, stop),
                             self.frame_numbers(video_id, start, stop))


__all__ = [
    "FRAMES_PER_CHUNK", "SEGMENT_FRAMES", "FaceTrack", "FrameBlock", "LongVideoFile", "LongVideoInfo",
    "LongVideoMeta", "ResumePoint", "VideoSegment", "assemble_long", "resume_point", "write_segment",
]
