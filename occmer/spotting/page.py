"""The page of one spotted long video: the stretch it plays, the TP/FP/FN marks of its timeline,
and `occmer inspect LONG.h5 --html` (docs/spotting.md, "Inspecting a long-video file").

The bench's per-condition page (`occmer.bench.spotting.write_condition_page`) and the inspect
page of a long-video file share `page_stretch` and `timeline_marks`, and both draw with
`occmer.pages.long_video.write_long_video_page`. The inspect page's spotted intervals come from
one of two places:

- by default the MEGC baseline spotter (`feature_difference`, the code `occmer spot` runs) on the
  shown video alone. A single file gives no held-out subjects to tune on, so the settings are the
  published rule and the spotter's default, not a leave-one-subject-out choice: k = (N - 1) / 2
  with N the mean length of the file's true intervals of the kind (every video), p = 0.5;
- with --spots, an `occmer spot --data FILE` run's spotting.json (or its folder): untrusted input,
  checked entry by entry (a DataError names the file and the field).

Only the stretch's frames are read into memory (a range of the file, a block at a time); the
baseline's pass over the video streams it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occmer.errors import ConfigError, DataError
from occmer.pages.long_video import TimelineMark, write_long_video_page
from occmer.progress import progress_bar
from occmer.spotting import DEFAULT_SPOTTER
from occmer.spotting.feature_difference import FeatureDifferenceSettings, contrast_curves, crop, spot_curve
from occmer.spotting.intervals import KINDS, Interval
from occmer.spotting.metrics import match_all
from occmer.spotting.sources import FileVideo, read_long_video_file
from occmer.spotting.task import truth_intervals
from occmer.spotting.video import LongVideoSource
from occmer.store.inspect import occluder_text
from occmer.store.long_video import SEGMENT_FRAMES, LongVideoFile

PAGE_SECONDS = 20.0  # the stretch the inspect page plays
PAGE_STEP = 2  # every 2nd frame: a micro-expression (<= 0.5 s) still shows in 7 frames at 30 fps
SPOTS_FILE = "spotting.json"  # what `occmer spot` writes in OUT
MAX_SPOTS_BYTES = 64 << 20  # a --spots file larger than this is refused before it is parsed
MAX_SPOTS = 1_000_000
DEFAULT_TAU = 0.5  # p of the baseline on a single file: the spotter's default (FeatureDifferenceSettings)
SPOTTER = "feature difference (Moilanen et al. 2014), the MEGC baseline"


def page_stretch(video: LongVideoSource, truth: Sequence[Interval], seconds: float = PAGE_SECONDS) -> range:
    """The frames the page plays: the `seconds` of the video holding the most true intervals (earliest on ties)."""
    length = min(video.count, int(round(seconds * video.fps)))
    first = video.first_frame  # frame numbers count from it
    starts = range(first, first + max(video.count - length, 0) + 1, max(1, int(video.fps)))
    best = max(starts, key=lambda s: (sum(1 for t in truth if s <= t.onset and t.offset < s + length), -s))
    return range(best, best + length, PAGE_STEP)


def timeline_marks(truth: Sequence[Interval], spotted: Sequence[Interval]) -> list[TimelineMark]:
    """TP/FP/FN of one video's intervals, matched by the MEGC rules (kinds apart)."""
    marks = []
    for matching in match_all(truth, spotted).values():
        for m in matching.matches:
            marks.append(TimelineMark(m.truth.onset, m.truth.offset, "truth", "TP", f"{m.truth.kind} {m.truth.emotion}"))
            marks.append(TimelineMark(m.spotted.onset, m.spotted.offset, "spotted", "TP",
                                      f"{m.spotted.kind} IoU {m.iou:.2f}"))
        marks += [TimelineMark(s.onset, s.offset, "spotted", "FP", s.kind) for s in matching.false_positives]
        marks += [TimelineMark(t.onset, t.offset, "truth", "FN", f"{t.kind} {t.emotion}") for t in matching.false_negatives]
    return sorted(marks, key=lambda m: (m.onset, m.row))


@dataclass(frozen=True)
class Spots:
    """The spotted intervals of one video and how they were found (rows of the page's settings table)."""

    intervals: list[Interval]
    facts: list[tuple[str, Any]]


# ---------------------------------------------------------------- the baseline on one video


def mean_lengths(path: Path) -> dict[str, float]:
    """The mean length (frames) of the file's true intervals per kind, over all its videos: N of k = (N - 1) / 2."""
    lengths: dict[str, list[int]] = {kind: [] for kind in KINDS}
    with LongVideoFile.open(path) as f:
        for video_id in f.video_ids:
            for i in f.intervals(video_id):
                lengths[i.kind].append(i.offset - i.onset + 1)
    return {kind: float(np.mean(values)) for kind, values in lengths.items() if values}


