"""`synthesize` on long videos with --workers (issue 29): one video per task of the one worker pool.

The file must not depend on the worker count, an interrupted run resumed with another count gives
the same file, and a video that fails in a worker stops the run with an error naming it.

Two subjects of the long demo cut to their first 96 frames, written as PNG files (so one frame can
be damaged); segments cut to 32 frames so a video crosses segment boundaries."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

import occmer.synthesis.long_video as long_job
from occmer.databases.long_video import LongVideoRecord, get_long_database
from occmer.demo.long_video import LongVideoParams, write_long_demo
from occmer.errors import FrameReadError
from occmer.pipeline import SynthesisSettings, synthesize_long
from occmer.store.long_video import LongVideoFile, frames_written, resume_point, video_dir
from occmer.synthesis.long_video import LongVideoRun, SegmentWatch, VideoTask

SETTINGS = SynthesisSettings(database="demo-long", mask="glasses", align=False, color="keep", seed=5)
FRAMES = 96  # of each video
BROKEN = ("demo-long_s02", 70)  # the frame damaged in the interruption test


@pytest.fixture(autouse=True)
def short_segments(monkeypatch) -> None:
    monkeypatch.setattr(long_job, "SEGMENT_FRAMES", 32)  # read by the parent, handed to every worker


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[LongVideoRecord]:
    """The demo's videos with their frames as PNG files (one file per frame, as real databases have)."""
    root = write_long_demo(tmp_path_factory.mktemp("long") / "demo", LongVideoParams(subjects=2, seconds=5.0))
    scan = get_long_database("demo-long", root).scan()
    assert not scan.problems and len(scan.videos) == 2
    records = []
    for video in scan.videos:
        frames = np.load(video.array)[:FRAMES]
        folder = root / f"{video.video_id}_png"
        folder.mkdir()
        listed = []
        for i, frame in enumerate(frames):
            path = folder / f"{video.first_frame + i:05d}.png"
            cv2.imwrite(str(path), frame)
            listed.append((video.first_frame + i, path))
        intervals = tuple(i for i in video.intervals if i.offset < video.first_frame + FRAMES)
        records.append(replace(video, frames=tuple(listed), array=None, folder=folder, intervals=intervals))
    return records


@pytest.fixture(scope="module")
def reference(videos, tmp_path_factory) -> Path:
    """The file of a one-process run."""
    out = tmp_path_factory.mktemp("ref") / "one.h5"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(long_job, "SEGMENT_FRAMES", 32)
        synthesize_long(SETTINGS, videos, out, workers=1, progress=False)
    return out


def assert_same_file(a: Path, b: Path) -> None:
    """Every dataset array-equal and every attribute equal (root's created_utc aside)."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[str] = []
        fa.visit(names.append)
        other: list[str] = []
        fb.visit(other.append)
        assert names == other
        for name in names:
            if isinstance(fa[name], h5py.Dataset):
                np.testing.assert_array_equal(fa[name][()], fb[name][()], err_msg=name)
            assert dict(fa[name].attrs) == dict(fb[name].attrs), name
        assert {k: v for k, v in fa.attrs.items() if k != "created_utc"} == {
            k: v for k, v in fb.attrs.items() if k != "created_utc"}


def test_two_workers_write_the_file_of_one(videos, reference: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "two.h5"
    summary = synthesize_long(SETTINGS, videos, out, workers=2, progress=True)
    assert summary.videos == 2 and summary.frames == 2 * FRAMES
    assert_same_file(reference, out)
    with LongVideoFile.open(reference) as one, LongVideoFile.open(out) as two:
        for video_id in one.video_ids:
            assert one.intervals(video_id) == two.intervals(video_id)
            assert one.info(video_id).placements == two.info(video_id).placements
    # progress counts frames across both workers, to the end
    assert f"synthesize: {2 * FRAMES}/{2 * FRAMES} frames done" in capsys.readouterr().err


def test_a_failing_video_names_itself_and_a_resume_with_another_worker_count_writes_the_same_file(
        videos, reference: Path, tmp_path: Path) -> None:
    video_id, frame = BROKEN
    path = dict(next(v for v in videos if v.video_id == video_id).frames)[frame]
    good = path.read_bytes()
    out = tmp_path / "resumed.h5"
    try:
        path.write_bytes(b"\0" * len(good))  # same size: the resume sees the same source
        with pytest.raises(FrameReadError) as caught:
            synthesize_long(SETTINGS, videos, out, workers=2, progress=False)
    finally:
        path.write_bytes(good)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{video_id}: frame {frame}") and "cannot decode" in first
    assert "--resume" in str(caught.value)
    assert not out.exists()
    point = resume_point(out, video_id)
    assert point is not None and point.position == 64  # segments 0..31 and 32..63 kept
    summary = synthesize_long(SETTINGS, videos, out, workers=1, resume=True, progress=False)
    assert summary.resumed_frames >= 64
    assert_same_file(reference, out)


def test_progress_reads_the_frames_the_workers_wrote_from_the_shard_names(tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    folder = video_dir(out, "v")
    folder.mkdir(parents=True)
    assert frames_written(out, "v", 90, 32) == 0
    (folder / "000000000.h5").touch()
    (folder / ".000000032.h5.123.tmp").touch()  # a shard being written does not count
    assert frames_written(out, "v", 90, 32) == 32
    (folder / "000000064.h5").touch()
    assert frames_written(out, "v", 90, 32) == 90
    assert frames_written(out, "v", 90, 32, resumed_at=100) == 100  # nothing new since the resume point

    record = LongVideoRecord("v", "demo-long", "demo-long/s01", folder, 30.0, ())
    moved: list[int] = []
    run = LongVideoRun(SETTINGS, long_job.LongTrackConfig(), out)
    assert run.segment_frames == 32
    with SegmentWatch(run, [VideoTask(record)], [120], moved.append, interval_s=60) as watch:
        assert watch.shown == 96
        (folder / "000000096.h5").touch()
    assert moved == [24]


@pytest.mark.parametrize(("extra", "message"), [
    (["--executor", "ray"], "--executor ray does not run long videos yet"),
    (["--features", "tvl1:28"], "--features applies to clips, not to long videos"),
])
def test_the_cli_refuses_what_long_videos_do_not_support_before_any_work(extra, message, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from occmer.cli import cli

    result = CliRunner().invoke(cli, ["synthesize", "--db", "demo-long", "--out", str(tmp_path / "x.h5"), *extra])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x.h5").exists()
