"""SMIC (Li et al. 2013): HS (100 fps), VIS and NIR (25 fps) cameras.

There is no onset/apex/offset sheet: each clip folder holds exactly the micro-expression, so
onset and offset are its first and last frames and the apex comes from the apex policy.
Layout under the root: `HS/s1/micro/negative/s1_ne_01/image0xxxxx.bmp` (same under `VIS`, `NIR`);
the emotion is the folder name (negative, positive, surprise).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from occmer.databases import register
from occmer.databases.base import Problem
from occmer.databases.common import Entry, SheetDatabase, locate_dir, sanitise_id
from occmer.databases.sheets import find_child_dir
from occmer.errors import DataError

SMIC_EMOTIONS = ("negative", "positive", "surprise")
_DIGITS = re.compile(r"(\d+)")


def natural_key(path: Path) -> tuple:
    """Sort key that puts s2 before s10."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(path.name))


class SMIC(SheetDatabase):
    """One SMIC camera; subclasses set the camera folder."""

    camera: ClassVar[str] = ""
    env_var = "OCCMER_SMIC_ROOT"

    def camera_root(self) -> Path:
        """The camera folder: the root itself when it is named so, else the first such folder below it."""
        if self.root.name.lower() == self.camera.lower():
            return self.root
        direct = find_child_dir(self.root, self.camera)
        if direct is not None:
            return direct
        try:
            return find_child_dir(locate_dir(self.root, [self.camera], self.layout), self.camera)
        except DataError:
            raise DataError(
                f"no {self.camera} folder under {self.root}: expected {self.layout}; pass the SMIC folder "
                f"(the one holding HS, VIS and NIR) or the {self.camera} folder itself as --root"
            ) from None

    def read_entries(self) -> tuple[list[Entry], list[Problem]]:
        entries: list[Entry] = []
        problems: list[Problem] = []
        camera_root = self.camera_root()
        for subject_dir in sorted((p for p in camera_root.iterdir() if p.is_dir()), key=natural_key):
            micro = find_child_dir(subject_dir, "micro")
            if micro is None:
                continue  # subjects without micro-expressions have no micro folder
            for emotion_dir in sorted((p for p in micro.iterdir() if p.is_dir()), key=natural_key):
                emotion = emotion_dir.name.lower()
                if emotion not in SMIC_EMOTIONS:
                    problems.append(Problem(
                        sanitise_id(f"{self.name}_{subject_dir.name}_{emotion_dir.name}"), str(emotion_dir),
                        f"unknown emotion folder {emotion_dir.name!r}; SMIC uses {', '.join(SMIC_EMOTIONS)}",
                        "rename the folder to one of those emotions or remove it",
                    ))
                    continue
                for clip_dir in sorted((p for p in emotion_dir.iterdir() if p.is_dir()), key=natural_key):
                    entries.append(Entry(
                        subject=subject_dir.name, filename=clip_dir.name, folder=clip_dir,
                        onset=None, apex=None, offset=None, source=str(clip_dir),
                        emotion=emotion, whole_folder=True,
                    ))
        if not entries and not problems:
            raise DataError(
                f"no SMIC clips under {camera_root}: expected s1/micro/<negative|positive|surprise>/<clip>/image*.bmp"
            )
        return entries, problems


@register
class SMICHS(SMIC):
    name = "smic-hs"
    camera = "HS"
    description = "SMIC high-speed camera (Li et al. 2013), 100 fps"
    fps = 100.0
    layout = "HS/s1/micro/negative/s1_ne_01/image0xxxxx.bmp"
    published_size = "164 clips / 16 subjects"


@register
class SMICVIS(SMIC):
    name = "smic-vis"
    camera = "VIS"
    description = "SMIC visual camera (Li et al. 2013), 25 fps"
    fps = 25.0
    layout = "VIS/s1/micro/negative/s1_ne_01/image0xxxxx.bmp"
    published_size = "71 clips / 8 subjects"


@register
class SMICNIR(SMIC):
    name = "smic-nir"
    camera = "NIR"
    description = "SMIC near-infrared camera (Li et al. 2013), 25 fps"
    fps = 25.0
    layout = "NIR/s1/micro/negative/s1_ne_01/image0xxxxx.bmp"
    published_size = "71 clips / 8 subjects"
