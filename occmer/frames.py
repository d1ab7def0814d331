"""Decoding frame files into the arrays every stage uses: uint8 (H, W, C), C = 3 RGB or 1 gray."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from occmer.errors import FrameReadError


def read_frame(path: Path, sample_id: str = "", frame_number: int | None = None) -> np.ndarray:
    """Decode one image file. Gray files keep one channel; colour comes back RGB.

    16-bit images (some NIR exports) are scaled to 8 bits by their top byte.
    """
    where = f"{sample_id}: frame {frame_number} " if sample_id else ""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise FrameReadError(f"{where}file not found: {path}")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
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
