"""The synthesis of one clip, below both executors: the settings of a run, the per-clip processor
and what a worker keeps between clips.

`ClipProcessor.process` is a pure function of (clip, settings, seed): the same clip gives the
same arrays whatever the worker count, order or executor. `SynthesisWorker` is the state one
worker (a local process, this process, or a Ray worker) keeps for a run: the processor (landmark
model, occluder) and the run directory its shards go to. The runners above (`local_runner`,
`ray_runner`) only decide where `SynthesisWorker.run` is called.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from occmer.databases import Clip, select_frames
from occmer.databases.apex import check_offset_policy
from occmer.databases.base import FRAME_MODES
from occmer.errors import ConfigError, FaceNotFoundError, OccmerError
from occmer.faces.align import alignment_transform, transform_points, warp_frame
from occmer.faces.landmarks import LANDMARK_BACKENDS, LandmarkBackend
from occmer.faces.motion import ON_LOST_CHOICES, MotionConfig, track_head_motion
from occmer.frames import COLOR_POLICIES, apply_color_policy, frame_position, is_gray_rgb, read_frame
from occmer.occluders import Occluder, make_occluder
from occmer.occluders.compositing import Compositor, occluder_motion_arrays, occlusion_ratio
from occmer.seeding import MAX_SEED, sample_rng
from occmer.store.writer import ClipRecord, RunDirectory

ON_ERROR = ("stop", "skip")


@dataclass(frozen=True)
class SynthesisSettings:
    """Everything that decides the arrays of a run (and so must match on --resume)."""

    database: str = "demo"
    mask: str = "none"
    mask_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    size: int = 224
    align: bool = True
    frames: str = "clip"
    landmarks: str = "mediapipe"
    landmark_options: dict[str, Any] = field(default_factory=dict)
    apex: str = "midpoint"
    offset: str = "mirror"  # how an unannotated offset is filled: recorded so a re-run reads the same clips
    compression: int = 1  # gzip level: face frames shrink ~17% at any level; 1 is the fastest
    # Stored channels. rgb (default): grey clips are replicated to 3 channels after compositing, so
    # every file, merged CASME II (colour) + SAMM (grey) included, batches; keep: as read; gray: luma.
    color: str = "rgb"
    # A lost head track: "raise" (HeadTrackingError) or "hold" (interpolate the motion; frames_lost
    # in the placement). Recorded in the settings only when it is not the default.
    on_lost: str = "raise"

    def __post_init__(self) -> None:
        check_offset_policy(self.offset)
        if self.frames not in FRAME_MODES:
            raise ConfigError(f"--frames must be one of {', '.join(FRAME_MODES)}, got {self.frames!r}")
        if self.landmarks not in LANDMARK_BACKENDS:
            raise ConfigError(
                f"unknown landmark backend {self.landmarks!r}; choose one of {', '.join(sorted(LANDMARK_BACKENDS))}"
            )
        if self.size < 32:
            raise ConfigError(f"--size must be at least 32 pixels, got {self.size}")
        if not 0 <= self.compression <= 9:
            raise ConfigError(f"--compression must be 0..9, got {self.compression}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")
        if self.on_lost not in ON_LOST_CHOICES:
            raise ConfigError(f"--on-lost must be one of {', '.join(ON_LOST_CHOICES)}, got {self.on_lost!r}")
        if self.color not in COLOR_POLICIES:
            raise ConfigError(f"--color must be one of {', '.join(COLOR_POLICIES)}, got {self.color!r}")


@dataclass
class ProcessedClip:
    """One clip after synthesis, before it is written."""

    clip: Clip
    frames: np.ndarray  # uint8 (T, H, W, C), occluded
    clean_frames: np.ndarray  # uint8 (T, H, W, C), aligned, before occlusion
    occlusion: np.ndarray  # uint8 (T, H, W)
    landmarks: np.ndarray  # float32 (T, K, 2)
    frame_numbers: np.ndarray  # int32 (T,)
    head_motion: np.ndarray  # float64 (T, 2, 3), onset -> frame t
    alignment: np.ndarray  # float64 (2, 3), original -> stored
    placement: dict[str, Any]
    occlusion_ratio: float
    occluder_arrays: dict[str, np.ndarray] = field(default_factory=dict)  # an occluder's own motion, if any

    def record(self) -> ClipRecord:
        clip = self.clip
        row = {
            "sample_id": clip.sample_id, "database": clip.database, "subject": clip.subject,
            "filename": clip.filename, "emotion": clip.emotion, "objective_class": clip.objective_class,
            "composite": clip.composite, "action_units": clip.action_units, "apex_source": clip.apex_source,
            "onset": clip.onset, "apex": clip.apex, "offset": clip.offset, "n_frames": len(self.frame_numbers),
            "occlusion_ratio": self.occlusion_ratio, "objective_source": clip.objective_source,
            "fixes": json.dumps(list(clip.fixes)), "offset_source": clip.offset_source,
        }
        return ClipRecord(
            row=row, frames=self.frames, occlusion=self.occlusion, landmarks=self.landmarks,
            frame_numbers=self.frame_numbers, placement=self.placement,
            extra={"head_motion": self.head_motion, **self.occluder_arrays},
        )


def _onset_index(clip: Clip, numbers: Sequence[int]) -> int:
    index = frame_position(numbers, clip.onset)
    if index is None:
        raise OccmerError(f"{clip.sample_id}: onset frame {clip.onset} is not among the selected frames")
    return index


class Processor:
    """What every synthesis processor holds: the settings, one occluder, and one landmark backend
    opened on first use (one per worker) and closed by `close`."""

    def __init__(self, settings: SynthesisSettings) -> None:
        self.settings = settings
        self.occluder: Occluder = make_occluder(settings.mask, settings.mask_options)
        self._backend: LandmarkBackend | None = None

    @property
    def backend(self) -> LandmarkBackend:
        if self._backend is None:
            self._backend = LANDMARK_BACKENDS[self.settings.landmarks](**self.settings.landmark_options)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


class ClipProcessor(Processor):
    """Processes clips one at a time with one landmark backend and one occluder (per worker)."""

    def read(self, clip: Clip) -> tuple[list[np.ndarray], np.ndarray]:
        chosen = select_frames(clip, self.settings.frames)
        frames = [read_frame(path, clip.sample_id, number) for number, path in chosen]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise OccmerError(f"{clip.sample_id}: frames of different sizes in {clip.folder}: {sorted(shapes)}")
        if frames and is_gray_rgb(frames[0]):
            frames = [f[:, :, :1] for f in frames]
        return frames, np.array([n for n, _ in chosen], dtype=np.int32)

    def process(self, clip: Clip) -> ProcessedClip:
        s = self.settings
        raw, numbers = self.read(clip)
        onset = _onset_index(clip, numbers.tolist())
        found = self.backend.detect(raw[onset], clip.sample_id, int(numbers[onset]))
        if found is None:
            path = dict(clip.frames).get(int(numbers[onset]), clip.folder)
            raise FaceNotFoundError(
                f"{clip.sample_id}: no face found on onset frame {int(numbers[onset])} ({path}); check the frame, "
                "bring landmarks with --landmarks file:FOLDER, or pass --on-error skip to leave the clip out"
            )
        if s.align:
            alignment = alignment_transform(found, s.size)
            frames = [warp_frame(f, alignment, s.size) for f in raw]
            onset_landmarks = transform_points(found, alignment).astype(np.float32)
        else:
            alignment = np.eye(2, 3)
            frames, onset_landmarks = raw, found.astype(np.float32)
        tracked = track_head_motion(
            frames, onset, onset_landmarks, sample_id=clip.sample_id, frame_numbers=numbers.tolist(),
            config=MotionConfig(on_lost=s.on_lost),
        )
        motion = tracked.transforms
        rng = sample_rng(s.seed, clip.sample_id, "occluder")
        layer = self.occluder.place(frames[onset], onset_landmarks, rng)
        layer = self.occluder.follow(layer, frames, onset, motion, onset_landmarks)  # its own motion, if any
        occluded, alphas, landmarks = [], [], []
        compositor = Compositor(layer)
        for index, (frame, transform) in enumerate(zip(frames, motion, strict=True)):
            image, alpha = compositor.composite(frame, transform, index)
            occluded.append(image)
            alphas.append(alpha)
            landmarks.append(transform_points(onset_landmarks, transform))
        landmarks_arr = np.stack(landmarks).astype(np.float32)
        ratio = float(np.mean([occlusion_ratio(a, lm) for a, lm in zip(alphas, landmarks_arr, strict=True)]))
        placement = {
            "occluder": self.occluder.name,
            "spec": s.mask,
            "parameters": layer.params,
            "alignment": np.asarray(alignment).tolist(),
            "landmark_backend": s.landmarks,
            "head_motion": tracked.summary(),
        }
        # The policy applies after compositing: a grey face got a grey occluder whatever is stored.
        return ProcessedClip(
            clip=clip, frames=apply_color_policy(np.stack(occluded), s.color),
            clean_frames=apply_color_policy(np.stack(frames), s.color), occlusion=np.stack(alphas),
            landmarks=landmarks_arr, frame_numbers=numbers, head_motion=np.asarray(motion, np.float64),
            alignment=np.asarray(alignment, np.float64), placement=placement, occlusion_ratio=ratio,
            occluder_arrays=occluder_motion_arrays(layer, motion),
        )


def process_clip(clip: Clip, settings: SynthesisSettings) -> ProcessedClip:
    """Process one clip with a fresh processor (convenient for previews and tests)."""
    processor = ClipProcessor(settings)
    try:
        return processor.process(clip)
    finally:
        processor.close()


@dataclass
class ClipResult:
    sample_id: str
    n_frames: int = 0
    error: str = ""


@dataclass(frozen=True)
class SynthesisRun:
    """What a worker is started for: the settings, the output file (its shards go to OUT.parts/)
    and what to do with a clip that fails (`ON_ERROR`)."""

    settings: SynthesisSettings
    out: Path
    on_error: str


class SynthesisWorker:
    """One worker's state for a run: the processor, made once and kept for the run's next clips."""

    def __init__(self, run: SynthesisRun) -> None:
        self.run = run
        self.processor = ClipProcessor(run.settings)
        self.directory = RunDirectory(run.out)

    def synthesize(self, clip: Clip) -> ClipResult:
        """Process `clip` and write its shard; with on_error="skip" a failure comes back as the result."""
        try:
            processed = self.processor.process(clip)
        except OccmerError as exc:
            if self.run.on_error == "skip":
                return ClipResult(clip.sample_id, error=str(exc))
            raise
        self.directory.write(processed.record(), self.run.settings.compression)
        return ClipResult(clip.sample_id, len(processed.frame_numbers))

    def close(self) -> None:
        self.processor.close()


def settings_dict(settings: SynthesisSettings) -> dict[str, Any]:
    """The settings as recorded in run.json and the file's attributes (on_lost only when not the
    default, so files written before the option existed keep their settings)."""
    recorded = asdict(settings)
    if recorded["on_lost"] == "raise":
        del recorded["on_lost"]
    return recorded
