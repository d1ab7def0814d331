"""`occmer synthesize`: clips -> frames -> landmarks -> alignment -> head motion -> occluder -> store.

The entry point above the executors: `synthesize` checks the run, starts (or resumes) its run
directory, hands the clips to the local worker pool (`occmer.synthesis.local_runner`) or to Ray
tasks (`occmer.synthesis.ray_runner`), each writing its own shard (see store.writer), and
assembles the shards. What one clip becomes is `occmer.synthesis.job`, the same code under
either executor; its names are re-exported here, the package's public synthesis API.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from occmer.databases import Clip
from occmer.databases.long_video import LongVideoRecord
from occmer.errors import ConfigError, OccmerError, ResumeError
from occmer.frames import read_frame
from occmer.hashing import file_sha256
from occmer.progress import command_seconds, detail, progress_bar, size_text
from occmer.progress import info as info_line
from occmer.ray_runtime import ExecutorChoice
from occmer.store.long_video import (
    LongVideoFile,
    LongVideoMeta,
    assemble_long,
    clear_stop,
    discard_segments_from,
    resume_point,
)
from occmer.store.writer import RunDirectory, SplitMaker, assemble, to_json
from occmer.synthesis import local_runner, ray_runner
from occmer.synthesis.job import (
    ON_ERROR,
    ClipProcessor,
    ClipResult,
    ProcessedClip,
    SynthesisRun,
    SynthesisSettings,
    process_clip,
    settings_dict,
)
from occmer.synthesis.long_video import (
    FrameSource,
    LongTrackConfig,
    LongVideoProcessor,
    LongVideoRun,
    SegmentWatch,
    VideoTask,
)
from occmer.workers import check_workers

__all__ = [
    "ClipProcessor", "LongSynthesisSummary", "ProcessedClip", "SynthesisSettings", "SynthesisSummary", "process_clip",
    "read_frame", "synthesize", "synthesize_long",
]


@dataclass
class SynthesisSummary:
    out: Path
    clips: int
    frames: int
    seconds: float
    skipped: list[dict[str, str]]
    resumed: int

    def line(self) -> str:
        size = self.out.stat().st_size if self.out.exists() else 0
        seconds = command_seconds(self.seconds)
        fps = self.frames / seconds if seconds > 0 else 0.0
        text = (
            f"wrote {self.out}: {self.clips} clips, {self.frames} frames in {seconds:.1f} s "
            f"({fps:.0f} frames/s), {size_text(size)}"
        )
        if self.resumed:
            text += f"; {self.resumed} clips reused from the interrupted run"
        if self.skipped:
            text += f"; {len(self.skipped)} clips skipped (listed in the file's 'skipped' attribute)"
        return text


def synthesize(
    settings: SynthesisSettings,
    clips: Sequence[Clip],
    out: Path,
    *,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    on_error: str = "stop",
    command: str = "",
    invalid: Sequence[dict[str, str]] = (),
    progress: bool = True,
    roots: Mapping[str, Path] | None = None,
    splits: SplitMaker | None = None,
    executor: ExecutorChoice | None = None,
) -> SynthesisSummary:
    """Write an occmer file for `clips` (already scanned and checked) to `out`.

    `executor` says where the clips are processed: the local worker pool (`workers`
    processes; the default) or Ray tasks (`occmer.synthesis.ray_runner`; `out` must then be on
    storage every node sees). Either way the shards land in OUT.parts/ and are assembled here.

    roots (database name -> folder) are recorded in run.json with a digest of the files
    directly in each root (the sheets) and of the clip list; --resume refuses another source.
    `splits` computes the /splits of the file from its /samples columns at assembly
    (occmer.protocols.splits.compute_splits; the CLI passes it).
    """
    check_workers(workers)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: pass one of them")
    if on_error not in ON_ERROR:
        raise ConfigError(f"--on-error must be one of {', '.join(ON_ERROR)}")
    if not clips:
        raise ConfigError("no clips to process: the database scan found none (see `occmer describe`)")
    ids = [c.sample_id for c in clips]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise OccmerError(f"duplicate sample ids from the database adapter: {dup[:5]}")
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    ClipProcessor(settings)  # validate the occluder options before any work
    executor = executor or ExecutorChoice()
    executor.check_available()
    run = RunDirectory(out)
    source = source_identity(clips, roots)
    finished = run.start(settings_dict(settings), resume=resume, overwrite=overwrite, source=source)
    if resume:
        check_same_source(run, source)
    todo = [c for c in clips if c.sample_id not in finished]
    skipped: list[dict[str, str]] = []
    n_frames = 0
    start = time.perf_counter()
    bar = progress_bar(len(clips), "synthesize", "clip", initial=len(clips) - len(todo), enabled=progress)

    def advance(result: ClipResult) -> None:
        nonlocal n_frames
        if result.error:
            skipped.append({"sample_id": result.sample_id, "reason": result.error})
            bar.write(f"skipped {result.sample_id}: {result.error}")
        else:
            detail(f"done {result.sample_id}: {result.n_frames} frames")
        n_frames += result.n_frames
        bar.update(1)
        bar.set_postfix(frames=n_frames)

    try:
        job = SynthesisRun(settings, out, on_error)
        if executor.name == "ray":
            ray_runner.run_ray(job, todo, advance, executor)
        else:
            local_runner.run_local(job, workers, todo, advance)
    except OccmerError as exc:
        raise type(exc)(f"{exc}\n(finished clips are kept in {run.path}: fix the cause and rerun with --resume)") from exc
    finally:
        bar.close()
    skipped_ids = {s["sample_id"] for s in skipped}
    order = [sid for sid in ids if sid not in skipped_ids]
    if not order:
        raise OccmerError(f"every clip failed; nothing written to {out}. First reason: {skipped[0]['reason']}")
    attrs = {
        "database": settings.database,
        "occluder": to_json({"spec": settings.mask, "options": settings.mask_options}),
        "seed": settings.seed,
        "command": command,
        "settings": to_json(settings_dict(settings)),
        "skipped": to_json(skipped),
        "invalid": to_json(list(invalid)),
    }
    attrs["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    assemble(out, order, attrs, splits=splits)
    return SynthesisSummary(
        out=out, clips=len(order), frames=n_frames, seconds=time.perf_counter() - start,
        skipped=skipped, resumed=len(clips) - len(todo),
    )


# --- what a run read (resume identity) -----------------------------------------------------

HASHED_FILE_LIMIT = 64 * 2**20  # bigger files directly in a root (archives, videos) are known by size only


def _file_digest(path: Path) -> str:
    size = path.stat().st_size
    if size > HASHED_FILE_LIMIT:
        return f"size:{size}"
    return file_sha256(path)


def root_files_digest(root: Path) -> dict[str, str]:
    """sha256 of every file directly in a database root: the sheets, manifests and fix tables."""
    root = Path(root)
    if not root.is_dir():
        return {}
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))
    return {p.name: _file_digest(p) for p in files}


def _clip_digest(clip: Clip) -> str:
    frames = []
    for number, path in clip.frames:
        try:
            size = Path(path).stat().st_size
        except OSError:
            size = -1
        frames.append([number, Path(path).name, size])
    fields = [
        clip.sample_id, clip.subject, clip.filename, str(clip.folder), clip.onset, clip.apex, clip.offset,
        clip.apex_source, clip.emotion, clip.action_units, clip.objective_class, clip.composite, list(clip.fixes),
        frames,
    ]
    return hashlib.sha256(to_json(fields).encode()).hexdigest()


def source_identity(clips: Sequence[Clip], roots: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """What a run reads, as recorded in run.json: each root (resolved), a digest of the files
    directly in it (the sheets), a digest of the clip list, and per clip its frame count and a
    digest of its annotation and frame files (names and sizes)."""
    resolved = {str(name): str(Path(root).expanduser().resolve()) for name, root in (roots or {}).items()}
    per_clip = {c.sample_id: {"frames": len(c.frames), "digest": _clip_digest(c)} for c in clips}
    return {
        "roots": resolved,
        "sheets": {name: root_files_digest(Path(root)) for name, root in resolved.items()},
        "clip_list": hashlib.sha256(to_json(sorted(per_clip)).encode()).hexdigest(),
        "clips": per_clip,
    }


def _first(items: Sequence[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def source_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two source identities, one phrase per difference."""
    changes = []
    old_roots, new_roots = old.get("roots", {}), new.get("roots", {})
    for name in sorted(set(old_roots) | set(new_roots)):
        if old_roots.get(name) != new_roots.get(name):
            changes.append(f"root of {name}: was {old_roots.get(name)}, now {new_roots.get(name)}")
    old_sheets, new_sheets = old.get("sheets", {}), new.get("sheets", {})
    for name in sorted(set(old_sheets) & set(new_sheets)):
        a, b = old_sheets[name], new_sheets[name]
        edited = sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))
        if edited:
            changes.append(f"files in the {name} root changed: {_first(edited)}")
    old_clips, new_clips = old.get("clips", {}), new.get("clips", {})
    removed = sorted(set(old_clips) - set(new_clips))
    added = sorted(set(new_clips) - set(old_clips))
    if removed:
        changes.append(f"{len(removed)} clips no longer read ({_first(removed)})")
    if added:
        changes.append(f"{len(added)} clips not in the interrupted run ({_first(added)})")
    edited = sorted(sid for sid in set(old_clips) & set(new_clips) if old_clips[sid] != new_clips[sid])
    if edited:
        counts = [
            f"{sid} ({old_clips[sid].get('frames')} -> {new_clips[sid].get('frames')} frames)"
            if old_clips[sid].get("frames") != new_clips[sid].get("frames") else sid
            for sid in edited
        ]
        changes.append(f"{len(edited)} clips changed (annotation or frame files): {_first(counts)}")
    if not changes and old.get("clip_list") != new.get("clip_list"):
        changes.append("the clip list differs")
    return changes


