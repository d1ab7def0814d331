"""/features/<name>/ in real occmer files: layout, idempotency, workers, errors, and where the motion is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from occmer.errors import ConfigError, FeatureError, StoreError
from occmer.features import FlowSpec, add_features, feature_names, read_features, resize_flow
from occmer.features.groundtruth import ACTION_UNITS, GroundTruthClip, displacement_field, write_groundtruth_file
from occmer.features.hdf5 import TMP_PREFIX
from occmer.store.verify import verify_store

cv2.setNumThreads(1)
FRAME = 112
MOUTH_BOX = (0.25, 0.55, 0.75, 0.85)
CLIPS = [
    GroundTruthClip("s1_brows", "s1", "AU4"),
    GroundTruthClip("s1_smile", "s1", "AU12"),
    GroundTruthClip("s2_smile_masked", "s2", "AU12", MOUTH_BOX),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_groundtruth_file(tmp_path_factory.mktemp("gt") / "gt.h5", CLIPS, size=FRAME, n_frames=5)


@pytest.fixture()
def gt(source, tmp_path) -> Path:
    copy = tmp_path / "gt.h5"
    shutil.copy(source, copy)
    return copy


@pytest.fixture(scope="module")
def computed(source, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("computed") / "gt.h5"
    shutil.copy(source, path)
    add_features(path, [FlowSpec("tvl1", 28), FlowSpec("tvl1", 56, diff=True)], progress=False)
    return path


def test_layout_shapes_dtypes_and_attributes(computed):
    assert feature_names(computed) == ["flow_tvl1_28", "flow_tvl1_56_diff"]
    assert verify_store(computed) == []
    with h5py.File(computed, "r") as f:
        group = f["features/flow_tvl1_56_diff"]
        assert group["data"].shape == (3, 4, 56, 56) and group["data"].dtype == np.float32
        assert group["data"].chunks == (1, 4, 56, 56)
        assert group["occlusion"].shape == (3, 56, 56) and group["occlusion"].dtype == np.float32
        assert group["scale"].shape == (3, 4)
    fs = read_features(computed, "flow_tvl1_56_diff")
    assert fs.channels == ["u", "v", "strain", "diff"]
    assert fs.sample_ids == [c.sample_id for c in CLIPS]
    assert fs.attrs["method"] == "tvl1" and fs.attrs["size"] == 56 and fs.attrs["complete"] is True
    assert fs.attrs["params"]["nscales"] == 5 and fs.attrs["normalisation"] == "none"
    assert fs.attrs["flow_grid"].startswith(f"{FRAME}x{FRAME}")
    for key in ("grayscale", "flow_units", "resize", "strain", "occlusion", "occmer_version", "frame_pair"):
        assert fs.attrs[key]


def test_occluder_alpha_is_on_the_grid_and_the_covered_region_does_not_move(computed):
    fs = read_features(computed, "flow_tvl1_28")
    assert not fs.occlusion[0].any() and not fs.occlusion[1].any()
    x0, y0, x1, y1 = (int(round(v * 28)) for v in MOUTH_BOX)
    covered = fs.occlusion[2]
    assert np.allclose(covered[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1], 1.0)
    with h5py.File(computed, "r") as f:
        ratio = float(f["samples/occlusion_ratio"][2])
    assert covered.mean() == pytest.approx(ratio, abs=1e-3)
    inside = (slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))
    smile = np.hypot(fs.data[1, 0], fs.data[1, 1])[inside]
    masked = np.hypot(fs.data[2, 0], fs.data[2, 1])[inside]
    assert smile.max() > 0.1 and masked.max() < 0.01  # the occluder hides the lip corners' motion


def test_flow_magnitude_peaks_where_the_generator_moved_the_face(computed):
    fs = read_features(computed, "flow_tvl1_56_diff")
    for row in (0, 1):
        unit = CLIPS[row].action_unit
        truth = resize_flow(displacement_field((FRAME, FRAME), ACTION_UNITS[unit]).astype(np.float32), 56)
        truth = truth.transpose(2, 0, 1)
        estimate = fs.data[row, :2]
        magnitude = np.hypot(*estimate)
        y, x = np.unravel_index(np.argmax(magnitude), magnitude.shape)
        centres = [(b.center[0] * 55, b.center[1] * 55) for b in ACTION_UNITS[unit]]
        distance = min(np.hypot(x - cx, y - cy) for cx, cy in centres)
        assert distance < 4, f"{unit}: peak at ({x}, {y}), bumps at {centres}"
        cosine = float((truth * estimate).sum() / (np.linalg.norm(truth) * np.linalg.norm(estimate)))
        assert cosine > 0.85, f"{unit}: flow field direction agrees poorly with the truth (cos {cosine:.2f})"
        # TV-L1's regularisation flattens the narrow bumps somewhat; the level must still be right.
        assert 0.5 < magnitude.max() / np.hypot(*truth).max() < 1.3


def test_rerun_is_idempotent_and_overwrite_gives_the_same_arrays(computed, tmp_path):
    path = tmp_path / "again.h5"
    shutil.copy(computed, path)
    before = read_features(path, "flow_tvl1_28")
    assert add_features(path, [FlowSpec("tvl1", 28)], progress=False) == []
    size = os.path.getsize(path)
    assert add_features(path, [FlowSpec("tvl1", 28)], overwrite=True, progress=False) == ["flow_tvl1_28"]
    after = read_features(path, "flow_tvl1_28")
    assert np.array_equal(before.data, after.data) and np.array_equal(before.occlusion, after.occlusion)
    with h5py.File(path, "r") as f:
        assert sorted(f["features"]) == ["flow_tvl1_28", "flow_tvl1_56_diff"]
    assert os.path.getsize(path) <= size + after.data.nbytes + after.occlusion.nbytes + 65536
    with pytest.raises(FeatureError, match="already exists with other settings .differs in: normalisation.*--overwrite"):
        add_features(path, [FlowSpec("tvl1", 28, normalise="maxabs", name="flow_tvl1_28")], progress=False)


def test_two_workers_write_the_same_arrays_as_one(gt, computed):
    assert add_features(gt, [FlowSpec("tvl1", 28)], workers=2, progress=False) == ["flow_tvl1_28"]
    assert np.array_equal(read_features(gt, "flow_tvl1_28").data, read_features(computed, "flow_tvl1_28").data)


def test_stale_partial_groups_are_removed_and_never_listed(gt):
    with h5py.File(gt, "r+") as f:
        f.create_group(f"features/{TMP_PREFIX}flow_dis_28").create_dataset("data", data=np.zeros(3))
        f["features"].create_group("flow_half").attrs["complete"] = False
    assert feature_names(gt) == []
    with pytest.raises(FeatureError, match="no feature set 'flow_half'"):
        read_features(gt, "flow_half")
    add_features(gt, [FlowSpec("dis", 28)], progress=False)
    with h5py.File(gt, "r") as f:
        assert sorted(f["features"]) == ["flow_dis_28", "flow_half"]
    assert feature_names(gt) == ["flow_dis_28"]


def test_missing_apex_frame_names_the_sample(gt):
    with h5py.File(gt, "r+") as f:
        f["samples/apex"][1] = 999
    for workers in (1, 2):
        with pytest.raises(StoreError, match="s1_smile: apex frame 999"):
            add_features(gt, [FlowSpec("dis", 28)], workers=workers, progress=False)
    assert feature_names(gt) == []  # nothing was written


def test_rows_that_no_longer_follow_samples_are_refused(gt):
    add_features(gt, [FlowSpec("dis", 28)], progress=False)
    with h5py.File(gt, "r+") as f:
        ids = f["samples/sample_id"].asstr()[()]
        f["samples/sample_id"][0], f["samples/sample_id"][1] = ids[1], ids[0]
    with pytest.raises(StoreError, match="do not follow /samples"):
        read_features(gt, "flow_dis_28")
    with pytest.raises(FeatureError, match="differs in: rows"):
        add_features(gt, [FlowSpec("dis", 28)], progress=False)


def test_bad_requests_fail_before_any_work(gt, tmp_path):
    with pytest.raises(ConfigError, match="flow_dis_28"):
        add_features(gt, [FlowSpec("dis", 28), FlowSpec("dis", 28, diff=True, name="flow_dis_28")], progress=False)
    with pytest.raises(ConfigError, match="--workers"):
        add_features(gt, [FlowSpec("dis", 28)], workers=0, progress=False)
    with pytest.raises(StoreError, match="file not found"):
        add_features(tmp_path / "missing.h5", [FlowSpec("dis", 28)], progress=False)
    with h5py.File(gt, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(StoreError, match="incomplete"):
        add_features(gt, [FlowSpec("dis", 28)], progress=False)


def test_a_file_held_open_by_a_reader_is_not_touched(gt):
    with h5py.File(gt, "r") as reader:
        with pytest.raises(StoreError, match="cannot be opened for writing.*close every program"):
            add_features(gt, [FlowSpec("dis", 28)], progress=False)
        assert "features" not in reader
    assert feature_names(gt) == [] and verify_store(gt) == []
