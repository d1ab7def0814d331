"""Tiny database trees in the real layouts, written by the tests themselves.

Each `write_<database>(root, ...)` writes sheets with the real headers and quirks (blank
columns, "/" apex, AU strings with side/intensity letters, header not on the first row)
and small face-free frames (32x24), and returns the root to pass to the adapter.

The long-video writers also take `faces=True`: their videos are then the long demo's rendered
face (occmer.demo.long_video, 128 px, a few seconds) in the release's file naming, and their
sheets list the demo's micro- and macro-expressions at the release's frame numbers, so that
`occmer synthesize` finds a face and spotting has expressions to find.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FRAME_SIZE = (24, 32)  # (height, width)


def _texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 128 + 60 * np.sin(x / 2.3) * np.cos(y / 3.1) + 40 * np.sin((x + y) / 4.7)


def frame_image(number: int, gray: bool = False, shift: float = 0.0) -> np.ndarray:
    """A deterministic textured frame; `shift` moves the texture of the central block right by that many
    pixels (a local deformation, like an expression, not a global head shift)."""
    h, w = FRAME_SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    value = _texture(xx, yy)
    block = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    value[block] = _texture(xx - shift, yy)[block]
    value = np.clip(value + (number % 7), 0, 255).astype(np.uint8)
    if gray:
        return value
    return np.stack([value, np.roll(value, 3, axis=1), 255 - value], axis=-1)


def write_frames(
    folder: Path,
    numbers: Iterable[int],
    pattern: str = "img{n}.jpg",
    gray: bool = False,
    shifts: dict[int, float] | None = None,
    images: Sequence[np.ndarray] | None = None,
) -> list[Path]:
    """Write one small image per frame number (or `images`, one per number, (H, W) gray or (H, W, 3) RGB);
    BGR/gray as cv2 writes them."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, n in enumerate(numbers):
        if images is None:
            image = frame_image(n, gray=gray, shift=(shifts or {}).get(n, 0.0))
        else:
            image = images[k] if gray or images[k].ndim == 3 else np.repeat(images[k][..., None], 3, axis=2)
        path = folder / pattern.format(n=n)
        if not cv2.imwrite(str(path), image if gray else image[..., ::-1]):
            raise OSError(f"could not write {path}")
        paths.append(path)
    return paths


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], sheet: str = "Sheet1", extra_sheets: int = 0) -> Path:
    """An xlsx with the rows as given (None = empty cell); optional empty sheets before it."""
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    if extra_sheets:
        first.title = "notes"
        first.append(["this sheet holds notes only"])
        for k in range(1, extra_sheets):
            book.create_sheet(f"notes{k}")
        target = book.create_sheet(sheet)
    else:
        first.title = sheet
        target = first
    for row in rows:
        target.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# ------------------------------------------------------------------------------------------
# CASME II (and the demo database, same layout)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CasmeRow:
    subject: object  # as the sheet writes it (an int for CASME II)
    filename: str
    onset: object
    apex: object
    offset: object
    action_units: str
    emotion: str
    objective: str = ""  # "" = not listed in the objective-class sheet
    frames: tuple[int, ...] | None = None  # None = no folder on disk


CASME2_ROWS = (
    CasmeRow(1, "EP02_01f", 46, 50, 58, "4+7", "disgust", "III", tuple(range(46, 61))),
    CasmeRow(1, "EP03_02", 11, "/", 20, "R12", "happiness", "I", tuple(range(10, 25))),
    CasmeRow(2, "EP01_11f", 98, 105, 110, "L10+25", "repression", "", tuple(range(95, 113))),
    CasmeRow(2, "EP04_03", 3, 6, 9, "1+2", "Surprise", "II", tuple(range(1, 13))),
    CasmeRow(13, "EP05_01", 5, 9, 14, "14", "others", "", tuple(range(5, 16))),
    CasmeRow(13, "EP06_02f", 20, 22, 27, "R15+17", "sadness", "V", tuple(range(20, 30))),
)
CASME2_FOLDERS = {"raw": ("CASME2_RAW_selected", "img{n}.jpg"), "cropped": ("Cropped", "reg_img{n}.jpg"),
                  "flat": ("", "img{n}.jpg")}
CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                 "Estimated Emotion")


def write_casme2(
    root: Path,
    rows: Sequence[CasmeRow] = CASME2_ROWS,
    layout: str = "raw",
    sheet_name: str = "CASME2-coding-20140508.xlsx",
    objective: bool = True,
    frame_suffix: str = ".jpg",
) -> Path:
    """A CASME II tree: coding sheet (blank columns, "/" apex), optional objective-class sheet, frames."""
    folder_name, pattern = CASME2_FOLDERS[layout]
    pattern = pattern.replace(".jpg", frame_suffix)
    frames_root = root / folder_name if folder_name else root
    sheet = [CASME2_HEADER]
    for r in rows:
        sheet.append((r.subject, r.filename, None, r.onset, r.apex, r.offset, None, r.action_units, r.emotion))
        if r.frames is not None:
            subject = f"sub{int(r.subject):02d}" if str(r.subject).isdigit() else str(r.subject)
            write_frames(frames_root / subject / r.filename, r.frames, pattern)
    write_xlsx(root / sheet_name, sheet)
    if objective:
        classes = [("Subject", "Filename", "Objective Class")]
        classes += [(r.subject, r.filename, r.objective) for r in rows if r.objective]
        write_xlsx(root / "CASME2-ObjectiveClasses.xlsx", classes)
    return root


def write_demo(root: Path, rows: Sequence[CasmeRow] = CASME2_ROWS) -> Path:
    """The demo database layout: CASME II sheets named -demo, frames directly under the root."""
    return write_casme2(root, rows, layout="flat", sheet_name="CASME2-coding-demo.xlsx")


