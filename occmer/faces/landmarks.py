"""Landmark backends: a registry of name -> backend that finds face points in a frame.

Detection runs on original (unaligned) frames; the pipeline maps the points through the
alignment. Backends are created inside each worker process (mediapipe is not picklable).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from occmer.errors import ConfigError, DataError
from occmer.faces.pointsets import point_set_for
from occmer.faces.topology import N_POINTS
from occmer.frames import frame_position


class LandmarkBackend(ABC):
    """Finds one face's landmarks (K, 2) in pixel coordinates, or None when there is none."""

    name: ClassVar[str]
    n_points: ClassVar[int] = N_POINTS

    @abstractmethod
    def detect(self, image: np.ndarray, sample_id: str = "", frame_number: int | None = None) -> np.ndarray | None:
        """Landmarks of the most prominent face in an RGB (H, W, 3) or gray (H, W[, 1]) uint8 image."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources."""

    @classmethod
    def from_argument(cls, argument: str) -> LandmarkBackend:
        """Build from the text after `name:` in a `--landmarks` value (most backends take none)."""
        if argument:
            raise ConfigError(f"landmark backend {cls.name!r} takes no argument (got {argument!r})")
        return cls()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ log lines mediapipe/TFLite print on start-up (they bypass Python logging).

    Set OCCMER_MEDIAPIPE_LOGS=1 to see them.
    """
    if os.environ.get("OCCMER_MEDIAPIPE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class MediapipeBackend(LandmarkBackend):
    """mediapipe 0.10.21 face mesh, models bundled in the wheel (no download)."""

    name = "mediapipe"

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        with quiet_native_stderr():
            import mediapipe as mp

            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
            )
            # The graph starts in background threads that log as they come up; one blank frame
            # waits for them (static_image_mode keeps no state between frames).
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        self._first_face_seen = False  # the landmark stage logs once, on the first face

    def detect(self, image: np.ndarray, sample_id: str = "", frame_number: int | None = None) -> np.ndarray | None:
        rgb = as_rgb(image)
        if self._first_face_seen:
            result = self._mesh.process(rgb)
        else:
            with quiet_native_stderr():
                result = self._mesh.process(rgb)
            self._first_face_seen = bool(result.multi_face_landmarks)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h) for p in points], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous RGB uint8 view of a gray or RGB frame (mediapipe wants 3 channels)."""
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    gray = image.reshape(image.shape[0], image.shape[1])
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


@dataclass
class ClipLandmarks:
    """Landmarks a user supplied for one clip, already in occmer's 478-point layout.

    frame_numbers: (T,) int64 absolute frame numbers (as in the image file names).
    landmarks: (T, 478, 2) float32; rows of a frame without a face are all NaN.
    point_set: the layout the file used (mediapipe478, mediapipe468 or ibug68).
    """

    frame_numbers: np.ndarray
    landmarks: np.ndarray
    point_set: str


LANDMARK_FILE_SUFFIXES = (".npz", ".csv")
_WIDE_X = re.compile(r"^x_?(\d+)$")
_WIDE_Y = re.compile(r"^y_?(\d+)$")


def clip_landmarks_from_arrays(frame_numbers: np.ndarray, points: np.ndarray, source: str) -> ClipLandmarks:
    """Validate (T,) frame numbers and (T, K, 2) points and convert them to the 478-point layout."""
    frames = np.asarray(frame_numbers)
    pts = np.asarray(points, np.float32)
    if pts.ndim != 3 or pts.shape[2] != 2 or frames.shape != (pts.shape[0],):
        raise DataError(
            f"{source}: expected frame_numbers (T,) and landmarks (T, K, 2), got {frames.shape} and {pts.shape}"
        )
    if not np.issubdtype(frames.dtype, np.integer) and not np.all(np.equal(np.mod(frames, 1), 0)):
        raise DataError(f"{source}: frame numbers must be integers (the numbers in the image file names)")
    frames = frames.astype(np.int64)
    if len(np.unique(frames)) != len(frames):
        raise DataError(f"{source}: a frame number appears more than once; keep one face per frame")
    point_set = point_set_for(pts.shape[1], source)
    converted = np.stack([point_set.to_mediapipe(p, source) for p in pts]) if len(pts) else np.empty((0, N_POINTS, 2))
    order = np.argsort(frames)
    return ClipLandmarks(frames[order], converted[order].astype(np.float32), point_set.name)


