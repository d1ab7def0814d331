"""The Occluder built on templates: pick a variant, warp it, feather it, light it like the face."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError
from occmer.occluders import shading as sh
from occmer.occluders.base import LayerMotion, Occluder, OccluderLayer
from occmer.occluders.compositing import feather, match_illumination
from occmer.occluders.options import OccluderOption
from occmer.occluders.skin_motion import MASK_MOTIONS
from occmer.occluders.templates import Template, builtin_template, builtin_variants, render_template

SHADING_CHOICES = ("on", "off")

VARIANT_OPTION = OccluderOption("variant", "Template variant of the occluder (see docs/occluders.md).")
SHADING_OPTION = OccluderOption(
    "shading", "Template occluders and hands: light the occluder by the face under it, cast a soft contact shadow "
    "on the skin, add lens highlights and clear-lens refraction (docs/occluders.md). 'off' = the flat, uniformly lit "
    "occluder of earlier versions.", choices=SHADING_CHOICES, default="on")
MASK_MOTION_OPTION = OccluderOption(
    "mask_motion", "Fabric masks (surgical, n95, cloth): 'rigid' moves with the head only; 'skin' also follows the "
    "face under the mask (smoothed, attenuated flow of the clean clip; control points stored per frame).",
    choices=MASK_MOTIONS, default="rigid", checked=True, inert="rigid",
    refusal="--mask-motion skin is for the fabric masks ({takers}); --mask {mask} stays rigid")


def parse_mask_motion(value: Any) -> str:
    """`--mask-motion rigid|skin` (default rigid)."""
    mode = "rigid" if value is None else str(value)
    if mode not in MASK_MOTIONS:
        raise ConfigError(f"--mask-motion must be one of {', '.join(MASK_MOTIONS)}, got {value!r}")
    return mode


def parse_shading(value: Any) -> bool:
    """`--shading on|off` (default on) as a bool; anything else is a ConfigError."""
    if value is None or value is True or value == "on":
        return True
    if value is False or value == "off":
        return False
    raise ConfigError(f"--shading must be one of {', '.join(SHADING_CHOICES)}, got {value!r}")


class TemplateOccluder(Occluder):
    """A family of built-in templates `<family>_<variant>` (one variant drawn per clip)."""

    family: ClassVar[str] = ""
    feather_px: ClassVar[float] = 0.5  # at the aligned 224 px face: softens the warped edge by ~1 px
    illumination_strength: ClassVar[float] = 0.7
    refracts: ClassVar[bool] = False  # clear lenses bend what is behind them
    specular: ClassVar[float] = 0.0  # peak opacity of the lens highlight (0 = none)
    fabric: ClassVar[bool] = False  # rests on the skin: may follow it (--mask-motion skin)
    options: ClassVar[tuple[str, ...]] = (VARIANT_OPTION.key, SHADING_OPTION.key)

    def __init__(self, variant: str | None = None, shading: bool = True, mask_motion: str = "rigid") -> None:
        self.shading = shading
        self.mask_motion = parse_mask_motion(mask_motion)
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
        mask_motion = parse_mask_motion(options.get("mask_motion"))
        if mask_motion == "skin" and not cls.fabric:
            if not options.get("within_random"):
                raise ConfigError(
                    f"occluder {cls.name!r} cannot follow the skin (--mask-motion skin is for the fabric masks "
                    "surgical, n95 and cloth; glasses rest on the nose bridge and ears and stay rigid)"
                )
            mask_motion = "rigid"  # `random` mixes families: the rigid ones stay rigid (no mask_motion record)
        return cls(variant=options.get("variant") or None, shading=parse_shading(options.get("shading")),
                   mask_motion=mask_motion)

    def choose(self, rng: np.random.Generator) -> Template:
        """The template for one clip: the requested variant, or one drawn from `rng`."""
        variant = self.variant or self.variants[int(rng.integers(len(self.variants)))]
        return builtin_template(self.family, variant)

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        template = self.choose(rng)
        layer = place_template(self, template, frame, landmarks, rng)
        if self.fabric:
            layer.params["mask_motion"] = {"mode": self.mask_motion}
        return layer

    def follow(
        self, layer: OccluderLayer, frames: Sequence[np.ndarray], onset_index: int, head_motion: np.ndarray,
        landmarks: np.ndarray,
    ) -> OccluderLayer:
        """Skin-following masks: the fabric's control points move with the face under them."""
        if not (self.fabric and self.mask_motion == "skin"):
            return layer
        from occmer.faces.topology import face_region_mask
        from occmer.occluders.skin_motion import EXTRA_CONTROL_LANDMARKS, NOSE_REFERENCE_LANDMARKS, skin_control_motion

        rows, cols = np.nonzero(layer.alpha > 0)
        if rows.size == 0:
            return layer
        indices = sorted(set(layer.params.get("anchors", [])) | set(EXTRA_CONTROL_LANDMARKS))
        face_size = float(np.sqrt(face_region_mask(landmarks, layer.alpha.shape).sum()))
        box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
        reference = np.isin(indices, NOSE_REFERENCE_LANDMARKS)
        skin = skin_control_motion(
            frames, onset_index, head_motion, np.asarray(landmarks)[indices], box, face_size, reference=reference
        )
        n = len(frames)
        layer.motion = LayerMotion(
            local=np.repeat(np.eye(2, 3)[None], n, axis=0), visible=np.ones(n, bool),
            control_src=skin.source, control_dst=skin.targets,
        )
        layer.params["mask_motion"] = {**skin.record, "control_landmarks": indices}
        return layer


