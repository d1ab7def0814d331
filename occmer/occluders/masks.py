"""Face masks (surgical, N95, cloth) from the built-in templates.

A thin-plate spline through the jaw contour, nose and cheeks bends the template onto the
lower face, so the mask hugs the jaw from the nose bridge to under the chin.
"""

from __future__ import annotations

from typing import ClassVar

from occmer.occluders.template_occluder import MASK_MOTION_OPTION, TemplateOccluder


class FabricMaskOccluder(TemplateOccluder):
    """What every face mask shares: fabric, so `--mask-motion skin` may let it follow the skin."""

    fabric: ClassVar[bool] = True
    options: ClassVar[tuple[str, ...]] = (*TemplateOccluder.options, MASK_MOTION_OPTION.key)


class SurgicalMaskOccluder(FabricMaskOccluder):
    """A pleated surgical mask with ear loops."""

    name: ClassVar[str] = "surgical"
    family: ClassVar[str] = "surgical"
    description: ClassVar[str] = "pleated surgical mask (variants: blue, white, green, black)"


class N95MaskOccluder(FabricMaskOccluder):
    """A cup-shaped N95/KN95 respirator with straps."""

    name: ClassVar[str] = "n95"
    family: ClassVar[str] = "n95"
    description: ClassVar[str] = "N95/KN95 respirator (variants: white, white with valve, gray)"


class ClothMaskOccluder(FabricMaskOccluder):
    """A fitted cloth mask with a centre seam, plain or patterned."""

    name: ClassVar[str] = "cloth"
    family: ClassVar[str] = "cloth"
    description: ClassVar[str] = "cloth mask (variants: stripes, dots, plaid, plain)"
