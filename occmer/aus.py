"""One grammar for the action-unit strings of every database.

The sheets write AUs in many ways: side letters before the number (`R12`, `L2`, `T18`,
`B23`, `A12` = asymmetric, `U` = unilateral, `A/L12` = either) or after it (MMEW: `12L`,
`4R`), intensity letters after it (`14A`, `10A/B`), an `AU` prefix (`AU12`), brackets
(`(R6+R12)`, `(R6 or R12)`), references (`ref(7B)`: an AU noted as present in the
reference frame), alternatives with or without spaces (`L12 or L14`, `14or23`), and `?`,
`NULL` or a blank for "unknown". `parse_aus` reads all of them into the AU sets the string
can mean. A token it cannot read (`soft focus`) is never dropped silently: it is kept in
`AUCode.unreadable` so that callers record and report it; the AU string itself is always
stored verbatim.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

SIDES = "LRTBAU"  # left, right, top, bottom, asymmetric, unilateral
INTENSITIES = "ABCDE"
UNKNOWN_MARKS = frozenset({"", "?", "/", "-", "--", "na", "n/a", "nan", "none", "null", "unknown"})
MAX_ALTERNATIVES = 64  # "(a or b)+(c or d)+..." multiplies out; a sheet never needs more
MAX_DEPTH = 8  # bracket nesting; real sheets use one level
MAX_TEXT = 400  # characters; the longest real AU string has about 30

_AU = re.compile(
    rf"(?:AU)?(?P<side>[{SIDES}](?:/[{SIDES}])*)?(?:AU)?(?P<number>\d{{1,3}})"
    rf"(?P<intensity>[{INTENSITIES}](?:/[{INTENSITIES}])*)?(?P<after>[LR])?",
    re.IGNORECASE,
)
# "or" between two AU terms, with or without spaces ("14or23", "L12 or L14"), never inside a word.
_OR = re.compile(r"(?<=[\d\s)a-elr])or(?=[\s\d(a-z])", re.IGNORECASE)
_AND = re.compile(r"[+,&]")


@dataclass(frozen=True)
class AUCode:
    """What an AU string means: the AU sets it can stand for (one per alternative of "X or Y")."""

    text: str
    alternatives: tuple[frozenset[int], ...] = ()
    referenced: frozenset[int] = frozenset()  # AUs written inside ref(...)
    unreadable: tuple[str, ...] = ()  # tokens that are not AUs, kept so callers can report them
    unknown: bool = False  # the string says "unknown" ("?", "NULL", blank)

    @property
    def units(self) -> frozenset[int]:
        """Every AU the string mentions in any alternative (references included)."""
        return frozenset().union(*self.alternatives) if self.alternatives else frozenset()


class _Parser:
    def __init__(self) -> None:
        self.unreadable: list[str] = []
        self.referenced: set[int] = set()
        self.depth = 0

    def expression(self, text: str) -> list[frozenset[int]]:
        """Alternatives of `a or b or ...` (top-level "or" only)."""
        result: list[frozenset[int]] = []
        for part in _split_top(text, _OR):
            for units in self.conjunction(part):
                if units not in result:
                    result.append(units)
        return result[:MAX_ALTERNATIVES]

    def conjunction(self, text: str) -> list[frozenset[int]]:
        """Alternatives of `t1 + t2 + ...`: the product of each term's alternatives."""
        options: list[list[frozenset[int]]] = []
        for term in _split_top(text, _AND):
            term_options = self.term(term.strip())
            if term_options:
                options.append(term_options)
        if not options:
            return []
        combined = []
        for pick in itertools.islice(itertools.product(*options), MAX_ALTERNATIVES):
            combined.append(frozenset().union(*pick))
        return combined

    def term(self, term: str) -> list[frozenset[int]]:
        if term.lower() in UNKNOWN_MARKS:
            return []  # "4+?": the known part stands
        lowered = term.lower()
        bracketed = term.startswith("(") and term.endswith(")") and _balanced(term[1:-1])
        reference = lowered.startswith("ref") and term[3:].strip().startswith("(") and term.endswith(")")
        if (bracketed or reference) and self.depth >= MAX_DEPTH:
            self.unreadable.append(term)
            return []
        if reference:
            inner = self.nested(term[3:].strip()[1:-1])
            for units in inner:
                self.referenced.update(units)
            return inner
        if bracketed:
            return self.nested(term[1:-1])
        match = _AU.fullmatch(term)
        if match:
            return [frozenset({int(match.group("number"))})]
        self.unreadable.append(term)
        return []


    def nested(self, text: str) -> list[frozenset[int]]:
        self.depth += 1
        try:
            return self.expression(text)
        finally:
            self.depth -= 1


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _split_top(text: str, separator: re.Pattern[str]) -> list[str]:
    """`text` split at the matches of `separator` that are outside brackets."""
    depth_at = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        depth_at.append(depth)
    parts, start = [], 0
    for match in separator.finditer(text):
        if match.start() > 0 and depth_at[match.start() - 1] > 0:
            continue
        parts.append(text[start:match.start()])
        start = match.end()
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_aus(text: object) -> AUCode:
    """Read an AU string of any database; never raises, never drops a token without recording it."""
    raw = "" if text is None else str(text)
    if isinstance(text, float) and text.is_integer():
        raw = str(int(text))
    cleaned = " ".join(raw.replace("\u00a0", " ").split())
    if cleaned.lower() in UNKNOWN_MARKS:
        return AUCode(raw, unknown=True)
    if len(cleaned) > MAX_TEXT:
        return AUCode(raw, unreadable=(cleaned[:40] + "...",))
    parser = _Parser()
    alternatives = parser.expression(cleaned)
    return AUCode(
        raw, tuple(alternatives), frozenset(parser.referenced), tuple(parser.unreadable),
        unknown=not alternatives and not parser.unreadable,
    )


def format_aus(units: frozenset[int] | set[int]) -> str:
    """A canonical AU string: sorted numbers joined by "+" ({12, 6} -> "6+12")."""
    return "+".join(str(u) for u in sorted(units))
