"""SOFTNet spotting (occmer.spotting.softnet): the network against the reference architecture,
pseudo-labels and post-processing by hand, a tiny end-to-end run (CLI and bench), determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from occmer.cli import cli
from occmer.demo.long_video import LongVideoParams, read_long_demo, write_long_demo
from occmer.models.softnet import SOFTNet
from occmer.spotting import SPOTTER_NAMES
from occmer.spotting import spotters as spotters_module
from occmer.spotting.intervals import Interval
from occmer.spotting.softnet import (
    MapCache,
    SoftNetSettings,
    pseudo_labels,
    regions_from_landmarks,
    run_softnet_loso,
    smooth_scores,
    softnet_k,
    spot_scores,
    training_set,
)
from occmer.spotting.spotters import SPOTTERS

PARAMS = LongVideoParams(subjects=2, seconds=12.0, micro_per_minute=15.0, macro_per_minute=5.0)
# The tiny run's sampling: 32 px flow, every 12th pair, one epoch (the defaults take CPU minutes)
TINY = SoftNetSettings(flow_size=32, stride=12, epochs=1)


@pytest.fixture(scope="module")
def long_demo(tmp_path_factory):
    return write_long_demo(tmp_path_factory.mktemp("long") / "demo", PARAMS)


def test_network_is_the_reference_architecture():
    net = SOFTNet()
    # training.py SOFTNet(): three 5x5 convolutions (3, 5, 8 filters) on one map each, pools 3/3 and
    # 2/2, dense 400 and 1: (25+1)*3 + (25+1)*5 + (25+1)*8 + (7*7*16+1)*400 + 401 = 314,817 weights
    assert sum(p.numel() for p in net.parameters()) == 314_817
    assert [tuple(c.weight.shape) for c in net.streams] == [(3, 1, 5, 5), (5, 1, 5, 5), (8, 1, 5, 5)]
    assert net.hidden.in_features == 7 * 7 * 16 and net.hidden.out_features == 400
    assert net(torch.zeros(4, 3, 42, 42)).shape == (4,)
    assert all(not m.bias.detach().any() for m in (*net.streams, net.hidden, net.out))  # Keras' zero biases


def test_k_is_half_the_mean_span_as_the_reference_computes_it():
    truth = [Interval("v", 10, 19), Interval("v", 30, 41)]  # offset - onset: 9 and 11, N = 10
    assert softnet_k(truth, "micro") == 5  # int((10 + 1) / 2)


def test_pseudo_labels_mark_the_windows_that_meet_the_expression():
    # k = 3; expression 0-based frames 10..14: pair i is 1 when frames i..i+2 meet frames 11..14
    y = pseudo_labels(25, [(10, 14)], 3)
    assert np.flatnonzero(y).tolist() == [9, 10, 11, 12, 13, 14]
    assert pseudo_labels(25, [(10, 10)], 3).sum() == 0  # one frame: no motion to label (frames 11..10)
    assert np.flatnonzero(pseudo_labels(12, [(0, 30)], 3)).tolist() == list(range(12))  # clipped to the pairs


def test_post_processing_smooths_thresholds_and_spots_peak_intervals():
    k = 2
    scores = np.zeros(40)
    scores[10:14] = 1.0  # one bump; its 2k-mean peaks at j = 10 (the mean of pairs 10..13)
    scores[30:32] = 0.4
    smoothed = smooth_scores(scores, k)
    assert smoothed.shape == (40 - 2 * k,)
    assert smoothed[10] == pytest.approx(1.0) and smoothed[9] == pytest.approx(0.75)
    spotted = spot_scores(scores, k, 0.55, "v", first_frame=100)
    # T = mean + 0.55 (max - mean): the 0.4 bump (smoothed 0.2 at most) stays below; [c - k, c + k], c = j + k
    assert [(s.onset, s.offset) for s in spotted] == [(110, 114)]
    assert spot_scores(np.zeros(3), k, 0.55, "v") == []


def test_regions_follow_the_landmarks_and_scale_with_the_flow_size():
    from occmer.faces.pointsets import IBUG68_TO_MEDIAPIPE

    points = np.full((478, 2), 64.0, np.float32)
    for index, (x, y) in {17: (30, 40), 19: (40, 35), 24: (88, 36), 26: (98, 40), 41: (45, 55), 46: (83, 56),
                          60: (50, 95), 64: (78, 95), 50: (58, 88), 57: (64, 105), 28: (64, 60)}.items():
        points[IBUG68_TO_MEDIAPIPE[index]] = (x, y)
    full = regions_from_landmarks(points, 128)
    assert full.brows_eyes == (18, 23, 110, 68) and full.mouth == (38, 76, 90, 117) and full.nose == (64, 60)
    half = regions_from_landmarks(points, 64)
    assert half.brows_eyes == (9, 12, 55, 34) and half.nose == (32, 30) and len(half.eyes) == 2


def test_training_set_halves_the_negatives_and_augments_micro_positives():
    x = np.random.default_rng(0).normal(size=(100, 42, 42, 3)).astype(np.float32)
    y = np.zeros(100, np.float32)
    y[:10] = 1
    xs, ys = training_set(x, y, "micro", SoftNetSettings(), np.random.default_rng(0))
    assert (ys == 0).sum() == 45 and (ys == 1).sum() == 40  # half of 90 negatives; 10 positives x 4
    assert xs.min() >= 0 and xs.max() <= 1
    _, macro = training_set(x, y, "macro", SoftNetSettings(), np.random.default_rng(0))
    assert (macro == 1).sum() == 10


def test_registry_lists_the_spotters_the_command_line_offers():
    assert tuple(SPOTTERS) == SPOTTER_NAMES


def test_tiny_run_is_deterministic_from_the_seed(long_demo):
    videos = read_long_demo(long_demo)
    cache = MapCache(TINY)
    try:
        first = run_softnet_loso(videos, ("micro",), seed=3, cache=cache)
        again = run_softnet_loso(videos, ("micro",), seed=3, cache=cache)
        fresh = run_softnet_loso(videos, ("micro",), seed=3, settings=TINY)  # maps computed again
    finally:
        cache.close()
    assert first.spotted == again.spotted == fresh.spotted and first.folds == fresh.folds
    assert {f.subject for f in first.folds} == {"s01", "s02"} and all(f.tau == 0.55 for f in first.folds)
    k = {f.subject: f.k for f in first.folds}
    assert all(s.offset - s.onset == 2 * k[s.subject] and 0 <= s.onset and s.offset < 360 for s in first.spotted)


@pytest.fixture
def tiny_softnet(monkeypatch):
    monkeypatch.setattr(spotters_module, "SoftNetSettings", lambda: TINY)


def test_spot_command_with_softnet_writes_the_megc_metrics(long_demo, tmp_path, tiny_softnet):
    out = tmp_path / "spot"
    result = CliRunner().invoke(cli, ["spot", str(out), "--long-demo", str(long_demo), "--spotter", "softnet",
                                      "--seed", "1"])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "spotting.json").read_text())
    assert document["spotter_name"] == "softnet" and document["seed"] == 1 and "SOFTNet" in document["spotter"]
    counts = document["scores"]["overall"]
    assert {"micro", "macro", "overall"} <= set(counts) and 0.0 <= counts["overall"]["f1"] <= 1.0
    assert {(f["subject"], f["kind"]) for f in document["folds"]} == {(s, k) for s in ("s01", "s02")
                                                                        for k in ("micro", "macro")}


def test_bench_task_spot_with_softnet_records_the_spotter(long_demo, tmp_path, tiny_softnet):
    out = tmp_path / "bench"
    result = CliRunner().invoke(cli, ["bench", "--task", "spot", "--spotter", "softnet", "--long-demo", str(long_demo),
                                      "--demo-masks", "none", "--no-html", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["spotter"] == "softnet" and settings["spotter_seeds"] == [2]
    table = (out / "table.md").read_text()
    assert "SOFTNet" in table and "seed 2," in table and " ± 0.000 [" in table  # one seed: std 0
    assert (out / "conditions" / "clean" / "seed2" / "spotting.json").exists()
    refused = CliRunner().invoke(cli, ["bench", "ststnet", "--spotter", "softnet", "--out", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "--task spot or str" in refused.output


def test_bench_spots_once_per_softnet_seed_and_reports_mean_and_std(long_demo, tmp_path, tiny_softnet):
    out = tmp_path / "b"
    args = ["bench", "--task", "spot", "--spotter", "softnet", "--long-demo", str(long_demo), "--demo-masks", "none",
            "--seed", "1", "--seeds", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["spotter_seeds"] == [1, 2] and "spotter_seed" not in settings
    folder = out / "conditions" / "clean"
    files = {seed: folder / f"seed{seed}" / "spotting.json" for seed in (1, 2)}
    saved = {seed: json.loads(path.read_text()) for seed, path in files.items()}
    assert not (folder / "spotting.json").exists() and [saved[s]["seed"] for s in (1, 2)] == [1, 2]
    assert saved[1]["spotted"] != saved[2]["spotted"] or saved[1]["folds"] != saved[2]["folds"]  # seeds differ
    # each seed's run on the shared maps is the run of that seed alone
    alone = run_softnet_loso(read_long_demo(long_demo), seed=2, settings=TINY)
    assert [Interval(**s) for s in saved[2]["spotted"]] == alone.spotted

    entry = json.loads((out / "metrics.json").read_text())["conditions"]["clean"]
    assert set(entry["seeds"]) == {"1", "2"} and "spotting" not in entry
    for kind, spread in entry["summary"]["f1"]["overall"].items():
        per_seed = [entry["seeds"][s]["spotting"]["overall"][kind]["f1"] for s in ("1", "2")]
        assert spread["per_seed"] == per_seed
        assert spread["mean"] == pytest.approx(np.mean(per_seed)) and spread["std"] == pytest.approx(np.std(per_seed, ddof=1))
    overall = entry["summary"]["f1"]["overall"]["overall"]
    shown = f"{overall['mean']:.3f} ± {overall['std']:.3f} [{overall['per_seed'][0]:.3f}, {overall['per_seed'][1]:.3f}]"
    assert f"overall F1 {shown} (seeds 1, 2)" in result.output
    table = (out / "table.md").read_text()
    assert shown in table and "seeds 1, 2" in table and "mean ± std over the spotter's seeds [1, 2]" in table
    assert "spots shown" in (out / "pages" / "clean.html").read_text()

    stamp = files[1].stat().st_mtime_ns
    files[2].unlink()  # resumes: only the missing seed is spotted again
    again = CliRunner().invoke(cli, [*args, "--no-html"])
    assert again.exit_code == 0, again.output
    assert files[1].stat().st_mtime_ns == stamp and json.loads(files[2].read_text()) == saved[2]
    assert json.loads((out / "metrics.json").read_text())["conditions"]["clean"] == entry