def write_workbook(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """An xlsx with several sheets, in the given order."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        target = book.create_sheet(name)
        for row in rows:
            target.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# ------------------------------------------------------------------------------------------
# SAMM: notes above the header, grayscale frames 006_05562.jpg, objective classes shipped
# ------------------------------------------------------------------------------------------

SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Notes", "Estimated Emotion", "Objective Classes")


@dataclass(frozen=True)
class SammRow:
    subject: object
    filename: str
    onset: object
    apex: object
    offset: object
    action_units: str
    emotion: str
    objective: object
    frames: tuple[int, ...] | None = None


SAMM_ROWS = (
    SammRow(6, "006_1_2", 5562, 5566, 5572, "R14A", "Contempt", 7, tuple(range(5560, 5576))),
    SammRow(6, "006_1_3", 1201, None, 1209, "R12 or 12+25", "Happiness", "1", tuple(range(1200, 1212))),
    SammRow(7, "007_3_1", 80, 84, 90, "4+7", "Anger", 3, tuple(range(78, 92))),
    SammRow(7, "007_5_2", 995, 1000, 1004, "1+2", "Surprise", 2, tuple(range(990, 1006))),
    SammRow(11, "011_2_1", 300, 303, 308, "L12", "Other", "", tuple(range(300, 310))),
)


def write_samm(root: Path, rows: Sequence[SammRow] = SAMM_ROWS, nested: bool = False, notes: int = 12) -> Path:
    """A SAMM tree: the sheet opens with `notes` rows of text, frames are grayscale."""
    frames_root = root / "SAMM" if nested else root
    sheet: list[Sequence[object]] = [(f"note line {k}: coding conventions",) for k in range(notes)]
    sheet.append(SAMM_HEADER)
    for r in rows:
        sheet.append((r.subject, r.filename, "1", r.onset, r.apex, r.offset, None, "Micro - 1/2", r.action_units,
                      None, r.emotion, r.objective))
        if r.frames is not None:
            subject = f"{int(r.subject):03d}"
            write_frames(frames_root / subject / r.filename, r.frames, subject + "_{n:05d}.jpg", gray=True)
    write_xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", sheet)
    return root


# ------------------------------------------------------------------------------------------
# SMIC: no sheet; HS / VIS / NIR camera folders, emotion from the folder, .bmp frames
# ------------------------------------------------------------------------------------------

SMIC_CLIPS = (  # (subject, emotion folder, clip folder, frame numbers)
    ("s1", "negative", "s1_ne_01", tuple(range(26573, 26581))),
    ("s1", "positive", "s1_po_01", tuple(range(1090, 1096))),
    ("s2", "surprise", "s2_sur_01", tuple(range(95, 105))),
    ("s10", "negative", "s10_ne_02", tuple(range(500, 506))),
)


def write_smic(root: Path, cameras: Sequence[str] = ("HS", "VIS", "NIR"), clips=SMIC_CLIPS) -> Path:
    """A SMIC tree with micro/ and non_micro/ folders; NIR frames are grayscale."""
    for camera in cameras:
        for subject, emotion, clip, numbers in clips:
            folder = root / camera / subject / "micro" / emotion / clip
            write_frames(folder, numbers, "image{n:06d}.bmp", gray=camera == "NIR")
        (root / camera / "s3" / "non_micro" / "s3_no_01").mkdir(parents=True, exist_ok=True)
    return root


# ------------------------------------------------------------------------------------------
# CAS(ME)^3 part A: repeated filenames, AUs separated by commas, color/ sub-folders
# ------------------------------------------------------------------------------------------

CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "Duration", "AU", "Objective class", "emotion")
CASME3_ROWS = (  # subject, filename, onset, apex, offset, AU, objective, emotion
    ("spNO.1", "a", 5, 8, 12, "4,7", "III", "anger"),
    ("spNO.1", "a", 30, 33, 38, "12", "I", "happy"),
    ("spNO.1", "b", 2, 6, 9, "L1+R2", "", "surprise"),
    ("spNO.2", "a", 10, "/", 16, "9", "IV", "disgust"),
)
CASME3_VIDEOS = {("spNO.1", "a"): range(1, 41), ("spNO.1", "b"): range(1, 11), ("spNO.2", "a"): range(8, 20)}


def casme3_sheet(rows) -> list[Sequence[object]]:
    """The rows of a CAS(ME)^3 part A label sheet (header and a Duration column)."""
    sheet: list[Sequence[object]] = [CASME3_HEADER]
    for subject, filename, onset, apex, offset, au, objective, emotion in rows:
        duration = offset - onset if isinstance(offset, int) and isinstance(onset, int) else None
        sheet.append((subject, filename, onset, apex, offset, duration, au, objective, emotion))
    return sheet


def write_casme3(root: Path, rows=CASME3_ROWS, videos=CASME3_VIDEOS, images: dict | None = None) -> Path:
    """A CAS(ME)^3 part A tree: annotation/<sheet> (sheet 'label') and data/part_A/<subject>/<video>/color/
    (`images`: the frames of a video, by (subject, video), instead of textures)."""
    write_workbook(root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"label": casme3_sheet(rows)})
    for (subject, video), numbers in videos.items():
        write_frames(root / "data" / "part_A" / subject / video / "color", numbers, "{n}.jpg",
                     images=(images or {}).get((subject, video)))
    return root


# ------------------------------------------------------------------------------------------
# MMEW: frames under Micro_Expression/<emotion>/<clip>/
# ------------------------------------------------------------------------------------------

MMEW_HEADER = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "remarks", "Action Units",
               "Estimated Emotion")
MMEW_ROWS = (  # subject, filename, onset, apex, offset, AU, emotion, emotion folder on disk
    ("S01", "S01_happy_1", 3, 7, 12, "R6+R12", "happiness", "happiness"),
    ("S01", "S01_sur_1", 1, 4, 9, "1+2+5", "surprise", "surprise"),
    ("S02", "S02_dis_1", 2, 5, 10, "4+9", "disgust", "fear"),  # stored in the wrong emotion folder
    ("S02", "S02_others_1", 1, 3, 6, "14", "others", "others"),
)


def write_mmew(root: Path, rows=MMEW_ROWS) -> Path:
    sheet = [MMEW_HEADER]
    for subject, filename, onset, apex, offset, au, emotion, folder in rows:
        sheet.append((subject, filename, onset, apex, offset, None, au, emotion))
        write_frames(root / "MMEW" / "Micro_Expression" / folder / filename, range(1, 14), "{n}.jpg")
    write_xlsx(root / "MMEW_Micro_Exp.xlsx", sheet)
    return root


# ------------------------------------------------------------------------------------------
# CAS(ME)^2: a headerless code sheet plus two naming sheets; long videos under rawpic/
# ------------------------------------------------------------------------------------------

CASME2X_EXPRESSIONS = (
    (1, "disgust1_1", 10, 14, 20, "4+7", "disgust", "micro-expression", "disgust"),
    (1, "disgust1_2", 30, 40, 60, "4+9", "disgust", "macro-expression", "disgust"),
    (1, "disgust1_3", 45, 47, 52, "R12", "positive", "micro-expression", "happy"),
    (2, "anger1_1", 5, 9, 14, "1+2", "surprise", "micro-expression", "surprise"),
)
CASME2X_SUBJECTS = (("participant", "code", "number"), (None, "s15", 1), (None, "s16", 2))
CASME2X_VIDEOS = (("0101", "disgust1"), ("0401", "anger1"))
CASME2X_FOLDERS = {("s15", "15_0101disgustingteeth"): range(1, 61), ("s16", "16_0401girlcrashing"): range(1, 21)}


def write_casme2x(root: Path, expressions=CASME2X_EXPRESSIONS) -> Path:
    write_workbook(root / "CAS(ME)^2code_final.xlsx", {
        "Sheet1": expressions, "naming rule1": CASME2X_SUBJECTS, "naming rule2": CASME2X_VIDEOS,
    })
    for (subject, video), numbers in CASME2X_FOLDERS.items():
        write_frames(root / "rawpic" / subject / video, numbers, "img{n}.jpg")
    return root


# ------------------------------------------------------------------------------------------
# folder: a CSV manifest
# ------------------------------------------------------------------------------------------

FOLDER_MANIFEST = (
    "subject,folder,onset,apex,offset,emotion,action_units,objective_class\n"
    "p1,clips/p1/take1,3,5,8,Happy,6+12,\n"
    "p1,clips/p1/take2,,,,surprise,1+2,II\n"
    "p2,clips/p2/take1,2,,9,disgust,R10,\n"
)


def write_folder_db(root: Path, manifest: str = FOLDER_MANIFEST) -> Path:
    (root / "occmer_manifest.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "occmer_manifest.csv").write_text(manifest, encoding="utf-8")
    write_frames(root / "clips" / "p1" / "take1", range(1, 11), "frame_{n:03d}.png")
    write_frames(root / "clips" / "p1" / "take2", range(1, 7), "{n}.jpg")
    write_frames(root / "clips" / "p2" / "take1", range(1, 12), "f{n}.bmp")
    return root


WRITERS = {
    "casme2": write_casme2, "demo": write_demo, "samm": write_samm,
    "smic-hs": write_smic, "smic-vis": write_smic, "smic-nir": write_smic,
    "casme3": write_casme3, "mmew": write_mmew, "casme2x": write_casme2x, "folder": write_folder_db,
}
EXPECTED_CLIPS = {
    "casme2": len(CASME2_ROWS), "demo": len(CASME2_ROWS), "samm": len(SAMM_ROWS),
    "smic-hs": len(SMIC_CLIPS), "smic-vis": len(SMIC_CLIPS), "smic-nir": len(SMIC_CLIPS),
    "casme3": len(CASME3_ROWS), "mmew": len(MMEW_ROWS), "casme2x": 3, "folder": 3,
}


def write_database(name: str, root: Path) -> Path:
    """The fixture tree of a registered database, by name (for tests that loop over adapters)."""
    return WRITERS[name](root)


# ------------------------------------------------------------------------------------------
# Long-video releases (issue 29): whole videos, micro- and macro-expressions at absolute frames
# ------------------------------------------------------------------------------------------

# faces=True: the long demo rendered once per frame rate (two subjects: a leave-one-subject-out
# bench needs two; rates high enough that each video holds a micro- and a macro-expression).
FACED_PARAMS = {"subjects": 2, "seconds": 5.0, "size": 128, "micro_per_minute": 24.0, "macro_per_minute": 12.0}
FACED_FIRST_FRAME = 1  # each release numbers its frame files from 1: img1.jpg, 006_1_0001.jpg, color/1.jpg


@dataclass(frozen=True)
class FacedVideo:
    """One video of the long demo as a release stores it: its frames and the expressions in it."""

    frames: np.ndarray  # (T, H, W) uint8 gray, the demo's frame i is the release's frame FACED_FIRST_FRAME + i
    events: tuple[dict, ...]  # the demo's micro- and macro-expressions (blinks are not labelled), 0-based frames

    @property
    def numbers(self) -> range:
        return range(FACED_FIRST_FRAME, FACED_FIRST_FRAME + len(self.frames))

    def expressions(self) -> list[tuple[dict, int, int, int]]:
        """(event, onset, apex, offset) at the release's frame numbers, in time order."""
        return [(e, e["onset"] + FACED_FIRST_FRAME, e["apex"] + FACED_FIRST_FRAME, e["offset"] + FACED_FIRST_FRAME)
                for e in self.events]


@lru_cache(maxsize=2)
def faced_videos(fps: float) -> tuple[FacedVideo, ...]:
    """The long demo's videos at `fps` (FACED_PARAMS), rendered once per process (about 2 s at 30 fps)."""
    from occmer.demo.long_video import LongVideoParams, read_long_demo, write_long_demo

    with tempfile.TemporaryDirectory() as tmp:
        root = write_long_demo(Path(tmp) / "demo", LongVideoParams(fps=fps, **FACED_PARAMS))
        return tuple(FacedVideo(np.stack(list(v.frames())), tuple(e for e in v.events if e["kind"] != "blink"))
                     for v in read_long_demo(root))


def release_fps(name: str) -> float:
    """The frame rate the adapter declares: a faced fixture is rendered at it (SAMM: 200 fps)."""
    from occmer.databases.long_video import LONG_VIDEO_DATABASES

    return LONG_VIDEO_DATABASES[name].fps


def _aus(event: dict) -> str:
    return "+".join(str(n) for n in event["action_units"])


CASME2X_LONG_EXPRESSIONS = (  # the code sheet's nine headerless columns; offset 0 = not annotated
    (1, "disgust1_1", 10, 14, 20, "4+7", "negative", "micro-expression", "disgust"),
    (1, "disgust1_2", 30, 40, 60, "4+9", "negative", "macro-expression", "disgust"),
    (1, "disgust1_3", 62, 66, 0, "R12", "positive", "macro-expression", "happy"),  # offset 0 -> apex 66
    (1, "anger1_1", 5, 9, 14, "1+2", "surprise", "micro-expression", "surprise"),
    (2, "anger1_1", 20, 31, 30, "4", "negative", "macro-expression", "anger"),  # apex after offset: dropped
)
CASME2X_LONG_FOLDERS = {("s15", "15_0101disgustingteeth"): range(1, 81), ("s15", "15_0401girlcrashing"): range(1, 41),
                        ("s16", "16_0401girlcrashing"): range(1, 41)}
CASME2X_LONG_EXPECTED = {"videos": 3, "micro": 2, "macro": 3}
# faces=True: demo subject k -> (subject number in sheet 1, video name, rawpic folder)
CASME2X_FACED = ((1, "disgust1", ("s15", "15_0101disgustingteeth")), (2, "anger1", ("s16", "16_0401girlcrashing")))


def faced_casme2x_long() -> tuple[list[tuple], dict, dict]:
    """The code sheet's rows, frame numbers and images of the faced CAS(ME)^2 release."""
    expressions, folders, images = [], {}, {}
    for (number, name, folder), video in zip(CASME2X_FACED, faced_videos(release_fps("casme2x-long")), strict=True):
        for k, (event, onset, apex, offset) in enumerate(video.expressions(), 1):
            expressions.append((number, f"{name}_{k}", onset, apex, offset, _aus(event), event["emotion"],
                                f"{event['kind']}-expression", event["emotion"]))
        folders[folder], images[folder] = video.numbers, video.frames
    return expressions, folders, images


def write_casme2x_long(root: Path, expressions=CASME2X_LONG_EXPRESSIONS, folders=CASME2X_LONG_FOLDERS,
                       faces: bool = False) -> Path:
    """A CAS(ME)^2 release for the long-video adapter: the headerless code sheet and its two naming sheets,
    videos `rawpic/s15/15_0101disgustingteeth/img<N>.jpg` (N from 1); `faces`: the long demo's videos."""
    images: dict = {}
    if faces:
        expressions, folders, images = faced_casme2x_long()
    write_workbook(root / "CAS(ME)^2code_final.xlsx", {
        "Sheet1": expressions, "naming rule1": CASME2X_SUBJECTS, "naming rule2": CASME2X_VIDEOS,
    })
    for (subject, video), numbers in folders.items():
        write_frames(root / "rawpic" / subject / video, numbers, "img{n}.jpg", images=images.get((subject, video)))
    return root


SAMM_LONG_HEADER = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
                    "Action Units", "Notes")
