"""Glasses, sunglasses and face masks placed on real bundled faces (aligned, rolled, scaled)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from occluder_faces import FACES, aligned_face, detect

from occmer.errors import ConfigError
from occmer.faces import topology as topo
from occmer.occluders import make_occluder
from occmer.occluders.compositing import composite, luminance
from occmer.occluders.templates import builtin_variants
from occmer.seeding import sample_rng

FACE_IDS = [f"{n}-roll{r:g}-x{s:g}" for n, r, s in FACES]
GLASSES = [(family, v) for family in ("glasses", "sunglasses") for v in builtin_variants(family)]
MASKS = [(family, v) for family in ("surgical", "n95", "cloth") for v in builtin_variants(family)]


def _iod(landmarks: np.ndarray) -> float:
    right, left = topo.eye_centers(landmarks)
    return float(np.linalg.norm(left - right))


def _at(image: np.ndarray, point: np.ndarray) -> float:
    x, y = np.round(point).astype(int)
    return float(image[y, x])


def test_every_family_has_variants():
    for family in ("glasses", "sunglasses", "surgical", "n95", "cloth"):
        assert len(builtin_variants(family)) >= 3


@pytest.mark.parametrize("face", FACES, ids=FACE_IDS)
@pytest.mark.parametrize("family,variant", GLASSES)
def test_lenses_centred_on_pupils(face, family, variant):
    frame, landmarks = aligned_face(*face)
    layer = make_occluder(family, {"variant": variant}).place(frame, landmarks, sample_rng(0, "c", "o"))
    right, left = topo.eye_centers(landmarks)
    iod = _iod(landmarks)
    lens_r = np.array(layer.params["points"]["lens_right"])
    lens_l = np.array(layer.params["points"]["lens_left"])
    assert np.linalg.norm(lens_r - right) < 0.1 * iod
    assert np.linalg.norm(lens_l - left) < 0.1 * iod
    # the rendered pixels agree with the recorded centres: lens (not frame, not skin) there
    for centre in (lens_r, lens_l):
        a = _at(layer.alpha, centre)
        if family == "sunglasses":
            assert a > 0.8 and luminance(layer.color)[tuple(np.round(centre[::-1]).astype(int))] < 120
        else:
            assert 0.05 < a < 0.5
        for dx in (-0.2, 0.2):  # the lens spans the eye, not just its centre
            assert _at(layer.alpha, centre + [dx * iod, 0]) > 0.05
    # the arms run outwards to the ears, the frame stays between the brows and the nose tip
    (h0, e0), (h1, e1) = layer.params["temples"]
    assert np.linalg.norm(np.subtract(e0, landmarks[127])) < 1e-3 and np.linalg.norm(np.subtract(e1, landmarks[356])) < 1e-3
    assert _at(layer.alpha, landmarks[topo.NOSE_TIP]) == 0.0
    assert _at(layer.alpha, landmarks[topo.UPPER_LIP_TOP]) == 0.0


@pytest.mark.parametrize("face", FACES, ids=FACE_IDS)
@pytest.mark.parametrize("family,variant", MASKS)
def test_masks_cover_mouth_and_nose_tip_not_pupils(face, family, variant):
    frame, landmarks = aligned_face(*face)
    layer = make_occluder(family, {"variant": variant}).place(frame, landmarks, sample_rng(0, "c", "o"))
    for index in topo.MOUTH + (topo.NOSE_TIP, 205, 425):  # lips, nose tip, both cheeks
        assert _at(layer.alpha, landmarks[index]) > 0.9, index
    iod = _iod(landmarks)
    for centre in topo.eye_centers(landmarks):
        yy, xx = np.mgrid[: frame.shape[0], : frame.shape[1]]
        pupil = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= (0.12 * iod) ** 2
        assert layer.alpha[pupil].max() < 0.02
    assert layer.params["warp"]["kind"] == "tps"


def _yawed_face() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut with a perspective squeeze of one side (a turned head, roughly)."""
    frame, _ = aligned_face("astronaut")
    h, w = frame.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0], [w * 0.82, h * 0.08], [w * 0.82, h * 0.92], [0, h]])
    warped = cv2.warpPerspective(frame, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REPLICATE)
    return warped, detect(warped)


