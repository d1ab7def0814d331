"""The public loading API: the sample table, LOSO splits and a PyTorch Dataset.

    import occmer.data as od
    index = od.read_index("glasses.h5")                       # pandas, one row per clip
    splits = od.read_splits("glasses.h5", "megc2019")         # the stored folds bench uses
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

from occmer.errors import ConfigError
from occmer.store import OccmerFile, SplitSet
from occmer.store.reader import decode

FRAME_SELECTIONS = ("keyframes", "onset_apex", "all")


def read_index(path: str | Path) -> pd.DataFrame:
    """/samples of an occmer file as a DataFrame (one row per clip, file order)."""
    with OccmerFile.open(path) as f:
        return pd.DataFrame(f.columns())


def read_splits(path: str | Path, protocol: str = "loso") -> SplitSet:
    """The folds a file stores for `protocol` (/splits/<protocol>): the ones `occmer bench` uses.

    `.folds()` gives (fold name, train rows, test rows) as /samples positions; `.label` and
    `.class_names` the classes; `.official` whether the official list decided the membership.
    StoreError naming `occmer splits FILE` when the file stores none (files older than /splits).
    """
    with OccmerFile.open(path) as f:
        return f.split(protocol)


def stored_protocols(path: str | Path) -> list[str]:
    """The protocols whose folds a file stores (empty for files written before /splits existed)."""
    with OccmerFile.open(path) as f:
        return f.split_names()


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
    features: a /features/<name> group (e.g. "flow_tvl1_28") returned as "x" and "occlusion";
        its rows are checked against /samples, and each item's values for NaN/inf.
    Files of features only (root attribute contents="features") need `features`; they have no
    frames or landmarks (the default frames="keyframes" is then read as None).
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
        with OccmerFile.open(self.path) as f:
            self._has_frames = f.has_frames
            if not f.has_frames and frames is not None:
                if features is None or frames != "keyframes":
                    raise ConfigError(
                        f"{self.path} holds features only (contents='features'): it has no frames; "
                        "read it with features=NAME (and frames=None)"
                    )
                self.frames = None  # the default frame selection means nothing for a file without frames
            if features is not None:
                f.feature_info(features)  # the set exists, its shapes fit and its rows follow /samples
        self._file = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = None
        state["_pid"] = None
        return state

    def _handle(self) -> OccmerFile:
        if self._file is None or self._pid != os.getpid():
            self._file = OccmerFile.open(self.path)
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
        if self._has_frames:
            onset = f.position(sid, int(self.index["onset"].iloc[row]), "onset")
            out["landmarks"] = torch.from_numpy(f.landmarks(sid, [onset])[0])
        if self.frames is not None:
            frames = f.frames(sid, self._frame_positions(f, row, sid))
            out["frames"] = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
        if self.features is not None:
            x, occlusion = f.feature_row(self.features, row)  # checked finite, like bench's reads
            out["x"] = torch.from_numpy(x)
            if occlusion is not None:
                out["occlusion"] = torch.from_numpy(occlusion[None])
        return out

    def _frame_positions(self, f: OccmerFile, row: int, sid: str) -> list[int] | None:
        if self.frames == "all":
            return None
        cols = ("onset", "apex", "offset") if self.frames == "keyframes" else ("onset", "apex")
        return [f.position(sid, int(self.index[c].iloc[row]), c) for c in cols]


__all__ = [
    "OccmerDataset", "Split", "SplitSet", "decode", "label_indices", "loso_splits", "read_index", "read_splits",
    "stored_protocols",
]
