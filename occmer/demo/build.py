"""Build the synthetic demo database: plan every clip, render its frames, write CASME II layout.

Planning (which face, which class and AUs, which timing, amplitude, blink, head motion and
light) and rendering are pure and seeded per clip with `occmer.seeding.sample_rng`; only
`write_database` touches the disk, and `build_demo_database` makes the result appear
atomically (temp folder + rename).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occmer import __version__
from occmer.demo import actions, classes, distractors, faces, motion, presets, sheets
from occmer.errors import ConfigError, DataError
from occmer.faces.landmarks import MediapipeBackend
from occmer.frames import to_gray
from occmer.seeding import sample_rng

DATABASE_ID = "demo"
GENERATOR_VERSION = 2
AMPLITUDE_BOUNDS_PX = (0.2, 6.0)  # apex displacements outside are redrawn (at 200 px)


@dataclass(frozen=True)
class DemoParams:
    """Everything that determines a demo database (the cache key is made of these + the version).

    Pixel sizes are given for a 200 px frame and scale with `size`.
    """

    seed: int = 0
    subjects: int = 8
    clips_per_subject: int = 7
    frames: int = 0  # 0: clip length and timing from the preset; N: every clip N frames long
    size: int = 200
    preset: str = presets.DEFAULT_PRESET
    balance: str = "balanced"
    classes: str = ""  # "" = objective classes I-VII; else a comma-separated subset ("I,II,IV")
    amplitude_median_px: float = 1.2  # median apex displacement (log-normal: many clips below 1 px)
    amplitude_spread: float = 0.55  # standard deviation of the log of the apex displacement
    blink_share: float = 0.3
    head_motion: float = 1.0  # scale of the rigid head motion (distractors.DistractorParams); 0 = still
    flicker: float = 0.015  # largest relative brightness change; 0 = steady light

    def validate(self) -> DemoParams:
        """Self, or a ConfigError naming the option to change."""
        presets.preset(self.preset)
        classes.class_counts(1, self.balance)
        classes.class_set(self.classes)
        checks = (
            (self.seed >= 0, f"--seed must be 0 or a positive integer (got {self.seed})"),
            (self.subjects >= 1, f"--subjects must be at least 1 (got {self.subjects})"),
            (
                self.subjects <= faces.max_subjects(),
                f"--subjects must be at most {faces.max_subjects()} (bundled faces; got {self.subjects})",
            ),
            (self.clips_per_subject >= 1, f"--clips-per-subject must be at least 1 (got {self.clips_per_subject})"),
            (
                self.frames == 0 or motion.MIN_FRAMES <= self.frames <= motion.MAX_FRAMES,
                f"--frames must be 0 (the preset's timing) or {motion.MIN_FRAMES}..{motion.MAX_FRAMES} (got {self.frames})",
            ),
            (128 <= self.size <= 1024, f"--size must be between 128 and 1024 px (got {self.size})"),
            (0.05 <= self.amplitude_median_px <= 5.0, f"--amplitude must be in 0.05..5 px (got {self.amplitude_median_px})"),
            (0.0 <= self.amplitude_spread <= 2.0, f"amplitude_spread must be in 0..2 (got {self.amplitude_spread})"),
            (0.0 <= self.blink_share <= 1.0, f"--blinks must be a share in 0..1 (got {self.blink_share})"),
            (0.0 <= self.head_motion <= 5.0, f"--head-motion must be in 0..5 (got {self.head_motion})"),
            (0.0 <= self.flicker <= 0.2, f"--flicker must be in 0..0.2 (got {self.flicker})"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    @property
    def scale(self) -> float:
        """Pixel quantities are specified for a 200 px frame and scale with --size."""
        return self.size / 200.0

    @property
    def recording(self) -> presets.Preset:
        return presets.preset(self.preset)

    @property
    def notation(self) -> str:
        """How the sheet writes AUs: SAMM's notation for the SAMM-like preset, CASME II's otherwise."""
        return "samm" if self.preset == "samm" else "casme2"

    def distractors(self) -> distractors.DistractorParams:
        base = distractors.DistractorParams()
        return distractors.DistractorParams(
            blink_share=self.blink_share,
            translation_px=base.translation_px * self.head_motion,
            roll_deg=base.roll_deg * self.head_motion,
            zoom=base.zoom * self.head_motion,
            yaw_deg=base.yaw_deg * self.head_motion,
            flicker=self.flicker,
        )


@dataclass(frozen=True)
class ClipPlan:
    """Everything drawn for one clip before rendering."""

    subject: int  # 1-based, folder sub%02d
    filename: str  # EP%02d_01
    objective_class: str  # key of classes.CLASSES
    units: tuple[classes.AppliedUnit, ...]
    timeline: motion.Timeline
    peak_px: float
    head: distractors.HeadMotion
    blink: distractors.Blink | None
    gain: np.ndarray  # (T,) brightness

    @property
    def folder(self) -> str:
        return f"sub{self.subject:02d}/{self.filename}"

    @property
    def sample_id(self) -> str:
        return f"{DATABASE_ID}/{self.folder}"

    @property
    def emotion(self) -> str:
        return classes.CLASSES[self.objective_class].emotion


def subject_classes(params: DemoParams) -> dict[int, list[str]]:
    """The class of each clip, subject by subject.

    balanced: the database's clips go round the classes in order, subject after subject, so
    both the database's and each subject's counts differ by at most one. A database's shares: the database-wide
    counts follow the shares exactly (largest remainder) and are dealt to subjects in a
    seeded order, so subjects do not all show every class, as in the real databases.
    """
    names = list(classes.class_set(params.classes))
    if params.balance == "balanced":
        out = {}
        for subject in range(1, params.subjects + 1):
            first = (subject - 1) * params.clips_per_subject
            own = [names[(first + j) % len(names)] for j in range(params.clips_per_subject)]
            order = sample_rng(params.seed, f"{DATABASE_ID}/sub{subject:02d}", "classes").permutation(len(own))
            out[subject] = [own[i] for i in order]
        return out
    counts = classes.class_counts(params.subjects * params.clips_per_subject, params.balance, tuple(names))
    pool = [name for name in names for _ in range(counts[name])]
    order = sample_rng(params.seed, f"{DATABASE_ID}/{params.balance}", "classes").permutation(len(pool))
    dealt = [pool[i] for i in order]
    n = params.clips_per_subject
    return {s: dealt[(s - 1) * n : s * n] for s in range(1, params.subjects + 1)}


def draw_amplitude(params: DemoParams, rng: np.random.Generator) -> float:
    """Apex displacement (px at this size): log-normal around the median, redrawn outside the bounds."""
    low, high = AMPLITUDE_BOUNDS_PX
    while True:
        value = float(params.amplitude_median_px * np.exp(params.amplitude_spread * rng.standard_normal()))
        if low <= value <= high:
            return value * params.scale


def plan_clip(params: DemoParams, subject: int, index: int, objective_class: str) -> ClipPlan:
    """One clip's draws, each from its own seeded stream (changing one knob moves nothing else)."""
    filename = f"EP{index:02d}_01"
    clip_id = f"{DATABASE_ID}/sub{subject:02d}/{filename}"
    rng = lambda stream: sample_rng(params.seed, clip_id, stream)  # noqa: E731
    units = classes.draw_units(classes.CLASSES[objective_class], rng("units"))
    recording = params.recording
    if params.frames:
        timeline = motion.draw_timeline(params.frames, rng("timeline"))
    else:
        timeline = motion.timeline_from(presets.draw_durations(recording, rng("durations")), rng("timeline"))
    count = timeline.count
    extra = params.distractors()
    return ClipPlan(
        subject=subject,
        filename=filename,
        objective_class=objective_class,
        units=units,
        timeline=timeline,
        peak_px=draw_amplitude(params, rng("amplitude")),
        head=distractors.draw_head_motion(count, rng("head"), extra, params.scale),
        blink=distractors.draw_blink(count, recording.fps, rng("blink"), extra.blink_share),
        gain=distractors.draw_illumination(count, recording.fps, rng("light"), extra.flicker),
    )


