"""The long-video demo and the leave-one-subject-out spotting task, end to end on a tiny demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.demo.long_video import LongVideoParams, plan_video, read_long_demo, write_long_demo
from occmer.errors import BenchError
from occmer.spotting import MICRO
from occmer.spotting.task import run_loso, truth_intervals

PARAMS = LongVideoParams(subjects=2, seconds=12.0, micro_per_minute=15.0, macro_per_minute=5.0)


@pytest.fixture(scope="module")
def long_demo(tmp_path_factory):
    return write_long_demo(tmp_path_factory.mktemp("long") / "demo", PARAMS)


def test_plan_is_seeded_and_micro_expressions_last_at_most_half_a_second():
    plan = plan_video(PARAMS, 1)
    assert [e.record() for e in plan.events] == [e.record() for e in plan_video(PARAMS, 1).events]
    micro = [e for e in plan.events if e.kind == "micro"]
    assert micro and all((e.offset - e.onset) <= 0.5 * PARAMS.fps for e in micro)
    expressions = sorted((e.onset, e.offset) for e in plan.events if e.kind != "blink")
    assert all(b[0] > a[1] for a, b in zip(expressions, expressions[1:], strict=False))  # never overlap


def test_written_demo_reads_back_with_its_truth(long_demo):
    videos = read_long_demo(long_demo)
    assert [v.subject for v in videos] == ["s01", "s02"]
    frames = np.load(long_demo / "s01" / "frames.npy", mmap_mode="r")
    assert frames.shape == (PARAMS.frames, PARAMS.size, PARAMS.size) and frames.dtype == np.uint8
    document = json.loads((long_demo / "demo.json").read_text())
    assert document["videos"][0]["events"] == [e.record() for e in plan_video(PARAMS, 1).events]
    truth = truth_intervals(videos[0])
    assert truth and all(t.kind in ("micro", "macro") for t in truth)  # blinks are not labelled
    # an expression moves the face: frames at a micro-expression's apex differ from its onset
    event = next(e for e in videos[0].events if e["kind"] == "micro")
    assert np.abs(frames[event["apex"]].astype(int) - frames[event["onset"]].astype(int)).max() > 5


def test_loso_tunes_on_other_subjects_and_scores_every_video(long_demo):
    run = run_loso(read_long_demo(long_demo), kinds=(MICRO,), taus=(0.2, 0.5))
    assert {(f.subject, f.kind) for f in run.folds} == {("s01", MICRO), ("s02", MICRO)}
    assert all(f.tau in (0.2, 0.5) and f.k >= 1 for f in run.folds)
    counts = run.scores.counts["overall"]["overall"]
    assert counts.tp + counts.fn == len(run.truth) and counts.tp + counts.fp == len(run.spotted)
    assert run.minutes == pytest.approx(2 * PARAMS.seconds / 60)


def test_loso_needs_two_subjects(long_demo):
    with pytest.raises(BenchError):
        run_loso(read_long_demo(long_demo)[:1])


def test_spot_command_writes_scores(long_demo, tmp_path):
    result = CliRunner().invoke(cli, ["spot", str(tmp_path / "out"), "--long-demo", str(long_demo), "--kind", "micro"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "spotting.json").read_text())
    assert document["task"] == "spot" and "micro" in document["scores"]["overall"]


@pytest.mark.parametrize("placement", ["held", "per-frame"])
def test_occluder_filter_covers_the_face_on_every_frame(long_demo, placement):
    from occmer.spotting.occlusion import occluder_filter

    video = read_long_demo(long_demo)[0]
    source = list(zip(range(5), video.frames(), strict=False))
    occluded = list(occluder_filter("sunglasses", placement)(video, (f for _, f in source)))
    assert len(occluded) == 5 and occluded[0].shape == source[0][1].shape
    assert all(np.abs(o.astype(int) - f.astype(int)).max() > 50 for o, (_, f) in zip(occluded, source, strict=True))
