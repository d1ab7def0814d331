"""`occmer occlude` on synthetic stand-ins in the community's layouts (faces and inputs made here)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.errors import ConfigError, DataError, FaceNotFoundError, OccmerError, StoreError
from occmer.features.occlusion_models import apply_motion_model, fit_affine, renormalise
from occmer.features.strain import optical_strain
from occmer.importing import ImportOptions, import_inputs
from occmer.occlude import FaceLookup, NotAnImportError, OccludeSettings, occlude
from occmer.store import OccmerFile
from occmer.store.verify import verify_store

SIZE = 28
CHANNELS = ["u", "v", "strain"]
# (database as in the CSV, subject, clip, label, face): clip names are not on the official MEGC list
SAMPLES = [
    ("casme2", "sub01", "EPT1_01", 0, "astronaut"),
    ("casme2", "sub02", "EPT2_01", 1, "flipped"),
    ("smic", "s03", "s03_po_91", 2, "astronaut"),
    ("smic", "s04", "s04_ne_91", 0, "flipped"),
]


def _face(kind: str) -> np.ndarray:
    from skimage import data

    face = cv2.resize(data.astronaut(), (224, 224), interpolation=cv2.INTER_AREA)
    if kind == "flipped":
        return np.ascontiguousarray(face[:, ::-1])
    return np.full((224, 224, 3), 128, np.uint8) if kind == "blank" else face


def _write_jpg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])


def _raw_inputs(n: int) -> np.ndarray:
    """(N, 3, S, S) raw flow: a smooth affine head motion plus a local bump, strain from it."""
    x, y = np.meshgrid(np.arange(SIZE), np.arange(SIZE))
    out = []
    for i in range(n):
        bump = np.exp(-((x - 8 - i) ** 2 + (y - 9) ** 2) / 12.0)
        u = 0.3 + 0.01 * x - 0.02 * y + 0.8 * bump
        v = -0.1 + 0.015 * y + 0.5 * bump
        out.append(np.stack([u, v, optical_strain(np.stack([u, v], 2))]))
    return np.asarray(out, np.float32)


def _minmax_per_image(data: np.ndarray) -> np.ndarray:
    return renormalise(data.astype(np.float64), "minmax-per-image").astype(np.float32)


def _release(root: Path, samples=SAMPLES, normalisation: str = "none", faces: dict[str, str] | None = None) -> Path:
    """An import of `samples` (npy layout) in `root`, faces in root/faces as <subject>_<clip>.jpg."""
    with open(root / "combined.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label", "imagename"])
        for dataset, subject, clip, label, _ in samples:
            name = (faces or {}).get(clip, f"{subject}_{clip}.jpg")
            writer.writerow([dataset, subject, clip, label, name])
    for _, subject, clip, _, kind in samples:
        _write_jpg(root / "faces" / (faces or {}).get(clip, f"{subject}_{clip}.jpg"), _face(kind))
    data = _raw_inputs(len(samples))
    np.save(root / "inputs.npy", data if normalisation == "none" else _minmax_per_image(data))
    options = ImportOptions(normalisation=normalisation, db_map={"smic": "smic-hs"})
    from occmer.protocols.splits import compute_splits

    import_inputs(root / "inputs.npy", root / "combined.csv", root / "in.h5", options, splits=compute_splits)
    return root / "in.h5"


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return _release(tmp_path_factory.mktemp("raw"))


def _occlude(source: Path, out: Path, **kwargs) -> Path:
    lookup = kwargs.pop("lookup", None) or FaceLookup(source.parent / "faces")
    from occmer.protocols.splits import compute_splits

    occlude(source, lookup, out, OccludeSettings(**kwargs), progress=False, recompute_splits=compute_splits)
    return out


def _read(path: Path):
    with OccmerFile.open(path) as f:
        return f.features(f.feature_names()[0]), f.face_layers(), f.samples(), f.attrs(), \
            {n: f.split(n) for n in f.split_names()}


# ---------------------------------------------------------------- the models, pure


def test_affine_model_recovers_an_exact_affine_field_under_the_occluder():
    x, y = np.meshgrid(np.arange(SIZE), np.arange(SIZE))
    u, v = 1.5 + 0.05 * x - 0.02 * y, -0.7 + 0.03 * x + 0.04 * y
    strain = optical_strain(np.stack([u, v], 2))
    data = np.stack([u, v, strain]).astype(np.float32)
    expression = data.copy()
    expression[:2, 14:24, 6:20] += 2.0  # motion the occluder hides
    alpha = np.zeros((SIZE, SIZE), np.float32)
    alpha[12:26, 4:22] = 1.0
    out = apply_motion_model(expression, CHANNELS, alpha, "affine", "none")
    np.testing.assert_allclose(out.data[:2, alpha == 1], data[:2, alpha == 1], atol=1e-5)
    expected_strain = np.sqrt(0.05**2 + 0.04**2 + 0.5 * (-0.02 + 0.03) ** 2)
    np.testing.assert_allclose(out.data[2, alpha == 1], expected_strain, atol=1e-6)
    np.testing.assert_array_equal(out.data[:, alpha == 0], expression[:, alpha == 0])
    # robust fitting ignores visible outliers
    noisy = expression.copy()
    noisy[:2, 2, 2] += 50.0
    robust = apply_motion_model(noisy, CHANNELS, alpha, "affine", "none", robust=True)
    np.testing.assert_allclose(robust.data[:2, alpha == 1], data[:2, alpha == 1], atol=1e-4)


def test_affine_fit_is_affine_in_min_max_units():
    """Min-max per image is an affine map: the fit in stored units is the stored image of the real fit."""
    data = _raw_inputs(1)[0]
    stored = _minmax_per_image(data[None])[0]
    alpha = np.zeros((SIZE, SIZE))
    alpha[15:, :] = 1.0
    visible = alpha < 0.5
    low, span = data.min(), data.max() - data.min()
    real, scaled = fit_affine(data[0], visible), fit_affine(stored[0], visible)
    np.testing.assert_allclose(scaled, [(real[0] - low) * 255 / span, real[1] * 255 / span, real[2] * 255 / span],
                               rtol=1e-4, atol=1e-3)


def test_min_max_per_image_matches_occluding_in_real_units_then_normalising():
    x, y = np.meshgrid(np.arange(SIZE), np.arange(SIZE))
    bump = np.exp(-((x - 14) ** 2 + (y - 20) ** 2) / 10.0)
    u, v = 2.0 + 1.5 * bump, -1.0 + 0.0 * bump  # a translation + an expression: strain is 0 away from it
    real = np.stack([u, v, optical_strain(np.stack([u, v], 2))]).astype(np.float64)
    alpha = np.zeros((SIZE, SIZE))
    alpha[14:27, 6:22] = 1.0
    truth = apply_motion_model(real.astype(np.float32), CHANNELS, alpha, "affine", "none").data
    stored = _minmax_per_image(real[None])[0]
    out = apply_motion_model(stored, CHANNELS, alpha, "affine", "minmax-per-image").data
    np.testing.assert_allclose(out, _minmax_per_image(truth[None])[0], atol=1e-3)
    zero_truth = apply_motion_model(real.astype(np.float32), CHANNELS, alpha, "zero", "none").data
    zero = apply_motion_model(stored, CHANNELS, alpha, "zero", "minmax-per-image").data
    np.testing.assert_allclose(zero, _minmax_per_image(zero_truth[None])[0], atol=1e-3)


@pytest.mark.parametrize("normalisation", ["none", "minmax-per-image", "minmax-per-channel"])
def test_grid_alpha_0_changes_nothing_and_1_replaces_everything(normalisation):
    data = _raw_inputs(1)[0] if normalisation == "none" else renormalise(_raw_inputs(1)[0], normalisation)
    data = data.astype(np.float32)
    same = apply_motion_model(data, CHANNELS, np.zeros((SIZE, SIZE)), "affine", normalisation)
    assert same.data.tobytes() == data.tobytes()
    for model in ("zero", "affine"):
        full = apply_motion_model(data, CHANNELS, np.ones((SIZE, SIZE)), model, normalisation)
        assert np.ptp(full.data, axis=(1, 2)).max() == 0  # every channel one value: the model's rigid cell
        if normalisation == "none":
            assert not full.data.any()
        if model == "affine":
            assert "fallback" in full.record  # nothing visible to fit


def test_unknown_normalisation_and_channels_are_refused():
    data = _raw_inputs(1)[0]
    with pytest.raises(ConfigError, match="--normalisation"):
        apply_motion_model(data, CHANNELS, np.ones((SIZE, SIZE)), "zero", "unknown")
    with pytest.raises(ConfigError, match="channels"):
        apply_motion_model(data, ["a", "b", "c"], np.ones((SIZE, SIZE)), "zero", "none")


# ---------------------------------------------------------------- the command


def test_occlude_raw_import_stores_everything_and_verifies(raw, tmp_path):
    out = _occlude(raw, tmp_path / "surgical.h5", mask="surgical", seed=3)
    assert verify_store(out) == []
    features, faces, samples, attrs, splits = _read(out)
    source, _, source_samples, _, source_splits = _read(raw)
    assert faces.found.all() and faces.alpha.shape == (4, 224, 224) and faces.alpha.dtype == np.uint8
    assert (features.occlusion > 0.5).any() and (features.occlusion == 0).any()
    assert all(s.occlusion_ratio > 0.2 for s in samples)
    assert [s.sample_id for s in samples] == [s.sample_id for s in source_samples]
    assert not np.array_equal(features.data, source.data)
    visible = features.occlusion == 0
    np.testing.assert_array_equal(features.data.transpose(1, 0, 2, 3)[:, visible],
                                  source.data.transpose(1, 0, 2, 3)[:, visible])
    assert attrs["settings"]["motion_model"] == "affine" and attrs["seed"] == 3
    assert attrs["occluder"] == {"spec": "surgical", "options": {}}
    assert len(attrs["source_sha256"]) == 64 and attrs["contents"] == "features"
    assert faces.placement[0]["occluder"] == "surgical"
    assert set(splits) == set(source_splits)
    for name, split in splits.items():
        np.testing.assert_array_equal(split.test_fold, source_splits[name].test_fold)
    again = _occlude(raw, tmp_path / "again.h5", mask="surgical", seed=3)  # landmarks from the cache now
    features2, faces2, *_ = _read(again)
    assert features2.data.tobytes() == features.data.tobytes()
    assert faces2.alpha.tobytes() == faces.alpha.tobytes()
    other = _occlude(raw, tmp_path / "seed4.h5", mask="block", seed=4)
    assert not np.array_equal(_read(other)[0].occlusion, features.occlusion)


def test_no_occluder_gives_the_input_bit_identical(raw, tmp_path):
    out = _occlude(raw, tmp_path / "none.h5", mask="none")
    features, faces, *_ = _read(out)
    assert features.data.tobytes() == _read(raw)[0].data.tobytes()
    assert not features.occlusion.any() and not faces.alpha.any()


def test_min_max_import_stays_normalised(tmp_path):
    source = _release(tmp_path, normalisation="minmax-per-image")
    out = _occlude(source, tmp_path / "glasses.h5", mask="sunglasses", motion_model="zero")
    features = _read(out)[0]
    assert np.allclose(features.data.min(axis=(1, 2, 3)), 0) and np.allclose(features.data.max(axis=(1, 2, 3)), 255)
    assert features.attrs["normalisation"] == "minmax-per-image"


def test_faces_named_by_a_csv_column(tmp_path):
    names = {clip: f"face_{i:02d}.jpg" for i, (_, _, clip, _, _) in enumerate(SAMPLES)}
    source = _release(tmp_path, faces=names)
    with pytest.raises(DataError, match="4 of 4 samples have no face image"):
        _occlude(source, tmp_path / "x.h5")
    lookup = FaceLookup(tmp_path / "faces", tmp_path / "combined.csv", "imagename")  # db map from the import
    out = _occlude(source, tmp_path / "csv.h5", lookup=lookup)
    assert [p["face"] for p in _read(out)[1].placement] == list(names.values())


def test_a_face_folder_that_does_not_match_names_every_sample(raw, tmp_path):
    (tmp_path / "faces").mkdir()
    _write_jpg(tmp_path / "faces" / "sub01_EPT1_01.jpg", _face("astronaut"))
    with pytest.raises(DataError) as error:
        _occlude(raw, tmp_path / "x.h5", lookup=FaceLookup(tmp_path / "faces"))
    message = str(error.value)
    assert "3 of 4" in message and "casme2_sub02_EPT2_01" in message and "smic-hs_s04_s04_ne_91" in message
    assert str(tmp_path / "faces") in message


def test_faces_without_landmarks_refuse_keep_clean_or_drop(tmp_path):
    samples = [*SAMPLES[:3], ("smic", "s04", "s04_ne_91", 0, "blank")]
    source = _release(tmp_path, samples=samples)
    with pytest.raises(FaceNotFoundError, match="smic-hs_s04_s04_ne_91"):
        _occlude(source, tmp_path / "x.h5")
    kept = _occlude(source, tmp_path / "kept.h5", no_face="keep-clean")
    features, faces, samples_out, attrs, _ = _read(kept)
    assert faces.found.tolist() == [True, True, True, False]
    assert features.data[3].tobytes() == _read(source)[0].data[3].tobytes() and not features.occlusion[3].any()
    assert attrs["settings"]["no_face"] == "keep-clean" and attrs["settings"]["no_face_samples"] == [samples_out[3].sample_id]
    dropped = _occlude(source, tmp_path / "dropped.h5", no_face="drop")
    assert verify_store(dropped) == []
    _, faces, samples_out, attrs, splits = _read(dropped)
    assert len(samples_out) == 3 and faces.found.all() and attrs["skipped"][0]["sample_id"] == "smic-hs_s04_s04_ne_91"
    assert all(len(s.test_fold) == 3 for s in splits.values())


def test_refusals(raw, tmp_path, block_file):
    with pytest.raises(NotAnImportError, match="holds frames"):
        _occlude(block_file, tmp_path / "x.h5", lookup=FaceLookup(raw.parent / "faces"))
    with pytest.raises(ConfigError, match="is the input"):
        _occlude(raw, raw)
    (tmp_path / "exists.h5").write_bytes(b"")
    with pytest.raises(StoreError, match="--overwrite"):
        _occlude(raw, tmp_path / "exists.h5")
    with pytest.raises(OccmerError):
        OccludeSettings(no_face="ignore")


def test_cli_occlude_and_one_line_errors(raw, tmp_path):
    runner = CliRunner()
    args = ["occlude", str(raw), "--faces", str(raw.parent / "faces"), "--mask", "block", "--coverage", "0.3",
            "--region", "mouth", "--out", str(tmp_path / "block.h5"), "--no-progress"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and verify_store(tmp_path / "block.h5") == []
    assert _read(tmp_path / "block.h5")[3]["occluder"]["options"] == {"coverage": 0.3, "region": "mouth"}
    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "--overwrite" in again.output and len(again.output.strip().splitlines()) == 1
    skin = runner.invoke(cli, [*args[:-3], "--mask-motion", "skin", "--out", str(tmp_path / "y.h5")])
    assert skin.exit_code == 2 and "--mask-motion skin" in skin.output


# ---------------------------------------------------------------- CausalNet's four maps


def _maps_release(root: Path) -> Path:
    """A `--layout maps` import of SAMPLES: X (onset->apex) and X_1 (apex->offset, another motion) as 8-bit
    images min-max scaled per channel, X_2 and X_3 their direction maps, names with the release's space."""
    from occmer.features.maps import direction_planes

    with open(root / "combined.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label"])
        writer.writerows([dataset, subject, clip, label] for dataset, subject, clip, label, _ in SAMPLES)
    onset_apex = np.rint(renormalise(_raw_inputs(len(SAMPLES)).astype(np.float64), "minmax-per-channel"))
    apex_offset = np.rint(renormalise(-0.5 * _raw_inputs(len(SAMPLES))[:, :, ::-1].astype(np.float64),
                                      "minmax-per-channel"))
    (root / "maps").mkdir()
    for i, (_, subject, clip, _, kind) in enumerate(SAMPLES):
        _write_jpg(root / "faces" / f"{subject}_{clip}.jpg", _face(kind))
        x, x1 = onset_apex[i], apex_offset[i]
        for suffix, planes in (("", x), ("_1", x1), ("_2", direction_planes(x, CHANNELS)),
                               ("_3", direction_planes(x1, CHANNELS))):
            rgb = np.clip(planes, 0, 255).astype(np.uint8).transpose(1, 2, 0)
            assert cv2.imwrite(str(root / "maps" / f"{subject}_{clip}{suffix} .png"), rgb[:, :, ::-1])
    options = ImportOptions(normalisation="minmax-per-channel", db_map={"smic": "smic-hs"})
    import_inputs(root / "maps", root / "combined.csv", root / "maps.h5", options, layout="maps")
    return root / "maps.h5"


