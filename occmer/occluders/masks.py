"""Face masks (surgical, N95, cloth) from the built-in templates.

A thin-plate spline through the jaw contour, nose and cheeks bends the template onto the
lower face, so the mask hugs the jaw from the nose bridge to under the chin.
"""

from __future__ import annotations

from typing import ClassVar

from occmer.occluders.template_occluder import MASK_MOTION_OPTION, TemplateOccluder

FABRIC_OPTIONS = (*TemplateOccluder.options, MASK_MOTION_OPTION.key)  # fabric masks may follow the skin


class SurgicalMaskOccluder(TemplateOccluder):
    """A pleated surgical mask with ear loops."""

    name: ClassVar[str] = "surgical"
    family: ClassVar[str] = "surgical"
    fabric: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = FABRIC_OPTIONS
    description: ClassVar[str] = "pleated surgical mask (variants: blue, white, green, black)"


class N95MaskOccluder(TemplateOccluder):
    """A cup-shaped N95/KN95 respirator with straps."""

    name: ClassVar[str] = "n95"
    family: ClassVar[str] = "n95"
    fabric: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = FABRIC_OPTIONS
    description: ClassVar[str] = "N95/KN95 respirator (variants: white, white with valve, gray)"


class ClothMaskOccluder(TemplateOccluder):
    """A fitted cloth mask with a centre seam, plain or patterned."""

    name: ClassVar[str] = "cloth"
    family: ClassVar[str] = "cloth"
    fabric: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = FABRIC_OPTIONS
    description: ClassVar[str] = "cloth mask (variants: stripes, dots, plaid, plain)"
