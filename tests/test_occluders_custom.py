"""custom:PATH.json templates (valid and invalid) and the per-clip random occluder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from occluder_faces import aligned_face
from PIL import Image

from occmer.errors import ConfigError, TemplateError
from occmer.faces import topology as topo
from occmer.occluders import make_occluder
from occmer.occluders.templates import load_template
from occmer.seeding import sample_rng


def _write_png(path: Path, mode: str = "RGBA", size=(80, 40), fmt: str = "PNG") -> None:
    image = np.zeros((size[1], size[0], 4), np.uint8)
    image[5:35, 5:75] = (200, 40, 40, 255)
    im = Image.fromarray(image, "RGBA")
    im.convert(mode).save(path, format=fmt)


def _write_template(folder: Path, data: dict, name: str = "patch.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


GOOD = {
    "image": "patch.png",
    "warp": "affine",
    # a red bar from mouth corner to mouth corner, its top edge at the nose tip
    "anchors": {"61": [15, 25], "291": [65, 25], "1": [40, 8]},
    "points": {"centre": [40, 20]},
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write_png(tmp_path / "patch.png")
    return tmp_path


def test_valid_custom_template_is_placed_on_its_anchors(folder):
    path = _write_template(folder, GOOD)
    frame, landmarks = aligned_face("astronaut")
    occluder = make_occluder(f"custom:{path}")
    layer = occluder.place(frame, landmarks, sample_rng(0, "c", "o"))
    for index in (topo.MOUTH_RIGHT_CORNER, topo.MOUTH_LEFT_CORNER, topo.UPPER_LIP_TOP):
        x, y = np.round(landmarks[index]).astype(int)
        assert layer.alpha[y, x] > 0.9
    for centre in topo.eye_centers(landmarks):
        x, y = np.round(centre).astype(int)
        assert layer.alpha[y, x] == 0.0
    assert layer.params["family"] == "custom" and layer.params["template_file"] == str(path)
    assert layer.params["anchors"] == [1, 61, 291]
    assert layer.color[layer.alpha > 0.9][:, 0].mean() > 2 * layer.color[layer.alpha > 0.9][:, 1].mean()  # still red


def test_two_anchors_default_to_a_similarity(folder):
    data = {"image": "patch.png", "anchors": {"61": [5, 25], "291": [75, 25]}}
    template = load_template(_write_template(folder, data))
    assert template.warp == "similarity"


@pytest.mark.parametrize(
    "text,match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"image": "patch.png"}', "missing key"),
        ('{"anchors": {"1": [1, 2], "2": [3, 4]}}', "missing key"),
        ('{"image": "patch.png", "anchors": {}}', "anchors"),
        ('{"image": "patch.png", "anchors": {"1": [1, 2]}}', "at least 2"),
        ('{"image": "patch.png", "anchors": {"nose": [1, 2], "2": [3, 4]}}', "not a landmark index"),
        ('{"image": "patch.png", "anchors": {"478": [1, 2], "2": [3, 4]}}', "out of range"),
        ('{"image": "patch.png", "anchors": {"1": [1], "2": [3, 4]}}', r"\[x, y\]"),
        ('{"image": "patch.png", "anchors": {"1": [1, NaN], "2": [3, 4]}}', "finite"),
        ('{"image": "patch.png", "anchors": {"1": [1, 2], "2": [1, 2]}}', "same template pixel"),
        ('{"image": "patch.png", "anchors": {"1": [1, 2], "2": [3, 4]}, "warp": "perspective"}', "at least 4"),
        ('{"image": "patch.png", "anchors": {"1": [1, 2], "2": [3, 4]}, "warp": "bend"}', "unknown warp"),
        ('{"image": "patch.png", "anchors": {"1": [1, 2], "2": [3, 4]}, "anchor": {}}', "unknown key"),
        ('{"image": "missing.png", "anchors": {"1": [1, 2], "2": [3, 4]}}', "not found"),
    ],
)
def test_bad_json_is_refused_with_the_file_named(folder, text, match):
    path = folder / "bad.json"
    path.write_text(text)
    with pytest.raises(TemplateError, match=match) as info:
        make_occluder(f"custom:{path}")
    assert "bad.json" in str(info.value) or "missing.png" in str(info.value)


@pytest.mark.parametrize("image", ["../patch.png", "/etc/hostname", "sub/../../patch.png"])
def test_paths_escaping_the_folder_are_refused(tmp_path, image):
    inner = tmp_path / "inner"
    inner.mkdir()
    _write_png(tmp_path / "patch.png")
    path = _write_template(inner, {**GOOD, "image": image})
    with pytest.raises(TemplateError, match="escapes"):
        load_template(path)


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    _write_png(tmp_path / "outside.png")
    (inner / "link.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(TemplateError, match="escapes"):
        load_template(_write_template(inner, {**GOOD, "image": "link.png"}))


def test_subfolder_image_is_fine(tmp_path):
    (tmp_path / "img").mkdir()
    _write_png(tmp_path / "img" / "patch.png")
    assert load_template(_write_template(tmp_path, {**GOOD, "image": "img/patch.png"})).rgba.shape == (40, 80, 4)


@pytest.mark.parametrize("mode,fmt", [("RGB", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("RGB", "JPEG")])
def test_non_rgba_images_are_refused(tmp_path, mode, fmt):
    _write_png(tmp_path / "patch.png", mode=mode, fmt=fmt)
    with pytest.raises(TemplateError, match="RGBA PNG"):
        load_template(_write_template(tmp_path, GOOD))


def test_undecodable_and_transparent_images_are_refused(tmp_path):
    (tmp_path / "patch.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(TemplateError, match="decode"):
        load_template(_write_template(tmp_path, GOOD))
    Image.fromarray(np.zeros((10, 10, 4), np.uint8), "RGBA").save(tmp_path / "patch.png")
    with pytest.raises(TemplateError, match="transparent"):
        load_template(_write_template(tmp_path, GOOD))


def test_custom_needs_a_path():
    with pytest.raises(ConfigError, match="custom:PATH.json"):
        make_occluder("custom", {})


def test_custom_on_a_gray_frame(folder):
    frame, landmarks = aligned_face("astronaut", gray=True)
    layer = make_occluder(f"custom:{_write_template(folder, GOOD)}").place(frame, landmarks, sample_rng(0, "g", "o"))
    assert layer.alpha.max() > 0.9


# ---------------------------------------------------------------- random


def test_random_draws_one_family_per_clip_from_the_choices():
    frame, landmarks = aligned_face("grace_hopper")
    occluder = make_occluder("random", {"choices": "glasses,surgical,block", "coverage": 0.3})
    chosen = []
    for k in range(24):
        layer = occluder.place(frame, landmarks, sample_rng(5, f"clip{k}", "occluder"))
        assert layer.params["random"]["chosen"] == layer.params["family"]
        chosen.append(layer.params["family"])
        if layer.params["family"] == "block":
            assert layer.params["coverage_target"] == 0.3  # other options reach the drawn family
    assert set(chosen) == {"glasses", "surgical", "block"}
    again = occluder.place(frame, landmarks, sample_rng(5, "clip3", "occluder"))
    assert again.params["family"] == chosen[3]


def test_random_default_choices_and_list_form():
    assert make_occluder("random", {}).choices == ["glasses", "sunglasses", "surgical", "n95", "cloth", "block"]
    assert make_occluder("random", {"choices": ["n95", "block"]}).choices == ["n95", "block"]


@pytest.mark.parametrize("choices", ["glasses,hat", "random,block", " , "])
def test_random_bad_choices(choices):
    with pytest.raises(ConfigError):
        make_occluder("random", {"choices": choices})


def test_anchor_beyond_the_landmark_set_is_named(folder):
    data = {**GOOD, "anchors": {"473": [15, 25], "291": [65, 25], "1": [40, 8]}}
    occluder = make_occluder(f"custom:{_write_template(folder, data)}")
    frame, landmarks = aligned_face("astronaut")
    with pytest.raises(TemplateError, match="468 points"):
        occluder.place(frame, landmarks[:468], sample_rng(0, "c", "o"))
    assert occluder.place(frame, landmarks, sample_rng(0, "c", "o")).alpha.max() > 0.9


def test_builtin_families_work_without_iris_points():
    frame, landmarks = aligned_face("astronaut")
    for name in ("glasses", "surgical"):
        layer = make_occluder(name, {}).place(frame, landmarks[:468], sample_rng(0, "c", "o"))
        assert layer.alpha.max() > 0.9
