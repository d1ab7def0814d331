"""`occmer synthesize`: clips -> frames -> landmarks -> alignment -> head motion -> occluder -> store.

One clip is processed by `ClipProcessor.process`, a pure function of (clip, settings, seed):
the same clip gives the same arrays whatever the worker count, order or executor. `synthesize`
spreads clips over worker processes (the local executor) or Ray tasks (`occmer.pipeline_ray`),
each writing its own shard (see store.writer); the driver assembles the shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occmer.databases import Clip, select_frames
from occmer.databases.apex import check_offset_policy
from occmer.databases.base import FRAME_MODES
from occmer.errors import ConfigError, FaceNotFoundError, OccmerError, ResumeError
from occmer.faces.align import alignment_transform, transform_points, warp_frame
from occmer.faces.landmarks import LANDMARK_BACKENDS, LandmarkBackend
from occmer.faces.motion import track_head_motion
from occmer.frames import COLOR_POLICIES, apply_color_policy, is_gray_rgb, read_frame
from occmer.occluders import Occluder, make_occluder
from occmer.occluders.compositing import Compositor, occluder_motion_arrays, occlusion_ratio
from occmer.ray_cluster import ExecutorChoice
from occmer.seeding import MAX_SEED, sample_rng
from occmer.store.writer import ClipRecord, RunDirectory, SplitMaker, assemble, to_json
from occmer.workers import WorkerPool, check_workers

ON_ERROR = ("stop", "skip")

__all__ = [
    "ClipProcessor", "ProcessedClip", "SynthesisSettings", "SynthesisSummary", "process_clip", "read_frame", "synthesize",
]


@dataclass(frozen=True)
class SynthesisSettings:
    """Everything that decides the arrays of a run (and so must match on --resume)."""

    database: str = "demo"
    mask: str = "none"
    mask_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    size: int = 224
    align: bool = True
    frames: str = "clip"
    landmarks: str = "mediapipe"
    landmark_options: dict[str, Any] = field(default_factory=dict)
    apex: str = "midpoint"
    offset: str = "mirror"  # how an unannotated offset is filled: recorded so a re-run reads the same clips
    compression: int = 1  # gzip level: face frames shrink ~17% at any level; 1 is the fastest
    # Stored channels. rgb (default): grey clips are replicated to 3 channels after compositing, so
    # every file, merged CASME II (colour) + SAMM (grey) included, batches; keep: as read; gray: luma.
    color: str = "rgb"

    def __post_init__(self) -> None:
        check_offset_policy(self.offset)
        if self.frames not in FRAME_MODES:
            raise ConfigError(f"--frames must be one of {', '.join(FRAME_MODES)}, got {self.frames!r}")
        if self.landmarks not in LANDMARK_BACKENDS:
            raise ConfigError(
                f"unknown landmark backend {self.landmarks!r}; choose one of {', '.join(sorted(LANDMARK_BACKENDS))}"
            )
        if self.size < 32:
            raise ConfigError(f"--size must be at least 32 pixels, got {self.size}")
        if not 0 <= self.compression <= 9:
            raise ConfigError(f"--compression must be 0..9, got {self.compression}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")
        if self.color not in COLOR_POLICIES:
            raise ConfigError(f"--color must be one of {', '.join(COLOR_POLICIES)}, got {self.color!r}")


@dataclass
class ProcessedClip:
    """One clip after synthesis, before it is written."""

    clip: Clip
    frames: np.ndarray  # uint8 (T, H, W, C), occluded
    clean_frames: np.ndarray  # uint8 (T, H, W, C), aligned, before occlusion
    occlusion: np.ndarray  # uint8 (T, H, W)
    landmarks: np.ndarray  # float32 (T, K, 2)
    frame_numbers: np.ndarray  # int32 (T,)
    head_motion: np.ndarray  # float64 (T, 2, 3), onset -> frame t
    alignment: np.ndarray  # float64 (2, 3), original -> stored
    placement: dict[str, Any]
    occlusion_ratio: float
    occluder_arrays: dict[str, np.ndarray] = field(default_factory=dict)  # an occluder's own motion, if any

    def record(self) -> ClipRecord:
        clip = self.clip
        row = {
            "sample_id": clip.sample_id, "database": clip.database, "subject": clip.subject,
            "filename": clip.filename, "emotion": clip.emotion, "objective_class": clip.objective_class,
            "composite": clip.composite, "action_units": clip.action_units, "apex_source": clip.apex_source,
            "onset": clip.onset, "apex": clip.apex, "offset": clip.offset, "n_frames": len(self.frame_numbers),
            "occlusion_ratio": self.occlusion_ratio, "objective_source": clip.objective_source,
            "fixes": json.dumps(list(clip.fixes)), "offset_source": clip.offset_source,
        }
        return ClipRecord(
            row=row, frames=self.frames, occlusion=self.occlusion, landmarks=self.landmarks,
            frame_numbers=self.frame_numbers, placement=self.placement,
            extra={"head_motion": self.head_motion, **self.occluder_arrays},
        )


def _onset_index(clip: Clip, numbers: Sequence[int]) -> int:
    if clip.onset not in numbers:
        raise OccmerError(f"{clip.sample_id}: onset frame {clip.onset} is not among the selected frames")
    return list(numbers).index(clip.onset)


class ClipProcessor:
    """Processes clips one at a time with one landmark backend and one occluder (per worker)."""

    def __init__(self, settings: SynthesisSettings) -> None:
        self.settings = settings
        self.occluder: Occluder = make_occluder(settings.mask, settings.mask_options)
        self._backend: LandmarkBackend | None = None

    @property
    def backend(self) -> LandmarkBackend:
        if self._backend is None:
            self._backend = LANDMARK_BACKENDS[self.settings.landmarks](**self.settings.landmark_options)
        return self._backend

    def read(self, clip: Clip) -> tuple[list[np.ndarray], np.ndarray]:
        chosen = select_frames(clip, self.settings.frames)
        frames = [read_frame(path, clip.sample_id, number) for number, path in chosen]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise OccmerError(f"{clip.sample_id}: frames of different sizes in {clip.folder}: {sorted(shapes)}")
        if frames and is_gray_rgb(frames[0]):
            frames = [f[:, :, :1] for f in frames]
        return frames, np.array([n for n, _ in chosen], dtype=np.int32)

    def process(self, clip: Clip) -> ProcessedClip:
        s = self.settings
        raw, numbers = self.read(clip)
        onset = _onset_index(clip, numbers.tolist())
        found = self.backend.detect(raw[onset], clip.sample_id, int(numbers[onset]))
        if found is None:
            path = dict(clip.frames).get(int(numbers[onset]), clip.folder)
            raise FaceNotFoundError(
                f"{clip.sample_id}: no face found on onset frame {int(numbers[onset])} ({path}); check the frame, "
                "bring landmarks with --landmarks file:FOLDER, or pass --on-error skip to leave the clip out"
            )
        if s.align:
            alignment = alignment_transform(found, s.size)
            frames = [warp_frame(f, alignment, s.size) for f in raw]
            onset_landmarks = transform_points(found, alignment).astype(np.float32)
        else:
            alignment = np.eye(2, 3)
            frames, onset_landmarks = raw, found.astype(np.float32)
        tracked = track_head_motion(
            frames, onset, onset_landmarks, sample_id=clip.sample_id, frame_numbers=numbers.tolist()
        )
        motion = tracked.transforms
        rng = sample_rng(s.seed, clip.sample_id, "occluder")
        layer = self.occluder.place(frames[onset], onset_landmarks, rng)
        layer = self.occluder.follow(layer, frames, onset, motion, onset_landmarks)  # its own motion, if any
        occluded, alphas, landmarks = [], [], []
        compositor = Compositor(layer)
        for index, (frame, transform) in enumerate(zip(frames, motion, strict=True)):
            image, alpha = compositor.composite(frame, transform, index)
            occluded.append(image)
            alphas.append(alpha)
            landmarks.append(transform_points(onset_landmarks, transform))
        landmarks_arr = np.stack(landmarks).astype(np.float32)
        ratio = float(np.mean([occlusion_ratio(a, lm) for a, lm in zip(alphas, landmarks_arr, strict=True)]))
        placement = {
            "occluder": self.occluder.name,
            "spec": s.mask,
            "parameters": layer.params,
            "alignment": np.asarray(alignment).tolist(),
            "landmark_backend": s.landmarks,
            "head_motion": tracked.summary(),
        }
        # The policy applies after compositing: a grey face got a grey occluder whatever is stored.
        return ProcessedClip(
            clip=clip, frames=apply_color_policy(np.stack(occluded), s.color),
            clean_frames=apply_color_policy(np.stack(frames), s.color), occlusion=np.stack(alphas),
            landmarks=landmarks_arr, frame_numbers=numbers, head_motion=np.asarray(motion, np.float64),
            alignment=np.asarray(alignment, np.float64), placement=placement, occlusion_ratio=ratio,
            occluder_arrays=occluder_motion_arrays(layer, motion),
        )

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


def process_clip(clip: Clip, settings: SynthesisSettings) -> ProcessedClip:
    """Process one clip with a fresh processor (convenient for previews and tests)."""
    processor = ClipProcessor(settings)
    try:
        return processor.process(clip)
    finally:
        processor.close()


# --- running a whole database -------------------------------------------------------------

@dataclass
class ClipResult:
    sample_id: str
    n_frames: int = 0
    error: str = ""


@dataclass
class SynthesisSummary:
    out: Path
    clips: int
    frames: int
    seconds: float
    skipped: list[dict[str, str]]
    resumed: int

    def line(self) -> str:
        size = self.out.stat().st_size / 1e6 if self.out.exists() else 0.0
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"wrote {self.out}: {self.clips} clips, {self.frames} frames in {self.seconds:.1f} s "
            f"({fps:.0f} frames/s), {size:.1f} MB"
        )
        if self.resumed:
            text += f"; {self.resumed} clips reused from the interrupted run"
        if self.skipped:
            text += f"; {len(self.skipped)} clips skipped (listed in the file's 'skipped' attribute)"
        return text


_WORKER: tuple[ClipProcessor, RunDirectory, str] | None = None
_WORKER_RUN: str = ""  # the run (settings, output, on_error) _WORKER was made for


def _init_worker(settings: SynthesisSettings, out: Path, on_error: str) -> None:
    global _WORKER, _WORKER_RUN
    _WORKER = (ClipProcessor(settings), RunDirectory(out), on_error)
    _WORKER_RUN = to_json([_settings_dict(settings), str(out), on_error])


def _close_worker() -> None:
    global _WORKER, _WORKER_RUN
    if _WORKER is not None:
        _WORKER[0].close()
    _WORKER, _WORKER_RUN = None, ""


def _init_worker_process(settings: SynthesisSettings, out: Path, on_error: str) -> None:
    """Worker start-up: native library logs (mediapipe, TFLite) go to OUT.parts/logs, not the terminal."""
    run = RunDirectory(out)
    log_dir = run.path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"worker-{os.getpid()}.log", "a")  # noqa: SIM115 - kept open for the process
    os.dup2(log.fileno(), 2)
    _init_worker(settings, out, on_error)


def _run_one(clip: Clip) -> ClipResult:
    assert _WORKER is not None, "worker not initialised"
    processor, run, on_error = _WORKER
    try:
        processed = processor.process(clip)
    except OccmerError as exc:
        if on_error == "skip":
            return ClipResult(clip.sample_id, error=str(exc))
        raise
    run.write(processed.record(), processor.settings.compression)
    return ClipResult(clip.sample_id, len(processed.frame_numbers))


def run_one_in_shared_worker(settings: SynthesisSettings, out: Path, on_error: str, clip: Clip) -> ClipResult:
    """`_run_one` in a process that serves tasks of any run (a Ray worker): the processor (the
    landmark model, the occluder) is made once per run and kept for the run's next clips."""
    if _WORKER is None or _WORKER_RUN != to_json([_settings_dict(settings), str(out), on_error]):
        _close_worker()
        _init_worker(settings, out, on_error)
    return _run_one(clip)