def place_template(
    occluder: Occluder, template: Template, frame: np.ndarray, landmarks: np.ndarray,
    rng: np.random.Generator | None = None,
) -> OccluderLayer:
    """Render `template` for one onset frame: warp, feather, light it like the face, record.

    With the occluder's `shading` on (the default), also its contact shadow on the skin,
    the lens highlight and, for clear lenses, the refraction (occmer.occluders.shading);
    the lens power is the one random choice, drawn from `rng`.
    """
    rendered = render_template(template, frame.shape[:2], landmarks)
    alpha = feather(rendered.alpha, getattr(occluder, "feather_px", 0.5))
    strength = getattr(occluder, "illumination_strength", 0.7)
    params = {"family": occluder.name, **rendered.params, "feather_px": getattr(occluder, "feather_px", 0.5)}
    if not getattr(occluder, "shading", False):
        color, params["illumination"] = match_illumination(rendered.color, frame, landmarks, strength=strength)
        params["shading"] = "off"
        return OccluderLayer(color, alpha, params)
    return _shaded_layer(occluder, rendered.color, alpha, params, frame, landmarks, rng)


def _shaded_layer(
    occluder: Occluder, color: np.ndarray, alpha: np.ndarray, params: dict[str, Any], frame: np.ndarray,
    landmarks: np.ndarray, rng: np.random.Generator | None,
) -> OccluderLayer:
    shading_map, light, face_size = sh.face_shading(frame, landmarks)
    color, params["illumination"] = sh.shade_color(
        color, frame, shading_map, landmarks, getattr(occluder, "illumination_strength", 0.7)
    )
    record: dict[str, Any] = {"light_tilt": [round(light[0], 4), round(light[1], 4)]}
    points = params.get("points", {})
    centres = [np.array(points[k], np.float64) for k in ("lens_right", "lens_left") if k in points]
    lens = None
    if getattr(occluder, "refracts", False) and len(centres) == 2:
        generator = rng if rng is not None else np.random.default_rng(0)
        diopters = float(generator.uniform(*sh.DIOPTER_RANGE))
        lens, magnification = sh.lens_displacement(sh.lens_interiors(alpha, centres), centres, diopters)
        record["lens"] = {"diopters": round(diopters, 4), "magnification": round(magnification, 5),
                          "vertex_distance_m": sh.VERTEX_DISTANCE_M}
    shadow, record["contact_shadow"] = sh.contact_shadow(alpha, light, face_size)
    specular = float(getattr(occluder, "specular", 0.0))
    if specular > 0 and len(centres) == 2:
        color, alpha, record["specular"] = sh.add_specular(color, alpha, centres, light, specular)
    params["shading"] = record
    return OccluderLayer(color, alpha, params, shadow=shadow, lens=lens)