SAMM_LONG_NOTES = ("SAMM Long Videos Dataset - FACS Codes", None, "Symbol Key:", '"/" = or', None, "AU Help:",
                   "NOTE: Subjects with Apex Frame not annotated were labelled as -1.", "A2 = Asymmetric AU 2", None)
SAMM_LONG_ROWS = (  # subject, filename, onset, apex, offset, type, AUs
    ("006", "006_1_1", 20, 30, 70, "Macro", "4(B/C)+7B"),
    ("006", "006_1_2", 80, 84, 95, "Micro - 1/2", "4+7"),
    (6, "006_1_3", 100, -1, 112, "Micro - 1/2", "4"),  # apex not annotated; subject written as a number
    ("007", "007_2_1", 5, 9, 20, "Micro - 1/2", "R12"),
    ("007", "007_2_2", 30, 50, 90, "Macro", "6+12"),
)
SAMM_LONG_VIDEOS = {"006_1": range(1, 121), "007_2": range(1, 101)}
SAMM_LONG_EXPECTED = {"videos": 2, "micro": 3, "macro": 2}
SAMM_FACED = (("006", "006_1"), ("007", "007_2"))  # faces=True: demo subject k -> (subject, video)
SAMM_TYPES = {"micro": "Micro - 1/2", "macro": "Macro"}