def test_occluding_four_maps_moves_both_flows_alike_and_remakes_the_direction_maps(tmp_path):
    from occmer.bench.conditions import LANDMARKS_FACES, load_condition
    from occmer.features.maps import direction_planes, map_channel_names
    from occmer.models.landmark_blocks import five_points

    source = _maps_release(tmp_path)
    out = _occlude(source, tmp_path / "surgical.h5", mask="surgical", seed=1)
    assert verify_store(out) == []
    features, faces, samples, attrs, _ = _read(out)
    before = _read(source)[0]
    assert features.channels == map_channel_names(CHANNELS) and features.data.shape == (4, 12, SIZE, SIZE)
    for i in range(len(samples)):
        alpha = features.occlusion[i]
        assert (alpha > 0.5).any()
        for maps in (slice(0, 3), slice(3, 6)):  # X and X_1: the model on each, under the same occluder
            alone = apply_motion_model(before.data[i, maps], CHANNELS, alpha, "affine", "minmax-per-channel")
            np.testing.assert_array_equal(features.data[i, maps], alone.data)
            assert not np.array_equal(features.data[i, maps], before.data[i, maps])
            np.testing.assert_allclose(features.data[i, maps].max(axis=(1, 2)), 255, rtol=1e-5)
        np.testing.assert_array_equal(features.data[i, 6:9], direction_planes(features.data[i, 0:3], CHANNELS))
        np.testing.assert_array_equal(features.data[i, 9:12], direction_planes(features.data[i, 3:6], CHANNELS))
        motion = faces.placement[i]["motion"]
        assert set(motion["flow_maps"]) == {"X", "X_1"} and "affine" in motion["flow_maps"]["X_1"]
    assert attrs["settings"]["channels"] == map_channel_names(CHANNELS)
    none = _occlude(source, tmp_path / "none.h5", mask="none")
    assert _read(none)[0].data.tobytes() == before.data.tobytes()
    # HTNet on the occluded import: its five points come from the landmarks of the face images (/faces)
    condition = load_condition("surgical", [out], "megc2019", f"imported_{SIZE}", with_regions=True, with_points=True)
    assert condition.landmark_source == LANDMARKS_FACES
    expected = np.stack([five_points(p, (224, 224), SIZE) for p in faces.landmarks])
    np.testing.assert_allclose(condition.points, expected)

