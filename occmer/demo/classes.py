"""What a demo clip expresses: objective class, AU combination, side and intensity of each AU.

Every class I-VII is drawn from its list of AU combinations (Davison et al. 2018, as in
`occmer.labels.OBJECTIVE_RULES`; class VII from combinations no list contains), so the
class is never a single prototype. Some AUs are unilateral (L/R) or asymmetric (A, both
sides, one weaker) at the shares the real sheets show, and each AU gets an intensity letter
A-E (FACS trace .. maximum). The emotion is a function of the class (no label noise):
the demo never gives one movement two labels. The AU string is written in the notation
of the database the preset copies (CASME II: `R12+L10`; SAMM: `R12B+A14A`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occmer.errors import ConfigError


@dataclass(frozen=True)
class ObjectiveClass:
    """One class: its AU combinations (as the lists write them) and the demo's emotion for it."""

    name: str
    combinations: tuple[str, ...]
    emotion: str  # CASME II `Estimated Emotion`


CLASSES: dict[str, ObjectiveClass] = {
    c.name: c
    for c in (
        ObjectiveClass("I", ("6", "12", "6+12", "6+7+12", "7+12"), "happiness"),
        ObjectiveClass("II", ("1+2", "5", "25", "1+2+25", "25+26", "5+24"), "surprise"),
        ObjectiveClass("III", ("23", "4", "4+7", "4+5", "4+5+7", "17+24", "4+6+7", "4+38"), "others"),
        ObjectiveClass(
            "IV", ("10", "9", "4+9", "4+40", "4+5+40", "4+7+9", "4+9+17", "4+7+10", "4+5+7+9", "7+10"), "disgust"
        ),
        ObjectiveClass("V", ("1", "15", "1+4", "6+15", "15+17"), "sadness"),
        ObjectiveClass("VI", ("1+2+4", "20"), "fear"),
        # Movements of the repression kind (dimpler, chin raiser, lip pressor) that no list holds.
        ObjectiveClass("VII", ("14", "17", "24", "14+17", "14+24"), "repression"),
    )
}

# Class shares of the real databases (objective classes, public coding sheets):
# CASME II 2019 sheet 30/18/93/15/18/2/79 of 255; SAMM v2 24/13/20/8/3/7/84 of 159.
BALANCES: dict[str, dict[str, float] | None] = {
    "balanced": None,
    "casme2": dict(zip(CLASSES, (30, 18, 93, 15, 18, 2, 79), strict=True)),
    "samm": dict(zip(CLASSES, (24, 13, 20, 8, 3, 7, 84), strict=True)),
}

# AUs that the real sheets code on one side (CASME II `R12`, `L10`; SAMM also `A14`).
SIDED_UNITS = frozenset({1, 2, 4, 6, 7, 10, 12, 14, 15, 20})
# Share of clips with one unilateral AU (CASME II 51/255 = 0.20, SAMM 41/159 = 0.26 side-coded)
# and with one asymmetric AU (SAMM 13/159 = 0.08).
UNILATERAL_SHARE = 0.2
ASYMMETRIC_SHARE = 0.08
ASYMMETRIC_WEAKER = 0.5  # the weaker side of an asymmetric AU, relative to the stronger
# FACS intensity letters and the share of the displacement each gives, with how often a
# micro-expression shows it (mostly trace to marked).
INTENSITIES = {"A": 0.35, "B": 0.55, "C": 0.75, "D": 0.9, "E": 1.0}
INTENSITY_ODDS = {"A": 0.3, "B": 0.35, "C": 0.25, "D": 0.08, "E": 0.02}


