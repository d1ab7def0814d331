"""Long videos: whole recordings with expression intervals at absolute frame numbers (issue 29).

The spotting tasks (MEGC 2019-2023) and spot-then-recognize (MEGC 2024-2025) run on the
long-video releases (CAS(ME)^2 long videos, SAMM long videos, CAS(ME)^3 part A) instead of
onset..offset clips. Their adapters register here, apart from the clip adapters of
`occmer.databases` (`DATABASES`), because what they yield is a different record: a whole
video and every micro- and macro-expression interval in it. As for clips, adapters only read
the sheet and list frame files; decoding frames is the pipeline's job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from occmer.databases.base import Problem
from occmer.errors import ConfigError

KINDS = ("micro", "macro")


@dataclass(frozen=True)
class LongInterval:
    """One annotated expression of a long video; frame numbers as the files and sheet write them."""

    onset: int
    apex: int | None  # None where the sheet leaves it unannotated (0 or empty)
    offset: int
    kind: str  # "micro" | "macro"
    emotion: str = ""
    objective_class: str = ""
    action_units: str = ""
    source: str = ""  # where it was read, for messages: "CAS(ME)^2code_final.xlsx row 12"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"interval kind {self.kind!r} is not one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class LongVideoRecord:
    """One long video as read from a database: its frames and the expressions annotated in it.

    `frames` lists image files by absolute frame number, sorted. The long demo stores its
    frames as one (T, H, W) uint8 .npy array instead (`array`, frame i has number
    `first_frame + i`, and `frames` is empty).
    """

    video_id: str  # unique within a file, ASCII, no "/": e.g. "casme2x-long_s15_0101"
    database: str  # registry name in LONG_VIDEO_DATABASES
    subject: str  # namespaced by database: "casme2x-long/s15"
    folder: Path
    fps: float
    intervals: tuple[LongInterval, ...]
    frames: tuple[tuple[int, Path], ...] = ()
    array: Path | None = None
    first_frame: int = 0
    notes: tuple[str, ...] = ()  # how the sheet was read where it needed care (offset 0 -> apex ...), one line each

    @property
    def micro(self) -> tuple[LongInterval, ...]:
        return tuple(i for i in self.intervals if i.kind == "micro")

    @property
    def macro(self) -> tuple[LongInterval, ...]:
        return tuple(i for i in self.intervals if i.kind == "macro")


@dataclass
class LongScan:
    """Everything a long-video adapter read: valid videos and the problems of the others."""

    videos: list[LongVideoRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class LongVideoDatabase(ABC):
    """A long-video release under `root`; `scan` reads its sheet and lists its frames."""

    name: ClassVar[str]
    fps: ClassVar[float]
    description: ClassVar[str] = ""

    def __init__(self, root: Path, *, strict: bool = False, follow_symlinks: bool = False) -> None:
        self.root = Path(root).expanduser().resolve()  # resolved: containment checks compare resolved paths
        self.strict = strict
        self.follow_symlinks = follow_symlinks

    @abstractmethod
    def scan(self) -> LongScan:
        """Read the annotation and list every video's frames (no decoding)."""


LONG_VIDEO_DATABASES: dict[str, type[LongVideoDatabase]] = {}


def register_long(cls: type[LongVideoDatabase]) -> type[LongVideoDatabase]:
    """Class decorator adding a long-video adapter to the registry under `cls.name`."""
    LONG_VIDEO_DATABASES[cls.name] = cls
    return cls


def get_long_database(name: str, root: Path, **options: bool) -> LongVideoDatabase:
    """The adapter `name` over `root`; a ConfigError naming the known ones otherwise."""
    if name not in LONG_VIDEO_DATABASES:
        known = ", ".join(sorted(LONG_VIDEO_DATABASES)) or "none"
        raise ConfigError(f"long-video database {name!r} is unknown (known: {known})")
    return LONG_VIDEO_DATABASES[name](root, **options)