def test_the_inspect_page_of_an_occlude_output_shows_the_occluder_alpha_on_each_face(raw, tmp_path):
    """Issue 27: the /faces alpha panel of `occmer inspect --html` on an `occmer occlude` output, checked
    pixel by pixel against the stored alpha (covered = bright, visible face = dark)."""
    import base64
    import html
    import io
    import re

    from PIL import Image

    from occmer.pages import clips as anim
    from occmer.pages.inspect_page import render_inspect_html

    out = _occlude(raw, tmp_path / "glasses.h5", mask="sunglasses", seed=1)
    _, faces, samples, _, _ = _read(out)
    page = render_inspect_html(out, tmp_path / "page.html").read_text()
    figures = re.findall(r'<div class="titles">(.*?)</div><img src="data:image/png;base64,([^"]+)" '
                         r'alt="features of ([^"]+)" width="(\d+)" height="(\d+)"', page)
    assert len(figures) == len(samples) == 4
    ids = [s.sample_id for s in samples]
    for titles, data, sample_id, width, side in figures:
        titles = [html.unescape(t) for t in re.findall(r"<span[^>]*>(.*?)</span>", titles)]
        assert titles[-1] == "occluder alpha (face image)", titles
        still = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L"))
        side = int(side)
        assert still.shape == (side, int(width)) and int(width) == len(titles) * (side + 4) - 4
        shown = still[:, -side:].astype(np.float64)
        alpha = np.asarray(anim.resize_stack(faces.alpha[ids.index(html.unescape(sample_id))][None], side)[0])
        alpha = alpha[..., 0] if alpha.ndim == 3 else alpha
        assert (alpha > 60).mean() > 0.002 and (alpha == 0).mean() > 0.3  # the lenses cover part of the face image
        assert np.abs(shown - alpha).mean() < 3 and np.abs(shown - alpha).max() < 40  # the stored alpha, as is
