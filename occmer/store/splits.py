"""/splits/<protocol>/ in occmer files: the evaluation folds, stored so that any HDF5 reader gets them.

Every protocol's folds as plain arrays and strings (docs/hdf5-format.md): per sample, the
fold in which it is tested (-1: not in the protocol) and its class (-1: none), the fold and
class names, the label scheme and whether an official list decided the membership. Only
integer and UTF-8 string datasets and scalar attributes are used, so MATLAB, R and h5dump
read them as they are. The protocol logic lives elsewhere (occmer.protocols.splits computes
these from the /samples table); this module only writes and checks the layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from occmer import __version__
from occmer.labels import LABEL_SCHEMES, label_of
from occmer.store import checks, schema
from occmer.store.checks import Bad

FOLD = "test_fold"
FOLD_NAMES = "fold_names"
LABEL = "label"
CLASS_NAMES = "class_names"
SAMPLE_ID = "sample_id"
MAX_NAME_LENGTH = 256
DEFINITION = (
    "one subgroup per protocol; test_fold[i] = index into fold_names of the fold that tests /samples row i "
    "(-1: not in the protocol); a fold trains on every other member (test_fold >= 0 and != that fold); "
    "label[i] = index into class_names (-1: not in the protocol)"
)


@dataclass
class SplitSet:
    """One protocol's folds over a file's /samples rows (row i of every array is /samples row i)."""

    protocol: str
    test_fold: np.ndarray  # int32 (N,): index into fold_names, -1 = not in the protocol
    fold_names: list[str]
    label: np.ndarray  # int32 (N,): index into class_names, -1 = not in the protocol
    class_names: list[str]
    label_scheme: str
    official: bool  # membership decided by the protocol's official list (else by the published rules)
    attrs: dict[str, Any] = field(default_factory=dict)  # description, split, membership_source, ...

    @property
    def members(self) -> np.ndarray:
        """Row positions in the protocol."""
        return np.flatnonzero(self.test_fold >= 0)

    def folds(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(fold name, train rows, test rows) per fold, in fold_names order; rows are /samples positions."""
        members = self.test_fold >= 0
        return [(name, np.flatnonzero(members & (self.test_fold != i)), np.flatnonzero(self.test_fold == i))
                for i, name in enumerate(self.fold_names)]

    def class_of(self, row: int) -> str:
        """The class name of /samples row `row` ("" when it is not in the protocol)."""
        code = int(self.label[row])
        return self.class_names[code] if code >= 0 else ""


def _strings(group: h5py.Group, name: str, values: list[str]) -> None:
    group.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype("utf-8"))


def write_split_group(f: h5py.File, sets: list[SplitSet], sample_ids: list[str]) -> None:
    """Write /splits (replacing any) from `sets`: built under a temporary name, then renamed.

    `f` is an h5py file open for writing whose /samples rows are `sample_ids`.
    """
    for split in sets:
        problems = split_problems_of(split, len(sample_ids))
        if problems:
            raise ValueError(f"/{schema.SPLITS}/{split.protocol}: {problems[0]}")
    tmp = schema.FEATURE_TMP_PREFIX + schema.SPLITS
    if tmp in f:
        del f[tmp]
    root = f.create_group(tmp)
    root.attrs["definition"] = DEFINITION
    root.attrs["occmer_version"] = __version__
    for split in sets:
        group = root.create_group(split.protocol)
        group.create_dataset(FOLD, data=np.asarray(split.test_fold, dtype=np.int32))
        group.create_dataset(LABEL, data=np.asarray(split.label, dtype=np.int32))
        _strings(group, FOLD_NAMES, list(split.fold_names))
        _strings(group, CLASS_NAMES, list(split.class_names))
        _strings(group, SAMPLE_ID, list(sample_ids))
        for key, value in split.attrs.items():
            group.attrs[key] = value
        group.attrs["protocol"] = split.protocol
        group.attrs["label_scheme"] = split.label_scheme
        group.attrs["official"] = np.int8(1 if split.official else 0)  # an integer: every reader knows it
        group.attrs["n_folds"] = np.int32(len(split.fold_names))
        group.attrs["n_members"] = np.int32(int((np.asarray(split.test_fold) >= 0).sum()))
    if schema.SPLITS in f:
        del f[schema.SPLITS]
    f.move(tmp, schema.SPLITS)


def split_problems_of(split: SplitSet, n: int) -> list[str]:
    """What is wrong with an in-memory SplitSet for a file of `n` rows (empty: nothing)."""
    problems = []
    fold, label = np.asarray(split.test_fold), np.asarray(split.label)
    if fold.shape != (n,) or label.shape != (n,):
        problems.append(f"test_fold {fold.shape} and label {label.shape} must both have one entry per sample ({n})")
    elif fold.min(initial=-1) < -1 or fold.max(initial=-1) >= len(split.fold_names):
        problems.append(f"test_fold values must lie in -1..{len(split.fold_names) - 1}")
    elif label.min(initial=-1) < -1 or label.max(initial=-1) >= len(split.class_names):
        problems.append(f"label values must lie in -1..{len(split.class_names) - 1}")
    elif np.any((fold >= 0) != (label >= 0)):
        problems.append("a sample in the protocol (test_fold >= 0) must have a class, and only those")
    return problems


