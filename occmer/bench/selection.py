"""Which epoch's predictions a fold reports, and the per-epoch record that lets any run show both.

Three selections (`occmer bench --selection`, docs/bench.md):

- `last`: the weights after the fixed epoch budget (the default; never looks at the test subject);
- `val`: the epoch with the best UF1 on validation subjects carved from the training subjects;
- `test-oracle`: per fold, the epoch with the best accuracy on that fold's *test* subject, ties
  to the latest such epoch (HTNet's `if best_accuracy_for_each_subject <= val_acc`). This is how
  several published tables were made; it is leaky and labelled so wherever it appears.

Every trained fold keeps its per-epoch predictions (`EpochRecord`) in its fold record, so a report
recomputes what each selection would have given from the same run. Format of the record
(`fold["epoch_record"]`, format `class-digits-v1`): `test` is a list with one string per epoch,
one character per test sample in the record's order, the character being the predicted class
index in `DIGITS` (`"0"` = `classes[0]`, ... `"a"` = `classes[10]`); with more than 36 classes
an epoch is a list of ints instead. `val` (per epoch) and `val_true` hold the validation
subjects' predictions and labels in the same encoding when the fold had validation subjects.
This module has no torch: the report reads it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occmer.errors import BenchError

SELECTIONS = ("last", "val", "test-oracle")
LEAKY = "test-oracle"
LEAKY_LABEL = "selected on the test subject (leaky)"
RECORD_FORMAT = "class-digits-v1"
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_VALUE = {c: i for i, c in enumerate(DIGITS)}


def selection_label(name: str) -> str:
    """How a selection reads in tables, pages and logs; the leaky one always says so."""
    labels = {"last": "last epoch of the fixed budget (honest)",
              "val": "best epoch on validation subjects carved from the training subjects (honest)",
              LEAKY: f"best epoch on each fold's test subject: {LEAKY_LABEL}"}
    if name not in labels:
        raise BenchError(f"selection {name!r} is not one of {', '.join(SELECTIONS)}")
    return labels[name]


def is_leaky(name: str | None) -> bool:
    return name == LEAKY


def encode_classes(codes: np.ndarray) -> str | list[int]:
    """Class indices as one character each (a compact JSON string), or a list beyond 36 classes."""
    values = np.asarray(codes, dtype=np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() >= len(DIGITS)):
        return [int(v) for v in values]
    return "".join(DIGITS[int(v)] for v in values)


def decode_classes(value: str | Sequence[int]) -> np.ndarray:
    """The class indices `encode_classes` wrote."""
    if isinstance(value, str):
        try:
            return np.array([_VALUE[c] for c in value], dtype=np.int64)
        except KeyError as exc:
            raise BenchError(f"per-epoch record holds {exc} that is not a class digit ({RECORD_FORMAT})") from None
    return np.asarray(list(value), dtype=np.int64)


@dataclass
class EpochRecord:
    """Predicted classes after every epoch: the test subject's, and the validation subjects' if any."""

    test: list[str | list[int]] = field(default_factory=list)
    val: list[str | list[int]] = field(default_factory=list)
    val_true: str | list[int] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": RECORD_FORMAT, "test": self.test}
        if self.val_true is not None:
            out.update(val=self.val, val_true=self.val_true)
        return out

    @classmethod
    def from_dict(cls, data: Any, n_test: int) -> EpochRecord:
        """The record of a fold file, checked against its number of test samples (BenchError otherwise)."""
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT or not isinstance(data.get("test"), list):
            raise BenchError(f"per-epoch record is not in format {RECORD_FORMAT}")
        record = cls(test=list(data["test"]), val=list(data.get("val", [])), val_true=data.get("val_true"))
        if not record.test or any(len(epoch) != n_test for epoch in record.test):
            raise BenchError(f"per-epoch record does not hold {n_test} test predictions for every epoch")
        return record

    def test_codes(self) -> np.ndarray:
        """(epochs, n_test) predicted class indices."""
        return np.stack([decode_classes(epoch) for epoch in self.test])


def oracle_epoch(test_codes: np.ndarray, true_codes: np.ndarray) -> int:
    """The 1-based epoch with the best accuracy on the test samples; ties go to the latest epoch."""
    correct = (np.asarray(test_codes) == np.asarray(true_codes)[None, :]).sum(axis=1)
    return int(len(correct) - np.argmax(correct[::-1]))


class EpochChooser:
    """Keeps the epoch a selection picks while training runs, and the per-epoch record.

    Only `test-oracle` is given the test labels: an honest chooser cannot read them, so its
    choice cannot depend on them (tests/test_bench_selection.py permutes them to check).
    """

    def __init__(self, selection: str, test_labels: np.ndarray | None = None) -> None:
        if selection not in SELECTIONS:
            raise BenchError(f"selection {selection!r} is not one of {', '.join(SELECTIONS)}")
        if (selection == LEAKY) != (test_labels is not None):
            raise BenchError("only the test-oracle selection reads the test labels")
        self.selection = selection
        self.test_labels = None if test_labels is None else np.asarray(test_labels)
        self.record = EpochRecord()
        self.best: tuple[float, int] | None = None  # (score, epoch) of the chosen epoch

    def add(self, epoch: int, test_codes: np.ndarray, val_score: float | None = None,
            val_codes: np.ndarray | None = None, val_true: np.ndarray | None = None) -> bool:
        """Record one epoch; whether it is now the chosen one (its predictions are the ones to keep)."""
        self.record.test.append(encode_classes(test_codes))
        if val_codes is not None:
            self.record.val.append(encode_classes(val_codes))
            if self.record.val_true is None and val_true is not None:
                self.record.val_true = encode_classes(val_true)
        if self.selection == LEAKY:
            value = float(np.mean(np.asarray(test_codes) == self.test_labels))
            better = self.best is None or value >= self.best[0]  # ties: the latest epoch
        elif self.selection == "val" and val_score is not None:
            better = self.best is None or val_score > self.best[0]  # ties: the earliest epoch
            value = val_score
        else:
            better, value = True, 0.0  # last: every epoch replaces the previous one
        if better:
            self.best = (value, epoch)
        return better

    @property
    def epoch(self) -> int:
        return 0 if self.best is None else self.best[1]
