"""The options of the occluder families, each declared once, beside the family that reads it.

A family says which option keys it takes (`Occluder.options`); the command line
(occmer.cli.common.occluder_options) turns each declared option into one flag, and
`occmer.occluders.given_options` refuses a `checked` option that the chosen --mask would
ignore, rather than dropping it silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OccluderOption:
    """One option of the occluder families, as the command line offers and checks it."""

    key: str  # the key in the occluder options (the flag is --key, '_' written '-')
    help: str
    choices: tuple[str, ...] = ()  # offered by --help and checked there; empty: text the family checks
    unit_interval: bool = False  # a number in (0, 1]
    default: str | None = None  # the family's default, shown in --help
    parse: Callable[[str], Any] | None = None  # the text given -> the value stored (a bad value fails here)
    checked: bool = False  # refused when the chosen --mask does not take it (see `refusal`)
    inert: str | None = None  # a value that changes nothing, accepted with any --mask
    refusal: str = ""  # the message when refused: {mask} the --mask given, {takers} the families that take it

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def value(self, text: Any) -> Any:
        """The value to store for what the command line gave (None: not given)."""
        return text if text is None or self.parse is None else self.parse(text)
