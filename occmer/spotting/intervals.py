"""Intervals of a long video: what a spotter outputs and what a ground truth lists.

Frame numbers are inclusive on both ends (`onset..offset`), as the MEGC sheets and the
MEGC evaluation scripts count them: an interval of one frame has onset == offset.
"""

from __future__ import annotations

from dataclasses import dataclass

from occmer.errors import ConfigError

MICRO = "micro"
MACRO = "macro"
KINDS = (MICRO, MACRO)
# The rule that separates the two kinds (Yan et al. 2013, used by the MEGC 2020-2022 spotting
# sheets): a micro-expression lasts at most 0.5 s from onset to offset.
MICRO_MAX_SECONDS = 0.5


@dataclass(frozen=True)
class Interval:
    """One expression (true or spotted) in one video: inclusive frame numbers, its kind, its label."""

    video: str  # the long video it belongs to (unique within a database)
    onset: int
    offset: int
    kind: str = MICRO  # MICRO or MACRO
    emotion: str = ""  # the class (STR); "" when not recognised
    subject: str = ""
    database: str = ""

    def __post_init__(self) -> None:
        if self.offset < self.onset:
            raise ConfigError(f"interval of {self.video!r} ends before it starts ({self.onset}..{self.offset})")
        if self.kind not in KINDS:
            raise ConfigError(f"interval kind must be one of {', '.join(KINDS)} (got {self.kind!r})")

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


def iou(a: Interval, b: Interval) -> float:
    """Temporal intersection over union of two inclusive frame ranges (0 when disjoint)."""
    overlap = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if overlap <= 0:
        return 0.0
    return overlap / (a.length + b.length - overlap)


def kind_by_length(length: int, fps: float) -> str:
    """MICRO when onset to offset spans at most 0.5 s at `fps` ((length - 1) / fps), else MACRO."""
    return MICRO if (length - 1) <= MICRO_MAX_SECONDS * fps + 1e-9 else MACRO
