"""`custom:PATH.json`: a user's RGBA PNG pinned to the face by the anchors in the JSON.

The template is loaded and validated when the occluder is built, so a bad file stops the
command before any clip is processed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError
from occmer.occluders.base import Occluder, OccluderLayer
from occmer.occluders.template_occluder import SHADING_OPTION, parse_shading, place_template
from occmer.occluders.templates import Template, load_template


class CustomOccluder(Occluder):
    """A user template (see occmer.occluders.templates for the JSON format)."""

    name: ClassVar[str] = "custom"
    description: ClassVar[str] = "your own RGBA PNG + JSON anchors: --mask custom:PATH.json"
    usage: ClassVar[str] = "custom:PATH.json"
    options: ClassVar[tuple[str, ...]] = (SHADING_OPTION.key,)
    feather_px: ClassVar[float] = 0.5
    illumination_strength: ClassVar[float] = 0.7

    def __init__(self, path: str | Path, shading: bool = True) -> None:
        self.path = Path(path)
        self.shading = shading
        self.template: Template = load_template(self.path)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CustomOccluder:
        argument = options.get("argument")
        if not argument:
            raise ConfigError("the custom occluder needs a template file: --mask custom:PATH.json")
        return cls(argument, shading=parse_shading(options.get("shading")))

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        layer = place_template(self, self.template, frame, landmarks, rng)
        layer.params["template_file"] = str(self.path)
        return layer
