"""The Occluder built on templates: pick a variant, warp it, feather it, light it like the face."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError
from occmer.occluders.base import Occluder, OccluderLayer
from occmer.occluders.compositing import feather, match_illumination
from occmer.occluders.templates import Template, builtin_template, builtin_variants, render_template


class TemplateOccluder(Occluder):
    """A family of built-in templates `<family>_<variant>` (one variant drawn per clip)."""

    family: ClassVar[str] = ""
    feather_px: ClassVar[float] = 0.5  # at the aligned 224 px face: softens the warped edge by ~1 px
    illumination_strength: ClassVar[float] = 0.7

    def __init__(self, variant: str | None = None) -> None:
        variants = builtin_variants(self.family)
        if not variants:
            raise ConfigError(
                f"occluder {self.name!r}: no templates found for it in the installed templates folder; "
                "reinstall occmer or run `python masks/draw.py`"
            )
        if variant is not None and variant not in variants:
            raise ConfigError(f"occluder {self.name!r}: unknown --variant {variant!r}; choose one of {', '.join(variants)}")
        self.variant = variant
        self.variants = variants

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TemplateOccluder:
        return cls(variant=options.get("variant") or None)

    def choose(self, rng: np.random.Generator) -> Template:
        """The template for one clip: the requested variant, or one drawn from `rng`."""
        variant = self.variant or self.variants[int(rng.integers(len(self.variants)))]
        return builtin_template(self.family, variant)

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        template = self.choose(rng)
        return place_template(self, template, frame, landmarks)


def place_template(occluder: Occluder, template: Template, frame: np.ndarray, landmarks: np.ndarray) -> OccluderLayer:
    """Render `template` for one onset frame: warp, feather, match illumination, record."""
    rendered = render_template(template, frame.shape[:2], landmarks)
    alpha = feather(rendered.alpha, getattr(occluder, "feather_px", 0.5))
    strength = getattr(occluder, "illumination_strength", 0.7)
    color, lighting = match_illumination(rendered.color, frame, landmarks, strength=strength)
    params = {"family": occluder.name, **rendered.params, "feather_px": getattr(occluder, "feather_px", 0.5)}
    params["illumination"] = lighting
    return OccluderLayer(color, alpha, params)
