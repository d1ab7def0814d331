"""The videos of a long-video HDF5 file as the spotting task reads them (docs/spotting.md).

`occmer synthesize --db demo-long` (or any long-video database) writes whole videos, clean
(`--mask none`) or occluded, to one file (docs/hdf5-format.md, "Long videos"). The spotting
task (occmer.spotting.task.run_loso) reads a long video through the `SpottingVideo`
interface; `read_long_video_file(path)` gives one `FileVideo` per stored video:

- frames: streamed a block of stored frames at a time (`BLOCK_FRAMES`), gray, so memory holds
  one block whatever the video's length; the file is opened again for each pass;
- truth: the file's intervals table (micro and macro; blinks are not intervals);
- face box: an aligned file's frames are already face crops (the whole frame); an unaligned
  one's box is drawn around the landmarks found on the frame the occluder was first placed on
  (the face the track followed), with the recorded landmark backend; the whole frame when
  no face is found there (said on stderr).

Frame numbers are the file's: when its frame numbers are consecutive (an array source, the
demo), truth and spotted intervals count from `first_frame`; otherwise (frames missing from an
image-folder source) both count stored positions from 0, so the spotter's window of k frames
is always k stored frames.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occmer.databases.long_video import LongInterval
from occmer.demo.long_video import face_box
from occmer.errors import ConfigError
from occmer.faces.landmarks import LANDMARK_BACKENDS, LandmarkBackend
from occmer.frames import to_gray
from occmer.progress import info
from occmer.store.long_video import SEGMENT_FRAMES, LongVideoFile, LongVideoInfo

BLOCK_FRAMES = SEGMENT_FRAMES  # frames read at a time: 256 x 128 x 128 px = 4 MiB
FACE_TRIES = 5  # placements whose anchor frame is tried for the face box


@dataclass(frozen=True)
class FileVideo:
    """One video of a long-video file, read block by block (the interface of `SpottingVideo`)."""

    path: Path
    video: str  # the file's video id
    subject: str
    database: str
    fps: float
    first_frame: int  # frame number of the first stored frame as the intervals count (see the module)
    count: int
    face_box: tuple[int, int, int, int] | None  # None: the whole frame (an aligned face crop)
    events: tuple[dict, ...]
    block: int = BLOCK_FRAMES

    def frames(self) -> Iterator[np.ndarray]:
        """The stored frames in order as (H, W) uint8 gray, `block` frames in memory at a time."""
        with LongVideoFile.open(self.path) as f:
            for start in range(0, self.count, self.block):
                for frame in f.frames(self.video, start, min(self.count, start + self.block)):
                    yield to_gray(frame)


def _events(intervals: tuple[LongInterval, ...], numbers: np.ndarray) -> tuple[tuple[dict, ...], int]:
    """The intervals as the task's event dicts and the first frame they count from (see the module)."""
    consecutive = int(numbers[-1] - numbers[0]) == len(numbers) - 1
    first = int(numbers[0]) if consecutive else 0

    def frame(number: int | None, last: bool = False) -> int | None:
        """The stored position of a frame number (a missing onset: the next frame; offset: the previous)."""
        if number is None or consecutive:
            return number
        position = np.searchsorted(numbers, number, side="right") - 1 if last else np.searchsorted(numbers, number)
        return int(np.clip(position, 0, len(numbers) - 1))

    events = []
    for i in intervals:
        onset = frame(i.onset)
        events.append({"kind": i.kind, "onset": onset, "apex": frame(i.apex), "offset": max(onset, frame(i.offset, True)),
                       "emotion": i.emotion, "objective_class": i.objective_class, "action_units": i.action_units})
    return tuple(events), first


def _landmark_backend(settings: dict[str, Any]) -> LandmarkBackend:
    name = str(settings.get("landmarks", "mediapipe"))
    if name not in LANDMARK_BACKENDS:
        raise ConfigError(f"the file's settings name landmark backend {name!r}, unknown here "
                          f"(known: {', '.join(sorted(LANDMARK_BACKENDS))})")
    return LANDMARK_BACKENDS[name](**dict(settings.get("landmark_options") or {}))


def _tracked_box(f: LongVideoFile, meta: LongVideoInfo, numbers: np.ndarray,
                 backend: LandmarkBackend) -> tuple[int, int, int, int] | None:
    """The face box on the frames the occluder was placed on (the first with a face); None if none has one."""
    placed = [int(p["frame"]) for p in meta.placements if "frame" in p][:FACE_TRIES] or [int(numbers[0])]
    for number in placed:
        position = int(min(np.searchsorted(numbers, number), len(numbers) - 1))
        frame = f.frames(meta.video_id, position, position + 1)[0]
        found = backend.detect(frame, meta.video_id, int(numbers[position]))
        if found is not None:
            return face_box(np.asarray(found, np.float64), (meta.width, meta.height))
    info(f"{f.path}: video {meta.video_id}: no face found on its placement frames; spotting on the whole frame")
    return None


def read_long_video_file(path: str | Path, block: int = BLOCK_FRAMES,
                         video_ids: Collection[str] | None = None) -> list[FileVideo]:
    """Every video of a long-video HDF5 file (clean or occluded) for the spotting task
    (only those of `video_ids`, in the file's order, when given: `occmer inspect --html` shows one).

    Reads attributes, intervals and frame numbers only (and, for an unaligned file, one frame
    per video for its face box); frames come later, block by block, from `FileVideo.frames()`.
    StoreError names the file when it is not a complete long-video file.
    """
    path = Path(path)
    videos: list[FileVideo] = []
    with LongVideoFile.open(path) as f:
        settings = f.attrs().get("settings") or {}
        aligned = bool(settings.get("align", True))
        backend = None if aligned else _landmark_backend(settings)
        wanted = f.video_ids if video_ids is None else [v for v in f.video_ids if v in set(video_ids)]
        try:
            for video_id in wanted:
                meta = f.info(video_id)
                numbers = f.frame_numbers(video_id)
                events, first = _events(f.intervals(video_id), numbers)
                box = None if backend is None else _tracked_box(f, meta, numbers, backend)
                videos.append(FileVideo(path, video_id, meta.subject, meta.database, meta.fps, first,
                                        meta.n_frames, box, events, block))
        finally:
            if backend is not None:
                backend.close()
    return videos


__all__ = ["BLOCK_FRAMES", "FileVideo", "read_long_video_file"]
