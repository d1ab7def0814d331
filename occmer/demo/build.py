"""Build the synthetic demo database: plan every clip, render its frames, write CASME II layout.

Planning (which face, which class, which timing, which amplitude) and rendering are pure
and seeded per clip with `occmer.seeding.sample_rng`; only `write_database` touches the
disk, and `build_demo_database` makes the result appear atomically (temp folder + rename).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from occmer import __version__
from occmer.demo import actions, faces, motion, sheets
from occmer.errors import ConfigError, DataError
from occmer.faces.landmarks import MediapipeBackend
from occmer.seeding import sample_rng

JPEG_QUALITY = 95
DATABASE_ID = "demo"


@dataclass(frozen=True)
class DemoParams:
    """Everything that determines a demo database (the cache key is made of these + the version)."""

    seed: int = 0
    subjects: int = 8
    clips_per_subject: int = 6
    frames: int = 30
    size: int = 200
    amplitude_px: tuple[float, float] = (1.5, 3.5)  # apex displacement range at size 200 (scaled with size)
    drift_px: float = 0.35  # largest head drift (norm of the translation), px at size 200
    noise_sigma: float = 1.5  # sensor noise, grey levels (same on the three channels)

    def validate(self) -> DemoParams:
        """Self, or a ConfigError naming the option to change."""
        checks = (
            (self.seed >= 0, f"--seed must be 0 or a positive integer (got {self.seed})"),
            (self.subjects >= 1, f"--subjects must be at least 1 (got {self.subjects})"),
            (
                self.subjects <= faces.max_subjects(),
                f"--subjects must be at most {faces.max_subjects()} (bundled faces; got {self.subjects})",
            ),
            (self.clips_per_subject >= 1, f"--clips-per-subject must be at least 1 (got {self.clips_per_subject})"),
            (self.frames >= motion.MIN_FRAMES, f"--frames must be at least {motion.MIN_FRAMES} (got {self.frames})"),
            (128 <= self.size <= 1024, f"--size must be between 128 and 1024 px (got {self.size})"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    @property
    def scale(self) -> float:
        """Pixel quantities are specified for a 200 px frame and scale with --size."""
        return self.size / 200.0


@dataclass(frozen=True)
class ClipPlan:
    """Everything drawn for one clip before rendering."""

    subject: int  # 1-based, folder sub%02d
    filename: str  # EP%02d_01
    expression: str  # key of actions.EXPRESSIONS
    action_units: tuple[int, ...]
    timeline: motion.Timeline
    peak_px: float
    drift: np.ndarray  # (T, 2) px

    @property
    def folder(self) -> str:
        return f"sub{self.subject:02d}/{self.filename}"

    @property
    def sample_id(self) -> str:
        return f"{DATABASE_ID}/{self.folder}"


def subject_expressions(params: DemoParams, subject: int) -> list[str]:
    """The class of each clip of one subject: balanced (counts differ by at most one), seeded order.

    The rotation by subject spreads the remainder over classes when clips_per_subject is not
    a multiple of the number of classes, so the whole database stays balanced too.
    """
    names = list(actions.EXPRESSIONS)
    classes = [names[(j + subject) % len(names)] for j in range(params.clips_per_subject)]
    order = sample_rng(params.seed, f"{DATABASE_ID}/sub{subject:02d}", "classes").permutation(len(classes))
    return [classes[i] for i in order]


def plan_clip(params: DemoParams, subject: int, index: int, expression: str) -> ClipPlan:
    """One clip's draws, each from its own seeded stream (changing one knob moves nothing else)."""
    filename = f"EP{index:02d}_01"
    clip_id = f"{DATABASE_ID}/sub{subject:02d}/{filename}"
    units = actions.choose_units(actions.EXPRESSIONS[expression], sample_rng(params.seed, clip_id, "units"))
    timeline = motion.draw_timeline(params.frames, sample_rng(params.seed, clip_id, "timeline"))
    low, high = params.amplitude_px
    peak = float(sample_rng(params.seed, clip_id, "amplitude").uniform(low, high)) * params.scale
    drift = motion.head_drift(params.frames, sample_rng(params.seed, clip_id, "drift"), params.drift_px * params.scale)
    return ClipPlan(subject, filename, expression, units, timeline, peak, drift)


def plan_database(params: DemoParams) -> list[ClipPlan]:
    """Every clip of the database, subject by subject."""
    plans = []
    for subject in range(1, params.subjects + 1):
        for index, expression in enumerate(subject_expressions(params, subject), start=1):
            plans.append(plan_clip(params, subject, index, expression))
    return plans


