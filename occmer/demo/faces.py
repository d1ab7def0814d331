"""Identities of the demo database: faces that ship inside installed packages, normalised.

No download is ever needed: the two portraits come from scikit-image and matplotlib, the
rest from scikit-image's `lfw_subset` (100 small grey faces). Each face is warped once into
a square frame (eyes level, face centred, a fixed face width), and the landmarks that drive
the synthetic action units are detected on that normalised frame, so that the landmarks
and the pixels that are later deformed are the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from occmer.errors import ConfigError
from occmer.faces import topology
from occmer.faces.landmarks import LandmarkBackend

# Distance between the face contour's sides (topology.RIGHT/LEFT_FACE_EDGE) as a fraction
# of the frame side; leaves enough margin around the face for the face detector.
FACE_WIDTH_FRACTION = 0.64
# The LFW faces are 25 px crops that touch the face: detection needs them upscaled and padded.
LFW_UPSCALE_PX = 200
LFW_PAD_FRACTION = 0.3
LFW_COUNT = 100  # lfw_subset(): the first 100 images are faces, the next 100 are not


@dataclass(frozen=True)
class FaceSource:
    """A face image that loads offline: a stable name and a loader returning RGB uint8."""

    name: str
    load: Callable[[], np.ndarray]
    upscale: float = 1.0  # enlarge (cubic) before detection; tiny crops need it
    pad: int = 0  # replicate-pad (after upscaling) before detection


@dataclass(frozen=True)
class Face:
    """One subject's neutral face: the normalised frame and its landmarks (K, 2) float32."""

    source: str
    image: np.ndarray  # (size, size, 3) uint8 RGB
    landmarks: np.ndarray  # (478, 2) float32 in the same frame


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, :3])


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def _lfw_loader(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        gray = np.clip(data.lfw_subset()[index] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)

    return load


def portrait_sources() -> list[FaceSource]:
    """The two full portraits, always the first subjects (the best textured faces)."""
    return [FaceSource("skimage.astronaut", _astronaut), FaceSource("matplotlib.grace_hopper", _grace_hopper)]


def lfw_sources() -> list[FaceSource]:
    """The 100 LFW faces bundled with scikit-image, upscaled and padded for detection."""
    scale = LFW_UPSCALE_PX / 25.0
    pad = int(round(LFW_UPSCALE_PX * LFW_PAD_FRACTION))
    return [FaceSource(f"skimage.lfw_subset[{i}]", _lfw_loader(i), upscale=scale, pad=pad) for i in range(LFW_COUNT)]


def candidate_order(rng: np.random.Generator) -> list[FaceSource]:
    """Portraits first, then the LFW faces in a seeded order (different seeds, other faces)."""
    lfw = lfw_sources()
    return portrait_sources() + [lfw[i] for i in rng.permutation(len(lfw))]


def source_transform(source: FaceSource) -> np.ndarray:
    """(2, 3) affine from the loaded image to the image given to the detector (upscale + pad)."""
    return np.array([[source.upscale, 0.0, source.pad], [0.0, source.upscale, source.pad]], np.float64)


def normalising_transform(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(2, 3) similarity putting the eyes level and the face centred with a fixed width."""
    right_eye, left_eye = (np.asarray(p, np.float64) for p in topology.eye_centers(landmarks))
    axis = left_eye - right_eye
    angle = np.arctan2(axis[1], axis[0])
    edge = landmarks[topology.LEFT_FACE_EDGE].astype(np.float64) - landmarks[topology.RIGHT_FACE_EDGE]
    scale = FACE_WIDTH_FRACTION * size / max(float(np.hypot(*edge)), 1e-6)
    centre = (landmarks[topology.FOREHEAD_TOP].astype(np.float64) + landmarks[topology.CHIN_BOTTOM]) / 2
    cos, sin = scale * np.cos(-angle), scale * np.sin(-angle)
    linear = np.array([[cos, -sin], [sin, cos]])
    offset = np.array([size / 2.0, size / 2.0]) - linear @ centre
    return np.hstack([linear, offset[:, None]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2, 3) affine that applies `inner` then `outer`."""
    full = np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]])
    return full[:2]


def detector_input(image: np.ndarray, source: FaceSource) -> np.ndarray:
    """The image the detector sees first: upscaled (cubic) and replicate-padded as the source asks."""
    if source.upscale == 1.0 and source.pad == 0:
        return image
    h, w = image.shape[:2]
    size = (int(round(w * source.upscale)) + 2 * source.pad, int(round(h * source.upscale)) + 2 * source.pad)
    return cv2.warpAffine(image, source_transform(source), size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def prepare_face(source: FaceSource, backend: LandmarkBackend, size: int) -> Face | None:
    """The normalised face of one source, or None when the detector misses it (before or after)."""
    image = source.load()
    first = backend.detect(detector_input(image, source), sample_id=source.name)
    if first is None:
        return None
    transform = compose(normalising_transform(first, size), source_transform(source))
    normalised = cv2.warpAffine(image, transform, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    landmarks = backend.detect(normalised, sample_id=source.name)
    if landmarks is None:
        return None
    return Face(source.name, normalised, landmarks.astype(np.float32))


def collect_faces(count: int, size: int, backend: LandmarkBackend, rng: np.random.Generator) -> list[Face]:
    """`count` distinct faces, each one detected again after normalisation, in a seeded order."""
    faces: list[Face] = []
    for source in candidate_order(rng):
        if len(faces) == count:
            break
        face = prepare_face(source, backend, size)
        if face is not None:
            faces.append(face)
    if len(faces) < count:
        raise ConfigError(
            f"only {len(faces)} of the bundled faces are detected at --size {size}, {count} subjects asked; "
            f"ask for at most {len(faces)} subjects (or a larger --size)"
        )
    return faces


def max_subjects() -> int:
    """How many identities exist at most (portraits + LFW faces), before detection."""
    return len(portrait_sources()) + LFW_COUNT
