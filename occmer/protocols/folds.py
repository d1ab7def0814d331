"""Folds: which row positions of a sample table train and which test, with no subject on both sides.

Pure numpy/pandas (no torch), so the protocols, the file writers, `occmer export` and the
loading API (occmer.data re-exports `Split` and `loso_splits`) share one fold computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from occmer.errors import BenchError
from occmer.seeding import sample_rng


@dataclass(frozen=True)
class Fold:
    """One train/test split: positions into the protocol's sample table."""

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


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


def loso_folds(table: pd.DataFrame) -> list[Fold]:
    """Leave one subject out: one fold per (namespaced) subject, in sorted subject order."""
    splits = loso_splits(table)
    if len(splits) < 2:
        raise BenchError(f"leave-one-subject-out needs at least 2 subjects; the data has {len(splits)}")
    return [Fold(name=split.test_subject, train=split.train, test=split.test) for split in splits]


def holdout_folds(table: pd.DataFrame) -> list[Fold]:
    """Holdout database: train on one database, test on another, every ordered pair."""
    databases = table["database"].astype(str).to_numpy()
    unique = sorted(set(databases))
    if len(unique) < 2:
        raise BenchError(f"holdout-database evaluation needs 2 databases; the data has {unique}")
    positions = np.arange(len(table))
    return [
        Fold(name=f"{train}->{test}", train=positions[databases == train], test=positions[databases == test])
        for train in unique
        for test in unique
        if train != test
    ]


SPLITS = {"loso": loso_folds, "holdout": holdout_folds}


def carve_validation(fold: Fold, subjects: Sequence[str], k: int, seed: int) -> Fold:
    """Move the samples of `k` training subjects (drawn with a seeded generator) to a validation set."""
    if k <= 0:
        return fold
    subjects = np.asarray(subjects, dtype=object)
    train_subjects = sorted(set(subjects[fold.train]))
    if k >= len(train_subjects):
        raise BenchError(
            f"fold {fold.name}: --val-subjects {k} leaves no training subject (only {len(train_subjects)}); "
            "lower --val-subjects"
        )
    rng = sample_rng(seed, fold.name, "val-subjects")
    chosen = set(rng.choice(np.asarray(train_subjects, dtype=object), size=k, replace=False).tolist())
    in_val = np.array([subjects[i] in chosen for i in fold.train], dtype=bool)
    return Fold(name=fold.name, train=fold.train[~in_val], test=fold.test, val=fold.train[in_val])


def check_disjoint(folds: Sequence[Fold], subjects: Sequence[str]) -> None:
    """Fail loudly if any subject sits on both sides of a fold (a bug, never a user error)."""
    subjects = np.asarray(subjects, dtype=object)
    for fold in folds:
        leaked = (set(subjects[fold.train]) | set(subjects[fold.val])) & set(subjects[fold.test])
        if leaked:
            raise BenchError(f"fold {fold.name}: subjects {sorted(leaked)} are in both train and test")