def faced_samm_long() -> tuple[list[tuple], dict, dict]:
    """The sheet's rows, frame numbers and images of the faced SAMM release (200 fps)."""
    rows, videos, images = [], {}, {}
    for (subject, name), video in zip(SAMM_FACED, faced_videos(release_fps("samm-long")), strict=True):
        for k, (event, onset, apex, offset) in enumerate(video.expressions(), 1):
            rows.append((subject, f"{name}_{k}", onset, apex, offset, SAMM_TYPES[event["kind"]], _aus(event)))
        videos[name], images[name] = video.numbers, video.frames
    return rows, videos, images


def write_samm_long(root: Path, rows=SAMM_LONG_ROWS, videos=SAMM_LONG_VIDEOS, faces: bool = False) -> Path:
    """A SAMM long-video release: the sheet opens with nine rows of title and notes, grayscale frames
    `SAMM_longvideos/006_1/006_1_0001.jpg`; `faces`: the long demo's videos at 200 fps."""
    images: dict = {}
    if faces:
        rows, videos, images = faced_samm_long()
    sheet: list[Sequence[object]] = [(line,) for line in SAMM_LONG_NOTES]
    sheet.append(SAMM_LONG_HEADER)
    for subject, filename, onset, apex, offset, kind, aus in rows:
        duration = offset - onset + 1 if isinstance(onset, int) and isinstance(offset, int) else None
        sheet.append((subject, filename, filename.split("_")[1], onset, apex, offset, duration, kind, aus, None))
    write_xlsx(root / "SAMM_LongVideos_V2_Release.xlsx", sheet)
    for video, numbers in videos.items():
        write_frames(root / "SAMM_longvideos" / video, numbers, video + "_{n:04d}.jpg", gray=True,
                     images=images.get(video))
    return root


