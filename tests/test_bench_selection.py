"""Epoch selection (issue 26): every fold keeps every epoch's test predictions; `test-oracle` equals a
brute-force pick from that record; honest selections never read a test label; the leaky label shows
wherever a leaky number does; local, batched, resumed and Ray runs keep the record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny
from test_bench_training import Linear, _data, _loss

from occmer.bench.batched import train_folds
from occmer.bench.models import factory_and_loss
from occmer.bench.report import render
from occmer.bench.selection import (
    LEAKY_LABEL,
    EpochChooser,
    EpochRecord,
    decode_classes,
    encode_classes,
    oracle_epoch,
)
from occmer.bench.training import FoldTensors, TrainConfig, train_fold
from occmer.cli import cli
from occmer.errors import BenchError

torch.set_num_threads(1)
BASE = ["ststnet", "--epochs", "5", "--batch-size", "4", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("selection_data")
    return ["--data", str(write_tiny(root / "clean.h5")), "--data", str(write_tiny(root / "mask.h5", occluded=True))]


def _bench(args: list[str]):
    return CliRunner().invoke(cli, ["bench", *args], catch_exceptions=False)


def _folds(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text()) for p in sorted((out / "folds").rglob("*.json"))}


def _brute_force_oracle(record: dict) -> int:
    """The latest epoch with the most correct test predictions, counted the slow way."""
    codes = [decode_classes(e) for e in record["epoch_record"]["test"]]
    true = np.array([record["classes"].index(t) for t in record["true"]])
    best, pick = -1, 0
    for epoch, predicted in enumerate(codes, start=1):
        correct = sum(int(p == t) for p, t in zip(predicted, true, strict=True))
        if correct >= best:
            best, pick = correct, epoch
    return pick


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("selection_runs")
    out = {}
    for name, extra in (("last", []), ("oracle", ["--selection", "test-oracle"]),
                        ("oracle_batched", ["--selection", "test-oracle", "--batch-folds", "auto"]),
                        ("last_batched", ["--batch-folds", "auto"])):
        result = _bench([*BASE, *data, "--out", str(root / name), *extra])
        assert result.exit_code == 0, result.output
        out[name] = root / name
    return out


def test_the_record_round_trips_and_is_compact():
    codes = np.array([0, 2, 1, 9, 10, 35])
    assert encode_classes(codes) == "0219az"
    np.testing.assert_array_equal(decode_classes("0219az"), codes)
    assert encode_classes(np.array([3, 40])) == [3, 40]  # beyond 36 classes: a list of ints
    np.testing.assert_array_equal(decode_classes([3, 40]), [3, 40])
    record = EpochRecord.from_dict({"format": "class-digits-v1", "test": ["01", "11"]}, 2)
    np.testing.assert_array_equal(record.test_codes(), [[0, 1], [1, 1]])
    with pytest.raises(BenchError, match="every epoch"):
        EpochRecord.from_dict({"format": "class-digits-v1", "test": ["01", "1"]}, 2)
    assert oracle_epoch(np.array([[0, 1], [1, 1], [0, 0], [1, 1]]), np.array([1, 1])) == 4  # ties: the latest


def test_honest_choosers_cannot_be_given_the_test_labels():
    with pytest.raises(BenchError, match="only the test-oracle"):
        EpochChooser("last", np.array([0, 1]))
    with pytest.raises(BenchError, match="only the test-oracle"):
        EpochChooser("test-oracle")


@pytest.mark.parametrize("selection", ["last", "val"])
def test_honest_predictions_do_not_depend_on_the_test_labels(selection):
    """Permuting (or replacing) the test labels changes nothing an honest selection reports; test-oracle follows them."""
    config = TrainConfig(epochs=6, batch_size=8, lr=0.05)
    train, test = _data(40, 1), _data(9, 2)
    val = _data(12, 3) if selection == "val" else None
    permuted = FoldTensors(test.x, np.random.default_rng(0).permutation(test.y), occlusion=test.occlusion)
    outputs = [train_fold(Linear, _loss, train, t, 3, config, seed=0, val=val, selection=selection)
               for t in (test, permuted)]
    np.testing.assert_array_equal(outputs[0].probabilities, outputs[1].probabilities)
    assert outputs[0].epochs == outputs[1].epochs and outputs[0].record == outputs[1].record
    for labels in (test.y, permuted.y, outputs[0].record.test_codes()[2]):  # the last: epoch 3's predictions
        tensors = FoldTensors(test.x, np.asarray(labels), occlusion=test.occlusion)
        oracle = train_fold(Linear, _loss, train, tensors, 3, config, seed=0, val=val, selection="test-oracle")
        codes = oracle.record.test_codes()
        assert oracle.epochs == oracle_epoch(codes, tensors.y)
        np.testing.assert_array_equal(oracle.probabilities.argmax(1), codes[oracle.epochs - 1])
        if val is None:  # the same training: the record is the honest run's
            assert oracle.record == outputs[0].record


def test_recording_every_epoch_leaves_training_unchanged():
    config = TrainConfig(epochs=4, batch_size=8, lr=0.05)
    factory, loss = factory_and_loss("ststnet", {})
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.3, (30, 3, 28, 28)).astype(np.float32)
    y = np.arange(30) % 3
    train, test = FoldTensors(x[:22], y[:22]), FoldTensors(x[22:], y[22:])
    plain = train_fold(factory, loss, train, test, 3, config, seed=3, record_epochs=False)
    recorded = train_fold(factory, loss, train, test, 3, config, seed=3)
    np.testing.assert_array_equal(plain.probabilities, recorded.probabilities)  # bit-identical (dropout, BatchNorm)
    assert plain.record is None and len(recorded.record.test) == 4
    assert recorded.record.test[-1] == encode_classes(recorded.probabilities.argmax(1))


def test_batched_folds_record_and_select_as_one_by_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50).astype(np.int64)
    x = (0.3 * rng.standard_normal((50, 3, 28, 28))).astype(np.float32)
    x[np.arange(50), y, 8:14, 8:14] += 1.0
    source = FoldTensors(x, y)
    positions = [np.arange(0, 37), np.arange(2, 35)]
    tests = [source.subset(np.arange(41, 50)), source.subset(np.arange(37, 45))]
    factory, loss = factory_and_loss("ststnet", {})
    config = TrainConfig(epochs=4, batch_size=8)
    batched = train_folds(factory, loss, source, positions, tests, 3, config, [5, 6], selection="test-oracle")
    for rows, test, seed, output in zip(positions, tests, [5, 6], batched, strict=True):
        alone = train_fold(factory, loss, source.subset(rows), test, 3, config, seed, selection="test-oracle")
        assert output.record == alone.record and output.epochs == alone.epochs
        np.testing.assert_allclose(output.probabilities, alone.probabilities, atol=2e-3)


@pytest.mark.parametrize("name", ["oracle", "oracle_batched"])
def test_test_oracle_is_the_brute_force_pick_of_the_stored_epochs(runs, name):
    folds = _folds(runs[name])
    assert len(folds) == 8
    for key, record in folds.items():
        epoch = _brute_force_oracle(record)
        assert record["selection"] == "test-oracle" and record["epochs"] == epoch, key
        chosen = decode_classes(record["epoch_record"]["test"][epoch - 1])
        assert record["pred"] == [record["classes"][i] for i in chosen], key


def test_one_run_reports_both_numbers_and_they_match_a_leaky_run(runs):
    honest = json.loads((runs["last"] / "metrics.json").read_text())
    leaky = json.loads((runs["oracle"] / "metrics.json").read_text())
    for h, o in zip(honest["cells"], leaky["cells"], strict=True):
        assert h["selection"] == "last" and o["selection"] == "test-oracle"
        gap = h["selection_gap"]
        assert gap["honest"]["mean"]["uf1"] == pytest.approx(h["mean"]["uf1"])
        assert gap["test_oracle"]["mean"]["uf1"] == pytest.approx(o["mean"]["uf1"])  # the leaky run's own table
        assert o["selection_gap"]["honest"]["mean"]["uf1"] == pytest.approx(h["mean"]["uf1"])  # its last epoch
        assert len(gap["uf1_per_epoch"]["0"]) == 5
    for record in _folds(runs["last"]).values():
        assert record["epochs"] == 5 and record["epoch_record"]["test"][-1] == encode_classes(
            np.array([record["classes"].index(p) for p in record["pred"]]))
    for name in ("last", "oracle"):
        assert (runs[name] / "selection.csv").exists() and (runs[name] / "figures/learning_curve_ststnet.png").exists()
        assert "Honest vs selected on the test subject (leaky)" in (runs[name] / "table.md").read_text()


def test_batched_last_keeps_the_record(runs):
    for record in _folds(runs["last_batched"]).values():
        assert record["batched_folds"] == 4 and record["selection"] == "last" and len(record["epoch_record"]["test"]) == 5


def test_the_leaky_label_shows_everywhere_and_runs_do_not_merge(runs, tmp_path):
    out = runs["oracle"]
    assert LEAKY_LABEL.upper() in (out / "table.md").read_text().splitlines()[0]
    assert "(test-oracle, leaky)" in (out / "table.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection"] == {"leaky": True, "label": LEAKY_LABEL}
    assert metrics["settings"]["selection_label"].endswith(LEAKY_LABEL)
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["selection"] == "test-oracle" and LEAKY_LABEL in config["settings"]["selection_label"]
    assert config["recipes"]["ststnet"]["selection"] == "test-oracle"
    page = (out / "report.html").read_text()
    assert f"Every number of this run is {LEAKY_LABEL}" in page and f"({LEAKY_LABEL})</title>" in page
    honest = json.loads((runs["last"] / "metrics.json").read_text())
    assert honest["selection"] == {"leaky": False} and "selection_label" not in honest["settings"]
    assert "Every number of this run" not in (runs["last"] / "report.html").read_text()
    with pytest.raises(BenchError, match=r"\(selection, selection_label\).*leaky"):
        render([runs["last"], out], tmp_path / "merged", plots=False)


def test_a_resumed_run_keeps_the_per_epoch_record(data, runs, tmp_path):
    out = tmp_path / "resumed"
    args = [*BASE, *data, "--out", str(out), "--selection", "test-oracle"]
    assert _bench([*args, "--max-folds", "2"]).exit_code == 0
    again = _bench(args)
    assert again.exit_code == 0 and "4 already done" in again.output, again.output
    resumed, whole = _folds(out), _folds(runs["oracle"])
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert resumed[key]["epoch_record"] == whole[key]["epoch_record"] and resumed[key]["pred"] == whole[key]["pred"]


def test_selection_options(data, tmp_path):
    def fails(extra: list[str], message: str) -> None:
        result = CliRunner().invoke(cli, ["bench", *BASE, *data, "--out", str(tmp_path / "x"), *extra])
        assert result.exit_code != 0 and message in result.output, result.output

    fails(["--selection", "last", "--val-subjects", "1"], "drop it with --selection last")
    fails(["--selection", "test-oracle", "--val-subjects", "1"], "drop it with --selection test-oracle")
    fails(["--selection", "val"], "--selection val needs validation subjects")
    out = tmp_path / "val"
    result = _bench([*BASE, *data, "--out", str(out), "--val-subjects", "1", "--max-folds", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["settings"]["selection"] == "val"
    for record in _folds(out).values():
        stored = record["epoch_record"]
        assert record["selection"] == "val" and len(stored["val"]) == 5 and len(stored["val_true"]) == record["n_val"]
    assert "(val)" in (out / "table.md").read_text()


def test_ray_runs_the_same_selection_and_record(data, runs, tmp_path):
    pytest.importorskip("ray")
    from ray_support import local_ray_session

    session = local_ray_session()
    next(session)
    try:
        out = tmp_path / "ray"
        result = _bench([*BASE, *data, "--out", str(out), "--selection", "test-oracle", "--executor", "ray"])
        assert result.exit_code == 0, result.output
    finally:
        next(session, None)
    ray_folds, local = _folds(out), _folds(runs["oracle"])
    assert ray_folds.keys() == local.keys()
    for key in local:
        for field in ("epoch_record", "epochs", "pred", "probabilities", "selection"):
            assert ray_folds[key][field] == local[key][field], (key, field)
