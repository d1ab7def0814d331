"""CausalNet's four maps per sample: two flow images and the direction map of each (pure computation).

The authors' release (tony19980810/CausalNet, `datasets/STSNet_whole_norm_u_v_os`) holds per
sample `X`, `X_1`, `X_2`, `X_3`: `X` the onset->apex flow image and `X_1` the apex->offset one
(u, v, optical strain, each an 8-bit plane), and `X_2`, `X_3` their direction maps. The code
does not say how the maps were made; the direction maps were measured (docs/models.md,
"CausalNet's four maps"): every pixel of all 884 direction maps of the release is reproduced
exactly by `direction_map` of the flow image's u and v planes (X -> X_2, X_1 -> X_3): the
colour of hue = angle(u, v) in degrees / 2 (OpenCV's 0..180 hue, truncated) at full saturation
and value. Because the flow images are 0..255, the angle lies in 0..90 degrees: hues from red
through yellow to yellow-green, blue always 0.

Channel names follow `occmer import --layout maps`: each map's channels with its suffix
(u, v, strain, u_1, ..., strain_3); the planes of a colour image are named in R, G, B order
(u = red, v = green, strain = blue), as the import reads the release.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from occmer.errors import ConfigError

MAP_SUFFIXES = ("", "_1", "_2", "_3")  # X, X_1, X_2, X_3: the order CausalNet's model reads them
FLOW_MAPS = ("", "_1")  # onset->apex, apex->offset
DIRECTION_OF = {"_2": "", "_3": "_1"}  # direction map -> the flow map it is computed from
COLOUR_PLANES = ("u", "v", "strain")  # R, G, B of an image read by `occmer import` (rgb pixel order)
DIRECTION_DOC = ("colour of hue = angle(u, v) in degrees / 2 (OpenCV hue 0..180, truncated), saturation and "
                 "value 255, of the flow map's u and v (0..255) as CausalNet's release: planes u = red, v = green, "
                 "strain = blue")


def map_channel_names(channels: Sequence[str]) -> list[str]:
    """Channel names of four maps: each map's channels, the map's suffix appended (u, v, strain, u_1, ...)."""
    return [f"{c}{suffix}" for suffix in MAP_SUFFIXES for c in channels]


def split_map_channels(channels: Sequence[str]) -> dict[str, list[str]] | None:
    """{suffix: base channel names} when `channels` are four maps of the same base names, else None."""
    count = len(channels) // len(MAP_SUFFIXES)
    if count == 0 or len(channels) % len(MAP_SUFFIXES):
        return None
    base = list(channels[:count])
    if list(channels) != map_channel_names(base):
        return None
    return {suffix: base for suffix in MAP_SUFFIXES}


def map_indices(channels: Sequence[str], suffix: str) -> list[int]:
    """Positions of one map's channels in the four-map channel list."""
    count = len(channels) // len(MAP_SUFFIXES)
    start = MAP_SUFFIXES.index(suffix) * count
    return list(range(start, start + count))


def minmax_255(planes: np.ndarray) -> np.ndarray:
    """(C, S, S) with each plane mapped linearly onto 0..255 (a flat plane becomes 0), float32."""
    planes = np.asarray(planes, np.float64)
    low = planes.min(axis=(-2, -1), keepdims=True)
    span = planes.max(axis=(-2, -1), keepdims=True) - low
    return np.where(span > 0, (planes - low) * (255.0 / np.where(span > 0, span, 1.0)), 0.0).astype(np.float32)


def direction_map(u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """The direction map of a flow image's u and v planes (S, S) on 0..255: {"u": red, "v": green,
    "strain": blue} float32 planes of 0..255 (module docstring: exact on the release's maps)."""
    _, angle = cv2.cartToPolar(np.asarray(u, np.float32), np.asarray(v, np.float32), angleInDegrees=True)
    hue = (angle / 2).astype(np.uint8)
    full = np.full(hue.shape, 255, np.uint8)
    rgb = cv2.cvtColor(np.stack([hue, full, full], axis=-1), cv2.COLOR_HSV2RGB).astype(np.float32)
    return dict(zip(COLOUR_PLANES, rgb.transpose(2, 0, 1), strict=True))


def direction_planes(flow_map: np.ndarray, base: Sequence[str]) -> np.ndarray:
    """(C, S, S) direction map of a flow map (C, S, S) whose channels are named `base` (u and v among them)."""
    missing = [c for c in ("u", "v") if c not in base]
    unknown = [c for c in base if c not in COLOUR_PLANES]
    if missing or unknown:
        raise ConfigError(f"four maps with channels {', '.join(base)}: the direction maps need u and v and name "
                          f"their colour planes {', '.join(COLOUR_PLANES)}; name the channels so at import")
    colour = direction_map(flow_map[list(base).index("u")], flow_map[list(base).index("v")])
    return np.stack([colour[c] for c in base])
