"""Official protocol membership: which clips a challenge used, with which label, shipped as data.

A published benchmark can only be compared with when it runs on exactly the clips the
challenge listed, whatever release of a sheet the user holds. The lists are facts about the
challenges (database, subject, clip, label), kept as small CSV files next to this module:

- `megc2019_composite.csv`: the official MEGC 2019 composite list (442 clips of SMIC-HS,
  CASME II and SAMM; labels negative / positive / surprise), as the challenge organisers
  published it (Facial-Micro-ExpressionGC/MEGC2019, images/combined_3class_gt.csv; labels
  0/1/2 written as names, database `smic` as occmer's `smic-hs`).
- `megc2018_objective.csv`: MEGC 2018 (objective classes I-V of CASME II and SAMM). No public
  list was found, so it is the challenge's rule applied to the classes the databases ship
  (CASME II coding sheet 2019-07-01 `Objective Classes`, SAMM v2 `Objective Classes`).

Clips are matched on a normalised key (lower case, digit runs read as numbers), so `s01_ne_01`
matches SMIC's folder `s1_ne_01` and SAMM subject `6` matches folder `006`.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

# Names a file may give a database, mapped to occmer's registry names. MEGC lists write SMIC-HS
# as "smic"; the demo database is written in the CASME II layout and follows CASME II's rules.
DATABASE_ALIASES: dict[str, str] = {
    "smic": "smic-hs", "smichs": "smic-hs", "smic_hs": "smic-hs", "smic-hs": "smic-hs",
    "casme2": "casme2", "casmeii": "casme2", "casme_2": "casme2", "casme_ii": "casme2", "casme-ii": "casme2",
    "samm": "samm",
}
RULE_STAND_INS: dict[str, str] = {"demo": "casme2"}  # follows another database's rules, never its list

_DIGITS = re.compile(r"\d+")


def canonical_database(name: str) -> str:
    """occmer's name for a database name as files write it ("smic" -> "smic-hs"); unknown names unchanged."""
    cleaned = str(name).strip().lower()
    return DATABASE_ALIASES.get(cleaned, cleaned)


def key_part(text: str) -> str:
    """A subject or clip name for matching: lower case, no namespace, digit runs without leading zeros."""
    base = str(text).strip().lower().rsplit("/", 1)[-1]
    return _DIGITS.sub(lambda m: str(int(m.group())), base)


def clip_key(database: str, subject: str, filename: str) -> tuple[str, str, str]:
    """The key two spellings of one clip share: ("samm", "6", "6_1_2") for samm/006/006_1_2."""
    return canonical_database(database), key_part(subject), key_part(filename)


@dataclass(frozen=True)
class OfficialClip:
    database: str
    subject: str
    filename: str
    label: str

    @property
    def key(self) -> tuple[str, str, str]:
        return clip_key(self.database, self.subject, self.filename)

    def __str__(self) -> str:
        return f"{self.database}/{self.subject}/{self.filename}"


@dataclass(frozen=True)
class OfficialList:
    """A protocol's membership: the clips, their labels, the databases the list covers and its source."""

    name: str
    source: str
    clips: tuple[OfficialClip, ...]

    @functools.cached_property
    def by_key(self) -> dict[tuple[str, str, str], OfficialClip]:
        return {clip.key: clip for clip in self.clips}

    @property
    def databases(self) -> tuple[str, ...]:
        return tuple(sorted({clip.database for clip in self.clips}))

    def covers(self, database: str) -> bool:
        """True when the list decides membership for this database (its rules do otherwise)."""
        return canonical_database(database) in self.databases

    def label(self, database: str, subject: str, filename: str) -> str | None:
        """The official label of a clip; "" when its database is covered but the clip is not listed;
        None when the list does not cover the database (use the published rules)."""
        if not self.covers(database):
            return None
        clip = self.by_key.get(clip_key(database, subject, filename))
        return clip.label if clip else ""


_SOURCES = {
    "megc2019": (
        "megc2019_composite.csv",
        "official MEGC 2019 composite list (Facial-Micro-ExpressionGC/MEGC2019 images/combined_3class_gt.csv)",
    ),
    "megc2018": (
        "megc2018_objective.csv",
        "MEGC 2018 rule (objective classes I-V) on the shipped classes of the CASME II 2019-07-01 and SAMM v2 "
        "sheets; no public official list was found",
    ),
}


@functools.cache
def official_list(name: str) -> OfficialList:
    """The membership table shipped for a protocol family ("megc2019" or "megc2018")."""
    filename, source = _SOURCES[name]
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    clips = tuple(OfficialClip(r["database"], r["subject"], r["filename"], r["label"]) for r in rows)
    return OfficialList(name, source, clips)

