"""Metric functions against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from occmer.bench.metrics import confusion, mean_std, score
from occmer.errors import BenchError

TRUE = ["a", "a", "b", "b", "c", "c"]
PRED = ["a", "a", "b", "a", "a", "a"]  # class c is never predicted


def test_scores_by_hand_with_a_class_never_predicted():
    s = score(TRUE, PRED, ["a", "b", "c"])
    # a: P 2/5, R 1, F1 4/7; b: P 1, R 1/2, F1 2/3; c: never predicted, F1 0 and R 0 (still counted).
    assert s.uf1 == pytest.approx((4 / 7 + 2 / 3 + 0) / 3)
    assert s.uar == pytest.approx((1 + 0.5 + 0) / 3)
    assert s.accuracy == pytest.approx(3 / 6)
    assert s.weighted_f1 == pytest.approx(s.uf1)  # equal supports: the same as the macro F1 here
    assert s.n == 6


def test_unbalanced_supports_weight_f1_by_support():
    s = score(["a", "a", "a", "b"], ["a", "a", "a", "a"], ["a", "b"])
    f1_a = 2 * 0.75 * 1 / 1.75
    assert s.uf1 == pytest.approx(f1_a / 2)
    assert s.weighted_f1 == pytest.approx(0.75 * f1_a)
    assert s.uar == pytest.approx(0.5)


def test_class_absent_from_truth_is_left_out_of_the_average():
    with_extra = score(TRUE, PRED, ["a", "b", "c", "d"])
    assert with_extra.uf1 == pytest.approx(score(TRUE, PRED, ["a", "b", "c"]).uf1)


def test_perfect_predictions():
    s = score(TRUE, TRUE, ["a", "b", "c"])
    assert (s.uf1, s.uar, s.accuracy, s.weighted_f1) == (1.0, 1.0, 1.0, 1.0)


def test_errors_name_the_problem():
    with pytest.raises(BenchError, match="not among the classes"):
        score(["a", "z"], ["a", "a"], ["a", "b"])
    with pytest.raises(BenchError, match="no predictions"):
        score([], [], ["a"])
    with pytest.raises(BenchError, match="predictions"):
        score(["a"], ["a", "b"], ["a", "b"])


def test_confusion_rows_true_columns_predicted():
    matrix = confusion(TRUE, PRED, ["a", "b", "c"])
    np.testing.assert_array_equal(matrix, [[2, 0, 0], [1, 1, 0], [2, 0, 0]])


def test_mean_std_over_seeds():
    assert mean_std([0.5]) == (0.5, 0.0)
    mean, std = mean_std([0.4, 0.6])
    assert mean == pytest.approx(0.5)
    assert std == pytest.approx(np.std([0.4, 0.6], ddof=1))