def plan_database(params: DemoParams) -> list[ClipPlan]:
    """Every clip of the database, subject by subject."""
    plans = []
    for subject, names in subject_classes(params).items():
        for index, name in enumerate(names, start=1):
            plans.append(plan_clip(params, subject, index, name))
    return plans


@dataclass(frozen=True)
class RenderedClip:
    """A clip's frames and the fields that moved them."""

    frames: list[np.ndarray]
    expression: actions.ExpressionField
    blink_profile: np.ndarray  # (T,) lid closure, zeros without a blink


def render_clip(params: DemoParams, face: faces.Face, plan: ClipPlan) -> RenderedClip:
    """The clip's frames (RGB, or gray for a gray preset) and the fields that moved them."""
    image = face.image
    if params.recording.gray:
        image = to_gray(image)
    shape = image.shape[:2]
    count = plan.timeline.count
    expression = actions.expression_field(face.landmarks, plan.units, shape, plan.peak_px)
    intensity = motion.intensity_profile(plan.timeline)
    yaw = distractors.yaw_field(face.landmarks, shape) if np.any(plan.head.yaw_deg) else None
    blink = distractors.blink_field(face.landmarks, shape) if plan.blink is not None else None
    closure = plan.blink.profile(count) if plan.blink is not None else np.zeros(count)
    centre = np.array([shape[1] / 2.0, shape[0] / 2.0])
    sigma = np.float32(params.recording.noise_sigma * params.scale)
    noise_rng = sample_rng(params.seed, plan.sample_id, "noise")
    grid = motion.pixel_grid(shape)
    steps = motion.INVERSION_STEPS if blink is not None or plan.peak_px > 3.0 else 3
    face_float = image.astype(np.float32)
    frames = []
    for t in range(count):
        field = expression.field * np.float32(intensity[t])
        if blink is not None and closure[t] > 0:
            field += blink * np.float32(closure[t])
        if yaw is not None:
            field += yaw * np.float32(plan.head.yaw_deg[t])
        noise = noise_rng.standard_normal(shape, dtype=np.float32) * sigma
        affine = plan.head.similarity(t, centre)
        frames.append(motion.render_frame(face_float, field, affine, float(plan.gain[t]), noise, grid, steps))
    return RenderedClip(frames, expression, closure)


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB or gray frame (deterministic for the same pixels)."""
    pixels = frame if frame.ndim == 2 else frame[:, :, ::-1]
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(pixels), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError("OpenCV could not encode a JPEG frame; check the opencv-contrib-python installation")
    return buffer.tobytes()


def sheet_row(params: DemoParams, plan: ClipPlan) -> sheets.SheetRow:
    """The CASME II sheet row of one clip: labels follow the action units actually applied."""
    t = plan.timeline
    return sheets.SheetRow(
        subject=plan.subject,
        filename=plan.filename,
        onset=t.onset,
        apex=t.apex,
        offset=t.offset,
        action_units=classes.au_text(plan.units, params.notation),
        emotion=plan.emotion,
        objective_class=plan.objective_class,
    )


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]


def clip_record(params: DemoParams, plan: ClipPlan, face: faces.Face, rendered: RenderedClip) -> dict:
    """Ground truth of one clip for demo.json: labels, timing, every applied motion and light change."""
    row = sheet_row(params, plan)
    field = rendered.expression
    blink = None
    if plan.blink is not None:
        b = plan.blink
        blink = {
            "action_unit": 45,
            "start_index": round(b.start, 3),
            "closed_index": round(b.closed, 3),
            "end_index": round(b.end, 3),
            "depth": round(b.depth, 4),
            "closure": _rounded(rendered.blink_profile, 4),
        }
    return {
        "sample_id": plan.sample_id,
        "subject": plan.subject,
        "filename": plan.filename,
        "folder": plan.folder,
        "identity": face.source,
        "objective_class": row.objective_class,
        "emotion": row.emotion,
        "action_units": [u.number for u in plan.units],
        "applied_units": [
            {"unit": u.number, "side": u.side, "weaker_side": u.weaker_side, "intensity": u.intensity}
            for u in plan.units
        ],
        "action_units_text": row.action_units,
        "frames": plan.timeline.numbers,
        "onset": row.onset,
        "apex": row.apex,
        "offset": row.offset,
        "intensity": _rounded(motion.intensity_profile(plan.timeline), 6),
        "apex_displacement_px": round(field.peak_px, 4),
        "unit_peak_px": {str(u): round(v, 4) for u, v in sorted(field.unit_peaks_px.items())},
        "regions": [
            {
                "unit": p.unit,
                "group": p.group,
                "side": p.side,
                "centre": [round(float(c), 2) for c in p.centre],
                "direction": [round(float(c), 4) for c in p.direction],
                "sigma_px": round(p.sigma, 3),
                "weight": round(p.weight, 4),
            }
            for p in field.placements
        ],
        "blink": blink,
        "head_motion": plan.head.record(),
        "illumination_gain": _rounded(plan.gain, 5),
    }


def manifest(params: DemoParams, clips: list[dict], identities: list[faces.Face]) -> dict:
    """The whole demo.json document."""
    recording = params.recording
    return {
        "database": DATABASE_ID,
        "layout": "CASME II",
        "generator_version": GENERATOR_VERSION,
        "occmer_version": __version__,
        "params": asdict(params),
        "recording": asdict(recording),
        "au_notation": params.notation,
        "jpeg_quality": recording.jpeg_quality,
        "coding_sheet": sheets.CODING_SHEET,
        "objective_sheet": sheets.OBJECTIVE_SHEET,
        "classes": {
            c.name: {"combinations": list(c.combinations), "emotion": c.emotion} for c in classes.CLASSES.values()
        },
        "subjects": {f"sub{i:02d}": face.source for i, face in enumerate(identities, start=1)},
        "clips": clips,
    }


def iter_clips(params: DemoParams, identities: list[faces.Face]) -> Iterator[tuple[ClipPlan, list[np.ndarray], dict]]:
    """(plan, frames, ground-truth record) of every clip, rendered one at a time."""
    for plan in plan_database(params):
        face = identities[plan.subject - 1]
        rendered = render_clip(params, face, plan)
        yield plan, rendered.frames, clip_record(params, plan, face, rendered)


def load_identities(params: DemoParams) -> list[faces.Face]:
    """The subjects' faces (mediapipe runs here, then is released)."""
    backend = MediapipeBackend()
    try:
        rng = sample_rng(params.seed, DATABASE_ID, "identities")
        return faces.collect_faces(params.subjects, params.size, backend, rng)
    finally:
        backend.close()


