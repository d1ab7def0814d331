"""Decoding frame files into the arrays every stage uses: uint8 (H, W, C), C = 3 RGB or 1 gray."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from occmer.errors import DataError, FrameReadError

# Largest frame decoded: 2^27 pixels (e.g. 16384 x 8192), far above any camera's frame. A header
# declaring more (a decompression bomb: a few bytes claiming 65000 x 65000) is refused before
# any pixel is decoded, as it would need gigabytes of memory or trip OpenCV's own limit.
MAX_FRAME_PIXELS = 2**27


def declared_size(data: np.ndarray) -> tuple[int, int] | None:
    """(width, height) an image file's header declares, read without decoding (None: unknown format)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # read the header, never the pixels
            try:
                with Image.open(io.BytesIO(data.tobytes())) as image:
                    return image.size
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except Exception:  # noqa: BLE001 - not a format PIL knows: OpenCV decides
        return None


def read_frame(path: Path, sample_id: str = "", frame_number: int | None = None) -> np.ndarray:
    """Decode one image file. Gray files keep one channel; colour comes back RGB.

    16-bit images (some NIR exports) are scaled to 8 bits by their top byte.
    """
    where = f"{sample_id}: frame {frame_number} " if sample_id else ""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise FrameReadError(f"{where}file not found: {path}")
    size = declared_size(data) if data.size else None
    if size is not None and size[0] * size[1] > MAX_FRAME_PIXELS:
        raise FrameReadError(
            f"{where}{path} declares {size[0]}x{size[1]} pixels, more than occmer decodes ({MAX_FRAME_PIXELS} "
            "pixels); a damaged or hostile file: replace it or exclude the clip"
        )
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:  # OpenCV's own size limits
        image = None
    if image is None:
        raise FrameReadError(
            f"{where}cannot decode {path} (corrupt or not an image); replace the file or exclude the clip"
        )
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise FrameReadError(f"{where}{path} has pixel type {image.dtype}; occmer reads 8- or 16-bit images")
    if image.ndim == 2:
        return image[:, :, None]
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image[:, :, :1]


def is_gray_rgb(frame: np.ndarray) -> bool:
    """True for a 3-channel frame whose channels are identical (a gray image saved as RGB)."""
    return frame.shape[2] == 3 and np.array_equal(frame[:, :, 0], frame[:, :, 1]) and np.array_equal(
        frame[:, :, 1], frame[:, :, 2]
    )


def frame_position(frame_numbers: Sequence[int] | np.ndarray, number: int) -> int | None:
    """Index of the frame numbered `number` among a clip's frame numbers; None when it is absent.

    Clips keep their original frame numbers (they need not start at 0 or be contiguous), so
    every stage that looks up the onset or apex goes through this one lookup and raises its
    own error, naming its file and fix, on None.
    """
    hits = np.flatnonzero(np.asarray(frame_numbers) == int(number))
    return int(hits[0]) if hits.size else None


# ITU-R BT.601 luma, the weights cv2.COLOR_RGB2GRAY uses (so a converted file matches OpenCV's grey).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma of an (H, W, 3) RGB or (H, W, 1) / (H, W) gray uint8 frame (OpenCV's rounding)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise DataError(f"frames must be uint8 to convert to gray, got {frame.dtype}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return np.ascontiguousarray(frame[:, :, 0])
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    raise DataError(f"frames must be (H, W, 3) RGB or (H, W, 1) gray, got shape {frame.shape}")


COLOR_POLICIES = ("keep", "gray", "rgb")


def to_channels(frames: np.ndarray, channels: int | None) -> np.ndarray:
    """uint8 (..., C) frames with `channels` channels: grey is replicated to 3, colour becomes
    BT.601 luma for 1; None or an equal count returns the array itself."""
    have = frames.shape[-1]
    if channels is None or have == channels:
        return frames
    if channels == 3 and have == 1:
        return np.repeat(frames, 3, axis=-1)
    if channels == 1 and have == 3:
        luma = frames.astype(np.float32) @ LUMA
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
    raise ValueError(f"cannot convert frames with {have} channels to {channels}")


def apply_color_policy(frames: np.ndarray, policy: str) -> np.ndarray:
    """Frames as `occmer synthesize --color` stores them: keep (as read), gray (1 channel), rgb (3)."""
    if policy not in COLOR_POLICIES:
        raise ValueError(f"color policy must be one of {', '.join(COLOR_POLICIES)}, got {policy!r}")
    return to_channels(frames, {"keep": None, "gray": 1, "rgb": 3}[policy])
