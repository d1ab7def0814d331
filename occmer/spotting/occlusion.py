"""Occluders on long videos, placed two ways, to measure what placement costs a spotter.

- "held" (occmer's placement): the occluder is placed once, on the first frame's landmarks,
  and moved with the head's rigid motion frame by frame (the way `synthesize` holds it on a
  clip), so it never moves relative to the face.
- "per-frame" (the public generator's way): the occluder is placed again on every frame from
  that frame's detected landmarks, so landmark jitter moves it a little on every frame.

The long demo records the true rigid head motion (head_motion.npy); "held" uses it here,
where `synthesize` estimates it from landmarks (occmer.faces.motion): a simplification noted
in docs/spotting.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from occmer.demo.long_video import HEAD_MOTION, LongVideo
from occmer.errors import FaceNotFoundError
from occmer.faces.landmarks import MediapipeBackend
from occmer.occluders import make_occluder
from occmer.occluders.compositing import Compositor
from occmer.seeding import sample_rng
from occmer.spotting.task import FrameFilter

PLACEMENTS = ("held", "per-frame")


def occluder_filter(spec: str, placement: str = "held", seed: int = 0) -> FrameFilter:
    """A frame filter compositing the occluder `spec` on every frame of a long video (gray in, gray out)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}")

    def apply(video: LongVideo, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        occluder = make_occluder(spec)
        affines = np.load(video.path / HEAD_MOTION) if placement == "held" else None
        backend = MediapipeBackend()
        compositor, landmarks = None, None
        try:
            for t, frame in enumerate(frames):
                gray = frame[:, :, None]
                if compositor is None or placement == "per-frame":
                    found = backend.detect(np.repeat(gray, 3, axis=2), sample_id=video.video, frame_number=t)
                    landmarks = found if found is not None else landmarks
                    if landmarks is None:
                        raise FaceNotFoundError(f"{video.path}: no face on frame {t}; the occluder cannot be placed")
                    layer = occluder.place(gray, landmarks, sample_rng(seed, video.video, "occluder"))
                    compositor = Compositor(layer)
                transform = affines[t] if affines is not None else None
                yield compositor.composite(gray, transform)[0][:, :, 0]
        finally:
            backend.close()

    return apply
