"""The Occluder interface: place once on the onset frame, then move with the head.

An occluder never sees frames other than the onset: the pipeline warps the layer it
returns by each frame's rigid head motion (occmer.occluders.compositing), which is what
keeps it still on a still face and lets it follow a moving one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
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


class Occluder(ABC):
    """One occluder family. Options come from the CLI; random choices from `rng` only."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Occluder:
        """Build from CLI options; each family picks the options it understands."""
        return cls()

    @abstractmethod
    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        """Render the occluder for an onset frame (H, W, C uint8, C = 3 RGB or 1 gray)
        with its landmarks (K, 2) in the same pixel coordinates."""


class NoOccluder(Occluder):
    """The clean condition: nothing is drawn; the file still has an all-zero occlusion."""

    name = "none"
    description = "no occluder (the clean condition)"

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        h, w = frame.shape[:2]
        return OccluderLayer(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), {})
