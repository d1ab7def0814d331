"""Compositing: blending, head-motion transforms, gray frames, feathering, occlusion ratio."""

from __future__ import annotations

import numpy as np
from occluder_faces import aligned_face

from occmer.faces import topology as topo
from occmer.occluders import make_occluder
from occmer.occluders.base import OccluderLayer
from occmer.occluders.compositing import composite, feather, occlusion_ratio
from occmer.seeding import sample_rng


def _square_layer(h=40, w=50, value=200.0) -> OccluderLayer:
    alpha = np.zeros((h, w), np.float32)
    alpha[10:20, 10:30] = 1.0
    color = np.full((h, w, 3), value, np.float32)
    return OccluderLayer(color, alpha, {})


def test_blend_and_alpha_output():
    frame = np.full((40, 50, 3), 50, np.uint8)
    out, alpha = composite(frame, _square_layer())
    assert out[15, 15].tolist() == [200, 200, 200] and out[30, 40].tolist() == [50, 50, 50]
    assert alpha[15, 15] == 255 and alpha[30, 40] == 0
    half = _square_layer()
    half.alpha *= 0.5
    assert composite(frame, half)[0][15, 15].tolist() == [125, 125, 125]


def test_transform_moves_the_layer_and_identity_is_exact():
    frame = np.zeros((40, 50, 3), np.uint8)
    layer = _square_layer()
    still, a0 = composite(frame, layer, np.array([[1, 0, 0], [0, 1, 0]], np.float64))
    plain, _ = composite(frame, layer)
    assert np.array_equal(still, plain)
    moved, a1 = composite(frame, layer, np.array([[1, 0, 3], [0, 1, 2]], np.float64))
    assert np.array_equal(a1[12:22, 13:33], a0[10:20, 10:30])
    assert a1[10, 10] == 0


def test_gray_frames_stay_gray_in_both_layouts():
    layer = _square_layer()
    layer.color[...] = (255, 0, 0)
    gray3 = np.full((40, 50, 1), 10, np.uint8)
    out, _ = composite(gray3, layer)
    assert out.shape == (40, 50, 1) and out[15, 15, 0] == round(255 * 0.299)
    out2, _ = composite(gray3[:, :, 0], layer)
    assert out2.shape == (40, 50) and np.array_equal(out2, out[:, :, 0])


def test_feather_softens_only_the_edge():
    alpha = _square_layer().alpha
    soft = feather(alpha, 1.0)
    assert soft[15, 20] > 0.95 and 0.2 < soft[10, 20] < 0.8 and soft[2, 2] == 0.0
    assert np.array_equal(feather(alpha, 0), alpha)


def test_occlusion_ratio_matches_block_coverage():
    frame, landmarks = aligned_face("astronaut")
    layer = make_occluder("block", {"coverage": 0.3}).place(frame, landmarks, sample_rng(0, "r", "o"))
    assert abs(occlusion_ratio(layer.alpha, landmarks) - layer.params["coverage"]) < 1e-6
    _, alpha_u8 = composite(frame, layer)
    assert abs(occlusion_ratio(alpha_u8, landmarks) - layer.params["coverage"]) < 1e-6
    face = topo.face_region_mask(landmarks, frame.shape[:2])
    assert occlusion_ratio(face.astype(np.float32), landmarks) == 1.0
    assert occlusion_ratio(np.zeros(frame.shape[:2], np.float32), landmarks) == 0.0


def test_masks_cover_more_face_than_glasses():
    frame, landmarks = aligned_face("grace_hopper")
    ratios = {
        name: occlusion_ratio(make_occluder(name, {}).place(frame, landmarks, sample_rng(0, "m", "o")).alpha, landmarks)
        for name in ("glasses", "sunglasses", "surgical", "n95", "cloth")
    }
    assert ratios["glasses"] < ratios["sunglasses"] < min(ratios["surgical"], ratios["n95"], ratios["cloth"])
    assert 0.3 < ratios["surgical"] < 0.75


def test_subpixel_head_motion_moves_the_occluder_by_exactly_that_much():
    frame, landmarks = aligned_face("astronaut")
    # sunglasses lie wholly inside the crop (a mask runs off its bottom edge, which biases a centroid)
    layer = make_occluder("sunglasses", {"variant": "black-rect"}).place(frame, landmarks, sample_rng(0, "m", "o"))
    assert layer.alpha[[0, -1], :].max() == 0 and layer.alpha[:, [0, -1]].max() == 0
    yy, xx = np.mgrid[: frame.shape[0], : frame.shape[1]]

    def centroid(alpha):
        a = alpha.astype(np.float64)
        return np.array([(a * xx).sum() / a.sum(), (a * yy).sum() / a.sum()])

    base = centroid(composite(frame, layer)[1])
    for dx, dy in [(0.3, -0.2), (1.25, 0.5), (-0.1, 0.05)]:
        _, alpha = composite(frame, layer, np.array([[1, 0, dx], [0, 1, dy]], np.float64))
        assert np.allclose(centroid(alpha) - base, [dx, dy], atol=0.02)


def test_boxed_compositor_matches_the_full_frame_blend():
    """Blending only the moved layer's box gives the full-frame result (to 1 gray level)."""
    import cv2

    from occmer.occluders.base import OccluderLayer
    from occmer.occluders.compositing import Compositor

    rng = np.random.default_rng(3)
    h, w = 96, 96
    alpha = np.zeros((h, w), np.float32)
    alpha[30:50, 20:70] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    # A smooth colour (as real templates are): warps of a box and of the whole frame sample the
    # same points up to OpenCV's 1/32 px fixed-point grid, invisible on smooth content.
    color = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 3.0)
    layer = OccluderLayer(color, alpha, {})
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    angle = np.deg2rad(2.0)
    m = np.array([[np.cos(angle), -np.sin(angle), 0.7], [np.sin(angle), np.cos(angle), -0.4]])
    kwargs = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    a = cv2.warpAffine(alpha, m, (w, h), **kwargs)
    c = cv2.warpAffine(layer.color * alpha[:, :, None], m, (w, h), **kwargs)
    expected = np.clip(np.rint(frame * (1 - a[:, :, None]) + c), 0, 255).astype(np.uint8)
    got, got_alpha = Compositor(layer).composite(frame, m)
    assert np.abs(got.astype(int) - expected).max() <= 2
    assert np.abs(got_alpha.astype(int) - np.rint(a * 255)).max() <= 4  # 1/32 px grid on a steep edge
    outside = a == 0
    assert np.array_equal(got[outside], frame[outside])
