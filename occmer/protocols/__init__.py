"""Evaluation protocols: which samples take part, with which labels, split into which folds.

A protocol is pure: it reads a table with one row per sample (columns `sample_id`,
`database`, `subject`, `label`) and returns folds of row positions. Subjects are namespaced
by database, so no person is ever on both sides of a fold. Selection on the test side is
impossible by construction: a fold's optional validation subjects are carved from its
training subjects only.

This package sits below both `occmer.bench` and `occmer.export` and needs no torch: the folds
themselves are in `occmer.protocols.folds`, the folds stored in files (/splits) in
`occmer.protocols.splits`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from occmer.errors import BenchError
from occmer.labels import classes as scheme_classes
from occmer.official import DATABASE_ALIASES as NAME_ALIASES
from occmer.official import RULE_STAND_INS, OfficialList, canonical_database, clip_key, official_list
from occmer.protocols.folds import SPLITS, Fold, carve_validation, check_disjoint, holdout_folds, loso_folds

MEGC2018_DATABASES = ("casme2", "samm")
MEGC2019_DATABASES = ("smic-hs", "casme2", "samm")
# The demo database is written in the CASME II layout and stands in for it (occmer.labels.RULE_FAMILY):
# it follows CASME II's rules, never the official list.
DATABASE_ALIASES = dict(RULE_STAND_INS)
# The label scheme of a protocol that follows --labels (loso) when none is given: bench's default.
DEFAULT_SCHEME = "emotion"


@dataclass
class Membership:
    """Which samples a protocol takes, against its official list, and what it leaves out and why."""

    protocol: str
    source: str  # the official list's description, or "published rules"
    expected: int = 0  # clips the official list holds for the databases checked
    present: int = 0
    missing: list[str] = field(default_factory=list)  # official clips absent from the data, by name
    checked: tuple[str, ...] = ()  # databases whose membership the official list decided
    absent: tuple[str, ...] = ()  # databases of the list the data does not hold at all
    left_out: Counter = field(default_factory=Counter)  # (database, reason) -> samples left out

    @property
    def complete(self) -> bool:
        return not self.missing

    def headline(self) -> str:
        if not self.checked:
            return f"protocol {self.protocol}: membership by {self.source}"
        text = f"protocol {self.protocol}: official list: {self.present}/{self.expected} present"
        named = [m for m in self.missing if m.split("/", 1)[0] not in self.absent]
        parts = [f"all {sum(m.startswith(d + '/') for m in self.missing)} {d} clips" for d in self.absent]
        if named:
            parts.append(", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else ""))
        if parts:
            text += f"; missing: {'; '.join(parts)}"
        return text

    def lines(self) -> list[str]:
        """The headline, then one line per (database, reason) of samples left out."""
        out = [self.headline()]
        for (database, reason), count in sorted(self.left_out.items()):
            out.append(f"  left out: {database}: {count} ({reason})")
        return out

    def as_dict(self) -> dict:
        return {
            "protocol": self.protocol, "source": self.source, "expected": self.expected, "present": self.present,
            "missing": list(self.missing), "checked_databases": list(self.checked),
            "absent_databases": list(self.absent),
            "left_out": [{"database": d, "reason": r, "samples": n} for (d, r), n in sorted(self.left_out.items())],
        }


@dataclass(frozen=True)
class Protocol:
    """How a published evaluation selects samples and builds folds."""

    name: str
    description: str
    label_scheme: str | None  # forced scheme, or None to follow --labels
    databases: tuple[str, ...] | None  # databases required/kept, None = all in the data
    split: str  # "loso" | "holdout"
    official: str | None = None  # the shipped membership table (occmer.official) that decides, if any

    def expected_databases(self) -> tuple[str, ...]:
        """The canonical database names this protocol takes (empty: any)."""
        return tuple(self.databases or ())

    def official_list(self) -> OfficialList | None:
        return official_list(self.official) if self.official else None

    def membership(self, table: pd.DataFrame) -> Membership:
        """Official-list membership of `table` (columns database, subject, filename, label) and what is left out.

        The list is checked for the databases of the list that the data holds under any of their
        names; a database it does not cover (the demo, standing in for CASME II) follows the rules.
        """
        listed = self.official_list()
        databases = table["database"].astype(str).map(canonical_database)
        labels = table["label"].astype(str)
        covered = sorted({d for d in databases if listed is not None and listed.covers(d)})
        source = "the label scheme (no official list)" if listed is None else (
            listed.source if covered else "the published rules (no database of the official list in the data)")
        result = Membership(self.name, source, checked=tuple(covered))
        if covered and "filename" not in table.columns:
            raise BenchError(f"protocol {self.name}: the data has no filename column, so its clips cannot be "
                             "matched to the official list; rewrite the files with this occmer")
        if covered:  # the list applies: every clip of it is expected, of every database it covers
            have = {clip_key(d, s, f) for d, s, f in zip(databases, table["subject"].astype(str),
                                                          table["filename"].astype(str), strict=True)}
            result.checked = listed.databases
            result.expected = len(listed.clips)
            result.missing = [str(c) for c in listed.clips if c.key not in have]
            result.present = result.expected - len(result.missing)
            result.absent = tuple(d for d in listed.databases if d not in covered)
        expected = set(self.expected_databases())
        for database, label in zip(databases, labels, strict=True):
            family = DATABASE_ALIASES.get(database, database)
            if expected and family not in expected:
                reason = f"database {database!r} is not one of {', '.join(sorted(expected))}"
            elif label != "":
                continue
            elif database in covered:
                reason = "not on the official list"
            else:
                reason = f"no label under {self.label_scheme or 'the label scheme'}"
            result.left_out[(database, reason)] += 1
        return result

    def select(self, table: pd.DataFrame, allow_partial: bool = True) -> pd.DataFrame:
        """The rows that take part: labelled under the scheme, and from the protocol's databases.

        With an official list, a data set short of listed clips is refused unless `allow_partial`
        (the CLI passes False by default: `--allow-partial`).
        """
        if self.official and not allow_partial:
            membership = self.membership(table)
            if not membership.complete:
                raise BenchError(
                    f"{membership.headline()}; the protocol is only comparable on the whole list: add the missing "
                    "clips (synthesize every database of the protocol), or pass --allow-partial (recorded in "
                    "config.json and the table title)"
                )
        databases = table["database"].astype(str).map(canonical_database)
        rows = table[table["label"].astype(str) != ""]
        if self.databases is not None:
            keep = databases[rows.index].map(lambda d: DATABASE_ALIASES.get(d, d)).isin(self.databases)
            rows = rows[keep]
        if rows.empty:
            held = ", ".join(sorted(set(table["database"].astype(str))))
            unknown = sorted({d for d in databases if self.databases and DATABASE_ALIASES.get(d, d)
                              not in self.databases})
            names = (f"; it expects databases named {', '.join(self.databases)} (also written "
                     f"{', '.join(sorted(a for a, c in NAME_ALIASES.items() if c in self.databases and a != c))})"
                     if self.databases else "")
            raise BenchError(
                f"protocol {self.name}: no sample of the data ({held}) has a label under this scheme"
                f"{' in ' + ', '.join(self.databases) if self.databases else ''}{names}"
                f"{'; unknown here: ' + ', '.join(unknown) if unknown else ''}; check --labels and the --data files"
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


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("loso", "leave one subject out over every subject of the data", None, None, "loso"),
        Protocol(
            "megc2018-cde",
            "MEGC 2018 composite-database evaluation: objective classes I-V, LOSO over CASME II + SAMM subjects",
            "megc2018", MEGC2018_DATABASES, "loso", official="megc2018",
        ),
        Protocol(
            "megc2018-hde",
            "MEGC 2018 holdout-database evaluation: objective classes I-V, train CASME II test SAMM and back",
            "megc2018", MEGC2018_DATABASES, "holdout", official="megc2018",
        ),
        Protocol(
            "megc2019",
            "MEGC 2019 composite: negative/positive/surprise, LOSO over SMIC-HS + CASME II + SAMM subjects",
            "megc2019", MEGC2019_DATABASES, "loso", official="megc2019",
        ),
    )
}


def protocol_scheme(protocol: Protocol) -> str:
    """The label scheme a protocol's folds and classes are computed under: its own, else DEFAULT_SCHEME."""
    return protocol.label_scheme or DEFAULT_SCHEME