def run_local(settings: SynthesisSettings, out: Path, on_error: str, workers: int, clips: Sequence[Clip],
              on_done: Callable[[ClipResult], None]) -> None:
    """Every clip on the local worker pool (this process with one worker); `on_done` as each ends."""
    with clip_pool(settings, out, on_error, workers, len(clips)) as pool:
        for result in pool.map_unordered(_run_one, clips):
            on_done(result)


def clip_pool(settings: SynthesisSettings, out: Path, on_error: str, workers: int, n_clips: int) -> WorkerPool:
    """The worker pool of one run: never more processes than clips; one worker runs here."""
    workers = max(1, min(workers, n_clips))
    init = _init_worker_process if workers > 1 else _init_worker
    return WorkerPool(workers, init, (settings, out, on_error), finalizer=_close_worker)


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
    processes; the default) or Ray tasks (`occmer.pipeline_ray`; `out` must then be on
    storage every node sees). Either way the shards land in OUT.parts/ and are assembled here.

    roots (database name -> folder) are recorded in run.json with a digest of the files
    directly in each root (the sheets) and of the clip list; --resume refuses another source.
    `splits` computes the /splits of the file from its /samples columns at assembly
    (occmer.bench.splits.compute_splits; the CLI passes it).
    """
    from occmer.progress import detail, progress_bar

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
    finished = run.start(_settings_dict(settings), resume=resume, overwrite=overwrite, source=source)
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
        if executor.name == "ray":
            from occmer.pipeline_ray import run_ray

            run_ray(settings, out, on_error, todo, advance, executor)
        else:
            run_local(settings, out, on_error, workers, todo, advance)
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
        "settings": to_json(_settings_dict(settings)),
        "skipped": to_json(skipped),
        "invalid": to_json(list(invalid)),
    }
    from datetime import datetime, timezone

    attrs["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    assemble(out, order, attrs, splits=splits)
    return SynthesisSummary(
        out=out, clips=len(order), frames=n_frames, seconds=time.perf_counter() - start,
        skipped=skipped, resumed=len(clips) - len(todo),
    )


def _settings_dict(settings: SynthesisSettings) -> dict[str, Any]:
    return asdict(settings)


# --- what a run read (resume identity) -----------------------------------------------------

HASHED_FILE_LIMIT = 64 * 2**20  # bigger files directly in a root (archives, videos) are known by size only


def _file_digest(path: Path) -> str:
    size = path.stat().st_size
    if size > HASHED_FILE_LIMIT:
        return f"size:{size}"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
