"""What to compute: FlowSpec (method, grid size, channels, normalisation) and the normalisers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occmer.errors import ConfigError
from occmer.features.flow import flow_method
from occmer.features.maps import map_channel_names

FLOW_CHANNELS = ("u", "v", "strain")
DIFF_CHANNEL = "diff"
FOUR_MAPS = "maps4"  # the spec option and the word for CausalNet's four maps (occmer.features.maps)
FOUR_MAPS_NORMALISATION = "minmax-per-channel"
FOUR_MAPS_DOC = ("four maps as CausalNet's release: maps 0 (onset -> apex) and 1 (apex -> offset) u, v, strain each "
                 "min-max scaled to 0..255 per sample and channel on the S x S grid; maps 2 and 3 the direction maps "
                 "of maps 0 and 1 (occmer.features.maps.DIRECTION_DOC); /features/<name>/scale is 1 (not recorded)")
MIN_SIZE, MAX_SIZE = 4, 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _no_scaling(data: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    return np.ones(len(channels), np.float32)


def _max_abs_scaling(data: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """Divisors: u and v share one (direction is kept), strain and diff each get their own."""
    groups = [[i for i, c in enumerate(channels) if c in ("u", "v")]]
    groups += [[i] for i, c in enumerate(channels) if c not in ("u", "v")]
    scale = np.ones(len(channels), np.float32)
    for group in groups:
        peak = float(np.abs(data[group]).max()) if group else 0.0
        if peak > 0:
            scale[group] = peak
    return scale


# name -> function (C, S, S) data, channel names -> (C,) divisors; data / divisor is stored.
NORMALISERS: dict[str, Callable[[np.ndarray, Sequence[str]], np.ndarray]] = {
    "none": _no_scaling,
    "maxabs": _max_abs_scaling,
}

NORMALISATION_DOC = {
    "none": "none: u, v in pixels of the S x S grid, strain dimensionless, diff in [-1, 1]",
    "maxabs": "maxabs: per sample, u and v divided by max(|u|, |v|), strain by max(strain), diff by max(|diff|); "
    "the divisors are stored in /features/<name>/scale",
}


@dataclass(frozen=True)
class FlowSpec:
    """One feature set: flow `method` at an S x S grid (`size`), optional difference image.

    params override the method's defaults. The name defaults to `flow_<method>_<size>` for the
    default computation; anything else adds what differs (`_diff`, `_maxabs`, `_<key><value>` per
    changed flow setting), so a variant is stored beside the default set and never replaces it.
    `four_maps`: CausalNet's input instead (occmer.features.maps: the onset->apex and
    apex->offset flow images and their direction maps, 12 channels), named `flow4_<method>_<size>`.
    """

    method: str = "tvl1"
    size: int = 28
    diff: bool = False
    normalise: str = "none"
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    four_maps: bool = False

    def __post_init__(self) -> None:
        flow_method(self.method).settings(self.params)  # raises ConfigError on bad settings
        if self.four_maps and (self.diff or self.normalise != "none"):
            raise ConfigError(f"the four maps ({FOUR_MAPS}) are scaled to 0..255 as CausalNet's release; they take "
                              "no diff channel and no other normalisation")
        if not isinstance(self.size, (int, np.integer)) or not MIN_SIZE <= int(self.size) <= MAX_SIZE:
            raise ConfigError(f"feature size (--size) must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {self.size!r}")
        if self.normalise not in NORMALISERS:
            raise ConfigError(f"unknown normalisation {self.normalise!r}; choose one of: {', '.join(NORMALISERS)}")
        if self.name is not None and not _NAME.match(self.name):
            raise ConfigError(
                f"feature name {self.name!r} is not allowed: use letters, digits, '_', '-', '.', '+' "
                "and start with a letter or digit"
            )

    @property
    def feature_name(self) -> str:
        return self.name or f"{'flow4' if self.four_maps else 'flow'}_{self.method}_{int(self.size)}" + "".join(f"_{p}" for p in self.variant_parts())

    def changed_settings(self) -> dict[str, Any]:
        """The flow settings that differ from the method's defaults (key order sorted)."""
        return changed_from_defaults(self.method, self.settings())

    def variant_parts(self) -> list[str]:
        """What sets this computation apart from the default one, as name parts (empty for the default)."""
        parts = ["diff"] if self.diff else []
        parts += [self.normalise] if self.normalise != "none" else []
        return parts + [f"{key}{_value_text(value)}" for key, value in self.changed_settings().items()]

    @property
    def channels(self) -> list[str]:
        if self.four_maps:
            return map_channel_names(FLOW_CHANNELS)
        return list(FLOW_CHANNELS) + ([DIFF_CHANNEL] if self.diff else [])

    @property
    def normalisation(self) -> str:
        """The normalisation recorded with the stored set."""
        return FOUR_MAPS_NORMALISATION if self.four_maps else self.normalise

    def settings(self) -> dict[str, Any]:
        """The method's full settings (defaults + params)."""
        return flow_method(self.method).settings(self.params)

    def flow_key(self) -> str:
        """Specs with the same key share one flow computation per clip."""
        return json.dumps([self.method, self.settings()], sort_keys=True)

    def identity(self) -> dict[str, Any]:
        """Everything that determines the stored arrays (compared to decide 'up to date')."""
        identity = {
            "method": self.method, "params": self.settings(), "size": int(self.size),
            "channels": self.channels, "normalisation": self.normalisation,
        }
        return {**identity, "maps": FOUR_MAPS} if self.four_maps else identity