def test_glasses_follow_a_perspective_squeeze():
    frame, landmarks = _yawed_face()
    layer = make_occluder("glasses", {"variant": "black-rect"}).place(frame, landmarks, sample_rng(0, "y", "o"))
    assert layer.params["warp"]["kind"] == "perspective"
    right, left = topo.eye_centers(landmarks)
    iod = _iod(landmarks)
    assert np.linalg.norm(np.array(layer.params["points"]["lens_right"]) - right) < 0.1 * iod
    assert np.linalg.norm(np.array(layer.params["points"]["lens_left"]) - left) < 0.1 * iod


@pytest.mark.parametrize("name", ["glasses", "sunglasses", "surgical", "n95", "cloth"])
def test_grayscale_frames(name):
    rgb, landmarks = aligned_face("grace_hopper")
    gray, gray_landmarks = aligned_face("grace_hopper", gray=True)
    occluder = make_occluder(name, {})
    layer = occluder.place(gray, landmarks, sample_rng(0, "g", "o"))
    out, alpha = composite(gray, layer)
    assert out.shape == gray.shape and out.dtype == np.uint8
    assert alpha.max() == 255
    # the gray result is the luminance of the same occluder on the colour-replicated frame
    replicated = np.repeat(gray, 3, axis=2)
    out_rgb, _ = composite(replicated, layer)
    assert np.abs(out[:, :, 0].astype(float) - luminance(out_rgb)).max() <= 1.0


def test_variant_choice_is_per_clip_and_recorded():
    frame, landmarks = aligned_face("astronaut")
    occluder = make_occluder("surgical", {})
    seen = {occluder.place(frame, landmarks, sample_rng(0, f"clip{k}", "o")).params["variant"] for k in range(30)}
    assert seen == set(builtin_variants("surgical"))
    a = occluder.place(frame, landmarks, sample_rng(0, "clip1", "o"))
    b = occluder.place(frame, landmarks, sample_rng(0, "clip1", "o"))
    assert a.params == b.params and np.array_equal(a.alpha, b.alpha) and np.array_equal(a.color, b.color)
    fixed = make_occluder("surgical", {"variant": "white"}).place(frame, landmarks, sample_rng(0, "clip1", "o"))
    assert fixed.params["variant"] == "white" and fixed.params["template"] == "surgical_white"
    for key in ("family", "anchors", "warp", "illumination", "feather_px", "points"):
        assert key in fixed.params


def test_unknown_variant_is_refused():
    with pytest.raises(ConfigError, match="variant"):
        make_occluder("glasses", {"variant": "neon"})


def test_feathered_edges_and_lighting_follow_the_face():
    frame, landmarks = aligned_face("astronaut")
    occluder = make_occluder("surgical", {"variant": "white"})
    bright = occluder.place(frame, landmarks, sample_rng(0, "l", "o"))
    edge = (bright.alpha > 0.02) & (bright.alpha < 0.98)
    assert edge.sum() > 100  # a soft rim, not a cut-out
    dark_frame = (frame.astype(np.float32) * 0.45).astype(np.uint8)
    dark = occluder.place(dark_frame, landmarks, sample_rng(0, "l", "o"))
    inside = bright.alpha > 0.99
    assert luminance(dark.color)[inside].mean() < 0.75 * luminance(bright.color)[inside].mean()


def _draw_module():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "masks" / "draw.py"
    spec = importlib.util.spec_from_file_location("occmer_masks_draw", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_installed_templates_are_what_masks_draw_py_draws(tmp_path):
    import json

    from PIL import Image

    from occmer.occluders.templates import templates_dir

    draw = _draw_module()
    every = draw.all_templates()
    installed = sorted(p.name for p in templates_dir().glob("*.json"))
    assert installed == sorted(f"{family}_{variant}.json" for family, variant, _ in every)
    for index, (family, variant, paint) in enumerate(every):
        if f"{family}_{variant}" not in ("glasses_tortoise-rect", "surgical_blue", "cloth_red-dots"):
            continue  # three are enough to catch drift; drawing all takes seconds
        rgba, meta = paint(np.random.default_rng(1000 + index))
        draw.write_template(tmp_path, family, variant, rgba, meta)
        stem = f"{family}_{variant}"
        fresh = np.asarray(Image.open(tmp_path / f"{stem}.png")).astype(int)
        shipped = np.asarray(Image.open(templates_dir() / f"{stem}.png")).astype(int)
        assert fresh.shape == shipped.shape and np.abs(fresh - shipped).max() <= 1, stem
        assert json.loads((tmp_path / f"{stem}.json").read_text()) == json.loads(
            (templates_dir() / f"{stem}.json").read_text()
        )
