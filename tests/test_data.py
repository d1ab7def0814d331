"""The public loading API: index, LOSO splits, the Dataset under multi-worker DataLoaders."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from occmer.data import OccmerDataset, loso_splits, read_index
from occmer.errors import ConfigError, FeatureError


def test_index_and_loso(block_file):
    index = read_index(block_file)
    assert len(index) == 9 and set(index.columns) >= {"sample_id", "subject", "emotion", "onset", "apex"}
    splits = loso_splits(index)
    assert [s.test_subject for s in splits] == ["demo/sub01", "demo/sub02", "demo/sub03"]
    for split in splits:
        train_subjects = set(index.subject.iloc[split.train])
        assert split.test_subject not in train_subjects
        assert len(split.train) + len(split.test) == len(index)


def test_dataset_items(block_file):
    ds = OccmerDataset(block_file, labels="emotion", frames="keyframes")
    assert ds.classes == ["disgust", "happiness", "surprise"]  # present classes, the scheme's order
    item = ds[0]
    assert item["frames"].dtype == torch.uint8 and item["frames"].shape[0] == 3
    assert item["frames"].shape[2:] == (96, 96) and item["landmarks"].shape == (478, 2)
    assert 0 <= int(item["label"]) < len(ds.classes)
    with pytest.raises(FeatureError, match="occmer features"):
        OccmerDataset(block_file, features="flow_tvl1_28")
    with pytest.raises(ConfigError):
        OccmerDataset(block_file, frames="middle")


def _collect(loader):
    out = {}
    for batch in loader:
        for sid, frames, label in zip(batch["sample_id"], batch["frames"], batch["label"], strict=True):
            out[sid] = (frames.numpy(), int(label))
    return out


def test_multi_worker_loader_reads_the_same_bytes(block_file):
    ds = OccmerDataset(block_file, labels="objective", frames="onset_apex")
    single = _collect(DataLoader(ds, batch_size=2, num_workers=0))
    multi = _collect(DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn"))
    assert single.keys() == multi.keys() and len(single) == len(ds)
    for sid in single:
        np.testing.assert_array_equal(single[sid][0], multi[sid][0])
        assert single[sid][1] == multi[sid][1]


def test_documented_loader_snippet_runs(block_file, tmp_path, monkeypatch):
    doc = (Path(__file__).parents[1] / "docs" / "hdf5-format.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    Path("out/demo_glasses.h5").symlink_to(block_file)
    exec(compile(code, "hdf5-format.md", "exec"), {})
