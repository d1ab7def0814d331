"""Label schemes: AU strings to objective classes, emotion normalisation, MEGC 2018/2019 rules."""

from __future__ import annotations

from collections import Counter

import pytest

from occmer.errors import ConfigError
from occmer.labels import (
    LABEL_SCHEMES,
    classes,
    composite_label,
    label_of,
    normalise_emotion,
    normalise_objective,
    objective_from_aus,
    parse_action_units,
)

AU_TABLE = [
    # every listed combination of domain.md §3
    ("6", "I"), ("12", "I"), ("6+12", "I"), ("6+7+12", "I"), ("7+12", "I"),
    ("1+2", "II"), ("5", "II"), ("25", "II"), ("1+2+25", "II"), ("25+26", "II"), ("5+24", "II"),
    ("23", "III"), ("4", "III"), ("4+7", "III"), ("4+5", "III"), ("4+5+7", "III"), ("17+24", "III"),
    ("4+6+7", "III"), ("4+38", "III"),
    ("10", "IV"), ("9", "IV"), ("4+9", "IV"), ("4+40", "IV"), ("4+5+40", "IV"), ("4+7+9", "IV"),
    ("4+9+17", "IV"), ("4+7+10", "IV"), ("4+5+7+9", "IV"), ("7+10", "IV"),
    ("1", "V"), ("15", "V"), ("1+4", "V"), ("6+15", "V"), ("15+17", "V"),
    ("1+2+4", "VI"), ("20", "VI"),
    # side / intensity letters, prefixes and separators
    ("R12", "I"), ("L12A", "I"), ("R6B+R12B", "I"), ("AU4+AU7", "III"), ("4, 7", "III"), ("B1+B2", "II"),
    ("R15+17", "V"), ("L10", "IV"), ("T4+ L7", "III"),
    # supersets: the largest listed combination inside wins
    ("4+7+43", "III"), ("1+2+4+5", "VI"), ("6+7+12+25", "I"), ("4+9+10", "IV"),
    # exact combinations beat larger-but-inexact ones
    ("6+15", "V"),
    # alternatives: the better match
    ("R14A or 4+7", "III"), ("14 or 17", "VII"),
    # nothing listed
    ("14", "VII"), ("R14A", "VII"), ("43", "VII"), ("38", "VII"),
    # no AU at all
    ("", ""), ("/", ""), ("none", ""),
]


@pytest.mark.parametrize(("aus", "expected"), AU_TABLE)
def test_objective_from_aus(aus, expected):
    assert objective_from_aus(aus) == expected


def test_parse_action_units_strips_sides_and_intensity():
    assert parse_action_units("R12A+L10") == [frozenset({10, 12})]
    assert parse_action_units("4+7 or 4+10") == [frozenset({4, 7}), frozenset({4, 10})]
    assert parse_action_units("4+?") == [frozenset({4})]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Happy", "happiness"), (" happiness ", "happiness"), ("Other", "others"), ("others", "others"),
     ("Surprised", "surprise"), ("sad", "sadness"), ("Repression", "repression"), ("po", "positive"),
     ("Angry", "anger"), ("Contempt", "contempt"), ("Mixed  Feelings", "mixed feelings")],
)
def test_normalise_emotion(raw, expected):
    assert normalise_emotion(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [("I", "I"), ("1", "I"), (3.0, "III"), ("Class VII", "VII"),
                                               ("iv", "IV"), ("", ""), (None, ""), ("/", "")])
def test_normalise_objective(raw, expected):
    assert normalise_objective(raw) == expected


def test_normalise_objective_rejects_garbage():
    with pytest.raises(ValueError, match="objective class"):
        normalise_objective("8")


COMPOSITE_TABLE = [
    ("casme2", "disgust", "negative"), ("casme2", "repression", "negative"), ("casme2", "happiness", "positive"),
    ("casme2", "surprise", "surprise"), ("casme2", "fear", ""), ("casme2", "sadness", ""), ("casme2", "others", ""),
    ("samm", "anger", "negative"), ("samm", "contempt", "negative"), ("samm", "disgust", "negative"),
    ("samm", "sadness", "negative"), ("samm", "fear", "negative"), ("samm", "happiness", "positive"),
    ("samm", "surprise", "surprise"), ("samm", "other", ""),
    ("smic-hs", "negative", "negative"), ("smic-hs", "positive", "positive"), ("smic-hs", "surprise", "surprise"),
    ("demo", "repression", "negative"), ("demo", "others", ""),
    ("mmew", "fear", "negative"), ("mmew", "others", ""), ("casme3", "happy", "positive"),
]


@pytest.mark.parametrize(("database", "emotion", "expected"), COMPOSITE_TABLE)
def test_composite_rules(database, emotion, expected):
    assert composite_label(database, emotion) == expected


def test_megc2019_counts_rule_on_published_casme2_distribution():
    # CASME II emotion counts of the 255-clip release: the rule keeps disgust + repression as
    # negative, happiness as positive, surprise; fear, sadness and others are dropped.
    counts = {"happiness": 32, "disgust": 63, "surprise": 25, "repression": 27, "others": 99, "fear": 2, "sadness": 7}
    kept = Counter()
    for emotion, n in counts.items():
        label = composite_label("casme2", emotion)
        if label:
            kept[label] += n
    assert kept == {"negative": 90, "positive": 32, "surprise": 25}
    assert sum(counts.values()) - sum(kept.values()) == 108  # dropped


def test_label_of_rows_and_schemes():
    row = {"database": "samm", "subject": "samm/006", "filename": "006_1_2", "emotion": "anger",
           "objective_class": "III", "composite": "negative"}
    assert label_of(row, "emotion") == "anger"
    assert label_of(row, "objective") == "III"
    assert label_of(row, "megc2019") == "negative"
    assert label_of(row, "megc2018") == "III"
    # CASME II and SAMM clips: the shipped membership tables decide, whatever the stored label says
    assert label_of({**row, "objective_class": "VI"}, "megc2018") == "III"
    assert label_of({**row, "composite": "positive"}, "megc2019") == "negative"
    assert label_of({**row, "filename": "006_9_9"}, "megc2018") == ""  # not a listed clip
    assert label_of({**row, "filename": "006_9_9"}, "megc2019") == ""
    # other databases: the rule on the stored labels
    assert label_of({**row, "database": "mmew"}, "megc2018") == ""  # CASME II + SAMM only
    assert label_of({**row, "database": "demo"}, "megc2018") == "III"
    assert label_of({**row, "database": "demo", "objective_class": "VI"}, "megc2018") == ""  # I-V only
    assert label_of({**row, "database": "mmew"}, "megc2019") == "negative"
    assert label_of({b"x": 1, "database": b"demo", "objective_class": b"I"}, "megc2018") == "I"


def test_classes_and_registry():
    assert classes("megc2019") == ["negative", "positive", "surprise"]
    assert classes("megc2018") == ["I", "II", "III", "IV", "V"]
    assert classes("objective")[-1] == "VII"
    assert set(LABEL_SCHEMES) == {"emotion", "objective", "megc2018", "megc2019", "megc2018-rules", "megc2019-rules"}
    with pytest.raises(ConfigError, match="megc2019"):
        classes("megc2020")
