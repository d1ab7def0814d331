"""The long-video layout (occmer.store.long_video): round trip, ranged and chunked reads in bounded
memory, and the checks the reader and `occmer verify` run on it. No landmark model: fast."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from occmer.databases.long_video import LongInterval
from occmer.errors import StoreError
from occmer.store.long_video import (
    FRAMES_PER_CHUNK,
    LOST,
    PLACED,
    TRACKED,
    LongVideoFile,
    LongVideoMeta,
    VideoSegment,
    assemble_long,
    resume_point,
    segment_starts,
    write_segment,
)
from occmer.store.reader import OccmerFile
from occmer.store.verify import verify_store
from occmer.store.writer import RunDirectory, parts_dir

INTERVALS = (
    LongInterval(10, 14, 20, "micro", "happiness", "I", "6+12"),
    LongInterval(40, None, 90, "macro", "surprise", "", "1+2"),
)


def _segment(start: int, n: int, h: int = 16, w: int = 12) -> VideoSegment:
    rng = np.random.default_rng(start)
    state = np.full(n, TRACKED, np.uint8)
    anchor = np.zeros(n, np.int32)
    if start == 0:
        state[0] = PLACED
    state[-1] = LOST
    anchor[-1] = -1
    transform = np.repeat(np.eye(2, 3)[None], n, axis=0)
    transform[:, 0, 2] = np.arange(start, start + n) * 0.01
    return VideoSegment(
        start=start, frames=rng.integers(0, 255, (n, h, w, 1), dtype=np.uint8),
        occlusion=rng.integers(0, 255, (n, h, w), dtype=np.uint8),
        frame_numbers=np.arange(start, start + n, dtype=np.int32), state=state, transform=transform, anchor=anchor,
        placements=[{"frame": start, "reason": "first face", "parameters": {}}] if start == 0 else [],
        resume={"next": start + n}, resume_arrays={"anchor_landmarks": np.ones((5, 2), np.float32)},
    )


def _write(out: Path, lengths: dict[str, int], segment: int = 32) -> dict[str, list[VideoSegment]]:
    RunDirectory(out).start({"test": 1}, resume=False, overwrite=False)
    written = {}
    for video_id, n in lengths.items():
        written[video_id] = [_segment(s, min(segment, n - s)) for s in range(0, n, segment)]
        for seg in written[video_id]:
            write_segment(out, video_id, seg)
    metas = [LongVideoMeta(v, "demo-long", f"demo-long/{v}", 30.0, 0, n, INTERVALS) for v, n in lengths.items()]
    assemble_long(out, metas, {"database": "demo-long", "seed": 0, "command": "test", "occluder": "{}",
                               "settings": "{}"})
    return written


def test_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    written = _write(out, {"v1": 100, "v2": 7})
    assert not parts_dir(out).exists()
    with LongVideoFile.open(out) as f:
        assert f.video_ids == ["v1", "v2"]
        info = f.info("v1")
        assert (info.n_frames, info.height, info.width, info.channels, info.fps) == (100, 16, 12, 1, 30.0)
        assert info.complete and info.placements[0]["reason"] == "first face"
        assert info.track_summary["lost"] == 4 and info.track_summary["placed"] == 1
        assert f.intervals("v1") == tuple(
            LongInterval(i.onset, i.apex, i.offset, i.kind, i.emotion, i.objective_class, i.action_units,
                         f"video v1: intervals row {k}") for k, i in enumerate(INTERVALS))
        for video_id, segments in written.items():
            frames = np.concatenate([s.frames for s in segments])
            np.testing.assert_array_equal(f.frames(video_id), frames)
            np.testing.assert_array_equal(f.occlusion(video_id), np.concatenate([s.occlusion for s in segments]))
            track = f.track(video_id)
            np.testing.assert_array_equal(track.state, np.concatenate([s.state for s in segments]))
            np.testing.assert_array_equal(track.transform, np.concatenate([s.transform for s in segments]))
            np.testing.assert_array_equal(f.frames(video_id, 3, 5), frames[3:5])
            blocks = list(f.iter_frames(video_id, block=10))
            assert [b.start for b in blocks] == list(range(0, len(frames), 10))
            np.testing.assert_array_equal(np.concatenate([b.frames for b in blocks]), frames)
        assert f.attrs()["contents"] == "long-videos" and f.attrs()["complete"] is True
    assert verify_store(out) == []


def test_range_read_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    _write(out, {"v": 2048}, segment=256)
    with LongVideoFile.open(out) as f:
        assert f._layout("v").frames.chunks[0] == FRAMES_PER_CHUNK
        tracemalloc.start()
        block = f.frames("v", 1000, 1010)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    whole = 2048 * 16 * 12
    assert block.shape == (10, 16, 12, 1)
    assert peak < whole / 8, f"reading 10 frames allocated {peak} bytes (the video is {whole})"


def test_resume_point_follows_finished_segments(tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    RunDirectory(out).start({"test": 1}, resume=False, overwrite=False)
    for start in (0, 32, 96):  # 64 is missing: 96 cannot be used
        write_segment(out, "v", _segment(start, 32))
    assert segment_starts(out, "v") == [0, 32]
    point = resume_point(out, "v")
    assert point is not None and point.position == 64 and point.state == {"next": 64}
    assert point.arrays["anchor_landmarks"].shape == (5, 2)


def _broken(tmp_path: Path, edit) -> list[str]:
    out = tmp_path / "long.h5"
    _write(out, {"v1": 40})
    with h5py.File(out, "r+") as f:
        edit(f)
    return verify_store(out)


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f["videos/v1/track/state"].__setitem__(3, 9), "unknown values"),
    (lambda f: f["videos/v1"].__delitem__("intervals"), "intervals"),
    (lambda f: f["videos/v1"].attrs.__setitem__("complete", False), "incomplete"),
    (lambda f: f["videos/v1/track"].__setitem__("anchor_copy", h5py.ExternalLink("other.h5", "/x")), "external link"),
    (lambda f: f["videos/v1/intervals/kind"].__setitem__(0, "blink"), "kind"),
    (lambda f: f["videos/v1"].attrs.__setitem__("fps", -1.0), "fps"),
])
def test_verify_refuses_a_broken_video(tmp_path: Path, edit, expected: str) -> None:
    problems = _broken(tmp_path, edit)
    assert any(expected in p for p in problems), problems
    with pytest.raises(StoreError):
        with LongVideoFile.open(tmp_path / "long.h5") as f:
            f.intervals("v1")
            f.info("v1")
            f.track("v1")


def test_clip_reader_points_to_the_long_video_reader(tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    _write(out, {"v1": 10})
    with pytest.raises(StoreError, match="LongVideoFile"):
        OccmerFile.open(out)


def test_incomplete_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "long.h5"
    _write(out, {"v1": 10})
    with h5py.File(out, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(StoreError, match="incomplete"):
        LongVideoFile.open(out)
