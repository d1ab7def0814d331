"""Occluder families: a registry of name -> Occluder class (see base.Occluder)."""

from __future__ import annotations

from typing import Any

from occmer.errors import ConfigError
from occmer.occluders.base import NoOccluder, Occluder, OccluderLayer

OCCLUDERS: dict[str, type[Occluder]] = {}


def register(cls: type[Occluder]) -> type[Occluder]:
    """Class decorator adding an occluder family under `cls.name`."""
    OCCLUDERS[cls.name] = cls
    return cls


register(NoOccluder)


def _load_builtin() -> None:
    """Register the built-in families (imported here so the registry has no import cycle)."""
    from occmer.occluders.block import BlockOccluder
    from occmer.occluders.custom import CustomOccluder
    from occmer.occluders.glasses import GlassesOccluder, SunglassesOccluder
    from occmer.occluders.hand import HandOccluder
    from occmer.occluders.masks import ClothMaskOccluder, N95MaskOccluder, SurgicalMaskOccluder
    from occmer.occluders.random_choice import RandomOccluder

    families = (
        BlockOccluder, GlassesOccluder, SunglassesOccluder, SurgicalMaskOccluder, N95MaskOccluder,
        ClothMaskOccluder, CustomOccluder, RandomOccluder, HandOccluder,
    )
    for cls in families:
        register(cls)


_load_builtin()


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


__all__ = ["OCCLUDERS", "Occluder", "OccluderLayer", "make_occluder", "register"]