def check_same_source(run: RunDirectory, source: Mapping[str, Any]) -> None:
    """ResumeError unless the interrupted run in `run` read exactly `source`."""
    saved = run.saved_source()
    if saved is None:
        raise ResumeError(
            f"cannot resume {run.path}: its run.json does not record what it read (an older occmer started it), "
            "so mixing two datasets cannot be ruled out; pass --overwrite to start over"
        )
    changes = source_changes(saved, source)
    if changes:
        raise ResumeError(
            f"cannot resume {run.path}: it read other data ({'; '.join(changes)}); resume with the original "
            "--db/--root and database files, or pass --overwrite to start over"
        )


# --- long videos (issue 29) -----------------------------------------------------------------


@dataclass
class LongSynthesisSummary:
    out: Path
    videos: int
    frames: int
    seconds: float
    resumed_frames: int
    lost_frames: int
    placements: int

    def line(self) -> str:
        size = self.out.stat().st_size if self.out.exists() else 0
        seconds = command_seconds(self.seconds)
        made = self.frames - self.resumed_frames
        fps = made / seconds if seconds > 0 else 0.0
        text = (f"wrote {self.out}: {self.videos} long videos, {self.frames} frames in {seconds:.1f} s "
                f"({fps:.0f} frames/s), {size_text(size)}; occluder placed {self.placements} times, "
                f"{self.lost_frames} frames without a face (track/state = lost)")
        if self.resumed_frames:
            text += f"; {self.resumed_frames} frames reused from the interrupted run"
        return text


