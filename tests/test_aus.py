"""The AU grammar: every notation the real sheets use, as a table, plus a seeded property test."""

from __future__ import annotations

import numpy as np
import pytest

from occmer.aus import SIDES, format_aus, parse_aus
from occmer.labels import objective_from_aus


def sets(*groups):
    return tuple(frozenset(g) for g in groups)


@pytest.mark.parametrize("text, alternatives", [
    ("4+7", sets({4, 7})),  # plain
    (12, sets({12})),  # an Excel number cell
    (12.0, sets({12})),
    ("R12", sets({12})), ("L2", sets({2})), ("T18", sets({18})), ("B23", sets({23})),  # side before
    ("A12", sets({12})), ("A14C", sets({14})), ("U4", sets({4})),  # A = asymmetric, U = unilateral
    ("A/L12", sets({12})),  # either side
    ("12L", sets({12})), ("4R", sets({4})), ("R6+12L", sets({6, 12})),  # MMEW: side after
    ("14A", sets({14})), ("4D", sets({4})), ("10A/B", sets({10})), ("R20B", sets({20})),  # intensity
    ("AU12", sets({12})), ("AU4+AU7", sets({4, 7})), ("RAU12", sets({12})),  # AU prefix
    ("(R6+R12)", sets({6, 12})), ("(R6+R12)+25", sets({6, 12, 25})),  # brackets
    ("ref(7B)", sets({7})), ("4+ref(L10)", sets({4, 10})), (" ref(43)", sets({43})),  # references
    ("L12 or L14", sets({12}, {14})), ("14or23", sets({14}, {23})), ("10OR11", sets({10}, {11})),  # or
    ("R14A or 17A or 24A", sets({14}, {17}, {24})),
    ("(R6 or R12)+25", sets({6, 25}, {12, 25})),  # an alternative inside a conjunction
    ("4,7", sets({4, 7})),  # CAS(ME)^3 commas
    (" L12 ", sets({12})),
    ("4+?", sets({4})),  # a "?" part: the known part stands
])
def test_every_notation(text, alternatives):
    code = parse_aus(text)
    assert code.alternatives == alternatives
    assert code.unreadable == ()
    assert not code.unknown


def test_references_are_recorded():
    assert parse_aus("4+ref(7B)").referenced == frozenset({7})


@pytest.mark.parametrize("text", ["?", "", None, "NULL", "null", "/", "-", "  ", "nan"])
def test_unknown_marks(text):
    code = parse_aus(text)
    assert code.unknown and code.alternatives == () and code.unreadable == ()


def test_unreadable_tokens_are_kept_not_dropped():
    code = parse_aus("R14+17+soft focus")
    assert code.alternatives == sets({14, 17})
    assert code.unreadable == ("soft focus",)
    assert code.text == "R14+17+soft focus"  # the string itself is stored verbatim
    only_junk = parse_aus("blink")
    assert only_junk.unreadable == ("blink",) and not only_junk.unknown


def test_or_is_not_split_inside_words():
    assert parse_aus("4+forehead").unreadable == ("forehead",)


def test_unbalanced_brackets_are_unreadable_not_a_crash():
    code = parse_aus("(4+7")
    assert code.unreadable  # recorded
    assert parse_aus("((((4))))").alternatives == sets({4})


def test_hostile_strings_are_unreadable_not_a_crash():
    deep = "(" * 150 + "4" + ")" * 150  # recursion bomb
    assert parse_aus(deep).alternatives == () and parse_aus(deep).unreadable
    huge = "+".join(["12"] * 5000)
    assert parse_aus(huge).unreadable and parse_aus(huge).alternatives == ()
    assert parse_aus("((4)))+7").unreadable  # unbalanced: recorded


def test_alternatives_are_capped():
    text = "+".join(f"({a} or {a + 1})" for a in range(1, 40, 2))  # 2**20 combinations
    assert len(parse_aus(text).alternatives) <= 64


def _random_token(rng: np.random.Generator, number: int) -> str:
    side = rng.choice(["", *SIDES, "A/L"])
    prefix = rng.choice(["", "AU"])
    intensity = rng.choice(["", "A", "B", "C", "D", "E", "A/B"])
    after = rng.choice(["", "L", "R"]) if not side else ""
    return f"{prefix}{side}{number}{intensity}{after}" if side else f"{prefix}{number}{intensity}{after}"


def test_property_random_valid_strings_round_trip():
    """Any AU set written in any mix of notations reads back as that set (seeded, 2000 cases)."""
    rng = np.random.default_rng(2024)
    for _ in range(2000):
        units = {int(u) for u in rng.choice(np.arange(1, 65), size=rng.integers(1, 6), replace=False)}
        tokens = [_random_token(rng, u) for u in sorted(units)]
        if len(tokens) > 1 and rng.random() < 0.3:  # wrap a few in brackets or ref()
            k = int(rng.integers(0, len(tokens)))
            tokens[k] = rng.choice(["({})", "ref({})"]).format(tokens[k])
        joiner = rng.choice(["+", " + ", ","])
        text = joiner.join(tokens)
        code = parse_aus(text)
        assert code.alternatives == (frozenset(units),), text
        assert code.unreadable == (), text
        # alternatives: "X or Y" with or without spaces reads as both sets
        other = {int(rng.integers(1, 65))}
        joined = f"{text}{rng.choice([' or ', 'or', ' OR '])}{format_aus(other)}"
        assert set(parse_aus(joined).alternatives) == {frozenset(units), frozenset(other)}, joined


@pytest.mark.parametrize("text, expected", [
    ("A12", "I"),  # asymmetric prefix read (was dropped)
    ("(R6+R12)", "I"),
    ("12L", "I"),  # MMEW side after
    ("14or23", "III"),  # CAS(ME)^2: the better-matching alternative
    ("ref(7B)+4", "III"),
])
def test_objective_class_of_each_notation(text, expected):
    assert objective_from_aus(text) == expected