def four_map_feature_name(name: str) -> str:
    """The four-map counterpart of a flow set's default name (flow_tvl1_28 -> flow4_tvl1_28); others unchanged."""
    return "flow4_" + name.removeprefix("flow_") if name.startswith("flow_") else name


def changed_from_defaults(method: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The items of a method's resolved `settings` that differ from its defaults, sorted by key."""
    defaults = flow_method(method).defaults
    return {k: v for k, v in sorted(settings.items()) if k not in defaults or v != defaults[k]}


def settings_text(method: str, settings: Mapping[str, Any]) -> str:
    """'default settings' or 'settings lambda=0.1, nscales=3 (the rest default)', for listings."""
    changed = changed_from_defaults(method, settings)
    if not changed:
        return "default settings"
    return "settings " + ", ".join(f"{k}={_value_text(v)}" for k, v in changed.items()) + " (the rest default)"


def _value_text(value: Any) -> str:
    """A setting's value as it appears in a feature-set name: 0.1, 3, true."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_sizes(text: str) -> list[int]:
    """'28,112' -> [28, 112], with a ConfigError naming the bad item."""
    sizes = []
    for item in (s.strip() for s in str(text).split(",")):
        if not item:
            continue
        if not item.isdigit():
            raise ConfigError(f"--size expects integers separated by commas (e.g. 28,112), got {item!r}")
        sizes.append(int(item))
    if not sizes:
        raise ConfigError("--size is empty; give one or more grid sizes, e.g. 28,112")
    return sorted(set(sizes), key=sizes.index)


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """['winsize=21', ...] -> {'winsize': '21'}; values are typed later by the method."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--flow-param expects KEY=VALUE (e.g. nscales=3), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def specs_from_options(
    methods: str = "tvl1",
    sizes: str = "28",
    diff: bool = False,
    normalise: str = "none",
    flow_params: Sequence[str] = (),
    four_maps: bool = False,
) -> list[FlowSpec]:
    """FlowSpecs for every (method, size) pair from command-line style text.

    methods: comma-separated names; flow_params: KEY=VALUE items, each applied to every
    chosen method that has that setting (a key no chosen method has is an error).
    """
    names = [m.strip() for m in str(methods).split(",") if m.strip()]
    if not names:
        raise ConfigError("--flow is empty; choose one or more of: tvl1, farneback, dis")
    params = parse_params(flow_params)
    known = {m: set(flow_method(m).defaults) for m in names}
    orphans = sorted(k for k in params if not any(k in keys for keys in known.values()))
    if orphans:
        raise ConfigError(
            f"--flow-param {', '.join(orphans)}: not a setting of {', '.join(names)}; settings: "
            + "; ".join(f"{m}: {', '.join(sorted(k))}" for m, k in known.items())
        )
    return [
        FlowSpec(method=m, size=s, diff=diff, normalise=normalise,
                 params={k: v for k, v in params.items() if k in known[m]}, four_maps=four_maps)
        for m in dict.fromkeys(names)
        for s in parse_sizes(sizes)
    ]


def parse_feature_spec(text: str) -> FlowSpec:
    """One FlowSpec from compact text: METHOD:SIZE[:diff][:NORMALISATION][:maps4][:KEY=VALUE...].

    Examples: 'tvl1:28', 'farneback:112:diff', 'tvl1:28:maxabs:nscales=3', 'tvl1:28:maps4'
    (CausalNet's four maps) (the form `synthesize --features` and the benchmark conditions take).
    """
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) < 2 or not parts[0] or not parts[1].isdigit():
        raise ConfigError(
            f"feature spec {text!r} must look like METHOD:SIZE[:diff][:maxabs][:KEY=VALUE], e.g. tvl1:28"
        )
    if not MIN_SIZE <= int(parts[1]) <= MAX_SIZE:
        raise ConfigError(f"feature spec {text!r}: the grid size {int(parts[1])} must be in [{MIN_SIZE}, {MAX_SIZE}], "
                          "e.g. tvl1:28")
    diff, normalise, params, four_maps = False, "none", [], False
    for option in parts[2:]:
        if option == "diff":
            diff = True
        elif option == FOUR_MAPS:
            four_maps = True
        elif option in NORMALISERS:
            normalise = option
        elif "=" in option:
            params.append(option)
        else:
            raise ConfigError(
                f"feature spec {text!r}: unknown option {option!r}; use diff, "
                f"{' or '.join(NORMALISERS)}, {FOUR_MAPS}, or KEY=VALUE of a flow setting"
            )
    return FlowSpec(method=parts[0], size=int(parts[1]), diff=diff, normalise=normalise, params=parse_params(params),
                    four_maps=four_maps)