@dataclass(frozen=True)
class AppliedUnit:
    """One AU as applied to a clip: which sides move, how strongly."""

    number: int
    side: str  # "both", "L", "R" (unilateral) or "A" (both, the `weaker_side` weaker)
    intensity: str  # A-E
    weaker_side: str = ""  # "L" or "R" for side "A"

    def side_weights(self) -> dict[str, float]:
        """Weight of the subject's right and left halves ("right"/"left", as faces.topology names them)."""
        if self.side == "L":
            return {"right": 0.0, "left": 1.0}
        if self.side == "R":
            return {"right": 1.0, "left": 0.0}
        if self.side == "A":
            weak = "left" if self.weaker_side == "L" else "right"
            return {"right": 1.0, "left": 1.0} | {weak: ASYMMETRIC_WEAKER}
        return {"right": 1.0, "left": 1.0}

    @property
    def strength(self) -> float:
        return INTENSITIES[self.intensity]

    def token(self, notation: str) -> str:
        """This AU in a database's notation: CASME II side prefix only; SAMM also A and intensity."""
        if notation == "samm":
            prefix = self.side if self.side in ("L", "R", "A") else ""
            return f"{prefix}{self.number}{self.intensity}"
        prefix = self.side if self.side in ("L", "R") else ""
        return f"{prefix}{self.number}"


def parse_combination(text: str) -> tuple[int, ...]:
    return tuple(int(u) for u in text.split("+"))


def class_set(text: str) -> tuple[str, ...]:
    """The classes a demo draws from: "" = all of I-VII, else comma-separated names ("I,II,IV")."""
    if not text.strip():
        return tuple(CLASSES)
    names = tuple(dict.fromkeys(n.strip().upper() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in CLASSES]
    if unknown or len(names) < 2:
        raise ConfigError(
            f"--classes {text!r}: give at least two of {', '.join(CLASSES)}, comma-separated (e.g. I,II,IV)"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return tuple(n for n in CLASSES if n in names)


def class_counts(total: int, balance: str, names: tuple[str, ...] = tuple(CLASSES)) -> dict[str, int]:
    """Clips per class for a database of `total` clips: equal (+-1) or the real shares (largest remainder),
    over the classes `names` (a database's shares restricted to them)."""
    if balance not in BALANCES:
        raise ConfigError(f"unknown --balance {balance!r}; choose one of {', '.join(BALANCES)}")
    table = BALANCES[balance]
    shares = {name: table[name] if table else 1.0 for name in names}
    weight = sum(shares.values())
    exact = {name: total * share / weight for name, share in shares.items()}
    counts = {name: int(np.floor(value)) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda n: (-(exact[n] - counts[n]), list(CLASSES).index(n)))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def draw_units(cls: ObjectiveClass, rng: np.random.Generator) -> tuple[AppliedUnit, ...]:
    """One clip's AUs: a combination of the class, intensities, and perhaps one sided AU."""
    numbers = parse_combination(cls.combinations[int(rng.integers(len(cls.combinations)))])
    letters, odds = list(INTENSITY_ODDS), np.array(list(INTENSITY_ODDS.values()))
    intensities = [letters[int(rng.choice(len(letters), p=odds / odds.sum()))] for _ in numbers]
    sides = ["both"] * len(numbers)
    weaker = [""] * len(numbers)
    sided = [i for i, n in enumerate(numbers) if n in SIDED_UNITS]
    draw = float(rng.random())
    if sided and draw < UNILATERAL_SHARE + ASYMMETRIC_SHARE:
        i = sided[int(rng.integers(len(sided)))]
        side = str(rng.choice(["L", "R"]))
        if draw < UNILATERAL_SHARE:
            sides[i] = side
        else:
            sides[i], weaker[i] = "A", side
    units = (AppliedUnit(n, s, a, w) for n, s, a, w in zip(numbers, sides, intensities, weaker, strict=True))
    return tuple(sorted(units, key=lambda u: u.number))


def au_text(units: tuple[AppliedUnit, ...], notation: str) -> str:
    """The sheet's `Action Units` cell: AUs in ascending order joined by '+'."""
    return "+".join(u.token(notation) for u in sorted(units, key=lambda u: u.number))
