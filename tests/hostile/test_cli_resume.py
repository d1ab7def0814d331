"""Resume identity: run.json records what a run read, and --resume refuses other data
(another --root, an edited sheet or frame), so a file never mixes two datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error, invoke, synth_args

import occmer.pipeline


@pytest.fixture
def roots(tmp_path, small_demo_root) -> tuple[Path, Path]:
    """Two identical copies of the small demo database."""
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(small_demo_root, a)
    shutil.copytree(small_demo_root, b)
    return a, b


@pytest.fixture
def interrupted(tmp_path, roots, monkeypatch) -> Path:
    """OUT of a run on root a killed after every clip, before the file was assembled."""
    out = tmp_path / "x.h5"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(occmer.pipeline, "assemble", killed)
        result = invoke(*synth_args(roots[0], out))
    assert result.exit_code == 130, result.output
    assert out.with_name("x.h5.parts").is_dir() and not out.exists()
    return out


def _run_json(out: Path) -> dict:
    return json.loads((out.with_name(out.name + ".parts") / "run.json").read_text())


def test_run_json_records_what_was_read(interrupted, roots):
    source = _run_json(interrupted)["source"]
    assert source["roots"] == {"demo": str(roots[0].resolve())}
    assert any(name.endswith(".xlsx") for name in source["sheets"]["demo"])
    assert len(source["clips"]) == 9 and all(c["frames"] > 0 for c in source["clips"].values())
    assert len(source["clip_list"]) == 64


def _refused(out: Path, root: Path, *words: str) -> None:
    result = invoke(*synth_args(root, out, "--resume"))
    assert_one_line_error(result, 2, "cannot resume", *words)
    assert not out.exists(), "nothing is marked complete"
    assert out.with_name(out.name + ".parts").is_dir(), "the interrupted run is kept"


def test_resume_with_another_root_is_refused(interrupted, roots):
    _refused(interrupted, roots[1], "root of demo", str(roots[0].resolve()), str(roots[1].resolve()))


def test_resume_after_a_sheet_changed_is_refused(interrupted, roots):
    (roots[0] / "notes.txt").write_text("a file added next to the sheets")
    _refused(interrupted, roots[0], "notes.txt")


def test_resume_after_a_frame_changed_is_refused(interrupted, roots):
    frame = sorted(roots[0].rglob("*.jpg"))[0]
    frame.write_bytes(frame.read_bytes() + b"\0" * 10)  # decodes the same; another file all the same
    _refused(interrupted, roots[0], "1 clips changed")


def test_a_run_json_without_its_source_is_not_resumed(interrupted, roots):
    run_file = interrupted.with_name("x.h5.parts") / "run.json"
    record = json.loads(run_file.read_text())
    del record["source"]
    run_file.write_text(json.dumps(record))
    _refused(interrupted, roots[0], "does not record what it read")


def test_resume_with_the_same_source_completes(interrupted, roots):
    result = invoke(*synth_args(roots[0], interrupted, "--resume"))
    assert result.exit_code == 0, result.output
    assert "9 clips reused" in result.output
    assert invoke("verify", "--quick", interrupted).exit_code == 0


def test_source_changes_name_each_difference():
    old = {"roots": {"demo": "/a"}, "sheets": {"demo": {"s.xlsx": "1"}}, "clip_list": "x",
           "clips": {"c1": {"frames": 5, "digest": "d"}, "c2": {"frames": 5, "digest": "e"}}}
    new = {"roots": {"demo": "/a"}, "sheets": {"demo": {"s.xlsx": "2"}}, "clip_list": "y",
           "clips": {"c1": {"frames": 3, "digest": "f"}, "c3": {"frames": 5, "digest": "g"}}}
    changes = occmer.pipeline.source_changes(old, new)
    assert changes == [
        "files in the demo root changed: s.xlsx",
        "1 clips no longer read (c2)",
        "1 clips not in the interrupted run (c3)",
        "1 clips changed (annotation or frame files): c1 (5 -> 3 frames)",
    ]
