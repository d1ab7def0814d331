"""The folds of every protocol, computed once from a /samples table and stored in the file.

`compute_splits` runs the protocols of occmer.protocols (the only protocol logic) on a
file's sample table and returns one `SplitSet` per protocol that applies to its data; the
store writes them under /splits (docs/hdf5-format.md), so MATLAB, R or another framework read
the same folds as occmer. `compute_split` gives `occmer export` the folds of a file that stores none;
`stored_folds` gives bench the folds a condition's files store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from occmer import __version__
from occmer.errors import BenchError, StoreError
from occmer.labels import label_of
from occmer.official import canonical_database
from occmer.protocols import DATABASE_ALIASES, PROTOCOLS, Protocol, class_list, protocol_scheme
from occmer.protocols.folds import Fold
from occmer.store import OccmerFile, SplitSet


def sample_table(f: OccmerFile) -> pd.DataFrame:
    """/samples of an open occmer file as a DataFrame, one row per clip in file order: what protocols read."""
    return pd.DataFrame(f.columns())


def applies(protocol: Protocol, databases: set[str]) -> bool:
    """A protocol applies when it takes any database, or the data holds one of its databases."""
    if protocol.databases is None:
        return True
    return any(DATABASE_ALIASES.get(d, d) in protocol.databases for d in databases)


def compute_split(protocol: Protocol, table: pd.DataFrame) -> SplitSet | None:
    """The protocol's folds over `table` (`sample_table`'s columns), or None when its logic does not apply.

    None when the data holds too little for it (one subject, one database for a holdout protocol,
    no labelled sample) or when one sample would be tested in two folds (a holdout protocol over
    three databases), which one integer per sample cannot say.
    """
    scheme = protocol_scheme(protocol)
    labelled = table.copy()
    labelled["label"] = [label_of(row, scheme) for row in table.to_dict("records")]
    labelled["row"] = np.arange(len(table))
    try:
        selected = protocol.select(labelled, allow_partial=True)
        folds: list[Fold] = protocol.folds(selected)
    except BenchError:
        return None
    classes = class_list(scheme, list(selected["label"]))
    if len(folds) < 2 or len(classes) < 1:
        return None
    rows = selected["row"].to_numpy()
    test_fold = np.full(len(table), -1, dtype=np.int32)
    everyone = np.arange(len(selected))
    for i, fold in enumerate(folds):
        others = np.setdiff1d(everyone, fold.test)
        if np.any(test_fold[rows[fold.test]] >= 0) or not np.array_equal(np.sort(fold.train), others):
            return None  # not "test these, train on every other member": one integer per sample cannot say it
        test_fold[rows[fold.test]] = i
    if np.any(test_fold[rows] < 0):
        return None
    lookup = {c: i for i, c in enumerate(classes)}
    label = np.full(len(table), -1, dtype=np.int32)
    label[rows] = [lookup[c] for c in selected["label"]]
    membership = protocol.membership(labelled)
    official = bool(membership.checked)
    return SplitSet(
        protocol=protocol.name, test_fold=test_fold, fold_names=[f.name for f in folds], label=label,
        class_names=classes, label_scheme=scheme, official=official,
        attrs={
            "description": protocol.description,
            "split": protocol.split,
            "membership_source": membership.source if official else "the published rules on the stored labels",
            "membership": json.dumps(membership.as_dict(), sort_keys=True),
            "occmer_version": __version__,
        },
    )


def compute_splits(columns: Mapping[str, Sequence[Any]] | pd.DataFrame) -> list[SplitSet]:
    """Every protocol's SplitSet that applies to a /samples table ({column: values} or a DataFrame)."""
    table = columns if isinstance(columns, pd.DataFrame) else pd.DataFrame({k: list(v) for k, v in columns.items()})
    if table.empty:
        return []
    databases = {canonical_database(str(d)) for d in table["database"]}
    out = []
    for protocol in PROTOCOLS.values():
        if applies(protocol, databases):
            split = compute_split(protocol, table)
            if split is not None:
                out.append(split)
    return out


def add_splits(path: Path, overwrite: bool = False) -> list[str]:
    """`occmer splits FILE`: compute every applicable protocol's folds and store them; the names written.

    A file that already stores splits keeps them unless `overwrite` (they are what others used).
    """
    path = Path(path)
    with OccmerFile.open(path) as f:
        existing = f.split_names()
        if existing and not overwrite:
            raise StoreError(f"{path} already stores splits ({', '.join(existing)}); pass --overwrite to recompute "
                             "them with this occmer")
        table = sample_table(f)
    sets = compute_splits(table)
    if not sets:
        raise BenchError(f"{path}: no protocol applies to its data (fewer than 2 labelled subjects?)")
    with OccmerFile.open(path, mode="r+") as f:
        f.write_splits(sets)
    return [s.protocol for s in sets]


def stored_folds(files: Sequence[str | Path], protocol: Protocol, scheme: str,
                 table: pd.DataFrame) -> tuple[list[Fold], str] | None:
    """Folds over `table` (the protocol's selected rows) from the /splits its files store, or None.

    None when a file stores no splits for the protocol, or stores them under another label scheme
    (e.g. `--labels objective` with loso, or `--membership rules`): bench then computes the folds
    as before. Stored splits whose members or classes differ from the selection are an error
    naming the first sample: the file and this occmer disagree about the protocol.
    """
    by_id: dict[str, tuple[str, str]] = {}  # sample id -> (fold name, class name)
    sources = []
    for path in files:
        path = Path(path)
        if not path.is_file():
            return None
        with OccmerFile.open(path) as f:
            if protocol.name not in f.split_names():
                return None
            split = f.split(protocol.name)
            ids = f.sample_ids
        if split.label_scheme != scheme:
            return None
        for row in split.members:
            by_id[ids[row]] = (split.fold_names[int(split.test_fold[row])], split.class_of(int(row)))
        sources.append(str(path))
    sample_ids = [str(s) for s in table["sample_id"]]
    fix = "recompute them with `occmer splits FILE --overwrite`, or use a file written by this occmer"
    missing = [sid for sid in sample_ids if sid not in by_id]
    if missing:
        raise BenchError(f"sample {missing[0]} is in protocol {protocol.name} but not in the splits stored in "
                         f"{', '.join(sources)} ({len(missing)} such samples); {fix}")
    extra = sorted(set(by_id) - set(sample_ids))
    if extra:
        raise BenchError(f"sample {extra[0]} is in the splits of protocol {protocol.name} stored in "
                         f"{', '.join(sources)} but not selected by this occmer ({len(extra)} such samples); {fix}")
    for sid, label in zip(sample_ids, table["label"].astype(str), strict=True):
        if by_id[sid][1] != label:
            raise BenchError(f"sample {sid}: class {by_id[sid][1]!r} in the stored splits of {protocol.name}, "
                             f"{label!r} under --labels {scheme}; {fix}")
    names = np.array([by_id[sid][0] for sid in sample_ids], dtype=object)
    positions = np.arange(len(sample_ids))
    folds = [Fold(name=str(name), train=positions[names != name], test=positions[names == name])
             for name in sorted(set(names))]
    return folds, f"stored: /splits/{protocol.name} of {', '.join(sources)}"
