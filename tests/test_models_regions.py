"""Region boxes, adjacency priors and RoI sampling of occmer.models."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from occmer.errors import DataError, ModelError
from occmer.faces.topology import MOUTH
from occmer.models.layers import roi_sample
from occmer.models.regions import (
    ANATOMICAL_ADJACENCY,
    REGION_NAMES,
    grid_adjacency,
    grid_boxes,
    grid_region_names,
    region_boxes,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def astronaut_landmarks() -> tuple[np.ndarray, tuple[int, int]]:
    """Mediapipe landmarks of skimage's astronaut portrait (a real face that ships offline)."""
    from occmer.faces.landmarks import MediapipeBackend

    image = skimage.data.astronaut()
    backend = MediapipeBackend()
    try:
        points = backend.detect(image)
    finally:
        backend.close()
    assert points is not None
    return points, (image.shape[1], image.shape[0])


def _center(boxes: np.ndarray, name: str) -> np.ndarray:
    x0, y0, x1, y1 = boxes[REGION_NAMES.index(name)]
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2])


def test_region_boxes_follow_the_face_layout(astronaut_landmarks):
    points, size = astronaut_landmarks
    boxes = region_boxes(points, size)
    assert boxes.shape == (len(REGION_NAMES), 4) and boxes.dtype == np.float32
    assert REGION_NAMES[-1] == "face"
    assert (boxes >= 0).all() and (boxes <= 1).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    c = {name: _center(boxes, name) for name in REGION_NAMES}
    # top-to-bottom order (image y grows downwards)
    assert c["right_brow"][1] < c["right_eye"][1] < c["nose"][1] < c["mouth"][1] < c["chin"][1]
    assert c["left_brow"][1] < c["left_eye"][1]
    # the subject's right is on the image's left
    for part in ("brow", "eye", "cheek"):
        assert c[f"right_{part}"][0] < c["nose"][0] < c[f"left_{part}"][0]
    face = boxes[-1]
    for name in REGION_NAMES[:-1]:
        assert face[0] <= c[name][0] <= face[2] and face[1] <= c[name][1] <= face[3]
    # the face box is the largest; local boxes are a small part of it
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert areas.argmax() == len(REGION_NAMES) - 1
    assert (areas[:-1] < 0.4 * areas[-1]).all()


def test_region_boxes_scale_with_the_frame(astronaut_landmarks):
    points, (w, h) = astronaut_landmarks
    np.testing.assert_allclose(region_boxes(points * 2, (2 * w, 2 * h)), region_boxes(points, (w, h)), atol=1e-6)


JAW = (127, 234, 93, 132, 58, 172, 150, 176, 152, 400, 379, 397, 288, 361, 323, 454, 356)
SPARSE_KEEP = JAW + (70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 168, 6, 195, 1, 98, 97, 2, 326, 327)
SPARSE_KEEP += (33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380, 61, 40, 37, 0, 267, 270, 291, 321, 314, 17)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_sparse_landmark_sets_still_give_every_region(astronaut_landmarks):
    """A 68-point-like set (NaN elsewhere: no cheeks, no forehead) yields boxes close to the full ones."""
    points, size = astronaut_landmarks
    sparse = np.full_like(points, np.nan)
    sparse[list(SPARSE_KEEP)] = points[list(SPARSE_KEEP)]
    full, partial = region_boxes(points, size), region_boxes(sparse, size)
    assert np.isfinite(partial).all()
    for k, name in enumerate(REGION_NAMES):
        assert _iou(full[k], partial[k]) > 0.4, name
    c = {name: _center(partial, name) for name in REGION_NAMES}
    for side in ("right", "left"):
        assert c[f"{side}_eye"][1] < c[f"{side}_cheek"][1] < c["mouth"][1] + 0.02
    assert c["right_cheek"][0] < c["nose"][0] < c["left_cheek"][0]


def test_missing_region_points_are_a_data_error_naming_the_region(astronaut_landmarks):
    points, size = astronaut_landmarks
    broken = points.copy()
    broken[list(MOUTH)] = np.nan
    with pytest.raises(DataError, match="mouth"):
        region_boxes(broken, size, sample_id="sub01/EP02_01f")


@pytest.mark.parametrize(
    "landmarks, size",
    [(np.zeros((68, 2)), (100, 100)), (np.full((478, 2), np.nan), (100, 100)), (np.random.rand(478, 2), (0, 10))],
)
def test_region_boxes_reject_bad_input(landmarks, size):
    with pytest.raises(DataError):
        region_boxes(landmarks, size)


def test_grid_boxes_tile_the_frame_and_end_with_the_global_node():
    boxes = grid_boxes(2, 3)
    assert boxes.shape == (7, 4)
    np.testing.assert_allclose(boxes[-1], [0, 0, 1, 1])
    areas = (boxes[:-1, 2] - boxes[:-1, 0]) * (boxes[:-1, 3] - boxes[:-1, 1])
    assert areas.sum() == pytest.approx(1.0)
    assert len(grid_region_names(2, 3)) == 7 and grid_region_names()[-1] == "face"
    with pytest.raises(ModelError):
        grid_boxes(0, 3)


@pytest.mark.parametrize("adj", [ANATOMICAL_ADJACENCY, grid_adjacency(3, 3), grid_adjacency(2, 4)])
def test_adjacency_priors_are_symmetric_with_self_loops_and_a_global_hub(adj):
    np.testing.assert_array_equal(adj, adj.T)
    assert (np.diag(adj) == 1).all()
    assert (adj[-1] == 1).all()
    assert set(np.unique(adj)) <= {0.0, 1.0}


def test_anatomical_prior_links_symmetric_pairs_not_distant_parts():
    idx = REGION_NAMES.index
    assert ANATOMICAL_ADJACENCY[idx("right_eye"), idx("left_eye")] == 1
    assert ANATOMICAL_ADJACENCY[idx("right_brow"), idx("right_eye")] == 1
    assert ANATOMICAL_ADJACENCY[idx("right_brow"), idx("chin")] == 0
    assert ANATOMICAL_ADJACENCY[idx("left_brow"), idx("mouth")] == 0
    assert grid_adjacency(3, 3)[0, 8] == 0 and grid_adjacency(3, 3)[0, 1] == 1


def test_roi_sample_reads_the_box_it_is_given():
    size = 16
    ramp = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # pixel-centre x coordinate in [0, 1]
    fmap = torch.stack([ramp.expand(size, size), ramp.unsqueeze(1).expand(size, size)]).unsqueeze(0)  # (1, 2, S, S)
    boxes = torch.tensor([[[0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 1.0, 1.0]]])
    out = roi_sample(fmap, boxes, out_size=2, sampling=2)
    assert out.shape == (1, 2, 2, 2, 2)
    # mean of the sampled x (channel 0) and y (channel 1) equals the box centre
    assert out[0, 0, 0].mean().item() == pytest.approx(0.5, abs=1e-5)
    assert out[0, 0, 1].mean().item() == pytest.approx(0.75, abs=1e-5)
    # left cells read smaller x than right cells, upper cells smaller y than lower ones
    assert (out[0, 0, 0, :, 0] < out[0, 0, 0, :, 1]).all()
    assert (out[0, 0, 1, 0, :] < out[0, 0, 1, 1, :]).all()
