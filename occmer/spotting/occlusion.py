"""Occluders on long videos, placed two ways, to measure what placement costs a spotter.

- "held" (occmer's placement): the occluder is placed once, on the first frame's landmarks,
  and moved with the head's rigid motion frame by frame (the way `synthesize` holds it on a
  clip), so it never moves relative to the face.
- "per-frame" (the public generator's way): the occluder is placed again on every frame from
  that frame's detected landmarks, so landmark jitter moves it a little on every frame.
  `jitter` adds the frame-to-frame noise of a real detector on top of mediapipe's own on the
  clean demo frames: every landmark moves by a Gaussian of `jitter` x the outer eye-corner
  distance (x and y, independent per landmark and frame, seeded per video).

`hand-passing` is a hand that passes over the face (`hand --hand-path right`) once every
PASS_PERIOD_S seconds, for PASS_SECONDS each time, absent in between: a movement of the
occluder itself that a spotter can take for an expression.

The long demo records the true rigid head motion (`head_motion()`); "held" uses it here,
where `synthesize` estimates it from landmarks (occmer.faces.motion): a simplification noted
in docs/spotting.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from occmer.errors import ConfigError, FaceNotFoundError
from occmer.faces import topology as topo
from occmer.faces.landmarks import MediapipeBackend
from occmer.occluders import make_occluder
from occmer.occluders.base import Occluder, OccluderLayer
from occmer.occluders.compositing import Compositor
from occmer.seeding import sample_rng
from occmer.spotting.video import FrameFilter, LongVideoSource

PLACEMENTS = ("held", "per-frame")
HAND_PASSING = "hand-passing"
PASS_PERIOD_S = 10.0  # one pass of the hand every 10 s ...
PASS_SECONDS = 1.0  # ... crossing the face in 1 s


def pass_starts(count: int, fps: float) -> list[int]:
    """First frames of the hand's passes: one per PASS_PERIOD_S, the first half a period in."""
    period, length = PASS_PERIOD_S * fps, int(round(PASS_SECONDS * fps))
    starts, i = [], 0
    while (start := int(round((i + 0.5) * period))) + length <= count:
        starts.append(start)
        i += 1
    return starts


def _occluder(spec: str) -> Occluder:
    return make_occluder("hand", {"hand_path": "right"}) if spec == HAND_PASSING else make_occluder(spec)


def _jittered(landmarks: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    if jitter <= 0:
        return landmarks
    unit = float(np.linalg.norm(landmarks[topo.LEFT_EYE_OUTER] - landmarks[topo.RIGHT_EYE_OUTER]))
    return landmarks + rng.normal(0.0, jitter * unit, landmarks.shape)


def occluder_filter(spec: str, placement: str = "held", seed: int = 0, jitter: float = 0.0) -> FrameFilter:
    """A frame filter compositing the occluder `spec` (or HAND_PASSING) on every frame of a long video."""
    if placement not in PLACEMENTS:
        raise ConfigError(f"placement must be one of {', '.join(PLACEMENTS)} (got {placement!r})")
    if jitter < 0:
        raise ConfigError(f"landmark jitter must be 0 or positive (got {jitter})")
    _occluder(spec)  # an unknown name fails before any video is read
    passing = spec == HAND_PASSING

    def apply(video: LongVideoSource, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        occluder = _occluder(spec)
        affines = video.head_motion() if placement == "held" else None
        noise = sample_rng(seed, video.video, "landmark-jitter")
        length = int(round(PASS_SECONDS * video.fps))
        passes = {s + j: j for s in pass_starts(video.count, video.fps) for j in range(length)} if passing else {}
        backend = MediapipeBackend()
        compositor: Compositor | None = None
        landmarks = None
        try:
            for t, frame in enumerate(frames):
                gray = frame[:, :, None]
                if compositor is None or placement == "per-frame":
                    found = backend.detect(np.repeat(gray, 3, axis=2), sample_id=video.video, frame_number=t)
                    landmarks = found if found is not None else landmarks
                    if landmarks is None:
                        raise FaceNotFoundError(f"video {video.video}: no face on frame {t}; the occluder cannot be placed")
                    layer = occluder.place(gray, _jittered(landmarks, jitter, noise), sample_rng(seed, video.video, "occluder"))
                    compositor = Compositor(_moving(occluder, layer, gray, landmarks, length) if passing else layer)
                transform = affines[t] if affines is not None else None
                if passing and t not in passes:
                    yield frame
                    continue
                yield compositor.composite(gray, transform, passes.get(t))[0][:, :, 0]
        finally:
            backend.close()

    return apply


def _moving(occluder: Occluder, layer: OccluderLayer, gray: np.ndarray, landmarks: np.ndarray, length: int) -> OccluderLayer:
    """The hand's layer with its own motion across the face over one pass of `length` frames."""
    return occluder.follow(layer, [gray] * length, 0, np.repeat(np.eye(2, 3)[None], length, axis=0), landmarks)
