"""The demo in long-video form: minutes of a synthetic face with expressions at known frames.

Each subject's video is one demo face (occmer.demo.faces) rendered frame by frame with the
same warp as the demo clips (occmer.demo.motion.render_frame): micro-expressions (onset to
offset at most 0.5 s) and macro-expressions (longer, larger) built from the objective classes'
action units (occmer.demo.actions), blinks (AU45, not labelled, as in the long-video
databases), a slow rigid head drift with yaw, flickering light and sensor noise. Expressions
never overlap; blinks never overlap a micro-expression (the truth stays unambiguous).

Layout written by `write_long_demo(root)`:

    root/demo.json                      the truth: settings, and per video its events (frame numbers)
    root/<video>/frames.npy             uint8 (T, H, W) gray, written and read a frame at a time
    root/<video>/head_motion.npy        float64 (T, 2, 3): the rigid pose of each frame (frame 0 = identity)

Frame numbers are the 0-based frame indices. Frames are written one at a time to the .npy
file (plain writes after its header), so memory stays bounded for any duration.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from occmer import __version__
from occmer.databases.demo_long import DATABASE_ID, FRAMES, HEAD_MOTION, MANIFEST  # the adapter reads these files
from occmer.demo import actions, classes, distractors, faces, motion
from occmer.demo.cache import cache_root, env_params
from occmer.errors import ConfigError, DataError
from occmer.faces.landmarks import MediapipeBackend
from occmer.frames import to_gray
from occmer.progress import progress_bar
from occmer.seeding import sample_rng, stable_hash

GAP_SECONDS = 0.5  # neutral time kept between two expressions
PARAMS_ENV = "OCCMER_LONG_DEMO_PARAMS"  # e.g. "subjects=2,seconds=10": the cached long demo's parameters
PROGRESS_FRAMES = 64  # frames rendered between two progress reports


@dataclass(frozen=True)
class LongVideoParams:
    """Everything that decides a long demo (pixel sizes for a 200 px frame, scaled with size)."""

    seed: int = 0
    subjects: int = 3
    seconds: float = 60.0
    fps: float = 30.0
    size: int = 128
    micro_per_minute: float = 8.0
    macro_per_minute: float = 3.0
    blinks_per_minute: float = 12.0
    micro_amplitude_px: float = 2.0  # median apex displacement of a micro-expression
    macro_amplitude_px: float = 6.0
    head_motion: float = 1.0  # 0 = still
    noise_sigma: float = 1.0

    def validate(self) -> LongVideoParams:
        checks = (
            (1 <= self.subjects <= faces.max_subjects(), f"subjects must be in 1..{faces.max_subjects()}"),
            (5.0 <= self.seconds <= 3600.0, f"seconds must be in 5..3600 (got {self.seconds})"),
            (10.0 <= self.fps <= 500.0, f"fps must be in 10..500 (got {self.fps})"),
            (128 <= self.size <= 1024, f"size must be in 128..1024 px (got {self.size})"),
            (self.micro_per_minute >= 0 and self.macro_per_minute >= 0 and self.blinks_per_minute >= 0,
             "event rates must be 0 or positive"),
            (0.0 <= self.head_motion <= 5.0, f"head_motion must be in 0..5 (got {self.head_motion})"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"long demo: {message}")
        return self

    @property
    def frames(self) -> int:
        return int(round(self.seconds * self.fps))

    @property
    def scale(self) -> float:
        return self.size / 200.0

    def distractors(self) -> distractors.DistractorParams:
        """Head drift over minutes: larger than within a clip (a few px, a few degrees)."""
        m = self.head_motion
        return distractors.DistractorParams(translation_px=4.0 * m, roll_deg=2.0 * m, zoom=0.02 * m, yaw_deg=3.0 * m)


@dataclass(frozen=True)
class Event:
    """One expression or blink: inclusive frame numbers and what moves."""

    kind: str  # "micro", "macro" or "blink"
    onset: int
    apex: int
    offset: int
    objective_class: str = ""
    units: tuple[classes.AppliedUnit, ...] = ()
    peak_px: float = 0.0

    @property
    def emotion(self) -> str:
        return classes.CLASSES[self.objective_class].emotion if self.objective_class else ""

    def intensity(self, t: int) -> float:
        """0 outside onset..offset; smooth rise to 1 at the apex and fall back."""
        if t < self.onset or t > self.offset:
            return 0.0
        if t <= self.apex:
            x = (t - self.onset) / max(self.apex - self.onset, 1)
        else:
            x = (self.offset - t) / max(self.offset - self.apex, 1)
        return float(motion.smoothstep(np.asarray(x)))

    def record(self) -> dict:
        out = {"kind": self.kind, "onset": self.onset, "apex": self.apex, "offset": self.offset}
        if self.kind != "blink":
            out |= {
                "objective_class": self.objective_class,
                "emotion": self.emotion,
                "action_units": [u.number for u in self.units],
                "apex_displacement_px": round(self.peak_px, 4),
            }
        return out


@dataclass(frozen=True)
class VideoPlan:
    subject: int
    events: tuple[Event, ...]
    head: distractors.HeadMotion
    gain: np.ndarray

    @property
    def video(self) -> str:
        return f"s{self.subject:02d}"


TIMING_MS = {  # (onset -> apex, apex -> offset) bounds in ms
    "micro": ((70.0, 200.0), (100.0, 280.0)),
    "macro": ((400.0, 1200.0), (500.0, 1500.0)),
    "blink": ((50.0, 100.0), (100.0, 250.0)),
}


def _timing(kind: str, fps: float, rng: np.random.Generator) -> tuple[int, int]:
    """(onset->apex, apex->offset) frames; a micro-expression spans at most 0.5 s from onset to offset."""
    rise, fall = (max(1, int(round(rng.uniform(*bounds) * fps / 1000.0))) for bounds in TIMING_MS[kind])
    if kind == "micro":
        limit = max(2, int(0.5 * fps))
        while rise + fall > limit:
            if fall >= rise:
                fall -= 1
            else:
                rise -= 1
    return rise, fall


def _place(
    kind: str, count: int, params: LongVideoParams, taken: list[tuple[int, int]], rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """`count` (onset, apex, offset) of one kind that keep GAP_SECONDS from every interval in `taken`."""
    gap, total, placed = int(GAP_SECONDS * params.fps), params.frames, []
    for _ in range(count):
        for _attempt in range(200):
            rise, fall = _timing(kind, params.fps, rng)
            onset = int(rng.integers(gap, max(gap + 1, total - rise - fall - gap)))
            offset = onset + rise + fall
            if offset < total and all(offset + gap < a or onset > b + gap for a, b in taken):
                taken.append((onset, offset))
                placed.append((onset, onset + rise, offset))
                break
    return placed


def _amplitude(median: float, rng: np.random.Generator, scale: float) -> float:
    return float(np.clip(median * np.exp(0.4 * rng.standard_normal()), 0.3 * median, 3.0 * median)) * scale


def plan_video(params: LongVideoParams, subject: int) -> VideoPlan:
    """One subject's events, head path and light, each from its own seeded stream."""
    video = f"{DATABASE_ID}/s{subject:02d}"
    rng = lambda stream: sample_rng(params.seed, video, stream)  # noqa: E731
    minutes = params.seconds / 60.0
    taken: list[tuple[int, int]] = []
    events: list[Event] = []
    names = list(classes.CLASSES)
    kinds = rng("kinds")
    for kind, rate, median in (
        ("macro", params.macro_per_minute, params.macro_amplitude_px),
        ("micro", params.micro_per_minute, params.micro_amplitude_px),
    ):
        for onset, apex, offset in _place(kind, int(round(rate * minutes)), params, taken, kinds):
            name = names[int(kinds.integers(len(names)))]
            units = classes.draw_units(classes.CLASSES[name], kinds)
            events.append(Event(kind, onset, apex, offset, name, units, _amplitude(median, kinds, params.scale)))
    micro_only = [(e.onset, e.offset) for e in events if e.kind == "micro"]
    for onset, apex, offset in _place("blink", int(round(params.blinks_per_minute * minutes)), params, micro_only, rng("blinks")):
        events.append(Event("blink", onset, apex, offset, peak_px=float(rng("depth").uniform(0.5, 0.85))))
    head = distractors.draw_head_motion(params.frames, rng("head"), params.distractors(), params.scale)
    gain = distractors.draw_illumination(params.frames, params.fps, rng("light"), 0.015)
    return VideoPlan(subject, tuple(sorted(events, key=lambda e: e.onset)), head, gain)


