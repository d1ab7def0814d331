"""`random`: one occluder family drawn per clip (never per frame) from a named set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError
from occmer.occluders.base import Occluder, OccluderLayer
from occmer.occluders.options import OccluderOption

DEFAULT_CHOICES = ("glasses", "sunglasses", "surgical", "n95", "cloth", "block")


def parse_choices(choices: Any) -> list[str]:
    """A list of occluder specs from a list or a comma-separated string."""
    if choices is None or choices == "" or choices == []:
        return list(DEFAULT_CHOICES)
    items = choices.split(",") if isinstance(choices, str) else list(choices)
    names = [str(c).strip() for c in items if str(c).strip()]
    if not names:
        raise ConfigError("random occluder: --choices is empty; name families, e.g. --choices glasses,surgical")
    return names


def choice_list(value: str) -> list[str] | None:
    """`--choices a,b` as the list of specs stored in the occluder options ('' = not given)."""
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


CHOICES_OPTION = OccluderOption("choices", "random: comma-separated occluders to draw from, one per clip.",
                                parse=choice_list)


class RandomOccluder(Occluder):
    """Draws one of `choices` per clip with the clip's generator, then places it."""

    name: ClassVar[str] = "random"
    description: ClassVar[str] = f"one family per clip from --choices (default: {','.join(DEFAULT_CHOICES)})"
    options: ClassVar[tuple[str, ...]] = (CHOICES_OPTION.key,)

    @classmethod
    def takes(cls, key: str) -> bool:
        """Every option: the ones it does not read itself go to the family drawn for each clip."""
        return True

    def __init__(self, choices: list[str], options: dict[str, Any] | None = None) -> None:
        from occmer.occluders import make_occluder

        sub_options = {k: v for k, v in (options or {}).items() if k not in ("choices", "argument", "variant")}
        sub_options["within_random"] = True
        self.choices = list(choices)
        self.occluders: list[Occluder] = []
        for spec in self.choices:
            if spec.split(":", 1)[0] == self.name:
                raise ConfigError("random occluder: --choices cannot contain 'random' itself")
            self.occluders.append(make_occluder(spec, sub_options))

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RandomOccluder:
        return cls(parse_choices(options.get("choices")), options)

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        index = int(rng.integers(len(self.choices)))
        layer = self.occluders[index].place(frame, landmarks, rng)
        layer.params = {**layer.params, "random": {"choices": self.choices, "chosen": self.choices[index]}}
        return layer

    def follow(
        self, layer: OccluderLayer, frames: Sequence[np.ndarray], onset_index: int, head_motion: np.ndarray,
        landmarks: np.ndarray,
    ) -> OccluderLayer:
        """The chosen family's own motion (a skin-following mask, a passing hand)."""
        chosen = layer.params.get("random", {}).get("chosen")
        if chosen not in self.choices:
            return layer
        return self.occluders[self.choices.index(chosen)].follow(layer, frames, onset_index, head_motion, landmarks)