def render_clip(
    params: DemoParams, face: faces.Face, plan: ClipPlan
) -> tuple[list[np.ndarray], actions.ExpressionField]:
    """The clip's RGB frames and the apex field that moved them."""
    shape = face.image.shape[:2]
    field = actions.expression_field(face.landmarks, plan.action_units, shape, plan.peak_px)
    intensity = motion.intensity_profile(plan.timeline)
    noise_rng = sample_rng(params.seed, plan.sample_id, "noise")
    frames = []
    for t in range(plan.timeline.count):
        noise = noise_rng.normal(0.0, params.noise_sigma, shape).astype(np.float32)
        frames.append(motion.render_frame(face.image, field.field, float(intensity[t]), plan.drift[t], noise))
    return frames, field


def encode_jpeg(frame: np.ndarray) -> bytes:
    """JPEG bytes of an RGB frame at quality 95 (deterministic for the same pixels)."""
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(frame[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise DataError("OpenCV could not encode a JPEG frame; check the opencv-contrib-python installation")
    return buffer.tobytes()


def sheet_row(plan: ClipPlan) -> sheets.SheetRow:
    """The CASME II sheet row of one clip: labels follow the action units actually applied."""
    expression = actions.EXPRESSIONS[plan.expression]
    t = plan.timeline
    return sheets.SheetRow(
        subject=plan.subject,
        filename=plan.filename,
        onset=t.onset,
        apex=t.apex,
        offset=t.offset,
        action_units=actions.au_string(plan.action_units),
        emotion=expression.emotion,
        objective_class=expression.objective_class,
    )


def clip_record(plan: ClipPlan, face: faces.Face, field: actions.ExpressionField) -> dict:
    """Ground truth of one clip for demo.json: labels, timing, applied motion and where it acts."""
    row = sheet_row(plan)
    return {
        "sample_id": plan.sample_id,
        "subject": plan.subject,
        "filename": plan.filename,
        "folder": plan.folder,
        "identity": face.source,
        "expression": plan.expression,
        "action_units": list(plan.action_units),
        "action_units_text": row.action_units,
        "emotion": row.emotion,
        "objective_class": row.objective_class,
        "frames": plan.timeline.numbers,
        "onset": row.onset,
        "apex": row.apex,
        "offset": row.offset,
        "intensity": [round(float(v), 6) for v in motion.intensity_profile(plan.timeline)],
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
            }
            for p in field.placements
        ],
        "head_drift_px": [[round(float(x), 4), round(float(y), 4)] for x, y in plan.drift],
    }


def manifest(params: DemoParams, clips: list[dict], identities: list[faces.Face]) -> dict:
    """The whole demo.json document."""
    return {
        "database": DATABASE_ID,
        "layout": "CASME II",
        "occmer_version": __version__,
        "params": asdict(params),
        "jpeg_quality": JPEG_QUALITY,
        "coding_sheet": sheets.CODING_SHEET,
        "objective_sheet": sheets.OBJECTIVE_SHEET,
        "expressions": {
            e.name: {
                "action_units": list(e.action_units),
                "optional_units": list(e.optional_units),
                "emotion": e.emotion,
                "objective_class": e.objective_class,
            }
            for e in actions.EXPRESSIONS.values()
        },
        "subjects": {f"sub{i:02d}": face.source for i, face in enumerate(identities, start=1)},
        "clips": clips,
    }


def iter_clips(params: DemoParams, identities: list[faces.Face]) -> Iterator[tuple[ClipPlan, list[np.ndarray], dict]]:
    """(plan, frames, ground-truth record) of every clip, rendered one at a time."""
    for plan in plan_database(params):
        face = identities[plan.subject - 1]
        frames, field = render_clip(params, face, plan)
        yield plan, frames, clip_record(plan, face, field)


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
            (clip_dir / f"img{number}.jpg").write_bytes(encode_jpeg(frame))
        records.append(record)
        rows.append(sheet_row(plan))
        if progress is not None:
            progress(plan.sample_id)
    sheets.write_sheets(folder, rows)
    sheets.write_manifest(folder, manifest(params, records, identities))


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


def build_into_temp(parent: Path, name: str, params: DemoParams, progress: Callable[[str], None] | None) -> Path:
    """A complete build in a hidden temporary sibling folder (removed again on any failure)."""
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent))
    try:
        write_database(temp, params, progress)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return temp


def build_demo_database(
    root: Path,
    *,
    seed: int = 0,
    subjects: int = 8,
    clips_per_subject: int = 6,
    frames: int = 30,
    size: int = 200,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Build the demo database at `root` (CASME II layout) and return its absolute path.

    The folder appears complete or not at all. An existing non-empty `root` is refused
    unless `overwrite` is set and it is itself a demo database. `progress` is called with
    each clip's sample id once its frames are written.
    """
    params = DemoParams(seed, subjects, clips_per_subject, frames, size).validate()
    root = Path(root).expanduser().absolute()
    check_target(root, overwrite)
    temp = build_into_temp(root.parent, root.name, params, progress)
    try:
        install(temp, root)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise ConfigError(f"could not move the demo database into {root}: {exc}; check permissions") from exc
    return root