def render_video(params: LongVideoParams, face: faces.Face, plan: VideoPlan) -> Iterator[np.ndarray]:
    """The frames (H, W) uint8 gray one at a time; an event's field lives only while it is active."""
    image = to_gray(face.image)
    image = (image[..., 0] if image.ndim == 3 else image).astype(np.float32)
    shape = image.shape[:2]
    grid = motion.pixel_grid(shape)
    centre = np.array([shape[1] / 2.0, shape[0] / 2.0])
    yaw = distractors.yaw_field(face.landmarks, shape) if params.head_motion > 0 else None
    blink = distractors.blink_field(face.landmarks, shape)
    noise_rng = sample_rng(params.seed, f"{DATABASE_ID}/{plan.video}", "noise")
    fields: dict[int, np.ndarray] = {}
    for t in range(params.frames):
        field = np.zeros((*shape, 2), np.float32)
        for i, event in enumerate(plan.events):
            weight = event.intensity(t)
            if weight <= 0.0:
                fields.pop(i, None) if t > event.offset else None
                continue
            if event.kind == "blink":
                field += blink * np.float32(weight * event.peak_px)
                continue
            if i not in fields:
                fields[i] = actions.expression_field(face.landmarks, event.units, shape, event.peak_px).field
            field += fields[i] * np.float32(weight)
        if yaw is not None:
            field += yaw * np.float32(plan.head.yaw_deg[t])
        noise = noise_rng.standard_normal(shape, dtype=np.float32) * np.float32(params.noise_sigma * params.scale)
        affine = plan.head.similarity(t, centre)
        yield motion.render_frame(image, field, affine, float(plan.gain[t]), noise, grid, 3)


