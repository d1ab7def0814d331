"""Glasses (clear lenses) and sunglasses (dark lenses) from the built-in templates.

Anchored by a homography on the eye corners, mid-brows and nose bridge, so they follow
roll, scale and moderate yaw; the arms are drawn from the hinges to the face contour at
ear height (landmarks 127 and 356).
"""

from __future__ import annotations

from typing import ClassVar

from occmer.occluders.template_occluder import TemplateOccluder


class GlassesOccluder(TemplateOccluder):
    """Clear glasses: visible frame, slightly tinted lenses with a highlight."""

    name: ClassVar[str] = "glasses"
    family: ClassVar[str] = "glasses"
    description: ClassVar[str] = "eyeglasses with clear lenses (variants: frame colour and shape)"
    refracts: ClassVar[bool] = True
    specular: ClassVar[float] = 0.35


class SunglassesOccluder(TemplateOccluder):
    """Sunglasses: dark lenses hide the eyes."""

    name: ClassVar[str] = "sunglasses"
    family: ClassVar[str] = "sunglasses"
    description: ClassVar[str] = "sunglasses with dark lenses (variants: frame and lens colour, shape)"
    illumination_strength: ClassVar[float] = 0.5
    specular: ClassVar[float] = 0.45