def clip_landmarks_from_table(table: Any, source: str) -> ClipLandmarks:
    """Parse a pandas table: long (frame, point, x, y) or wide (frame, x0..xK-1, y0..yK-1; OpenFace's x_0..y_67).

    An OpenFace `success` column of 0 marks a frame without a face (its points become NaN).
    """
    table = table.rename(columns=lambda c: str(c).strip())  # case kept: OpenFace's X_0 (3D) is not x_0 (2D)
    if "frame" not in table.columns:
        raise DataError(f"{source}: no 'frame' column; columns must be frame,point,x,y or frame,x0..xK-1,y0..yK-1")
    if {"point", "x", "y"} <= set(table.columns):
        frames, points = _long_table_points(table, source)
    else:
        frames, points = _wide_table_points(table, source)
    if "success" in table.columns:
        failed = table.groupby("frame")["success"].min().reindex(frames).to_numpy() == 0
        points[failed] = np.nan
    return clip_landmarks_from_arrays(frames, points, source)


def _long_table_points(table: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    frames = np.sort(table["frame"].unique())
    n_points = int(table["point"].max()) + 1
    counts = table.groupby("frame")["point"].nunique()
    if (counts != n_points).any() or table.duplicated(["frame", "point"]).any():
        bad = int(counts[counts != n_points].index[0]) if (counts != n_points).any() else "?"
        raise DataError(f"{source}: frame {bad} does not list each point 0..{n_points - 1} exactly once")
    pivot = table.pivot(index="frame", columns="point", values=["x", "y"]).loc[frames]
    points = np.stack([pivot["x"].to_numpy(np.float32), pivot["y"].to_numpy(np.float32)], axis=2)
    return frames, points


def _wide_table_points(table: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    xs = {int(m.group(1)): c for c in table.columns if (m := _WIDE_X.match(c))}
    ys = {int(m.group(1)): c for c in table.columns if (m := _WIDE_Y.match(c))}
    n_points = len(xs)
    if n_points == 0 or set(xs) != set(range(n_points)) or set(ys) != set(range(n_points)):
        raise DataError(
            f"{source}: columns must be frame,point,x,y (long) or frame,x0..xK-1,y0..yK-1 (wide); "
            f"found {len(xs)} x and {len(ys)} y columns"
        )
    if table["frame"].duplicated().any():
        raise DataError(f"{source}: frame {int(table['frame'][table['frame'].duplicated()].iloc[0])} appears twice")
    table = table.sort_values("frame")
    x = table[[xs[i] for i in range(n_points)]].to_numpy(np.float32)
    y = table[[ys[i] for i in range(n_points)]].to_numpy(np.float32)
    return table["frame"].to_numpy(), np.stack([x, y], axis=2)


def read_landmark_file(path: Path) -> ClipLandmarks:
    """Read one clip's landmarks from an .npz (frame_numbers, landmarks) or .csv file."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = {"frame_numbers", "landmarks"} - set(data.files)
                if missing:
                    raise DataError(f"{path}: missing array(s) {sorted(missing)}; save frame_numbers (T,), landmarks (T, K, 2)")
                return clip_landmarks_from_arrays(data["frame_numbers"], data["landmarks"], str(path))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable .npz landmark file ({exc})") from exc
    if path.suffix.lower() == ".csv":
        import pandas as pd

        try:
            table = pd.read_csv(path, skipinitialspace=True)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable CSV landmark file ({exc})") from exc
        return clip_landmarks_from_table(table, str(path))
    raise DataError(f"{path}: landmark files must end in {' or '.join(LANDMARK_FILE_SUFFIXES)}")


class FileBackend(LandmarkBackend):
    """Landmarks the user already has: one file per clip, `<folder>/<sample_id>.npz` or `.csv`.

    Points may be mediapipe 478/468 or iBUG 68 (dlib, OpenFace); see docs/landmarks.md.
    The points must be in the pixel coordinates of the original frames.
    """

    name = "file"

    @classmethod
    def from_argument(cls, argument: str) -> FileBackend:
        if not argument:
            raise ConfigError("the file landmark backend needs a folder: --landmarks file:FOLDER")
        return cls(argument)

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"landmark folder {self.folder} does not exist; pass --landmarks file:FOLDER")
        self._cache: dict[str, ClipLandmarks] = {}

    def path_for(self, sample_id: str) -> Path:
        """The file holding a sample's landmarks (the first suffix that exists)."""
        for suffix in LANDMARK_FILE_SUFFIXES:
            candidate = self.folder / f"{sample_id}{suffix}"
            if candidate.is_file():
                return candidate
        names = " or ".join(f"{sample_id}{s}" for s in LANDMARK_FILE_SUFFIXES)
        raise DataError(f"sample {sample_id}: no landmark file {names} in {self.folder}; write one file per clip")

    def clip(self, sample_id: str) -> ClipLandmarks:
        """All frames of one sample (read once, then cached; one clip at a time is kept)."""
        if sample_id not in self._cache:
            self._cache = {sample_id: read_landmark_file(self.path_for(sample_id))}
        return self._cache[sample_id]

    def detect(self, image: np.ndarray, sample_id: str = "", frame_number: int | None = None) -> np.ndarray | None:
        if not sample_id or frame_number is None:
            raise ConfigError("the file landmark backend needs the sample id and the frame number of each frame")
        clip = self.clip(sample_id)
        index = frame_position(clip.frame_numbers, frame_number)
        if index is None:
            first, last = (int(clip.frame_numbers[0]), int(clip.frame_numbers[-1])) if len(clip.frame_numbers) else (0, -1)
            raise DataError(
                f"sample {sample_id}: frame {frame_number} is not in {self.path_for(sample_id)} (frames {first}..{last}); "
                "the frame column must hold the numbers in the image file names"
            )
        points = clip.landmarks[index]
        if not np.isfinite(points).any():
            return None
        check_points_inside(points, image.shape[:2], f"sample {sample_id} frame {frame_number}")
        return points.copy()


def check_points_inside(points: np.ndarray, shape: tuple[int, int], where: str) -> None:
    """Fail when landmarks are clearly not in this frame's pixel coordinates (e.g. from a cropped frame)."""
    h, w = shape
    centre = np.nanmedian(points, axis=0)
    if not (0 <= centre[0] < w and 0 <= centre[1] < h):
        raise DataError(
            f"{where}: the landmarks' centre ({centre[0]:.0f}, {centre[1]:.0f}) lies outside the {w}x{h} frame; "
            "landmarks must be in the pixel coordinates of the original frames"
        )


LANDMARK_BACKENDS: dict[str, type[LandmarkBackend]] = {
    MediapipeBackend.name: MediapipeBackend,
    FileBackend.name: FileBackend,
}


def make_landmark_backend(spec: str) -> LandmarkBackend:
    """The backend for a `--landmarks` value: `mediapipe` or `file:FOLDER`."""
    name, _, argument = spec.partition(":")
    if name not in LANDMARK_BACKENDS:
        raise ConfigError(f"unknown landmark backend {spec!r}; choose one of {', '.join(sorted(LANDMARK_BACKENDS))}")
    return LANDMARK_BACKENDS[name].from_argument(argument)