def _counted(frames: Iterator[np.ndarray], total: int, progress: bool) -> Iterator[np.ndarray]:
    with progress_bar(total, "spotting", "frame", enabled=progress) as bar:
        for frame in frames:
            yield frame
            bar.update(1)


def baseline_spots(video: FileVideo, lengths: Mapping[str, float], tau: float = DEFAULT_TAU,
                   progress: bool = False) -> Spots:
    """The baseline spotter's intervals on one video, every kind in one streamed pass (settings: the module)."""
    settings = {kind: FeatureDifferenceSettings.for_length(lengths[kind], tau) for kind in KINDS if kind in lengths}
    facts: list[tuple[str, Any]] = [("spotted intervals", f"{SPOTTER}, run on this video alone with the published "
                                     "settings, not tuned (a file has no held-out subjects here; for the "
                                     "leave-one-subject-out spots run `occmer spot --data FILE` and pass --spots)")]
    spotted: list[Interval] = []
    if settings:
        frames = _counted(video.frames(), video.count, progress)
        curves = contrast_curves(frames, {s.k for s in settings.values()}, video.face_box)
        for kind, s in settings.items():
            spotted += spot_curve(curves[s.k], s, video.video, video.first_frame, kind, video.subject, video.database)
    for kind in KINDS:
        if kind in settings:
            facts.append((f"{kind}: k, p", f"{settings[kind].k}, {settings[kind].tau:g} (k = (N - 1) / 2, N = "
                          f"{lengths[kind]:.1f} frames, the mean length of the file's true {kind} intervals; "
                          "p: the spotter's default)"))
        else:
            facts.append((kind, "not spotted: the file has no true interval of this kind to set k from"))
    return Spots(spotted, facts)


# ---------------------------------------------------------------- spotted intervals from a run


def _spots_path(spots: Path) -> Path:
    if spots.is_dir():
        path = spots / SPOTS_FILE
        if not path.is_file():
            raise DataError(f"--spots {spots}: no {SPOTS_FILE} in it; give the folder `occmer spot OUT --data FILE` "
                            f"wrote (OUT) or a {SPOTS_FILE} (a bench's are in OUT/conditions/<condition>/)")
        return path
    if not spots.is_file():
        raise DataError(f"--spots {spots}: no such file or folder")
    return spots


