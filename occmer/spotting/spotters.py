"""The spotters, by name: `occmer spot --spotter NAME`, `occmer bench --task spot|str --spotter NAME`.

Each runs leave-one-subject-out on long videos and returns a SpottingRun (spotted intervals,
each fold's k and threshold share p, the truth). The names are listed light in
occmer.spotting.SPOTTER_NAMES (the command line reads them without importing torch).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from occmer.errors import ConfigError
from occmer.spotting.intervals import KINDS
from occmer.spotting.softnet import MapCache, SoftNetSettings, run_softnet_loso
from occmer.spotting.task import SpottingRun, run_loso
from occmer.spotting.video import FrameFilter, LongVideoSource


class Spotter(ABC):
    """A spotting method: leave-one-subject-out over the videos; `seed` seeds a learnt one's folds."""

    name: ClassVar[str]
    description: ClassVar[str]
    learnt: ClassVar[bool] = False
    fold_settings: ClassVar[str] = "k, p (set on the other subjects)"  # what a fold's (k, tau) are, for pages

    def __init__(self, seed: int = 0, shared: Any = None) -> None:
        self.seed = seed

    @classmethod
    @contextmanager
    def shared_work(cls, frame_filter: FrameFilter | None = None) -> Iterator[Any]:
        """What the runs of several seeds on one condition share (passed on as `shared`); none here."""
        yield None

    @abstractmethod
    def run(self, videos: Sequence[LongVideoSource], kinds: Sequence[str] = KINDS,
            frame_filter: FrameFilter | None = None, progress: bool = False, label: str = "spotting") -> SpottingRun:
        """The spotted intervals of every held-out subject's videos."""


class FeatureDifferenceSpotter(Spotter):
    """The MEGC baseline (occmer.spotting.feature_difference): k and p set on the training subjects."""

    name = "megc-baseline"
    description = "feature-difference (Moilanen et al. 2014, MEGC baseline)"

    def run(self, videos: Sequence[LongVideoSource], kinds: Sequence[str] = KINDS,
            frame_filter: FrameFilter | None = None, progress: bool = False, label: str = "spotting") -> SpottingRun:
        return run_loso(videos, kinds=kinds, frame_filter=frame_filter, progress=progress, label=label)


class SoftNetSpotter(Spotter):
    """SOFTNet (Liong et al., ICIP 2021; occmer.spotting.softnet): a network per fold and kind."""

    name = "softnet"
    description = "SOFTNet (Liong et al. 2021, shallow optical-flow three-stream CNN)"
    learnt = True
    fold_settings = "k, p (k set on the other subjects; p fixed, as the reference)"

    def __init__(self, seed: int = 0, shared: MapCache | None = None, settings: SoftNetSettings | None = None) -> None:
        super().__init__(seed)
        self.cache = shared
        self.settings = shared.settings if shared is not None else settings or SoftNetSettings()

    @classmethod
    @contextmanager
    def shared_work(cls, frame_filter: FrameFilter | None = None) -> Iterator[MapCache]:
        """The flow maps of one condition (its frame filter), which do not depend on the seed."""
        cache = MapCache(SoftNetSettings(), frame_filter)
        try:
            yield cache
        finally:
            cache.close()

    def run(self, videos: Sequence[LongVideoSource], kinds: Sequence[str] = KINDS,
            frame_filter: FrameFilter | None = None, progress: bool = False, label: str = "spotting") -> SpottingRun:
        return run_softnet_loso(videos, kinds, self.seed, frame_filter, self.settings, progress, label, self.cache)


SPOTTERS: dict[str, type[Spotter]] = {s.name: s for s in (FeatureDifferenceSpotter, SoftNetSpotter)}


def spotter_class(name: str) -> type[Spotter]:
    if name not in SPOTTERS:
        raise ConfigError(f"unknown spotter {name!r}; choose one of: {', '.join(SPOTTERS)}")
    return SPOTTERS[name]


def make_spotter(name: str, seed: int = 0, shared: Any = None) -> Spotter:
    """The spotter registered as `name`, seeded (a learnt spotter's folds derive their seeds from it);
    `shared`: what its class's `shared_work` yields, when several seeds run on one condition."""
    return spotter_class(name)(seed, shared)
