"""Label schemes: native emotion, objective classes I-VII, MEGC 2018 and MEGC 2019 composite.

Pure functions on strings, shared by the database adapters (which fill `Clip.emotion`,
`objective_class`, `composite`) and by the benchmark (which reads them back from the
HDF5 /samples table with `label_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from occmer.aus import parse_aus
from occmer.errors import ConfigError
from occmer.official import RULE_STAND_INS, canonical_database, official_list

# ---------------------------------------------------------------------------------------
# Native emotions
# ---------------------------------------------------------------------------------------

EMOTIONS = (
    "anger", "contempt", "disgust", "fear", "happiness", "negative", "others",
    "positive", "repression", "sadness", "surprise",
)

_EMOTION_SYNONYMS = {
    "angry": "anger", "anger": "anger",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "afraid": "fear", "fearful": "fear",
    "happiness": "happiness", "happy": "happiness", "happily": "happiness", "joy": "happiness",
    "negative": "negative", "ne": "negative",
    "others": "others", "other": "others",
    "positive": "positive", "po": "positive",
    "repression": "repression", "repressed": "repression",
    "sadness": "sadness", "sad": "sadness",
    "surprise": "surprise", "surprised": "surprise", "sur": "surprise",
}


def normalise_emotion(text: object) -> str:
    """A native emotion label in lower case and one spelling ("Happy " -> "happiness").

    Unknown labels are kept (lower-cased, spaces collapsed) so nothing is silently merged.
    """
    cleaned = " ".join(str(text or "").strip().lower().replace("_", " ").split())
    return _EMOTION_SYNONYMS.get(cleaned, cleaned)


# ---------------------------------------------------------------------------------------
# Objective classes (Davison et al. 2018), derived from action units
# ---------------------------------------------------------------------------------------

OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V", "VI", "VII")


def _combos(*items: str) -> tuple[frozenset[int], ...]:
    return tuple(frozenset(int(au) for au in item.split("+")) for item in items)


# domain.md §3; the first six classes list their AU combinations, VII is everything else.
OBJECTIVE_RULES: dict[str, tuple[frozenset[int], ...]] = {
    "I": _combos("6", "12", "6+12", "6+7+12", "7+12"),
    "II": _combos("1+2", "5", "25", "1+2+25", "25+26", "5+24"),
    "III": _combos("23", "4", "4+7", "4+5", "4+5+7", "17+24", "4+6+7", "4+38"),
    "IV": _combos("10", "9", "4+9", "4+40", "4+5+40", "4+7+9", "4+9+17", "4+7+10", "4+5+7+9", "7+10"),
    "V": _combos("1", "15", "1+4", "6+15", "15+17"),
    "VI": _combos("1+2+4", "20"),
}

_ROMAN = {str(i + 1): name for i, name in enumerate(OBJECTIVE_CLASSES)}


def parse_action_units(au_string: object) -> list[frozenset[int]]:
    """The AU sets an AU string can mean: one set, or one per alternative of "X or Y".

    Reads every notation of `occmer.aus` (side letters before or after the number, intensity
    letters, "AU" prefix, brackets, ref(...), "or"): "R12A+L10" -> [{10, 12}];
    "4+7 or 4+10" -> [{4, 7}, {4, 10}]. Tokens that are not AUs ("?", "soft focus") add no AU;
    `occmer.aus.parse_aus(...).unreadable` lists them.
    """
    return list(parse_aus(au_string).alternatives)


def _match_score(units: frozenset[int]) -> tuple[int, int, int]:
    """(exact?, size of the largest listed combination inside `units`, -class rank) for one AU set."""
    best = (0, 0, -len(OBJECTIVE_CLASSES) + 1)  # no match: VII
    for rank, name in enumerate(OBJECTIVE_RULES):
        for combo in OBJECTIVE_RULES[name]:
            if combo <= units:
                best = max(best, (int(combo == units), len(combo), -rank))
    return best


def objective_from_aus(au_string: object) -> str:
    """The objective class (I-VII) of an AU string; "" when the string holds no AU.

    An exact listed combination wins; otherwise the class whose listed combination is the
    largest subset of the AUs present (ties go to the lower class number); no match is VII.
    For "X or Y" the alternative with the best match is used.
    """
    alternatives = parse_action_units(au_string)
    if not alternatives:
        return ""
    _, size, neg_rank = max(_match_score(units) for units in alternatives)
    return OBJECTIVE_CLASSES[-neg_rank] if size else "VII"


def normalise_objective(value: object) -> str:
    """An objective class as the sheets write it ("1", 1.0, "Class II", "iii") -> "I".."VII"; "" if blank.

    Raises ValueError for anything else so that a wrong column is noticed.
    """
    text = str(value if value is not None else "").strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if text.lower() in ("", "/", "-", "nan", "none"):
        return ""
    text = re.sub(r"^(objective\s*)?(class)?\s*", "", text, flags=re.IGNORECASE).strip().upper()
    if text in OBJECTIVE_CLASSES:
        return text
    if text in _ROMAN:
        return _ROMAN[text]
    raise ValueError(f"not an objective class (I-VII or 1-7): {value!r}")


# ---------------------------------------------------------------------------------------
# MEGC 2019 composite (negative / positive / surprise)
# ---------------------------------------------------------------------------------------

COMPOSITE_CLASSES = ("negative", "positive", "surprise")

# The published inclusion rules, per database (emotion -> composite class; absent = dropped).
_COMPOSITE_RULES: dict[str, dict[str, str]] = {
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
    "casme2": {"disgust": "negative", "repression": "negative", "happiness": "positive", "surprise": "surprise"},
    "samm": {
        "anger": "negative", "contempt": "negative", "disgust": "negative", "sadness": "negative",
        "fear": "negative", "happiness": "positive", "surprise": "surprise",
    },
}
# Databases outside MEGC 2019 use the broadest rule (SAMM's plus repression and the SMIC
# labels), an occmer extension documented in docs/databases.md.
_GENERIC_RULE = {
    **_COMPOSITE_RULES["samm"], "repression": "negative",
    "negative": "negative", "positive": "positive",
}

# Which published rule a database follows (the demo database is written as CASME II).
RULE_FAMILY: dict[str, str] = {
    "casme2": "casme2", "demo": "casme2",
    "samm": "samm",
    "smic-hs": "smic", "smic-vis": "smic", "smic-nir": "smic", "smic": "smic",
}


def composite_label(database: str, emotion: str) -> str:
    """The MEGC 2019 class of a clip under the published rules, or "" when they drop it."""
    family = RULE_FAMILY.get(database)
    rule = _COMPOSITE_RULES[family] if family else _GENERIC_RULE
    return rule.get(normalise_emotion(emotion), "")


def official_composite(database: str, subject: str, filename: str, emotion: str) -> str:
    """The MEGC 2019 class of a clip: the official list's for the databases it covers, else the rules."""
    listed = official_list("megc2019").label(database, subject, filename)
    return composite_label(database, emotion) if listed is None else listed