def _video_digest(record: LongVideoRecord) -> str:
    if record.array is not None:
        files = [[Path(record.array).name, Path(record.array).stat().st_size if Path(record.array).exists() else -1]]
    else:
        files = [[n, Path(p).name, Path(p).stat().st_size if Path(p).exists() else -1] for n, p in record.frames]
    fields = [record.video_id, record.subject, str(record.folder), record.fps, record.first_frame,
              [asdict(i) | {"source": ""} for i in record.intervals], files]
    return hashlib.sha256(to_json(fields).encode()).hexdigest()


def long_source_identity(videos: Sequence[LongVideoRecord], roots: Mapping[str, Path] | None = None) -> dict[str, Any]:
    """What a long-video run reads (run.json), in the shape `source_changes` compares: per video its frame
    count and a digest of its intervals and frame files (names and sizes)."""
    resolved = {str(name): str(Path(root).expanduser().resolve()) for name, root in (roots or {}).items()}
    per_video = {v.video_id: {"frames": len(v.frames) or -1, "digest": _video_digest(v)} for v in videos}
    return {
        "roots": resolved,
        "sheets": {name: root_files_digest(Path(root)) for name, root in resolved.items()},
        "clip_list": hashlib.sha256(to_json(sorted(per_video)).encode()).hexdigest(),
        "clips": per_video,
    }