def protocol_databases(name: str) -> tuple[str, ...]:
    """The canonical database names a protocol expects (empty for protocols that take any database)."""
    return get_protocol(name).expected_databases()


def database_for_protocol(name: str, protocol: str) -> str:
    """A database name as a file writes it ("smic", "CASME II") -> the canonical name `protocol` expects.

    For importers of other tools' files: BenchError naming the expected names when it is none of them.
    """
    canonical = canonical_database(name.replace(" ", ""))
    expected = protocol_databases(protocol)
    if expected and DATABASE_ALIASES.get(canonical, canonical) not in expected:
        raise BenchError(
            f"database {name!r} is not one protocol {protocol} uses; it expects {', '.join(expected)} "
            f"(also written {', '.join(sorted(a for a, c in NAME_ALIASES.items() if c in expected and a != c))})"
        )
    return canonical


def get_protocol(name: str) -> Protocol:
    """The protocol registered under `name`, or a ConfigError-like BenchError listing the choices."""
    if name not in PROTOCOLS:
        raise BenchError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def class_list(scheme: str, labels: Sequence[str]) -> list[str]:
    """The scheme's classes that occur in the data, in canonical order (unknown labels after, sorted)."""
    present = set(labels)
    canonical = scheme_classes(scheme)
    return [c for c in canonical if c in present] + sorted(present - set(canonical))


__all__ = [
    "DATABASE_ALIASES", "DEFAULT_SCHEME", "MEGC2018_DATABASES", "MEGC2019_DATABASES", "PROTOCOLS", "SPLITS", "Fold",
    "Membership", "Protocol", "carve_validation", "check_disjoint", "class_list", "database_for_protocol",
    "get_protocol", "holdout_folds", "loso_folds", "protocol_databases", "protocol_scheme",
]
