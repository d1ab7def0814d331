"""Landmark backends: a registry of name -> backend that finds face points in a frame.

Detection runs on original (unaligned) frames; the pipeline maps the points through the
alignment. Backends are created inside each worker process (mediapipe is not picklable).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from occmer.faces.topology import N_POINTS


class LandmarkBackend(ABC):
    """Finds one face's landmarks (K, 2) in pixel coordinates, or None when there is none."""

    name: ClassVar[str]
    n_points: ClassVar[int] = N_POINTS

    @abstractmethod
    def detect(self, image: np.ndarray, sample_id: str = "", frame_number: int | None = None) -> np.ndarray | None:
        """Landmarks of the most prominent face in an RGB (H, W, 3) or gray (H, W[, 1]) uint8 image."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources."""


class MediapipeBackend(LandmarkBackend):
    """mediapipe 0.10.21 face mesh, models bundled in the wheel (no download)."""

    name = "mediapipe"

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
        )

    def detect(self, image: np.ndarray, sample_id: str = "", frame_number: int | None = None) -> np.ndarray | None:
        rgb = as_rgb(image)
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h) for p in points], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous RGB uint8 view of a gray or RGB frame (mediapipe wants 3 channels)."""
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    gray = image.reshape(image.shape[0], image.shape[1])
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


LANDMARK_BACKENDS: dict[str, type[LandmarkBackend]] = {
    MediapipeBackend.name: MediapipeBackend,
}
