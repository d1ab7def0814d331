"""HDF5 v1 writer, reader, verifier and inspector, without the synthesis pipeline."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from occmer.errors import ResumeError, StoreError
from occmer.store import schema
from occmer.store.inspect import summarize
from occmer.store.reader import OccmerFile
from occmer.store.verify import verify_store
from occmer.store.writer import ClipRecord, RunDirectory, assemble, partial_path


def make_record(sample_id: str, subject: str, t: int = 4, seed: int = 0, channels: int = 3) -> ClipRecord:
    rng = np.random.default_rng(seed)
    return ClipRecord(
        row={
            "sample_id": sample_id, "database": "demo", "subject": subject, "filename": sample_id,
            "emotion": "happiness", "objective_class": "I", "composite": "positive", "action_units": "6+12",
            "apex_source": "annotated", "onset": 10, "apex": 11, "offset": 10 + t - 1, "n_frames": t,
            "occlusion_ratio": 0.25,
        },
        frames=rng.integers(0, 255, (t, 16, 16, channels), dtype=np.uint8),
        occlusion=rng.integers(0, 255, (t, 16, 16), dtype=np.uint8),
        landmarks=rng.random((t, 478, 2)).astype(np.float32),
        frame_numbers=np.arange(10, 10 + t, dtype=np.int32),
        placement={"occluder": "block", "parameters": {"x": 1}},
        extra={"head_motion": np.tile(np.eye(2, 3), (t, 1, 1))},
    )


ATTRS = {"database": "demo", "occluder": "{}", "seed": 0, "command": "test", "created_utc": "now"}


def write_file(out, records, settings=None):
    run = RunDirectory(out)
    run.start(settings or {"a": 1}, resume=False, overwrite=False)
    for record in records:
        run.write(record)
    return assemble(out, [r.sample_id for r in records], ATTRS)


def test_round_trip(tmp_path):
    records = [make_record("s1", "demo/sub01", seed=1), make_record("s2", "demo/sub02", seed=2, channels=1)]
    out = write_file(tmp_path / "x.h5", records)
    assert out.exists() and not partial_path(out).exists() and not (tmp_path / "x.h5.parts").exists()
    assert verify_store(out) == []
    with OccmerFile.open(out) as f:
        attrs = f.attrs()
        assert attrs["format"] == "occmer" and attrs["schema_version"] == 1 and attrs["complete"]
        samples = f.columns()
        assert samples["sample_id"] == ["s1", "s2"]
        assert samples["subject"] == ["demo/sub01", "demo/sub02"]
        for record in records:
            clip = f.clip(record.sample_id)
            np.testing.assert_array_equal(clip.frames, record.frames)
            np.testing.assert_array_equal(clip.occlusion, record.occlusion)
            np.testing.assert_array_equal(clip.landmarks, record.landmarks)
            np.testing.assert_array_equal(clip.frame_numbers, record.frame_numbers)
            assert clip.placement["occluder"] == "block"
    with h5py.File(out, "r") as raw:
        for record in records:
            group = raw[schema.CLIPS][record.sample_id]["frames"]
            assert group.chunks == (1, 16, 16, record.frames.shape[3]) and group.compression == "gzip"
    text = summarize(out)
    assert "clips: 2  subjects: 2" in text and "happiness 2" in text


def test_existing_output_and_interrupted_run_are_protected(tmp_path):
    out = write_file(tmp_path / "x.h5", [make_record("s1", "a")])
    with pytest.raises(StoreError, match="--overwrite"):
        RunDirectory(out).start({"a": 1}, resume=False, overwrite=False)
    other = tmp_path / "y.h5"
    RunDirectory(other).start({"a": 1}, resume=False, overwrite=False)
    with pytest.raises(ResumeError, match="--resume"):
        RunDirectory(other).start({"a": 1}, resume=False, overwrite=False)
    with pytest.raises(ResumeError, match="settings differ"):
        RunDirectory(other).start({"a": 2}, resume=True, overwrite=False)
    with pytest.raises(ResumeError, match="nothing to resume"):
        RunDirectory(tmp_path / "z.h5").start({"a": 1}, resume=True, overwrite=False)


def test_resume_reuses_finished_shards_and_ignores_temporaries(tmp_path):
    out = tmp_path / "x.h5"
    run = RunDirectory(out)
    run.start({"a": 1}, resume=False, overwrite=False)
    run.write(make_record("s1", "a"))
    (run.clips / ".s2.999.tmp").write_bytes(b"half-written")
    assert RunDirectory(out).start({"a": 1}, resume=True, overwrite=False) == {"s1"}


def test_incomplete_file_is_refused_and_reported(tmp_path):
    out = write_file(tmp_path / "x.h5", [make_record("s1", "a")])
    with h5py.File(out, "a") as f:
        f.attrs["complete"] = False
    with pytest.raises(StoreError, match="incomplete"):
        OccmerFile.open(out)
    assert any("incomplete" in p for p in verify_store(out))


def test_verify_names_each_problem(tmp_path):
    out = write_file(tmp_path / "x.h5", [make_record("s1", "a"), make_record("s2", "b")])
    with h5py.File(out, "a") as f:
        del f["clips/s1/occlusion"]
        f["samples/n_frames"][1] = 99
    problems = verify_store(out)
    assert any("clip s1" in p and "occlusion" in p for p in problems)
    assert any("clip s2" in p and "n_frames says 99" in p for p in problems)


def test_verify_rejects_non_hdf5(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    assert "not a readable HDF5 file" in verify_store(bad)[0]
