"""What the spotting and STR tasks read of a long video: one small interface, any reader.

`occmer.demo.long_video.LongVideo` provides it; a reader of another layout (the HDF5
long-video layout, a release's own folders) plugs in by providing the same attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

import numpy as np


class LongVideoSource(Protocol):
    """One long video: its names, frame rate, face box, labelled events and frames in order.

    events: mappings with `kind` ("micro", "macro"; anything else, e.g. "blink", is not
    labelled), inclusive frame numbers `onset`, `apex`, `offset` (numbered from `first_frame`,
    0 for the long demo), and `emotion` (STR).
    face_box: (x0, y0, x1, y1) of the face in every frame, or None for the whole frame.
    frames(): uint8 (H, W) gray frames in order, streamed (never the whole video in memory).
    head_motion(): float (T, 2, 3), the rigid pose of each frame relative to frame 0; only the
    "held" occluder placement reads it.
    """

    video: str
    subject: str
    database: str
    fps: float
    first_frame: int  # the number of the first frame: onsets and offsets count from it
    face_box: tuple[int, int, int, int] | None
    events: Sequence[Mapping]

    def frames(self) -> Iterator[np.ndarray]: ...

    @property
    def count(self) -> int: ...

    def head_motion(self) -> np.ndarray: ...


# A frame filter: (video, frames) -> frames, e.g. an occluder composited on each frame.
FrameFilter = Callable[[LongVideoSource, Iterator[np.ndarray]], Iterator[np.ndarray]]


def filtered_frames(video: LongVideoSource, frame_filter: FrameFilter | None) -> Iterator[np.ndarray]:
    """The video's frames in order, through `frame_filter` when there is one (a condition's frames)."""
    frames = video.frames()
    return frame_filter(video, frames) if frame_filter is not None else frames
