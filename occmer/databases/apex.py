"""Apex policies for clips whose sheet gives no apex: the choice is recorded in `Clip.apex_source`.

`midpoint` (default) takes the frame halfway between onset and offset; `flow` reads the
clip and takes the frame of largest onset-relative motion (dense Farneback flow on small
grayscale copies, so it stays cheap).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from occmer.errors import ConfigError, FrameReadError

FLOW_WIDTH = 96  # frames are shrunk to this width before the flow: ME motion survives, cost stays low


def nearest_frame(numbers: Sequence[int], target: float) -> int:
    """The frame number closest to `target` (the lower one on a tie)."""
    return min(numbers, key=lambda n: (abs(n - target), n))


def midpoint_apex(frames: Sequence[tuple[int, Path]], onset: int, offset: int) -> int:
    """The existing frame closest to (onset + offset) / 2."""
    inside = [n for n, _ in frames if onset <= n <= offset] or [n for n, _ in frames]
    return nearest_frame(inside, (onset + offset) / 2)


def read_gray_small(path: Path, width: int = FLOW_WIDTH) -> np.ndarray:
    """A frame as a small float32 grayscale image in [0, 1]; FrameReadError when it cannot be decoded."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FrameReadError(f"cannot decode frame {path}; check the file is a valid .jpg/.bmp/.png image")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    scale = 1.0 / 65535.0 if image.dtype == np.uint16 else 1.0 / 255.0
    image = image.astype(np.float32) * scale
    if image.shape[1] > width:
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image


def motion_profile(images: Sequence[np.ndarray]) -> np.ndarray:
    """Mean optical-flow magnitude of each image relative to the first (0 for the first).

    The median flow vector is removed first, so a slow head drift (which grows with time and
    would otherwise put the "apex" at the offset) does not count as expression motion.
    """
    import cv2

    reference = (images[0] * 255).astype(np.uint8)
    values = [0.0]
    for image in images[1:]:
        current = (image * 255).astype(np.uint8)
        flow = cv2.calcOpticalFlowFarneback(reference, current, None, 0.5, 2, 9, 3, 5, 1.1, 0)
        flow -= np.median(flow.reshape(-1, 2), axis=0)  # drop the global shift (head drift): keep deformation
        values.append(float(np.mean(np.hypot(flow[..., 0], flow[..., 1]))))
    return np.asarray(values, dtype=np.float64)


def flow_apex(frames: Sequence[tuple[int, Path]], onset: int, offset: int) -> int:
    """The frame between onset and offset of largest mean flow magnitude relative to the onset."""
    inside = [(n, p) for n, p in frames if onset <= n <= offset]
    if len(inside) < 2:
        return midpoint_apex(frames, onset, offset)
    profile = motion_profile([read_gray_small(p) for _, p in inside])
    return inside[int(np.argmax(profile))][0]


APEX_POLICIES: dict[str, Callable[[Sequence[tuple[int, Path]], int, int], int]] = {
    "midpoint": midpoint_apex,
    "flow": flow_apex,
}


def check_apex_policy(policy: str) -> str:
    """The policy name if known; ConfigError listing the choices otherwise."""
    if policy not in APEX_POLICIES:
        raise ConfigError(f"unknown apex policy {policy!r}; choose one of {', '.join(APEX_POLICIES)} (--apex)")
    return policy


# ---------------------------------------------------------------------------------------
# Offset policies: for rows whose offset is not annotated (CAS(ME)^3 writes 0)
# ---------------------------------------------------------------------------------------

ME_MAX_SECONDS = 0.5  # a micro-expression lasts at most half a second (domain.md §1)


def mirror_offset(numbers: Sequence[int], onset: int, apex: int | None, fps: float) -> int:
    """apex + (apex - onset): the fall as long as the rise, clamped to the folder's last frame."""
    if apex is None:
        raise ConfigError("offset policy mirror needs an annotated apex")
    return min(max(apex + (apex - onset), apex), numbers[-1])


def half_second_offset(numbers: Sequence[int], onset: int, apex: int | None, fps: float) -> int:
    """onset + half a second of frames (the longest a micro-expression lasts), at least the apex."""
    if fps <= 0:
        raise ConfigError("offset policy half-second needs the database's frame rate")
    return min(max(onset + round(ME_MAX_SECONDS * fps), apex or onset), numbers[-1])


OFFSET_POLICIES: dict[str, Callable[[Sequence[int], int, int | None, float], int]] = {
    "mirror": mirror_offset,
    "half-second": half_second_offset,
}
OFFSET_CHOICES = (*OFFSET_POLICIES, "skip")


def check_offset_policy(policy: str) -> str:
    """The policy name if known ("skip" reports such rows as problems); ConfigError otherwise."""
    if policy not in OFFSET_CHOICES:
        raise ConfigError(f"unknown offset policy {policy!r}; choose one of {', '.join(OFFSET_CHOICES)} (--offset)")
    return policy
