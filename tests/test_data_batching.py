"""Batching: one channel policy per file (`synthesize --color`, `OccmerDataset(channels=)`) and
`collate` for whole clips, so that merged grey + colour files load in every frames mode."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from occmer.bench.conditions import group_conditions
from occmer.data import OccmerDataset, collate
from occmer.demo.cache import PARAMS_ENV, cached_demo_params
from occmer.errors import ConfigError
from occmer.frames import apply_color_policy, to_channels


def _stored_channels(path: Path) -> list[int]:
    with h5py.File(path, "r") as f:
        return [f["clips"][sid]["frames"].shape[-1] for sid in f["clips"]]


def test_to_channels_replicates_grey_and_takes_opencv_luma() -> None:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    grey = to_channels(colour, 1)
    expected = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in colour])[..., None]
    assert grey.shape == (2, 8, 8, 1) and np.abs(grey.astype(int) - expected).max() <= 1
    rgb = to_channels(grey, 3)
    assert rgb.shape == (2, 8, 8, 3) and all(np.array_equal(rgb[..., c], grey[..., 0]) for c in range(3))
    assert to_channels(colour, None) is colour and apply_color_policy(colour, "keep") is colour
    with pytest.raises(ValueError, match="color policy"):
        apply_color_policy(colour, "bgr")


def test_default_rgb_stores_three_channels_and_records_the_policy(block_file: Path) -> None:
    assert set(_stored_channels(block_file)) == {3}
    with h5py.File(block_file, "r") as f:
        assert json.loads(f.attrs["settings"])["color"] == "rgb"
        grey = [sid for sid in f["clips"] if (lambda a: np.array_equal(a[..., 0], a[..., 2]))(f["clips"][sid]["frames"][0])]
    assert grey, "the small demo has a grey subject; its clips are replicated to 3 equal channels"


def test_keep_mixes_grey_and_colour(grey_and_colour_file: Path) -> None:
    assert set(_stored_channels(grey_and_colour_file)) == {1, 3}
    with h5py.File(grey_and_colour_file, "r") as f:
        assert json.loads(f.attrs["settings"])["color"] == "keep"


@pytest.mark.parametrize("frames", ["keyframes", "onset_apex", "all", None])
def test_a_grey_and_colour_file_batches_in_every_frames_mode(grey_and_colour_file: Path, frames) -> None:
    expected_t = {"keyframes": 3, "onset_apex": 2}
    for channels, out_c in ((None, 3), (1, 1), (3, 3)):
        ds = OccmerDataset(grey_and_colour_file, labels="objective", frames=frames, features="flow_tvl1_28",
                           channels=channels)
        extra = {"collate_fn": collate} if frames == "all" else {}
        workers = 2 if channels is None else 0  # worker start-up costs seconds; once per mode is enough
        batches = list(DataLoader(ds, batch_size=32, num_workers=workers, **extra))
        assert len(batches) == 1 and len(batches[0]["sample_id"]) == len(ds)
        batch = batches[0]
        assert batch["x"].shape == (len(ds), 3, 28, 28)
        if frames is None:
            assert "frames" not in batch
            continue
        assert batch["frames"].dtype == torch.uint8 and batch["frames"].shape[2:] == (out_c, 96, 96)
        if frames in expected_t:
            assert batch["frames"].shape[1] == expected_t[frames]


def test_collate_pads_whole_clips_and_masks_the_padding(grey_and_colour_file: Path) -> None:
    ds = OccmerDataset(grey_and_colour_file, frames="all", channels=1)
    items = [ds[i] for i in range(len(ds))]
    batch = collate(items)
    lengths = [item["frames"].shape[0] for item in items]
    assert len(set(lengths)) > 1, "the demo's clips differ in length; the test needs that"
    assert batch["frames"].shape == (len(items), max(lengths), 1, 96, 96)
    assert batch["n_frames"].tolist() == lengths and batch["frame_mask"].sum(1).tolist() == lengths
    for i, item in enumerate(items):
        t = lengths[i]
        assert torch.equal(batch["frames"][i, :t], item["frames"]) and not batch["frames"][i, t:].any()
    assert batch["sample_id"] == [item["sample_id"] for item in items]


def test_collate_names_the_samples_whose_frames_cannot_stack() -> None:
    items = [
        {"sample_id": "a", "label": torch.tensor(0), "frames": torch.zeros(2, 3, 8, 8, dtype=torch.uint8)},
        {"sample_id": "b", "label": torch.tensor(1), "frames": torch.zeros(2, 3, 9, 8, dtype=torch.uint8)},
    ]
    with pytest.raises(ConfigError, match=r"a has \(C, H, W\) \(3, 8, 8\), b \(3, 9, 8\)"):
        collate(items)
    with pytest.raises(ConfigError, match="channels must be 1, 3 or None"):
        OccmerDataset("unused.h5", channels=2)


def test_bare_data_file_is_named_after_its_stem(tmp_path: Path) -> None:
    for name in ("clean.h5", "mask.h5", "my glasses.h5"):
        (tmp_path / name).touch()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "clean.h5").touch()
    groups = group_conditions([str(tmp_path / "clean.h5"), str(tmp_path / "mask.h5"),
                               str(tmp_path / "my glasses.h5"), f"masked={tmp_path / 'b' / 'clean.h5'}"])
    assert list(groups) == ["clean", "mask", "my_glasses", "masked"]
    merged = group_conditions([str(tmp_path / "clean.h5"), str(tmp_path / "b" / "clean.h5")])
    assert list(merged) == ["clean"] and len(merged["clean"]) == 2


def test_demo_params_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARAMS_ENV, "subjects=3, frames=12,amplitude_median_px=0.5,preset=smic")
    params = cached_demo_params(clips_per_subject=2)
    assert (params.subjects, params.frames, params.amplitude_median_px, params.clips_per_subject) == (3, 12, 0.5, 2)
    assert params.preset == "smic"
    assert cached_demo_params(subjects=4).subjects == 4
    for bad, match in (("subjects=x", "not NAME=NUMBER"), ("colour=1", "unknown parameter"),
                       ("amplitude_px=1", "unknown parameter"), ("frames=2", "--frames")):
        monkeypatch.setenv(PARAMS_ENV, bad)
        with pytest.raises(ConfigError, match=match):
            cached_demo_params()
    # the documented order: DemoParams' defaults, then `defaults` (the bench's), then the environment, then `params`
    monkeypatch.setenv(PARAMS_ENV, "frames=12")
    layered = cached_demo_params({"frames": 20, "subjects": 5, "size": 160}, subjects=4)
    assert (layered.frames, layered.subjects, layered.size) == (12, 4, 160)
    monkeypatch.delenv(PARAMS_ENV)
    assert cached_demo_params({"frames": 20}).frames == 20