def face_box(landmarks: np.ndarray, size: int | tuple[int, int], margin: float = 0.05) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the landmarks of the neutral face, a small margin added, inside the frame
    (`size`: the side of a square frame, or (width, height))."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    pad = margin * (high - low)
    x0, y0 = np.maximum(np.floor(low - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(high + pad), size).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def head_affines(plan: VideoPlan, size: int) -> np.ndarray:
    centre = np.array([size / 2.0, size / 2.0])
    return np.stack([plan.head.similarity(t, centre) for t in range(len(plan.gain))])


def write_video(folder: Path, params: LongVideoParams, face: faces.Face, plan: VideoPlan,
                progress: Callable[[int], None] | None = None) -> dict:
    """Write one video's frames (streamed into a .npy) and return its demo.json record;
    `progress(n)` is told every PROGRESS_FRAMES frames rendered."""
    folder.mkdir(parents=True)
    shape = (params.frames, params.size, params.size)
    # Plain file writes after the .npy header, not a memory map: mapped pages count in the
    # resident memory and grew with the video's length (295 MiB for 10 minutes at 128 px).
    with open(folder / FRAMES, "wb") as handle:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(handle, header)
        for t, frame in enumerate(render_video(params, face, plan)):
            handle.write(np.ascontiguousarray(frame, np.uint8).tobytes())
            if progress is not None and ((t + 1) % PROGRESS_FRAMES == 0 or t + 1 == params.frames):
                progress((t + 1) % PROGRESS_FRAMES or PROGRESS_FRAMES)
    np.save(folder / HEAD_MOTION, head_affines(plan, params.size))
    return {
        "video": plan.video,
        "subject": plan.subject,
        "identity": face.source,
        "frames": params.frames,
        "face_box": list(face_box(face.landmarks, params.size)),
        "events": [e.record() for e in plan.events],
    }


def write_long_demo(root: Path, params: LongVideoParams | None = None, *, overwrite: bool = False,
                    progress: Callable[[int], None] | None = None) -> Path:
    """Build the long demo in `root` (atomically: a temp folder renamed at the end); `progress(n)`: n more
    frames rendered."""
    params = (params or LongVideoParams()).validate()
    root = Path(root)
    if root.exists() and not overwrite:
        raise ConfigError(f"{root} exists; pass overwrite=True or choose another folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    backend = MediapipeBackend()
    try:
        identities = faces.collect_faces(params.subjects, params.size, backend, sample_rng(params.seed, DATABASE_ID, "identities"))
    finally:
        backend.close()
    temp = Path(tempfile.mkdtemp(prefix=".long-demo-", dir=root.parent))
    try:
        videos = [
            write_video(temp / plan.video, params, face, plan, progress)
            for face, plan in zip(identities, (plan_video(params, s) for s in range(1, params.subjects + 1)), strict=True)
        ]
        document = {"database": DATABASE_ID, "occmer_version": __version__, "params": asdict(params), "videos": videos}
        (temp / MANIFEST).write_text(json.dumps(document, indent=1))
        if root.exists():
            shutil.rmtree(root)
        temp.rename(root)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return root


def cached_long_demo_params(**params: object) -> LongVideoParams:
    """The cached long demo's parameters: LongVideoParams' defaults, then $OCCMER_LONG_DEMO_PARAMS
    ("subjects=2,seconds=10,size=128"), then `params`."""
    return LongVideoParams(**{**env_params(PARAMS_ENV, LongVideoParams), **params}).validate()


def long_demo_cache_key(params: LongVideoParams) -> str:
    """Folder name of one parameter set under the cache: readable prefix + a stable hash."""
    text = json.dumps({"version": __version__, **asdict(params)}, sort_keys=True)
    return f"long-demo-{__version__}-s{params.seed}-{stable_hash(text):016x}"


def long_demo_folder(settings: LongVideoParams, cache_dir: Path | None = None) -> Path:
    """Where the cached long demo of these parameters lives (complete when it holds MANIFEST)."""
    return cache_root(cache_dir) / long_demo_cache_key(settings)


def ensure_long_demo(cache_dir: Path | None = None, progress: Callable[[int], None] | None = None,
                     **params: object) -> Path:
    """The cached long demo for these parameters (under `default_cache_dir()`), built on first use.

    Two processes building at once each build in a private folder; the first rename wins and
    the other discards its copy (as the clip demo's cache does).
    """
    settings = cached_long_demo_params(**params)
    target = long_demo_folder(settings, cache_dir)
    if (target / MANIFEST).is_file():
        return target
    if target.exists():
        raise DataError(f"{target} exists but is not a complete long demo (no {MANIFEST}); delete that folder and retry")
    private = target.parent / f".{target.name}.{os.getpid()}"
    write_long_demo(private, settings, overwrite=True, progress=progress)
    try:
        private.rename(target)
    except OSError:
        shutil.rmtree(private, ignore_errors=True)
        if not (target / MANIFEST).is_file():
            raise
    return target


def cached_long_demo(progress: bool = True, cache_dir: Path | None = None, **params: object) -> Path:
    """The cached long demo (`--db demo-long` without --root, `bench --task spot|str`), built with a
    progress bar on first use."""
    settings = cached_long_demo_params(**params)
    if (long_demo_folder(settings, cache_dir) / MANIFEST).is_file():
        return long_demo_folder(settings, cache_dir)
    with progress_bar(settings.subjects * settings.frames, f"long demo (first use: {settings.subjects} x "
                      f"{settings.seconds:g} s)", "frame", enabled=progress, leave=False) as bar:
        return ensure_long_demo(cache_dir, bar.update, **params)


@dataclass(frozen=True)
class LongVideo:
    """One long video of the demo as the spotting task reads it."""

    video: str
    subject: str
    path: Path
    fps: float
    face_box: tuple[int, int, int, int]
    events: tuple[dict, ...]
    database: str = DATABASE_ID
    first_frame: int = 0  # frame numbers are the 0-based indices

    def frames(self) -> Iterator[np.ndarray]:
        """The frames in order, read PROGRESS_FRAMES at a time with file reads (never the whole video in
        memory; not through a memory map, whose pages would count in the resident memory)."""
        array = np.load(self.path / FRAMES, mmap_mode="r")
        (count, *shape), offset = array.shape, int(array.offset)
        del array
        size = int(np.prod(shape))
        with open(self.path / FRAMES, "rb") as handle:
            handle.seek(offset)
            for start in range(0, count, PROGRESS_FRAMES):
                n = min(PROGRESS_FRAMES, count - start)
                yield from np.frombuffer(handle.read(n * size), np.uint8).reshape(n, *shape)

    @property
    def count(self) -> int:
        return int(np.load(self.path / FRAMES, mmap_mode="r").shape[0])

    def head_motion(self) -> np.ndarray:
        """(T, 2, 3) the true rigid pose of each frame (frame 0 = identity)."""
        return np.load(self.path / HEAD_MOTION)


def read_long_demo(root: Path) -> list[LongVideo]:
    """The videos of a long demo folder, or a DataError naming the file."""
    manifest = Path(root) / MANIFEST
    try:
        document = json.loads(manifest.read_text())
        fps = float(document["params"]["fps"])
        return [
            LongVideo(v["video"], f"s{int(v['subject']):02d}", Path(root) / v["video"], fps, tuple(v["face_box"]), tuple(v["events"]))
            for v in document["videos"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{manifest}: not a long demo manifest ({error}); rebuild it with write_long_demo") from error
