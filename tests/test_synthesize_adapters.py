"""`occmer synthesize --db NAME` writes a file `occmer verify` accepts, for every adapter.

The fixture trees have tiny face-free frames, so landmarks come from the `file` backend
(one NPZ per clip, as a user with OpenFace or dlib output would bring them).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from dbfixtures import EXPECTED_CLIPS, FRAME_SIZE, write_database

from occmer.cli import cli
from occmer.databases.resolve import resolve_databases, scan_all
from occmer.store.verify import verify_store


def face_points() -> np.ndarray:
    """478 mediapipe points of a real face, fitted into the fixture's frame size."""
    import skimage.data

    from occmer.faces.landmarks import MediapipeBackend

    backend = MediapipeBackend()
    points = backend.detect(skimage.data.astronaut())
    backend.close()
    h, w = FRAME_SIZE
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = 0.8 * min(w / (hi - lo)[0], h / (hi - lo)[1])
    return ((points - (lo + hi) / 2) * scale + np.array([w / 2, h / 2])).astype(np.float32)


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return face_points()


@pytest.mark.parametrize("name", sorted(EXPECTED_CLIPS))
def test_synthesize_each_database_then_verify(name, tmp_path, points):
    root = write_database(name, tmp_path / "db")
    clips = scan_all(resolve_databases(name, (str(root),))).clips
    landmarks = tmp_path / "landmarks"
    landmarks.mkdir()
    for clip in clips:
        numbers = np.array(clip.frame_numbers, np.int32)
        np.savez(landmarks / f"{clip.sample_id}.npz", frame_numbers=numbers,
                 landmarks=np.repeat(points[None], len(numbers), axis=0))
    out = tmp_path / f"{name}.h5"
    result = CliRunner().invoke(cli, [
        "synthesize", "--db", name, "--root", str(root), "--landmarks", f"file:{landmarks}", "--mask", "block",
        "--size", "32", "--out", str(out), "--no-progress", "--skip-invalid",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert verify_store(out) == []
    assert f"{len(clips)} clips" in result.output
