"""Fold construction: LOSO by namespaced subject, holdout-database directions, validation carving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from occmer.bench.runner import Cell, class_list, plan_cells, resolve_scheme
from occmer.errors import BenchError, ConfigError
from occmer.protocols import PROTOCOLS, carve_validation, check_disjoint, loso_folds


def _table(rows):
    return pd.DataFrame(rows, columns=["sample_id", "database", "subject", "label"])


def _mixed():
    rows = []
    for db in ("casme2", "samm"):
        for s in range(3):
            for k, label in enumerate(["I", "II", ""]):
                rows.append((f"{db}_{s}_{k}", db, f"{db}/s{s}", label))
    rows.append(("mmew_0_0", "mmew", "mmew/s0", "I"))
    return _table(rows)


def test_loso_tests_every_sample_once_and_never_trains_on_the_test_subject():
    table = PROTOCOLS["loso"].select(_mixed())
    folds = PROTOCOLS["loso"].folds(table)
    assert len(folds) == table["subject"].nunique() == 7
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(table)))
    subjects = table["subject"].to_numpy()
    for fold in folds:
        assert set(subjects[fold.train]).isdisjoint(subjects[fold.test])
        assert len(fold.train) + len(fold.test) == len(table)
    check_disjoint(folds, subjects)


def test_same_subject_number_in_two_databases_is_two_people():
    table = _table([("a", "casme2", "casme2/s1", "x"), ("b", "samm", "samm/s1", "x"), ("c", "samm", "samm/s2", "y")])
    folds = loso_folds(table)
    assert [f.name for f in folds] == ["casme2/s1", "samm/s1", "samm/s2"]
    assert list(folds[0].test) == [0] and list(folds[0].train) == [1, 2]


def test_megc2018_keeps_labelled_casme2_and_samm_only():
    table = PROTOCOLS["megc2018-cde"].select(_mixed())
    assert set(table["database"]) == {"casme2", "samm"}
    assert (table["label"] != "").all()


def test_demo_database_stands_in_for_casme2():
    table = _table([("a", "demo", "demo/s1", "I"), ("b", "demo", "demo/s2", "II")])
    assert len(PROTOCOLS["megc2018-cde"].select(table)) == 2


def test_hde_trains_on_one_database_and_tests_on_the_other_both_directions():
    protocol = PROTOCOLS["megc2018-hde"]
    table = protocol.select(_mixed())
    folds = protocol.folds(table)
    assert [f.name for f in folds] == ["casme2->samm", "samm->casme2"]
    databases = table["database"].to_numpy()
    for fold, (train, test) in zip(folds, [("casme2", "samm"), ("samm", "casme2")], strict=True):
        assert set(databases[fold.train]) == {train}
        assert set(databases[fold.test]) == {test}


def test_hde_with_one_database_fails_with_the_fix():
    table = _table([("a", "casme2", "casme2/s1", "I"), ("b", "casme2", "casme2/s2", "II")])
    with pytest.raises(BenchError, match="--data"):
        PROTOCOLS["megc2018-hde"].select(table)


def test_no_labelled_sample_is_an_error():
    with pytest.raises(BenchError, match="--labels"):
        PROTOCOLS["loso"].select(_table([("a", "x", "x/1", "")]))


def test_validation_subjects_come_from_training_subjects_only():
    table = PROTOCOLS["loso"].select(_mixed())
    subjects = table["subject"].to_numpy()
    fold = loso_folds(table)[0]
    carved = carve_validation(fold, subjects, 2, seed=3)
    assert set(subjects[carved.val]).isdisjoint(subjects[carved.test])
    assert set(subjects[carved.val]).isdisjoint(subjects[carved.train])
    assert len(set(subjects[carved.val])) == 2
    assert sorted(np.concatenate([carved.train, carved.val])) == sorted(fold.train)
    again = carve_validation(fold, subjects, 2, seed=3)
    np.testing.assert_array_equal(carved.val, again.val)
    with pytest.raises(BenchError, match="val-subjects"):
        carve_validation(fold, subjects, 6, seed=3)


def test_cells_default_to_same_condition_and_cross_with_train_on():
    assert plan_cells(["clean", "mask"]) == [Cell("clean", "clean"), Cell("mask", "mask")]
    cells = plan_cells(["clean", "mask", "glasses"], train_on=["clean"], test_on=["mask", "glasses"])
    assert [c.label for c in cells] == ["clean->mask", "clean->glasses"]
    assert [c.label for c in plan_cells(["clean", "mask"], train_on=["clean"])] == ["clean", "clean->mask"]
    with pytest.raises(ConfigError, match="not a condition"):
        plan_cells(["clean"], train_on=["sunglasses"])


def test_classes_follow_the_scheme_order_and_only_present_ones():
    assert class_list("megc2019", ["surprise", "negative", "surprise"]) == ["negative", "surprise"]
    assert resolve_scheme("megc2018", None) == "megc2018"
    assert resolve_scheme(None, None) == "emotion"
    with pytest.raises(ConfigError):
        resolve_scheme("megc2019", "emotion")
