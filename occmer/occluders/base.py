"""The Occluder interface: place once on the onset frame, then move with the head.

An occluder is drawn from the onset frame only: the pipeline warps the layer it returns
by each frame's rigid head motion (occmer.occluders.compositing), which is what keeps it
still on a still face and lets it follow a moving one. The few occluders whose own motion
is the point (a mask that follows the skin, a hand passing over the face) say how they
move in `Occluder.follow`, once per clip, from the clean clip; nothing is redrawn per frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class OccluderLayer:
    """An occluder rendered once, in the coordinates of the stored onset frame.

    color: float32 (H, W, 3) RGB in 0..255 (ignored where alpha is 0).
    alpha: float32 (H, W) in 0..1, 1 = fully covered.
    params: JSON-serialisable record of every choice made (stored in `placement`).
    """

    color: np.ndarray
    alpha: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    shadow: np.ndarray | None = None  # float32 (H, W) 0..1: how much the skin *around* it is darkened
    lens: np.ndarray | None = None  # float32 (H, W, 2): where a clear lens shows the face from (p + lens[p])
    motion: LayerMotion | None = None  # the occluder's own per-frame motion (skin masks, passing hands)


@dataclass
class LayerMotion:
    """What an occluder does by itself, on top of the head's rigid motion, frame by frame.

    local: (T, 2, 3) affine moving the layer inside onset coordinates before the head motion
    (a hand passing over the face); identity for a still occluder.
    visible: (T,) bool; False = the occluder is out of the picture on that frame.
    control_src / control_dst: fabric control points (K, 2) on the onset and where each is
    on frame t (T, K, 2), both in onset coordinates: a thin-plate spline between them bends
    the layer (skin-following masks). None = no bending.
    """

    local: np.ndarray
    visible: np.ndarray
    control_src: np.ndarray | None = None
    control_dst: np.ndarray | None = None


class Occluder(ABC):
    """One occluder family. Options come from the CLI; random choices from `rng` only."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    usage: ClassVar[str] = ""  # how --mask names it, when not just `name` (custom:PATH.json)
    options: ClassVar[tuple[str, ...]] = ()  # keys of occmer.occluders.OPTIONS it reads

    @classmethod
    def takes(cls, key: str) -> bool:
        """Whether the family reads the option `key` (an option it does not read changes nothing)."""
        return key in cls.options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Occluder:
        """Build from CLI options; each family picks the options it understands."""
        return cls()

    @abstractmethod
    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        """Render the occluder for an onset frame (H, W, C uint8, C = 3 RGB or 1 gray)
        with its landmarks (K, 2) in the same pixel coordinates."""

    def follow(
        self,
        layer: OccluderLayer,
        frames: Sequence[np.ndarray],
        onset_index: int,
        head_motion: np.ndarray,
        landmarks: np.ndarray,
    ) -> OccluderLayer:
        """The layer with its own per-frame motion (`layer.motion`), given the clean clip.

        Rigid occluders (the default) return the layer unchanged: they move with the head
        only. Skin-following masks and passing hands override this; whatever they add is
        a deterministic function of the clean frames and the placement.
        """
        return layer


class NoOccluder(Occluder):
    """The clean condition: nothing is drawn; the file still has an all-zero occlusion."""

    name = "none"
    description = "no occluder (the clean condition)"

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        h, w = frame.shape[:2]
        return OccluderLayer(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), {})