def synthesize_long(
    settings: SynthesisSettings,
    videos: Sequence[LongVideoRecord],
    out: Path,
    *,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    command: str = "",
    progress: bool = True,
    roots: Mapping[str, Path] | None = None,
    track: LongTrackConfig | None = None,
) -> LongSynthesisSummary:
    """Write whole occluded long videos to `out` (contents="long-videos", docs/hdf5-format.md).

    Frames stream through a segment at a time (occmer.synthesis.long_video); each finished
    segment is a shard in OUT.parts/, so --resume continues an interrupted run from the last
    finished segment of each video, and the file appears only when every video is whole.
    Each video is one task of the local worker pool (`workers` processes, each with its own
    landmark backend); the file is the same whatever `workers` (every choice is seeded per video).
    """
    check_workers(workers)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: pass one of them")
    if not videos:
        raise ConfigError("no long videos to process: the database scan found none (see `occmer describe`)")
    ids = [v.video_id for v in videos]
    if len(set(ids)) != len(ids):
        raise OccmerError(f"duplicate video ids from the long-video adapter: {sorted({i for i in ids if ids.count(i) > 1})[:5]}")
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    track = track or LongTrackConfig()
    recorded = {**settings_dict(settings), "long_video": track.record()}
    LongVideoProcessor(settings, track)  # validates the occluder options before any work
    run = RunDirectory(out)
    source = long_source_identity(videos, roots)
    run.start(recorded, resume=resume, overwrite=overwrite, source=source)
    if resume:
        check_same_source(run, source)
    clear_stop(out)
    counts = [len(FrameSource(v)) for v in videos]
    points = [resume_point(out, v.video_id) if resume else None for v in videos]
    for record, point in zip(videos, points, strict=True):
        if point is not None:
            discard_segments_from(out, record.video_id, point.position)
    tasks = [VideoTask(record, point) for record, point in zip(videos, points, strict=True)]
    done = sum(min(p.position, n) for p, n in zip(points, counts, strict=True) if p is not None)
    job = LongVideoRun(settings, track, out)
    start = time.perf_counter()
    bar = progress_bar(sum(counts), "synthesize", "frame", initial=done, enabled=progress)
    metas: dict[str, LongVideoMeta] = {}

    def finished(meta: LongVideoMeta) -> None:
        metas[meta.video_id] = meta
        detail(f"done {meta.video_id}")

    try:
        with SegmentWatch(job, tasks, counts, bar.update, enabled=progress):
            local_runner.run_long_local(job, workers, tasks, finished)
    except OccmerError as exc:
        raise type(exc)(f"{exc}\n(finished segments are kept in {run.path}: fix the cause and rerun with --resume)") from exc
    finally:
        bar.close()
    attrs = {
        "database": settings.database,
        "occluder": to_json({"spec": settings.mask, "options": settings.mask_options}),
        "seed": settings.seed, "command": command, "settings": to_json(recorded),
        "skipped": to_json([]), "invalid": to_json([]),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    assemble_long(out, [metas[i] for i in ids], attrs, settings.compression)
    lost, placements = _track_totals(out)
    return LongSynthesisSummary(out, len(videos), sum(counts), time.perf_counter() - start, done, lost, placements)


def _track_totals(out: Path) -> tuple[int, int]:
    """(frames lost, placements) over every video of a written long-video file, each lost stretch reported."""
    lost = placements = 0
    with LongVideoFile.open(out) as f:
        for video_id in f.video_ids:
            info = f.info(video_id)
            lost += int(info.track_summary.get("lost", 0))
            placements += len(info.placements)
            if info.track_summary.get("lost", 0):
                info_line(f"{video_id}: {info.track_summary['lost']} frames without a face (no occluder drawn), "
                          f"occluder placed {len(info.placements)} times: "
                          + ", ".join(f"frame {p['frame']} ({p['reason']})" for p in info.placements[:6]))
    return lost, placements
