"""The synthesize pipeline end to end on the small demo: determinism, resume, errors."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest

from occmer.errors import FaceNotFoundError, FrameReadError, OccmerError
from occmer.pipeline import SynthesisSettings, process_clip, synthesize
from occmer.store.verify import verify_store
from occmer.store.writer import parts_dir

SETTINGS = SynthesisSettings(database="demo", mask="block", size=96, seed=0)


def arrays(path):
    with h5py.File(path, "r") as f:
        return {
            f"{sid}/{name}": f["clips"][sid][name][()]
            for sid in f["clips"]
            for name in ("frames", "occlusion", "landmarks", "frame_numbers")
        } | {f"samples/{k}": v[()] for k, v in f["samples"].items()}


def assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_file_is_valid_and_labelled(block_file, small_demo_clips):
    assert verify_store(block_file) == []
    with h5py.File(block_file, "r") as f:
        assert f.attrs["complete"] and f.attrs["database"] == "demo"
        ids = [s.decode() for s in f["samples/sample_id"][()]]
        assert ids == [c.sample_id for c in small_demo_clips]
        ratio = f["samples/occlusion_ratio"][()]
        assert np.all(np.abs(ratio - 0.2) < 0.03), ratio  # block default coverage 0.2
        clip = f["clips"][ids[0]]
        t = clip["frames"].shape[0]
        assert clip["frames"].shape[1:3] == (96, 96)
        assert clip["occlusion"].shape == (t, 96, 96) and clip["occlusion"][()].max() == 255
        assert clip["landmarks"].shape == (t, 478, 2)
        assert clip["head_motion"].shape == (t, 2, 3)


def test_same_seed_same_arrays_whatever_the_worker_count(tmp_path, block_file, small_demo_clips):
    again = synthesize(SETTINGS, small_demo_clips, tmp_path / "again.h5", workers=2, progress=False).out
    assert_same_arrays(arrays(block_file), arrays(again))


def test_other_seed_moves_the_block(tmp_path, block_file, small_demo_clips):
    other = synthesize(replace(SETTINGS, seed=1), small_demo_clips[:2], tmp_path / "s1.h5", progress=False).out
    with h5py.File(block_file, "r") as a, h5py.File(other, "r") as b:
        sid = small_demo_clips[0].sample_id
        assert not np.array_equal(a["clips"][sid]["occlusion"][0], b["clips"][sid]["occlusion"][0])


def test_keyframes_and_no_align(small_demo_clips):
    clip = small_demo_clips[0]
    done = process_clip(clip, replace(SETTINGS, frames="keyframes", align=False, mask="none"))
    assert done.frame_numbers.tolist() == sorted({clip.onset, clip.apex, clip.offset})
    assert done.frames.shape[1:3] == (160, 160)  # the demo's own size, unaligned
    assert done.occlusion.max() == 0 and done.occlusion_ratio == 0.0


def _copy_db(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_corrupt_frame_is_named_and_skip_is_recorded(tmp_path, small_demo_root):
    from occmer.databases.resolve import resolve_databases, scan_all

    root = _copy_db(small_demo_root, tmp_path / "db")
    clips = scan_all(resolve_databases("demo", (str(root),))).clips
    victim = clips[1]
    number, path = victim.frames[len(victim.frames) // 2]
    path.write_bytes(b"\xff\xd8 broken jpeg")
    with pytest.raises(FrameReadError) as info:
        synthesize(SETTINGS, clips, tmp_path / "x.h5", progress=False)
    message = str(info.value)
    assert victim.sample_id in message and str(number) in message and str(path) in message
    assert "--resume" in message and parts_dir(tmp_path / "x.h5").exists()
    summary = synthesize(SETTINGS, clips, tmp_path / "y.h5", on_error="skip", progress=False)
    assert summary.clips == len(clips) - 1 and summary.skipped[0]["sample_id"] == victim.sample_id
    with h5py.File(summary.out, "r") as f:
        assert victim.sample_id in f.attrs["skipped"] and victim.sample_id not in f["clips"]


def test_face_not_found_names_sample_and_frame(tmp_path, small_demo_clips):
    from occmer.databases.base import Clip

    clip = small_demo_clips[0]
    folder = tmp_path / "blank"
    folder.mkdir()
    import cv2

    frames = []
    for number, _ in clip.frames:
        p = folder / f"img{number}.jpg"
        cv2.imwrite(str(p), np.full((120, 120, 3), 128, np.uint8))
        frames.append((number, p))
    blank = Clip(**{**clip.__dict__, "frames": tuple(frames), "folder": folder})
    with pytest.raises(FaceNotFoundError, match=f"{clip.sample_id}: no face found on onset frame {clip.onset}"):
        process_clip(blank, SETTINGS)


def test_offset_policy_is_a_checked_setting_recorded_in_the_file(block_file):
    """The offset policy decides which frames a clip holds, so it is recorded (a re-run reads the same clips)."""
    from occmer.store import OccmerFile

    with pytest.raises(OccmerError, match="unknown offset policy"):
        replace(SETTINGS, offset="guess")
    with OccmerFile.open(block_file) as f:
        assert f.attrs()["settings"]["offset"] == "mirror"


def test_each_clip_records_where_its_offset_came_from(block_file, tmp_path, small_demo_clips):
    """/samples/offset_source: annotated, fixed or the filling policy; a file from before it reads ""."""
    from occmer.store import OccmerFile

    with OccmerFile.open(block_file) as f:
        assert {s.offset_source for s in f.samples()} == {"annotated"}
    filled = replace(small_demo_clips[0], offset_source="mirror")
    assert process_clip(filled, SETTINGS).record().row["offset_source"] == "mirror"
    older = tmp_path / "older.h5"
    shutil.copy(block_file, older)
    with h5py.File(older, "r+") as raw:
        del raw["samples/offset_source"]
    with OccmerFile.open(older) as f:
        assert {s.offset_source for s in f.samples()} == {""}


def test_unknown_occluder_is_a_clear_error(tmp_path, small_demo_clips):
    with pytest.raises(OccmerError, match="unknown occluder 'nope'"):
        synthesize(replace(SETTINGS, mask="nope"), small_demo_clips, tmp_path / "x.h5", progress=False)


def test_resume_after_kill_gives_the_same_file(tmp_path, small_demo_root, block_file):
    out = tmp_path / "killed.h5"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [
        sys.executable, "-m", "occmer", "synthesize", "--db", "demo", "--root", str(small_demo_root), "--mask",
        "block", "--size", "96", "--seed", "0", "--out", str(out), "--no-progress",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = parts_dir(out) / "clips"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(shards.glob("*.h5"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(shards.glob("*.h5")))
    assert not out.exists() and 0 < done_before < 9
    result = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{done_before} clips reused" in result.stdout
    assert not parts_dir(out).exists()
    assert_same_arrays(arrays(block_file), arrays(out))