# ---------------------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------------------

MEGC2018_DATABASES = frozenset({"casme2", "samm"})
MEGC2018_CLASSES = OBJECTIVE_CLASSES[:5]


def _field(record: object, name: str) -> str:
    value = record.get(name, "") if isinstance(record, Mapping) else getattr(record, name, "")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return "" if value is None else str(value)


def _megc2018(record: object) -> str:
    """Objective classes I-V of CASME II and SAMM: the shipped membership table decides for them."""
    database = canonical_database(_field(record, "database"))
    family = RULE_STAND_INS.get(database, database)
    if family not in MEGC2018_DATABASES:
        return ""
    listed = official_list("megc2018").label(database, _field(record, "subject"), _field(record, "filename"))
    if listed is not None:
        return listed
    label = _field(record, "objective_class")
    return label if label in MEGC2018_CLASSES else ""


def _megc2018_rules(record: object) -> str:
    """MEGC 2018 by the rule alone: the stored objective class I-V of a CASME II or SAMM clip."""
    database = canonical_database(_field(record, "database"))
    if RULE_STAND_INS.get(database, database) not in MEGC2018_DATABASES:
        return ""
    label = _field(record, "objective_class")
    return label if label in MEGC2018_CLASSES else ""


def _megc2019(record: object) -> str:
    """The official MEGC 2019 label for the databases the list covers, the stored composite otherwise."""
    database = _field(record, "database")
    listed = official_list("megc2019").label(database, _field(record, "subject"), _field(record, "filename"))
    return _field(record, "composite") if listed is None else listed


def _megc2019_rules(record: object) -> str:
    """The published rules on the stored emotion; files of imported inputs carry only the composite label."""
    emotion = _field(record, "emotion")
    if not emotion:
        return _field(record, "composite") if _field(record, "composite") in COMPOSITE_CLASSES else ""
    return composite_label(_field(record, "database"), emotion)


@dataclass(frozen=True)
class LabelScheme:
    """A way of turning a sample into a class name; "" means the sample is not in the scheme."""

    name: str
    description: str
    classes: tuple[str, ...]
    label: Callable[[object], str]


LABEL_SCHEMES: dict[str, LabelScheme] = {
    "emotion": LabelScheme(
        "emotion", "the database's own emotion label, normalised (classes: those present in the data)",
        EMOTIONS, lambda r: _field(r, "emotion"),
    ),
    "objective": LabelScheme(
        "objective", "objective classes I-VII (shipped by the database, else derived from the AUs)",
        OBJECTIVE_CLASSES, lambda r: _field(r, "objective_class"),
    ),
    "megc2018": LabelScheme(
        "megc2018", "MEGC 2018: objective classes I-V of CASME II and SAMM (shipped membership table; "
        "the demo counts as CASME II under the rule)",
        MEGC2018_CLASSES, _megc2018,
    ),
    "megc2019": LabelScheme(
        "megc2019", "MEGC 2019 composite: negative / positive / surprise (the official list for SMIC-HS, "
        "CASME II and SAMM; the published rules for other databases)",
        COMPOSITE_CLASSES, _megc2019,
    ),
    "megc2018-rules": LabelScheme(
        "megc2018-rules", "MEGC 2018 by the rule on the stored objective classes (no official membership)",
        MEGC2018_CLASSES, _megc2018_rules,
    ),
    "megc2019-rules": LabelScheme(
        "megc2019-rules", "MEGC 2019 composite by the published rules on the stored emotions, or the stored "
        "composite label where a file has no emotions (imported inputs); no official list",
        COMPOSITE_CLASSES, _megc2019_rules,
    ),
}
RULES_VARIANT = {"megc2018": "megc2018-rules", "megc2019": "megc2019-rules"}


def get_scheme(scheme: str) -> LabelScheme:
    """The scheme by name; ConfigError naming the choices otherwise."""
    try:
        return LABEL_SCHEMES[scheme]
    except KeyError:
        raise ConfigError(f"unknown label scheme {scheme!r}; choose one of {', '.join(LABEL_SCHEMES)}") from None


def classes(scheme: str) -> list[str]:
    """The class names of a scheme in their canonical order."""
    return list(get_scheme(scheme).classes)


def label_of(record_or_row: object, scheme: str) -> str:
    """The class of a Clip or of an HDF5 /samples row (a mapping) under a scheme; "" = not included."""
    return get_scheme(scheme).label(record_or_row)