def write_database(folder: Path, params: DemoParams, progress: Callable[[str], None] | None = None) -> None:
    """Write every file of the database into an existing empty folder."""
    identities = load_identities(params)
    records, rows = [], []
    for plan, frames, record in iter_clips(params, identities):
        clip_dir = folder / plan.folder
        clip_dir.mkdir(parents=True)
        for number, frame in zip(plan.timeline.numbers, frames, strict=True):
            (clip_dir / f"img{number}.jpg").write_bytes(encode_jpeg(frame, params.recording.jpeg_quality))
        records.append(record)
        rows.append(sheet_row(params, plan))
        if progress is not None:
            progress(plan.sample_id)
    sheets.write_sheets(folder, rows)
    sheets.write_manifest(folder, manifest(params, records, identities))


def make_params(**params: Any) -> DemoParams:
    """Validated DemoParams from keyword arguments, or a ConfigError naming an unknown one."""
    known = set(DemoParams.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown demo database parameter(s) {unknown}; use only {sorted(known)}")
    return DemoParams(**params).validate()


def is_demo_database(folder: Path) -> bool:
    """True for a folder that holds a complete demo database (its manifest is written last)."""
    return (Path(folder) / sheets.MANIFEST).is_file()


def check_target(root: Path, overwrite: bool) -> None:
    """Refuse a target that is a file, or a non-empty folder that --overwrite may not replace."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder; give a folder path for the demo database")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise ConfigError(f"{root} exists and is not empty; choose an empty or new folder, or pass --overwrite")
        if not is_demo_database(root):
            raise ConfigError(
                f"{root} is not empty and holds no {sheets.MANIFEST}, so it is not a demo database; "
                "--overwrite only replaces a demo database: choose another folder"
            )


def install(built: Path, root: Path) -> None:
    """Move a finished build to `root` in one rename, replacing an empty folder or an old demo database."""
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    if not root.exists():
        built.rename(root)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
    trash.rmdir()
    root.rename(trash)
    built.rename(root)
    shutil.rmtree(trash, ignore_errors=True)


def remove_stale_temps(parent: Path, name: str) -> None:
    """Remove `.NAME.tmp-PID-*` folders left by a build that was killed (its PID no longer runs)."""
    for folder in parent.glob(f".{name}.tmp-*"):
        pid = folder.name[len(f".{name}.tmp-"):].split("-", 1)[0]
        if folder.is_dir() and not folder.is_symlink() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or a number no process can have
        return False
    except PermissionError:  # another user's process
        return True
    return True


def build_into_temp(parent: Path, name: str, params: DemoParams, progress: Callable[[str], None] | None) -> Path:
    """A complete build in a hidden temporary sibling folder (removed again on any failure)."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(parent, name)
    temp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=parent))
    try:
        write_database(temp, params, progress)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return temp


def build_demo_database(
    root: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    **params: Any,
) -> Path:
    """Build the demo database at `root` (CASME II layout) and return its absolute path.

    `params` are DemoParams fields (seed, subjects, preset, balance, ...). The folder
    appears complete or not at all. An existing non-empty `root` is refused
    unless `overwrite` is set and it is itself a demo database. `progress` is called with
    each clip's sample id once its frames are written.
    """
    settings = make_params(**params)
    root = Path(root).expanduser().absolute()
    check_target(root, overwrite)
    temp = build_into_temp(root.parent, root.name, settings, progress)
    try:
        install(temp, root)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise ConfigError(f"could not move the demo database into {root}: {exc}; check permissions") from exc
    return root
