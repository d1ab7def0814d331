"""Recording presets of the demo database: frame rate, colour, timing and size of a real database.

Each preset copies what a database reports: its camera's frame rate and colour, the
onset-to-apex and apex-to-offset durations of its micro-expressions (10th to 90th
percentile, drawn uniformly in between), the neutral frames its clips keep around the
movement, and its size (subjects, clips) for `--database-size`. docs/demo-database.md
gives the source of every number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occmer.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """How one database was recorded, as far as the demo reproduces it."""

    name: str
    fps: float
    gray: bool
    onset_to_apex_ms: tuple[float, float]
    apex_to_offset_ms: tuple[float, float]
    lead_ms: tuple[float, float]  # neutral time kept before the onset
    tail_ms: tuple[float, float]  # neutral time kept after the offset
    subjects: int  # size of the real database (for --database-size)
    clips: int
    noise_sigma: float  # sensor noise, grey levels at the 200 px frame
    jpeg_quality: int
    source: str

    def database_size(self) -> tuple[int, int]:
        """(subjects, clips per subject) closest to the real database's size."""
        return self.subjects, max(1, round(self.clips / self.subjects))

    def frames(self, ms: float) -> int:
        """Whole frames of a duration at this frame rate (at least one)."""
        return max(1, int(round(ms * self.fps / 1000.0)))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "casme2", 200.0, False, (90.0, 265.0), (75.0, 280.0), (0.0, 25.0), (0.0, 25.0), 26, 255, 1.5, 95,
            "Yan et al. 2014 (PLoS ONE 9:e86041); durations: deciles of the public 2019 coding sheet",
        ),
        Preset(
            "samm", 200.0, True, (90.0, 255.0), (85.0, 315.0), (0.0, 50.0), (0.0, 50.0), 29, 159, 1.0, 95,
            "Davison et al. 2018 (IEEE TAC 9:116); durations: deciles of SAMM_Micro_FACS_Codes_v2",
        ),
        Preset(
            "smic", 100.0, False, (80.0, 250.0), (80.0, 250.0), (0.0, 0.0), (0.0, 0.0), 16, 164, 2.5, 90,
            "Li et al. 2013 (FG); clips are the movement itself: onset first frame, offset last",
        ),
        Preset(
            "casme3", 30.0, False, (67.0, 267.0), (67.0, 300.0), (0.0, 67.0), (0.0, 67.0), 94, 860, 2.0, 90,
            "Li et al. 2022 (IEEE TPAMI, CAS(ME)^3 part A); 30 fps, movements under 0.5 s",
        ),
    )
}
DEFAULT_PRESET = "casme2"


def preset(name: str) -> Preset:
    """The preset called `name`, or a ConfigError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown demo preset {name!r}; choose one of {', '.join(PRESETS)}") from None


@dataclass(frozen=True)
class Durations:
    """Frame counts of one clip's phases."""

    lead: int
    rise: int  # onset -> apex
    fall: int  # apex -> offset
    tail: int

    @property
    def count(self) -> int:
        return self.lead + self.rise + self.fall + self.tail + 1


def draw_durations(recording: Preset, rng: np.random.Generator) -> Durations:
    """Phase lengths of one clip, each uniform between the preset's reported bounds."""
    lead, rise, fall, tail = (
        float(rng.uniform(*bounds))
        for bounds in (recording.lead_ms, recording.onset_to_apex_ms, recording.apex_to_offset_ms, recording.tail_ms)
    )
    frames = recording.fps / 1000.0
    return Durations(int(round(lead * frames)), recording.frames(rise), recording.frames(fall), int(round(tail * frames)))
