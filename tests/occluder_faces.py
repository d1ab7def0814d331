"""Bundled real faces, aligned like the pipeline does, for the occluder and preview tests.

The faces come from installed packages (no download): skimage's astronaut and matplotlib's
Grace Hopper portrait. Landmarks are detected once per session with the mediapipe backend.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from occmer.faces import topology as topo

SIZE = 224


def _load(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    import matplotlib.cbook as cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.array(Image.open(handle).convert("RGB"))


@functools.cache
def _backend():
    from occmer.faces.landmarks import MediapipeBackend

    return MediapipeBackend()


def detect(image: np.ndarray) -> np.ndarray:
    points = _backend().detect(image)
    assert points is not None, "mediapipe found no face in a bundled test image"
    return points


def crop_transform(landmarks: np.ndarray, size: int = SIZE, roll_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A similarity putting the eyes level (then rolled by roll_deg), 0.36*size apart (times scale)."""
    right, left = topo.eye_centers(landmarks)
    mid = (right + left) / 2
    angle = np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))
    factor = 0.36 * size * scale / float(np.linalg.norm(left - right))
    m = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), angle + roll_deg, factor)
    m[:, 2] += np.array([size / 2, size * 0.40]) - mid
    return m


@functools.cache
def aligned_face(name: str, roll_deg: float = 0.0, scale: float = 1.0, gray: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(frame (224, 224, C) uint8, landmarks re-detected on that frame) of a bundled face."""
    image = _load(name)
    m = crop_transform(detect(image), SIZE, roll_deg, scale)
    frame = cv2.warpAffine(image, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    landmarks = detect(frame)
    if gray:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None]
    frame.setflags(write=False)
    landmarks.setflags(write=False)
    return frame, landmarks


FACES = [
    ("astronaut", 0.0, 1.0),
    ("grace_hopper", 0.0, 1.0),
    ("astronaut", 20.0, 0.8),  # rolled and smaller
    ("grace_hopper", -15.0, 1.15),  # rolled the other way and larger
]
