"""Spotting expressions in long videos, and spot-then-recognize (docs/spotting.md).

`intervals` (what is spotted and what is true), `metrics` (the MEGC rules: IoU >= 0.5, F1
pooled per database, micro and macro apart, STRS), `feature_difference` (the MEGC baseline
spotter of Moilanen et al. 2014), `task` (leave-one-subject-out runs on long videos),
`sources` (the videos of a long-video HDF5 file, clean or occluded, for the task), `softnet`
(the learnt SOFTNet spotter), `spotters` (the spotters by name).
"""

from __future__ import annotations

from occmer.spotting.intervals import MACRO, MICRO, Interval, iou, kind_by_length
from occmer.spotting.metrics import (
    IOU_THRESHOLD,
    OVERALL,
    Counts,
    Matching,
    SpottingScores,
    STRScores,
    match_intervals,
    spotting_scores,
    str_scores,
)

# The spotters' names (occmer.spotting.spotters registers their classes; listed here so that the
# command line offers them without importing torch).
DEFAULT_SPOTTER = "megc-baseline"
SPOTTER_NAMES = ("megc-baseline", "softnet")

__all__ = [
    "DEFAULT_SPOTTER",
    "SPOTTER_NAMES",
    "IOU_THRESHOLD",
    "MACRO",
    "MICRO",
    "OVERALL",
    "Counts",
    "Interval",
    "Matching",
    "STRScores",
    "SpottingScores",
    "iou",
    "kind_by_length",
    "match_intervals",
    "spotting_scores",
    "str_scores",
]
