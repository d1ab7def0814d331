"""The block occluder on real bundled faces: coverage, regions, fills, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from occluder_faces import FACES, aligned_face

from occmer.errors import ConfigError
from occmer.faces import topology as topo
from occmer.occluders import OCCLUDERS, make_occluder
from occmer.occluders.block import REGIONS
from occmer.seeding import sample_rng


def _coverage(layer, landmarks, shape) -> float:
    face = topo.face_region_mask(landmarks, shape)
    return float((face & (layer.alpha > 0.5)).sum() / face.sum())


@pytest.mark.parametrize("face", FACES, ids=lambda f: f"{f[0]}-{f[1]:g}-{f[2]:g}")
@pytest.mark.parametrize("coverage", [0.05, 0.2, 0.4])
def test_coverage_within_two_points(face, coverage):
    frame, landmarks = aligned_face(*face)
    for region in REGIONS:
        for k in range(3):
            occluder = make_occluder("block", {"coverage": coverage, "region": region})
            layer = occluder.place(frame, landmarks, sample_rng(7, f"clip{k}", region))
            measured = _coverage(layer, landmarks, frame.shape[:2])
            assert abs(measured - coverage) <= 0.02, (region, k, measured)
            assert layer.params["coverage"] == pytest.approx(measured, abs=1e-6)


def test_region_puts_block_centre_where_asked():
    frame, landmarks = aligned_face("astronaut")
    mouth_y = landmarks[list(topo.MOUTH), 1].mean()
    eyes_y = landmarks[list(topo.RIGHT_EYE + topo.LEFT_EYE), 1].mean()
    for k in range(5):
        rng = sample_rng(1, f"s{k}", "occ")
        eyes = make_occluder("block", {"coverage": 0.1, "region": "eyes"}).place(frame, landmarks, rng)
        mouth = make_occluder("block", {"coverage": 0.1, "region": "mouth"}).place(frame, landmarks, rng)
        assert abs(eyes.params["center"][1] - eyes_y) < abs(eyes.params["center"][1] - mouth_y)
        assert abs(mouth.params["center"][1] - mouth_y) < abs(mouth.params["center"][1] - eyes_y)
        nose_y = landmarks[topo.NOSE_TIP, 1]
        upper = make_occluder("block", {"coverage": 0.1, "region": "upper"}).place(frame, landmarks, rng)
        lower = make_occluder("block", {"coverage": 0.1, "region": "lower"}).place(frame, landmarks, rng)
        assert upper.params["center"][1] <= nose_y <= lower.params["center"][1]


def test_fills():
    frame, landmarks = aligned_face("grace_hopper")
    inside = {}
    for fill in ("black", "gray", "mean", "noise"):
        layer = make_occluder("block", {"fill": fill, "coverage": 0.3}).place(frame, landmarks, sample_rng(3, "x", "o"))
        inside[fill] = layer.color[layer.alpha > 0]
    assert np.all(inside["black"] == 0)
    assert np.all(inside["gray"] == 128)
    face = topo.face_region_mask(landmarks, frame.shape[:2])
    assert np.allclose(inside["mean"][0], frame[face].mean(axis=0), atol=0.01)
    assert inside["noise"].std() > 50  # a real pattern, not a flat colour


def test_same_rng_same_layer_and_different_clips_differ():
    frame, landmarks = aligned_face("astronaut")
    occluder = make_occluder("block", {"fill": "noise"})
    a = occluder.place(frame, landmarks, sample_rng(0, "sub01/EP01", "occluder"))
    b = occluder.place(frame, landmarks, sample_rng(0, "sub01/EP01", "occluder"))
    c = occluder.place(frame, landmarks, sample_rng(0, "sub01/EP02", "occluder"))
    assert a.params == b.params and np.array_equal(a.color, b.color) and np.array_equal(a.alpha, b.alpha)
    assert a.params["box"] != c.params["box"]


def test_defaults_and_registry():
    assert "block" in OCCLUDERS
    occluder = make_occluder("block", {})
    assert (occluder.coverage, occluder.region, occluder.fill) == (0.2, "any", "black")


@pytest.mark.parametrize(
    "options", [{"coverage": 0}, {"coverage": 1.5}, {"region": "ears"}, {"fill": "plaid"}]
)
def test_bad_options(options):
    with pytest.raises(ConfigError):
        make_occluder("block", options)


def test_gray_frame_fills():
    frame, landmarks = aligned_face("grace_hopper", gray=True)
    layer = make_occluder("block", {"fill": "mean"}).place(frame, landmarks, sample_rng(0, "g", "o"))
    value = layer.color[layer.alpha > 0][0]
    face = topo.face_region_mask(landmarks, frame.shape[:2])
    assert np.allclose(value, frame[face].mean(), atol=0.01) and value[0] == value[1] == value[2]


def test_landmarks_without_iris_points():
    frame, landmarks = aligned_face("astronaut")
    layer = make_occluder("block", {"region": "eyes"}).place(frame, landmarks[:468], sample_rng(0, "k", "o"))
    assert abs(layer.params["coverage"] - 0.2) <= 0.02
