"""`occmer verify`: the reader's checks on every part of a file, every problem named, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from occmer.store import checks, schema
from occmer.store.checks import Bad
from occmer.store.long_video import long_video_problems
from occmer.store.splits import split_group_problems

FEATURE_BLOCK_ROWS = 256  # rows of a feature set checked at a time (bounded memory)
HEAD_MOTION = "head_motion"  # the documented per-clip extension (docs/hdf5-format.md)


def verify_store(path: str | Path, read_data: bool = True) -> list[str]:
    """Every problem found in a file (empty list = valid). read_data decodes every chunk.

    The same checks as OccmerFile (occmer.store.checks), run to the end instead of stopping at
    the first problem. Data is read only when the links and storage are clean, so a hostile
    file never makes verify read another file.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path}: no such file" if not path.exists() else f"{path}: not a file"]
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        return [f"{path}: not a readable HDF5 file ({exc})"]
    try:
        with f:
            return _unique(_verify(f, read_data))
    except Exception as exc:  # a last resort: verify reports, it does not crash
        return [f"cannot be checked ({type(exc).__name__}: {exc}); it is not a valid occmer file"]


def _unique(problems: list[str]) -> list[str]:
    """Each problem once: a clip check that meets an unsafe link repeats the link walk's line."""
    out: list[str] = []
    for problem in problems:
        if not any(problem == seen or problem.endswith(": " + seen) for seen in out):
            out.append(problem)
    return out


def _attempt(problems: list[str], check: Callable[[], Any]) -> Any:
    """Run one check; a Bad or unexpected error becomes a problem, never a crash."""
    try:
        return check()
    except Bad as exc:
        problems.append(str(exc))
    except Exception as exc:
        problems.append(f"unexpected {type(exc).__name__} while checking: {exc}")
    return None


def _verify(f: h5py.File, read_data: bool) -> list[str]:
    problems: list[str] = []
    header = _attempt(problems, lambda: checks.header(f, require_complete=True))
    if header is None and not _attempt([], lambda: checks.text(checks.attr(f, "format", "root")) == schema.FORMAT_NAME):
        return problems  # not an occmer file at all: one line is enough
    missing = [a for a in schema.ROOT_ATTRS if a not in f.attrs]
    if missing:
        problems.append(f"root attributes missing: {', '.join(missing)}")
    problems += checks.root_json_problems(f)
    unsafe = checks.link_problems(f)
    problems += unsafe
    read_data = read_data and not unsafe
    contents = header.contents if header else "clips"
    if contents == schema.LONG_VIDEOS:
        return problems + long_video_problems(f, read_data)
    table = _attempt(problems, lambda: checks.samples_table(f))
    if table is None:
        return problems
    problems += checks.sample_problems(table, contents)
    ids = list(table["sample_id"])
    if any(not checks.valid_sample_id(s) for s in ids) or len(set(ids)) != len(ids):
        return problems  # ids cannot name groups safely: stop before looking them up
    if contents == checks.FEATURES_ONLY:
        if _attempt(problems, lambda: checks.child(f, schema.CLIPS, f"/{schema.CLIPS}")) is not None:
            problems.append(f"/{schema.CLIPS}: present in a file of features only (contents='features')")
    else:
        problems += _verify_clips(f, table, read_data)
    complete, feature_problems = _attempt(problems, lambda: checks.feature_groups(f)) or ([], [])
    problems += feature_problems
    if contents == checks.FEATURES_ONLY and not complete:
        problems.append(f"/{schema.FEATURES}: a file of features only needs at least one complete feature set")
    for name in complete:
        problems += _verify_feature(f, name, ids, read_values=not unsafe)
    if not unsafe:
        problems += split_group_problems(f, table)
    return problems


def _verify_clips(f: h5py.File, table: dict[str, Any], read_data: bool) -> list[str]:
    problems: list[str] = []
    clips = _attempt(problems, lambda: checks.subgroup(f, schema.CLIPS, f"/{schema.CLIPS}"))
    if clips is None:
        return problems
    ids = list(table["sample_id"])
    for i, sid in enumerate(ids):
        keys = {c: int(table[c][i]) for c in ("onset", "apex", "offset")}
        layout = _attempt(problems, lambda sid=sid, i=i, keys=keys: checks.clip_layout(f, sid, int(table["n_frames"][i]), keys))
        if layout is None:
            continue
        if "placement" not in layout.group.attrs:
            problems.append(f"clip {sid}: attribute 'placement' missing")
        if read_data:
            _attempt(problems, lambda layout=layout, sid=sid: _read_clip_data(layout, sid))
    extra = sorted(set(clips) - set(ids))
    if extra:
        problems.append(f"/{schema.CLIPS} has groups not in /samples: {', '.join(extra[:5])}")
    return problems


def _read_clip_data(layout: checks.ClipLayout, sid: str) -> None:
    try:
        for k in range(layout.frames.shape[0]):
            layout.frames[k]
            layout.occlusion[k]
        landmarks = layout.landmarks[()]
        motion_ds = checks.dataset(layout.group, HEAD_MOTION, f"clip {sid}: /{schema.CLIPS}/{sid}/{HEAD_MOTION}",
                                   required=False)
        motion = None if motion_ds is None else np.asarray(motion_ds[()])
    except Bad:
        raise
    except Exception as exc:
        raise Bad(f"clip {sid}: data cannot be read ({type(exc).__name__}: {exc})") from None
    problem = checks.landmark_problem(landmarks)
    if problem is None and motion is not None:
        problem = checks.head_motion_problem(motion, layout.frames.shape[0])
    if problem is not None:
        raise Bad(f"clip {sid}: {problem}; synthesize the clip again (or check the --landmarks files it was made from)")


def _verify_feature(f: h5py.File, name: str, ids: list[str], read_values: bool) -> list[str]:
    """Shapes and row ids, and (even under --quick: training reads them) every value finite."""
    problems: list[str] = []
    layout = _attempt(problems, lambda: checks.feature_layout(f, name, ids))
    if layout is None or not read_values:
        return problems
    where = f"/{schema.FEATURES}/{name}"
    for what, ds in (("data", layout.data), ("occlusion", layout.occlusion), ("scale", layout.scale)):
        if ds is None:
            continue
        for start in range(0, len(ids), FEATURE_BLOCK_ROWS):
            try:
                block = np.asarray(ds[start:start + FEATURE_BLOCK_ROWS], dtype=np.float32)
            except Exception as exc:
                problems.append(f"{where}/{what}: cannot be read ({type(exc).__name__}: {exc})")
                break
            bad = checks.nonfinite_row(block)
            if bad is not None:
                problems.append(f"{where}/{what}: NaN or inf for sample {ids[start + bad]}")
                break
    return problems
