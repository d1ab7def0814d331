"""Occluder families: a registry of name -> Occluder class (see base.Occluder)."""

from __future__ import annotations

from typing import Any

from occmer.errors import ConfigError
from occmer.occluders.base import NoOccluder, Occluder, OccluderLayer
from occmer.occluders.block import COVERAGE_OPTION, FILL_OPTION, REGION_OPTION, BlockOccluder
from occmer.occluders.custom import CustomOccluder
from occmer.occluders.glasses import GlassesOccluder, SunglassesOccluder
from occmer.occluders.hand import HAND_PATH_OPTION, HandOccluder
from occmer.occluders.masks import ClothMaskOccluder, N95MaskOccluder, SurgicalMaskOccluder
from occmer.occluders.options import OccluderOption
from occmer.occluders.random_choice import CHOICES_OPTION, RandomOccluder
from occmer.occluders.template_occluder import MASK_MOTION_OPTION, SHADING_OPTION, VARIANT_OPTION

OCCLUDERS: dict[str, type[Occluder]] = {}


def register(cls: type[Occluder]) -> type[Occluder]:
    """Class decorator adding an occluder family under `cls.name`."""
    OCCLUDERS[cls.name] = cls
    return cls


for builtin in (
    NoOccluder, BlockOccluder, GlassesOccluder, SunglassesOccluder, SurgicalMaskOccluder, N95MaskOccluder,
    ClothMaskOccluder, HandOccluder, RandomOccluder, CustomOccluder,
):  # the built-in families, in the order --help lists them (custom:PATH.json last)
    register(builtin)

# Every option of the families, by key, in the order --help lists them and the options are recorded.
OPTIONS: dict[str, OccluderOption] = {
    option.key: option
    for option in (COVERAGE_OPTION, REGION_OPTION, FILL_OPTION, VARIANT_OPTION, CHOICES_OPTION, SHADING_OPTION,
                   MASK_MOTION_OPTION, HAND_PATH_OPTION)
}


def mask_names() -> str:
    """What --mask accepts, for --help: every family as --mask names it."""
    names = [cls.usage or name for name, cls in OCCLUDERS.items()]
    return f"{', '.join(names[:-1])}, or {names[-1]}"


def given_options(mask: str, given: dict[str, Any]) -> dict[str, Any]:
    """The occluder options the command line gave (`given`: key -> text or None), parsed, unset ones left out.

    A `checked` option that the --mask family does not take is refused (ConfigError) rather than
    dropped silently, unless its value is the one that changes nothing.
    """
    family = OCCLUDERS.get(mask.split(":", 1)[0])
    options = {}
    for key, option in OPTIONS.items():
        text = given.get(key)
        if text is None:
            continue
        if option.checked and text != option.inert and (family is None or not family.takes(key)):
            takers = [name for name, cls in OCCLUDERS.items() if key in cls.options]
            raise ConfigError(option.refusal.format(mask=mask, takers=", ".join(takers)))
        value = option.value(text)
        if value is not None:
            options[key] = value
    return options


def make_occluder(spec: str, options: dict[str, Any] | None = None) -> Occluder:
    """The occluder for a `--mask` value (a registry name, or `custom:PATH.json`)."""
    options = dict(options or {})
    name = spec
    if ":" in spec:
        name, argument = spec.split(":", 1)
        options["argument"] = argument
    if name not in OCCLUDERS:
        raise ConfigError(f"unknown occluder {spec!r}; choose one of {', '.join(sorted(OCCLUDERS))}")
    return OCCLUDERS[name].from_options(options)


__all__ = [
    "OCCLUDERS", "OPTIONS", "Occluder", "OccluderLayer", "OccluderOption", "given_options", "make_occluder",
    "mask_names", "register",
]
