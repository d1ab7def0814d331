"""Recognition samples cut from long videos: onset and apex frames -> the flow a model reads.

Spot-then-recognize classifies each spotted interval with a recognition model trained on true
intervals. A sample is one interval's onset and apex frame numbers; its input is occmer's clip
feature (TV-L1 flow u, v and optical strain, `occmer.features.clip_features`) of the face box,
at the model's input size, exactly as a clip's features are computed.

Apex of a spotted interval: its middle frame. The feature-difference spotter centres every
interval on its contrast peak ([peak - k, peak + k], and the contrast is 0 within 2k frames of
either end, so no interval is ever clipped): the middle IS the frame of peak feature
difference, the frame most unlike its neighbours k frames away, which is what an apex is.
A spotter whose intervals are not centred on a peak would pass its own apex.

Frames are read by streaming each video once (`frames()`, through the same frame filter as the
spotter, e.g. an occluder), keeping only the frames asked for: any long-video reader that
yields frames in order serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from occmer.errors import DataError
from occmer.features.clip import clip_features
from occmer.features.spec import FlowSpec
from occmer.spotting.feature_difference import crop
from occmer.spotting.intervals import Interval
from occmer.spotting.video import FrameFilter, LongVideoSource, filtered_frames


@dataclass(frozen=True)
class Sample:
    """One interval to recognise: its video, onset and apex frame numbers, and its label ("" if unknown)."""

    video: str
    onset: int
    apex: int
    emotion: str = ""


def spotted_apex(interval: Interval) -> int:
    """The middle frame of a spotted interval: the spotter's contrast peak (see the module docstring)."""
    return (interval.onset + interval.offset) // 2


def spotted_sample(interval: Interval) -> Sample:
    return Sample(interval.video, interval.onset, spotted_apex(interval))


def true_samples(video: LongVideoSource, kinds: Iterable[str]) -> list[Sample]:
    """The labelled expressions of the kinds asked for, onset -> apex as the truth gives them."""
    wanted = set(kinds)
    return [Sample(video.video, int(e["onset"]), int(e["apex"]), e.get("emotion", "")) for e in video.events
            if e["kind"] in wanted]


def read_frames(video: LongVideoSource, numbers: Iterable[int], frame_filter: FrameFilter | None = None) -> dict[int, np.ndarray]:
    """The frames numbered `numbers` of one video, read in one pass (after the filter)."""
    wanted = set(int(n) for n in numbers)
    if not wanted:
        return {}
    frames = filtered_frames(video, frame_filter)
    out: dict[int, np.ndarray] = {}
    last = max(wanted)
    for t, frame in enumerate(frames, start=video.first_frame):  # frame numbers count from first_frame
        if t in wanted:
            out[t] = np.asarray(frame).copy()
        if t >= last:
            break
    missing = sorted(wanted - set(out))
    if missing:
        raise DataError(f"video {video.video}: frames {missing[:5]} are past its end ({video.count} frames)")
    return out


def sample_features(
    videos: Sequence[LongVideoSource], samples: Sequence[Sample], spec: FlowSpec, frame_filter: FrameFilter | None = None
) -> np.ndarray:
    """(N, C, S, S) float32: each sample's onset->apex flow features on its video's face box, in order."""
    by_video = {v.video: v for v in videos}
    out = np.zeros((len(samples), len(spec.channels), int(spec.size), int(spec.size)), np.float32)
    for name in dict.fromkeys(s.video for s in samples):
        video = by_video[name]
        rows = [i for i, s in enumerate(samples) if s.video == name]
        frames = read_frames(video, {n for i in rows for n in (samples[i].onset, samples[i].apex)}, frame_filter)
        for i in rows:
            onset, apex = (crop(frames[n], video.face_box) for n in (samples[i].onset, samples[i].apex))
            out[i] = clip_features(onset, apex, spec).data
    return out