def split_table_problems(split: SplitSet, table: Mapping[str, Sequence[Any]]) -> list[str]:
    """What makes well-shaped folds unusable against the /samples rows they index (empty: nothing).

    Every protocol occmer stores is subject-independent and tests each member once: at least two
    folds, each testing and training on some member, no subject in two folds (it would sit on both
    sides of a fold), and each member's class the one its /samples row gives under the label
    scheme. Checked by every reader (OccmerFile.split, verify), so no consumer of the folds (bench,
    export, read_splits) trains on leaked or relabelled data.
    """
    fold = np.asarray(split.test_fold)
    members = np.flatnonzero(fold >= 0)
    if len(split.fold_names) < 2:
        return [f"{len(split.fold_names)} fold(s); a protocol needs at least 2 (each fold trains on the others)"]
    for i, name in enumerate(split.fold_names):
        tested = int(np.count_nonzero(fold == i))
        if tested == 0 or tested == members.size:
            side = "tests no member" if tested == 0 else "tests every member, so it trains on none"
            return [f"fold {name!r} {side}; rewrite the splits with `occmer splits FILE --overwrite`"]
    subjects = [str(s) for s in table["subject"]]
    fold_of: dict[str, int] = {}
    for row in members:
        first = fold_of.setdefault(subjects[row], int(fold[row]))
        if first != int(fold[row]):
            return [f"subject {subjects[row]} is tested in folds {split.fold_names[first]!r} and "
                    f"{split.fold_names[int(fold[row])]!r}, so it trains and tests in the same fold; rewrite the "
                    "splits with `occmer splits FILE --overwrite`"]
    if split.label_scheme not in LABEL_SCHEMES:
        return [f"label_scheme {split.label_scheme!r} is not one of {', '.join(LABEL_SCHEMES)}"]
    ids = table["sample_id"]
    for row in members:
        record = {column: values[row] for column, values in table.items()}
        expected = label_of(record, split.label_scheme)
        stored = split.class_of(int(row))
        if stored != expected:
            return [f"sample {ids[row]}: class {stored!r} in the splits but {expected!r} from its /samples row under "
                    f"{split.label_scheme}; rewrite the splits with `occmer splits FILE --overwrite`"]
    return []


def split_names(f: h5py.File) -> list[str]:
    """The protocols stored under /splits, sorted (Bad if /splits is not a plain group)."""
    root = checks.subgroup(f, schema.SPLITS, f"/{schema.SPLITS}", required=False)
    if root is None:
        return []
    return sorted(name for name in root if not name.startswith(schema.FEATURE_TMP_PREFIX))


def _int_vector(group: h5py.Group, name: str, where: str, n: int) -> np.ndarray:
    ds = checks.dataset(group, name, f"{where}/{name}")
    if ds.dtype.kind not in "iu" or ds.shape != (n,):
        raise Bad(f"{where}/{name}: expected integers of shape ({n},), found {ds.dtype} {ds.shape}")
    return np.asarray(ds[()], dtype=np.int64)


def _string_vector(group: h5py.Group, name: str, where: str, max_rows: int) -> list[str]:
    ds = checks.dataset(group, name, f"{where}/{name}")
    if ds.dtype.kind not in "OS" or len(ds.shape) != 1 or ds.shape[0] > max_rows:
        raise Bad(f"{where}/{name}: expected at most {max_rows} strings, found {ds.dtype} {ds.shape}")
    values = checks.decode_strings(ds[()], f"{where}/{name}")
    if any(len(v) > MAX_NAME_LENGTH for v in values):
        raise Bad(f"{where}/{name}: a name longer than {MAX_NAME_LENGTH} characters")
    return values


def read_split(f: h5py.File, protocol: str, table: Mapping[str, Sequence[Any]]) -> SplitSet:
    """/splits/<protocol> checked against the /samples table (checks.samples_table): row ids, shapes,
    and split_table_problems. Bad naming the dataset otherwise."""
    where = f"/{schema.SPLITS}/{protocol}"
    root = checks.subgroup(f, schema.SPLITS, f"/{schema.SPLITS}")
    group = checks.subgroup(root, protocol, where)
    sample_ids = list(table["sample_id"])
    n = len(sample_ids)
    ids = _string_vector(group, SAMPLE_ID, where, n)
    if ids != list(sample_ids):
        raise Bad(f"{where}/{SAMPLE_ID}: rows do not follow /samples (the table changed after the splits were "
                  "written); rewrite them with `occmer splits FILE --overwrite`")
    fold_names = _string_vector(group, FOLD_NAMES, where, max(n, 1))
    class_names = _string_vector(group, CLASS_NAMES, where, max(n, 1))
    attrs = {key: checks.plain(checks.attr(group, key, where)) for key in group.attrs}
    scheme = checks.text(checks.attr(group, "label_scheme", where))
    official = attrs.get("official")
    if scheme is None or not checks.is_int(official):
        raise Bad(f"{where}: attributes label_scheme (a string) and official (0 or 1) are required")
    split = SplitSet(protocol, _int_vector(group, FOLD, where, n).astype(np.int32), fold_names,
                     _int_vector(group, LABEL, where, n).astype(np.int32), class_names, scheme, bool(official),
                     attrs)
    problems = split_problems_of(split, n) or split_table_problems(split, table)
    if problems:
        raise Bad(f"{where}: {problems[0]}")
    return split


def split_group_problems(f: h5py.File, table: Mapping[str, Sequence[Any]]) -> list[str]:
    """Every problem of /splits (for `occmer verify`), one line each."""
    try:
        names = split_names(f)
    except Bad as exc:
        return [str(exc)]
    problems = []
    for name in names:
        try:
            read_split(f, name, table)
        except Bad as exc:
            problems.append(str(exc))
    return problems
