"""Features on the demo database as `occmer synthesize` stores it: motion where the generator put it,
and the Dataset serving the stored rows (also from DataLoader workers)."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from occmer.data import OccmerDataset
from occmer.databases.resolve import resolve_databases, scan_all
from occmer.demo import build_demo_database
from occmer.faces import topology
from occmer.features import FlowSpec, add_features, read_features
from occmer.labels import parse_action_units
from occmer.pipeline import SynthesisSettings, synthesize

cv2.setNumThreads(1)
torch.set_num_threads(1)
S = 56
BROWS = topology.RIGHT_BROW + topology.LEFT_BROW
LIP_CORNERS = (topology.MOUTH_RIGHT_CORNER, topology.MOUTH_LEFT_CORNER)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    # Distractors off and a clear amplitude: this checks where the AUs' motion lands, not robustness.
    root = build_demo_database(folder / "db", subjects=1, clips_per_subject=7, frames=12, head_motion=0.0,
                               blink_share=0.0, flicker=0.0, amplitude_median_px=2.5, amplitude_spread=0.0)
    clips = scan_all(resolve_databases("demo", (str(root),))).clips
    out = folder / "demo.h5"
    synthesize(SynthesisSettings(database="demo", mask="none"), clips, out, overwrite=True, progress=False)
    add_features(out, [FlowSpec("tvl1", S)], progress=False)
    return out


def region_motion(magnitude: np.ndarray, points: np.ndarray) -> float:
    """Mean flow magnitude within 8 % of the grid of any of the points."""
    ys, xs = np.mgrid[0 : magnitude.shape[0], 0 : magnitude.shape[1]]
    distance = np.hypot(xs[..., None] - points[:, 0], ys[..., None] - points[:, 1]).min(axis=-1)
    return float(magnitude[distance < 0.08 * magnitude.shape[0]].mean())


def test_flow_peaks_at_the_brows_for_brow_aus_and_at_the_lip_corners_for_corner_aus(demo_file):
    fs = read_features(demo_file, f"flow_tvl1_{S}")
    brow_units, corner_units = {1, 2, 4}, {12, 14, 15, 20}
    with h5py.File(demo_file, "r") as f:
        units = f["samples/action_units"].asstr()[()]
        onsets = f["samples/onset"][()]
        checked = set()
        for row, sid in enumerate(fs.sample_ids):
            clip = f["clips"][sid]
            numbers = clip["frame_numbers"][()].tolist()
            landmarks = clip["landmarks"][numbers.index(int(onsets[row]))] * S / clip["frames"].shape[2]
            magnitude = np.hypot(fs.data[row, 0], fs.data[row, 1])
            brows = region_motion(magnitude, landmarks[list(BROWS)])
            lips = region_motion(magnitude, landmarks[list(LIP_CORNERS)])
            (aus,) = parse_action_units(units[row])
            if aus & corner_units and aus <= corner_units | {6, 7}:
                assert lips > 2 * brows, f"{sid} ({units[row]}): lip corners {lips:.3f}, brows {brows:.3f}"
                checked.add("corners")
            if aus & brow_units and aus <= brow_units | {5, 7}:
                assert brows > 2 * lips, f"{sid} ({units[row]}): brows {brows:.3f}, lip corners {lips:.3f}"
                checked.add("brows")
    assert checked == {"brows", "corners"}, f"the demo clips did not cover brow and lip-corner AUs: {sorted(checked)}"


def test_the_dataset_returns_the_stored_rows_in_every_worker(demo_file):
    name = f"flow_tvl1_{S}"
    fs = read_features(demo_file, name)
    dataset = OccmerDataset(demo_file, labels="objective", frames=None, features=name)
    assert len(dataset) == len(fs.sample_ids)
    item = dataset[0]
    assert item["x"].dtype == torch.float32 and tuple(item["x"].shape) == (3, S, S)
    row = fs.sample_ids.index(item["sample_id"])
    assert np.array_equal(item["x"].numpy(), fs.data[row])
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2, shuffle=False)
    seen = {}
    for batch in loader:
        for sid, x in zip(batch["sample_id"], batch["x"], strict=True):
            seen[sid] = x.numpy()
    assert sorted(seen) == sorted(dataset.sample_ids[r] for r in dataset.rows)
    for sid, x in seen.items():
        assert np.array_equal(x, fs.data[fs.sample_ids.index(sid)])
