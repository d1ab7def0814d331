"""The synthesis of one long video: the occluder placed once and held still on the face for minutes.

The clip job places the occluder on the onset frame and moves it with the rigid head motion
tracked from there (occmer.faces.motion). A long video is the same idea kept up for
thousands of frames, streamed a segment at a time (`SEGMENT_FRAMES`):

- the face crop (`align`) is fixed once, on the first frame where a face is found;
- the occluder is placed on an *anchor* frame from its landmarks (seeded per video), and each
  later frame's rigid head motion relative to the anchor (the clip job's point tracker and
  robust fit, tracked from the anchor directly, so without drift) moves it;
- every `redetect_seconds` the landmarks are detected again and compared with the tracked
  rigid points: agreement is recorded ("checked"); a disagreement above `drift_fraction` of
  the crop places the occluder again there ("reacquired");
- a frame the tracker cannot follow is detected again at once: a face found places the
  occluder again ("reacquired"); none found is "lost" (no occluder drawn, never silently:
  the track record says so per frame) and detection runs on every frame until it returns.

Everything the next segment needs (anchor, transform, counters) is saved with each segment,
so a resumed run rebuilds the same state and writes the same bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occmer.databases.long_video import LongVideoRecord
from occmer.errors import DataError, FaceNotFoundError, OccmerError
from occmer.faces.align import alignment_transform, identity, transform_points, warp_frame
from occmer.faces.motion import MotionConfig, PointTracker, chi2_sf, fit_motion, max_displacement, tracking_points
from occmer.frames import apply_color_policy, is_gray_rgb, read_frame, to_gray
from occmer.occluders.compositing import Compositor
from occmer.seeding import sample_rng
from occmer.store.long_video import (
    CHECKED,
    LOST,
    PLACED,
    REACQUIRED,
    SEGMENT_FRAMES,
    TRACKED,
    LongVideoMeta,
    ResumePoint,
    VideoSegment,
    frames_written,
    stop_requested,
    write_segment,
)
from occmer.synthesis.job import Processor, SynthesisSettings

LONG_MOTION = MotionConfig(model="similarity", smooth=0.0)  # minutes of video: the head's distance changes


@dataclass(frozen=True)
class LongTrackConfig:
    """How the face is followed through a long video (recorded in the file's settings)."""

    redetect_seconds: float = 2.0  # periodic landmark detection checking the track
    drift_fraction: float = 0.02  # tracked vs detected rigid points (median, of the crop side) that re-places
    motion: MotionConfig = LONG_MOTION

    def record(self) -> dict[str, Any]:
        return {"redetect_seconds": self.redetect_seconds, "drift_fraction": self.drift_fraction,
                "motion_model": self.motion.model}


class FrameSource:
    """A long video's frames read a range at a time: image files, or a memory-mapped (T, H, W[, C]) .npy."""

    def __init__(self, record: LongVideoRecord) -> None:
        self.record = record
        self._array: tuple[Path, int, tuple[int, ...]] | None = None
        if record.array is not None:
            try:
                array = np.load(record.array, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DataError(f"{record.video_id}: {record.array} cannot be read as a .npy array ({exc})") from exc
            if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[0] < 1:
                raise DataError(f"{record.video_id}: {record.array} must be uint8 (T, H, W) or (T, H, W, C), "
                                f"got {array.dtype} {array.shape}")
            if not array.flags.c_contiguous:
                raise DataError(f"{record.video_id}: {record.array} must be stored in C order")
            # Frames are read with plain file reads, not through the memory map: mapped pages would count
            # in the process's resident memory and grow with the video's length.
            self._array = (Path(record.array), int(array.offset), array.shape[1:])
            self.numbers = record.first_frame + np.arange(array.shape[0], dtype=np.int64)
            del array
        else:
            if not record.frames:
                raise DataError(f"{record.video_id}: no frames listed in {record.folder}")
            self.numbers = np.array([n for n, _ in record.frames], dtype=np.int64)
        self.gray = is_gray_rgb(self._raw(0)) if self._raw(0).shape[2] == 3 else False

    def __len__(self) -> int:
        return len(self.numbers)

    def _raw(self, position: int) -> np.ndarray:
        if self._array is not None:
            path, offset, shape = self._array
            size = int(np.prod(shape))
            frame = np.fromfile(path, dtype=np.uint8, count=size, offset=offset + position * size).reshape(shape)
            return frame[:, :, None] if frame.ndim == 2 else frame
        number, path = self.record.frames[position]
        return read_frame(path, self.record.video_id, number)

    def read(self, position: int) -> np.ndarray:
        """Frame `position` (0-based) as (H, W, C) uint8, a grey video saved as RGB kept as one channel."""
        frame = self._raw(position)
        return frame[:, :, :1] if self.gray and frame.shape[2] == 3 else frame


@dataclass
class Anchor:
    """The placement in use: the frame it was made on, its landmarks, layer and point tracker."""

    position: int
    number: int
    landmarks: np.ndarray  # (K, 2) stored-frame pixels
    compositor: Compositor
    tracker: PointTracker
    points: np.ndarray  # (N, 2) the rigid points tracked


@dataclass
class FrameResult:
    image: np.ndarray
    alpha: np.ndarray
    state: int
    transform: np.ndarray
    anchor: int


class LongVideoProcessor(Processor):
    """Synthesizes long videos one segment at a time with one landmark backend and one occluder."""

    def __init__(self, settings: SynthesisSettings, config: LongTrackConfig | None = None,
                 segment_frames: int | None = None) -> None:
        super().__init__(settings)
        self.config = config or LongTrackConfig()
        self.segment_frames = segment_frames or SEGMENT_FRAMES

    def video(self, record: LongVideoRecord, out: Path, resume: ResumePoint | None = None,
              on_segment: Callable[[int], None] = lambda n: None) -> LongVideoMeta:
        """Write every segment of `record` not yet written to OUT.parts; its metadata for the assembly."""
        source = FrameSource(record)
        run = VideoRun(self, record, source)
        position = run.restore(resume) if resume is not None else run.start()
        while position < len(source):
            segment = run.segment(position, min(len(source), position + self.segment_frames))
            write_segment(out, record.video_id, segment, self.settings.compression)
            on_segment(len(segment.frame_numbers))
            position = segment.stop
        return LongVideoMeta(record.video_id, record.database, record.subject, record.fps, record.first_frame,
                             len(source), record.intervals, tuple(tuple(r) for r in run.alignment.tolist()))


class VideoRun:
    """The state of one video between frames: the crop, the anchor, the last transform."""

    def __init__(self, processor: LongVideoProcessor, record: LongVideoRecord, source: FrameSource) -> None:
        self.p = processor
        self.record = record
        self.source = source
        self.alignment = identity()
        self.anchor: Anchor | None = None
        self.transform = identity()
        self.since_check = 0
        self.placements = 0
        fps = record.fps if record.fps > 0 else 30.0
        self.check_every = max(1, int(round(processor.config.redetect_seconds * fps)))

    # ------------------------------------------------------------ frames and landmarks

    def stored(self, raw: np.ndarray) -> np.ndarray:
        return warp_frame(raw, self.alignment, self.p.settings.size) if self.p.settings.align else raw

    def detect(self, raw: np.ndarray, position: int) -> np.ndarray | None:
        """Landmarks of frame `position` in stored-frame pixels, None when no face is found."""
        found = self.p.backend.detect(raw, self.record.video_id, int(self.source.numbers[position]))
        return None if found is None else transform_points(found, self.alignment).astype(np.float32)

    def start(self) -> int:
        """Fix the crop on the first frame with a face (frames before it are recorded lost); return 0."""
        if self.p.settings.align:
            for position in range(len(self.source)):
                found = self.p.backend.detect(self.source.read(position), self.record.video_id,
                                              int(self.source.numbers[position]))
                if found is not None:
                    self.alignment = alignment_transform(found, self.p.settings.size, self.record.video_id)
                    return 0
            raise FaceNotFoundError(f"{self.record.video_id}: no face found on any of its {len(self.source)} frames "
                                    f"({self.record.folder}); check the video or leave it out")
        return 0

    # ------------------------------------------------------------ placement

    def _anchor_at(self, position: int, frame: np.ndarray, landmarks: np.ndarray) -> Anchor | None:
        """The occluder placed on `frame` (the same draw for every placement of a video), or None when
        too few rigid points lie inside the frame to follow it."""
        config = self.p.config.motion
        gray = to_gray(frame)
        points = tracking_points(landmarks, gray.shape, margin=config.window / 2 + 1, indices=config.points)
        if len(points) < config.min_inliers:
            return None
        rng = sample_rng(self.p.settings.seed, self.record.video_id, "occluder")
        layer = self.p.occluder.place(frame, landmarks, rng)
        return Anchor(position, int(self.source.numbers[position]), np.asarray(landmarks, np.float32),
                      Compositor(layer), PointTracker(gray, points, config), points)

    def _track(self, frame: np.ndarray) -> np.ndarray | None:
        """The rigid motion anchor -> frame, the identity when not distinguishable from noise; None when lost."""
        assert self.anchor is not None
        config = self.p.config.motion
        points = self.anchor.points
        guess = points @ self.transform[:, :2].T + self.transform[:, 2]
        found, ok = self.anchor.tracker.track(to_gray(frame), guess.astype(np.float32))
        fit = fit_motion(points[ok], found[ok], config.ransac_px, config.noise_floor_px, config.model)
        needed = max(config.min_inliers, int(np.ceil(config.min_fraction * len(points))))
        if fit is None or int(fit.inliers.sum()) < needed:
            return None
        moved = (chi2_sf(fit.chi2, fit.n_params) < config.p_value
                 and max_displacement(fit.transform, points[ok][fit.inliers]) >= config.dead_band_px)
        return fit.transform if moved else identity()

    def _drift(self, landmarks: np.ndarray) -> float:
        """Median distance between the tracked and the detected rigid points."""
        assert self.anchor is not None
        rigid = list(self.p.config.motion.points)
        predicted = transform_points(self.anchor.landmarks[rigid], self.transform)
        distance = np.linalg.norm(predicted - landmarks[rigid], axis=1)
        distance = distance[np.isfinite(distance)]
        return float(np.median(distance)) if distance.size else float("inf")

    # ------------------------------------------------------------ one frame

    def _place(self, position: int, frame: np.ndarray, landmarks: np.ndarray, reason: str,
               placements: list[dict[str, Any]]) -> int:
        anchor = self._anchor_at(position, frame, landmarks)
        if anchor is None:
            self.anchor = None
            return LOST
        self.anchor, self.transform, self.since_check = anchor, identity(), 0
        state = PLACED if self.placements == 0 else REACQUIRED
        self.placements += 1
        placements.append({"frame": anchor.number, "reason": reason, "parameters": anchor.compositor.layer.params})
        return state

    def step(self, position: int, raw: np.ndarray, placements: list[dict[str, Any]]) -> FrameResult:
        frame = self.stored(raw)
        if self.anchor is None:
            landmarks = self.detect(raw, position)
            state = LOST if landmarks is None else self._place(
                position, frame, landmarks, "first face" if self.placements == 0 else "face found again", placements)
        else:
            motion = self._track(frame)
            if motion is None:
                landmarks = self.detect(raw, position)
                state = LOST if landmarks is None else self._place(position, frame, landmarks, "track lost", placements)
                self.anchor = self.anchor if state != LOST else None
            else:
                self.transform, state = motion, TRACKED
                self.since_check += 1
                if self.since_check >= self.check_every:
                    self.since_check = 0
                    landmarks = self.detect(raw, position)
                    if landmarks is not None:
                        limit = self.p.config.drift_fraction * frame.shape[1]
                        state = CHECKED if self._drift(landmarks) <= limit else self._place(
                            position, frame, landmarks, "track drifted", placements)
        if state == LOST or self.anchor is None:
            return FrameResult(frame, np.zeros(frame.shape[:2], np.uint8), LOST, self.transform, -1)
        image, alpha = self.anchor.compositor.composite(frame, self.transform)
        return FrameResult(image, alpha, state, self.transform.copy(), self.anchor.number)

    # ------------------------------------------------------------ segments and resume

    def segment(self, start: int, stop: int) -> VideoSegment:
        placements: list[dict[str, Any]] = []
        results = [self.step(p, self.source.read(p), placements) for p in range(start, stop)]
        frames = apply_color_policy(np.stack([r.image for r in results]), self.p.settings.color)
        return VideoSegment(
            start=start, frames=frames, occlusion=np.stack([r.alpha for r in results]),
            frame_numbers=self.source.numbers[start:stop].astype(np.int32),
            state=np.array([r.state for r in results], np.uint8),
            transform=np.stack([r.transform for r in results]).astype(np.float64),
            anchor=np.array([r.anchor for r in results], np.int32), placements=placements,
            resume=self.saved(), resume_arrays={} if self.anchor is None else {"anchor_landmarks": self.anchor.landmarks},
        )

    def saved(self) -> dict[str, Any]:
        """What the next segment continues from (JSON; the anchor's landmarks travel as an array)."""
        return {
            "alignment": self.alignment.tolist(), "transform": self.transform.tolist(),
            "anchor": None if self.anchor is None else self.anchor.position,
            "since_check": self.since_check, "placements": self.placements,
        }

    def restore(self, point: ResumePoint) -> int:
        """Continue after the last finished segment: the anchor rebuilt from the source frame it was made on."""
        state = point.state
        self.alignment = np.asarray(state["alignment"], np.float64)
        self.transform = np.asarray(state["transform"], np.float64)
        self.since_check, self.placements = int(state["since_check"]), int(state["placements"])
        if state["anchor"] is not None:
            position = int(state["anchor"])
            self.anchor = self._anchor_at(position, self.stored(self.source.read(position)),
                                          np.asarray(point.arrays["anchor_landmarks"], np.float32))
        return point.position


# ---------------------------------------------------------------- one video per worker task


@dataclass(frozen=True)
class LongVideoRun:
    """What a long-video worker is started for: the settings, the tracking knobs, the output file
    (segments go to OUT.parts/videos/<id>/) and the segment length, fixed here by the parent so
    every worker cuts the same segments."""

    settings: SynthesisSettings
    track: LongTrackConfig
    out: Path
    segment_frames: int = field(default_factory=lambda: SEGMENT_FRAMES)


@dataclass(frozen=True)
class VideoTask:
    """One task of the pool: a whole video, continued from `resume` (its last finished segment) if any."""

    record: LongVideoRecord
    resume: ResumePoint | None = None


class LongVideoWorker:
    """One worker's state for a long-video run: its own processor (landmark backend, occluder), kept
    for the run's next videos. Stops at a segment boundary when the parent asks (`request_stop`)."""

    def __init__(self, run: LongVideoRun) -> None:
        self.run = run
        self.processor = LongVideoProcessor(run.settings, run.track, run.segment_frames)

    def _check_stop(self, video_id: str) -> None:
        if stop_requested(self.run.out):
            raise OccmerError(f"{video_id}: stopped after a finished segment (the run was stopped)")

    def synthesize(self, task: VideoTask) -> LongVideoMeta:
        """Write `task`'s remaining segments; an OccmerError names the video."""
        video_id = task.record.video_id
        try:
            return self.processor.video(task.record, self.run.out, task.resume,
                                        on_segment=lambda n: self._check_stop(video_id))
        except OccmerError as exc:
            if str(exc).startswith(video_id):
                raise
            raise type(exc)(f"{video_id}: {exc}") from exc

    def close(self) -> None:
        self.processor.close()


class SegmentWatch:
    """Progress in frames whatever the worker count: a thread of the parent that reads, every
    `interval_s`, how far each video's shards in OUT.parts have come (names only) and moves `advance`."""

    def __init__(self, run: LongVideoRun, tasks: Sequence[VideoTask], lengths: Sequence[int],
                 advance: Callable[[int], None], *, enabled: bool = True, interval_s: float = 0.5) -> None:
        self.run = run
        self.enabled = enabled
        self.videos = [(t.record.video_id, n, 0 if t.resume is None else t.resume.position)
                       for t, n in zip(tasks, lengths, strict=True)]
        self.advance = advance
        self.interval_s = interval_s
        self.shown = self._written() if enabled else 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="occmer-segment-watch", daemon=True)

    def _written(self) -> int:
        return sum(frames_written(self.run.out, video_id, n, self.run.segment_frames, resumed_at)
                   for video_id, n, resumed_at in self.videos)

    def poll(self) -> None:
        written = self._written()
        if written > self.shown:
            self.advance(written - self.shown)
            self.shown = written

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def __enter__(self) -> SegmentWatch:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self.poll()


def track_settings(config: LongTrackConfig | None = None) -> dict[str, Any]:
    """The long-video tracking knobs as recorded beside the synthesis settings."""
    return (config or LongTrackConfig()).record()


__all__ = ["FrameSource", "LongTrackConfig", "LongVideoProcessor", "LongVideoRun", "LongVideoWorker", "SegmentWatch",
           "VideoTask", "track_settings"]
