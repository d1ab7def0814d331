"""Flow, strain and per-clip features against motions whose answer is known exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from occmer.errors import ConfigError, DataError, FeatureError
from occmer.features import (
    FLOW_METHODS,
    FlowSpec,
    clip_features,
    compute_flow,
    optical_strain,
    parse_feature_spec,
    resize_flow,
    specs_from_options,
    to_gray,
)
from occmer.features.clip import key_frame_index, occlusion_map
from occmer.features.groundtruth import face_texture

cv2.setNumThreads(1)  # the machine is shared: one OpenCV thread per test process
SIZE = 224
CENTRE = (SIZE - 1) / 2.0


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return face_texture(SIZE)


def warp(frame: np.ndarray, m: np.ndarray) -> np.ndarray:
    """frame moved by the affine m: out(m x) = in(x), rounded to uint8 like a stored frame."""
    out = cv2.warpAffine(frame.astype(np.float32), m, (SIZE, SIZE), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(frame.shape)


def true_flow(m: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return np.stack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs, m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys], -1)


def inner_face() -> np.ndarray:
    """The face ellipse of the aligned crop, away from the border."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    return ((xs - 112) / 70.0) ** 2 + ((ys - 115) / 90.0) ** 2 <= 1.0


MOTIONS = {
    "translation": np.array([[1.0, 0.0, 0.37], [0.0, 1.0, -0.62]]),
    "rotation": cv2.getRotationMatrix2D((CENTRE, CENTRE), 1.0, 1.0),
    "zoom": cv2.getRotationMatrix2D((CENTRE, CENTRE), 0.0, 1.02),
}


@pytest.fixture(scope="module")
def tvl1_flows(face) -> dict[str, np.ndarray]:
    """TV-L1 flow of each motion, computed once for the tests that share it."""
    return {name: compute_flow(face, warp(face, m), "tvl1") for name, m in MOTIONS.items()}


@pytest.mark.parametrize("motion", sorted(MOTIONS))
def test_tvl1_recovers_subpixel_affine_motion_within_a_tenth_of_a_pixel(tvl1_flows, motion):
    m = MOTIONS[motion]
    flow = tvl1_flows[motion]
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    error = np.linalg.norm(flow - true_flow(m), axis=-1)[inner_face()]
    assert np.percentile(error, 95) < 0.1, f"95th percentile end-point error {np.percentile(error, 95):.3f} px"


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_fast_methods_recover_a_translation_roughly(face, method):
    m = MOTIONS["translation"]
    flow = compute_flow(face, warp(face, m), method)
    error = np.linalg.norm(flow - true_flow(m), axis=-1)[inner_face()]
    assert np.median(error) < 0.15


@pytest.mark.parametrize("size", [28, 112])
def test_strain_channel_is_near_zero_for_translation_and_sqrt2_eps_for_zoom(face, tvl1_flows, size):
    inner = slice(size // 4, 3 * size // 4)
    spec = FlowSpec("tvl1", size)
    shifted = clip_features(face, face, spec, flow=tvl1_flows["translation"]).data[2, inner, inner]
    zoomed = clip_features(face, face, spec, flow=tvl1_flows["zoom"]).data[2, inner, inner]
    expected = np.sqrt(2) * 0.02
    assert np.median(shifted) < 0.15 * expected
    assert np.median(zoomed) == pytest.approx(expected, rel=0.1)


def test_strain_of_linear_fields_matches_the_formula():
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float64)
    a, b, c, d = 0.03, -0.01, 0.02, -0.05
    flow = np.stack([a * xs + b * ys + 3.0, c * xs + d * ys - 1.0], -1)
    expected = np.sqrt(a**2 + d**2 + 0.5 * (b + c) ** 2)
    assert np.allclose(optical_strain(flow), expected, atol=1e-6)
    theta = 0.01  # a small rotation has no strain
    rotation = np.stack([-theta * ys, theta * xs], -1)
    assert np.abs(optical_strain(rotation)).max() < 1e-9
    with pytest.raises(ValueError):
        optical_strain(np.zeros((4, 4)))


