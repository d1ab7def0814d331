"""`occmer bench --task spot | str` end to end on a tiny long demo, STR scoring by hand, the inspect page."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from occmer.bench.spotting import page_stretch, timeline_marks
from occmer.cli import cli
from occmer.demo.long_video import LongVideoParams, read_long_demo, write_long_demo
from occmer.spotting import Interval, str_scores
from occmer.spotting.feature_difference import FeatureDifferenceSettings, feature_difference, feature_differences
from occmer.spotting.occlusion import HAND_PASSING, occluder_filter, pass_starts
from occmer.spotting.samples import spotted_apex
from occmer.spotting.task import truth_intervals

PARAMS = LongVideoParams(subjects=2, seconds=12.0, micro_per_minute=15.0, macro_per_minute=5.0)


@pytest.fixture(scope="module")
def long_demo(tmp_path_factory):
    return write_long_demo(tmp_path_factory.mktemp("long") / "demo", PARAMS)


def _bench(*args: str):
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 0, result.output
    return result


def test_bench_task_spot_writes_results_and_a_page_with_the_intervals(long_demo, tmp_path):
    out = tmp_path / "spot"
    _bench("--task", "spot", "--long-demo", str(long_demo), "--demo-masks", "none", "--out", str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    counts = metrics["conditions"]["clean"]["spotting"]["overall"]
    assert {"micro", "macro", "overall"} <= set(counts)
    assert counts["overall"]["tp"] == counts["micro"]["tp"] + counts["macro"]["tp"]
    assert json.loads((out / "config.json").read_text())["settings"]["task"] == "spot"
    assert "| clean |" in (out / "table.md").read_text()
    page = (out / "pages" / "clean.html").read_text()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert page.count("data:image/jpeg;base64,") >= 10
    for t in truth_intervals(read_long_demo(long_demo)[0]):  # every true interval of the video shown is listed
        assert f"<td class=num>{t.onset}</td><td class=num>{t.offset}</td>" in page


def test_bench_task_str_scores_strs_and_resumes_per_fold(long_demo, tmp_path):
    out = tmp_path / "str"
    args = ("ststnet", "--task", "str", "--long-demo", str(long_demo), "--demo-masks", "none", "--epochs", "2",
            "--no-html", "--out", str(out))
    _bench(*args)
    metrics = json.loads((out / "metrics.json").read_text())
    summary = metrics["conditions"]["clean"]["str"]["summary"]["overall"]
    assert 0.0 <= summary["strs"][0] <= 1.0 and {"UF1", "UAR", "analysis F1", "spotting F1"} <= set(summary)
    folds = sorted((out / "conditions" / "clean" / "str" / "seed0").glob("*.json"))
    assert [f.stem for f in folds] == ["s01", "s02"]
    stamps = [f.stat().st_mtime_ns for f in folds]
    _bench(*args)  # resumed: the fold files are kept, the scores the same
    assert [f.stat().st_mtime_ns for f in folds] == stamps
    assert json.loads((out / "metrics.json").read_text())["conditions"] == metrics["conditions"]


def test_bench_tasks_check_their_models(long_demo, tmp_path):
    result = CliRunner().invoke(cli, ["bench", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Missing argument" in result.output
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--task", "spot", "--long-demo", str(long_demo),
                                      "--out", str(tmp_path / "s")])
    assert result.exit_code != 0 and "trains no model" in result.output


def test_str_scoring_on_hand_made_intervals():
    truth = [Interval("v", 10, 20, emotion="happiness"), Interval("v", 50, 60, emotion="surprise"),
             Interval("v", 100, 110, emotion="surprise"), Interval("v", 200, 210, emotion="happiness")]
    spotted = [Interval("v", 11, 21, emotion="happiness"),  # TP, right
               Interval("v", 50, 60, emotion="happiness"),  # TP, wrong
               Interval("v", 101, 110, emotion="surprise"),  # TP, right
               Interval("v", 150, 160, emotion="surprise")]  # FP; the last truth is a FN
    scores = str_scores(truth, spotted)["overall"]
    assert (scores.spotting.tp, scores.spotting.fp, scores.spotting.fn) == (3, 1, 1)
    # analysis on the 3 TPs: happiness P 1/2 R 1/1, surprise P 1/1 R 1/2 -> P = R = 0.75
    assert scores.analysis.precision == pytest.approx(0.75) and scores.analysis.recall == pytest.approx(0.75)
    assert scores.strs == pytest.approx(0.75 * 0.75)
    assert scores.analysis.uf1 == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_spotted_apex_is_the_contrast_peak_in_the_middle():
    k, peak = 4, 57
    assert spotted_apex(Interval("v", peak - k, peak + k)) == peak


def test_timeline_marks_and_the_stretch(long_demo):
    truth = [Interval("v", 10, 20), Interval("v", 40, 44)]
    marks = timeline_marks(truth, [Interval("v", 11, 21), Interval("v", 70, 75)])
    assert sorted((m.row, m.outcome) for m in marks) == [("spotted", "FP"), ("spotted", "TP"), ("truth", "FN"),
                                                         ("truth", "TP")]
    video = read_long_demo(long_demo)[0]
    stretch = page_stretch(video, truth_intervals(video), seconds=5.0)
    assert len(stretch) == int(5 * video.fps) // 2 and stretch.stop <= video.count


def test_one_pass_curves_equal_one_k_at_a_time(long_demo):
    video = read_long_demo(long_demo)[0]
    frames = [f for _, f in zip(range(60), video.frames(), strict=False)]
    both = feature_differences(frames, (2, 5), video.face_box)
    for k in (2, 5):
        assert np.array_equal(both[k], feature_difference(frames, FeatureDifferenceSettings(k=k), video.face_box))


def test_hand_passes_and_leaves_the_other_frames_alone(long_demo):
    video = read_long_demo(long_demo)[0]
    starts = pass_starts(video.count, video.fps)
    assert starts and starts[0] == int(round(5.0 * video.fps))
    n = starts[0] + int(video.fps)
    frames = [f for _, f in zip(range(n), video.frames(), strict=False)]
    occluded = list(occluder_filter(HAND_PASSING, "held")(video, iter(frames)))
    assert all(np.array_equal(a, b) for a, b in zip(occluded[: starts[0]], frames[: starts[0]], strict=True))
    middle = starts[0] + int(video.fps) // 2
    assert np.abs(occluded[middle].astype(int) - frames[middle].astype(int)).max() > 30
