"""What every database adapter yields: Clip records and the problems found reading them.

Adapters only read metadata and list frame files; decoding frames is the pipeline's job.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from occmer.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".bmp", ".png")
APPLE_DOUBLE_PREFIX = "._"  # macOS metadata files copied beside each file ("._img61.jpg"): never frames
_LAST_DIGITS = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class Clip:
    """One micro-expression sample as read from a database, before any processing.

    Frame numbers are the absolute numbers found in the image file names (never 0-based
    offsets). `frames` lists every frame of the clip's folder sorted numerically.
    """

    sample_id: str  # unique within a file, ASCII, no "/": e.g. "casme2_sub01_EP02_01f"
    database: str  # registry name: "casme2", "samm", "demo", ...
    subject: str  # namespaced by database: "casme2/sub01"
    filename: str  # the clip name as the sheet writes it
    folder: Path
    frames: tuple[tuple[int, Path], ...]  # (frame number, file), sorted by number
    onset: int
    apex: int
    offset: int
    apex_source: str = "annotated"  # "annotated" | "midpoint" | "flow" | "fixed"
    emotion: str = ""
    action_units: str = ""
    objective_class: str = ""  # "I".."VII" or "" if unknown
    objective_source: str = ""  # "given" | "derived" | ""
    composite: str = ""  # MEGC 2019 class or "" if not in the composite set
    fixes: tuple[str, ...] = ()  # annotation fixes and notes applied, one line each (stored with the clip)
    offset_source: str = "annotated"  # "annotated" | "fixed" | an offset policy ("mirror", "half-second")
    objective_origin: str = ""  # where a given class comes from: "CASME2-coding-20190701.xlsx: Objective Classes"
    au_unreadable: tuple[str, ...] = ()  # AU-string tokens the AU grammar could not read (kept in action_units)

    @property
    def frame_numbers(self) -> tuple[int, ...]:
        return tuple(n for n, _ in self.frames)


@dataclass(frozen=True)
class Problem:
    """A defect found while reading a database: what, where, and what to do."""

    sample_id: str
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.sample_id}: {self.message} ({self.path})"
        return f"{text}; fix: {self.fix}" if self.fix else text


@dataclass
class ScanResult:
    """Everything an adapter read: valid clips and the problems of the others."""

    clips: list[Clip] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Database(ABC):
    """A database adapter: reads one database exactly as it is distributed."""

    name: ClassVar[str]
    env_var: ClassVar[str] = ""  # environment variable naming the root, if any
    description: ClassVar[str] = ""
    fps: ClassVar[float] = 0.0  # recording frame rate, 0 when unknown
    layout: ClassVar[str] = ""  # expected files under the root, for error messages and docs
    published_size: ClassVar[str] = ""  # "255 clips / 26 subjects" as the database paper reports

    def __init__(
        self, root: Path, apex_policy: str = "midpoint", offset_policy: str = "mirror", follow_symlinks: bool = False
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        self.apex_policy = apex_policy
        self.offset_policy = offset_policy
        self.follow_symlinks = follow_symlinks

    @abstractmethod
    def scan(self) -> ScanResult:
        """Read the sheet and list the frames of every clip, collecting every problem."""


def frame_number(path: Path) -> int | None:
    """The frame number of an image file: the last run of digits in its name."""
    match = _LAST_DIGITS.search(path.stem)
    return int(match.group(1)) if match else None


def inside(path: Path, root: Path) -> bool:
    """True when `path` is `root` or below it (both taken as given: resolve them first)."""
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def resolved(path: Path, what: str) -> Path:
    """`path` with its symlinks resolved; DataError naming it when a link leads back to itself (a loop)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # Python < 3.13 raises RuntimeError on a loop, later ones OSError
        raise DataError(
            f"{what} {path} is a symlink loop (a link that leads back to itself); replace the link with "
            "the real folder or file"
        ) from exc


def contained_folder(folder: Path, root: Path, follow_symlinks: bool = False) -> Path:
    """`folder` checked to stay inside `root`: lexically always, and after resolving symlinks unless allowed.

    A sheet cell such as `../../x` or an absolute path, or a clip folder that is a symlink out of
    the root, must not make occmer read files the user did not point it at. DataError otherwise.
    """
    lexical = Path(os.path.normpath(folder if folder.is_absolute() else root / folder))
    if not inside(lexical, root):
        raise DataError(f"clip folder {folder} lies outside the root {root}; sheet cells must name folders below it")
    if not follow_symlinks:
        real = resolved(lexical, "clip folder")
        if not inside(real, root):
            raise DataError(
                f"clip folder {lexical} leads outside the root {root} through a symlink (to {real}); "
                "pass --follow-symlinks if that link is intended"
            )
    return lexical


