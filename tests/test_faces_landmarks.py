"""Landmark backends: mediapipe on RGB and gray frames, and user files (CSV / NPZ, 478 or 68 points)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from occmer.errors import ConfigError, DataError
from occmer.faces.landmarks import (
    LANDMARK_BACKENDS,
    FileBackend,
    MediapipeBackend,
    make_landmark_backend,
    read_landmark_file,
)
from occmer.faces.pointsets import IBUG68_TO_MEDIAPIPE
from occmer.faces.topology import (
    FOREHEAD_TOP,
    LEFT_EYE_OUTER,
    LEFT_IRIS_CENTER,
    MOUTH_RIGHT_CORNER,
    N_POINTS,
    RIGHT_EYE_OUTER,
    RIGHT_IRIS_CENTER,
    eye_centers,
    face_region_mask,
    group_points,
)

FRAMES = np.array([46, 47, 48])
IMAGE = np.zeros((480, 640, 3), np.uint8)


def points(n: int, frame: int) -> np.ndarray:
    rng = np.random.default_rng(frame)
    return rng.uniform(100, 400, (n, 2)).astype(np.float32)


def write_long_csv(path, n: int) -> None:
    rows = [(f, k, *points(n, f)[k]) for f in FRAMES for k in range(n)]
    pd.DataFrame(rows, columns=["frame", "point", "x", "y"]).to_csv(path, index=False)


def test_registry_has_mediapipe_and_file():
    assert {"mediapipe", "file"} <= set(LANDMARK_BACKENDS)


def test_npz_478_round_trip(tmp_path):
    lm = np.stack([points(N_POINTS, f) for f in FRAMES])
    np.savez(tmp_path / "casme2_sub01_EP02.npz", frame_numbers=FRAMES[::-1], landmarks=lm[::-1])
    backend = make_landmark_backend(f"file:{tmp_path}")
    assert isinstance(backend, FileBackend)
    got = backend.detect(IMAGE, "casme2_sub01_EP02", 47)
    np.testing.assert_array_equal(got, points(N_POINTS, 47))


def test_long_csv_68_points_are_placed_at_mediapipe_indices(tmp_path):
    write_long_csv(tmp_path / "s1.csv", 68)
    clip = read_landmark_file(tmp_path / "s1.csv")
    assert clip.point_set == "ibug68" and clip.landmarks.shape == (3, N_POINTS, 2)
    lm = clip.landmarks[0]
    src = points(68, 46)
    np.testing.assert_allclose(lm[RIGHT_EYE_OUTER], src[36])
    np.testing.assert_allclose(lm[LEFT_EYE_OUTER], src[45])
    np.testing.assert_allclose(lm[MOUTH_RIGHT_CORNER], src[48])
    np.testing.assert_allclose(lm[RIGHT_IRIS_CENTER], src[36:42].mean(0), rtol=1e-6)
    np.testing.assert_allclose(lm[LEFT_IRIS_CENTER], src[42:48].mean(0), rtol=1e-6)
    right, _ = eye_centers(lm)
    assert np.isfinite(right).all()
    # Groups the 68 points cannot serve fail with a message instead of spreading NaN.
    assert np.isnan(lm[FOREHEAD_TOP]).all()
    with pytest.raises(DataError, match="right_iris"):
        group_points(lm, "right_iris", min_points=4, sample_id="s1")
    assert len(group_points(lm, "right_brow", min_points=5)) == 5
    assert face_region_mask(lm, (480, 640)).any()


def test_ibug68_mapping_is_one_to_one():
    assert len(IBUG68_TO_MEDIAPIPE) == 68 and len(set(IBUG68_TO_MEDIAPIPE)) == 68
    assert max(IBUG68_TO_MEDIAPIPE) < 468


def test_openface_wide_csv_with_failed_frame(tmp_path):
    data = {"frame": FRAMES, " face_id": 0, " success": [1, 0, 1]}
    for k in range(68):
        data[f" x_{k}"] = [points(68, f)[k, 0] for f in FRAMES]
    for k in range(68):
        data[f" y_{k}"] = [points(68, f)[k, 1] for f in FRAMES]
    data[" eye_lmk_x_0"] = 1.0  # OpenFace's eye-model and 3D columns must not be taken for 2D landmarks
    for k in range(68):
        data[f" X_{k}"] = -5.0
    pd.DataFrame(data).to_csv(tmp_path / "s2.csv", index=False)
    backend = FileBackend(tmp_path)
    assert backend.detect(IMAGE, "s2", 47) is None
    np.testing.assert_allclose(backend.detect(IMAGE, "s2", 48)[RIGHT_EYE_OUTER], points(68, 48)[36])


def test_user_errors_name_sample_file_and_fix(tmp_path):
    write_long_csv(tmp_path / "s3.csv", 68)
    backend = FileBackend(tmp_path)
    with pytest.raises(DataError, match=r"frame 99 .*s3\.csv.*46\.\.48"):
        backend.detect(IMAGE, "s3", 99)
    with pytest.raises(DataError, match="no landmark file"):
        backend.detect(IMAGE, "missing", 46)
    with pytest.raises(DataError, match="outside the 64x64 frame"):
        backend.detect(np.zeros((64, 64, 3), np.uint8), "s3", 46)
    np.savez(tmp_path / "s4.npz", frame_numbers=FRAMES, landmarks=np.zeros((3, 50, 2)))
    with pytest.raises(DataError, match="50 points"):
        backend.detect(IMAGE, "s4", 46)
    with pytest.raises(ConfigError):
        make_landmark_backend("file")
    with pytest.raises(ConfigError, match="unknown landmark backend"):
        make_landmark_backend("dlib")
    with pytest.raises(ConfigError):
        FileBackend(tmp_path / "nope")


def test_mediapipe_finds_the_same_face_in_rgb_and_gray():
    from skimage import data

    rgb = data.astronaut()
    gray = (rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[:, :, None]
    backend = MediapipeBackend()
    try:
        a, b = backend.detect(rgb), backend.detect(gray)
        blank = backend.detect(np.full((200, 200, 1), 128, np.uint8))
    finally:
        backend.close()
    assert a is not None and b is not None and a.shape == (N_POINTS, 2)
    iod = np.linalg.norm(a[RIGHT_EYE_OUTER] - a[LEFT_EYE_OUTER])
    assert np.median(np.linalg.norm(a - b, axis=1)) < 0.1 * iod
    assert blank is None