CASME3A_LONG_ROWS = (  # the ME label sheet: micro-expressions only; one video holds several
    ("spNO.1", "a", 5, 8, 12, "4,7", "III", "anger"),
    ("spNO.1", "a", 30, 33, 38, "12", "I", "happy"),
    ("spNO.1", "J", 2, 6, 9, "L1+R2", "", "surprise"),  # folder j: matched case-insensitively
    ("spNO.2", "a", 10, 14, 0, "9", "IV", "disgust"),  # offset 0 -> apex 14
)
CASME3A_LONG_VIDEOS = {("spNO.1", "a"): range(1, 61), ("spNO.1", "j"): range(1, 21), ("spNO.2", "a"): range(1, 31)}
CASME3A_LONG_EXPECTED = {"videos": 3, "micro": 4, "macro": 0}
CASME3A_FACED = (("spNO.1", "a"), ("spNO.2", "a"))  # faces=True: demo subject k -> (subject, video)
CASME3A_MACRO_SHEET = "cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx"  # the adapter's guess at the unpublished name


def faced_casme3a_long() -> tuple[list[tuple], list[tuple], dict, dict]:
    """The ME sheet's rows, the MaE sheet's rows, frame numbers and images of the faced CAS(ME)^3 part A release."""
    micro, macro, videos, images = [], [], {}, {}
    for key, video in zip(CASME3A_FACED, faced_videos(release_fps("casme3a-long")), strict=True):
        for event, onset, apex, offset in video.expressions():
            row = (*key, onset, apex, offset, _aus(event).replace("+", ","), event["objective_class"], event["emotion"])
            (micro if event["kind"] == "micro" else macro).append(row)
        videos[key], images[key] = video.numbers, video.frames
    return micro, macro, videos, images