def test_resize_flow_expresses_vectors_in_pixels_of_the_new_grid():
    flow = np.zeros((224, 224, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    small = resize_flow(flow, 28)
    assert small.shape == (28, 28, 2)
    assert np.allclose(small[..., 0], 0.25) and np.allclose(small[..., 1], -0.125)
    assert np.allclose(resize_flow(flow, 448)[..., 0], 4.0)


def test_gray_conversion_and_input_checks(face):
    assert to_gray(face).shape == (SIZE, SIZE)
    assert to_gray(face[:, :, :1]).shape == (SIZE, SIZE)
    gray = to_gray(face)[:, :, None]
    assert np.abs(compute_flow(gray, gray, "dis")).max() < 1e-3
    with pytest.raises(DataError, match="uint8"):
        to_gray(face.astype(np.float32))
    with pytest.raises(FeatureError, match="differ in size"):
        compute_flow(face, face[:100, :100], "dis")
    with pytest.raises(ConfigError, match="unknown flow method"):
        compute_flow(face, face, "lucas")


def test_settings_are_typed_and_unknown_keys_rejected():
    tvl1 = FLOW_METHODS["tvl1"]
    settings = tvl1.settings({"nscales": "3", "tau": "0.2"})
    assert settings["nscales"] == 3 and isinstance(settings["nscales"], int) and settings["tau"] == 0.2
    assert FLOW_METHODS["dis"].settings({"use_spatial_propagation": "no"})["use_spatial_propagation"] is False
    with pytest.raises(ConfigError, match="must be a int"):
        tvl1.settings({"nscales": "2.5"})
    with pytest.raises(ConfigError, match="has no setting winsize"):
        tvl1.settings({"winsize": 3})


def test_clip_features_channels_occlusion_and_maxabs(face):
    apex = warp(face, MOTIONS["zoom"])
    alpha = np.zeros((SIZE, SIZE), np.uint8)
    alpha[:112] = 255
    plain = clip_features(face, apex, FlowSpec("dis", 28, diff=True), np.stack([alpha, alpha * 0]))
    assert plain.data.shape == (4, 28, 28) and plain.data.dtype == np.float32
    assert np.allclose(plain.occlusion[:14], 1.0) and np.allclose(plain.occlusion[14:], 0.0)
    assert np.all(plain.scale == 1.0)
    assert np.abs(plain.data[3]).max() <= 1.0
    flow = compute_flow(face, apex, "dis")
    scaled = clip_features(face, apex, FlowSpec("dis", 28, diff=True, normalise="maxabs"), None, flow)
    assert scaled.occlusion.shape == (28, 28) and not scaled.occlusion.any()
    assert np.abs(scaled.data[:2]).max() == pytest.approx(1.0)
    assert scaled.data[2].max() == pytest.approx(1.0) and np.abs(scaled.data[3]).max() == pytest.approx(1.0)
    assert np.allclose(scaled.data * scaled.scale[:, None, None], plain.data, atol=1e-5)
    with pytest.raises(FeatureError, match="occlusion map"):
        occlusion_map(alpha[:10], (SIZE, SIZE), 28)


def test_key_frame_lookup_names_the_sample():
    assert key_frame_index(np.array([10, 11, 12]), 12, "apex", "sub01_EP01", "f.h5") == 2
    with pytest.raises(FeatureError, match="sub01_EP01: apex frame 13 .*10..12"):
        key_frame_index(np.array([10, 11, 12]), 13, "apex", "sub01_EP01", "f.h5")


def test_specs_from_text():
    specs = specs_from_options("tvl1,dis", "28,112", flow_params=["nscales=3", "patch_size=12"])
    # non-default settings name their own sets (issue 27): never the default set's name
    assert [s.feature_name for s in specs] == ["flow_tvl1_28_nscales3", "flow_tvl1_112_nscales3",
                                              "flow_dis_28_patch_size12", "flow_dis_112_patch_size12"]
    assert specs[0].settings()["nscales"] == 3 and specs[2].settings()["patch_size"] == 12
    assert "patch_size" not in specs[0].params
    spec = parse_feature_spec("farneback:56:diff:maxabs:winsize=21")
    assert (spec.method, spec.size, spec.diff, spec.normalise) == ("farneback", 56, True, "maxabs")
    assert spec.channels == ["u", "v", "strain", "diff"] and spec.settings()["winsize"] == 21
    for bad in ("tvl1", "tvl1:x", "tvl1:28:sideways"):
        with pytest.raises(ConfigError):
            parse_feature_spec(bad)
    for kwargs in ({"size": 2}, {"normalise": "zscore"}, {"name": "../x"}, {"method": "nope"}):
        with pytest.raises(ConfigError):
            FlowSpec(**kwargs)
    with pytest.raises(ConfigError, match="--flow-param foo"):
        specs_from_options("dis", "28", flow_params=["foo=1"])
    with pytest.raises(ConfigError, match="--size"):
        specs_from_options("dis", "28,a")
