"""Evaluation protocols: which samples take part, with which labels, split into which folds.

A protocol is pure: it reads a table with one row per sample (columns `sample_id`,
`database`, `subject`, `label`) and returns folds of row positions. Subjects are namespaced
by database, so no person is ever on both sides of a fold. Selection on the test side is
impossible by construction: a fold's optional validation subjects are carved from its
training subjects only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from occmer.errors import BenchError
from occmer.seeding import sample_rng

MEGC2018_DATABASES = ("casme2", "samm")
MEGC2019_DATABASES = ("smic-hs", "casme2", "samm")
# The demo database is written in the CASME II layout and stands in for it (occmer.labels.RULE_FAMILY).
DATABASE_ALIASES = {"demo": "casme2"}


@dataclass(frozen=True)
class Fold:
    """One train/test split: positions into the protocol's sample table."""

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Protocol:
    """How a published evaluation selects samples and builds folds."""

    name: str
    description: str
    label_scheme: str | None  # forced scheme, or None to follow --labels
    databases: tuple[str, ...] | None  # databases required/kept, None = all in the data
    split: str  # "loso" | "holdout"

    def select(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows that take part: labelled under the scheme, and from the protocol's databases."""
        rows = table[table["label"].astype(str) != ""]
        if self.databases is not None:
            keep = rows["database"].astype(str).map(lambda d: DATABASE_ALIASES.get(d, d)).isin(self.databases)
            rows = rows[keep]
        if rows.empty:
            raise BenchError(
                f"protocol {self.name}: no sample of the data ({', '.join(sorted(set(table['database'])))}) "
                f"has a label under this scheme{' in ' + ', '.join(self.databases) if self.databases else ''}; "
                "check --labels and the --data files"
            )
        if self.split == "holdout" and rows["database"].nunique() < 2:
            raise BenchError(
                f"protocol {self.name} trains on one database and tests on another, but the labelled data "
                f"holds only {sorted(set(rows['database']))}; pass one --data file per database "
                f"(or a merged file written with --db {'+'.join(self.databases or ())})"
            )
        return rows.reset_index(drop=True)

    def folds(self, table: pd.DataFrame) -> list[Fold]:
        """Folds over `table` (already selected): positions are row numbers of `table`."""
        return SPLITS[self.split](table)


def loso_folds(table: pd.DataFrame) -> list[Fold]:
    """Leave one subject out: one fold per (namespaced) subject, in sorted subject order."""
    from occmer.data import loso_splits  # the loader's folds; imported here to keep torch out of CLI start-up

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

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("loso", "leave one subject out over every subject of the data", None, None, "loso"),
        Protocol(
            "megc2018-cde",
            "MEGC 2018 composite-database evaluation: objective classes I-V, LOSO over CASME II + SAMM subjects",
            "megc2018", MEGC2018_DATABASES, "loso",
        ),
        Protocol(
            "megc2018-hde",
            "MEGC 2018 holdout-database evaluation: objective classes I-V, train CASME II test SAMM and back",
            "megc2018", MEGC2018_DATABASES, "holdout",
        ),
        Protocol(
            "megc2019",
            "MEGC 2019 composite: negative/positive/surprise, LOSO over SMIC-HS + CASME II + SAMM subjects",
            "megc2019", MEGC2019_DATABASES, "loso",
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    """The protocol registered under `name`, or a ConfigError-like BenchError listing the choices."""
    if name not in PROTOCOLS:
        raise BenchError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


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
