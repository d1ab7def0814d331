"""The public loading API: the sample table, LOSO splits and a PyTorch Dataset.

    import occmer.data as od
    index = od.read_index("glasses.h5")                       # pandas, one row per clip
    ds = od.OccmerDataset("glasses.h5", labels="emotion", frames="keyframes")

The Dataset opens the file lazily in each process, so DataLoader(num_workers>0) is safe.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from occmer.errors import ConfigError, FeatureError
from occmer.store import schema
from occmer.store.reader import decode, open_store, read_samples

FRAME_SELECTIONS = ("keyframes", "onset_apex", "all")


def read_index(path: str | Path) -> pd.DataFrame:
    """/samples of an occmer file as a DataFrame (one row per clip, file order)."""
    with open_store(path) as f:
        return pd.DataFrame(read_samples(f))


@dataclass(frozen=True)
class Split:
    """One leave-one-subject-out fold: row positions into the index."""

    test_subject: str
    train: np.ndarray
    test: np.ndarray


def loso_splits(index: pd.DataFrame, subject_column: str = "subject") -> list[Split]:
    """Leave-one-subject-out folds, subjects in sorted order (ids are namespaced by database)."""
    subjects = index[subject_column].astype(str).to_numpy()
    positions = np.arange(len(index))
    return [
        Split(subject, positions[subjects != subject], positions[subjects == subject])
        for subject in sorted(set(subjects))
    ]


def label_indices(index: pd.DataFrame, scheme: str) -> tuple[np.ndarray, list[str]]:
    """(class index per row, -1 where the row is outside the scheme; class names).

    Classes are the scheme's classes present in the file, in the scheme's canonical order,
    then any other label present (a database's own emotion word), sorted.
    """
    from occmer.labels import classes, label_of

    labels = [label_of(row, scheme) for row in index.to_dict("records")]
    present = set(labels) - {""}
    canonical = classes(scheme)
    names = [name for name in canonical if name in present] + sorted(present - set(canonical))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup.get(label, -1) for label in labels], dtype=np.int64), names


class OccmerDataset(Dataset):
    """Clips of an occmer file with their labels, as tensors.

    labels: a label scheme (emotion, objective, megc2018, megc2019); clips outside the
        scheme (label "") are left out.
    frames: None, "keyframes" (onset, apex, offset), "onset_apex", or "all" (variable T).
    features: a /features/<name> group (e.g. "flow_tvl1_28") returned as "x" and "occlusion".
    Each item is a dict: sample_id, subject, label, and frames uint8 (T, C, H, W),
    landmarks float32 (K, 2) of the onset frame, x float32 (C, S, S), occlusion (1, S, S).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        labels: str = "emotion",
        frames: str | None = "keyframes",
        features: str | None = None,
        rows: Sequence[int] | None = None,
    ) -> None:
        if frames is not None and frames not in FRAME_SELECTIONS:
            raise ConfigError(f"frames must be None or one of {', '.join(FRAME_SELECTIONS)}, got {frames!r}")
        self.path = Path(path)
        self.frames = frames
        self.features = features
        self.index = read_index(self.path)
        codes, self.classes = label_indices(self.index, labels)
        keep = np.flatnonzero(codes >= 0)
        if rows is not None:
            keep = np.array([r for r in rows if codes[r] >= 0], dtype=np.int64)
        self.rows = keep
        self.labels = codes
        self.sample_ids = self.index["sample_id"].tolist()
        if features is not None:
            from occmer.features import feature_names

            have = feature_names(self.path)
            if features not in have:
                raise FeatureError(
                    f"{self.path} has no features {features!r} (has: {', '.join(have) or 'none'}); "
                    f"compute them with `occmer features {self.path} ...`"
                )
        with open_store(self.path) as f:
            self.has_clips = schema.CLIPS in f
        if not self.has_clips and (frames is not None or features is None):
            raise ConfigError(f"{self.path} holds features only (no frames: an imported file); "
                              "use OccmerDataset(path, frames=None, features=NAME)")
        self._file = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = None
        state["_pid"] = None
        return state

    def _handle(self):
        if self._file is None or self._pid != os.getpid():
            self._file = open_store(self.path)
            self._pid = os.getpid()
        return self._file

    def __getitem__(self, item: int) -> dict[str, Any]:
        row = int(self.rows[item])
        f = self._handle()
        sid = self.sample_ids[row]
        out: dict[str, Any] = {
            "sample_id": sid,
            "subject": str(self.index["subject"].iloc[row]),
            "label": torch.tensor(int(self.labels[row])),
        }
        clip = f[schema.CLIPS][sid] if self.has_clips else None
        if clip is not None:
            numbers = clip["frame_numbers"][()].tolist()
            onset = numbers.index(int(self.index["onset"].iloc[row]))
            out["landmarks"] = torch.from_numpy(clip["landmarks"][onset])
        if self.frames is not None and clip is not None:
            wanted = self._frame_positions(row, numbers)
            frames = clip["frames"][wanted] if wanted is not None else clip["frames"][()]
            out["frames"] = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        if self.features is not None:
            group = f[schema.FEATURES][self.features]
            out["x"] = torch.from_numpy(group["data"][row])
            if "occlusion" in group:
                out["occlusion"] = torch.from_numpy(group["occlusion"][row][None])
        return out

    def _frame_positions(self, row: int, numbers: list[int]) -> list[int] | None:
        if self.frames == "all":
            return None
        cols = ("onset", "apex", "offset") if self.frames == "keyframes" else ("onset", "apex")
        return [numbers.index(int(self.index[c].iloc[row])) for c in cols]


__all__ = ["OccmerDataset", "Split", "decode", "label_indices", "loso_splits", "read_index"]