def write_casme3a_long(root: Path, rows=CASME3A_LONG_ROWS, videos=CASME3A_LONG_VIDEOS, faces: bool = False) -> Path:
    """A CAS(ME)^3 part A release for the long-video adapter (same layout as `write_casme3`); `faces`: the long
    demo's videos as colour frames, its macro-expressions in a MaE label sheet beside the ME one."""
    if not faces:
        return write_casme3(root, rows, videos)
    micro, macro, videos, images = faced_casme3a_long()
    write_workbook(root / "annotation" / CASME3A_MACRO_SHEET, {"label": casme3_sheet(macro)})
    return write_casme3(root, micro, videos, images)


LONG_WRITERS = {"casme2x-long": write_casme2x_long, "samm-long": write_samm_long, "casme3a-long": write_casme3a_long}
LONG_EXPECTED = {"casme2x-long": CASME2X_LONG_EXPECTED, "samm-long": SAMM_LONG_EXPECTED,
                 "casme3a-long": CASME3A_LONG_EXPECTED}


def write_long_database(name: str, root: Path, faces: bool = False) -> Path:
    """The fixture tree of a registered long-video release, by name (for tests and other helpers); `faces`:
    the long demo's rendered face in the release's layout (`faced_truth` gives its intervals)."""
    return LONG_WRITERS[name](root, faces=faces)


def faced_truth(name: str) -> list[list[tuple[int, int, int, str]]]:
    """The (onset, apex, offset, kind) a faced release's sheets list, per video (demo subject order), at the
    release's absolute frame numbers."""
    return [[(onset, apex, offset, event["kind"]) for event, onset, apex, offset in video.expressions()]
            for video in faced_videos(release_fps(name))]
