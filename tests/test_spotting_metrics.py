"""The MEGC spotting and STR metrics against cases computed by hand."""

from __future__ import annotations

import pytest

from occmer.errors import ConfigError
from occmer.spotting import (
    MACRO,
    MICRO,
    OVERALL,
    Counts,
    Interval,
    iou,
    kind_by_length,
    match_intervals,
    spotting_scores,
    str_scores,
)


def iv(onset, offset, video="v1", kind=MICRO, emotion="", subject="s1", database="db"):
    return Interval(video, onset, offset, kind, emotion, subject, database)


def test_iou_counts_inclusive_frames():
    assert iou(iv(1, 10), iv(1, 10)) == 1.0
    assert iou(iv(1, 10), iv(6, 15)) == pytest.approx(5 / 15)  # 6..10 of 1..15
    assert iou(iv(1, 10), iv(11, 20)) == 0.0
    assert iou(iv(5, 5), iv(5, 5)) == 1.0
    assert iou(iv(1, 10), iv(1, 5)) == 0.5  # exactly the threshold


def test_threshold_is_inclusive_and_overlap_below_it_is_fp_and_fn():
    assert match_intervals([iv(1, 10)], [iv(1, 5)]).counts == Counts(1, 0, 0)
    assert match_intervals([iv(1, 10)], [iv(1, 4)]).counts == Counts(0, 1, 1)  # 4/10 < 0.5
    # overlapping by IoU 26/76: one FP and one FN (the STRS README's first video)
    assert match_intervals([iv(45, 85)], [iv(10, 70)]).counts == Counts(0, 1, 1)


def test_split_interval_counts_at_most_one_tp():
    truth = [iv(1, 20)]
    # two halves, each IoU 10/20 = 0.5: the first matches, the second is a false positive
    m = match_intervals(truth, [iv(1, 10), iv(11, 20)])
    assert m.counts == Counts(1, 1, 0)
    assert m.matches[0].spotted == iv(1, 10)
    # three thirds: none reaches 0.5
    assert match_intervals(truth, [iv(1, 7), iv(8, 14), iv(15, 20)]).counts == Counts(0, 3, 1)


def test_merged_interval_matches_one_truth_only():
    # one spotted interval covering two true ones, each exactly half of it: IoU 0.5 with both,
    # but a spotted interval is one TP (the other truth is missed)
    m = match_intervals([iv(1, 5), iv(6, 10)], [iv(1, 10)])
    assert m.counts == Counts(1, 0, 1)
    # covering two short truths with gaps: IoU below 0.5 with each
    assert match_intervals([iv(1, 5), iv(11, 15)], [iv(1, 15)]).counts == Counts(0, 1, 2)


def test_best_iou_truth_is_taken():
    m = match_intervals([iv(1, 10), iv(3, 12)], [iv(3, 12)])
    assert m.matches[0].truth == iv(3, 12) and m.counts == Counts(1, 0, 1)


def test_none_spotted_and_all_spotted():
    truth = [iv(10, 20), iv(50, 60, video="v2"), iv(100, 180, kind=MACRO)]
    none = spotting_scores(truth, [])
    assert none.counts[OVERALL][OVERALL] == Counts(0, 0, 3)
    assert none.f1() == 0.0
    every = spotting_scores(truth, truth)
    assert every.counts["db"][MICRO] == Counts(2, 0, 0)
    assert every.counts["db"][MACRO] == Counts(1, 0, 0)
    assert every.f1() == 1.0
    assert spotting_scores([], []).f1() == 0.0


def test_counts_are_pooled_per_database_not_averaged():
    truth = [iv(10, 20, video="a"), iv(10, 20, video="b"), iv(10, 20, video="b2"), iv(10, 20, video="c", database="db2")]
    spotted = [iv(10, 20, video="a"), iv(300, 310, video="a"), iv(10, 20, video="c", database="db2")]
    scores = spotting_scores(truth, spotted)
    # db: TP 1, FP 1, FN 2 -> P 1/2, R 1/3, F1 = 2/5 (the mean of per-video F1s would differ)
    assert scores.counts["db"][OVERALL] == Counts(1, 1, 2)
    assert scores.f1("db") == pytest.approx(0.4)
    assert scores.f1("db2") == 1.0
    # pooled: TP 2, FP 1, FN 2 -> P 2/3, R 1/2, F1 = 4/7
    assert scores.counts[OVERALL][OVERALL] == Counts(2, 1, 2)
    assert scores.f1() == pytest.approx(4 / 7)


def test_kinds_are_matched_apart():
    truth = [iv(10, 20, kind=MICRO), iv(100, 160, kind=MACRO)]
    # a macro-labelled spot on the micro-expression is no TP; the macro one is
    spotted = [iv(10, 20, kind=MACRO), iv(100, 160, kind=MACRO)]
    scores = spotting_scores(truth, spotted)
    assert scores.counts["db"][MICRO] == Counts(0, 0, 1)
    assert scores.counts["db"][MACRO] == Counts(1, 1, 0)
    assert scores.counts["db"][OVERALL] == Counts(1, 1, 1)
    assert spotting_scores(truth, spotted, separate_kinds=False).counts["db"][OVERALL] == Counts(2, 0, 0)


def test_strs_matches_the_published_example():
    # the example of the STRS metric script's README (Liong et al.): STRS = 0.2
    rows_pred = [("1", "EP02_01f", 10, 70, "happiness"), ("1", "EP03_02", 100, 170, "others"),
                 ("1", "EP04_02", 0, 70, "others"), ("2", "EP01_11f", 20, 90, "happiness"),
                 ("2", "EP02_04f", 70, 140, "happiness")]
    rows_true = [("1", "EP02_01f", 45, 85, "happiness"), ("1", "EP03_02", 130, 160, "others"),
                 ("1", "EP04_02", 20, 75, "others"), ("2", "EP01_11f", 45, 95, "repression"),
                 ("2", "EP02_04f", 30, 140, "repression")]
    make = lambda rows: [iv(a, b, video=f"{s}/{v}", emotion=e, subject=s) for s, v, a, b, e in rows]  # noqa: E731
    result = str_scores(make(rows_true), make(rows_pred))[OVERALL]
    assert result.spotting == Counts(3, 2, 2)
    assert result.spotting.f1 == pytest.approx(0.6)
    assert result.analysis.per_class["others"] == Counts(1, 0, 0)
    assert result.analysis.per_class["happiness"] == Counts(0, 2, 0)
    assert result.analysis.per_class["repression"] == Counts(0, 0, 2)
    assert result.analysis.f1 == pytest.approx(1 / 3)
    assert result.strs == pytest.approx(0.2)


def test_strs_all_right_and_nothing_spotted():
    truth = [iv(10, 20, emotion="positive"), iv(40, 50, emotion="negative")]
    assert str_scores(truth, truth)[OVERALL].strs == 1.0
    assert str_scores(truth, [])[OVERALL].strs == 0.0


def test_interval_checks_and_kind_rule():
    with pytest.raises(ConfigError):
        iv(10, 9)
    with pytest.raises(ConfigError):
        iv(1, 2, kind="huge")
    assert kind_by_length(16, 30.0) == MICRO  # 15 frame steps = 0.5 s at 30 fps
    assert kind_by_length(17, 30.0) == MACRO