def contained_file(path: Path, root: Path, follow_symlinks: bool = False, what: str = "file") -> Path:
    """`path` (found below `root`) refused when a symlink makes it lead outside the root, unless allowed.

    The same rule as clip folders and frames, for the files an adapter reads itself (coding
    sheets, manifests, fix tables): a sheet linked to another user's file is not read.
    """
    real = resolved(path, what)
    if not follow_symlinks and not inside(real, root):
        raise DataError(
            f"{what} {path} is a symlink to {real}, outside the root {root}; "
            "pass --follow-symlinks if that link is intended"
        )
    return path


@dataclass(frozen=True)
class FrameListing:
    """The frames of a clip folder, and the files beside them that were deliberately not taken as frames."""

    frames: tuple[tuple[int, Path], ...]
    ignored: tuple[str, ...] = ()  # names of macOS AppleDouble files ("._img61.jpg")


def list_frames(folder: Path, root: Path | None = None, follow_symlinks: bool = False) -> tuple[tuple[int, Path], ...]:
    """Image files of a clip folder as (frame number, path), sorted numerically.

    With `root`, the folder and every frame file must stay inside it (symlinks resolved unless
    `follow_symlinks`). Raises DataError naming the folder and the expected pattern when none match.
    """
    return frame_listing(folder, root, follow_symlinks).frames


def frame_listing(folder: Path, root: Path | None = None, follow_symlinks: bool = False) -> FrameListing:
    """list_frames with the AppleDouble files it skipped (macOS writes `._img61.jpg` beside `img61.jpg`
    on foreign disks and in archives: metadata, not an image, and not a second frame 61)."""
    if root is not None:
        folder = contained_folder(folder, root, follow_symlinks)
    if not folder.is_dir():
        if folder.is_symlink():
            resolved(folder, "clip folder")  # a loop is named as such
        raise DataError(f"clip folder not found: {folder}")
    frames, ignored = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            path = Path(entry.path)
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if entry.name.startswith(APPLE_DOUBLE_PREFIX):
                ignored.append(entry.name)
                continue
            try:
                is_file = entry.is_file()
            except OSError:  # a link loop: named below
                is_file = entry.is_symlink()
            if not is_file:
                continue
            if entry.is_symlink() and root is not None and not follow_symlinks:
                real = resolved(path, "frame")
                if not inside(real, root):
                    raise DataError(
                        f"frame {path} is a symlink to {real}, outside the root {root}; "
                        "pass --follow-symlinks if that link is intended"
                    )
            elif entry.is_symlink():
                resolved(path, "frame")
            number = frame_number(path)
            if number is not None:
                frames.append((number, path))
    if not frames:
        raise DataError(
            f"no frames in {folder}: expected image files named with a frame number "
            f"(e.g. img46.jpg, reg_img46.jpg, 006_05562.jpg) with suffix {', '.join(IMAGE_SUFFIXES)}"
        )
    frames.sort(key=lambda item: item[0])
    numbers = [n for n, _ in frames]
    if len(set(numbers)) != len(numbers):
        dup = sorted({n for n in numbers if numbers.count(n) > 1})[:5]
        names = sorted(p.name for n, p in frames if n in dup)[:6]
        raise DataError(f"{folder}: several files share frame numbers {dup} ({', '.join(names)}); "
                        "keep one file per frame")
    return FrameListing(tuple(frames), tuple(sorted(ignored)))


FRAME_MODES = ("clip", "keyframes", "all")


def select_frames(clip: Clip, mode: str = "clip") -> tuple[tuple[int, Path], ...]:
    """The frames a run stores: onset..offset ("clip"), onset/apex/offset, or the folder."""
    if mode == "all":
        return clip.frames
    if mode == "clip":
        chosen = tuple((n, p) for n, p in clip.frames if clip.onset <= n <= clip.offset)
    elif mode == "keyframes":
        wanted = sorted({clip.onset, clip.apex, clip.offset})
        chosen = tuple((n, p) for n, p in clip.frames if n in wanted)
        if len(chosen) != len(wanted):
            missing = sorted(set(wanted) - {n for n, _ in chosen})
            raise DataError(f"{clip.sample_id}: key frames {missing} missing in {clip.folder}")
    else:
        raise ValueError(f"unknown frame mode {mode!r}; choose one of {FRAME_MODES}")
    if not chosen:
        raise DataError(
            f"{clip.sample_id}: no frame between onset {clip.onset} and offset {clip.offset} "
            f"in {clip.folder} (frames there: {clip.frames[0][0]}..{clip.frames[-1][0]})"
        )
    return chosen