def _document(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_SPOTS_BYTES:
        raise DataError(f"--spots {path}: {path.stat().st_size >> 20} MiB, more than a spotting.json holds "
                        f"({MAX_SPOTS_BYTES >> 20} MiB at most)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"--spots {path}: not UTF-8 text; give the {SPOTS_FILE} `occmer spot` wrote") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"--spots {path}: not JSON ({exc.msg} at line {exc.lineno}); give the {SPOTS_FILE} "
                        "`occmer spot` wrote") from None
    except RecursionError:
        raise DataError(f"--spots {path}: nested too deeply to be a {SPOTS_FILE}") from None
    if not isinstance(document, dict) or not isinstance(document.get("spotted"), list):
        raise DataError(f"--spots {path}: field 'spotted' missing or not a list; give the {SPOTS_FILE} "
                        "`occmer spot --data FILE` wrote")
    if len(document["spotted"]) > MAX_SPOTS:
        raise DataError(f"--spots {path}: {len(document['spotted'])} spotted intervals, more than {MAX_SPOTS}")
    return document


def _field(path: Path, row: int, entry: dict[str, Any], name: str, kind: type) -> Any:
    value = entry.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        shown = json.dumps(value)[:40] if value is not None else "missing"
        raise DataError(f"--spots {path}: spotted[{row}].{name} must be {'an integer' if kind is int else 'a string'}, "
                        f"got {shown}")
    return value


def read_spots(spots: Path, video: FileVideo, file_videos: Sequence[str]) -> Spots:
    """One video's spotted intervals from an `occmer spot` run's spotting.json (a file or its folder).

    Every entry is checked (video, onset, offset: integers inside the video, kind micro or macro);
    a file naming none of FILE's videos is refused (it was run on another file). The intervals
    take the file's subject and database so that they match its true ones.
    """
    path = _spots_path(Path(spots))
    document = _document(path)
    last = video.first_frame + video.count - 1
    out, named = [], set()
    for row, entry in enumerate(document["spotted"]):
        if not isinstance(entry, dict):
            raise DataError(f"--spots {path}: spotted[{row}] must be an object with video, onset, offset and kind")
        name = _field(path, row, entry, "video", str)
        named.add(name)
        if name != video.video:
            continue
        onset, offset = _field(path, row, entry, "onset", int), _field(path, row, entry, "offset", int)
        kind, emotion = _field(path, row, entry, "kind", str), entry.get("emotion", "")
        if kind not in KINDS:
            raise DataError(f"--spots {path}: spotted[{row}].kind must be one of {', '.join(KINDS)}, got {kind[:40]!r}")
        if not video.first_frame <= onset <= offset <= last:
            raise DataError(f"--spots {path}: spotted[{row}] frames {onset}..{offset} are not inside video "
                            f"{video.video} ({video.first_frame}..{last}, onset <= offset)")
        out.append(Interval(video.video, onset, offset, kind, emotion if isinstance(emotion, str) else "",
                            video.subject, video.database))
    if named and not named & set(file_videos):
        raise DataError(f"--spots {path}: names none of the file's videos (it names {', '.join(sorted(named)[:3])}); "
                        "give the spotting.json of `occmer spot --data` on this file")
    source = document.get("data")
    facts: list[tuple[str, Any]] = [("spotted intervals", f"{path} ({len(out)} on this video)")]
    if isinstance(source, str):
        facts.append(("spotting run on", source))
    if isinstance(document.get("spotter"), str):
        facts.append(("spotter", document["spotter"]))
    which = ("k, p (set on the other subjects)" if document.get("spotter", DEFAULT_SPOTTER) == DEFAULT_SPOTTER
             else "k, p (as that run's spotter set them)")
    facts += [(f"{f['kind']}: {which}", f"{f['k']}, {f['tau']}")
              for f in document.get("folds") or () if isinstance(f, dict) and f.get("subject") == video.subject
              and isinstance(f.get("kind"), str) and isinstance(f.get("k"), int) and isinstance(f.get("tau"), float)]
    return Spots(out, facts)


# ---------------------------------------------------------------- the page


def stretch_frames(path: Path, video: FileVideo, numbers: Sequence[int]) -> list[np.ndarray]:
    """The stored frames numbered `numbers` (the face box, gray frames 2-D), reading their range a block at a time."""
    wanted = sorted({int(n) - video.first_frame for n in numbers})
    if not wanted:
        return []
    kept: dict[int, np.ndarray] = {}
    with LongVideoFile.open(path) as f:
        for start in range(wanted[0], wanted[-1] + 1, SEGMENT_FRAMES):
            stop = min(wanted[-1] + 1, start + SEGMENT_FRAMES)
            block = f.frames(video.video, start, stop)
            for position in (p for p in wanted if start <= p < stop):
                frame = crop(block[position - start], video.face_box)
                kept[position] = frame[..., 0] if frame.shape[-1] == 1 else frame
    return [kept[int(n) - video.first_frame] for n in numbers]


def _shown_video(path: Path, video_id: str | None) -> tuple[FileVideo, list[str], dict[str, Any]]:
    with LongVideoFile.open(path) as f:
        ids, attrs = list(f.video_ids), f.attrs()
    chosen = ids[0] if video_id is None else video_id
    if chosen not in ids:
        raise ConfigError(f"--video {video_id}: {path} holds no such video (its videos: {', '.join(ids[:10])}"
                          f"{' ...' if len(ids) > 10 else ''})")
    return read_long_video_file(path, video_ids=[chosen])[0], ids, attrs


def write_long_inspect_page(path: str | Path, out: Path, video_id: str | None = None, spots: Path | None = None,
                            side: int = 112, progress: bool = False) -> Path:
    """`occmer inspect LONG.h5 --html`: one video (the first by default) played over its true and spotted intervals."""
    path = Path(path)
    video, ids, attrs = _shown_video(path, video_id)
    found = read_spots(spots, video, ids) if spots is not None else baseline_spots(video, mean_lengths(path),
                                                                                   progress=progress)
    truth = truth_intervals(video)
    numbers = list(page_stretch(video, truth))
    facts = [("file", str(path)), ("database", attrs.get("database")), ("occluder", occluder_text(attrs.get("occluder"))),
             ("video", f"{video.video} ({ids.index(video.video) + 1} of {len(ids)}; --video picks another)"),
             ("subject", video.subject), ("face box", "the whole frame (aligned face crops)" if video.face_box is None
                                          else f"{video.face_box} (x0, y0, x1, y1)"), *found.facts]
    return write_long_video_page(out, video.video, stretch_frames(path, video, numbers), numbers, video.fps,
                                 video.count, timeline_marks(truth, found.intervals), facts, side)


__all__ = ["PAGE_SECONDS", "PAGE_STEP", "Spots", "baseline_spots", "page_stretch", "read_spots", "timeline_marks",
           "write_long_inspect_page"]
