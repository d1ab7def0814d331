"""The public loading API: the sample table, LOSO splits and a PyTorch Dataset.

    import occmer.data as od
    index = od.read_index("glasses.h5")                       # pandas, one row per clip
    splits = od.read_splits("glasses.h5", "megc2019")         # the stored folds bench uses
    ds = od.OccmerDataset("glasses.h5", labels="emotion", frames="keyframes")
    loader = DataLoader(ds, batch_size=32, num_workers=2)     # frames (B, 3, C, H, W)
    clips = DataLoader(od.OccmerDataset("glasses.h5", frames="all"), batch_size=8, collate_fn=od.collate)

The Dataset opens the file lazily in each process, so DataLoader(num_workers>0) is safe.
Items of one file always stack: every clip's frames come out with the same channel count
(`channels`), and `collate` pads the variable-length clips of frames="all" with a mask.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from occmer.errors import ConfigError
from occmer.frames import to_channels
from occmer.protocols.folds import Split, loso_splits  # the loading API's folds, computed where bench's are
from occmer.protocols.splits import sample_table
from occmer.store import OccmerFile, SplitSet
from occmer.store.reader import decode

FRAME_SELECTIONS = ("keyframes", "onset_apex", "all")
CHANNEL_CHOICES = (None, 1, 3)


def read_index(path: str | Path) -> pd.DataFrame:
    """/samples of an occmer file as a DataFrame (one row per clip, file order)."""
    with OccmerFile.open(path) as f:
        return sample_table(f)


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
    channels: channels of the returned frames: 1 (BT.601 luma), 3 (grey replicated), or None =
        as stored when every clip of the file has the same count, else 3; so the items of a file
        that mixes grey and colour clips (`synthesize --color keep`, files before --color) stack.
    Each item is a dict: sample_id, subject, label, and frames uint8 (T, C, H, W),
    landmarks float32 (K, 2) of the onset frame, x float32 (C, S, S), occlusion (1, S, S).
    Key frames and features have one size per file, so the default DataLoader collation
    batches them; frames="all" clips differ in T: pass `collate_fn=occmer.data.collate`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        labels: str = "emotion",
        frames: str | None = "keyframes",
        features: str | None = None,
        rows: Sequence[int] | None = None,
        channels: int | None = None,
    ) -> None:
        if frames is not None and frames not in FRAME_SELECTIONS:
            raise ConfigError(f"frames must be None or one of {', '.join(FRAME_SELECTIONS)}, got {frames!r}")
        if channels not in CHANNEL_CHOICES:
            raise ConfigError(f"channels must be 1, 3 or None, got {channels!r}")
        self.channels = channels
        self._out_channels = channels
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
            out["frames"] = frames_tensor(frames, self._frame_channels(f))
        if self.features is not None:
            x, occlusion = f.feature_row(self.features, row)  # checked finite, like bench's reads
            out["x"] = torch.from_numpy(x)
            if occlusion is not None:
                out["occlusion"] = torch.from_numpy(occlusion[None])
        return out

    def _frame_channels(self, f: OccmerFile) -> int:
        """The channel count of every returned clip (see `channels`), decided once per process."""
        if self._out_channels is None:
            self._out_channels = uniform_channels(f.frame_size(self.sample_ids[int(r)])[2] for r in self.rows)
        return self._out_channels

    def _frame_positions(self, f: OccmerFile, row: int, sid: str) -> list[int] | None:
        if self.frames == "all":
            return None
        cols = ("onset", "apex", "offset") if self.frames == "keyframes" else ("onset", "apex")
        return [f.position(sid, int(self.index[c].iloc[row]), c) for c in cols]


def uniform_channels(stored: Iterable[int]) -> int:
    """The channel count a file's clips share, 3 when grey and colour clips are mixed."""
    counts = set(stored)
    return counts.pop() if len(counts) == 1 else 3


def frames_tensor(frames: np.ndarray, channels: int) -> torch.Tensor:
    """uint8 (T, H, W, C) frames -> uint8 tensor (T, channels, H, W)."""
    converted = to_channels(frames, channels)
    return torch.from_numpy(np.ascontiguousarray(converted.transpose(0, 3, 1, 2)))


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """DataLoader `collate_fn` for OccmerDataset items of any `frames` mode.

    Clips shorter than the longest of the batch are padded at the end with zero frames:
    "frames" is uint8 (B, T_max, C, H, W), "frame_mask" bool (B, T_max) is True on real frames,
    "n_frames" int64 (B,) the real lengths. Everything else is collated as PyTorch does
    (tensors stacked, strings listed). Frames of different H, W or C raise a ConfigError
    naming two samples (e.g. files written with --no-align from databases of other sizes).
    """
    if not items or "frames" not in items[0]:
        return default_collate(list(items))
    clips = [item["frames"] for item in items]
    shapes = {tuple(c.shape[1:]) for c in clips}
    if len(shapes) > 1:
        first = items[0]
        other = next(i for i in items if tuple(i["frames"].shape[1:]) != tuple(first["frames"].shape[1:]))
        raise ConfigError(
            f"cannot batch frames of different sizes: {first['sample_id']} has (C, H, W) "
            f"{tuple(first['frames'].shape[1:])}, {other['sample_id']} {tuple(other['frames'].shape[1:])}; "
            "use OccmerDataset(channels=...) for channels, or a file aligned to one --size"
        )
    lengths = torch.tensor([c.shape[0] for c in clips], dtype=torch.int64)
    padded = clips[0].new_zeros((len(clips), int(lengths.max()), *clips[0].shape[1:]))
    for i, clip in enumerate(clips):
        padded[i, : clip.shape[0]] = clip
    rest = default_collate([{k: v for k, v in item.items() if k != "frames"} for item in items])
    mask = torch.arange(padded.shape[1])[None, :] < lengths[:, None]
    return {**rest, "frames": padded, "frame_mask": mask, "n_frames": lengths}


__all__ = [
    "OccmerDataset", "Split", "SplitSet", "collate", "decode", "frames_tensor", "label_indices", "loso_splits",
    "read_index", "read_splits", "stored_protocols", "uniform_channels",
]
