"""Scores of pooled predictions, by scikit-learn, with every class of the protocol counted.

UF1 and UAR are computed on predictions pooled over all folds (the MEGC convention). The
class list is passed explicitly, so a class that is never predicted still counts (its F1
and recall are 0) instead of silently disappearing from the macro average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from occmer.errors import BenchError

METRIC_NAMES = ("uf1", "uar", "accuracy", "weighted_f1")
METRIC_LABELS = {"uf1": "UF1", "uar": "UAR", "accuracy": "Acc", "weighted_f1": "wF1"}  # in table headers


@dataclass(frozen=True)
class Scores:
    """The four numbers the tables report, plus how many samples they rest on."""

    uf1: float
    uar: float
    accuracy: float
    weighted_f1: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> Scores:
    """UF1 (macro F1), UAR (macro recall), accuracy and weighted F1 over `classes`."""
    y_true = np.asarray(list(y_true), dtype=object)
    y_pred = np.asarray(list(y_pred), dtype=object)
    if len(y_true) != len(y_pred):
        raise BenchError(f"{len(y_true)} true labels but {len(y_pred)} predictions; the prediction files are corrupt")
    if len(y_true) == 0:
        raise BenchError("no predictions to score; the run has no finished fold yet")
    labels = list(classes)
    unknown = sorted(set(y_true) - set(labels))
    if unknown:
        raise BenchError(f"true labels {unknown} are not among the classes {labels}")
    # Classes absent from y_true are left out of the macro average: recall is undefined for them.
    present = [c for c in labels if c in set(y_true)]
    return Scores(
        uf1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        uar=float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        n=int(len(y_true)),
    )


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts (K, K): rows are true classes, columns predicted classes, in `classes` order."""
    return confusion_matrix(list(y_true), list(y_pred), labels=list(classes))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (std 0 for a single seed)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def macro_scores_of_codes(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """UF1 and UAR of many prediction rows at once: `predicted` (E, N) class indices against `true` (N,).

    The same numbers as `score` (classes absent from `true` left out, zero division 0), in numpy
    without scikit-learn's per-call overhead: a learning curve scores every epoch of every fold.
    """
    true = np.asarray(true, dtype=np.int64)
    predicted = np.atleast_2d(np.asarray(predicted, dtype=np.int64))
    present = np.bincount(true, minlength=n_classes) > 0
    hits = np.zeros((predicted.shape[0], n_classes))
    guesses = np.zeros((predicted.shape[0], n_classes))
    rows = np.arange(predicted.shape[0])[:, None]
    np.add.at(guesses, (rows, predicted), 1)
    correct = predicted == true[None, :]
    for k in range(n_classes):
        hits[:, k] = (correct & (true[None, :] == k)).sum(axis=1)
    support = np.bincount(true, minlength=n_classes)[None, :].astype(np.float64)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    denominator = support + guesses
    f1 = np.divide(2 * hits, denominator, out=np.zeros_like(hits), where=denominator > 0)
    return f1[:, present].mean(axis=1), recall[:, present].mean(axis=1)
