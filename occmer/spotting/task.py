"""The spotting task on long videos: leave-one-subject-out with the feature-difference baseline.

As the MEGC spotting challenges ran it, every subject is held out once; the baseline's only
learnt settings come from the other subjects: k = (N - 1) / 2 from the mean length N of their
expressions of the kind sought, and the threshold share p (tau) that gives the best spotting
F1 on their videos. Micro- and macro-expressions are spotted by two runs of the spotter (each
with its own k and p) and scored apart, then together (docs/spotting.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from occmer.errors import BenchError
from occmer.progress import progress_bar
from occmer.spotting.feature_difference import FeatureDifferenceSettings, contrast_curves, spot_curve
from occmer.spotting.intervals import KINDS, Interval
from occmer.spotting.metrics import OVERALL, SpottingScores, spotting_scores
from occmer.spotting.video import FrameFilter, LongVideoSource, filtered_frames

TAUS = tuple(float(x) for x in np.round(np.arange(0.05, 1.0, 0.05), 2))

def truth_intervals(video: LongVideoSource) -> list[Interval]:
    """The labelled expressions of a video (blinks are not labelled, as in the long-video databases)."""
    return [
        Interval(video.video, e["onset"], e["offset"], e["kind"], e.get("emotion", ""), video.subject, video.database)
        for e in video.events
        if e["kind"] in KINDS
    ]


@dataclass(frozen=True)
class FoldResult:
    subject: str
    kind: str
    k: int
    tau: float
    train_f1: float


@dataclass
class SpottingRun:
    """Every held-out video's spotted intervals, the settings each fold chose, the pooled scores."""

    truth: list[Interval] = field(default_factory=list)
    spotted: list[Interval] = field(default_factory=list)
    folds: list[FoldResult] = field(default_factory=list)
    frames: int = 0
    fps: float = 0.0

    @property
    def scores(self) -> SpottingScores:
        return spotting_scores(self.truth, self.spotted)

    @property
    def minutes(self) -> float:
        return self.frames / self.fps / 60.0 if self.fps else 0.0

    def false_spots_per_minute(self) -> float:
        fp = self.scores.counts[OVERALL][OVERALL].fp
        return fp / self.minutes if self.minutes else 0.0


def _mean_length(truth: Iterable[Interval], kind: str) -> float:
    lengths = [t.length for t in truth if t.kind == kind]
    return float(np.mean(lengths)) if lengths else 0.0


class CurveCache:
    """Contrast curves per (video, k): each video's frames are read (and filtered) once for all the
    k that `prepare` announces, whatever p is tried."""

    def __init__(self, frame_filter: FrameFilter | None = None) -> None:
        self.frame_filter = frame_filter
        self.curves: dict[tuple[str, int], np.ndarray] = {}

    def prepare(self, video: LongVideoSource, ks: Iterable[int]) -> None:
        """Compute the curves of every k in `ks` not cached yet, in one pass over the video."""
        missing = sorted({int(k) for k in ks} - {k for (name, k) in self.curves if name == video.video})
        if not missing:
            return
        frames = filtered_frames(video, self.frame_filter)
        for k, curve in contrast_curves(frames, missing, video.face_box).items():
            self.curves[(video.video, k)] = curve

    def curve(self, video: LongVideoSource, k: int) -> np.ndarray:
        self.prepare(video, (k,))
        return self.curves[(video.video, k)]


def _spot(cache: CurveCache, videos: Sequence[LongVideoSource], settings: FeatureDifferenceSettings, kind: str) -> list[Interval]:
    out = []
    for video in videos:
        out += spot_curve(cache.curve(video, settings.k), settings, video.video, video.first_frame, kind,
                          video.subject, video.database)
    return out


def tune(
    cache: CurveCache, videos: Sequence[LongVideoSource], truth: list[Interval], kind: str, taus: Sequence[float] = TAUS
) -> tuple[FeatureDifferenceSettings, float]:
    """k from the training expressions' mean length, p with the best training F1 (the smallest p on ties)."""
    mean = _mean_length(truth, kind)
    if mean <= 0:
        raise BenchError(f"no {kind}-expression in the training subjects: k cannot be set; add subjects or events")
    best, best_f1 = None, -1.0
    own = [t for t in truth if t.kind == kind]
    for tau in taus:
        settings = FeatureDifferenceSettings.for_length(mean, tau)
        f1 = spotting_scores(own, _spot(cache, videos, settings, kind)).f1(OVERALL, kind)
        if f1 > best_f1:
            best, best_f1 = settings, f1
    assert best is not None
    return best, best_f1


def fold_ks(videos: Sequence[LongVideoSource], subjects: Sequence[str], kinds: Sequence[str]) -> set[int]:
    """The k every (held-out subject, kind) fold will use: from the other subjects' mean lengths."""
    ks = set()
    for subject in subjects:
        truth = [t for v in videos if v.subject != subject for t in truth_intervals(v)]
        for kind in kinds:
            mean = _mean_length(truth, kind)
            if mean > 0:
                ks.add(FeatureDifferenceSettings.for_length(mean).k)
    return ks


def run_loso(
    videos: Sequence[LongVideoSource],
    kinds: Sequence[str] = KINDS,
    taus: Sequence[float] = TAUS,
    frame_filter: FrameFilter | None = None,
    progress: bool = False,
    label: str = "spotting",
) -> SpottingRun:
    """Leave-one-subject-out spotting: tune on the other subjects, spot the held-out one's videos."""
    subjects = sorted({v.subject for v in videos})
    if len(subjects) < 2:
        raise BenchError(f"leave-one-subject-out needs at least 2 subjects (got {len(subjects)})")
    cache = CurveCache(frame_filter)
    ks = fold_ks(videos, subjects, kinds)
    with progress_bar(sum(v.count for v in videos), label, "frame", enabled=progress) as bar:
        for video in videos:  # every fold's k from one pass over each video
            cache.prepare(video, ks)
            bar.update(video.count)
    run = SpottingRun(fps=videos[0].fps)
    for subject in subjects:
        test = [v for v in videos if v.subject == subject]
        train = [v for v in videos if v.subject != subject]
        train_truth = [t for v in train for t in truth_intervals(v)]
        for kind in kinds:
            settings, train_f1 = tune(cache, train, train_truth, kind, taus)
            run.spotted += _spot(cache, test, settings, kind)
            run.folds.append(FoldResult(subject, kind, settings.k, settings.tau, train_f1))
    for video in videos:
        run.truth += [t for t in truth_intervals(video) if t.kind in kinds]
        run.frames += video.count
    return run
